package routing_test

import (
	"context"
	"errors"
	"github.com/patientservicecenter/psc/shared/routing"
	"github.com/patientservicecenter/psc/shared/routing/routingtest"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
)

// t0 is the tests' clock (as in routing_test.go, the internal tests).
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

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
	alerts []routing.StrandedAlert
	gone   map[string]bool
	waits  []told // the recent waits told with places
}

// split is the Notifier of a test: what patients are told goes to one
// recorder, what staff are told to the other (alerts to its alerts).
type split struct{ patients, agents *recorder }

func (s split) Offer(_ context.Context, agentID string, o routing.OfferNote) (int, error) {
	if s.agents.gone[agentID] {
		return 0, nil
	}
	s.agents.frames = append(s.agents.frames, told{agentID, o})
	return 1, nil
}
func (s split) Place(_ context.Context, id string, position int, recentWait time.Duration) error {
	s.patients.frames = append(s.patients.frames, told{id, position})
	if recentWait > 0 {
		s.patients.waits = append(s.patients.waits, told{id, recentWait})
	}
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
func (s split) Assignment(_ context.Context, supervisorID string, o routing.AssignmentOutcome) error {
	s.agents.frames = append(s.agents.frames, told{supervisorID, o})
	return nil
}
func (s split) Stranded(_ context.Context, a routing.StrandedAlert) error {
	s.agents.alerts = append(s.agents.alerts, a)
	return nil
}

type triggers []string

func (t *triggers) RequestRouting(_ context.Context, reason string) error {
	*t = append(*t, reason)
	return nil
}

func (t *triggers) CheckOfferLater(_ context.Context, c routing.OfferCheck, after time.Duration) error {
	*t = append(*t, "check "+c.ConversationID+" "+c.AgentID+" "+c.OfferID+" after "+after.String())
	return nil
}

func newService(store routing.Store, c convs, patients, agents *recorder, trig *triggers) *routing.Service {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return routing.NewService(routing.Deps{Store: store, Conversations: c, Notify: split{patients, agents}, Trigger: trig, Log: log,
		Now: func() time.Time { return t0 }, NewID: func() string { return "offer-1" }},
		routing.Config{Queues: []string{"general", "billing"}, Fallback: "general", OfferTimeout: time.Minute})
}

// waitsOf is a Waits of fixed recent waits per queue (an error for
// "broken").
type waitsOf map[string]time.Duration

func (w waitsOf) Expected(_ context.Context, queue string) (time.Duration, bool, error) {
	if queue == "broken" {
		return 0, false, errors.New("throttled")
	}
	d, ok := w[queue]
	return d, ok, nil
}

// TestThePlaceComesWithTheQueuesRecentWait: a patient told their place
// is told how long the queue's patients waited lately, when that is
// known; a queue without an estimate, or whose figures cannot be read,
// still tells the place.
func TestThePlaceComesWithTheQueuesRecentWait(t *testing.T) {
	store := routingtest.NewMemStore()
	patients := &recorder{}
	svc := routing.NewService(routing.Deps{Store: store, Conversations: convs{}, Notify: split{patients, &recorder{}}, Trigger: &triggers{},
		Waits: waitsOf{"billing": 150 * time.Second, "urgent": 200 * time.Millisecond}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return t0 }},
		routing.Config{Queues: []string{"general", "billing", "broken", "urgent"}, Fallback: "general", OfferTimeout: time.Minute})
	ctx := context.Background()
	for _, c := range []chat.Conversation{escalatedConv("c1", "billing", "normal", "en"), escalatedConv("c2", "billing", "normal", "en"),
		escalatedConv("c3", "general", "normal", "en"), escalatedConv("c4", "broken", "normal", "en"), escalatedConv("c5", "urgent", "urgent", "en")} {
		store.Escalated[c.ID] = true
		if err := svc.Escalate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if want := []told{{"c1", 1}, {"c2", 2}, {"c3", 1}, {"c4", 1}, {"c5", 1}}; !slices.Equal(patients.frames, want) {
		t.Errorf("places told %v, want %v", patients.frames, want)
	}
	// Under a second reads as a second, never as "unknown".
	if want := []told{{"c1", 150 * time.Second}, {"c2", 150 * time.Second}, {"c5", time.Second}}; !slices.Equal(patients.waits, want) {
		t.Errorf("recent waits told %v, want %v", patients.waits, want)
	}
}

func escalatedConv(id, queue, priority, lang string) chat.Conversation {
	return chat.Conversation{ID: id, Locale: "en", State: chat.StateEscalated,
		Handoff: &chat.Handoff{Queue: queue, Priority: priority, Language: lang, Summary: "Topic: " + queue, At: t0}}
}

func TestEscalateQueuesTellsThePlaceAndAsksForRouting(t *testing.T) {
	store := routingtest.NewMemStore()
	patients, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{}, patients, &recorder{}, trig)
	ctx := context.Background()
	store.Escalated["c1"], store.Escalated["c2"] = true, true // handed off by the bot
	for _, c := range []chat.Conversation{escalatedConv("c1", "billing", "normal", "en"), escalatedConv("c2", "nowhere", "urgent", "es")} {
		if err := svc.Escalate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if w := store.Queued["c2"]; w.Queue != "general" || w.Priority != routing.Urgent || w.Language != "es" {
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
	store.Offers["c3"] = routingtest.Offer{AgentID: "a", OfferID: "offer-1"}
	for _, c := range []chat.Conversation{{ID: "c0", State: chat.StateBot}, escalatedConv("c3", "general", "normal", "en")} {
		if err := svc.Escalate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if len(*trig) != 2 || len(store.Queued) != 2 {
		t.Errorf("a conversation not to escalate was routed: %v %v", *trig, store.Queued)
	}
}

func TestRouteOffersTellsAgentsAndPlansAgainWhenBeaten(t *testing.T) {
	store := routingtest.NewMemStore(
		routing.Agent{ID: "ana", Available: true, Skills: []string{"general", "billing"}, Languages: []string{"en"}, Capacity: 1},
		routing.Agent{ID: "ben", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
	)
	c := convs{}
	for i, id := range []string{"g1", "g2", "g3"} {
		store.Queued[id] = routing.Waiting{ConversationID: id, Queue: "general", Priority: routing.Normal, Language: "en", EnqueuedAt: t0.Add(time.Duration(i) * time.Second)}
		c[id] = escalatedConv(id, "general", "normal", "en")
	}
	store.LoseNext = 1 // the first offer loses to another router
	patients, agents, trig := &recorder{}, &recorder{}, &triggers{}
	svc := newService(store, c, patients, agents, trig)
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(*trig) != 2 || !slices.Contains(*trig, "check g1 "+store.Offers["g1"].AgentID+" offer-1 after 1m0s") || !slices.Contains(*trig, "check g2 "+store.Offers["g2"].AgentID+" offer-1 after 1m0s") {
		t.Errorf("offer checks scheduled: %v, want one per offer after the offer timeout", *trig)
	}
	if len(store.Offers) != 2 || store.Offers["g1"].AgentID == "" || store.Offers["g2"].AgentID == "" {
		t.Fatalf("offers = %v, want g1 and g2 offered (first come, first served)", store.Offers)
	}
	var offered []string
	for _, f := range agents.frames {
		o := f.frame.(routing.OfferNote)
		if o.Summary != "Topic: general" || !o.ExpiresAt.Equal(t0.Add(time.Minute)) || store.Offers[o.ConversationID].AgentID != f.to {
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
	store := routingtest.NewMemStore(routing.Agent{ID: "ana", Available: true, Skills: []string{"general"}, Capacity: 1, Active: 1})
	store.Offers["c1"] = routingtest.Offer{AgentID: "ana", OfferID: "offer-1"}
	agents := &recorder{}
	svc := newService(store, convs{}, &recorder{}, agents, &triggers{})
	ctx := context.Background()
	if err := svc.Expire(ctx, routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-0"}); err != nil || store.Offers["c1"].AgentID != "ana" {
		t.Fatalf("a check of an older offer released the current one: %v %v", err, store.Offers)
	}
	if err := svc.Expire(ctx, routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1"}); err != nil {
		t.Fatal(err)
	}
	if _, waiting := store.Queued["c1"]; !waiting || store.Agents["ana"].Available || store.Agents["ana"].Active != 0 {
		t.Fatalf("after expiry: waiting %v, agent %+v", store.Queued, *store.Agents["ana"])
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
	store := routingtest.NewMemStore(routing.Agent{ID: "gus", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1})
	store.Queued["late"] = routing.Waiting{ConversationID: "late", Queue: "billing", Priority: routing.Normal, Language: "en", EnqueuedAt: t0.Add(-11 * time.Minute), QueuedAt: t0.Add(-11 * time.Minute)}
	store.Queued["new"] = routing.Waiting{ConversationID: "new", Queue: "billing", Priority: routing.Normal, Language: "en", EnqueuedAt: t0.Add(-20 * time.Minute), QueuedAt: t0.Add(-time.Minute)}
	patients := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := routing.NewService(routing.Deps{Store: store, Conversations: convs{"late": escalatedConv("late", "billing", "normal", "en")}, Notify: split{patients, &recorder{}}, Trigger: &triggers{},
		Log: log, Now: func() time.Time { return t0 }, NewID: func() string { return "offer-1" }},
		routing.Config{Queues: []string{"general", "billing"}, OfferTimeout: time.Minute, Overflow: map[string]routing.Overflow{"billing": {After: 10 * time.Minute, To: "general"}}})
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.Offers["late"].AgentID != "gus" {
		t.Fatalf("offers = %v, want the overdue billing conversation offered to the general agent", store.Offers)
	}
	if w := store.Queued["new"]; w.Queue != "billing" {
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
	store := routingtest.NewMemStore(routing.Agent{ID: "ana", Available: true, Skills: []string{"general"}, Capacity: 1, Active: 1})
	store.Offers["c1"] = routingtest.Offer{AgentID: "ana", OfferID: "offer-1"}
	agents, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{}, &recorder{}, agents, trig)
	ctx := context.Background()
	if err := svc.EndedWhileOffered(ctx, routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"check c1 ana offer-1 after 0s"}; !slices.Equal(*trig, want) || store.Offers["c1"].AgentID != "ana" {
		t.Fatalf("the stream side asked %v and changed %v; want only a request to the routing function", *trig, store.Offers)
	}
	if err := svc.Withdraw(ctx, routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "offer-1", Withdraw: true}); err != nil {
		t.Fatal(err)
	}
	if a := store.Agents["ana"]; !a.Available || a.Active != 0 {
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
	store := routingtest.NewMemStore() // nobody online
	store.Queued["u"] = routing.Waiting{ConversationID: "u", Queue: "general", Priority: routing.Urgent, Language: "en", EnqueuedAt: t0.Add(-3 * time.Minute), QueuedAt: t0.Add(-3 * time.Minute)}
	store.Queued["recent"] = routing.Waiting{ConversationID: "recent", Queue: "general", Priority: routing.Urgent, Language: "en", EnqueuedAt: t0.Add(-time.Minute), QueuedAt: t0.Add(-time.Minute)}
	store.Queued["n"] = routing.Waiting{ConversationID: "n", Queue: "general", Priority: routing.Normal, Language: "en", EnqueuedAt: t0.Add(-time.Hour), QueuedAt: t0.Add(-time.Hour)}
	c := convs{"u": escalatedConv("u", "general", routing.Urgent, "en")}
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
	store := routingtest.NewMemStore(
		routing.Agent{ID: "gus", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
		routing.Agent{ID: "full", Available: true, Skills: []string{"billing"}, Languages: []string{"en"}, Capacity: 1, Active: 1},
	)
	store.Queued["b"] = routing.Waiting{ConversationID: "b", Queue: "billing", Priority: routing.Normal, Language: "es", EnqueuedAt: t0, QueuedAt: t0}
	agents, trig := &recorder{}, &triggers{}
	svc := newService(store, convs{"b": escalatedConv("b", "billing", routing.Normal, "es")}, &recorder{}, agents, trig)
	ctx := context.Background()
	if err := svc.Assign(ctx, routing.Assignment{ConversationID: "b", AgentID: "full", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Assign(ctx, routing.Assignment{ConversationID: "b", AgentID: "gus", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	if store.Offers["b"].AgentID != "gus" {
		t.Fatalf("offers %v, want b offered to gus", store.Offers)
	}
	if err := svc.Assign(ctx, routing.Assignment{ConversationID: "gone", AgentID: "gus", By: "sue"}); err != nil {
		t.Fatal(err)
	}
	var outcomes []routing.AssignmentOutcome
	offered := false
	for _, f := range agents.frames {
		switch fr := f.frame.(type) {
		case routing.AssignmentOutcome:
			if f.to != "sue" {
				t.Fatalf("an assignment's outcome went to %s", f.to)
			}
			outcomes = append(outcomes, fr)
		case routing.OfferNote:
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
	store := routingtest.NewMemStore(
		routing.Agent{ID: "ana", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1},
		routing.Agent{ID: "ben", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1, IdleSince: t0},
	)
	store.Queued["g1"] = routing.Waiting{ConversationID: "g1", Queue: "general", Priority: routing.Normal, Language: "en", EnqueuedAt: t0}
	agents := &recorder{gone: map[string]bool{"ana": true}}
	svc := newService(store, convs{"g1": escalatedConv("g1", "general", "normal", "en")}, &recorder{}, agents, &triggers{})
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.Offers["g1"].AgentID != "ben" || len(agents.frames) != 1 || agents.frames[0].to != "ben" {
		t.Fatalf("offers %v, frames %v: want g1 offered to ben, the one agent with a console", store.Offers, agents.frames)
	}
	if a := store.Agents["ana"]; !a.Available || a.Active != 0 {
		t.Errorf("ana = %+v: want her available with her capacity back", *a)
	}
	// Ben declines: ana, back with a console, may be offered it.
	agents.gone = nil
	if ok, err := store.Release(context.Background(), "g1", "ben", "offer-1", routing.Declined, t0); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.Offers["g1"].AgentID != "ana" {
		t.Errorf("after ben declined, offers = %v: want g1 offered to ana, who never saw it", store.Offers)
	}
}

// readCount is a Store that counts its reads of waiting conversations.
type readCount struct {
	*routingtest.MemStore
	reads int
}

func (r *readCount) Waiting(ctx context.Context, queue string) ([]routing.Waiting, error) {
	r.reads++
	return r.MemStore.Waiting(ctx, queue)
}

func (r *readCount) AllWaiting(ctx context.Context) ([]routing.Waiting, error) {
	r.reads++
	return r.MemStore.AllWaiting(ctx)
}

// TestARoutingRunReadsTheQueuesOncePerPass (issue 21): a pass reads every
// queue at once (one read, not one per queue), and what a run leaves
// waiting is its last pass's list less what it offered, so the places it
// tells and the stranded-patient check read nothing again — and still see
// the offered conversation gone: the one left is told it is first and is
// the only one a supervisor hears of.
func TestARoutingRunReadsTheQueuesOncePerPass(t *testing.T) {
	mem := routingtest.NewMemStore(routing.Agent{ID: "ana", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 1})
	c := convs{}
	for i, id := range []string{"u1", "u2"} {
		at := t0.Add(-10*time.Minute + time.Duration(i)*time.Second)
		mem.Queued[id] = routing.Waiting{ConversationID: id, Queue: "general", Priority: routing.Urgent, Language: "en", EnqueuedAt: at, QueuedAt: at}
		c[id] = escalatedConv(id, "general", routing.Urgent, "en")
	}
	store := &readCount{MemStore: mem}
	patients, sup := &recorder{}, &recorder{}
	svc := newService(store, c, patients, sup, &triggers{}).WithUrgentAlerts(alertMarks{}, 2*time.Minute)
	if err := svc.Route(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.Offers["u1"].AgentID != "ana" {
		t.Fatalf("offers = %v, want u1 to ana", store.Offers)
	}
	if want := []told{{"u2", 1}}; !slices.Equal(patients.frames, want) {
		t.Errorf("patients told %v, want %v", patients.frames, want)
	}
	if len(sup.alerts) != 1 || sup.alerts[0].ConversationID != "u2" {
		t.Errorf("supervisors alerted of %v, want u2 only (u1 was just offered)", sup.alerts)
	}
	if store.reads != 1 {
		t.Errorf("%d reads of the waiting conversations for one pass over 2 queues, want 1", store.reads)
	}
}
