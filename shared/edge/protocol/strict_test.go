package protocol

import (
	"testing"

	"github.com/patientservicecenter/psc/shared/fault"
)

// TestFramesAreDecodedStrictly: what encoding/json would let through and
// the route would not have chosen (issue 16).
func TestFramesAreDecodedStrictly(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       fault.Code
	}{
		{"a case variant of action runs nothing", `{"action":"survey","ACTION":"start","name":"Ana"}`, fault.BadRequest},
		{"a case variant alone", `{"Action":"start","name":"Ana"}`, fault.BadRequest},
		{"a case variant of another field", `{"action":"start","NAME":"Ana"}`, fault.BadRequest},
		{"a duplicate key", `{"action":"start","name":"Ana","name":"Bob"}`, fault.BadRequest},
		{"a duplicate action", `{"action":"start","action":"end","name":"Ana"}`, fault.BadRequest},
		{"a second value after the object", `{"action":"start","name":"Ana"} {"action":"end"}`, fault.BadRequest},
		{"an unknown key is ignored", `{"action":"start","name":"Ana","theme":"dark"}`, ""},
		{"a control character in a name", "{\"action\":\"start\",\"name\":\"An\\u0007a\"}", fault.BadRequest},
		{"a line break in a name", `{"action":"start","name":"Ana\nBob"}`, fault.BadRequest},
		{"a right-to-left override in a name", "{\"action\":\"start\",\"name\":\"Ana\u202e\"}", fault.BadRequest},
		{"an isolate in a topic", "{\"action\":\"start\",\"name\":\"Ana\",\"topic\":\"bill\u2066ing\"}", fault.BadRequest},
		{"an escape in a message", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"hi\u001b[31m"}`, fault.BadRequest},
		{"an override in a message", "{\"action\":\"send\",\"conversationId\":\"c\",\"clientMessageId\":\"u\",\"text\":\"pay \u202egnp.exe\"}", fault.BadRequest},
		{"lines and tabs in a message are fine", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"line one\nline\ttwo"}`, ""},
		{"right-to-left text itself is fine", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"مرحبا"}`, ""},
		{"a control character in a survey comment", `{"action":"survey","surveyId":"sv0123456789abcdef01234567","score":3,"comment":"ok\u0000"}`, fault.BadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePatient([]byte(tc.body))
			if got := fault.CodeOf(err); got != tc.code {
				t.Fatalf("%s: code %q (%v), want %q", tc.body, got, err, tc.code)
			}
		})
	}
	if _, err := DecodeAgent([]byte(`{"action":"context","conversationId":"c","reason":"qa\u202ereview"}`)); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("an override in a supervisor's reason: %v", err)
	}
	if _, err := DecodeAgent([]byte(`{"action":"accept","Action":"close","conversationId":"c"}`)); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("a case variant in an agent frame: %v", err)
	}
}

func TestCheckRoute(t *testing.T) {
	for _, tc := range []struct {
		route, action string
		ok            bool
	}{
		{"start", "start", true},
		{"$default", "dance", true},
		{"$default", "", true},
		{"survey", "start", false},
		{"accept", "close", false},
	} {
		if err := CheckRoute(tc.route, tc.action); (err == nil) != tc.ok {
			t.Errorf("route %q action %q: %v, want ok %v", tc.route, tc.action, err, tc.ok)
		}
	}
}

func TestOnlyKnownActionsAreLogged(t *testing.T) {
	for in, want := range map[string]string{"send": "send", "closeTask": "closeTask", "": "", "Ana Ruiz 1961-04-02": "unknown", "SEND": "unknown"} {
		if got := Loggable(in); got != want {
			t.Errorf("Loggable(%q) = %q, want %q", in, got, want)
		}
	}
}
