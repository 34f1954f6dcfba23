package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestASupervisorMonitorsWhispersAndBargesIn (issue 19): an agent holds a
// conversation. A supervisor monitors it — refused without a reason, then
// with one: audited, the patient view at once, and every message after,
// both ways, live. The whisper reaches the agent and never the patient
// (neither pushed nor in the history). Barging in, the patient is told a
// supervisor joined, and the supervisor's message reaches the patient and
// the agent under the supervisor's name. After unmonitor nothing more
// comes. An agent cannot monitor.
func TestASupervisorMonitorsWhispersAndBargesIn(t *testing.T) {
	run := time.Now().UnixNano()
	supName := fmt.Sprintf("mon%d", run)
	sup := supervisorConsole(t, supName)
	agent, _ := poolAgent(t, fmt.Sprintf("held%d", run), "billing", "en", 2)
	patient, conv := escalate(t, "Mona")
	agent.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := agent.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept: %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })

	if f := sup.Request(map[string]any{"action": "monitor", "conversationId": conv}); f["code"] != "bad_request" {
		t.Fatalf("monitoring without a reason: %v, want bad_request", f)
	}
	if f := agent.Request(map[string]any{"action": "monitor", "conversationId": conv, "reason": "quality review of billing"}); f["code"] != "forbidden" {
		t.Fatalf("an agent monitoring: %v, want forbidden", f)
	}
	reads := auditEntries(t, conv, "")
	view := sup.Request(map[string]any{"action": "monitor", "conversationId": conv, "reason": "quality review of billing"})
	if view["type"] != "context" || view["conversationId"] != conv {
		t.Fatalf("monitor answered %v, want the patient view", view)
	}
	if ok, _ := sup.Wait(func(f map[string]any) bool { return f["type"] == "supervising" && f["action"] == "monitor" }); ok == nil {
		t.Fatal("no monitoring confirmation")
	}
	if n := auditEntries(t, conv, ""); n != reads+1 {
		t.Fatalf("audit entries %d → %d, want the monitor's read recorded", reads, n)
	}

	// Live, both ways.
	send(t, patient, conv, "m-1", "Is the refund on its way?")
	if f, _ := sup.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["text"] == "Is the refund on its way?" }); f["conversationId"] != conv {
		t.Fatalf("the monitor heard %v", f)
	}
	if f := agent.Request(map[string]any{"action": "send", "conversationId": conv, "clientMessageId": "a-1", "text": "Let me check."}); f["type"] != "ack" {
		t.Fatalf("agent send: %v", f)
	}
	sup.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["text"] == "Let me check." })

	// The whisper: the agent, not the patient.
	const whisper = "Offer the payment plan"
	if f := sup.Request(map[string]any{"action": "whisper", "conversationId": conv, "text": whisper}); f["type"] != "supervising" {
		t.Fatalf("whisper answered %v", f)
	}
	if f, _ := agent.Wait(func(f map[string]any) bool { return f["type"] == "whisper" && f["text"] == whisper }); f["conversationId"] != conv {
		t.Fatalf("the agent's whisper %v", f)
	} else if from := f["from"].(map[string]any); from["name"] != supName {
		t.Fatalf("the whisper is from %v, want %s", from, supName)
	}

	// Barge in: the patient is told, then reads the supervisor.
	if f := sup.Request(map[string]any{"action": "barge", "conversationId": conv}); f["type"] != "supervising" && f["type"] != "message" {
		t.Fatalf("barge answered %v", f)
	}
	joined, skipped := patient.Wait(func(f map[string]any) bool {
		return f["type"] == "message" && strings.Contains(fmt.Sprint(f["text"]), "a supervisor, has joined")
	})
	if !strings.Contains(fmt.Sprint(joined["text"]), supName) {
		t.Fatalf("the patient was told %v", joined["text"])
	}
	for _, f := range append(skipped, joined) {
		if strings.Contains(fmt.Sprint(f), whisper) {
			t.Fatalf("the patient received the whisper: %v", f)
		}
	}
	if f := sup.Request(map[string]any{"action": "send", "conversationId": conv, "clientMessageId": "s-1", "text": "I can approve the plan today."}); f["type"] != "ack" {
		t.Fatalf("the supervisor's send: %v", f)
	}
	said, _ := patient.Wait(func(f map[string]any) bool {
		return f["type"] == "message" && f["text"] == "I can approve the plan today."
	})
	if from := said["from"].(map[string]any); from["name"] != supName || from["role"] != "agent" {
		t.Fatalf("the patient read the supervisor as %v", from)
	}
	agent.Wait(func(f map[string]any) bool {
		return f["type"] == "message" && f["text"] == "I can approve the plan today."
	})
	if _, texts, _ := history(t, patient, "", ""); strings.Contains(strings.Join(texts, "|"), whisper) {
		t.Fatalf("the whisper is in the patient's history: %v", texts)
	}

	// Stop: nothing more comes to the supervisor.
	if f := sup.Request(map[string]any{"action": "unmonitor", "conversationId": conv}); f["type"] != "supervising" {
		t.Fatalf("unmonitor answered %v", f)
	}
	if f := sup.Request(map[string]any{"action": "whisper", "conversationId": conv, "text": "one more"}); f["code"] != "conflict" {
		t.Fatalf("a whisper after unmonitor: %v, want conflict", f)
	}
	send(t, patient, conv, "m-2", "Thanks, goodbye")
	agent.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["text"] == "Thanks, goodbye" })
	// The floor's answer comes after the patient's message was pushed to
	// the agent (and, were the supervisor still watching, to them by the
	// same invocation, just after): nothing of it reaches the supervisor.
	sup.Send(map[string]any{"action": "floor", "requestId": "after"})
	_, seen := sup.Wait(func(f map[string]any) bool { return f["type"] == "floor" && f["requestId"] == "after" })
	for _, f := range seen {
		if f["text"] == "Thanks, goodbye" {
			t.Fatal("the supervisor still hears the conversation after unmonitor")
		}
	}
}
