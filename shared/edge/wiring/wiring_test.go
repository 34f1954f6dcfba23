package wiring

import (
	"strings"
	"testing"
)

// TestEveryMissingVariableIsReportedAtOnce: a function built from an
// environment that lacks several variables names each of them, not only
// the first; with them set, nothing is reported.
func TestEveryMissingVariableIsReportedAtOnce(t *testing.T) {
	for _, name := range []string{"CONVERSATIONS_TABLE", "MESSAGES_TABLE", "AGENTS_TABLE", "PATIENT_WS_ENDPOINT", "ROUTING_QUEUE_URL", "RATE_LIMIT_FRAMES"} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("RATE_LIMIT_FRAMES", "many")
	k := New("test")
	k.Routing()
	k.Patients()
	k.RoutingQueue()
	k.RateLimit()
	err := k.Err()
	if err == nil {
		t.Fatal("no error for an empty environment")
	}
	for _, name := range []string{"CONVERSATIONS_TABLE", "MESSAGES_TABLE", "AGENTS_TABLE", "CONNECTIONS_TABLE", "PATIENT_WS_ENDPOINT", "ROUTING_QUEUE_URL", "RATE_LIMIT_FRAMES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the report does not name %s: %v", name, err)
		}
	}

	for name, v := range map[string]string{"CONVERSATIONS_TABLE": "c", "MESSAGES_TABLE": "m", "AGENTS_TABLE": "a", "CONNECTIONS_TABLE": "k",
		"PATIENT_WS_ENDPOINT": "https://abc.execute-api.us-east-1.amazonaws.com/dev", "ROUTING_QUEUE_URL": "https://sqs/q", "RATE_LIMIT_FRAMES": "30"} {
		t.Setenv(name, v)
	}
	k = New("test")
	k.Routing()
	k.Patients()
	k.RoutingQueue()
	k.RateLimit()
	if err := k.Err(); err != nil {
		t.Fatalf("a complete environment: %v", err)
	}
}

// TestTheSenderIsTheOrganisation: emails are sent in the name of the
// configured organisation (a proper name, encoded for the header when it
// is not ASCII), or of the Patient Service Center when none is.
func TestTheSenderIsTheOrganisation(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("NOTIFY_SENDER", "appointments@example.org")
	for org, want := range map[string]string{
		"":                  `"Patient Service Center" <appointments@example.org>`,
		"Riverside General": `"Riverside General" <appointments@example.org>`,
		"Hospital San José": `=?utf-8?q?Hospital_San_Jos=C3=A9?= <appointments@example.org>`,
	} {
		t.Setenv("ORGANIZATION_NAME", org)
		if got := New("test").Sender(); got != want {
			t.Errorf("ORGANIZATION_NAME %q: the sender is %s, want %s", org, got, want)
		}
	}
}
