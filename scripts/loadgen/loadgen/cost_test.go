package loadgen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/patientservicecenter/psc/localstack/stack"
)

func TestCostModel(t *testing.T) {
	p, err := LoadPrices()
	if err != nil {
		t.Fatal(err)
	}
	var before, after Usage
	after.Lambda = map[string]FunctionUsage{"MessageFunction": {Invocations: 1000, BilledMs: 1024 * 1000, MemoryMB: 1024, ColdStarts: 2, InitMs: 60}}
	after.DynamoDB.WRU, after.DynamoDB.RRU = 1e6, 2e6
	after.DynamoDB.ByTable = map[string]stack.Units{"Messages TransactWriteItems": {WRU: 6000}, "Conversations GetItem": {RRU: 1000}}
	after.SQS.Requests = map[string]int64{"SendMessage": 1e6}
	after.SES.Emails = 10
	lines := Cost(before, after, p)
	want := map[string]float64{"Lambda requests": 0.0002, "Lambda compute (arm64)": 1024 * 0.0000133334, "DynamoDB writes": 0.625, "DynamoDB reads": 0.25,
		"SQS requests": 0.5, "SES emails": 0.001}
	for _, l := range lines {
		if w, ok := want[l.Item]; ok && (l.USD < w*0.999 || l.USD > w*1.001) {
			t.Errorf("%s = $%f, want $%f", l.Item, l.USD, w)
		}
	}
	var out bytes.Buffer
	PrintCost(&out, lines, 100, 1000, p)
	PrintStarts(&out, before, after)
	PrintDynamo(&out, before, after, 100, p)
	if !strings.Contains(out.String(), "| Messages TransactWriteItems | 60000 | 0 | 0.0375 |\n| Conversations GetItem | 0 | 10000 | 0.0013 |") {
		t.Fatalf("dynamo table:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "| MessageFunction | 1000 | 2 | 30 ms |") {
		t.Fatalf("starts table:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Amazon Connect chat for the same messages (10000 per 1,000 conversations at $0.004 each): $40.00") {
		t.Fatalf("cost table:\n%s", out.String())
	}
}

// TestCallsByFunctionAreTheRunsBusiestFirst: each function's calls during
// the run (after less before), per invocation, busiest first.
func TestCallsByFunctionAreTheRunsBusiestFirst(t *testing.T) {
	before := Usage{
		Lambda:          map[string]FunctionUsage{"MessageFunction": {Invocations: 10}},
		CallsByFunction: map[string]map[string]int64{"MessageFunction": {"dynamodb Query": 5}},
	}
	after := Usage{
		Lambda: map[string]FunctionUsage{"MessageFunction": {Invocations: 20}, "BotTurnFunction": {Invocations: 4}},
		CallsByFunction: map[string]map[string]int64{
			"MessageFunction": {"dynamodb Query": 25, "sqs SendMessage": 10},
			"BotTurnFunction": {"dynamodb BatchGetItem": 4},
		},
	}
	var out bytes.Buffer
	printByFunction(&out, before, after)
	got := out.String()
	msg := strings.Index(got, "| MessageFunction | 30 | 3.0 | dynamodb Query 20, sqs SendMessage 10 |")
	bot := strings.Index(got, "| BotTurnFunction | 4 | 1.0 | dynamodb BatchGetItem 4 |")
	if msg < 0 || bot < 0 || bot < msg {
		t.Fatalf("table:\n%s", got)
	}
}
