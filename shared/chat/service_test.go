package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/chat/chattest"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/session"
	"github.com/patientservicecenter/psc/shared/triage"
)

// memory implements the stores in memory for the service's unit tests:
// the conversations are chattest's (which keeps the port's contract), the
// connections and pushes are kept here.
type memory struct {
	*chattest.MemConversations
	mu     sync.Mutex
	conns  map[string]chat.Connection
	pushed map[string][]map[string]any
	gone   map[string]bool
	starts map[string]int // connection id, or "patient#<id>#<day>" → conversations started
	// follows are the hints of the messages appended, in order.
	follows []string
}

func newMemory() *memory {
	return &memory{MemConversations: chattest.NewMemConversations(), conns: map[string]chat.Connection{}, pushed: map[string][]map[string]any{}, gone: map[string]bool{}, starts: map[string]int{}}
}

var (
	_ chat.Conversations = (*memory)(nil)
	_ chat.Pusher        = (*memory)(nil)
)

// Append records the hint each message came with, then stores it.
func (m *memory) Append(ctx context.Context, msg chat.Message) (chat.Message, bool, error) {
	m.mu.Lock()
	m.follows = append(m.follows, msg.Follows)
	m.mu.Unlock()
	return m.MemConversations.Append(ctx, msg)
}

// conv is a stored conversation (zero if unknown).
func (m *memory) conv(id string) chat.Conversation {
	c, _ := m.Get(context.Background(), id)
	return c
}

// messages are a conversation's stored messages.
func (m *memory) messages(id string) []chat.Message {
	msgs, _ := m.After(context.Background(), id, "")
	return msgs
}

// connStore adapts memory to Connections (method names clash with Conversations).
type connStore struct{ m *memory }

var _ chat.Connections = connStore{}

func (s connStore) Put(_ context.Context, c chat.Connection) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.conns[c.ID] = c
	return nil
}

func (s connStore) Admit(_ context.Context, id string, _ time.Time) (chat.Connection, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	c, ok := s.m.conns[id]
	if !ok {
		return c, fault.Errorf(fault.NotFound, "connection not found")
	}
	return c, nil
}

func (s connStore) Bind(_ context.Context, id, patientID, conversationID string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	c := s.m.conns[id]
	c.PatientID, c.ConversationID = patientID, conversationID
	s.m.conns[id] = c
	return nil
}

func (s connStore) CountStart(_ context.Context, id, patientID string, now time.Time, perConn, perPatient int) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.starts[id] >= perConn {
		return fault.Errorf(fault.RateLimited, "too many conversations on this connection")
	}
	s.m.starts[id]++
	day := "patient#" + patientID + "#" + now.UTC().Format("2006-01-02")
	if s.m.starts[day] >= perPatient {
		return fault.Errorf(fault.RateLimited, "too many conversations today")
	}
	s.m.starts[day]++
	return nil
}

func (s connStore) Delete(_ context.Context, id string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	delete(s.m.conns, id)
	return nil
}

func (s connStore) ForConversation(_ context.Context, id string) ([]chat.Connection, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	var out []chat.Connection
	for _, c := range s.m.conns {
		if c.ConversationID == id {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memory) Push(_ context.Context, id string, frame []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone[id] {
		return chat.ErrGone
	}
	var f map[string]any
	if err := json.Unmarshal(frame, &f); err != nil {
		return err
	}
	f["_bytes"] = len(frame)
	m.pushed[id] = append(m.pushed[id], f)
	return nil
}

func (m *memory) frames(id, typ string) []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []map[string]any
	for _, f := range m.pushed[id] {
		if f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
}

type fixture struct {
	m   *memory
	svc *chat.Service
	tok *session.Tokens
	ids int
	now time.Time // the fixture's clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{m: newMemory(), now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	tok, err := session.New([]byte(strings.Repeat("k", 32)), time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	f.tok = tok
	f.svc = chat.NewService(f.m, connStore{f.m}, chat.PatientFanout(connStore{f.m}, f.m, frames.Encode, clock), tok, chat.Config{ConnectionTTL: 2 * time.Hour, Retention: 24 * time.Hour},
		clock, func() string { f.ids++; return fmt.Sprint(f.ids) })
	return f
}

func (f *fixture) do(t *testing.T, conn string, body string) error {
	t.Helper()
	fr, err := protocol.DecodePatient([]byte(body))
	if err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return patientws.Dispatch(context.Background(), f.svc, conn, fr)
}

func (f *fixture) startOn(t *testing.T, conn, name string) (token, conversationID string) {
	t.Helper()
	if err := f.svc.Connect(context.Background(), conn, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, conn, `{"action":"start","name":"`+name+`"}`); err != nil {
		t.Fatal(err)
	}
	s := f.m.frames(conn, "session")
	if len(s) != 1 {
		t.Fatalf("session frames: %v", s)
	}
	return s[0]["session"].(string), s[0]["conversationId"].(string)
}

func TestSendAcksBroadcastsAndDedupes(t *testing.T) {
	f := newFixture(t)
	tok, conv := f.startOn(t, "a", "Ana")
	if err := f.svc.Connect(context.Background(), "b", tok); err != nil {
		t.Fatal(err)
	}
	send := `{"action":"send","conversationId":"` + conv + `","clientMessageId":"u1","text":"hello"}`
	for i := 0; i < 3; i++ {
		if err := f.do(t, "a", send); err != nil {
			t.Fatal(err)
		}
	}
	acks := f.m.frames("a", "ack")
	if len(acks) != 3 || acks[0]["messageId"] != acks[2]["messageId"] {
		t.Fatalf("acks = %v", acks)
	}
	for _, conn := range []string{"a", "b"} {
		if msgs := f.m.frames(conn, "message"); len(msgs) != 1 || msgs[0]["text"] != "hello" {
			t.Fatalf("%s got messages %v", conn, msgs)
		}
	}
	if n := len(f.m.messages(conv)); n != 1 {
		t.Fatalf("stored %d messages", n)
	}
}

// TestAMessageToTheBotSaysItFollowsTheBotsLastReply (issue 21): the store
// is told the slot the message most likely takes (after the bot's last
// reply) while the bot has the conversation, and nothing once it has not.
func TestAMessageToTheBotSaysItFollowsTheBotsLastReply(t *testing.T) {
	f := newFixture(t)
	_, conv := f.startOn(t, "a", "Ana")
	ctx := context.Background()
	reply, _, err := f.m.AppendTurn(ctx, chat.Message{ConversationID: conv, ClientMessageID: "bot-start", Role: chat.RoleBot, Text: "Hello"}, chat.Change{BotState: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"u1","text":"hello"}`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.m.AppendTurn(ctx, chat.Message{ConversationID: conv, ClientMessageID: "bot-x", Role: chat.RoleBot, Text: "A person will help"},
		chat.Change{BotState: "{}", Answers: chat.MessageID(2), Handoff: &chat.Handoff{Queue: "general", Priority: "normal"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"u2","text":"still there?"}`); err != nil {
		t.Fatal(err)
	}
	if want := []string{reply.ID, ""}; !slices.Equal(f.m.follows, want) {
		t.Fatalf("hints %q, want %q (the bot's reply, then none once handed off)", f.m.follows, want)
	}
}

// TestSendWithoutEcho: a client that renders its own message from the ack
// says "echo": false, and its connection gets the ack but not the message;
// the patient's other devices still get it.
func TestSendWithoutEcho(t *testing.T) {
	f := newFixture(t)
	tok, conv := f.startOn(t, "a", "Ana")
	if err := f.svc.Connect(context.Background(), "b", tok); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"u1","text":"hello","echo":false}`); err != nil {
		t.Fatal(err)
	}
	if acks, msgs := f.m.frames("a", "ack"), f.m.frames("a", "message"); len(acks) != 1 || len(msgs) != 0 {
		t.Fatalf("the sender got acks %v and messages %v, want the ack only", acks, msgs)
	}
	if msgs := f.m.frames("b", "message"); len(msgs) != 1 || msgs[0]["text"] != "hello" {
		t.Fatalf("the other device got %v", msgs)
	}
}

// TestTypingIsRelayedUntilTheEnd: the patient's other devices see "typing"
// while the conversation is open, and nothing once it has ended.
func TestTypingIsRelayedUntilTheEnd(t *testing.T) {
	f := newFixture(t)
	tok, conv := f.startOn(t, "a", "Ana")
	if err := f.svc.Connect(context.Background(), "b", tok); err != nil {
		t.Fatal(err)
	}
	typing := `{"action":"typing","conversationId":"` + conv + `"}`
	if err := f.do(t, "a", typing); err != nil {
		t.Fatal(err)
	}
	if got := f.m.frames("b", "typing"); len(got) != 1 {
		t.Fatalf("the other device got %v, want one typing frame", got)
	}
	if err := f.do(t, "a", `{"action":"end","conversationId":"`+conv+`"}`); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "a", typing); err != nil {
		t.Fatalf("typing after the end: %v (typing has no answer)", err)
	}
	if got := f.m.frames("b", "typing"); len(got) != 1 {
		t.Fatalf("typing after the end was relayed: %v", got)
	}
}

// TestResendAfterTheEndGetsItsAck: a message stored just before the
// conversation ended, whose ack was lost, is acknowledged again on resend;
// a new message is refused.
func TestResendAfterTheEndGetsItsAck(t *testing.T) {
	f := newFixture(t)
	_, conv := f.startOn(t, "a", "Ana")
	send := func(id string) error {
		return f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"`+id+`","text":"hi"}`)
	}
	if err := send("u1"); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "a", `{"action":"end","conversationId":"`+conv+`"}`); err != nil {
		t.Fatal(err)
	}
	if err := send("u1"); err != nil {
		t.Fatalf("resend after the end: %v", err)
	}
	if acks := f.m.frames("a", "ack"); len(acks) != 2 || acks[1]["messageId"] != acks[0]["messageId"] {
		t.Fatalf("acks = %v, want the same message acknowledged twice", acks)
	}
	if err := send("u2"); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("a new message after the end: %v", err)
	}
	if n := len(f.m.messages(conv)); n != 1 {
		t.Fatalf("stored %d messages", n)
	}
}

func TestOwnershipAndState(t *testing.T) {
	f := newFixture(t)
	_, conv := f.startOn(t, "a", "Ana")
	_, other := f.startOn(t, "b", "Ben")
	cases := []struct {
		conn, body string
		code       fault.Code
	}{
		{"a", `{"action":"send","conversationId":"` + other + `","clientMessageId":"x","text":"hi"}`, fault.Forbidden},
		{"a", `{"action":"typing","conversationId":"` + other + `"}`, fault.Forbidden},
		{"a", `{"action":"end","conversationId":"` + other + `"}`, fault.Forbidden},
		{"a", `{"action":"end","conversationId":"` + conv + `"}`, ""},
		{"a", `{"action":"send","conversationId":"` + conv + `","clientMessageId":"y","text":"hi"}`, fault.Conflict},
		{"a", `{"action":"end","conversationId":"` + conv + `"}`, fault.Conflict},
		{"gone", `{"action":"resume"}`, fault.NotFound},
	}
	for _, tc := range cases {
		if got := fault.CodeOf(f.do(t, tc.conn, tc.body)); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.body, got, tc.code)
		}
	}
	if len(f.m.messages(other)) != 0 {
		t.Fatalf("refused frames stored messages: %v", f.m.messages(other))
	}
	if err := f.svc.Connect(context.Background(), "c", ""); err != nil {
		t.Fatal(err)
	}
	if got := fault.CodeOf(f.do(t, "c", `{"action":"resume"}`)); got != fault.Unauthorized {
		t.Fatalf("resume without a session: %q", got)
	}
}

func TestConnectRejectsBadSession(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.Connect(context.Background(), "x", "nope"); fault.CodeOf(err) != fault.Unauthorized {
		t.Fatalf("err = %v", err)
	}
	if _, ok := f.m.conns["x"]; ok {
		t.Fatal("a refused connection was stored")
	}
}

func TestGoneConnectionIsDeletedNotTheSender(t *testing.T) {
	f := newFixture(t)
	tok, conv := f.startOn(t, "a", "Ana")
	_ = f.svc.Connect(context.Background(), "stale", tok)
	_ = f.svc.Connect(context.Background(), "new", tok)
	// "stale" connected an hour ago and its $disconnect was lost; "new" is
	// still in its $connect, which API Gateway also answers 410.
	stale := f.m.conns["stale"]
	stale.ConnectedAt = stale.ConnectedAt.Add(-time.Hour)
	f.m.conns["stale"] = stale
	f.m.gone["stale"], f.m.gone["new"] = true, true
	if err := f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"u","text":"x"}`); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.m.conns["stale"]; ok {
		t.Fatal("the gone connection is still stored")
	}
	if _, ok := f.m.conns["a"]; !ok {
		t.Fatal("the sender's connection was deleted")
	}
	if _, ok := f.m.conns["new"]; !ok {
		t.Fatal("a connection still in its $connect was deleted")
	}
}

// TestHistorySplitsLargeHistories: a resume of a long conversation comes
// in parts, each under the 128 KB one @connections post carries, even for
// text JSON escapes at six bytes a character ("<" is "\u003c"); all parts
// but the last say more, and together they carry every message once.
func TestHistorySplitsLargeHistories(t *testing.T) {
	f := newFixture(t)
	tok, conv := f.startOn(t, "a", "Ana")
	for i := 1; i <= 120; i++ {
		text := strings.Repeat("é", 2000)
		if i%2 == 0 {
			text = strings.Repeat("<", 2000)
		}
		if _, _, err := f.m.Append(context.Background(), chat.Message{ConversationID: conv, ClientMessageID: fmt.Sprint("u", i), Role: chat.RolePatient, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Connect(context.Background(), "b", tok); err != nil {
		t.Fatal(err)
	}
	if err := f.do(t, "b", `{"action":"resume","requestId":"r"}`); err != nil {
		t.Fatal(err)
	}
	parts := f.m.frames("b", "history")
	seen := map[string]bool{}
	for i, h := range parts {
		if n := h["_bytes"].(int); n > 128*1024 {
			t.Fatalf("part %d is %d bytes", i, n)
		}
		if more, _ := h["more"].(bool); more != (i < len(parts)-1) || h["requestId"] != "r" {
			t.Fatalf("part %d more=%v requestId=%v", i, h["more"], h["requestId"])
		}
		for _, m := range h["messages"].([]any) {
			id := m.(map[string]any)["messageId"].(string)
			if seen[id] {
				t.Fatalf("message %s in two parts", id)
			}
			seen[id] = true
		}
	}
	if len(parts) < 2 || len(seen) != 120 {
		t.Fatalf("%d parts carrying %d messages, want 120 in several", len(parts), len(seen))
	}
	if err := f.do(t, "b", `{"action":"resume","requestId":"r2","after":"`+chat.MessageID(120)+`"}`); err != nil {
		t.Fatal(err)
	}
	if last := f.m.frames("b", "history"); len(last) != len(parts)+1 || last[len(last)-1]["messages"] == nil {
		t.Fatalf("a resume with nothing new: %v, want one part with an empty list", last[len(parts):])
	}
}

type botRequests struct{ got []string }

func (b *botRequests) Request(_ context.Context, conversationID, messageID string) error {
	b.got = append(b.got, conversationID+"/"+messageID)
	return nil
}

func TestBotIsAskedToGreetAndToAnswerInBotStateOnly(t *testing.T) {
	f := newFixture(t)
	b := &botRequests{}
	f.svc.WithBot(b)
	_, conv := f.startOn(t, "a", "Ana")
	send := func(id string) {
		if err := f.do(t, "a", `{"action":"send","conversationId":"`+conv+`","clientMessageId":"`+id+`","text":"hi"}`); err != nil {
			t.Fatal(err)
		}
	}
	send("u1")
	send("u1") // a resend asks again; the queue and the bot deduplicate
	c := f.m.conv(conv)
	c.State = chat.StateEscalated
	f.m.Update(c)
	send("u2")
	want := []string{conv + "/", conv + "/m000000000001", conv + "/m000000000001"}
	if strings.Join(b.got, ",") != strings.Join(want, ",") {
		t.Fatalf("bot requests = %v, want %v", b.got, want)
	}
	if st := f.m.frames("a", "status"); st[0]["state"] != "bot" {
		t.Fatalf("status = %v", st)
	}
	if chat.StateEscalated.PatientState() != "waiting" {
		t.Fatal("patients must see escalated as waiting")
	}
}

// recorder records the frames told to agents and to supervisors.
type recorder struct {
	mu     sync.Mutex
	agents map[string][]map[string]any
	sups   []map[string]any
}

func (r *recorder) record(frame any) map[string]any {
	var f map[string]any
	b, _ := frames.Encode(frame) // as the consoles' fan-out does
	_ = json.Unmarshal(b, &f)
	return f
}

func (r *recorder) ToAgent(_ context.Context, agentID string, frame any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.agents[agentID] = append(r.agents[agentID], r.record(frame))
	return nil
}

func (r *recorder) Tell(_ context.Context, frame any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sups = append(r.sups, r.record(frame))
	return nil
}

func framesOf(fs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, f := range fs {
		if f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
}

// watched returns a fixture whose service keeps the red-flag watch with the
// triage rules, telling agents and supervisors through a recorder, and a
// conversation started on connection c1.
func watched(t *testing.T) (*fixture, *recorder, string) {
	t.Helper()
	rules, err := triage.Load()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	rec := &recorder{agents: map[string][]map[string]any{}}
	f.svc.WithAgents(rec).WithWatch(chat.TriageWatch{Engine: rules}, rec)
	_, id := f.startOn(t, "c1", "Ana")
	return f, rec, id
}

func TestRedFlagAfterHandoffGivesGuidanceAndAlerts(t *testing.T) {
	for _, state := range []chat.State{chat.StateEscalated, chat.StateAssigned} {
		f, rec, id := watched(t)
		c := f.m.conv(id)
		c.State, c.AgentID = state, "agent-1"
		f.m.Update(c)

		send := `{"action":"send","conversationId":"` + id + `","clientMessageId":"m%d","text":%q}`
		if err := f.do(t, "c1", fmt.Sprintf(send, 1, "ok thanks, also my chest feels like something heavy is sitting on it")); err != nil {
			t.Fatal(err)
		}
		var guidance map[string]any
		for _, m := range f.m.frames("c1", protocol.TypeMessage) {
			if from, _ := m["from"].(map[string]any); from["role"] == chat.RoleSystem {
				guidance = m
			}
		}
		if guidance == nil || !strings.Contains(guidance["text"].(string), "911") {
			t.Fatalf("%s: the patient got no emergency guidance: %v", state, f.m.pushed["c1"])
		}
		alerts := framesOf(rec.sups, protocol.TypeAlert)
		if len(alerts) != 1 || alerts[0]["conversationId"] != id || alerts[0]["priority"] != "urgent" ||
			fmt.Sprint(alerts[0]["redFlags"]) != "[chest_pain]" || alerts[0]["state"] != string(state) {
			t.Fatalf("%s: supervisors were told %v", state, rec.sups)
		}
		agentAlerts := framesOf(rec.agents["agent-1"], protocol.TypeAlert)
		if want := map[chat.State]int{chat.StateEscalated: 0, chat.StateAssigned: 1}[state]; len(agentAlerts) != want {
			t.Fatalf("%s: the agent got %d alerts, want %d", state, len(agentAlerts), want)
		}
		// A resend stores the guidance once; a message without a red flag
		// gives none.
		if err := f.do(t, "c1", fmt.Sprintf(send, 1, "ok thanks, also my chest feels like something heavy is sitting on it")); err != nil {
			t.Fatal(err)
		}
		if err := f.do(t, "c1", fmt.Sprintf(send, 2, "what time is it")); err != nil {
			t.Fatal(err)
		}
		system := 0
		for _, m := range f.m.messages(id) {
			if m.Role == chat.RoleSystem {
				system++
			}
		}
		if system != 1 {
			t.Fatalf("%s: %d guidance messages stored, want 1", state, system)
		}
		if n := len(framesOf(rec.sups, protocol.TypeAlert)); n != 1 {
			t.Fatalf("%s: a resend alerted the supervisors again: %d alerts", state, n)
		}
	}
}

func TestAResendOfAMessageTheBotAnsweredRaisesNoAlert(t *testing.T) {
	f, rec, id := watched(t)
	send := `{"action":"send","conversationId":"` + id + `","clientMessageId":"m1","text":"I can't breathe"}`
	if err := f.do(t, "c1", send); err != nil {
		t.Fatal(err)
	}
	// The bot escalated it; the ack was lost and the page resends.
	c := f.m.conv(id)
	c.State, c.Handoff = chat.StateEscalated, &chat.Handoff{Priority: "urgent", At: f.m.messages(id)[0].At.Add(time.Second)}
	f.m.Update(c)
	if err := f.do(t, "c1", send); err != nil {
		t.Fatal(err)
	}
	if len(rec.sups) != 0 || len(f.m.messages(id)) != 1 {
		t.Fatalf("the resend was watched as a new message: %v %v", rec.sups, f.m.messages(id))
	}
}

func TestNoWatchWhileTheBotHasTheConversation(t *testing.T) {
	f, rec, id := watched(t)
	if err := f.do(t, "c1", `{"action":"send","conversationId":"`+id+`","clientMessageId":"m1","text":"I can't breathe"}`); err != nil {
		t.Fatal(err)
	}
	if len(rec.sups) != 0 || len(f.m.messages(id)) != 1 {
		t.Fatalf("the watch acted in bot state (the bot answers red flags): %v %v", rec.sups, f.m.messages(id))
	}
}

// TestAClosedConversationResumesOnlyForAShortWhile: after the grace a
// session no longer shows a closed conversation's transcript (a shared or
// kiosk device must not show yesterday's chat).
func TestAClosedConversationResumesOnlyForAShortWhile(t *testing.T) {
	f := newFixture(t)
	token, conv := f.startOn(t, "a", "Ana")
	if err := f.do(t, "a", `{"action":"end","conversationId":"`+conv+`"}`); err != nil {
		t.Fatal(err)
	}
	resume := func(conn string) error {
		t.Helper()
		if err := f.svc.Connect(context.Background(), conn, token); err != nil {
			t.Fatal(err)
		}
		return f.do(t, conn, `{"action":"resume"}`)
	}
	f.now = f.now.Add(chat.DefaultResumeGrace - time.Second)
	if err := resume("b"); err != nil {
		t.Fatalf("resume within the grace: %v", err)
	}
	f.now = f.now.Add(2 * time.Second)
	if err := resume("c"); fault.CodeOf(err) != fault.Unauthorized {
		t.Fatalf("resume after the grace: %v, want unauthorized", err)
	}
	if h := f.m.frames("c", "history"); len(h) != 0 {
		t.Fatalf("history sent after the grace: %v", h)
	}
}

// TestStartsAreCappedPerConnectionAndPerPatient: an unauthenticated client
// cannot start conversations without end (issue 16).
func TestStartsAreCappedPerConnectionAndPerPatient(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.Connect(context.Background(), "a", ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := f.do(t, "a", `{"action":"start","name":"Ana"}`); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	if err := f.do(t, "a", `{"action":"start","name":"Ana"}`); fault.CodeOf(err) != fault.RateLimited {
		t.Fatalf("a fourth start on one connection: %v, want rate_limited", err)
	}
	if n := f.m.Count(); n != 3 {
		t.Fatalf("%d conversations stored, want 3", n)
	}
	// The same patient's session on new connections: 20 a day.
	token := f.m.frames("a", "session")[0]["session"].(string)
	started := 3
	for i := 0; started < 25; i++ {
		conn := fmt.Sprintf("s%d", i)
		if err := f.svc.Connect(context.Background(), conn, token); err != nil {
			t.Fatal(err)
		}
		err := f.do(t, conn, `{"action":"start","name":"Ana"}`)
		if fault.CodeOf(err) == fault.RateLimited {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		started++
	}
	if started != 20 {
		t.Fatalf("one patient started %d conversations in a day, want 20", started)
	}
}
