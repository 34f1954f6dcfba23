package kpi

import (
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
)

var t0 = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)

func conv(state chat.State) chat.Conversation {
	return chat.Conversation{ID: "c1", State: state, Queue: "billing", UpdatedAt: t0.Add(time.Minute),
		Handoff: &chat.Handoff{Queue: "billing", At: t0}}
}

// TestEachChangeCountsWhatItShould: each state change of a conversation
// gives its event, and changes that are not counted give none.
func TestEachChangeCountsWhatItShould(t *testing.T) {
	targets := Targets{ByQueue: map[string]time.Duration{"billing": 30 * time.Second}}
	assigned := conv(chat.StateAssigned)
	assigned.AgentID, assigned.AssignedAt = "a1", t0.Add(20*time.Second)
	late := assigned
	late.AssignedAt = t0.Add(40 * time.Second)
	transferred := conv(chat.StateWaiting)
	transferred.Transfer = &chat.Transfer{By: "Ana"}
	botClosed := chat.Conversation{ID: "c1", State: chat.StateClosed, UpdatedAt: t0}
	offered := conv(chat.StateOffered)
	offered.OfferedTo = "a2"
	for _, tc := range []struct {
		name     string
		old, new chat.Conversation
		want     string
		check    func(Event) bool
	}{
		{"handed off", chat.Conversation{ID: "c1", State: chat.StateBot}, conv(chat.StateEscalated), Escalated, func(e Event) bool { return e.At.Equal(t0) }},
		{"offered", conv(chat.StateWaiting), offered, Offered, func(e Event) bool { return e.AgentID == "a2" && e.Queue == "billing" }},
		{"taken within the target", conv(chat.StateOffered), assigned, Handled, func(e Event) bool { return e.Wait == 20*time.Second && e.WithinTarget && e.AgentID == "a1" }},
		{"taken past the target", conv(chat.StateOffered), late, Handled, func(e Event) bool { return e.Wait == 40*time.Second && !e.WithinTarget }},
		{"left while waiting", conv(chat.StateWaiting), conv(chat.StateClosed), Abandoned, nil},
		{"left while offered", conv(chat.StateOffered), conv(chat.StateClosed), Abandoned, nil},
		{"resolved by the bot", chat.Conversation{ID: "c1", State: chat.StateBot}, botClosed, Contained, func(e Event) bool { return e.Queue == "" }},
		{"handed on", assigned, transferred, Transferred, func(e Event) bool { return e.AgentID == "a1" }},
		{"ended by the patient while held: counted at wrap-up", assigned, conv(chat.StateClosed), "", nil},
		{"no change of state", conv(chat.StateWaiting), conv(chat.StateWaiting), "", nil},
		{"a turn of the bot", chat.Conversation{ID: "c1", State: chat.StateBot}, chat.Conversation{ID: "c1", State: chat.StateBot}, "", nil},
	} {
		evs := Events(tc.old, tc.new, targets)
		if tc.want == "" {
			if len(evs) != 0 {
				t.Errorf("%s: events %+v, want none", tc.name, evs)
			}
			continue
		}
		if len(evs) != 1 || evs[0].Kind != tc.want || evs[0].Key == "" || (tc.check != nil && !tc.check(evs[0])) {
			t.Errorf("%s: events %+v, want one %s", tc.name, evs, tc.want)
		}
	}
	// The same change twice has the same key: it counts once.
	if a, b := Events(conv(chat.StateOffered), assigned, targets), Events(conv(chat.StateOffered), assigned, targets); a[0].Key != b[0].Key {
		t.Error("a redelivered change has another key")
	}
}

// TestTheWrapUpCountsTheHandleTime: setting the disposition ends the
// handle time, from the acceptance; only once.
func TestTheWrapUpCountsTheHandleTime(t *testing.T) {
	held := conv(chat.StateClosed)
	held.AgentID, held.AssignedAt = "a1", t0
	done := held
	done.Disposition, done.UpdatedAt = "resolved", t0.Add(5*time.Minute)
	e, ok := WrapUp(held, done)
	if !ok || e.Kind != WrappedUp || e.Handle != 5*time.Minute || e.AgentID != "a1" {
		t.Fatalf("wrap-up %+v %v", e, ok)
	}
	if _, ok := WrapUp(done, done); ok {
		t.Fatal("a wrapped-up conversation counted again")
	}
}

// TestRowsSayTheFiguresSupervisorsRead: averages, the 90th percentile to
// its bucket's bound, service level, transfer rate, containment.
func TestRowsSayTheFiguresSupervisorsRead(t *testing.T) {
	var r Row
	for _, w := range []time.Duration{3, 8, 12, 12, 25, 25, 40, 50, 70, 200} {
		wait := w * time.Second
		r.Add(FromFields(Increments(Event{Kind: Handled, Wait: wait, WithinTarget: wait <= 30*time.Second})))
	}
	r.Add(FromFields(Increments(Event{Kind: Transferred})))
	r.Add(FromFields(Increments(Event{Kind: Escalated})))
	r.Add(FromFields(Increments(Event{Kind: Contained})))
	r.Add(FromFields(Increments(Event{Kind: Contained})))
	r.Add(FromFields(Increments(Event{Kind: Contained})))
	if r.Handled != 10 || r.AverageWait() != 44500*time.Millisecond {
		t.Fatalf("handled %d, average wait %s", r.Handled, r.AverageWait())
	}
	if p := r.P90Wait(); p != 90*time.Second {
		t.Fatalf("p90 %s, want 90s (the ninth of ten waits, 70 s, is in the 60–90 s bucket)", p)
	}
	if r.ServiceLevel() != 0.6 || r.TransferRate() != 0.1 || r.Containment() != 0.75 {
		t.Fatalf("service level %.2f, transfer rate %.2f, containment %.2f", r.ServiceLevel(), r.TransferRate(), r.Containment())
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets("billing=2m, urgent=30s, 45s")
	if err != nil || got.For("billing") != 2*time.Minute || got.For("urgent") != 30*time.Second || got.For("general") != 45*time.Second {
		t.Fatalf("targets %+v %v", got, err)
	}
	if d := (Targets{}).For("x"); d != time.Minute {
		t.Fatalf("no targets: %s, want a minute", d)
	}
	for _, bad := range []string{"billing=soon", "0s", "-5s"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSatisfactionIsTheMeanScoreAndTheShareSatisfied: answered surveys
// give the mean score and the share scored 4 or 5, under the rated
// conversation's queue and agent (a visit's survey under neither).
func TestSatisfactionIsTheMeanScoreAndTheShareSatisfied(t *testing.T) {
	var r Row
	for i, score := range []int{5, 4, 2, 5, 1} {
		e := Rating("sv"+string(rune('a'+i)), "c1", "billing", "a1", score, t0)
		r.Add(FromFields(Increments(e)))
	}
	if r.Rated != 5 || r.CSAT() != 3.4 || r.SatisfiedShare() != 0.6 {
		t.Fatalf("rated %d, CSAT %.2f, satisfied %.2f; want 5, 3.40, 0.60", r.Rated, r.CSAT(), r.SatisfiedShare())
	}
	e := Rating("sv1", "c1", "billing", "a1", 3, t0)
	if e.Key != "rated#sv1" || e.ConversationID != "c1" {
		t.Fatalf("event %+v: want it counted once per survey, under its conversation", e)
	}
	if dims := Dimensions(e); len(dims) != 3 || dims[1] != "queue#billing" || dims[2] != "agent#a1" {
		t.Fatalf("dimensions %v", dims)
	}
	if dims := Dimensions(Rating("sv2", "ap1", "", "", 5, t0)); len(dims) != 1 {
		t.Fatalf("a visit's survey counts under every conversation only, got %v", dims)
	}
	var none Row
	if none.CSAT() != 0 || none.SatisfiedShare() != 0 {
		t.Fatal("no survey answered: want 0")
	}
}
