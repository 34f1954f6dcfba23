package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/patientservicecenter/psc/shared/agent"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/routing"
)

var t0 = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// tokens is a fake verifier: token → identity.
type tokens map[string]agent.Identity

func (v tokens) Verify(_ context.Context, token string) (agent.Identity, error) {
	id, ok := v[token]
	if !ok {
		return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid")
	}
	return id, nil
}

type memAgents map[string]agent.Agent

func (m memAgents) SaveProfile(_ context.Context, id agent.Identity, now time.Time) error {
	a, ok := m[id.AgentID]
	if !ok {
		a = agent.Agent{ID: id.AgentID, Presence: agent.Offline, Since: now}
	}
	a.Name, a.Roles, a.Skills, a.Languages, a.Capacity = id.Name, id.Roles, id.Skills, id.Languages, id.Capacity
	m[id.AgentID] = a
	return nil
}

func (m memAgents) Get(_ context.Context, agentID string) (agent.Agent, error) {
	a, ok := m[agentID]
	if !ok {
		return agent.Agent{}, fault.Errorf(fault.NotFound, "agent not found")
	}
	return a, nil
}

func (m memAgents) All(context.Context) ([]agent.Agent, error) {
	out := make([]agent.Agent, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	return out, nil
}

func (m memAgents) SetPresence(_ context.Context, agentID string, p agent.Presence, now time.Time) (agent.Agent, error) {
	a, ok := m[agentID]
	if !ok {
		return agent.Agent{}, fault.Errorf(fault.NotFound, "agent not found")
	}
	a.Presence, a.Since = p, now
	m[agentID] = a
	return a, nil
}

type memConns map[string]agent.Connection

func (m memConns) Put(_ context.Context, c agent.Connection) error { m[c.ID] = c; return nil }
func (m memConns) Admit(_ context.Context, id string, _ time.Time) (agent.Connection, error) {
	c, ok := m[id]
	if !ok {
		return agent.Connection{}, fault.Errorf(fault.NotFound, "connection not found")
	}
	return c, nil
}
func (m memConns) Delete(_ context.Context, id string) (agent.Connection, bool, error) {
	c, ok := m[id]
	delete(m, id)
	return c, ok, nil
}
func (m memConns) ForAgent(_ context.Context, agentID string) ([]agent.Connection, error) {
	var out []agent.Connection
	for _, c := range m {
		if c.AgentID == agentID {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b agent.Connection) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

type pushed struct {
	to    string
	frame map[string]any
	size  int // bytes
}

type recorder struct{ frames []pushed }

func (r *recorder) Push(_ context.Context, id string, b []byte) error {
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	r.frames = append(r.frames, pushed{id, f, len(b)})
	return nil
}

type fixture struct {
	svc    *agent.Service
	agents memAgents
	conns  memConns
	push   *recorder
	now    time.Time
}

func newFixture() *fixture {
	f := &fixture{agents: memAgents{}, conns: memConns{}, push: &recorder{}, now: t0}
	v := tokens{
		"ana":   {AgentID: "a1", Name: "Ana", Roles: []agent.Role{agent.RoleAgent}, Skills: []string{"general"}, Capacity: 3, ExpiresAt: t0.Add(time.Hour)},
		"sam":   {AgentID: "s1", Name: "Sam", Roles: []agent.Role{agent.RoleSupervisor}, ExpiresAt: t0.Add(time.Hour)},
		"root":  {AgentID: "r1", Name: "Root", Roles: []agent.Role{agent.RoleAdmin}, ExpiresAt: t0.Add(time.Hour)},
		"guest": {AgentID: "g1", Name: "Guest", ExpiresAt: t0.Add(time.Hour)},
	}
	f.svc = agent.NewService(v, f.agents, f.conns, f.push, frames.Encode, agent.Config{ConnectionTTL: time.Hour}, func() time.Time { return f.now })
	return f
}

func TestConnectVerifiesTheTokenAndTheGroup(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	for token, want := range map[string]fault.Code{"": fault.Unauthorized, "forged": fault.Unauthorized, "guest": fault.Forbidden} {
		if _, err := f.svc.Connect(ctx, "c-"+token, token); fault.CodeOf(err) != want {
			t.Errorf("connect with %q: %v, want %s", token, err, want)
		}
	}
	if len(f.conns) != 0 || len(f.agents) != 0 {
		t.Fatalf("refused connects left records: %v %v", f.conns, f.agents)
	}
	id, err := f.svc.Connect(ctx, "c1", "ana")
	if err != nil || id.AgentID != "a1" {
		t.Fatalf("connect: %v %v", id, err)
	}
	c := f.conns["c1"]
	if c.AgentID != "a1" || !c.TokenExpiresAt.Equal(t0.Add(time.Hour)) || !c.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("connection = %+v", c)
	}
	if a := f.agents["a1"]; a.Presence != agent.Offline || a.Capacity != 3 {
		t.Errorf("a new agent = %+v, want offline with the token's profile", a)
	}
}

func TestPresenceReachesEveryConsoleOfTheAgent(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		if _, err := f.svc.Connect(ctx, c, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Connect(ctx, "c3", "sam"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Handle(ctx, "c1", agent.Request{Action: "presence", Status: "available", RequestID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if f.agents["a1"].Presence != agent.Available {
		t.Fatalf("presence = %s", f.agents["a1"].Presence)
	}
	var to []string
	for _, p := range f.push.frames {
		if p.frame["type"] != "presence" || p.frame["status"] != "available" || p.frame["requestId"] != "r1" {
			t.Errorf("pushed %v", p.frame)
		}
		to = append(to, p.to)
	}
	if !slices.Equal(to, []string{"c1", "c2"}) {
		t.Errorf("pushed to %v, want both of Ana's consoles and nobody else", to)
	}
}

func TestActionsNeedALiveTokenAndTheRole(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	for c, token := range map[string]string{"c1": "ana", "c9": "root"} {
		if _, err := f.svc.Connect(ctx, c, token); err != nil {
			t.Fatal(err)
		}
	}
	away := agent.Request{Action: "presence", Status: "away"}
	if err := f.svc.Handle(ctx, "c9", away); fault.CodeOf(err) != fault.Forbidden {
		t.Errorf("an admin setting presence: %v, want forbidden", err)
	}
	if err := f.svc.Handle(ctx, "gone", away); fault.CodeOf(err) != fault.NotFound {
		t.Errorf("an unknown connection: %v, want not_found", err)
	}
	f.now = t0.Add(time.Hour)
	if err := f.svc.Handle(ctx, "c1", away); fault.CodeOf(err) != fault.Unauthorized {
		t.Errorf("an action once the token expired: %v, want unauthorized", err)
	}
	if f.agents["a1"].Presence != agent.Offline {
		t.Errorf("a refused action changed presence to %s", f.agents["a1"].Presence)
	}
}

func TestTheLastConsoleClosingTakesTheAgentOffline(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		if _, err := f.svc.Connect(ctx, c, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Handle(ctx, "c1", agent.Request{Action: "presence", Status: "available"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Disconnect(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if p := f.agents["a1"].Presence; p != agent.Available {
		t.Fatalf("after one of two consoles closed: %s", p)
	}
	if err := f.svc.Disconnect(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if p := f.agents["a1"].Presence; p != agent.Offline {
		t.Fatalf("after the last console closed: %s", p)
	}
	if err := f.svc.Disconnect(ctx, "c2"); err != nil {
		t.Fatalf("a repeated $disconnect: %v", err)
	}
}

type memConvs map[string]chat.Conversation

func (m memConvs) Get(_ context.Context, id string) (chat.Conversation, error) {
	c, ok := m[id]
	if !ok {
		return chat.Conversation{}, fault.Errorf(fault.NotFound, "conversation not found")
	}
	return c, nil
}
func (m memConvs) Append(_ context.Context, msg chat.Message) (chat.Message, bool, error) {
	return msg, false, nil
}
func (m memConvs) Stored(context.Context, string, string) (chat.Message, bool, error) {
	return chat.Message{}, false, nil
}
func (m memConvs) After(context.Context, string, string) ([]chat.Message, error) {
	return []chat.Message{{ID: "m000000000001", Role: chat.RoleBot, Text: "Hi"}}, nil
}
func (m memConvs) AddNote(context.Context, chat.Note) error           { return nil }
func (m memConvs) Notes(context.Context, string) ([]chat.Note, error) { return nil, nil }

// noAssignments refuses every transition: the context test makes none.
type noAssignments struct{}

func (noAssignments) Accept(context.Context, string, string, string, time.Time) (chat.Conversation, error) {
	return chat.Conversation{}, errors.New("unexpected accept")
}
func (noAssignments) Release(context.Context, string, string, string, routing.ReleaseReason, time.Time) (bool, error) {
	return false, errors.New("unexpected release")
}
func (noAssignments) Finish(context.Context, string, string, string, []string, time.Time) (chat.Conversation, error) {
	return chat.Conversation{}, errors.New("unexpected finish")
}
func (noAssignments) Transfer(context.Context, string, string, string, chat.Transfer, time.Time) (routing.Waiting, error) {
	return routing.Waiting{}, errors.New("unexpected transfer")
}

func (noAssignments) HandBack(context.Context, string, string, string, time.Time) (chat.Conversation, error) {
	return chat.Conversation{}, errors.New("unexpected hand back")
}

func (noAssignments) Held(context.Context, string) ([]chat.Conversation, error) {
	return nil, errors.New("unexpected held")
}

// Offered: no offer is open.
func (noAssignments) Offered(context.Context, string) ([]chat.Conversation, error) {
	return nil, nil
}

// held lists the conversations each agent holds.
type held struct {
	noAssignments
	by map[string][]chat.Conversation
}

func (h held) Held(_ context.Context, agentID string) ([]chat.Conversation, error) {
	return h.by[agentID], nil
}

// heldAndOffered is held with open offers, per agent.
type heldAndOffered struct {
	held
	offered map[string][]chat.Conversation
}

func (h heldAndOffered) Offered(_ context.Context, agentID string) ([]chat.Conversation, error) {
	return h.offered[agentID], nil
}

// TestAReloadedConsoleGetsItsOpenOffersBack: asking for its conversations,
// a console gets the held ones, then each offer still open as an offer
// frame (queue, priority, summary, expiry, the transfer's reason); a
// lapsed one is not offered again.
func TestAReloadedConsoleGetsItsOpenOffersBack(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	expires := t0.Add(30 * time.Second)
	f.svc.WithConversations(heldAndOffered{offered: map[string][]chat.Conversation{"a1": {
		{ID: "c3", State: chat.StateOffered, OfferedTo: "a1", OfferExpiresAt: expires, Queue: "billing",
			Handoff: &chat.Handoff{Queue: "general", Priority: "high", Language: "es", Summary: "Topic: billing"}, Transfer: &chat.Transfer{By: "Bo", Reason: "needs billing"}},
		{ID: "c4", State: chat.StateOffered, OfferedTo: "a1", OfferExpiresAt: t0.Add(-time.Second), Handoff: &chat.Handoff{Queue: "general"}},
	}}}, memConvs{}, nil, nil)
	if _, err := f.svc.Connect(ctx, "ca", "ana"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionConversations, RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	if len(f.push.frames) != 2 {
		t.Fatalf("pushed %d frames, want the list and one offer: %v", len(f.push.frames), f.push.frames)
	}
	b, _ := json.Marshal(f.push.frames[1].frame)
	want := `{"conversationId":"c3","expiresAt":"` + expires.Format("2006-01-02T15:04:05.000Z") + `","language":"es","priority":"high","queue":"billing",` +
		`"summary":"Transferred by Bo: needs billing. Topic: billing","transfer":{"at":"0001-01-01T00:00:00.000Z","by":"Bo","reason":"needs billing","to":""},"type":"offer"}`
	if f.push.frames[1].to != "ca" || string(b) != want {
		t.Fatalf("the open offer went to %s as %s, want %s", f.push.frames[1].to, b, want)
	}
}

// TestConversationsListsTheCallersHeldConversations: a console that
// reconnects gets back the caller's conversations, and only theirs.
func TestConversationsListsTheCallersHeldConversations(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	f.svc.WithConversations(held{by: map[string][]chat.Conversation{
		"a1": {{ID: "c1", PatientName: "Pat", State: chat.StateAssigned}, {ID: "c2", PatientName: "Lou", State: chat.StateClosed}},
		"s1": {{ID: "c9", PatientName: "Other", State: chat.StateAssigned}},
	}}, memConvs{}, nil, nil)
	for c, token := range map[string]string{"ca": "ana", "cr": "root"} {
		if _, err := f.svc.Connect(ctx, c, token); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionConversations, RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.push.frames[0].frame)
	want := `{"conversations":[{"conversationId":"c1","patient":{"name":"Pat"},"state":"assigned"},{"conversationId":"c2","patient":{"name":"Lou"},"state":"closed"}],"requestId":"r","type":"conversations"}`
	if len(f.push.frames) != 1 || f.push.frames[0].to != "ca" || string(b) != want {
		t.Fatalf("answered %v %s, want %s", f.push.frames, b, want)
	}
	if err := f.svc.Handle(ctx, "cr", agent.Request{Action: agent.ActionConversations}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("an admin listing conversations: %v, want forbidden", err)
	}
}

type memAudit struct {
	entries []agent.AuditEntry
	fail    bool
}

func (a *memAudit) Record(_ context.Context, e agent.AuditEntry) error {
	if a.fail {
		return errors.New("audit store down")
	}
	a.entries = append(a.entries, e)
	return nil
}

// TestContextIsForTheHolderOrASupervisorWithAReasonAndAlwaysAudited.
func TestContextIsForTheHolderOrASupervisorWithAReasonAndAlwaysAudited(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	audit := &memAudit{}
	convs := memConvs{"c1": {ID: "c1", PatientID: "p1", PatientName: "Pat", State: chat.StateAssigned, AgentID: "a1",
		Handoff: &chat.Handoff{Queue: "general", Reason: "patient_request", Summary: "wants a person"}}}
	f.svc.WithConversations(noAssignments{}, convs, nil, nil).WithAudit(audit)
	for c, token := range map[string]string{"ca": "ana", "cs": "sam"} {
		if _, err := f.svc.Connect(ctx, c, token); err != nil {
			t.Fatal(err)
		}
	}
	f.agents["g1"] = agent.Agent{ID: "g1"}
	f.conns["cg"] = agent.Connection{ID: "cg", AgentID: "g1", Roles: []agent.Role{agent.RoleAgent}, TokenExpiresAt: t0.Add(time.Hour)}

	read := func(conn, reason string) error {
		return f.svc.Handle(ctx, conn, agent.Request{Action: agent.ActionContext, ConversationID: "c1", Reason: reason})
	}
	if err := read("cg", ""); fault.CodeOf(err) != fault.Forbidden {
		t.Errorf("another agent: %v, want forbidden", err)
	}
	if err := read("cs", ""); fault.CodeOf(err) != fault.BadRequest {
		t.Errorf("a supervisor without a reason: %v, want bad_request", err)
	}
	if err := read("cs", " x "); fault.CodeOf(err) != fault.BadRequest {
		t.Errorf("a supervisor with a one-letter reason: %v, want bad_request", err)
	}
	if len(audit.entries) != 0 || len(f.push.frames) != 0 {
		t.Fatalf("refused reads left traces: %v %v", audit.entries, f.push.frames)
	}
	if err := read("ca", ""); err != nil {
		t.Fatal(err)
	}
	if err := read("cs", "quality review"); err != nil {
		t.Fatal(err)
	}
	if len(audit.entries) != 2 || audit.entries[0].ReaderID != "a1" || audit.entries[0].PatientID != "p1" || audit.entries[0].Why == "" ||
		audit.entries[1].ReaderRole != "supervisor" || audit.entries[1].Why != "quality review" {
		t.Fatalf("audit = %+v", audit.entries)
	}
	if len(f.push.frames) != 2 || f.push.frames[0].frame["type"] != "context" || f.push.frames[0].to != "ca" {
		t.Fatalf("pushed %v", f.push.frames)
	}
	audit.fail = true
	if err := read("ca", ""); err == nil || len(f.push.frames) != 2 {
		t.Fatalf("a read the trail could not record was shown: %v", err)
	}
	audit.fail = false
	// Once wrapped up, the conversation is no longer the agent's to read
	// (a supervisor with a reason still may).
	wrapped := convs["c1"]
	wrapped.State, wrapped.Disposition = chat.StateClosed, "resolved"
	convs["c1"] = wrapped
	if err := read("ca", ""); fault.CodeOf(err) != fault.Forbidden {
		t.Errorf("the agent after wrap-up: %v, want forbidden", err)
	}
	// Ended by the patient, not yet wrapped up: still the agent's.
	wrapped.Disposition = ""
	convs["c1"] = wrapped
	if err := read("ca", ""); err != nil {
		t.Errorf("the agent before wrap-up: %v", err)
	}
}

type memQueues map[string][]routing.Waiting

func (m memQueues) Waiting(_ context.Context, q string) ([]routing.Waiting, error) { return m[q], nil }

func TestQueueFiguresShowAgentsTheirQueuesAndSupervisorsAll(t *testing.T) {
	f := newFixture()
	q := memQueues{
		"general": {{ConversationID: "c1", Queue: "general", Priority: routing.Normal, EnqueuedAt: t0.Add(-90 * time.Second)},
			{ConversationID: "c2", Queue: "general", Priority: routing.Urgent, EnqueuedAt: t0.Add(-10 * time.Second)}},
		"billing": {{ConversationID: "c3", Queue: "billing", Priority: routing.Normal, EnqueuedAt: t0.Add(-5 * time.Minute)}},
	}
	f.svc.WithQueues([]string{"general", "billing", "nurse"}, q)
	for _, who := range []string{"ana", "sam", "root", "guest"} {
		if _, err := f.svc.Connect(context.Background(), "conn-"+who, who); err != nil && who != "guest" {
			t.Fatalf("connect %s: %v", who, err)
		}
	}
	stats := func(conn string) []any {
		t.Helper()
		f.push.frames = nil
		if err := f.svc.Handle(context.Background(), conn, agent.Request{Action: agent.ActionQueues, RequestID: "q"}); err != nil {
			t.Fatalf("queues from %s: %v", conn, err)
		}
		if len(f.push.frames) != 1 || f.push.frames[0].to != conn || f.push.frames[0].frame["type"] != "queue" || f.push.frames[0].frame["requestId"] != "q" {
			t.Fatalf("queues from %s answered %+v", conn, f.push.frames)
		}
		if got := f.push.frames[0].frame["transferQueues"]; len(got.([]any)) != 3 {
			t.Errorf("transferQueues = %v", got)
		}
		return f.push.frames[0].frame["queues"].([]any)
	}
	ana := stats("conn-ana")
	if len(ana) != 1 {
		t.Fatalf("an agent serving general sees %v, want general only", ana)
	}
	g := ana[0].(map[string]any)
	if g["name"] != "general" || g["waiting"] != 2.0 || g["urgent"] != 1.0 || g["oldestWaitSeconds"] != 90.0 {
		t.Errorf("general = %v, want 2 waiting, 1 urgent, oldest 90 s", g)
	}
	for _, conn := range []string{"conn-sam", "conn-root"} {
		all := stats(conn)
		if len(all) != 3 {
			t.Fatalf("%s sees %d queues, want 3", conn, len(all))
		}
		if b := all[1].(map[string]any); b["name"] != "billing" || b["oldestWaitSeconds"] != 300.0 {
			t.Errorf("billing = %v", b)
		}
		if n := all[2].(map[string]any); n["waiting"] != 0.0 || n["oldestWaitSeconds"] != 0.0 {
			t.Errorf("an empty queue = %v", n)
		}
	}
}

type broadcasts struct{ to []string }

func (b *broadcasts) Broadcast(_ context.Context, conversationID, except string, _ any) error {
	b.to = append(b.to, conversationID)
	return nil
}

// TestSendWithoutEchoSkipsOnlyTheSendingConsole: the agent's message goes
// to the patient and to the agent's other consoles; a console that sent it
// with "echo": false gets only its ack.
func TestSendWithoutEchoSkipsOnlyTheSendingConsole(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	patients := &broadcasts{}
	f.svc.WithConversations(noAssignments{}, memConvs{"c1": {ID: "c1", PatientName: "Pat", State: chat.StateAssigned, AgentID: "a1", AgentName: "Ana"}}, patients, nil)
	for _, c := range []string{"ca", "cb"} {
		if _, err := f.svc.Connect(ctx, c, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	for _, echo := range []bool{true, false} {
		f.push.frames = nil
		if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionSend, ConversationID: "c1", ClientMessageID: "x", Text: "hello", NoEcho: !echo}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range f.push.frames {
			got = append(got, p.to+" "+p.frame["type"].(string))
		}
		want := []string{"ca ack", "ca message", "cb message"}
		if !echo {
			want = []string{"ca ack", "cb message"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("echo %v: pushed %v, want %v", echo, got, want)
		}
	}
	if len(patients.to) != 2 {
		t.Errorf("the patient got %d broadcasts, want 2", len(patients.to))
	}
}

// TestFramesSkipConsolesWhoseSignInExpired: an expired console is
// answered nothing, and pushed nothing either (offers carry a summary,
// messages carry patients' words).
func TestFramesSkipConsolesWhoseSignInExpired(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	if _, err := f.svc.Connect(ctx, "ca", "ana"); err != nil {
		t.Fatal(err)
	}
	f.conns["old"] = agent.Connection{ID: "old", AgentID: "a1", Roles: []agent.Role{agent.RoleAgent}, TokenExpiresAt: t0.Add(-time.Minute)}
	f.push.frames = nil
	if err := f.svc.ToAgent(ctx, "a1", map[string]string{"type": "offer"}); err != nil {
		t.Fatal(err)
	}
	if len(f.push.frames) != 1 || f.push.frames[0].to != "ca" {
		t.Fatalf("pushed %v, want the signed-in console only", f.push.frames)
	}
}

// longConvs is memConvs with a long conversation of text JSON escapes at
// six bytes a character.
type longConvs struct{ memConvs }

func (longConvs) After(context.Context, string, string) ([]chat.Message, error) {
	var msgs []chat.Message
	for i := 1; i <= 200; i++ {
		msgs = append(msgs, chat.Message{ID: chat.MessageID(int64(i)), Role: chat.RolePatient, SenderName: "Pat", Text: strings.Repeat("<", 2000)})
	}
	return msgs, nil
}

// TestThePatientViewFitsOneFrameHoweverItsTextIsEscaped: a long
// transcript is cut to its newest messages so the context frame stays
// under the 128 KB one @connections post carries, even when JSON escapes
// every character of it ("<" is six bytes); the frame says earlier
// messages were left out. (Counting text bytes let it grow to 560 KB.)
func TestThePatientViewFitsOneFrameHoweverItsTextIsEscaped(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	convs := longConvs{memConvs{"c1": {ID: "c1", PatientID: "p1", PatientName: "Pat", State: chat.StateAssigned, AgentID: "a1"}}}
	f.svc.WithConversations(noAssignments{}, convs, nil, nil).WithAudit(&memAudit{})
	if _, err := f.svc.Connect(ctx, "ca", "ana"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionContext, ConversationID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if len(f.push.frames) != 1 {
		t.Fatalf("pushed %d frames", len(f.push.frames))
	}
	got := f.push.frames[0]
	transcript, _ := got.frame["transcript"].([]any)
	if got.size > 128*1024 || got.frame["earlier"] != true || len(transcript) < 5 {
		t.Fatalf("context frame of %d bytes with %d messages, earlier %v: want under 128 KB, the newest messages, earlier true", got.size, len(transcript), got.frame["earlier"])
	}
	if last := transcript[len(transcript)-1].(map[string]any); last["messageId"] != chat.MessageID(200) {
		t.Fatalf("the transcript ends at %v, want the newest message", last["messageId"])
	}
}

// TestTheFloorShowsEveryConversationInProgressToSupervisorsOnly: the
// waiting ones (urgent first) and the held ones, with queue, priority, red
// flags and agent, and no patient name; agents are refused it.
func TestTheFloorShowsEveryConversationInProgressToSupervisorsOnly(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	handoff := func(priority string, flags ...string) *chat.Handoff {
		return &chat.Handoff{Queue: "general", Priority: priority, RedFlags: flags, At: t0.Add(-time.Minute)}
	}
	convs := memConvs{
		"w1": {ID: "w1", PatientName: "Pat", State: chat.StateWaiting, Queue: "general", Handoff: handoff("normal")},
		"w2": {ID: "w2", PatientName: "Lee", State: chat.StateWaiting, Queue: "general", Handoff: handoff("urgent", "chest_pain")},
	}
	holding := held{by: map[string][]chat.Conversation{"a1": {{ID: "h1", PatientName: "Kim", State: chat.StateAssigned, AgentID: "a1", AgentName: "Ana",
		Queue: "general", Handoff: handoff("normal"), UpdatedAt: t0}}}}
	f.svc.WithConversations(holding, convs, nil, nil).WithQueues([]string{"general"},
		memQueues{"general": {{ConversationID: "w1", Queue: "general"}, {ConversationID: "w2", Queue: "general"}}})
	for _, who := range []string{"ana", "sam"} {
		if _, err := f.svc.Connect(ctx, "conn-"+who, who); err != nil {
			t.Fatal(err)
		}
	}
	a := f.agents["a1"]
	a.Active = 1
	f.agents["a1"] = a
	if err := f.svc.Handle(ctx, "conn-ana", agent.Request{Action: agent.ActionFloor}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("an agent asked for the floor: %v, want forbidden", err)
	}
	if err := f.svc.Handle(ctx, "conn-sam", agent.Request{Action: agent.ActionFloor, RequestID: "fl"}); err != nil {
		t.Fatal(err)
	}
	got := f.push.frames[len(f.push.frames)-1]
	rows, _ := got.frame["conversations"].([]any)
	if got.to != "conn-sam" || got.frame["type"] != "floor" || got.frame["requestId"] != "fl" || len(rows) != 3 {
		t.Fatalf("floor %+v", got)
	}
	var order []string
	for _, r := range rows {
		r := r.(map[string]any)
		order = append(order, r["conversationId"].(string))
		if _, named := r["patient"]; named {
			t.Errorf("the floor names a patient: %v", r)
		}
	}
	if strings.Join(order, ",") != "w2,w1,h1" {
		t.Fatalf("floor order %v, want the urgent waiting one first, then the other waiting, then the held", order)
	}
	if w2 := rows[0].(map[string]any); fmt.Sprint(w2["redFlags"]) != "[chest_pain]" || w2["priority"] != "urgent" || w2["state"] != "waiting" {
		t.Errorf("w2 row %v", w2)
	}
	if h1 := rows[2].(map[string]any); h1["agentName"] != "Ana" || h1["state"] != "assigned" {
		t.Errorf("h1 row %v", h1)
	}
}

// watchConvs is memConvs whose Watch edits the map, as the store's
// conditional update does (only while an agent holds the conversation).
type watchConvs struct{ memConvs }

func (w watchConvs) Watch(_ context.Context, id, sup string, on, barge bool) (chat.Conversation, error) {
	c := w.memConvs[id]
	if on && c.State != chat.StateAssigned {
		return c, fault.Errorf(fault.Conflict, "no agent holds this conversation")
	}
	drop := func(s []string) []string {
		return slices.DeleteFunc(slices.Clone(s), func(x string) bool { return x == sup })
	}
	c.Watchers, c.Barged = drop(c.Watchers), drop(c.Barged)
	if on {
		c.Watchers = append(c.Watchers, sup)
		if barge {
			c.Barged = append(c.Barged, sup)
		}
	}
	w.memConvs[id] = c
	return c, nil
}

// TestASupervisorWhispersOnlyWhileMonitoringAndWritesOnlyAfterBargingIn:
// the service's rules for a supervisor on a held conversation.
func TestASupervisorWhispersOnlyWhileMonitoringAndWritesOnlyAfterBargingIn(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	convs := watchConvs{memConvs{"c1": {ID: "c1", PatientID: "p1", PatientName: "Pat", State: chat.StateAssigned, AgentID: "a1", AgentName: "Ana"}}}
	patients := &broadcasts{}
	f.svc.WithConversations(noAssignments{}, convs, patients, nil).WithAudit(&memAudit{}).WithWatching(convs)
	for c, token := range map[string]string{"ca": "ana", "cs": "sam"} {
		if _, err := f.svc.Connect(ctx, c, token); err != nil {
			t.Fatal(err)
		}
	}
	do := func(conn string, r agent.Request) error {
		r.ConversationID = "c1"
		return f.svc.Handle(ctx, conn, r)
	}
	if err := do("cs", agent.Request{Action: agent.ActionWhisper, Text: "psst"}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("a whisper before monitoring: %v, want conflict", err)
	}
	if err := do("cs", agent.Request{Action: agent.ActionSend, ClientMessageID: "s1", Text: "hello"}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("a supervisor writing before barging in: %v, want forbidden", err)
	}
	if err := do("ca", agent.Request{Action: agent.ActionMonitor, Reason: "looking at my own"}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("an agent monitoring: %v, want forbidden", err)
	}
	if err := do("cs", agent.Request{Action: agent.ActionMonitor, Reason: "too short"}); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("monitoring with a short reason: %v, want bad_request", err)
	}
	if err := do("cs", agent.Request{Action: agent.ActionMonitor, Reason: "coaching a new agent"}); err != nil {
		t.Fatal(err)
	}
	f.push.frames = nil
	if err := do("cs", agent.Request{Action: agent.ActionWhisper, Text: "offer the plan"}); err != nil {
		t.Fatal(err)
	}
	whispers := 0
	for _, p := range f.push.frames {
		if p.frame["type"] == "whisper" {
			whispers++
			if p.frame["text"] != "offer the plan" {
				t.Errorf("whisper %v", p.frame)
			}
		}
	}
	if whispers == 0 || len(patients.to) != 0 {
		t.Fatalf("whisper frames %d, patient broadcasts %v: want the consoles told, the patient not", whispers, patients.to)
	}
	if err := do("cs", agent.Request{Action: agent.ActionBarge}); err != nil {
		t.Fatal(err)
	}
	if len(patients.to) != 1 {
		t.Fatalf("barging in told the patient %d times, want once", len(patients.to))
	}
	if err := do("cs", agent.Request{Action: agent.ActionSend, ClientMessageID: "s1", Text: "I am here too"}); err != nil {
		t.Fatalf("a supervisor who barged in writing: %v", err)
	}
	if err := do("cs", agent.Request{Action: agent.ActionClose, Disposition: "resolved"}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("a supervisor closing the agent's conversation: %v, want forbidden (the agent keeps it)", err)
	}
}

// storedConvs is memConvs with messages stored under client message ids.
type storedConvs struct {
	memConvs
	stored map[string]chat.Message // conversation id + "/" + stored client id
}

func (s storedConvs) Stored(_ context.Context, conversationID, clientMessageID string) (chat.Message, bool, error) {
	m, ok := s.stored[conversationID+"/"+clientMessageID]
	return m, ok, nil
}

// TestAResentReplyAfterTheCloseGetsItsAck: a console that lost the ack of
// a reply and closed the conversation meanwhile sends the reply again (the
// fault run met it): a reply stored before the close gets its ack with
// the console's own id, nothing is stored or broadcast; a reply never
// stored, or another agent's resend, is refused.
func TestAResentReplyAfterTheCloseGetsItsAck(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	patients := &broadcasts{}
	reply := chat.Message{ID: "m000000000007", ConversationID: "c1", ClientMessageID: chat.AgentClientID("r2"), Role: chat.RoleAgent, SenderName: "Ana", Text: "On it", At: t0}
	convs := storedConvs{memConvs: memConvs{"c1": {ID: "c1", PatientName: "Pat", State: chat.StateClosed, AgentID: "a1", AgentName: "Ana"}},
		stored: map[string]chat.Message{"c1/" + chat.AgentClientID("r2"): reply}}
	f.svc.WithConversations(noAssignments{}, convs, patients, nil)
	for conn, who := range map[string]string{"ca": "ana", "cs": "sam"} {
		if _, err := f.svc.Connect(ctx, conn, who); err != nil {
			t.Fatal(err)
		}
	}
	f.push.frames = nil
	if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionSend, ConversationID: "c1", ClientMessageID: "r2", RequestID: "q", Text: "On it"}); err != nil {
		t.Fatalf("the resend of a stored reply after the close: %v", err)
	}
	if len(f.push.frames) != 1 {
		t.Fatalf("pushed %+v, want one ack", f.push.frames)
	}
	ack := f.push.frames[0]
	if ack.to != "ca" || ack.frame["type"] != "ack" || ack.frame["clientMessageId"] != "r2" || ack.frame["messageId"] != reply.ID || ack.frame["requestId"] != "q" {
		t.Fatalf("ack %+v", ack)
	}
	if len(patients.to) != 0 {
		t.Fatalf("the patient was told %v again", patients.to)
	}
	if err := f.svc.Handle(ctx, "ca", agent.Request{Action: agent.ActionSend, ConversationID: "c1", ClientMessageID: "new", Text: "one more"}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("a new reply after the close: %v, want forbidden", err)
	}
	if err := f.svc.Handle(ctx, "cs", agent.Request{Action: agent.ActionSend, ConversationID: "c1", ClientMessageID: "r2", Text: "On it"}); fault.CodeOf(err) != fault.Forbidden {
		t.Fatalf("another's resend after the close: %v, want forbidden", err)
	}
}
