package chaos

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheSameSeedFailsTheSameCalls(t *testing.T) {
	plan := &Plan{Seed: 42, Faults: []Fault{{Kind: Throttle, Service: DynamoDB, Rate: 0.1}}}
	pattern := func(p *Plan) string {
		in := New(p)
		var b strings.Builder
		for range 500 {
			if in.Decide(Call{Service: DynamoDB, Op: "PutItem"}) != "" {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	first := pattern(plan)
	if again := pattern(plan); again != first {
		t.Fatal("the same seed failed other calls")
	}
	other := *plan
	other.Seed = 43
	if pattern(&other) == first {
		t.Fatal("another seed failed the same calls")
	}
}

func TestTheRateIsMet(t *testing.T) {
	in := New(&Plan{Seed: 7, Faults: []Fault{{Kind: KillBefore, Service: SQS, Function: "BotTurnFunction", Rate: 0.05}}})
	const n = 20000
	hits := 0
	for range n {
		if in.Decide(Call{Service: SQS, Op: "SendMessage", Function: "BotTurnFunction"}) == KillBefore {
			hits++
		}
		if in.Decide(Call{Service: SQS, Op: "SendMessage", Function: "MessageFunction"}) != "" {
			t.Fatal("a fault narrowed to one function hit another")
		}
		if in.Decide(Call{Service: DynamoDB, Op: "PutItem", Function: "BotTurnFunction"}) != "" {
			t.Fatal("a fault of SQS hit DynamoDB")
		}
	}
	if got := float64(hits) / n; math.Abs(got-0.05) > 0.01 {
		t.Fatalf("rate %.4f, want about 0.05", got)
	}
	if h := in.Hits(); len(h) != 1 || h[0].Count != int64(hits) || h[0].What != "kill-before sqs SendMessage BotTurnFunction" {
		t.Fatalf("hits = %v", h)
	}
}

func TestANilInjectorInjectsNothing(t *testing.T) {
	var in *Injector
	if in.Decide(Call{Service: DynamoDB}) != "" || in.Hits() != nil || in.Schedule() != nil {
		t.Fatal("a nil injector injected")
	}
	if New(&Plan{Seed: 1}) != nil {
		t.Fatal("a plan without faults gave an injector")
	}
}

func TestLoadRefusesPlansThatCannotWork(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ plan, want string }{
		"unknown kind":      {`{"seed":1,"faults":[{"kind":"explode","service":"sqs","rate":0.1}]}`, "unknown kind"},
		"no rate":           {`{"seed":1,"faults":[{"kind":"throttle","service":"sqs"}]}`, "rate"},
		"drop on dynamodb":  {`{"seed":1,"faults":[{"kind":"drop","service":"dynamodb","rate":0.1}]}`, "drop applies"},
		"pause without for": {`{"seed":1,"faults":[{"kind":"pause","service":"pollers","at":"5s"}]}`, "needs \"for\""},
		"unknown field":     {`{"seed":1,"faults":[{"kind":"throttle","service":"sqs","rate":0.1,"ratio":2}]}`, "unknown field"},
		"per on a throttle": {`{"seed":1,"faults":[{"kind":"throttle","service":"sqs","rate":0.1,"per":"invocation"}]}`, "per invocation applies"},
		"bad duration":      {`{"seed":1,"faults":[{"kind":"restart","service":"pollers","at":"soon"}]}`, "duration"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tc.plan), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error about %q", err, tc.want)
			}
		})
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"seed":9,"faults":[{"kind":"kill-after","service":"dynamodb","op":"TransactWriteItems","rate":0.05},
		{"kind":"restart","service":"pollers","at":"20s"},{"kind":"pause","service":"pollers","function":"RoutingFunction","at":"5s","for":"10s"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if s := New(p).Schedule(); len(s) != 2 || s[1].For.Duration.Seconds() != 10 {
		t.Fatalf("schedule = %+v", s)
	}
}

// TestPerInvocationRulesFailThatShareOfInvocations: a rule "per
// invocation" fails about its rate of the function's invocations, each at
// most once, whatever the number of calls each makes.
func TestPerInvocationRulesFailThatShareOfInvocations(t *testing.T) {
	in := New(&Plan{Seed: 3, Faults: []Fault{{Kind: KillBefore, Service: DynamoDB, Function: "BotTurnFunction", Rate: 0.05, Per: "invocation", Within: 3}}})
	const invocations = 4000
	killed := 0
	for i := range invocations {
		calls := 1 + i%40 // small and large batches alike
		hits := 0
		for range calls {
			if in.Decide(Call{Service: DynamoDB, Op: "GetItem", Function: "BotTurnFunction", Invocation: fmt.Sprint("trace-", i)}) != "" {
				hits++
			}
		}
		if hits > 1 {
			t.Fatalf("invocation %d met the fault %d times", i, hits)
		}
		killed += hits
	}
	// Invocations of one call are spared when the draw says call 2 or 3,
	// so the share is a little under the rate.
	if got := float64(killed) / invocations; got < 0.035 || got > 0.06 {
		t.Fatalf("%.4f of invocations failed, want about 0.05", got)
	}
	if in.Decide(Call{Service: DynamoDB, Op: "GetItem", Function: "BotTurnFunction"}) != "" {
		t.Fatal("a call of no known invocation met a per-invocation fault")
	}
}
