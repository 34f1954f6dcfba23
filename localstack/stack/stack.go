// Package stack runs the whole system on one machine from the project's
// template: it starts (or attaches to) the AWS emulator, creates the
// template's tables, queues and secrets in it, builds the real bootstrap
// binaries and runs them behind the Lambda Runtime API, serves the
// template's WebSocket APIs with API Gateway semantics, drives the event
// source mappings, and serves web/.
package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/localstack/chaos"
	"github.com/patientservicecenter/psc/localstack/gateway"
	"github.com/patientservicecenter/psc/localstack/lambdart"
	"github.com/patientservicecenter/psc/localstack/template"
)

// The local account.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// Options configure a stack. Zero ports pick free ones.
type Options struct {
	Root         string         // the repository root
	Template     string         // default Root/infra/template.yaml
	Stage        string         // default dev; parameters come from Root/infra/params/<stage>.json
	StackName    string         // default psc-<stage>
	Endpoint     string         // an emulator already running; "" starts MiniStack
	Venv         string         // default Root/.venv
	StateDir     string         // default Root/.local
	FunctionsDir string         // where function folders live; default Root/functions
	Ports        map[string]int // WebSocket API logical id → port
	WebPort      int
	IdleTimeout  time.Duration
	// Concurrency is the processes per function at most; default 8.
	// Lambda scales a function to hundreds of environments at once; on a
	// 2-core box 4 queued the synchronous paths behind each other (a
	// patient's ack waited 3.5 s for a free message process at 100
	// patients, docs/performance.md) and 8 did not.
	Concurrency int
	Log         *slog.Logger
	Output      io.Writer // function and emulator output; default os.Stderr
	// Parameters override the stage's parameter file.
	Parameters map[string]string
	// ScheduleEvery, when set, runs every scheduled event at this interval
	// instead of its own (tests compress time with it).
	ScheduleEvery time.Duration
	// ResourcesOnly creates the template's data resources and stops there:
	// no functions, APIs or pages (for adapter tests).
	ResourcesOnly bool
	// Faults, when set, injects the faults AWS produces, as the plan says
	// (localstack/chaos; docs/reliability.md).
	Faults *chaos.Plan
}

// Outputs are what the stack tells its users, and writes to
// <StateDir>/stack.json.
type Outputs struct {
	PatientPage      string            `json:"patientPage"`
	AgentConsole     string            `json:"agentConsole,omitempty"`
	PatientWebSocket string            `json:"patientWebSocket,omitempty"`
	AgentWebSocket   string            `json:"agentWebSocket,omitempty"`
	Web              string            `json:"web"`
	Emulator         string            `json:"emulator"`
	Stage            string            `json:"stage"`
	WebSockets       map[string]string `json:"webSockets"` // API logical id → URL
	Tables           map[string]string `json:"tables"`     // logical id → table name
	Queues           map[string]string `json:"queues"`     // logical id → queue URL
	Functions        map[string]string `json:"functions"`  // logical id → function name
	Topics           map[string]string `json:"topics"`     // logical id → topic ARN
	AgentPool        *AgentPool        `json:"agentPool,omitempty"`
	PatientSignIn    *PatientSignIn    `json:"patientSignIn,omitempty"`
}

// Stack is a running local stack.
type Stack struct {
	Outputs Outputs
	opts    Options
	log     *slog.Logger
	emu     *emulator
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	sqs     *sqs.Client
	secrets *secretsmanager.Client
	ses     *sesv2.Client
	cognito *cip.Client
	roles   *roles
	logs    *cloudwatchlogs.Client
	// stopping is closed when the stack stops (log delivery flushes).
	stopping chan struct{}
	stopOnce sync.Once
	// cognitoFront is the user-pool API with AWS's sign-in challenges.
	cognitoFront *cognitoFront
	tmpl         *template.Template
	res          *template.Resolver
	pools        map[string]*lambdart.Pool // logical id → pool
	gws          []*gateway.Gateway
	servers      []*http.Server
	// Usage metering: the functions reach the emulator through meter; the
	// gateways and the SQS pollers count what they do.
	meter          *meter
	own            *ownCalls // the stack's own calls to the emulator, timed
	fnOfRole       sync.Map  // an execution role's ARN → its function's logical id
	meterURL       string
	chaos          *chaos.Injector // nil unless Options.Faults
	pf             *pollerFaults   // the pollers' scheduled faults (nil: none)
	gateways       map[string]*gateway.Gateway
	pollerRequests atomic.Int64
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	queueURLByARN  map[string]string
	absent         map[string]bool // resources whose condition is false
	// streamMappings are the stream pollers' progress (StreamProgress),
	// set before the pollers start.
	streamMappings []*streamProgress
}

// Pool returns the process pool of a function, by logical id.
func (s *Stack) Pool(logical string) *lambdart.Pool { return s.pools[logical] }

// AWSConfig returns an SDK config for the stack's emulator.
func (s *Stack) AWSConfig() aws.Config { return awsConfig(s.emu.endpoint) }

func awsConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

func (o *Options) defaults() {
	if o.Stage == "" {
		o.Stage = "dev"
	}
	if o.StackName == "" {
		o.StackName = "psc-" + o.Stage
	}
	if o.Template == "" {
		o.Template = filepath.Join(o.Root, "infra", "template.yaml")
	}
	if o.Venv == "" {
		o.Venv = filepath.Join(o.Root, ".venv")
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.Root, ".local")
	}
	if o.FunctionsDir == "" {
		o.FunctionsDir = filepath.Join(o.Root, "functions")
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
}

// Start brings the stack up; Close takes it down.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts.defaults()
	s := &Stack{opts: opts, log: opts.Log, pools: map[string]*lambdart.Pool{}, queueURLByARN: map[string]string{}, gateways: map[string]*gateway.Gateway{},
		stopping: make(chan struct{}), chaos: chaos.New(opts.Faults)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.tmpl, err = template.Load(opts.Template); err != nil {
		return nil, err
	}
	if opts.Endpoint != "" {
		s.log.Info("using the emulator at " + opts.Endpoint)
		s.emu, err = attachEmulator(ctx, opts.Endpoint)
	} else {
		s.log.Info("starting the emulator (MiniStack)")
		s.emu, err = startEmulator(ctx, opts.Venv, opts.Output)
	}
	if err != nil {
		return nil, err
	}
	cfg := awsConfig(s.emu.endpoint)
	s.own = newOwnCalls()
	cfg.HTTPClient = s.own
	s.ddb, s.streams, s.sqs, s.secrets = dynamodb.NewFromConfig(cfg), dynamodbstreams.NewFromConfig(cfg), sqs.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	s.cognito, s.ses = cip.NewFromConfig(cfg), sesv2.NewFromConfig(cfg)
	s.Outputs = Outputs{Emulator: s.emu.endpoint, Stage: opts.Stage, WebSockets: map[string]string{}, Tables: map[string]string{}, Queues: map[string]string{}, Functions: map[string]string{}, Topics: map[string]string{}}

	if err := s.resolveParameters(); err != nil {
		return nil, err
	}
	listeners, err := s.declareAPIs()
	if err != nil {
		return nil, err
	}
	// The pages' address is known before the functions start, so links
	// to them (the appointment page) can point here.
	webLn, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.opts.WebPort))
	if err != nil {
		return nil, fmt.Errorf("listening for the web pages: %w", err)
	}
	s.Outputs.Web = "http://" + webLn.Addr().String() + "/"
	for param, page := range map[string]string{"AppointmentPageUrl": "appointment.html", "SurveyPageUrl": "survey.html", "PatientSignInCallbackUrl": "signin.html"} {
		if _, declared := s.tmpl.Parameters[param]; declared && s.res.Refs[param] == "" {
			s.res.Refs[param] = s.Outputs.Web + page
		}
	}
	if err := s.decideConditions(); err != nil {
		return nil, err
	}
	s.declareOthers()
	if err := s.createResources(ctx); err != nil {
		return nil, err
	}
	if opts.ResourcesOnly {
		return s, nil
	}
	if err := s.startMeter(); err != nil {
		return nil, err
	}
	if err := s.startFunctions(ctx); err != nil {
		return nil, err
	}
	if err := s.serveAPIs(listeners); err != nil {
		return nil, err
	}
	if err := s.serveWeb(webLn); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.startEventSources(runCtx); err != nil {
		return nil, err
	}
	return s, s.writeOutputs()
}

// startMeter starts the metering proxy the functions reach the emulator
// through.
func (s *Stack) startMeter() error {
	m, err := newMeter(s.emu.endpoint)
	if err != nil {
		return err
	}
	m.ses = &sesGate{roles: s.roles, ses: s.ses}
	m.fault = s.fault
	m.caller = s.functionOf
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the meter: %w", err)
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	s.meter, s.meterURL = m, "http://"+ln.Addr().String()
	return nil
}

// Close stops everything the stack started, in reverse order.
func (s *Stack) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	s.wg.Wait()
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	for _, g := range s.gws {
		g.Close()
	}
	for _, p := range s.pools {
		p.Close()
	}
	if s.emu != nil {
		s.emu.stop()
	}
}

func (s *Stack) resolveParameters() error {
	refs := map[string]string{
		"AWS::Region": Region, "AWS::AccountId": AccountID, "AWS::Partition": "aws", "AWS::StackName": s.opts.StackName,
		"AWS::URLSuffix": "amazonaws.com", "AWS::StackId": arn("cloudformation", "stack/"+s.opts.StackName+"/local"),
	}
	params := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(s.opts.Template), "params", s.opts.Stage+".json")); err == nil {
		if err := json.Unmarshal(b, &params); err != nil {
			return fmt.Errorf("reading parameters of stage %s: %w", s.opts.Stage, err)
		}
	}
	for k, v := range s.opts.Parameters {
		params[k] = v
	}
	for name, p := range s.tmpl.Parameters {
		v, ok := params[name]
		if !ok {
			if p.Default == nil {
				return fmt.Errorf("parameter %s has no value for stage %s", name, s.opts.Stage)
			}
			v = fmt.Sprint(p.Default)
		}
		refs[name] = v
	}
	s.res = &template.Resolver{T: s.tmpl, Refs: refs, Attrs: map[string]string{}}
	return s.decideConditions()
}

// decideConditions marks absent the resources whose condition is false:
// they do not exist, as in AWS. It runs again once the stack has filled
// the parameters it knows only later (the pages' addresses).
func (s *Stack) decideConditions() error {
	s.absent = map[string]bool{}
	for id, r := range s.tmpl.Resources {
		if r.Condition == "" {
			continue
		}
		ok, err := s.res.Condition(r.Condition)
		if err != nil {
			return fmt.Errorf("resource %s: condition %s: %w", id, r.Condition, err)
		}
		s.absent[id] = !ok
	}
	return nil
}

// ofType returns the template's resources of a type that exist for this
// stage's parameters (their condition, if any, holds), sorted.
func (s *Stack) ofType(typ string) []string {
	var ids []string
	for _, id := range s.tmpl.OfType(typ) {
		if !s.absent[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// name resolves a resource's name property, or makes one from the stack.
func (s *Stack) name(logical, prop string) string {
	if v, ok := s.tmpl.Resources[logical].Properties[prop]; ok {
		if n, err := s.res.String(v); err == nil && n != "" {
			return n
		}
	}
	return s.opts.StackName + "-" + logical
}

// declareAPIs opens a listener per WebSocket API, so that the APIs'
// endpoints are known before functions' environments are resolved.
func (s *Stack) declareAPIs() (map[string]net.Listener, error) {
	listeners := map[string]net.Listener{}
	for _, id := range s.ofType("AWS::ApiGatewayV2::Api") {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.opts.Ports[id]))
		if err != nil {
			return nil, fmt.Errorf("listening for API %s: %w", id, err)
		}
		listeners[id] = ln
		s.res.Refs[id] = lowerID(id)
		s.res.Attrs[id+".ApiEndpoint"] = "ws://" + ln.Addr().String()
		s.res.Attrs[id+".ApiId"] = lowerID(id)
	}
	return listeners, nil
}

// declareOthers gives the resources the emulator does not hold (keys,
// roles, log groups, routes, functions) their local names and ARNs.
func (s *Stack) declareOthers() {
	set := func(id, ref, arnValue string) {
		s.res.Refs[id] = ref
		if arnValue != "" {
			s.res.Attrs[id+".Arn"] = arnValue
		}
	}
	for id, r := range s.tmpl.Resources {
		switch r.Type {
		case "AWS::KMS::Key":
			set(id, "local-"+lowerID(id), arn("kms", "key/local-"+lowerID(id)))
			s.res.Attrs[id+".KeyId"] = "local-" + lowerID(id)
		case "AWS::KMS::Alias":
			set(id, s.name(id, "AliasName"), "")
		case "AWS::IAM::Role":
			n := s.name(id, "RoleName")
			set(id, n, "arn:aws:iam::"+AccountID+":role/"+n)
		case "AWS::Logs::LogGroup":
			// As in AWS, a log group's Arn ends in ":*" (it covers the
			// group's streams); a log stream's ARN is the group's without it.
			n := s.name(id, "LogGroupName")
			set(id, n, arn("logs", "log-group:"+n+":*"))
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			n := s.name(id, "FunctionName")
			set(id, n, arn("lambda", "function:"+n))
			s.Outputs.Functions[id] = n
		case "AWS::ApiGatewayV2::Stage":
			set(id, s.name(id, "StageName"), "")
		case "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route", "AWS::Lambda::Permission":
			set(id, id, "")
		}
	}
}

func (s *Stack) resolvedProps(id string) (map[string]any, error) {
	v, err := s.res.Resolve(s.tmpl.Resources[id].Properties)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", id, err)
	}
	return template.MapOf(v), nil
}

func (s *Stack) createResources(ctx context.Context) error {
	if err := s.createUserPools(ctx); err != nil {
		return err
	}
	if err := s.seedPatients(ctx); err != nil {
		return err
	}
	if err := s.seedAgents(ctx); err != nil {
		return err
	}
	for _, id := range s.ofType("AWS::SecretsManager::Secret") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		a, err := s.createSecret(ctx, id, props)
		if err != nil {
			return err
		}
		s.res.Refs[id] = a
	}
	for _, id := range s.ofType("AWS::SES::EmailIdentity") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		identity := fmt.Sprint(props["EmailIdentity"])
		// The emulator verifies an identity as it is created; AWS sends
		// the owner a verification email (docs/operations.md).
		if _, err := s.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: &identity}); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			return fmt.Errorf("creating email identity %s: %w", id, err)
		}
		s.res.Refs[id] = identity
	}
	for _, id := range s.ofType("AWS::SES::ConfigurationSet") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		var in sesv2.CreateConfigurationSetInput
		if err := convertProps(map[string]any{"ConfigurationSetName": props["Name"], "DeliveryOptions": props["DeliveryOptions"]}, &in); err != nil {
			return fmt.Errorf("configuration set %s: %w", id, err)
		}
		if _, err := s.ses.CreateConfigurationSet(ctx, &in); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			return fmt.Errorf("creating configuration set %s: %w", id, err)
		}
		s.res.Refs[id] = aws.ToString(in.ConfigurationSetName)
	}
	if err := s.verifySender(ctx); err != nil {
		return err
	}
	for _, id := range s.ofType("AWS::DynamoDB::Table") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		name, stream, err := s.createTable(ctx, id, props)
		if err != nil {
			return err
		}
		s.res.Refs[id] = name
		s.res.Attrs[id+".Arn"] = arn("dynamodb", "table/"+name)
		if stream != "" {
			s.res.Attrs[id+".StreamArn"] = stream
		}
		s.Outputs.Tables[id] = name
	}
	for _, id := range queueOrder(s.tmpl) {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		url, qarn, err := s.createQueue(ctx, id, props)
		if err != nil {
			return err
		}
		s.res.Refs[id] = url
		s.res.Attrs[id+".Arn"], s.res.Attrs[id+".QueueUrl"] = qarn, url
		s.res.Attrs[id+".QueueName"] = qarn[strings.LastIndex(qarn, ":")+1:]
		s.queueURLByARN[qarn] = url
		s.Outputs.Queues[id] = url
	}
	if err := s.createTopics(ctx); err != nil {
		return err
	}
	if err := s.createRoles(ctx); err != nil {
		return err
	}
	if err := s.createLogGroups(ctx); err != nil {
		return err
	}
	s.log.Info("created the template's resources", "tables", len(s.Outputs.Tables), "queues", len(s.Outputs.Queues))
	return nil
}

// function is a SAM function's settings, Globals merged in.
type function struct {
	id, name, dir string
	timeout       time.Duration
	memory        int
	env           map[string]string
	logFormat     string
	logGroup      string // LoggingConfig's log group
	role          string // the execution role's ARN
	roleTrust     any    // its trust policy
	events        map[string]any
}

func (s *Stack) functions() ([]function, error) {
	globals := template.MapOf(s.tmpl.Globals["Function"])
	var fns []function
	for _, id := range s.ofType("AWS::Serverless::Function") {
		raw := map[string]any{}
		for k, v := range globals {
			raw[k] = v
		}
		for k, v := range s.tmpl.Resources[id].Properties {
			raw[k] = v
		}
		vars := map[string]any{}
		for k, v := range template.MapOf(template.MapOf(globals["Environment"])["Variables"]) {
			vars[k] = v
		}
		for k, v := range template.MapOf(template.MapOf(s.tmpl.Resources[id].Properties["Environment"])["Variables"]) {
			vars[k] = v
		}
		raw["Environment"] = map[string]any{"Variables": vars}
		rv, err := s.res.Resolve(raw)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		p := template.MapOf(rv)
		fn := function{id: id, name: s.res.Refs[id], timeout: 3 * time.Second, memory: 128, env: map[string]string{}, events: template.MapOf(p["Events"])}
		code, _ := p["CodeUri"].(string)
		fn.dir = filepath.Base(strings.TrimRight(code, "/"))
		if fn.dir == "" || fn.dir == "." {
			return nil, fmt.Errorf("function %s: CodeUri %q does not name a folder", id, code)
		}
		if t, err := strconv.Atoi(fmt.Sprint(p["Timeout"])); err == nil {
			fn.timeout = time.Duration(t) * time.Second
		}
		if m, err := strconv.Atoi(fmt.Sprint(p["MemorySize"])); err == nil {
			fn.memory = m
		}
		for k, v := range template.MapOf(template.MapOf(p["Environment"])["Variables"]) {
			fn.env[k] = fmt.Sprint(v)
		}
		fn.logFormat, _ = template.MapOf(p["LoggingConfig"])["LogFormat"].(string)
		fn.logGroup, _ = template.MapOf(p["LoggingConfig"])["LogGroup"].(string)
		fn.role, _ = p["Role"].(string)
		for rid, r := range s.tmpl.Resources {
			if r.Type == "AWS::IAM::Role" && s.res.Attrs[rid+".Arn"] == fn.role {
				fn.roleTrust = template.MapOf(r.Properties)["AssumeRolePolicyDocument"]
			}
		}
		if fn.role == "" || fn.roleTrust == nil {
			return nil, fmt.Errorf("function %s: Role %q is not a role of the template (a function needs its own execution role)", id, fn.role)
		}
		if !trustsLambda(fn.roleTrust) {
			return nil, fmt.Errorf("function %s: InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda (its trust policy does not allow lambda.amazonaws.com)", id)
		}
		fns = append(fns, fn)
	}
	return fns, nil
}

// build compiles every function's bootstrap for this machine, with the
// same tags as the deployed build.
func (s *Stack) build(ctx context.Context, fns []function) (string, error) {
	binDir := filepath.Join(s.opts.StateDir, "bin", s.opts.StackName)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", binDir + string(filepath.Separator)}
	built := map[string]bool{} // functions may share code
	for _, fn := range fns {
		if !built[fn.dir] {
			built[fn.dir] = true
			args = append(args, "./"+filepath.ToSlash(mustRel(s.opts.Root, filepath.Join(s.opts.FunctionsDir, fn.dir))))
		}
	}
	s.log.Info("building functions", "count", len(fns))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.opts.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building functions: %w\n%s", err, out)
	}
	return binDir, nil
}

func mustRel(base, target string) string {
	r, err := filepath.Rel(base, target)
	if err != nil {
		return target
	}
	return r
}

func (s *Stack) startFunctions(ctx context.Context) error {
	fns, err := s.functions()
	if err != nil {
		return err
	}
	if len(fns) == 0 {
		return nil
	}
	if err := s.checkExecutionRoles(ctx, fns); err != nil {
		return err
	}
	binDir, err := s.build(ctx, fns)
	if err != nil {
		return err
	}
	for _, fn := range fns {
		creds, err := s.roles.credentials(ctx, fn.role, fn.name)
		if err != nil {
			return fmt.Errorf("function %s: %w", fn.id, err)
		}
		s.fnOfRole.Store(fn.role, fn.id)
		env := map[string]string{
			"AWS_ENDPOINT_URL": s.meterURL, "AWS_REGION": Region, "AWS_DEFAULT_REGION": Region,
			"AWS_ACCESS_KEY_ID": creds.keyID, "AWS_SECRET_ACCESS_KEY": creds.secret, "AWS_SESSION_TOKEN": creds.token,
		}
		var out io.Writer = prefixWriter(s.opts.Output, fn.name)
		if fn.logGroup != "" {
			sink, err := s.newLogSink(ctx, fn.logGroup)
			if err != nil {
				return fmt.Errorf("function %s: %w", fn.id, err)
			}
			out = io.MultiWriter(out, sink)
		}
		if fn.logFormat != "" {
			env["AWS_LAMBDA_LOG_FORMAT"] = strings.ToUpper(fn.logFormat)
		}
		for k, v := range fn.env {
			env[k] = v
		}
		s.pools[fn.id] = lambdart.NewPool(lambdart.Function{
			Name: fn.name, ARN: s.res.Attrs[fn.id+".Arn"], Binary: filepath.Join(binDir, fn.dir), Env: env,
			Timeout: fn.timeout, MemoryMB: fn.memory, MaxConcurrency: s.opts.Concurrency, Output: out,
		}, s.log)
	}
	return nil
}

// integrationLimit is API Gateway's longest wait for an integration
// (API Gateway quotas: "Integration timeout", 50 ms to 29 s for WebSocket APIs).
const integrationLimit = 29 * time.Second

var functionInURI = regexp.MustCompile(`function:([^/:]+)(?::[^/]*)?/invocations`)

// serveAPIs serves each WebSocket API with the routes the template gives it.
func (s *Stack) serveAPIs(listeners map[string]net.Listener) error {
	byName := map[string]*lambdart.Pool{}
	for id, p := range s.pools {
		byName[s.res.Refs[id]] = p
	}
	for apiID, ln := range listeners {
		props, err := s.resolvedProps(apiID)
		if err != nil {
			return err
		}
		field := strings.TrimPrefix(fmt.Sprint(props["RouteSelectionExpression"]), "$request.body.")
		routes := map[string]gateway.Invoker{}
		stage, stageID := s.opts.Stage, ""
		for id, r := range s.tmpl.Resources {
			if template.MapOf(r.Properties["ApiId"])["Ref"] != apiID {
				continue
			}
			switch r.Type {
			case "AWS::ApiGatewayV2::Stage":
				stage, stageID = s.res.Refs[id], id
			case "AWS::ApiGatewayV2::Route":
				rp, err := s.resolvedProps(id)
				if err != nil {
					return err
				}
				target := strings.TrimPrefix(fmt.Sprint(rp["Target"]), "integrations/")
				ip, err := s.resolvedProps(target)
				if err != nil {
					return fmt.Errorf("route %s: %w", id, err)
				}
				m := functionInURI.FindStringSubmatch(fmt.Sprint(ip["IntegrationUri"]))
				if m == nil || byName[m[1]] == nil {
					return fmt.Errorf("route %s: integration %s names no function of the template", id, target)
				}
				key := fmt.Sprint(rp["RouteKey"])
				routes[key] = byName[m[1]]
				// API Gateway ends an integration after 29 s: a function
				// allowed longer would still be working when the client has
				// been told it failed, and might answer into nothing.
				if t := byName[m[1]].Timeout(); t > integrationLimit {
					return fmt.Errorf("route %s of %s: function %s has Timeout %s, over API Gateway's %s integration limit", key, apiID, m[1], t, integrationLimit)
				}
				permitted, err := s.invokePermitted(m[1], arn("lambda", "function:"+m[1]), lowerID(apiID), stage, key)
				if err != nil {
					return err
				}
				if !permitted {
					// As in AWS: the client gets "Internal server error" and
					// the function is never called.
					s.log.Warn("no Lambda permission lets this route invoke its function: it fails as in AWS", "api", apiID, "route", key, "function", m[1])
					routes[key] = refused{fmt.Errorf("API Gateway is not authorized to invoke %s for route %s (no AWS::Lambda::Permission with a matching SourceArn)", m[1], key)}
				}
			}
		}
		throttles, err := s.throttles(stageID)
		if err != nil {
			return err
		}
		gcfg := gateway.Config{APIID: lowerID(apiID), Stage: stage, SelectionField: field, Routes: routes, IdleTimeout: s.opts.IdleTimeout,
			Throttles: throttles, Authorize: s.manageConnections(lowerID(apiID), stage)}
		if s.chaos != nil {
			gcfg.Fault = s.connectionsFault
		}
		g := gateway.New(gcfg, s.log)
		s.gws = append(s.gws, g)
		s.gateways[apiID] = g
		srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		url := s.res.Attrs[apiID+".ApiEndpoint"] + "/" + stage
		s.Outputs.WebSockets[apiID] = url
		switch {
		case strings.Contains(strings.ToLower(apiID), "patient"):
			s.Outputs.PatientWebSocket = url
		case strings.Contains(strings.ToLower(apiID), "agent"):
			s.Outputs.AgentWebSocket = url
		}
		s.log.Info("serving WebSocket API", "api", apiID, "url", url, "routes", len(routes))
	}
	return nil
}

// throttles reads a stage's route throttling: DefaultRouteSettings (key
// "") and RouteSettings, each a steady rate and a burst.
func (s *Stack) throttles(stageID string) (map[string]gateway.Throttle, error) {
	out := map[string]gateway.Throttle{}
	if stageID == "" {
		return out, nil
	}
	props, err := s.resolvedProps(stageID)
	if err != nil {
		return nil, err
	}
	read := func(key string, settings any) {
		m := template.MapOf(settings)
		r, rerr := strconv.ParseFloat(fmt.Sprint(m["ThrottlingRateLimit"]), 64)
		b, berr := strconv.Atoi(fmt.Sprint(m["ThrottlingBurstLimit"]))
		if rerr == nil && berr == nil {
			out[key] = gateway.Throttle{Rate: r, Burst: b}
		}
	}
	read("", props["DefaultRouteSettings"])
	for route, settings := range template.MapOf(props["RouteSettings"]) {
		read(route, settings)
	}
	return out, nil
}

// serveWeb serves web/ and its config.json, which tells the pages where
// the WebSocket APIs are.
func (s *Stack) serveWeb(ln net.Listener) error {
	webDir := filepath.Join(s.opts.Root, "web")
	conf := map[string]any{"patientWebSocketUrl": s.Outputs.PatientWebSocket, "agentWebSocketUrl": s.Outputs.AgentWebSocket}
	if p := s.Outputs.AgentPool; p != nil {
		// The console signs in against the pool's API: in AWS
		// https://cognito-idp.<region>.amazonaws.com/, here the emulator.
		conf["agentPool"] = map[string]string{"region": Region, "poolId": p.ID, "clientId": p.ClientID, "endpoint": p.Endpoint}
	}
	if p := s.Outputs.PatientSignIn; p != nil {
		// The chat's "Sign in with your hospital account" (the code flow
		// with PKCE): in AWS the stack's PatientSignIn output.
		conf["patientSignIn"] = map[string]string{"authorizeUrl": p.AuthorizeURL, "tokenUrl": p.TokenURL, "clientId": p.ClientID, "redirectUri": p.RedirectURI}
	}
	cfg, _ := json.Marshal(conf)
	mux := http.NewServeMux()
	// What the system's requests so far would be billed for (the load
	// generator's cost model reads it before and after a run).
	mux.HandleFunc("GET /_psc/usage", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.usage())
	})
	// How far each stream mapping has read (the local stack's stand-in
	// for AWS's IteratorAge metric): tests wait on it for a quiet stack.
	mux.HandleFunc("GET /_psc/streams", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.StreamProgress())
	})
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(cfg)
	})
	if s.cognitoFront != nil {
		mux.Handle("POST /cognito/", http.StripPrefix("/cognito", s.cognitoFront))
	}
	// Lambda's Invoke API for the template's functions, as an operator
	// (or scripts/redrive) calls it: `aws lambda invoke --endpoint-url`.
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.invokeAPI)
	mux.Handle("GET /", pageHeaders(http.FileServer(http.Dir(webDir))))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	s.Outputs.PatientPage = s.Outputs.Web + "index.html"
	if _, err := os.Stat(filepath.Join(webDir, "agent", "index.html")); err == nil {
		s.Outputs.AgentConsole = s.Outputs.Web + "agent/"
	}
	return nil
}

// pageHeaders sets the response headers the pages are served with, as
// docs/operations.md asks of the static hosting (a CloudFront response
// headers policy): no framing of the console and the link pages (the chat
// page may be framed by the widget, on the site that hosts it: here, this
// origin), no MIME sniffing, no referrer.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ancestors := "'none'"
		if p := r.URL.Path; p == "/" || p == "/index.html" || p == "/widget-demo.html" || p == "/chat.js" || p == "/chat.css" || p == "/widget.js" {
			ancestors = "'self'"
		}
		w.Header().Set("Content-Security-Policy", "frame-ancestors "+ancestors)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func (s *Stack) writeOutputs() error {
	if err := os.MkdirAll(s.opts.StateDir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s.Outputs, "", "  ")
	return os.WriteFile(filepath.Join(s.opts.StateDir, "stack.json"), append(b, '\n'), 0o644)
}

// prefixWriter prefixes each line a function writes with its name.
func prefixWriter(w io.Writer, name string) io.Writer {
	return &linePrefixer{w: w, prefix: []byte(name + " | ")}
}

type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, l.prefix...), l.buf[:i+1]...)
		if _, err := l.w.Write(line); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
