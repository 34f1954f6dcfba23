package routingtest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Store is a routing.Store with what the contract needs to set its scene.
type Store interface {
	routing.Store
	// AddAgent makes an agent available, serving queue, with capacity.
	AddAgent(t *testing.T, id, queue string, capacity int)
	// AddEscalated stores a conversation the bot has just handed off.
	AddEscalated(t *testing.T, id string)
	// EndConversation closes a conversation as its patient does.
	EndConversation(t *testing.T, id string)
	// Active is the agent's count of conversations offered or held.
	Active(t *testing.T, agentID string) int
}

// StoreContract runs the routing.Store contract — a conversation is
// offered to one agent at a time, an agent never past capacity, a queue
// served urgent first then by arrival, releases that give back exactly
// what the offer took — against stores open makes. Ids and queues are
// unique per run, so a shared store (an emulator's tables) serves many.
func StoreContract(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	run := fmt.Sprintf("ct%d-", time.Now().UnixNano())
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	// scene makes a store with a queue of its own and the named agents.
	scene := func(t *testing.T, name string, agents map[string]int) (Store, string, func(string) string) {
		s := open(t)
		id := func(x string) string { return run + name + "-" + x }
		for a, capacity := range agents {
			s.AddAgent(t, id(a), id("q"), capacity)
		}
		return s, id("q"), id
	}
	queue := func(t *testing.T, s Store, w routing.Waiting) routing.Waiting {
		t.Helper()
		s.AddEscalated(t, w.ConversationID)
		if err := s.Enqueue(ctx, w, t0); err != nil {
			t.Fatalf("enqueue %s: %v", w.ConversationID, err)
		}
		return w
	}
	ids := func(ws []routing.Waiting) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.ConversationID)
		}
		return out
	}

	t.Run("AQueueServesUrgentFirstThenByArrival", func(t *testing.T) {
		s, q, id := scene(t, "order", nil)
		late := queue(t, s, routing.Waiting{ConversationID: id("late"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0.Add(2 * time.Second)})
		queue(t, s, routing.Waiting{ConversationID: id("urgent"), Queue: q, Priority: routing.Urgent, EnqueuedAt: t0.Add(3 * time.Second)})
		queue(t, s, routing.Waiting{ConversationID: id("early"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0.Add(time.Second)})
		if err := s.Enqueue(ctx, late, t0); err != nil {
			t.Fatalf("queueing again where it waits (a retry): %v", err)
		}
		ws, err := s.Waiting(ctx, q)
		if got, want := ids(ws), []string{id("urgent"), id("early"), id("late")}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("queue %v (%v), want %v", got, err, want)
		}
	})

	// Every queue read at once holds each queue in its serving order, the
	// same as reading the queue alone (the store may hold other runs'
	// queues: only this scene's are compared).
	t.Run("AllQueuesAtOnceServeInTheSameOrder", func(t *testing.T) {
		s, q, id := scene(t, "all", nil)
		other := id("q2")
		queue(t, s, routing.Waiting{ConversationID: id("b-late"), Queue: other, Priority: routing.Normal, EnqueuedAt: t0.Add(2 * time.Second)})
		queue(t, s, routing.Waiting{ConversationID: id("a-late"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0.Add(2 * time.Second)})
		queue(t, s, routing.Waiting{ConversationID: id("a-urgent"), Queue: q, Priority: routing.Urgent, EnqueuedAt: t0.Add(3 * time.Second)})
		queue(t, s, routing.Waiting{ConversationID: id("b-early"), Queue: other, Priority: routing.Normal, EnqueuedAt: t0.Add(time.Second)})
		all, err := s.AllWaiting(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			queue string
			ids   []string
		}{{q, []string{id("a-urgent"), id("a-late")}}, {other, []string{id("b-early"), id("b-late")}}} {
			var got []routing.Waiting
			for _, w := range all {
				if w.Queue == want.queue {
					got = append(got, w)
				}
			}
			if !slices.Equal(ids(got), want.ids) {
				t.Errorf("queue %s read with the others: %v, want %v", want.queue, ids(got), want.ids)
			}
			alone, err := s.Waiting(ctx, want.queue)
			if err != nil || !slices.EqualFunc(alone, got, func(a, b routing.Waiting) bool { return reflect.DeepEqual(a, b) }) {
				t.Errorf("queue %s alone %+v (%v), with the others %+v", want.queue, alone, err, got)
			}
		}
	})

	t.Run("AConversationIsOfferedToOneAgentAndNoAgentPastCapacity", func(t *testing.T) {
		s, q, id := scene(t, "offer", map[string]int{"ana": 1, "ben": 1})
		w := queue(t, s, routing.Waiting{ConversationID: id("c1"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0})
		w2 := queue(t, s, routing.Waiting{ConversationID: id("c2"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0.Add(time.Second)})
		if res, err := s.Offer(ctx, w, id("ana"), "o1", t0.Add(time.Minute), t0); err != nil || res != routing.Offered {
			t.Fatalf("offer: %v %v", res, err)
		}
		if res, _ := s.Offer(ctx, w, id("ben"), "o2", t0.Add(time.Minute), t0); res == routing.Offered {
			t.Fatal("the conversation was offered to a second agent")
		}
		if res, _ := s.Offer(ctx, w2, id("ana"), "o3", t0.Add(time.Minute), t0); res == routing.Offered {
			t.Fatal("an agent at capacity was offered another conversation")
		}
		if a, b := s.Active(t, id("ana")), s.Active(t, id("ben")); a != 1 || b != 0 {
			t.Fatalf("active: ana %d, ben %d; want 1 and 0", a, b)
		}
		if ws, _ := s.Waiting(ctx, q); !slices.Equal(ids(ws), []string{id("c2")}) {
			t.Fatalf("queue %v, want only c2 (c1 is on offer)", ids(ws))
		}
		if err := s.Enqueue(ctx, w, t0); !fault.Is(err, fault.Conflict) {
			t.Fatalf("queueing a conversation on offer: %v, want a conflict", err)
		}
	})

	t.Run("AStaleViewOfTheQueueOffersNothing", func(t *testing.T) {
		s, q, id := scene(t, "stale", map[string]int{"ana": 2})
		w := queue(t, s, routing.Waiting{ConversationID: id("c1"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0})
		moved := w
		moved.Queue = id("elsewhere")
		if res, _ := s.Offer(ctx, moved, id("ana"), "o1", t0.Add(time.Minute), t0); res == routing.Offered {
			t.Fatal("an offer from a view of another queue stuck")
		}
		if s.Active(t, id("ana")) != 0 {
			t.Fatal("a refused offer took capacity")
		}
	})

	t.Run("ADeclineGivesBackWhatTheOfferTook", func(t *testing.T) {
		s, q, id := scene(t, "decline", map[string]int{"ana": 1})
		w := queue(t, s, routing.Waiting{ConversationID: id("c1"), Queue: q, Priority: routing.High, EnqueuedAt: t0})
		if res, err := s.Offer(ctx, w, id("ana"), "o1", t0.Add(time.Minute), t0); err != nil || res != routing.Offered {
			t.Fatalf("offer: %v %v", res, err)
		}
		if ok, err := s.Release(ctx, w.ConversationID, id("ana"), "another-offer", routing.Declined, t0); err != nil || ok {
			t.Fatalf("releasing with another offer's id: %v %v, want nothing released", ok, err)
		}
		if ok, err := s.Release(ctx, w.ConversationID, id("ana"), "o1", routing.Declined, t0); err != nil || !ok {
			t.Fatalf("decline: %v %v", ok, err)
		}
		ws, _ := s.Waiting(ctx, q)
		if len(ws) != 1 || ws[0].ConversationID != w.ConversationID || ws[0].Priority != routing.High || !ws[0].EnqueuedAt.Equal(t0) ||
			!slices.Equal(ws[0].Refused, []string{id("ana")}) {
			t.Fatalf("after the decline the queue is %+v, want c1 back at its place, refused by ana", ws)
		}
		if s.Active(t, id("ana")) != 0 {
			t.Fatal("the decline did not give the capacity back")
		}
		if ok, _ := s.Release(ctx, w.ConversationID, id("ana"), "o1", routing.Declined, t0); ok {
			t.Fatal("a second release of the same offer released something")
		}
	})

	t.Run("ALapseSetsTheAgentAwayAnUndeliveredOfferDoesNot", func(t *testing.T) {
		s, q, id := scene(t, "lapse", map[string]int{"ana": 2, "ben": 2})
		a := queue(t, s, routing.Waiting{ConversationID: id("a"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0})
		b := queue(t, s, routing.Waiting{ConversationID: id("b"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0.Add(time.Second)})
		for _, o := range []struct {
			w     routing.Waiting
			agent string
		}{{a, "ana"}, {b, "ben"}} {
			if res, err := s.Offer(ctx, o.w, id(o.agent), "o-"+o.agent, t0.Add(time.Minute), t0); err != nil || res != routing.Offered {
				t.Fatalf("offer to %s: %v %v", o.agent, res, err)
			}
		}
		if ok, err := s.Release(ctx, a.ConversationID, id("ana"), "", routing.Lapsed, t0); err != nil || !ok {
			t.Fatalf("lapse: %v %v", ok, err)
		}
		if ok, err := s.Release(ctx, b.ConversationID, id("ben"), "o-ben", routing.Undelivered, t0); err != nil || !ok {
			t.Fatalf("undelivered: %v %v", ok, err)
		}
		avail, err := s.AvailableAgents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		has := func(agent string) bool {
			return slices.ContainsFunc(avail, func(x routing.Agent) bool { return x.ID == id(agent) })
		}
		if has("ana") || !has("ben") {
			t.Fatalf("available after a lapse (ana) and an undelivered offer (ben): ana %v, ben %v; want ben only", has("ana"), has("ben"))
		}
		ws, _ := s.Waiting(ctx, q)
		if len(ws) != 2 || !slices.Equal(ws[0].Refused, []string{id("ana")}) || len(ws[1].Refused) != 0 {
			t.Fatalf("queue %+v: want a refused by ana, b refused by no one", ws)
		}
		if s.Active(t, id("ana"))+s.Active(t, id("ben")) != 0 {
			t.Fatal("capacity not given back")
		}
	})

	t.Run("AnOfferWhosePatientLeftGivesCapacityBackAndQueuesNothing", func(t *testing.T) {
		s, q, id := scene(t, "left", map[string]int{"ana": 1})
		w := queue(t, s, routing.Waiting{ConversationID: id("c1"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0})
		if res, err := s.Offer(ctx, w, id("ana"), "o1", t0.Add(time.Minute), t0); err != nil || res != routing.Offered {
			t.Fatalf("offer: %v %v", res, err)
		}
		s.EndConversation(t, w.ConversationID)
		if ok, err := s.Release(ctx, w.ConversationID, id("ana"), "o1", routing.Withdrawn, t0); err != nil || !ok {
			t.Fatalf("withdrawing: %v %v", ok, err)
		}
		if ws, _ := s.Waiting(ctx, q); len(ws) != 0 || s.Active(t, id("ana")) != 0 {
			t.Fatalf("after the patient left: queue %v, ana active %d; want nothing queued, nothing held", ids(ws), s.Active(t, id("ana")))
		}
	})

	t.Run("AMoveHappensOnlyFromWhereItWaits", func(t *testing.T) {
		s, q, id := scene(t, "move", nil)
		w := queue(t, s, routing.Waiting{ConversationID: id("c1"), Queue: q, Priority: routing.Normal, EnqueuedAt: t0})
		to := id("fallback")
		if ok, err := s.Move(ctx, w, to, t0.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("move: %v %v", ok, err)
		}
		if ok, _ := s.Move(ctx, w, id("third"), t0.Add(time.Minute)); ok {
			t.Fatal("a move from where it no longer waits moved it")
		}
		ws, _ := s.Waiting(ctx, to)
		if len(ws) != 1 || ws[0].ConversationID != w.ConversationID || !ws[0].EnqueuedAt.Equal(t0) {
			t.Fatalf("the fallback queue is %+v, want c1 keeping its arrival", ws)
		}
	})
}
