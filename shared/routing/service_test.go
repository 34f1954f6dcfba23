package routing

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// memStore is an in-memory Store with the same conditions as the
// DynamoDB one: an offer sticks only while the conversation waits at the
// same place and the agent is available with room.
type memStore struct {
	waiting map[string]Waiting
	agents  map[string]*Agent
	offers  map[string]string
	stale   int // the next n offers fail as if another router won
}

func newMemStore(agents ...Agent) *memStore {
	m := &memStore{waiting: map[string]Waiting{}, agents: map[string]*Agent{}, offers: map[string]string{}}
	for _, a := range agents {
		m.agents[a.ID] = &a
	}
	return m
}

func (m *memStore) Enqueue(_ context.Context, w Waiting, _ time.Time) error {
	if _, ok := m.waiting[w.ConversationID]; ok {
		return nil
	}
	if _, ok := m.offers[w.ConversationID]; ok {
		return fault.Errorf(fault.Conflict, "not escalated")
	}
	m.waiting[w.ConversationID] = w
	return nil
}

func (m *memStore) Waiting(_ context.Context, queue string) ([]Waiting, error) {
	var out []Waiting
	for _, w := range m.waiting {
		if w.Queue == queue {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, Less)
	return out, nil
}

func (m *memStore) AvailableAgents(context.Context) ([]Agent, error) {
	var out []Agent
	for _, a := range m.agents {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Agent) int { return compareStrings(a.ID, b.ID) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *memStore) Offer(_ context.Context, w Waiting, agentID, _ string, _, now time.Time) (OfferResult, error) {
	if m.stale > 0 {
		m.stale--
		return Stale, nil
	}
	a := m.agents[agentID]
	if _, ok := m.waiting[w.ConversationID]; !ok || a == nil || !a.Available || a.Active >= a.Capacity {
		return Stale, nil
	}
	delete(m.waiting, w.ConversationID)
	m.offers[w.ConversationID] = agentID
	a.Active++
	a.IdleSince = now
	return Offered, nil
}

func (m *memStore) Release(_ context.Context, id, agentID, offerID string, why ReleaseReason, _ time.Time) (bool, error) {
	if m.offers[id] != agentID || offerID != "offer-1" {
		return false, nil
	}
	delete(m.offers, id)
	a := m.agents[agentID]
	a.Active--
	if why == Lapsed {
		a.Available = false
	}
	w := Waiting{ConversationID: id, Queue: "general"}
	if why == Declined || why == Lapsed {
		w.Refused = []string{agentID}
	}
	m.waiting[id] = w
	return true, nil
}

func (m *memStore) Move(_ context.Context, w Waiting, queue string, now time.Time) (bool, error) {
	cur, ok := m.waiting[w.ConversationID]
	if !ok || cur.Queue != w.Queue {
		return false, nil
	}
	cur.Queue, cur.QueuedAt = queue, now
	m.waiting[w.ConversationID] = cur
	return true, nil
}

type convs map[string]chat.Conversation

func (c convs) Get(_ context.Context, id string) (chat.Conversation, error) { return c[id], nil }

type told struct {
	to    string
	frame any
}

// recorder records the frames told; gone names agents whose every console
// is gone (Deliver reaches none of them).
type recorder struct {
	frames []told
	alerts []StrandedAlert
	gone   map[string]bool
}

// split is the Notifier of a test: what patients are told goes to one
// recorder, what staff are told to the other (alerts to its alerts).
type split struct{ patients, agents *recorder }

func (s split) Offer(_ context.Context, agentID string, o OfferNote) (int, error) {
	if s.agents.gone[agentID] {
		return 0, nil
	}
	s.agents.frames = append(s.agents.frames, told{agentID, o})
	return 1, nil
}
func (s split) Place(_ context.Context, id string, position int) error {
	s.patients.frames = append(s.patients.frames, told{id, position})
	return nil
}
func (s split) SetAway(_ context.Context, agentID string) error {
	s.agents.frames = append(s.agents.frames, told{agentID, "away"})
	return nil
}
func (s split) Withdrawn(_ context.Context, agentID, conversationID string) error {
	s.agents.frames = append(s.agents.frames, told{agentID, "withdrawn " + conversationID})
	return nil
}
func (s split) Assignment(_ context.Context, supervisorID string, o AssignmentOutcome) error {
	s.agents.frames = append(s.agents.frames, told{supervisorID, o})
	return nil
}
func (s split) Stranded(_ context.Context, a StrandedAlert) error {
	s.agents.alerts = append(s.agents.alerts, a)
	return nil
}

type triggers []string

func (t *triggers) RequestRouting(_ context.Context, reason string) error {
	*t = append(*t, reason)
	return nil
}

func (t *triggers) CheckOfferLater(_ context.Context, c OfferCheck, after time.Duration) error {
	*t = append(*t, "check "+c.ConversationID+" "+c.AgentID+" "+c.OfferID+" after "+after.String())
	return nil
}

func newService(store Store, c convs, patients, agents *recorder, trig *triggers) *Service {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewService(Deps{Store: store, Conversations: c, Notify: split{patients, agents}, Trigger: trig, Log: log,
		Now: func() time.Time { return t0 }, NewID: func() string { return "offer-1" }},
		Config{Queues: []string{"general", "billing"}, Fallback: "general", OfferTimeout: time.Minute})
}

func escalatedConv(id, queue, priority, lang string) chat.Conversation {
	return chat.Conversation{ID: id, Locale: "en", State: chat.StateEscalated,
		Handoff: &chat.Handoff{Queue: queue, Priority: priority, Language: lang, Summary: "Topic: " + queue, At: t0}}
}

func TestEscalateQueuesTellsThePlaceAndAsksForRouting(t *testing.T) {
	store := newMemStore()
	patients, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{}, patients, &recorder{}, trig)
	ctx := context.Background()
	for _, c := range []chat.Conversation{escalatedConv("c1", "billing", "normal", "en"), escalatedConv("c2", "nowhere", "urgent", "es")} {
		if err := svc.Escalate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if w := store.waiting["c2"]; w.Queue != "general" || w.Priority != Urgent || w.Language != "es" {
		t.Errorf("a handoff to an unserved queue = %+v, want the fallback queue, urgent, Spanish", w)
	}
	want := []told{
		{"c1", 1},
		{"c2", 1},
	}
	if !slices.Equal(patients.frames, want) {
		t.Errorf("patients told %v, want %v", patients.frames, want)
	}
	if len(*trig) != 2 {
		t.Errorf("routing requested %d times, want 2", len(*trig))
	}
	// A conversation still in the bot, or already offered, is left alone.
	store.offers["c3"] = "a"
	for _, c := range []chat.Conversation{{ID: "c0", State: chat.StateBot}, escalatedConv("c3", "general", "normal", "en")} {
		if err := svc.Escalate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if len(*trig) != 2 || len(store.waiting) != 2 {
		t.Errorf("a conversation not to escalate was routed: %v %v", *trig, store.waiting)
	}
}

func TestRouteOffersTellsAgentsAndPlansAgainWhenBeaten(t *testing.T) {
	store := newMemStore(
		Agent{ID: "ana", Available: true, Skills: []string{"general", "billing"}, Languages: []string{"en"}, Capacity: 1},
		Agent{ID: "ben", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
	)
	c := convs{}
	for i, id := range []string{"g1", "g2", "g3"} {
		store.waiting[id] = Waiting{ConversationID: id, Queue: "general", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(time.Duration(i) * time.Second)}
		c[id] = escalatedConv(id, "general", "normal", "en")
	}
	store.stale = 1 // the first offer loses to another router
	patients, agents, trig := &recorder{}, &recorder{}, &triggers{}
	svc := newService(store, c, patients, agents, trig)
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(*trig) != 2 || !slices.Contains(*trig, "check g1 "+store.offers["g1"]+" offer-1 after 1m0s") || !slices.Contains(*trig, "check g2 "+store.offers["g2"]+" offer-1 after 1m0s") {
		t.Errorf("offer checks scheduled: %v, want one per offer after the offer timeout", *trig)
	}
	if len(store.offers) != 2 || store.offers["g1"] == "" || store.offers["g2"] == "" {
		t.Fatalf("offers = %v, want g1 and g2 offered (first come, first served)", store.offers)
	}
	var offered []string
	for _, f := range agents.frames {
		o := f.frame.(OfferNote)
		if o.Summary != "Topic: general" || !o.ExpiresAt.Equal(t0.Add(time.Minute)) || store.offers[o.ConversationID] != f.to {
			t.Errorf("offer frame to %s: %+v", f.to, o)
		}
		offered = append(offered, o.ConversationID)
	}
	slices.Sort(offered)
	if !slices.Equal(offered, []string{"g1", "g2"}) {
		t.Errorf("agents were told of %v", offered)
	}
	want := []told{{"g3", 1}}
	if !slices.Equal(patients.frames, want) {
		t.Errorf("patients told %v, want g3 now first", patients.frames)
	}
}

func TestExpireTakesBackAPendingOfferAndSetsTheAgentAway(t *testing.T) {
	store := newMemStore(Agent{ID: "ana", Available: true, Skills: []string{"general"}, Capacity: 1, Active: 1})
	store.offers["c1"] = "ana"
	agents := &recorder{}
	svc := newService(store, convs{}, &recorder{}, agents, &triggers{})
	ctx := context.Background()
	if err := svc.Expire(ctx, OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-0"}); err != nil || store.offers["c1"] != "ana" {
		t.Fatalf("a check of an older offer released the current one: %v %v", err, store.offers)
	}
	if err := svc.Expire(ctx, OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1"}); err != nil {
		t.Fatal(err)
	}
	if _, waiting := store.waiting["c1"]; !waiting || store.agents["ana"].Available || store.agents["ana"].Active != 0 {
		t.Fatalf("after expiry: waiting %v, agent %+v", store.waiting, *store.agents["ana"])
	}
	want := []told{{"ana", "away"}}
	if !slices.Equal(agents.frames, want) {
		t.Errorf("agent told %v, want away", agents.frames)
	}
}

// TestRouteOverflowsLongWaitsToTheFallbackQueue: billing overflows to
// general after 10 minutes. The conversation that waited 11 minutes in
// billing (no billing agent online) moves to general, keeping its
// arrival, and is offered to the general agent; the one that came into
// billing a minute ago stays; both patients hear their place.
func TestRouteOverflowsLongWaitsToTheFallbackQueue(t *testing.T) {
	store := newMemStore(Agent{ID: "gus", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1})
	store.waiting["late"] = Waiting{ConversationID: "late", Queue: "billing", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(-11 * time.Minute), QueuedAt: t0.Add(-11 * time.Minute)}
	store.waiting["new"] = Waiting{ConversationID: "new", Queue: "billing", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(-20 * time.Minute), QueuedAt: t0.Add(-time.Minute)}
	patients := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := NewService(Deps{Store: store, Conversations: convs{"late": escalatedConv("late", "billing", "normal", "en")}, Notify: split{patients, &recorder{}}, Trigger: &triggers{},
		Log: log, Now: func() time.Time { return t0 }, NewID: func() string { return "offer-1" }},
		Config{Queues: []string{"general", "billing"}, OfferTimeout: time.Minute, Overflow: map[string]Overflow{"billing": {After: 10 * time.Minute, To: "general"}}})
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.offers["late"] != "gus" {
		t.Fatalf("offers = %v, want the overdue billing conversation offered to the general agent", store.offers)
	}
	if w := store.waiting["new"]; w.Queue != "billing" {
		t.Fatalf("the recent one moved to %s", w.Queue)
	}
	want := []told{{"new", 1}}
	if !slices.Equal(patients.frames, want) {
		t.Errorf("patients told %v, want %v", patients.frames, want)
	}
}

// TestWithdrawFreesTheAgentWithoutSettingThemAway: the patient ended an
// offered conversation; the agent gets their capacity back at once, stays
// available, and their consoles hear it is closed.
func TestWithdrawFreesTheAgentWithoutSettingThemAway(t *testing.T) {
	store := newMemStore(Agent{ID: "ana", Available: true, Skills: []string{"general"}, Capacity: 1, Active: 1})
	store.offers["c1"] = "ana"
	agents, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{}, &recorder{}, agents, trig)
	ctx := context.Background()
	if err := svc.EndedWhileOffered(ctx, OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"check c1 ana offer-1 after 0s"}; !slices.Equal(*trig, want) || store.offers["c1"] != "ana" {
		t.Fatalf("the stream side asked %v and changed %v; want only a request to the routing function", *trig, store.offers)
	}
	if err := svc.Withdraw(ctx, OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1", Withdraw: true}); err != nil {
		t.Fatal(err)
	}
	if a := store.agents["ana"]; !a.Available || a.Active != 0 {
		t.Fatalf("agent after the withdrawal: %+v, want available with no load", *a)
	}
	want := []told{{"ana", "withdrawn c1"}}
	if !slices.Equal(agents.frames, want) {
		t.Errorf("agent told %v, want %v", agents.frames, want)
	}
}

type alertMarks map[string]bool

func (m alertMarks) MarkAlerted(_ context.Context, id string, _ time.Time) (bool, error) {
	if m[id] {
		return false, nil
	}
	m[id] = true
	return true, nil
}

// TestAnUrgentWaitPastItsLimitAlertsEverySupervisorOnce (issue 19, safety
// first): no agent can take an urgent conversation; past the limit every
// supervisor hears of it, once; a normal one, or an urgent one not yet
// past the limit, alerts no one.
func TestAnUrgentWaitPastItsLimitAlertsEverySupervisorOnce(t *testing.T) {
	store := newMemStore() // nobody online
	store.waiting["u"] = Waiting{ConversationID: "u", Queue: "general", Priority: Urgent, Language: "en", EnqueuedAt: t0.Add(-3 * time.Minute), QueuedAt: t0.Add(-3 * time.Minute)}
	store.waiting["recent"] = Waiting{ConversationID: "recent", Queue: "general", Priority: Urgent, Language: "en", EnqueuedAt: t0.Add(-time.Minute), QueuedAt: t0.Add(-time.Minute)}
	store.waiting["n"] = Waiting{ConversationID: "n", Queue: "general", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(-time.Hour), QueuedAt: t0.Add(-time.Hour)}
	c := convs{"u": escalatedConv("u", "general", Urgent, "en")}
	c["u"].Handoff.RedFlags = []string{"chest_pain"}
	sup := &recorder{}
	svc := newService(store, c, &recorder{}, sup, &triggers{}).WithUrgentAlerts(alertMarks{}, 2*time.Minute)
	for range 2 {
		if err := svc.Route(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(sup.alerts) != 1 {
		t.Fatalf("supervisors alerted %d times, want once: %v", len(sup.alerts), sup.alerts)
	}
	if a := sup.alerts[0]; a.ConversationID != "u" || a.Queue != "general" || a.Waited != 3*time.Minute || !slices.Equal(a.RedFlags, []string{"chest_pain"}) {
		t.Fatalf("alert %+v", a)
	}
}

// TestASupervisorAssignsAWaitingConversation (issue 19): the chosen agent
// is offered it even without the queue's skill (the supervisor decides),
// and the supervisor hears it; an agent with no room, or a conversation
// no longer waiting, is refused and the supervisor hears why.
func TestASupervisorAssignsAWaitingConversation(t *testing.T) {
	store := newMemStore(
		Agent{ID: "gus", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
		Agent{ID: "full", Available: true, Skills: []string{"billing"}, Languages: []string{"en"}, Capacity: 1, Active: 1},
	)
	store.waiting["b"] = Waiting{ConversationID: "b", Queue: "billing", Priority: Normal, Language: "es", EnqueuedAt: t0, QueuedAt: t0}
	agents, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{"b": escalatedConv("b", "billing", Normal, "es")}, &recorder{}, agents, trig)
	ctx := context.Background()
	if err := svc.Assign(ctx, Assignment{ConversationID: "b", AgentID: "full", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Assign(ctx, Assignment{ConversationID: "b", AgentID: "gus", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	if store.offers["b"] != "gus" {
		t.Fatalf("offers %v, want b offered to gus", store.offers)
	}
	if err := svc.Assign(ctx, Assignment{ConversationID: "gone", AgentID: "gus", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	var outcomes []AssignmentOutcome
	offered := false
	for _, f := range agents.frames {
		switch fr := f.frame.(type) {
		case AssignmentOutcome:
			if f.to != "sue" {
				t.Fatalf("an assignment's outcome went to %s", f.to)
			}
			outcomes = append(outcomes, fr)
		case OfferNote:
			offered = offered || (f.to == "gus" && fr.ConversationID == "b")
		}
	}
	if len(outcomes) != 3 || outcomes[0].OK || !outcomes[1].OK || outcomes[2].OK || !offered {
		t.Fatalf("outcomes %+v, offer to gus %v; want refused (no room), done, refused (not waiting)", outcomes, offered)
	}
}

// TestAnOfferNoConsoleTookGoesToSomeoneElseAtOnce: the only console of the
// agent routing picked is gone (a dropped connection whose disconnect has
// not come through yet). The offer is taken back in the same run and made
// to the next agent, without waiting for its lapse; the first agent is
// neither set away nor barred from the conversation, since they never saw
// it.
func TestAnOfferNoConsoleTookGoesToSomeoneElseAtOnce(t *testing.T) {
	store := newMemStore(
		Agent{ID: "ana", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
		Agent{ID: "ben", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1, IdleSince: t0},
	)
	store.waiting["g1"] = Waiting{ConversationID: "g1", Queue: "general", Priority: Normal, Language: "en", EnqueuedAt: t0}
	agents := &recorder{gone: map[string]bool{"ana": true}}
	svc := newService(store, convs{"g1": escalatedConv("g1", "general", "normal", "en")}, &recorder{}, agents, &triggers{})
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.offers["g1"] != "ben" || len(agents.frames) != 1 || agents.frames[0].to != "ben" {
		t.Fatalf("offers %v, frames %v: want g1 offered to ben, the one agent with a console", store.offers, agents.frames)
	}
	if a := store.agents["ana"]; !a.Available || a.Active != 0 {
		t.Errorf("ana = %+v: want her available with her capacity back", *a)
	}
	// Ben declines: ana, back with a console, may be offered it.
	agents.gone = nil
	if ok, err := store.Release(context.Background(), "g1", "ben", "offer-1", Declined, t0); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.offers["g1"] != "ana" {
		t.Errorf("after ben declined, offers = %v: want g1 offered to ana, who never saw it", store.offers)
	}
}
