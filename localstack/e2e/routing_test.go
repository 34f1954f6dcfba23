package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/kpi"
)

// poolAgent creates an agent in the pool, signs them in,
// opens a console and makes them available. It returns the console and
// the agent's id (the token's subject).
func poolAgent(t *testing.T, username, skills, languages string, capacity int) (*stacktest.Client, string) {
	t.Helper()
	const password = "Test-Agent-9!"
	createPoolUser(t, username, password, username, skills, languages, capacity)
	token := signIn(t, username, password)
	c := stacktest.Dial(t, agentURL(token))
	if f := c.Request(map[string]any{"action": "presence", "status": "available"}); f["type"] != "presence" {
		t.Fatalf("%s going available: %v", username, f)
	}
	sub, _ := claimsOf(t, token)["sub"].(string)
	return c, sub
}

// createPoolUser creates an agent in the pool, as an admin would.
func createPoolUser(t *testing.T, username, password, name, skills, languages string, capacity int) {
	t.Helper()
	createPoolUserIn(t, "agent", username, password, name, skills, languages, capacity)
}

// createPoolUserIn creates a user of the pool in a group.
func createPoolUserIn(t *testing.T, group, username, password, name, skills, languages string, capacity int) {
	t.Helper()
	ctx := context.Background()
	idp := cip.NewFromConfig(awsCfg())
	pool := env.Outputs.AgentPool.ID
	attrs := []ciptypes.AttributeType{
		{Name: aws.String("name"), Value: aws.String(name)},
		{Name: aws.String("custom:display_name"), Value: aws.String(name)},
		{Name: aws.String("custom:skills"), Value: aws.String(skills)},
		{Name: aws.String("custom:languages"), Value: aws.String(languages)},
		{Name: aws.String("custom:capacity"), Value: aws.String(fmt.Sprint(capacity))},
	}
	// A temporary password, as docs/operations.md tells admins: the first
	// sign-in changes it and sets up the authenticator.
	if _, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pool, Username: &username, UserAttributes: attrs,
		MessageAction: ciptypes.MessageActionTypeSuppress, TemporaryPassword: aws.String(password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pool, Username: &username, GroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
}

type offeredConversation struct {
	State          string `dynamodbav:"state"`
	OfferAgent     string `dynamodbav:"offerAgent"`
	OverflowedFrom string `dynamodbav:"overflowedFrom"`
}

func offeredItem(t *testing.T, id string) offeredConversation {
	t.Helper()
	c, _ := storedItem[offeredConversation](t, "ConversationsTable", "conversationId", id)
	return c
}

// TestEscalatedPatientIsOfferedToTheAgentWithTheLanguage: two agents serve
// the general queue, one in Spanish only, one in English only. A patient
// chatting in Spanish asks for a person: they hear they are waiting (with
// their place in the queue), and the Spanish-speaking agent's console gets
// the offer with the bot's summary; the conversation is offered to them
// and nobody else.
func TestEscalatedPatientIsOfferedToTheAgentWithTheLanguage(t *testing.T) {
	run := time.Now().UnixNano()
	esConsole, esAgent := poolAgent(t, fmt.Sprintf("es%d", run), "general", "es", 10)
	_, enAgent := poolAgent(t, fmt.Sprintf("en%d", run), "general", "en", 10)

	c := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	f := c.Request(map[string]any{"action": "start", "name": "Lucía", "topic": "una pregunta", "locale": "es"})
	if f["type"] != "session" {
		t.Fatalf("start answered %v", f)
	}
	conv := f["conversationId"].(string)
	if g := botReply(t, c); g["text"] == "" {
		t.Fatalf("greeting = %v", g)
	}
	send(t, c, conv, "es-1", "quiero hablar con una persona")
	st, _ := c.Wait(func(f map[string]any) bool {
		return f["type"] == "status" && f["state"] == "waiting" && f["queuePosition"] != nil
	})
	if pos, _ := st["queuePosition"].(float64); pos < 1 {
		t.Fatalf("waiting status = %v, want a queue position", st)
	}

	offer, _ := esConsole.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if offer["queue"] != "general" || offer["priority"] != "normal" || offer["language"] != "es" || offer["summary"] == "" || offer["expiresAt"] == "" {
		t.Fatalf("offer = %v", offer)
	}
	if got := offeredItem(t, conv); got.State != "offered" || got.OfferAgent != esAgent || got.OfferAgent == enAgent {
		t.Fatalf("stored conversation = %+v, want offered to %s", got, esAgent)
	}
}

// escalate starts an English conversation with a billing dispute, which
// only a person handles (the billing queue, which no other test uses);
// it returns the patient's connection and the conversation id.
func escalate(t *testing.T, name string) (*stacktest.Client, string) {
	t.Helper()
	p := startWithBot(t, name)
	send(t, p.c, p.conversationID, "h-1", "I was charged twice for my visit")
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	return p.c, p.conversationID
}

// TestAgentAcceptsChatsAndCloses: a patient asks for a person; the agent
// who serves the queue gets the offer, accepts; the patient sees the
// agent's name; messages flow both ways in order; another agent cannot
// write into it; the agent closes with a disposition, the patient sees
// the conversation closed, and the agent's capacity is free again.
func TestAgentAcceptsChatsAndCloses(t *testing.T) {
	run := time.Now().UnixNano()
	console, agentID := poolAgent(t, fmt.Sprintf("acc%d", run), "billing", "en", 10)
	other, _ := poolAgent(t, fmt.Sprintf("oth%d", run), "callback", "en", 1)

	patient, conv := escalate(t, "Maya")
	offer, _ := console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if offer["queue"] != "billing" {
		t.Fatalf("offer = %v", offer)
	}
	// Someone else's offer cannot be taken.
	if f := other.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "error" || f["code"] != "conflict" {
		t.Fatalf("another agent accepting: %v", f)
	}
	assigned := console.Request(map[string]any{"action": "accept", "conversationId": conv})
	if assigned["type"] != "assigned" || assigned["conversationId"] != conv || assigned["patient"].(map[string]any)["name"] != "Maya" {
		t.Fatalf("accept answered %v", assigned)
	}
	st, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st["at"])); err != nil || time.Since(at) > time.Minute {
		t.Fatalf("the assigned status says when it was taken as %v (%v): clients order status frames by it", st["at"], err)
	}
	if st["agent"].(map[string]any)["name"] != fmt.Sprintf("acc%d", run) {
		t.Fatalf("the patient's status = %v", st)
	}

	// The patient view: the bot transcript and the handoff, an audited read.
	ctxFrame := console.Request(map[string]any{"action": "context", "conversationId": conv})
	if ctxFrame["type"] != "context" || ctxFrame["patient"].(map[string]any)["name"] != "Maya" {
		t.Fatalf("context answered %v", ctxFrame)
	}
	if h := ctxFrame["handoff"].(map[string]any); h["queue"] != "billing" || h["reason"] != "agent_only_topic" {
		t.Fatalf("context handoff = %v", h)
	}
	if tr := ctxFrame["transcript"].([]any); len(tr) < 3 {
		t.Fatalf("context transcript has %d messages, want the greeting, the dispute and the bot's answer", len(tr))
	}
	if n := auditEntries(t, conv, agentID); n != 1 {
		t.Fatalf("%d audit entries for the read, want 1", n)
	}
	if f := other.Request(map[string]any{"action": "context", "conversationId": conv}); f["type"] != "error" || f["code"] != "forbidden" {
		t.Fatalf("another agent reading the context: %v", f)
	}
	if n := auditEntries(t, conv, ""); n != 1 {
		t.Fatalf("a refused read was audited or shown: %d entries", n)
	}
	// A private note: the agent's consoles see it, the patient never does.
	if f := console.Request(map[string]any{"action": "note", "conversationId": conv, "text": "Refund pending, check Monday"}); f["type"] != "note" {
		t.Fatalf("note answered %v", f)
	}

	// Patient → agent, agent → patient, in order, each once.
	for i := range 3 {
		_, msg := send(t, patient, conv, fmt.Sprintf("p-%d", i), fmt.Sprintf("patient line %d", i))
		got, _ := console.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["messageId"] == msg["messageId"] })
		if got["text"] != fmt.Sprintf("patient line %d", i) || got["from"].(map[string]any)["role"] != "patient" {
			t.Fatalf("the agent got %v", got)
		}
		ack := console.Request(map[string]any{"action": "send", "conversationId": conv, "clientMessageId": fmt.Sprintf("a-%d", i), "text": fmt.Sprintf("agent line %d", i)})
		if ack["type"] != "ack" || ack["messageId"] == "" {
			t.Fatalf("the agent's send answered %v", ack)
		}
		pm, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["messageId"] == ack["messageId"] })
		if pm["text"] != fmt.Sprintf("agent line %d", i) || pm["from"].(map[string]any)["role"] != "agent" {
			t.Fatalf("the patient got %v", pm)
		}
	}
	if f := other.Request(map[string]any{"action": "send", "conversationId": conv, "clientMessageId": "x-1", "text": "not mine"}); f["type"] != "error" || f["code"] != "forbidden" {
		t.Fatalf("another agent sending into the conversation: %v", f)
	}
	if f := other.Request(map[string]any{"action": "close", "conversationId": conv, "disposition": "resolved"}); f["type"] != "error" || f["code"] != "forbidden" {
		t.Fatalf("another agent closing the conversation: %v", f)
	}
	history := conversationMessages(t, conv)
	// From the start, or after a message (the notes' keys sort after every
	// message id): never the private note.
	for _, after := range []string{"", history[0]} {
		if f := patient.Request(map[string]any{"action": "resume", "after": after}); f["type"] != "history" || strings.Contains(fmt.Sprint(f["messages"]), "Refund pending") {
			t.Fatalf("the patient's history after %q shows the private note, or no history: %v", after, f)
		}
	}
	for i := 1; i < len(history); i++ {
		if history[i-1] >= history[i] {
			t.Fatalf("stored message ids out of order: %v", history)
		}
	}

	closed := console.Request(map[string]any{"action": "close", "conversationId": conv, "disposition": "resolved"})
	if closed["type"] != "status" || closed["state"] != "closed" {
		t.Fatalf("close answered %v", closed)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "closed" })
	if a := activeOf(t, agentID); a != 0 {
		t.Fatalf("the agent holds %d conversations after closing, want 0", a)
	}
}

// TestUnacceptedOfferMovesOn: the first agent offered a conversation says
// nothing; when the offer lapses (3s here) the conversation goes to the
// next agent and the silent one is set away.
func TestUnacceptedOfferMovesOn(t *testing.T) {
	run := time.Now().UnixNano()
	queue := "patient-relations"
	first, firstID := poolAgent(t, fmt.Sprintf("sil%d", run), queue, "en", 10)
	p := startWithBot(t, "Noor")
	send(t, p.c, p.conversationID, "c-1", "I want to file a complaint")
	offer, _ := first.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	if offer["queue"] != queue {
		t.Fatalf("offer = %v", offer)
	}
	second, secondID := poolAgent(t, fmt.Sprintf("nxt%d", run), queue, "en", 10)
	if pres, _ := first.Wait(func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "away" }); pres == nil {
		t.Fatal("the silent agent was not set away")
	}
	second.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	if got := offeredItem(t, p.conversationID); got.State != "offered" || got.OfferAgent != secondID {
		t.Fatalf("after the lapse the conversation is %+v, want offered to %s", got, secondID)
	}
	if a := activeOf(t, firstID); a != 0 {
		t.Fatalf("the silent agent still holds %d", a)
	}
}

// TestAWaitingPatientHearsTheQueuesRecentWait (issue 20, item 8): with
// three patients answered in patient-relations this hour (after 60, 120
// and 180 s), the next patient to wait there is told their place and how
// long people waited lately — the figures' own average, in whole seconds.
func TestAWaitingPatientHearsTheQueuesRecentWait(t *testing.T) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	zone, err := time.LoadLocation("America/New_York") // the template's BusinessTimezone
	if err != nil {
		t.Fatal(err)
	}
	store := ddb.NewKPIs(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["KpiTable"], 24*time.Hour)
	for i, wait := range []time.Duration{60 * time.Second, 120 * time.Second, 180 * time.Second} {
		e := kpi.Event{Kind: kpi.Handled, ConversationID: fmt.Sprintf("rw%d-%d", run, i), Key: "handled#1", Queue: "patient-relations", At: time.Now(), Wait: wait}
		if _, err := (kpi.Recorder{Store: store, Zone: zone}).Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	recent := kpi.RecentWaits{Store: store, Zone: zone}
	before, ok, err := recent.Expected(ctx, "patient-relations")
	if err != nil || !ok {
		t.Fatalf("the recent waits: %v %v", ok, err)
	}
	// Someone serves the queue (else the bot offers a message instead);
	// the place is told before any offer.
	poolAgent(t, fmt.Sprintf("rw%d", run), "patient-relations", "en", 1)
	p := startWithBot(t, "Rhea")
	send(t, p.c, p.conversationID, "rw-1", "I want to file a complaint")
	st, _ := p.c.Wait(func(f map[string]any) bool {
		return f["type"] == "status" && f["state"] == "waiting" && f["queuePosition"] != nil
	})
	after, _, _ := recent.Expected(ctx, "patient-relations") // an hour may have turned
	got, _ := st["recentWaitSeconds"].(float64)
	if got != before.Round(time.Second).Seconds() && got != after.Round(time.Second).Seconds() {
		t.Fatalf("the waiting status %v, want recentWaitSeconds %.0f (the figures' recent average)", st, before.Seconds())
	}
}

// TestAReloadedConsoleGetsItsOfferBack (issue 17): an agent's console
// receives an offer and is reloaded before the agent answers it; the new
// console asks for its conversations, gets the offer again, and the agent
// takes it. Before, the offer lapsed unseen and set the agent away.
func TestAReloadedConsoleGetsItsOfferBack(t *testing.T) {
	run := time.Now().UnixNano()
	username, password := fmt.Sprintf("rel%d", run), "Test-Agent-9!"
	createPoolUser(t, username, password, username, "patient-relations", "en", 2)
	token := signIn(t, username, password)
	first := stacktest.Dial(t, agentURL(token))
	if f := first.Request(map[string]any{"action": "presence", "status": "available"}); f["type"] != "presence" {
		t.Fatalf("going available: %v", f)
	}
	p := startWithBot(t, "Reno")
	send(t, p.c, p.conversationID, "rel-1", "I want to file a complaint")
	offer, _ := first.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	// The reload: the new console connects before the old one is gone, as
	// a browser's reload does, and asks for what it has.
	again := stacktest.Dial(t, agentURL(token))
	first.Close()
	again.Request(map[string]any{"action": "conversations"})
	back, _ := again.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	if back["queue"] != offer["queue"] || back["expiresAt"] != offer["expiresAt"] || back["summary"] != offer["summary"] {
		t.Fatalf("the offer told again %v, first %v", back, offer)
	}
	if f := again.Request(map[string]any{"action": "accept", "conversationId": p.conversationID}); f["type"] != "assigned" {
		t.Fatalf("accepting the offer told again: %v", f)
	}
}

func activeOf(t *testing.T, agentID string) int {
	t.Helper()
	it, _ := storedItem[struct {
		Active int `dynamodbav:"active"`
	}](t, "AgentsTable", "agentId", agentID)
	return it.Active
}

// conversationMessages lists the stored message ids of a conversation.
func conversationMessages(t *testing.T, conv string) []string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awsCfg()).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(env.Outputs.Tables["MessagesTable"]), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("conversationId = :c AND begins_with(sk, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: conv}, ":m": &types.AttributeValueMemberS{Value: "m"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range out.Items {
		ids = append(ids, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	return ids
}

// auditEntries counts the audit trail's entries for a conversation (by
// one reader, when readerID is set).
func auditEntries(t *testing.T, conv, readerID string) int {
	t.Helper()
	return auditWhere(t, func(e auditEntry) bool { return e.ConversationID == conv && (readerID == "" || e.ReaderID == readerID) })
}

type auditEntry struct {
	ConversationID string `dynamodbav:"conversationId"`
	ReaderID       string `dynamodbav:"readerId"`
	PatientID      string `dynamodbav:"patientId"`
	Why            string `dynamodbav:"why"`
	At             string `dynamodbav:"at"`
}

// auditWhere counts the audit trail's entries that match, each checked to
// say who, what, when and why.
func auditWhere(t *testing.T, match func(auditEntry) bool) int {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awsCfg()).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(env.Outputs.Tables["AuditTable"]), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range out.Items {
		var e auditEntry
		if err := attributevalue.UnmarshalMap(it, &e); err != nil {
			t.Fatal(err)
		}
		if !match(e) {
			continue
		}
		if e.PatientID == "" || e.Why == "" || e.At == "" {
			t.Fatalf("audit entry lacks who/what/when/why: %+v", e)
		}
		n++
	}
	return n
}

// TestTransferToAnotherQueue: the agent hands the conversation to the
// callback queue; the patient waits again, the agent's capacity is free,
// and an agent of that queue gets the offer.
func TestTransferToAnotherQueue(t *testing.T) {
	run := time.Now().UnixNano()
	first, firstID := poolAgent(t, fmt.Sprintf("tra%d", run), "billing", "en", 10)
	patient, conv := escalate(t, "Omar")
	first.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := first.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	if f := first.Request(map[string]any{"action": "transfer", "conversationId": conv, "queue": "no-such-queue"}); f["type"] != "error" || f["code"] != "bad_request" {
		t.Fatalf("transfer to an unknown queue: %v", f)
	}
	if f := first.Request(map[string]any{"action": "transfer", "conversationId": conv, "queue": "callback", "reason": "Needs a call back about the May invoice"}); f["type"] != "status" || f["state"] != "waiting" {
		t.Fatalf("transfer answered %v", f)
	}
	// The patient is told in the chat (issue 19), then waits.
	told, _ := patient.Wait(func(f map[string]any) bool {
		from, _ := f["from"].(map[string]any)
		return f["type"] == "message" && from["role"] == "system"
	})
	if !strings.Contains(fmt.Sprint(told["text"]), "passing your conversation to a colleague") {
		t.Fatalf("the patient was told %v", told)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	if a := activeOf(t, firstID); a != 0 {
		t.Fatalf("the transferring agent still holds %d", a)
	}
	second, secondID := poolAgent(t, fmt.Sprintf("cal%d", run), "callback", "en", 10)
	offer, _ := second.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if offer["queue"] != "callback" || !strings.HasPrefix(fmt.Sprint(offer["summary"]), "Transferred by ") ||
		!strings.Contains(fmt.Sprint(offer["summary"]), ": Needs a call back about the May invoice.") {
		t.Fatalf("offer after the transfer = %v, want the reason in its summary", offer)
	}
	if got := offeredItem(t, conv); got.OfferAgent != secondID {
		t.Fatalf("after the transfer the conversation is %+v", got)
	}
	// The next agent's patient view says who handed it on and why; that
	// agent then transfers it to a named agent, who is offered it.
	if f := second.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	view := second.Request(map[string]any{"action": "context", "conversationId": conv})
	tr, _ := view["handoff"].(map[string]any)["transfer"].(map[string]any)
	if tr["reason"] != "Needs a call back about the May invoice" || tr["to"] != "callback" || tr["by"] == "" {
		t.Fatalf("the patient view's transfer: %v", view["handoff"])
	}
	third, thirdID := poolAgent(t, fmt.Sprintf("nam%d", run), "billing", "en", 10)
	if f := second.Request(map[string]any{"action": "transfer", "conversationId": conv, "agentId": thirdID, "reason": "Knows this account"}); f["type"] != "status" || f["state"] != "waiting" {
		t.Fatalf("transfer to a named agent answered %v", f)
	}
	named, _ := third.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if !strings.Contains(fmt.Sprint(named["summary"]), ": Knows this account.") {
		t.Fatalf("the named agent's offer = %v", named)
	}
	if done, _ := second.Wait(func(f map[string]any) bool { return f["type"] == "assignment" && f["conversationId"] == conv }); done["ok"] != true {
		t.Fatalf("the transferring agent heard %v", done)
	}
}

// TestLongWaitOverflowsToTheFallbackQueue: the nurse queue overflows to
// scheduling after 3s here. The only nurse online is busy, so a patient
// who asks for a nurse waits; the routing sweep (every second here, a
// schedule in the template) moves the conversation to scheduling, whose
// agent is offered it.
func TestLongWaitOverflowsToTheFallbackQueue(t *testing.T) {
	run := time.Now().UnixNano()
	nurse, _ := poolAgent(t, fmt.Sprintf("nur%d", run), "nurse", "en", 10)
	if f := nurse.Request(map[string]any{"action": "presence", "status": "busy"}); f["status"] != "busy" {
		t.Fatalf("going busy: %v", f)
	}
	sched, schedID := poolAgent(t, fmt.Sprintf("sch%d", run), "scheduling", "en", 10)
	p := startWithBot(t, "Quinn")
	send(t, p.c, p.conversationID, "o-1", "yes")
	botReply(t, p.c)
	send(t, p.c, p.conversationID, "o-2", "I want to talk to a nurse")
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })
	offer, _ := sched.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	if offer["queue"] != "scheduling" {
		t.Fatalf("offer after the overflow = %v", offer)
	}
	if got := offeredItem(t, p.conversationID); got.State != "offered" || got.OfferAgent != schedID || got.OverflowedFrom != "nurse" {
		t.Fatalf("stored conversation = %+v, want offered to %s after overflowing from nurse", got, schedID)
	}
}

// TestPatientLeavingAnOfferedConversationFreesTheAgent: the patient ends
// the chat while it is offered; the offer is withdrawn at once — the
// agent's console hears the conversation is closed, their capacity is
// free, and they are not set away as for an unanswered offer.
func TestPatientLeavingAnOfferedConversationFreesTheAgent(t *testing.T) {
	run := time.Now().UnixNano()
	console, agentID := poolAgent(t, fmt.Sprintf("wd%d", run), "billing", "en", 10)
	patient, conv := escalate(t, "Rui")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := patient.Request(map[string]any{"action": "end", "conversationId": conv}); f["type"] != "status" || f["state"] != "closed" {
		t.Fatalf("end answered %v", f)
	}
	_, before := console.Wait(func(f map[string]any) bool {
		return f["type"] == "status" && f["conversationId"] == conv && f["state"] == "closed"
	})
	for _, f := range before {
		if f["type"] == "presence" && f["status"] == "away" {
			t.Fatal("the agent was set away: the offer lapsed instead of being withdrawn")
		}
	}
	if a := activeOf(t, agentID); a != 0 {
		t.Fatalf("the agent still holds %d after the withdrawal", a)
	}
}

// TestAnUrgentPatientIsNeverStranded (issue 19, safety first): the only
// agent who can take an urgent conversation is away; past the alert limit
// every supervisor's console hears of it. The agent comes back, lets the
// offer lapse (and is set away), comes back again: it is offered to them
// again, since no one else can take it.
func TestAnUrgentPatientIsNeverStranded(t *testing.T) {
	run := time.Now().UnixNano()
	supervisor := supervisorConsole(t, fmt.Sprintf("sue%d", run))
	nurse, _ := poolAgent(t, fmt.Sprintf("nur%d", run), "urgent,nurse", "en", 2)
	setPresence(t, nurse, "away")

	p := startWithBot(t, "Ursula")
	send(t, p.c, p.conversationID, "u-1", "I have crushing chest pain and my left arm hurts")
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })

	alert, _ := supervisor.Wait(func(f map[string]any) bool { return f["type"] == "alert" && f["conversationId"] == p.conversationID })
	if alert["state"] != "waiting" || alert["priority"] != "urgent" || !strings.Contains(fmt.Sprint(alert["redFlags"]), "chest_pain") {
		t.Fatalf("supervisor alert = %v", alert)
	}

	// offer comes back and waits for the offer. A presence frame may
	// still be on its way from the lapse before (the consoles hear every
	// change, in no set order with the answers): coming back after the
	// away it announces is coming back for good.
	offer := func() {
		t.Helper()
		for tries := 0; tries < 3; tries++ {
			if f := nurse.Request(map[string]any{"action": "presence", "status": "available"}); f["type"] != "presence" {
				t.Fatalf("coming back: %v", f)
			}
			f, _ := nurse.Wait(func(f map[string]any) bool {
				return (f["type"] == "offer" && f["conversationId"] == p.conversationID) || (f["type"] == "presence" && f["status"] == "away")
			})
			if f["type"] == "offer" {
				return
			}
		}
		t.Fatal("no offer after coming back")
	}
	offer()
	// Not accepted: after the offer timeout the nurse is set away.
	nurse.Wait(func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "away" })
	offer() // offered again: no one else can take it
}

// TestASupervisorAssignsAWaitingConversation (issue 19): a billing
// conversation waits (its only billing agent is busy); the supervisor's
// floor shows it; the supervisor assigns it to a general agent, who gets
// the offer and takes it; the supervisor hears it worked, and the floor
// hears it taken without asking (pushed from the conversations stream).
func TestASupervisorAssignsAWaitingConversation(t *testing.T) {
	run := time.Now().UnixNano()
	supervisor := supervisorConsole(t, fmt.Sprintf("asg%d", run))
	billing, _ := poolAgent(t, fmt.Sprintf("bil%d", run), "billing", "en", 1)
	setPresence(t, billing, "busy")
	general, generalID := poolAgent(t, fmt.Sprintf("gen%d", run), "general", "en", 2)
	patient, conv := escalate(t, "Asha")
	stacktest.Eventually(t, 15*time.Second, "the conversation in its queue", func() bool { return offeredItem(t, conv).State == "waiting" })
	// floorRow is the conversation's latest row in a floor frame (a batch
	// may carry several changes of it, in order).
	floorRow := func(f map[string]any) map[string]any {
		rows, _ := f["conversations"].([]any)
		var last map[string]any
		for _, r := range rows {
			if r, _ := r.(map[string]any); r["conversationId"] == conv {
				last = r
			}
		}
		return last
	}
	fl := supervisor.Request(map[string]any{"action": "floor"})
	if row := floorRow(fl); fl["type"] != "floor" || row == nil || row["state"] != "waiting" || row["queue"] != "billing" || row["handedOffAt"] == nil {
		t.Fatalf("the floor %v has no waiting row for %s", fl, conv)
	}
	if f := billing.Request(map[string]any{"action": "floor"}); f["code"] != "forbidden" {
		t.Fatalf("an agent asked for the floor: %v, want forbidden", f)
	}

	if f := supervisor.Request(map[string]any{"action": "assign", "conversationId": conv, "agentId": generalID}); f["type"] != "assigning" {
		t.Fatalf("assign answered %v", f)
	}
	general.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	outcome, _ := supervisor.Wait(func(f map[string]any) bool { return f["type"] == "assignment" && f["conversationId"] == conv })
	if outcome["ok"] != true {
		t.Fatalf("assignment outcome %v", outcome)
	}
	if f := general.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accepting the assigned conversation: %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	taken, _ := supervisor.Wait(func(f map[string]any) bool {
		row := floorRow(f)
		return f["type"] == "floor" && f["changes"] == true && row != nil && row["state"] == "assigned"
	})
	if row := floorRow(taken); row["agentId"] != generalID || row["agentName"] == "" {
		t.Fatalf("the floor heard %v, want it with the general agent", row)
	}
	// Agents cannot assign.
	if f := general.Request(map[string]any{"action": "assign", "conversationId": conv}); f["code"] != "forbidden" {
		t.Fatalf("an agent assigning: %v, want forbidden", f)
	}
}

// setPresence sets a console's presence.
func setPresence(t *testing.T, c *stacktest.Client, status string) {
	t.Helper()
	if f := c.Request(map[string]any{"action": "presence", "status": status}); f["type"] != "presence" {
		t.Fatalf("going %s: %v", status, f)
	}
}

// TestAnAgentHandsAConversationBackToTheBot (issue 19): after a billing
// answer the agent gives the conversation back to the bot: the agent's
// capacity is free, the patient is told with the bot's menu, and the bot
// answers their next message; handing it back again is refused.
func TestAnAgentHandsAConversationBackToTheBot(t *testing.T) {
	run := time.Now().UnixNano()
	console, agentID := poolAgent(t, fmt.Sprintf("hb%d", run), "billing", "en", 10)
	patient, conv := escalate(t, "Hana")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	if f := console.Request(map[string]any{"action": "handback", "conversationId": conv}); f["type"] != "status" || f["state"] != "bot" {
		t.Fatalf("handback answered %v", f)
	}
	patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "bot" })
	back, _ := patient.Wait(isBot)
	if !strings.Contains(fmt.Sprint(back["text"]), "back with the virtual assistant") || !strings.Contains(fmt.Sprint(back["quickReplies"]), "Request an appointment") {
		t.Fatalf("the patient was told %v", back)
	}
	if a := activeOf(t, agentID); a != 0 {
		t.Fatalf("the agent still holds %d after handing back", a)
	}
	send(t, patient, conv, "hb-1", "What are the visiting hours?")
	if reply := botReply(t, patient); !strings.Contains(strings.ToLower(fmt.Sprint(reply["text"])), "visit") {
		t.Fatalf("the bot answered %v", reply)
	}
	if f := console.Request(map[string]any{"action": "handback", "conversationId": conv}); f["type"] != "error" || f["code"] != "forbidden" && f["code"] != "conflict" {
		t.Fatalf("handing back again answered %v", f)
	}
}

// TestTheRosterShowsEveryAgentsPresenceAndLoad (issue 19): the agents
// action lists each agent online with their presence, since when, and the
// conversations offered or held against their capacity — what a
// supervisor watches and what an agent picks a colleague from.
func TestTheRosterShowsEveryAgentsPresenceAndLoad(t *testing.T) {
	run := time.Now().UnixNano()
	first, firstID := poolAgent(t, fmt.Sprintf("ros%d", run), "billing", "en", 4)
	second, secondID := poolAgent(t, fmt.Sprintf("rot%d", run), "general", "en", 2)
	if f := second.Request(map[string]any{"action": "presence", "status": "busy"}); f["status"] != "busy" {
		t.Fatalf("going busy: %v", f)
	}
	_, conv := escalate(t, "Rory")
	first.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	roster := first.Request(map[string]any{"action": "agents"})
	byID := map[string]map[string]any{}
	list, _ := roster["agents"].([]any)
	for _, a := range list {
		a := a.(map[string]any)
		byID[fmt.Sprint(a["agentId"])] = a
	}
	one, two := byID[firstID], byID[secondID]
	if roster["type"] != "agents" || one == nil || two == nil {
		t.Fatalf("the roster %v lacks the two agents", roster)
	}
	if one["presence"] != "available" || one["active"] != float64(1) || one["capacity"] != float64(4) || one["since"] == "" {
		t.Errorf("the first agent in the roster: %v, want available, 1 of 4", one)
	}
	if two["presence"] != "busy" || two["active"] != float64(0) || two["capacity"] != float64(2) {
		t.Errorf("the second agent in the roster: %v, want busy, 0 of 2", two)
	}
}
