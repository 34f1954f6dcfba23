// Command rehearse is the deploy rehearsal: scripts/deploy.sh itself, with
// the pinned SAM CLI, deploys infra/template.yaml into a fresh emulator's
// CloudFormation (MiniStack, IAM enforced), as an operator would deploy a
// stage to an AWS account; then an update with a changed parameter, a
// delete, and the stage created again. It prints the stack's status and
// outputs and fails when any step does not end as it would in AWS.
//
//	go run ./scripts/rehearse            (make rehearse; make test runs it)
//
// What AWS does that the emulator does not is checked here: a re-created
// stage must not take over (or wipe) the tables the deleted one retained.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/template"
	"github.com/patientservicecenter/psc/scripts/templatecheck"
)

const (
	stage     = "test"
	stackName = "psc-test"
	region    = "us-east-1"
)

func main() {
	if err := rehearse(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "deploy rehearsal failed:", err)
		os.Exit(1)
	}
}

type rehearsal struct {
	root, endpoint string
	cfn            *cloudformation.Client
	ddb            *dynamodb.Client
}

func rehearse(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	start := time.Now()
	emuLog, err := os.CreateTemp("", "psc-rehearsal-emulator-*.log")
	if err != nil {
		return err
	}
	defer emuLog.Close()
	emu, err := stack.StartEmulator(ctx, filepath.Join(root, ".venv"), emuLog)
	if err != nil {
		return err
	}
	defer func() {
		emu.Stop()
		// MiniStack unpacks function code here and leaves it behind.
		_ = os.RemoveAll(filepath.Join(os.TempDir(), "ministack-provided-code-"+emu.Endpoint()[strings.LastIndex(emu.Endpoint(), ":")+1:]))
	}()
	fmt.Printf("==> deploy rehearsal: a fresh emulator at %s (IAM enforced; its log: %s)\n", emu.Endpoint(), emuLog.Name())
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(emu.Endpoint())}
	r := &rehearsal{root: root, endpoint: emu.Endpoint(), cfn: cloudformation.NewFromConfig(cfg), ddb: dynamodb.NewFromConfig(cfg)}

	// The operator's steps before the first deploy (docs/operations.md):
	// verify the sender's domain in SES; this account has no API Gateway
	// CloudWatch role, so the stack sets it (ApiGatewayCloudWatchRole=true).
	sender, err := r.param("NotificationSender")
	if err != nil {
		return err
	}
	domain := sender[strings.LastIndex(sender, "@")+1:]
	if _, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(domain)}); err != nil {
		return fmt.Errorf("verifying the sender's domain: %w", err)
	}
	fmt.Printf("==> operator: verified the SES identity %s\n", domain)

	if err := r.deploy("create", "ApiGatewayCloudWatchRole=true"); err != nil {
		return err
	}
	first, err := r.expect(ctx, cfntypes.StackStatusCreateComplete)
	if err != nil {
		return err
	}
	r.print(first)
	conversations, err := r.physical(ctx, "ConversationsTable")
	if err != nil {
		return err
	}
	marker := fmt.Sprintf("rehearsal-%d", time.Now().UnixNano())
	if _, err := r.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &conversations, Item: map[string]ddbtypes.AttributeValue{
		"conversationId": &ddbtypes.AttributeValueMemberS{Value: marker}}}); err != nil {
		return fmt.Errorf("writing to %s: %w", conversations, err)
	}

	if err := r.deploy("update, RetentionDays=30", "ApiGatewayCloudWatchRole=true", "RetentionDays=30"); err != nil {
		return err
	}
	updated, err := r.expect(ctx, cfntypes.StackStatusUpdateComplete)
	if err != nil {
		return err
	}
	if got := paramOf(updated, "RetentionDays"); got != "30" {
		return fmt.Errorf("after the update RetentionDays is %q, want 30", got)
	}
	fmt.Println("==> updated: RetentionDays is 30")

	if err := r.run("delete", "--delete", stage); err != nil {
		return err
	}
	if _, err := r.expect(ctx, cfntypes.StackStatusDeleteComplete); err != nil {
		return err
	}
	if err := r.holds(ctx, conversations, marker); err != nil {
		return fmt.Errorf("after the delete, the retained table: %w", err)
	}
	fmt.Printf("==> deleted: the retained table %s and its records stay\n", conversations)

	// AWS refuses to create a table whose name exists: a retained table
	// with a fixed name makes the stage impossible to create again. The
	// emulator would replace the table silently, so the rehearsal checks.
	tmpl, err := template.Load(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		return err
	}
	if fixed := templatecheck.RetainedWithFixedNames(tmpl); len(fixed) > 0 {
		return fmt.Errorf("creating the stage again would fail in AWS: the retained tables %v have fixed names and still exist", fixed)
	}
	if err := r.deploy("create again", "ApiGatewayCloudWatchRole=true"); err != nil {
		return err
	}
	again, err := r.expect(ctx, cfntypes.StackStatusCreateComplete)
	if err != nil {
		return err
	}
	fresh, err := r.physical(ctx, "ConversationsTable")
	if err != nil {
		return err
	}
	if fresh != conversations {
		if err := r.holds(ctx, conversations, marker); err != nil {
			return fmt.Errorf("after the stage was created again, the retained table: %w", err)
		}
		fmt.Printf("==> created again: new tables (%s), the retained one untouched\n", fresh)
	} else {
		// MiniStack derives a generated name from the stack and the logical
		// id, so the new stage gets the retained table's name and the
		// emulator replaces that table; AWS adds a random suffix and leaves
		// it alone. What AWS refuses is a retained table with a fixed name
		// (checked before the re-create above).
		fmt.Printf("==> created again (note: the emulator reuses generated names, so it gave the new stage the retained table %s; AWS would name a new one)\n", fresh)
	}
	r.print(again)
	fmt.Printf("==> deploy rehearsal passed in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// param reads a parameter of the stage's file.
func (r *rehearsal) param(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(r.root, "infra", "params", stage+".json"))
	if err != nil {
		return "", err
	}
	var p map[string]string
	if err := json.Unmarshal(b, &p); err != nil {
		return "", err
	}
	if p[name] == "" {
		return "", fmt.Errorf("infra/params/%s.json sets no %s", stage, name)
	}
	return p[name], nil
}

func (r *rehearsal) deploy(what string, overrides ...string) error {
	return r.run(what, append([]string{stage}, overrides...)...)
}

// run runs scripts/deploy.sh against the emulator, showing its output
// indented.
func (r *rehearsal) run(what string, args ...string) error {
	fmt.Printf("==> scripts/deploy.sh %s (%s)\n", strings.Join(args, " "), what)
	cmd := exec.Command("bash", append([]string{filepath.Join(r.root, "scripts", "deploy.sh")}, args...)...)
	cmd.Dir = r.root
	// The emulator's credentials only: none of the caller's AWS settings
	// (a profile, a real account's keys) reach the rehearsal.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL="+r.endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION="+region, "SAM_CLI_POLL_DELAY=0.5")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	indent(out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("scripts/deploy.sh %s: %w", strings.Join(args, " "), err)
	}
	fmt.Printf("    (%s)\n", time.Since(started).Round(100*time.Millisecond))
	return nil
}

func indent(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		if line != "" {
			fmt.Println("    " + line)
		}
	}
}

// expect reads the stack and checks its status.
func (r *rehearsal) expect(ctx context.Context, want cfntypes.StackStatus) (cfntypes.Stack, error) {
	out, err := r.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackName)})
	if err != nil {
		if want == cfntypes.StackStatusDeleteComplete && strings.Contains(err.Error(), "does not exist") {
			return cfntypes.Stack{}, nil
		}
		return cfntypes.Stack{}, fmt.Errorf("reading stack %s: %w", stackName, err)
	}
	if len(out.Stacks) != 1 {
		return cfntypes.Stack{}, fmt.Errorf("stack %s: %d stacks", stackName, len(out.Stacks))
	}
	s := out.Stacks[0]
	if s.StackStatus != want {
		return s, fmt.Errorf("stack %s is %s (%s), want %s", stackName, s.StackStatus, aws.ToString(s.StackStatusReason), want)
	}
	return s, nil
}

func (r *rehearsal) print(s cfntypes.Stack) {
	res, _ := r.cfn.DescribeStackResources(context.Background(), &cloudformation.DescribeStackResourcesInput{StackName: s.StackName})
	n := 0
	if res != nil {
		n = len(res.StackResources)
	}
	fmt.Printf("==> stack %s: %s, %d resources\n", aws.ToString(s.StackName), s.StackStatus, n)
	for _, o := range s.Outputs {
		fmt.Printf("    output %-22s %s\n", aws.ToString(o.OutputKey), aws.ToString(o.OutputValue))
	}
}

func (r *rehearsal) physical(ctx context.Context, logical string) (string, error) {
	out, err := r.cfn.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String(stackName), LogicalResourceId: aws.String(logical)})
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", logical, err)
	}
	return aws.ToString(out.StackResourceDetail.PhysicalResourceId), nil
}

func (r *rehearsal) holds(ctx context.Context, table, marker string) error {
	out, err := r.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"conversationId": &ddbtypes.AttributeValueMemberS{Value: marker}}})
	if err != nil {
		return fmt.Errorf("reading %s: %w", table, err)
	}
	if len(out.Item) == 0 {
		return errors.New(table + " lost its records")
	}
	return nil
}

func paramOf(s cfntypes.Stack, key string) string {
	for _, p := range s.Parameters {
		if aws.ToString(p.ParameterKey) == key {
			return aws.ToString(p.ParameterValue)
		}
	}
	return ""
}
