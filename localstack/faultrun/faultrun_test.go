// Package faultrun runs a small seeded load against a local stack in
// fault mode (localstack/chaos), so a regression of the system's handling
// of AWS failures fails make test. docs/reliability.md has the full runs.
package faultrun

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/patientservicecenter/psc/localstack/chaos"
	"github.com/patientservicecenter/psc/localstack/loadgen"
	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
)

var env *stacktest.Env

// plan is the run's faults, with a fixed seed: 2.5% of the bot turn's
// invocations killed before one of their first six DynamoDB calls, 5%
// right after their first transaction (the reply is stored, not pushed),
// DynamoDB throttling and @connections failures for every function, and
// one restart of every poller.
var plan = &chaos.Plan{Seed: 20261203, Faults: []chaos.Fault{
	{Kind: chaos.KillBefore, Service: chaos.DynamoDB, Function: "BotTurnFunction", Rate: 0.025, Per: "invocation", Within: 6},
	{Kind: chaos.KillAfter, Service: chaos.DynamoDB, Op: "TransactWriteItems", Function: "BotTurnFunction", Rate: 0.05, Per: "invocation", Within: 1},
	{Kind: chaos.Throttle, Service: chaos.DynamoDB, Rate: 0.02},
	{Kind: chaos.Error, Service: chaos.Connections, Op: "POST", Rate: 0.02},
	{Kind: chaos.Restart, Service: chaos.Pollers, At: chaos.Duration{Duration: 15 * time.Second}},
}}

func TestMain(m *testing.M) {
	stacktest.Main(m, &env, &stack.Options{Faults: plan, Parameters: map[string]string{"BusinessHours": "mon-sun=00:00-24:00", "BusinessClosures": ""}})
}

// TestASmallLoadUnderFaultsLosesNothing: thirty patients, a third of them
// asking for a person, four agents, with the plan's faults: every patient
// finishes, nothing is lost or delivered twice, and the faults did happen.
func TestASmallLoadUnderFaultsLosesNothing(t *testing.T) {
	var progress bytes.Buffer
	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		PatientURL: env.Outputs.PatientWebSocket, AgentURL: env.Outputs.AgentWebSocket, PoolID: env.Outputs.AgentPool.ID,
		ClientID: env.Outputs.AgentPool.ClientID, PoolAPI: env.Outputs.AgentPool.Endpoint,
		AWS:      aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(env.Outputs.Emulator)},
		Patients: 30, Agents: 4, Rate: 3, EscalateShare: 0.34, Exchanges: 2, Capacity: 5, Timeout: 200 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log(out.String())
	var usage struct {
		Faults []chaos.Hit `json:"faults"`
		Lambda map[string]struct {
			Invocations int64 `json:"invocations"`
		} `json:"lambda"`
	}
	resp, err := http.Get(env.Outputs.Web + "_psc/usage")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&usage); err != nil {
		t.Fatal(err)
	}
	t.Logf("faults injected (seed %d): %+v; bot-turn invocations %d", plan.Seed, usage.Faults, usage.Lambda["BotTurnFunction"].Invocations)
	if rep.Completed != 30 || rep.Errors != 0 || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Fatalf("completed %d of 30, %d errors (%v), %d lost, %d duplicated", rep.Completed, rep.Errors, rep.ErrorSamples, rep.Lost, rep.Duplicated)
	}
	if len(usage.Faults) == 0 {
		t.Fatal("no fault was injected: the run proves nothing")
	}
	consistent(t)
}

// consistent checks what the run left behind: no conversation left with
// or on its way to a person (every handed-off one was closed), no agent
// holding a conversation after wrap-up, one survey at most per
// conversation, and nothing in a dead-letter queue or failure destination.
func consistent(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(awsCfg())
	scan := func(table string) []map[string]types.AttributeValue {
		var items []map[string]types.AttributeValue
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(env.Outputs.Tables[table]), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, page.Items...)
		}
		return items
	}
	var convs []struct {
		ID    string `dynamodbav:"conversationId"`
		State string `dynamodbav:"state"`
		Agent string `dynamodbav:"agentId"`
	}
	if err := attributevalue.UnmarshalListOfMaps(scan("ConversationsTable"), &convs); err != nil {
		t.Fatal(err)
	}
	closed := 0
	for _, c := range convs {
		switch c.State {
		case "", "bot": // a patient who only asked the bot, and left
		case "closed":
			closed++
		default:
			t.Errorf("conversation %s was left %s (agent %q)", c.ID, c.State, c.Agent)
		}
	}
	var agents []struct {
		ID       string `dynamodbav:"agentId"`
		Active   int    `dynamodbav:"active"`
		Capacity int    `dynamodbav:"capacity"`
	}
	if err := attributevalue.UnmarshalListOfMaps(scan("AgentsTable"), &agents); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if a.Active != 0 {
			t.Errorf("agent %s still holds %d conversations (capacity %d) after every one was closed", a.ID, a.Active, a.Capacity)
		}
	}
	var surveys []struct {
		ID     string `dynamodbav:"surveyId"`
		Source string `dynamodbav:"sourceId"`
		Kind   string `dynamodbav:"kind"`
	}
	if err := attributevalue.UnmarshalListOfMaps(scan("SurveysTable"), &surveys); err != nil {
		t.Fatal(err)
	}
	per := map[string]map[string]bool{}
	for _, sv := range surveys {
		if sv.Kind != "conversation" || sv.Source == "" || sv.ID == "" {
			continue
		}
		if per[sv.Source] == nil {
			per[sv.Source] = map[string]bool{}
		}
		per[sv.Source][sv.ID] = true
	}
	for conv, ids := range per {
		if len(ids) > 1 {
			t.Errorf("conversation %s has %d surveys", conv, len(ids))
		}
	}
	q := sqs.NewFromConfig(awsCfg())
	for logical, url := range env.Outputs.Queues {
		if !strings.HasSuffix(logical, "DLQ") && logical != "StreamFailureQueue" {
			continue
		}
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		if n := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; n != "0" {
			t.Errorf("%s holds %s messages", logical, n)
		}
	}
	t.Logf("consistent: %d conversations (%d closed), %d agents, %d conversations surveyed", len(convs), closed, len(agents), len(per))
	if closed == 0 || len(per) == 0 {
		t.Fatal("no conversation was closed or surveyed: the checks proved nothing")
	}
}

func awsCfg() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(env.Outputs.Emulator)}
}
