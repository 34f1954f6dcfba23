package stack

import (
	"net/http/httptest"
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
