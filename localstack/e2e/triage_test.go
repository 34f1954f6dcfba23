package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/localstack/stacktest"
)

// TestEmergencyWithoutAKeywordEscalatesAtOnce: chest discomfort told by
// what it feels like and where it goes, with no listed phrase, gets the
// emergency guidance first and an urgent escalation in the first reply.
func TestEmergencyWithoutAKeywordEscalatesAtOnce(t *testing.T) {
	p := startWithBot(t, "Ray")
	sayEmergency(t, p, "k-1", "feels like a band squeezing around my chest and its going into my jaw, im all sweaty")
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	if c := conversationItem(t, p.conversationID); c.Handoff.Priority != "urgent" || c.Handoff.Reason != "red_flag" || !strings.Contains(fmt.Sprint(c.Handoff.RedFlags), "chest_pain") {
		t.Fatalf("stored conversation = %+v", c)
	}
}

// TestComplaintGetsItsEmergencyQuestionsAndAYesEscalates: a head injury
// with no danger sign named gets the 911 line and the head-injury
// questions as yes/no quick replies, not an escalation; "Yes" escalates
// urgently.
func TestComplaintGetsItsEmergencyQuestionsAndAYesEscalates(t *testing.T) {
	p := startWithBot(t, "Eli")
	send(t, p.c, p.conversationID, "q-1", "my son fell off his bike and hit his head this morning")
	reply := botReply(t, p.c)
	text, quick := reply["text"].(string), fmt.Sprint(reply["quickReplies"])
	if !strings.HasPrefix(text, "After a head injury") || !strings.Contains(text, "911") || !strings.Contains(text, "vomiting") || quick != "[Yes No]" {
		t.Fatalf("reply to a head injury = %q %s", text, quick)
	}
	if c := conversationItem(t, p.conversationID); c.State != "bot" {
		t.Fatalf("the conversation is %s after the questions, want still with the bot", c.State)
	}
	send(t, p.c, p.conversationID, "q-2", "Yes")
	reply = botReply(t, p.c)
	if !strings.HasPrefix(reply["text"].(string), "Call 911 now") {
		t.Fatalf("reply to yes = %q", reply["text"])
	}
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	if c := conversationItem(t, p.conversationID); c.Handoff.Priority != "urgent" || fmt.Sprint(c.Handoff.RedFlags) != "[head_injury_danger]" {
		t.Fatalf("stored conversation = %+v", c)
	}
}

// TestPastEventAsksWhetherItIsHappeningNow: a heart attack years ago gets
// "is this happening now?", not 911 guidance and an escalation; "No"
// goes back to helping.
func TestPastEventAsksWhetherItIsHappeningNow(t *testing.T) {
	p := startWithBot(t, "Ida")
	send(t, p.c, p.conversationID, "n-1", "I had a heart attack 3 years ago and need a follow-up with cardiology")
	reply := botReply(t, p.c)
	if !strings.HasPrefix(reply["text"].(string), "Is this happening now") || fmt.Sprint(reply["quickReplies"]) != "[Yes No]" {
		t.Fatalf("reply to a past event = %v", reply)
	}
	send(t, p.c, p.conversationID, "n-2", "No")
	if reply := botReply(t, p.c); !strings.Contains(reply["text"].(string), "How can I help") {
		t.Fatalf("reply to no = %v", reply)
	}
	if c := conversationItem(t, p.conversationID); c.State != "bot" || c.Handoff.Priority != "" {
		t.Fatalf("stored conversation = %+v, want still with the bot", c)
	}
}

// TestRedFlagAfterTheHandoffAlertsTheAgentAndSupervisors: while an agent
// holds the conversation the patient reports a red flag; the patient gets
// the emergency guidance at once, and the agent's console and a
// supervisor's get an urgent alert.
func TestRedFlagAfterTheHandoffAlertsTheAgentAndSupervisors(t *testing.T) {
	run := time.Now().UnixNano()
	sup := supervisorConsole(t, fmt.Sprintf("rfs%d", run))
	console, _ := poolAgent(t, fmt.Sprintf("rf%d", run), "billing", "en", 10)
	patient, conv := escalate(t, "Ola")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })

	send(t, patient, conv, "rf-1", "sorry one sec, my wife says half her face looks droopy and she cant lift her arm")
	guidance, _ := patient.Wait(func(f map[string]any) bool {
		from, _ := f["from"].(map[string]any)
		return f["type"] == "message" && from["role"] == "system"
	})
	if !strings.HasPrefix(guidance["text"].(string), "Call 911 now") {
		t.Fatalf("the patient's guidance = %v", guidance)
	}
	// The agent sees the guidance the patient was given, then the alert;
	// a supervisor gets the alert.
	console.Wait(func(f map[string]any) bool {
		from, _ := f["from"].(map[string]any)
		return f["type"] == "message" && f["conversationId"] == conv && from["role"] == "system"
	})
	for who, c := range map[string]*stacktest.Client{"agent": console, "supervisor": sup} {
		alert, _ := c.Wait(func(f map[string]any) bool { return f["type"] == "alert" && f["conversationId"] == conv })
		if alert["priority"] != "urgent" || fmt.Sprint(alert["redFlags"]) != "[stroke]" || !strings.Contains(alert["summary"].(string), "Stroke") {
			t.Fatalf("the %s's alert = %v", who, alert)
		}
	}
}
