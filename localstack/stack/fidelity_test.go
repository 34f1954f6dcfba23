package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	mgmttypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/push"
)

var env *stacktest.Env

// The fidelity tests run fixture functions (testdata/functions) from a
// fixture template (testdata/fidelity.yaml) on the local stack, and check
// that it behaves as API Gateway, SQS and DynamoDB Streams event source
// mappings do in AWS.
func TestMain(m *testing.M) {
	stacktest.Main(m, &env, &stack.Options{
		Template:     filepath.Join("testdata", "fidelity.yaml"),
		FunctionsDir: filepath.Join(stacktest.Root(), "localstack", "stack", "testdata", "functions"),
		Stage:        "test",
		StackName:    "fidelity",
	})
}

func cfg() aws.Config { return env.Stack.AWSConfig() }

func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()) }

// records returns the entries the fixtures appended for a source.
func records(t *testing.T, source string) []string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(cfg()).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Outputs.Tables["RecordsTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"source": &types.AttributeValueMemberS{Value: source}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := out.Item["log"].(*types.AttributeValueMemberL)
	var entries []string
	if l != nil {
		for _, v := range l.Value {
			entries = append(entries, v.(*types.AttributeValueMemberS).Value)
		}
	}
	return entries
}

func withPrefix(entries []string, prefix string) []string {
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e, prefix) {
			out = append(out, strings.TrimPrefix(e, prefix))
		}
	}
	return out
}

func echo(t *testing.T, c *stacktest.Client, frame string) map[string]any {
	t.Helper()
	c.Send(frame)
	f, _ := c.Wait(func(f map[string]any) bool { return f["route"] != nil || f["message"] != nil })
	return f
}

func TestRouteSelection(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["Api"])
	for frame, want := range map[string]string{
		`{"action":"ping"}`:     "ping",
		`{"action":"unknown"}`:  "$default",
		`{"action":"$connect"}`: "$default",
		`{"action":7}`:          "$default",
		`not json at all`:       "$default",
		`{"other":"ping"}`:      "$default",
	} {
		if f := echo(t, c, frame); f["route"] != want || f["body"] != frame {
			t.Errorf("frame %s went to %v, want %s", frame, f, want)
		}
	}
}

func TestNoMatchingRouteAndNoDefaultIsForbidden(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["NoDefaultApi"])
	if f := echo(t, c, `{"action":"nope"}`); f["message"] != "Forbidden" {
		t.Fatalf("unrouted frame answered %v", f)
	}
}

func TestConnectRejectedOnNon2xx(t *testing.T) {
	_, resp, err := stacktest.DialErr(t, env.Outputs.WebSockets["Api"]+"?deny=1")
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("connect with deny=1: err=%v resp=%v, want a 403 refusal", err, resp)
	}
}

func TestDisconnectRouteOnClose(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["Api"])
	id := echo(t, c, `{"action":"ping"}`)["connectionId"].(string)
	c.Close()
	stacktest.Eventually(t, 15*time.Second, "$disconnect recorded", func() bool { return slices.Contains(records(t, "disconnect"), id) })
}

func TestManagementAPI(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["Api"])
	id := echo(t, c, `{"action":"ping"}`)["connectionId"].(string)
	mgmt, err := push.NewClient(cfg(), env.Outputs.WebSockets["Api"])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"route":"pushed"}`)}); err != nil {
		t.Fatalf("POST to a live connection: %v", err)
	}
	if f, _ := c.Wait(func(f map[string]any) bool { return f["route"] == "pushed" }); f == nil {
		t.Fatal("pushed frame not received")
	}
	got, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
	if err != nil || got.ConnectedAt == nil || got.Identity == nil || aws.ToString(got.Identity.SourceIp) == "" {
		t.Fatalf("GET connection: %+v, %v", got, err)
	}
	if _, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatalf("DELETE connection: %v", err)
	}
	select {
	case <-c.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("DELETE did not close the client's connection")
	}
	var gone *mgmttypes.GoneException
	_, err = mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{}`)})
	if !errors.As(err, &gone) {
		t.Fatalf("POST to a closed connection: %v, want GoneException (410)", err)
	}
	_, err = mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("neverexisted"), Data: []byte(`{}`)})
	if !errors.As(err, &gone) {
		t.Fatalf("POST to an unknown connection: %v, want GoneException (410)", err)
	}
}

func sendSQS(t *testing.T, queue string, body map[string]any, group string) {
	t.Helper()
	b, _ := json.Marshal(body)
	in := &sqs.SendMessageInput{QueueUrl: aws.String(env.Outputs.Queues[queue]), MessageBody: aws.String(string(b))}
	if group != "" {
		in.MessageGroupId = &group
	}
	if _, err := sqs.NewFromConfig(cfg()).SendMessage(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// putItem writes an item to the table of a logical id.
func putItem(t *testing.T, table string, item map[string]types.AttributeValue) {
	t.Helper()
	in := &dynamodb.PutItemInput{TableName: aws.String(env.Outputs.Tables[table]), Item: item}
	if _, err := dynamodb.NewFromConfig(cfg()).PutItem(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func TestSQSPartialBatchFailureRetriesOnlyFailedAndRedrivesToDLQ(t *testing.T) {
	run := unique("w")
	sendSQS(t, "WorkQueue", map[string]any{"id": run + "-a"}, "")
	sendSQS(t, "WorkQueue", map[string]any{"id": run + "-b", "fail": -1}, "")
	sendSQS(t, "WorkQueue", map[string]any{"id": run + "-c"}, "")

	client := sqs.NewFromConfig(cfg())
	var dlqBodies []string
	stacktest.Eventually(t, 30*time.Second, "the failing message reaches the DLQ", func() bool {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(env.Outputs.Queues["WorkDLQ"]), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			dlqBodies = append(dlqBodies, aws.ToString(m.Body))
		}
		return len(dlqBodies) > 0 && strings.Contains(strings.Join(dlqBodies, ""), run+"-b")
	})
	got := withPrefix(records(t, "fidelity-test-work"), run+"-")
	slices.Sort(got)
	// a and c were delivered once and deleted; b was delivered
	// maxReceiveCount (2) times, then moved to the DLQ.
	want := []string{"a:ok", "b:fail", "b:fail", "c:ok"}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}
	if strings.Contains(strings.Join(dlqBodies, ""), run+"-a") || strings.Contains(strings.Join(dlqBodies, ""), run+"-c") {
		t.Fatalf("successful messages in the DLQ: %v", dlqBodies)
	}
}

func TestFIFOOrderPerGroup(t *testing.T) {
	run := unique("f")
	for i := 1; i <= 6; i++ {
		for _, g := range []string{"g1", "g2"} {
			body := map[string]any{"id": fmt.Sprintf("%s-%s-%d", run, g, i)}
			if g == "g1" && i == 3 {
				body["fail"] = 1 // fails its first delivery
			}
			sendSQS(t, "OrderQueue", body, run+g)
		}
	}
	var log []string
	stacktest.Eventually(t, 30*time.Second, "all FIFO messages processed", func() bool {
		log = withPrefix(records(t, "fidelity-test-order.fifo"), run+"-")
		n := 0
		for _, e := range log {
			if strings.HasSuffix(e, ":ok") {
				n++
			}
		}
		return n == 12
	})
	for _, g := range []string{"g1", "g2"} {
		var oks []string
		for _, e := range withPrefix(log, g+"-") {
			if strings.HasSuffix(e, ":ok") {
				oks = append(oks, strings.TrimSuffix(e, ":ok"))
			}
		}
		if strings.Join(oks, ",") != "1,2,3,4,5,6" {
			t.Fatalf("group %s processed in order %v (log %v)", g, oks, log)
		}
	}
	g1 := withPrefix(log, "g1-")
	if i := slices.Index(g1, "3:fail"); i < 0 || slices.Index(g1, "3:ok") < i {
		t.Fatalf("g1's message 3 should fail once, then succeed: %v", g1)
	}
}

func TestStreamOrderPerItemWithRetry(t *testing.T) {
	run := unique("s")
	for n := 1; n <= 5; n++ {
		for _, item := range []string{"A", "B"} {
			it := map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: run + item},
				"n":  &types.AttributeValueMemberN{Value: fmt.Sprint(n)},
			}
			if item == "A" && n == 3 {
				it["failOnce"] = &types.AttributeValueMemberBOOL{Value: true}
			}
			putItem(t, "ItemsTable", it)
		}
	}
	var log []string
	stacktest.Eventually(t, 30*time.Second, "all stream records processed", func() bool {
		log = withPrefix(records(t, "stream"), run)
		return len(log) >= 11 // 10 successes and A's one failure
	})
	for _, item := range []string{"A", "B"} {
		var ns []string
		for _, e := range withPrefix(log, item+":") {
			if !strings.HasSuffix(e, ":fail") {
				ns = append(ns, e)
			}
		}
		if strings.Join(ns, ",") != "1,2,3,4,5" {
			t.Fatalf("item %s processed in order %v (log %v)", item, ns, log)
		}
	}
	a := withPrefix(log, "A:")
	if i := slices.Index(a, "3:fail"); i < 0 || slices.Index(a, "3") < i {
		t.Fatalf("A's record 3 should fail once and be retried before 4: %v", a)
	}
}

// TestStreamFilterCriteria: a stream consumer with FilterCriteria gets only
// the records one of its patterns matches; the others are passed over.
func TestStreamFilterCriteria(t *testing.T) {
	pk := unique("f")
	for n := 1; n <= 5; n++ {
		it := map[string]types.AttributeValue{
			"pk":   &types.AttributeValueMemberS{Value: pk},
			"n":    &types.AttributeValueMemberN{Value: fmt.Sprint(n)},
			"keep": &types.AttributeValueMemberBOOL{Value: n == 1 || n == 5},
		}
		if n == 3 {
			it["tag"] = &types.AttributeValueMemberS{Value: "also-this"}
		}
		putItem(t, "ItemsTable", it)
	}
	var got []string
	// Records of one item come in order: once 5 is there, 2 and 4 were passed over.
	stacktest.Eventually(t, 30*time.Second, "the last kept record delivered", func() bool {
		got = withPrefix(records(t, "filtered"), pk+":")
		return slices.Contains(got, "5")
	})
	if strings.Join(got, ",") != "1,3,5" {
		t.Fatalf("the filtered consumer got %v, want 1,3,5", got)
	}
}

// TestRouteWithoutInvokePermissionFails: API Gateway invokes a function
// only where an AWS::Lambda::Permission allows the API, stage and route;
// without one the client gets "Internal server error" and the function is
// never called (NoDefaultApi's ping route has none).
func TestRouteWithoutInvokePermissionFails(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["NoDefaultApi"])
	if f := echo(t, c, `{"action":"ping"}`); f["message"] != "Internal server error" {
		t.Fatalf("a route API Gateway may not invoke answered %v", f)
	}
}

// TestPoisonRecordIsBisectedOutAndSentToTheFailureDestination: a batch
// whose middle record always fails is split until that record is alone;
// the others are processed, and after its retries Lambda sends the lone
// record's description to the OnFailure queue.
func TestPoisonRecordIsBisectedOutAndSentToTheFailureDestination(t *testing.T) {
	run := unique("p")
	for n := 1; n <= 5; n++ {
		it := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", run, n)}, "n": &types.AttributeValueMemberN{Value: fmt.Sprint(n)}}
		if n == 3 {
			it["poison"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		putItem(t, "PoisonTable", it)
	}
	q := sqs.NewFromConfig(cfg())
	var info map[string]any
	stacktest.Eventually(t, 60*time.Second, "the poison record's description in the failure queue", func() bool {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(env.Outputs.Queues["FailuresQueue"]), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var rec map[string]any
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &rec) == nil {
				info = rec
				return true
			}
		}
		return false
	})
	batch, _ := info["DDBStreamBatchInfo"].(map[string]any)
	req, _ := info["requestContext"].(map[string]any)
	if batch["batchSize"] != float64(1) || req["condition"] != "RetryAttemptsExhausted" || batch["streamArn"] == "" {
		t.Fatalf("failure record %v, want the lone poison record given up after its retries", info)
	}
	// The records after the poison one are delivered once it is given up;
	// a failing batch runs again whole (delivery is at least once), so
	// records before it may be seen more than once.
	processed := func() map[string]bool {
		seen := map[string]bool{}
		for _, e := range records(t, "poison") {
			if rest, ok := strings.CutPrefix(e, run+"-"); ok {
				seen[rest] = true
			}
		}
		return seen
	}
	stacktest.Eventually(t, 30*time.Second, "every record but the poison one processed", func() bool {
		seen := processed()
		return seen["1:1"] && seen["2:2"] && seen["4:4"] && seen["5:5"]
	})
	if seen := processed(); seen["3:3"] {
		t.Fatalf("the poison record was processed: %v", seen)
	}
}

// TestStrictStackRefusesWhatAWSWouldRefuse: a template AWS would deploy
// but whose functions could not work there does not start here either.
func TestStrictStackRefusesWhatAWSWouldRefuse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fidelity.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := string(b)
	for _, tc := range []struct{ name, old, new, want string }{
		{
			"log permission on a log group ARN plus :log-stream:*",
			"Resource: !GetAtt SqsRecFunctionLogs.Arn}", `Resource: !Sub "${SqsRecFunctionLogs.Arn}:log-stream:*"}`,
			"not authorized to perform: logs:CreateLogStream on resource: arn:aws:logs:us-east-1:000000000000:log-group:/fidelity/test/SqsRecFunction:log-stream:",
		},
		{
			"a queue its role may not poll",
			"Resource: [!GetAtt WorkQueue.Arn, !GetAtt OrderQueue.Arn]", "Resource: !GetAtt WorkQueue.Arn",
			"not authorized to perform: sqs:ReceiveMessage on resource: arn:aws:sqs:us-east-1:000000000000:fidelity-test-order.fifo",
		},
		{
			"a failure destination its role may not send to",
			"{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt FailuresQueue.Arn}", "{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt WorkQueue.Arn}",
			"not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:fidelity-test-failures",
		},
		{
			"a route's function allowed longer than API Gateway waits",
			"      CodeUri: ../bin/echo/\n", "      CodeUri: ../bin/echo/\n      Timeout: 30\n",
			"over API Gateway's 29s integration limit",
		},
		{
			"a role Lambda cannot assume",
			"  EchoRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: \"2012-10-17\"\n        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}",
			"  EchoRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: \"2012-10-17\"\n        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}",
			"cannot be assumed by Lambda",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(fixed, tc.old) {
				t.Fatalf("the fixture no longer has %q", tc.old)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "fidelity.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(fixed, tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := stack.Start(context.Background(), stack.Options{
				Root: stacktest.Root(), Template: path, Stage: "test", StackName: unique("strict"), Endpoint: env.Outputs.Emulator,
				FunctionsDir: filepath.Join(stacktest.Root(), "localstack", "stack", "testdata", "functions"), StateDir: dir, Output: io.Discard,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err == nil {
				s.Close()
				t.Fatalf("the stack started; want it refused with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with %v\nwant it to say %q", err, tc.want)
			}
		})
	}
}

// lambdaStream is how Lambda names a log stream: date/[version]id.
var lambdaStream = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`)

// TestFunctionLogsReachTheirLogGroup: as Lambda does, a function's output
// lines go to its log group (LoggingConfig.LogGroup) in the emulator's
// CloudWatch Logs.
func TestFunctionLogsReachTheirLogGroup(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["Api"])
	id := echo(t, c, `{"action":"ping"}`)["connectionId"].(string)
	logs := cloudwatchlogs.NewFromConfig(cfg())
	stacktest.Eventually(t, 15*time.Second, "the echo's log line in /fidelity/test/EchoFunction", func() bool {
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/fidelity/test/EchoFunction")})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			if strings.Contains(aws.ToString(e.Message), `"connectionId":"`+id+`"`) && lambdaStream.MatchString(aws.ToString(e.LogStreamName)) {
				return true
			}
		}
		return false
	})
}

// TestRouteThrottling: a route with its own RouteSettings is throttled
// stage-wide as API Gateway does: past its burst a frame is answered
// "Too Many Requests" and the function is not called.
func TestRouteThrottling(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.WebSockets["Api"])
	for range 5 {
		c.Send(`{"action":"limited"}`)
	}
	echoed, throttled := 0, 0
	for echoed+throttled < 5 {
		f, _ := c.Wait(func(f map[string]any) bool { return f["route"] == "limited" || f["message"] == "Too Many Requests" })
		if f["route"] == "limited" {
			echoed++
		} else {
			throttled++
		}
	}
	if echoed != 2 || throttled != 3 {
		t.Fatalf("%d frames integrated and %d throttled, want the burst of 2 and 3 throttled", echoed, throttled)
	}
}
