package stack

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCallTimesNameAndMeasureTheEmulatorsCalls: a call is named by its
// service and operation, and its percentiles come within 10 % of the
// durations seen.
func TestCallTimesNameAndMeasureTheEmulatorsCalls(t *testing.T) {
	for target, want := range map[string]string{
		"DynamoDB_20120810.GetItem": "dynamodb GetItem", "AmazonSQS.SendMessage": "sqs SendMessage", "secretsmanager.GetSecretValue": "secretsmanager GetSecretValue",
	} {
		if got := callName(target, httptest.NewRequest("POST", "/", nil)); got != want {
			t.Errorf("callName(%q) = %q, want %q", target, got, want)
		}
	}
	if got := callName("", httptest.NewRequest("POST", "/v2/email/outbound-emails", nil)); got != "POST /v2/email/outbound-emails" {
		t.Errorf("an SES v2 send is named %q", got)
	}
	var h histogram
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	got := h.times()
	if got.Count != 100 || got.Max != 100 || got.P50 < 50 || got.P50 > 55 || got.P99 < 99 || got.P99 > 109 {
		t.Fatalf("times of 1..100 ms = %+v", got)
	}
}

// TestABatchReadIsMeteredPerItemAndTable: a BatchGetItem counts each item
// it returns apart, at its own table's consistency, as DynamoDB bills it.
func TestABatchReadIsMeteredPerItemAndTable(t *testing.T) {
	m, err := newMeter("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	req := `{"RequestItems":{"Convs":{"Keys":[{}],"ConsistentRead":true},"Msgs":{"Keys":[{},{}]}}}`
	big := `{"text":{"S":"` + strings.Repeat("x", 5000) + `"}}`
	resp := `{"Responses":{"Convs":[{"id":{"S":"c1"}}],"Msgs":[` + big + `,{"id":{"S":"m2"}}]},"UnprocessedKeys":{}}`
	m.dynamo("BatchGetItem", []byte(req), []byte(resp), 200)
	u := m.u.DynamoDB
	if got := u.ByTable["Convs BatchGetItem"].RRU; got != 1 {
		t.Errorf("a consistent read of one small item: %v read units, want 1", got)
	}
	// 5 KB is two 4 KB units, eventually consistent: 1; the small one 0.5.
	if got := u.ByTable["Msgs BatchGetItem"].RRU; got != 1.5 {
		t.Errorf("two eventually consistent items of 5 KB and a few bytes: %v read units, want 1.5", got)
	}
	if u.RRU != 2.5 || u.Requests["BatchGetItem"] != 1 {
		t.Errorf("totals: %v read units in %d requests, want 2.5 in 1", u.RRU, u.Requests["BatchGetItem"])
	}
}

type answerAll struct{}

func (answerAll) Do(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// TestTheStacksOwnCallsAreTimedApart: a poller's call (the stack's own
// client) is counted by its service and operation, apart from the
// functions' calls.
func TestTheStacksOwnCallsAreTimedApart(t *testing.T) {
	o := &ownCalls{next: answerAll{}, calls: map[string]*histogram{}}
	for range 3 {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-Amz-Target", "DynamoDBStreams_20120810.GetRecords")
		if _, err := o.Do(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := o.times()["dynamodbstreams GetRecords"]; got.Count != 3 {
		t.Fatalf("own calls = %+v, want 3 stream reads", o.times())
	}
}

// TestEachFunctionsCallsAreCountedApart: the meter counts a call under
// the function that made it, and a call from no known function under none.
func TestEachFunctionsCallsAreCountedApart(t *testing.T) {
	emu := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer emu.Close()
	m, err := newMeter(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	m.caller = func(r *http.Request) string { return r.Header.Get("X-Test-Function") }
	for _, c := range []struct{ fn, target string }{
		{"MessageFunction", "AmazonSQS.SendMessage"}, {"MessageFunction", "AmazonSQS.SendMessage"}, {"BotTurnFunction", "AmazonSQS.SendMessage"}, {"", "AmazonSQS.SendMessage"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", c.target)
		r.Header.Set("X-Test-Function", c.fn)
		m.ServeHTTP(httptest.NewRecorder(), r)
	}
	if got := m.byCaller["MessageFunction"]["sqs SendMessage"]; got != 2 {
		t.Errorf("MessageFunction's sends = %d, want 2", got)
	}
	if got := m.byCaller["BotTurnFunction"]["sqs SendMessage"]; got != 1 {
		t.Errorf("BotTurnFunction's sends = %d, want 1", got)
	}
	if len(m.byCaller) != 2 || m.calls["sqs SendMessage"].times().Count != 4 {
		t.Errorf("callers %v, %d calls timed: want two functions and all four calls timed", m.byCaller, m.calls["sqs SendMessage"].times().Count)
	}
}
