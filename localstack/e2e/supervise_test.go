package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/localstack/stacktest"
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

// TestTheRosterIsPushedToSupervisors (issue 19): an agent going away
// reaches a signed-in supervisor's console unasked, from the agents
// stream: an agents frame with changes true, the agent away.
func TestTheRosterIsPushedToSupervisors(t *testing.T) {
	run := time.Now().UnixNano()
	sup := supervisorConsole(t, fmt.Sprintf("ros%d", run))
	name := fmt.Sprintf("away%d", run)
	agent, _ := poolAgent(t, name, "general", "en", 2)
	setPresence(t, agent, "away")
	f, _ := sup.Wait(func(f map[string]any) bool {
		if f["type"] != "agents" || f["changes"] != true {
			return false
		}
		for _, a := range f["agents"].([]any) {
			if a := a.(map[string]any); a["name"] == name && a["presence"] == "away" {
				return true
			}
		}
		return false
	})
	if f == nil {
		t.Fatal("no roster change pushed")
	}
}

// TestASupervisorReassignsAHeldConversation (issue 19): a supervisor
// moves a conversation from the agent who holds it to another: the other
// agent is offered it with the supervisor's name as who handed it on, the
// first agent's console sees it leave and their capacity is free, and the
// patient is told. An agent cannot move another's conversation.
func TestASupervisorReassignsAHeldConversation(t *testing.T) {
	run := time.Now().UnixNano()
	supName := fmt.Sprintf("rea%d", run)
	sup := supervisorConsole(t, supName)
	first, firstID := poolAgent(t, fmt.Sprintf("first%d", run), "billing", "en", 1)
	patient, conv := escalate(t, "Rhea")
	first.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := first.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept: %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	second, secondID := poolAgent(t, fmt.Sprintf("second%d", run), "general", "en", 2)
	if f := second.Request(map[string]any{"action": "transfer", "conversationId": conv, "agentId": secondID, "reason": "mine now"}); f["code"] != "forbidden" {
		t.Fatalf("an agent moving another's conversation: %v, want forbidden", f)
	}
	if f := sup.Request(map[string]any{"action": "transfer", "conversationId": conv, "agentId": secondID, "reason": "needs a general agent"}); f["type"] != "status" || f["state"] != "waiting" {
		t.Fatalf("reassign answered %v", f)
	}
	offer, _ := second.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if tr, _ := offer["transfer"].(map[string]any); tr == nil || !strings.Contains(fmt.Sprint(tr["by"]), supName) || tr["reason"] != "needs a general agent" {
		t.Fatalf("the offer's transfer %v, want it by the supervisor with the reason", offer["transfer"])
	}
	if f, _ := first.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["conversationId"] == conv }); f["state"] != "waiting" {
		t.Fatalf("the first agent's console saw %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	if f := second.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("the second agent accepting: %v", f)
	}
	if n := activeOf(t, firstID); n != 0 {
		t.Fatalf("the first agent still counts %d conversations", n)
	}
}

// TestTheFiguresCountWhatHappened (issue 19): from the conversations
// stream the KPIs count each change once — a conversation an agent took
// and closed is handled by them, with its wait and handle time (within a
// second of the stored times); one its patient left while waiting is
// abandoned; one the bot kept to the end is contained. A supervisor reads
// them with kpis; an agent cannot.
func TestTheFiguresCountWhatHappened(t *testing.T) {
	run := time.Now().UnixNano()
	sup := supervisorConsole(t, fmt.Sprintf("kpi%d", run))
	agent, agentID := poolAgent(t, fmt.Sprintf("kag%d", run), "billing", "en", 1)
	_, conv := escalate(t, "Kira")
	agent.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := agent.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept: %v", f)
	}
	if f := agent.Request(map[string]any{"action": "close", "conversationId": conv, "disposition": "resolved"}); f["type"] != "status" {
		t.Fatalf("close: %v", f)
	}
	stored := conversationItem(t, conv)
	var row map[string]any
	stacktest.Eventually(t, 20*time.Second, "the agent's figures", func() bool {
		f := sup.Request(map[string]any{"action": "kpis", "by": "agent", "days": 1})
		for _, r := range f["rows"].([]any) {
			if r := r.(map[string]any); r["key"] == agentID && r["handled"] == 1.0 && r["averageHandleSeconds"].(float64) > 0 {
				row = r
				return true
			}
		}
		return false
	})
	assigned, err1 := time.Parse(time.RFC3339Nano, stored.AssignedAt)
	handedOff, err2 := time.Parse(time.RFC3339Nano, stored.Handoff.At)
	if err1 != nil || err2 != nil {
		t.Fatalf("stored times %q %q: %v %v", stored.AssignedAt, stored.Handoff.At, err1, err2)
	}
	wantWait := assigned.Sub(handedOff).Seconds()
	if got := row["averageWaitSeconds"].(float64); got < wantWait-1 || got > wantWait+1 {
		t.Fatalf("the figures' wait %.2f s, the stored one %.2f s", got, wantWait)
	}
	if f := agent.Request(map[string]any{"action": "kpis"}); f["code"] != "forbidden" {
		t.Fatalf("an agent reading the figures: %v, want forbidden", f)
	}

	// Left while waiting: the only billing agent is busy now.
	setPresence(t, agent, "busy")
	patient, left := escalate(t, "Lena")
	if f := patient.Request(map[string]any{"action": "end", "conversationId": left}); f["type"] != "status" {
		t.Fatalf("end: %v", f)
	}
	// Kept by the bot to the end.
	p := startWithBot(t, "Bo")
	if f := p.c.Request(map[string]any{"action": "end", "conversationId": p.conversationID}); f["type"] != "status" {
		t.Fatalf("end with the bot: %v", f)
	}
	for conv, kind := range map[string]string{left: "abandoned", p.conversationID: "contained"} {
		stacktest.Eventually(t, 20*time.Second, kind+" counted", func() bool { return kpiMarkers(t, conv, kind) == 1 })
	}
}

// kpiMarkers counts a conversation's counted events of a kind (the KPI
// table's markers: one per event, whatever the stream redelivers).
func kpiMarkers(t *testing.T, conv, kind string) int {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awsCfg()).Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(env.Outputs.Tables["KpiTable"]),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :kind)"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "event#" + conv},
			":kind": &types.AttributeValueMemberS{Value: kind + "#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}
