package templatecheck

import (
	"fmt"
	"github.com/patientservicecenter/psc/localstack/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func functionDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

// TestProjectTemplate holds the project's template to its rules.
func TestProjectTemplate(t *testing.T) {
	root := filepath.Join("..", "..")
	tmpl, err := template.Load(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := functionDirs(t, root)
	if len(dirs) < 3 {
		t.Fatalf("functions/ has %d folders", len(dirs))
	}
	if problems := Check(tmpl, dirs); len(problems) > 0 {
		t.Fatalf("infra/template.yaml:\n  %s", strings.Join(problems, "\n  "))
	}
	g := template.MapOf(tmpl.Globals["Function"])
	if g["Runtime"] != "provided.al2023" || template.ListOf(g["Architectures"])[0] != "arm64" || g["Handler"] != "bootstrap" {
		t.Fatalf("functions must be provided.al2023 arm64 bootstrap: %v", g)
	}
}

const base = `
Resources:
  Key: {Type: AWS::KMS::Key, Properties: {}}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ../bin/fn/, Role: !GetAtt FnRole.Arn}
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}
  FnErrors:
    Type: AWS::CloudWatch::Alarm
    Properties: {MetricName: Errors, Dimensions: [{Name: FunctionName, Value: !Ref Fn}], AlarmActions: [!Ref Topic]}
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref Key}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}
`

// TestCheckCatchesEachProblem proves each rule fails a template that
// breaks it (and passes the clean base).
func TestCheckCatchesEachProblem(t *testing.T) {
	cases := []struct {
		name, yaml string
		dirs       []string
		want       string
	}{
		{"clean", base, []string{"fn"}, ""},
		{"folder without function", base, []string{"fn", "extra"}, "functions/extra has no AWS::Serverless::Function"},
		{"function without folder", base, []string{}, `CodeUri "../bin/fn/" names no folder`},
		{"wildcard action", strings.Replace(base, "Action: dynamodb:GetItem", "Action: dynamodb:*", 1), []string{"fn"}, "wildcard action"},
		{"wildcard resource", strings.Replace(base, "Resource: !GetAtt T.Arn", `Resource: "*"`, 1), []string{"fn"}, "wildcard resource"},
		{"wildcard ARN resource", strings.Replace(base, "Resource: !GetAtt T.Arn", `Resource: !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:*"`, 1), []string{"fn"}, "wildcard resource"},
		{"texts to phone numbers only", strings.Replace(base, "              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}\n",
			"              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}\n              - {Effect: Allow, Action: sns:Publish, Resource: !If [C, \"*\", !Ref T]}\n              - {Effect: Deny, Action: sns:Publish, Resource: !Sub \"arn:${AWS::Partition}:sns:*:*:*\"}\n", 1), []string{"fn"}, ""},
		{"texts without the topics denied", strings.Replace(base, "              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}\n",
			"              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}\n              - {Effect: Allow, Action: sns:Publish, Resource: !If [C, \"*\", !Ref T]}\n", 1), []string{"fn"}, "wildcard resource"},
		{"more than texts on *", strings.Replace(base, "              - {Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}\n",
			"              - {Effect: Allow, Action: [sns:Publish, sns:Subscribe], Resource: \"*\"}\n              - {Effect: Deny, Action: sns:Publish, Resource: !Sub \"arn:${AWS::Partition}:sns:*:*:*\"}\n", 1), []string{"fn"}, "wildcard resource"},
		{"NotResource", strings.Replace(base, "Resource: !GetAtt T.Arn", "NotResource: !GetAtt T.Arn", 1), []string{"fn"}, "NotAction/NotResource"},
		{"unencrypted table", strings.Replace(base, "SSEEnabled: true", "SSEEnabled: false", 1), []string{"fn"}, "not encrypted"},
		{"no PITR", strings.Replace(base, "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", 1), []string{"fn"}, "point-in-time"},
		{"no TTL", strings.Replace(base, "      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}\n", "", 1), []string{"fn"}, "table T has no TTL"},
		{"no TTL, with its reason", strings.Replace(base, "      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}\n", "", 1) + "    Metadata: {psc: {noTTL: staff records}}\n", []string{"fn"}, ""},
		{"stream without consumer", base + "      StreamSpecification: {StreamViewType: NEW_IMAGE}\n", []string{"fn"}, "stream that no function consumes"},
		{"queue without DLQ", base + "  Q: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key}}\n", []string{"fn"}, "no dead-letter queue"},
		{"unencrypted queue", base + "  Q: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 3}}}\n  D: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key}}\n", []string{"fn"}, "queue Q is not encrypted"},
		{"function without an errors alarm", strings.Replace(base, "Value: !Ref Fn}", "Value: !Ref Other}", 1), []string{"fn"}, "function Fn has no alarm on its Errors"},
		{"alarm that notifies no one", strings.Replace(base, ", AlarmActions: [!Ref Topic]", "", 1), []string{"fn"}, "alarm FnErrors notifies no one"},
		{"DLQ without a depth alarm", base + "  Q: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key, RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 3}}}\n  D: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key}}\n", []string{"fn"}, "dead-letter queue D has no alarm"},
		{"DLQ with its depth alarm", base + "  Q: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key, RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 3}}}\n  D: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: !Ref Key}}\n" +
			"  DDepth:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {MetricName: ApproximateNumberOfMessagesVisible, Dimensions: [{Name: QueueName, Value: !GetAtt D.QueueName}], AlarmActions: [!Ref Topic]}\n", []string{"fn"}, ""},
		{"stream consumer without an iterator-age alarm", strings.Replace(base, "Properties: {CodeUri: ../bin/fn/, Role: !GetAtt FnRole.Arn}", "Properties: {CodeUri: ../bin/fn/, Role: !GetAtt FnRole.Arn, Events: {S: {Type: DynamoDB, Properties: {Stream: !GetAtt T.StreamArn}}}}", 1), []string{"fn"}, "has no alarm on its IteratorAge"},
		{"retained table with a fixed name", strings.Replace(base, "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n", "  T:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain\n    Properties:\n      TableName: psc-dev-t\n", 1), []string{"fn"}, "table T is kept when the stack is deleted"},
		{"retained table with a generated name", strings.Replace(base, "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n", "  T:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain\n    Properties:\n", 1), []string{"fn"}, ""},
		{"shared role", base + "  Fn2:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: ../bin/fn2/, Role: !GetAtt FnRole.Arn}\n", []string{"fn", "fn2"}, "share a role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := template.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(Check(tmpl, tc.dirs), "\n")
			if tc.want == "" && problems != "" {
				t.Fatalf("clean template has problems:\n%s", problems)
			}
			if !strings.Contains(problems, tc.want) {
				t.Fatalf("problems %q do not mention %q", problems, tc.want)
			}
		})
	}
}

// TestCheckCatchesTheEventSourceFaults puts back, one at a time, the event
// source faults the project's template once had (issue 15) and shows the
// check fails each.
func TestCheckCatchesTheEventSourceFaults(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := string(b)
	for _, tc := range []struct{ name, old, new, want string }{
		{"stream mapping without a failure destination", "            DestinationConfig:\n              OnFailure: {Type: SQS, Destination: !GetAtt StreamFailureQueue.Arn}\n", "", "needs DestinationConfig.OnFailure"},
		{"stream mapping without bisect", "            BisectBatchOnFunctionError: true\n", "", "BisectBatchOnFunctionError"},
		{"stream mapping without a record age", "            MaximumRecordAgeInSeconds: 21600\n", "", "MaximumRecordAgeInSeconds"},
		{"routing queue without partial batch responses", "            Queue: !GetAtt RoutingQueue.Arn\n            BatchSize: 10\n            FunctionResponseTypes: [ReportBatchItemFailures]\n", "            Queue: !GetAtt RoutingQueue.Arn\n            BatchSize: 10\n", "event Requests: an SQS mapping needs FunctionResponseTypes"},
		{"routing queue visibility twice the timeout", "VisibilityTimeout: 180", "VisibilityTimeout: 60", "queue RoutingQueue: VisibilityTimeout 60 s is under six times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(fixed, tc.old) {
				t.Fatalf("the template no longer has %q: update this test", tc.old)
			}
			tmpl, err := template.Parse([]byte(strings.ReplaceAll(fixed, tc.old, tc.new)))
			if err != nil {
				t.Fatal(err)
			}
			if problems := strings.Join(Check(tmpl, functionDirs(t, root)), "\n"); !strings.Contains(problems, tc.want) {
				t.Fatalf("problems %q do not mention %q", problems, tc.want)
			}
		})
	}
}

// TestProdNeverTrustsKeysFromElsewhere: AgentJwksUrl, for emulators,
// is ignored in prod (issue 16): agent tokens there are checked only
// against the pool's own keys.
func TestProdNeverTrustsKeysFromElsewhere(t *testing.T) {
	tmpl, err := template.Load(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for stage, want := range map[string]bool{"prod": false, "test": true, "dev": true} {
		r := &template.Resolver{T: tmpl, Refs: map[string]string{"Stage": stage, "AgentJwksUrl": "https://keys.elsewhere.example/jwks.json"}}
		got, err := r.Condition("HasAgentJwksUrl")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("stage %s: AgentJwksUrl used %v, want %v", stage, got, want)
		}
	}
}

// TestProdStaffSignInIsSRPOnly (issue 16): in prod the console's app
// client allows only SRP sign-in (and refreshing its tokens); the password
// flow, for the test tools, exists only outside prod.
func TestProdStaffSignInIsSRPOnly(t *testing.T) {
	tmpl, err := template.Load(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for stage, wantPassword := range map[string]bool{"prod": false, "test": true, "dev": true} {
		r := &template.Resolver{T: tmpl, Refs: map[string]string{"Stage": stage}}
		flows, err := r.Resolve(tmpl.Resources["AgentPoolClient"].Properties["ExplicitAuthFlows"])
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(flows)
		if !strings.Contains(got, "ALLOW_USER_SRP_AUTH") || strings.Contains(got, "ALLOW_USER_PASSWORD_AUTH") != wantPassword {
			t.Errorf("stage %s: the console's client allows %s", stage, got)
		}
	}
}

// TestKeysAreScoped (issue 16): every function's grant on the data key
// holds only through the services that keep the data, and the alarm topic
// has a key of its own.
func TestKeysAreScoped(t *testing.T) {
	tmpl, err := template.Load(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	grants := 0
	for _, id := range tmpl.OfType("AWS::IAM::Role") {
		for _, p := range template.ListOf(tmpl.Resources[id].Properties["Policies"]) {
			for _, st := range template.ListOf(template.MapOf(template.MapOf(p)["PolicyDocument"])["Statement"]) {
				m := template.MapOf(st)
				if fmt.Sprint(template.MapOf(m["Resource"])["Fn::GetAtt"]) != "[DataKey Arn]" {
					continue
				}
				grants++
				if template.MapOf(template.MapOf(m["Condition"])["StringEquals"])["kms:ViaService"] == nil {
					t.Errorf("role %s: a grant on the data key without kms:ViaService", id)
				}
			}
		}
	}
	if grants < 10 {
		t.Fatalf("found %d grants on the data key; the test no longer reads the template right", grants)
	}
	if key := fmt.Sprint(template.MapOf(tmpl.Resources["AlarmTopic"].Properties["KmsMasterKeyId"])["Ref"]); key == "DataKey" || key == "" {
		t.Fatalf("the alarm topic is encrypted with %q, want a key of its own", key)
	}
}

// TestTheUnauthenticatedRoutesHaveThrottlesOfTheirOwn (issue 16): no one
// needs an account to connect or to start a conversation, so those two
// routes are throttled tighter than the stage's default.
func TestTheUnauthenticatedRoutesHaveThrottlesOfTheirOwn(t *testing.T) {
	tmpl, err := template.Load(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stage := tmpl.Resources["PatientStage"].Properties
	settings := template.MapOf(stage["RouteSettings"])
	for _, route := range []string{"$connect", "start"} {
		s := template.MapOf(settings[route])
		if s["ThrottlingRateLimit"] == nil || s["ThrottlingBurstLimit"] == nil {
			t.Errorf("route %s has no throttle of its own: %v", route, settings[route])
		}
	}
}
