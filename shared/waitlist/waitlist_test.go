package waitlist_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/scheduling/schedulingtest"
	"github.com/patientservicecenter/psc/shared/waitlist"
	"github.com/patientservicecenter/psc/shared/waitlist/waitlisttest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type world struct {
	sched *scheduling.Service
	appts *schedulingtest.MemStore
	store *waitlisttest.MemStore
	wl    *waitlist.Service
	clk   *clock
	slot  scheduling.Slot
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	appts := schedulingtest.NewMemStore()
	sched := scheduling.NewService(dir, appts, scheduling.Config{Notice: time.Hour}, clk.now)
	store := waitlisttest.NewMemStore()
	wl := waitlist.NewService(store, sched, 15*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), clk.now)
	open, err := sched.Search(context.Background(), scheduling.Query{Provider: "dr-chen", From: clk.t.AddDate(0, 0, 3), To: clk.t.AddDate(0, 0, 10), Limit: 1})
	if err != nil || len(open) != 1 {
		t.Fatalf("search: %v %v", open, err)
	}
	return &world{sched: sched, appts: appts, store: store, wl: wl, clk: clk, slot: open[0]}
}

// holds lists the appointments holding the world's slot: never more than one.
func (w *world) holders(t *testing.T) []scheduling.Appointment {
	t.Helper()
	var out []scheduling.Appointment
	for _, a := range w.appts.All() {
		if a.Slot.ID == w.slot.ID && (a.State.Active() || a.State == scheduling.Held) {
			out = append(out, a)
		}
	}
	if len(out) > 1 {
		t.Fatalf("the slot is held by %d appointments: %+v", len(out), out)
	}
	return out
}

func (w *world) offered(t *testing.T) []waitlist.Entry {
	t.Helper()
	p, _ := w.sched.Directory().Provider("dr-chen")
	all, err := w.store.Waiting(context.Background(), p.Specialty)
	if err != nil {
		t.Fatal(err)
	}
	var out []waitlist.Entry
	for _, e := range all {
		if e.State == waitlist.Offered {
			out = append(out, e)
		}
	}
	if len(out) > 1 {
		t.Fatalf("%d patients hold an offer at once", len(out))
	}
	return out
}

// settle runs what the scheduling stream runs for an appointment change.
func (w *world) settle(t *testing.T, a scheduling.Appointment) {
	t.Helper()
	if err := w.wl.Settled(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// TestAFreedTimeGoesDownTheWaitlistUntilSomeoneTakesIt (issue 20, item 7):
// twenty patients wait; a cancellation frees one time; it is held for the
// first, then (the hold lapsing, or let go) for the next, in the order
// they joined; one takes it. At no step do two patients hold it, and it is
// never left free while someone who fits still waits.
func TestAFreedTimeGoesDownTheWaitlistUntilSomeoneTakesIt(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := w.sched.Directory().Provider("dr-chen")
	var entries []waitlist.Entry
	for i := range 20 {
		e, err := w.wl.Join(ctx, waitlist.Entry{PatientID: fmt.Sprint("wait-", i), PatientName: "P", Specialty: p.Specialty, Locale: "en"})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
		w.clk.add(time.Second)
	}
	if again, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "wait-0", Specialty: p.Specialty}); err != nil || again.ID != entries[0].ID {
		t.Fatalf("joining twice: %+v %v", again, err)
	}
	// Someone else had the time, and cancels.
	a, err := w.sched.Book(ctx, scheduling.BookRequest{Token: "x", SlotID: w.slot.ID, PatientID: "other", By: "patient"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.sched.Cancel(ctx, a.ID, "other", "patient")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.wl.Freed(ctx, c.Slot); err != nil {
		t.Fatal(err)
	}
	next := 0
	for round := range 4 {
		h := w.holders(t)
		o := w.offered(t)
		if len(h) != 1 || h[0].State != scheduling.Held || h[0].PatientID != entries[next].PatientID || len(o) != 1 || o[0].ID != entries[next].ID {
			t.Fatalf("round %d: the slot is held by %+v, offered to %+v; want patient %d", round, h, o, next)
		}
		// The same freeing seen again (a redelivered stream record) offers nothing more.
		if _, ok, err := w.wl.Freed(ctx, w.slot); err != nil || ok {
			t.Fatalf("a second Freed offered again: %v %v", ok, err)
		}
		if round%2 == 0 {
			// The hold lapses: the sweep lets it go.
			w.clk.add(15 * time.Minute)
			if _, err := w.sched.Confirm(ctx, h[0].ID, h[0].PatientID, "patient"); err == nil {
				t.Fatal("a lapsed hold was taken")
			}
			if ok, err := w.sched.ExpireHold(ctx, h[0].ID); err != nil || !ok {
				t.Fatalf("expire: %v %v", ok, err)
			}
		} else if _, err := w.sched.Cancel(ctx, h[0].ID, h[0].PatientID, "patient"); err != nil { // let go
			t.Fatal(err)
		}
		let, _ := w.appts.Get(ctx, h[0].ID)
		w.settle(t, let)
		next++
	}
	// Patient 4 takes it.
	h := w.holders(t)
	booked, err := w.sched.Confirm(ctx, h[0].ID, entries[4].PatientID, "patient")
	if err != nil || booked.State != scheduling.Booked {
		t.Fatalf("taking the time: %+v %v", booked, err)
	}
	w.settle(t, booked)
	if e, _ := w.store.Get(ctx, entries[4].ID); e.State != waitlist.Booked {
		t.Fatalf("the patient who took it is %s", e.State)
	}
	if e, _ := w.store.Get(ctx, entries[0].ID); e.State != waitlist.Waiting || len(e.Passed) != 1 {
		t.Fatalf("a patient whose hold lapsed: %+v", e)
	}
	if o := w.offered(t); len(o) != 0 {
		t.Fatalf("offers left: %+v", o)
	}
	if h := w.holders(t); len(h) != 1 || h[0].State != scheduling.Booked {
		t.Fatalf("the slot ends with %+v", h)
	}
}

// TestRacingFreesHoldTheSlotOnce: the same freed time reaching the
// waitlist from many deliveries at once is held once, for the first
// patient; two times freed at once go to two patients.
func TestRacingFreesHoldTheSlotOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := w.sched.Directory().Provider("dr-chen")
	for i := range 20 {
		if _, err := w.wl.Join(ctx, waitlist.Entry{PatientID: fmt.Sprint("race-", i), Specialty: p.Specialty}); err != nil {
			t.Fatal(err)
		}
		w.clk.add(time.Second)
	}
	other, err := w.sched.Search(ctx, scheduling.Query{Provider: "dr-chen", From: w.slot.End, To: w.slot.End.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(other) != 1 {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slot := w.slot
			if i%2 == 1 {
				slot = other[0]
			}
			if _, _, err := w.wl.Freed(ctx, slot); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	w.holders(t)
	held := map[string]string{} // slot → patient
	for _, a := range w.appts.All() {
		if a.State == scheduling.Held {
			if prev, ok := held[a.Slot.ID]; ok {
				t.Fatalf("slot %s held for %s and %s", a.Slot.ID, prev, a.PatientID)
			}
			held[a.Slot.ID] = a.PatientID
		}
	}
	patients := map[string]bool{}
	for _, pt := range held {
		patients[pt] = true
	}
	if len(held) != 2 || len(patients) != 2 {
		t.Fatalf("holds: %v", held)
	}
}

// TestJoiningAgainAfterLeavingWaitsAtTheEnd: a patient who left (or took a
// time) and joins again waits again, behind those already waiting.
func TestJoiningAgainAfterLeavingWaitsAtTheEnd(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := w.sched.Directory().Provider("dr-chen")
	first, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "a", Specialty: p.Specialty})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.add(time.Second)
	if _, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "b", Specialty: p.Specialty}); err != nil {
		t.Fatal(err)
	}
	if err := w.wl.Leave(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	w.clk.add(time.Second)
	again, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "a", Specialty: p.Specialty, PatientEmail: "a@example.org"})
	if err != nil || again.ID != first.ID || again.State != waitlist.Waiting || again.PatientEmail != "a@example.org" {
		t.Fatalf("joining again: %+v %v", again, err)
	}
	line, _ := w.store.Waiting(ctx, p.Specialty)
	if len(line) != 2 || line[0].PatientID != "b" || line[1].PatientID != "a" {
		t.Fatalf("the line: %+v", line)
	}
}

// TestATimeFreedAtNightIsHeldFromTheMorning: with quiet hours, a hold
// made at night runs from their end, so the patient has it all awake.
func TestATimeFreedAtNightIsHeldFromTheMorning(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	morning := w.clk.now().Add(6 * time.Hour)
	w.wl.WithQuietHours(func(time.Time) time.Time { return morning })
	p, _ := w.sched.Directory().Provider("dr-chen")
	if _, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "night", Specialty: p.Specialty}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := w.wl.Freed(ctx, w.slot); err != nil || !ok {
		t.Fatalf("freed: %v %v", ok, err)
	}
	h := w.holders(t)
	if len(h) != 1 || !h[0].HoldUntil.Equal(morning.Add(15*time.Minute)) {
		t.Fatalf("held until %v, want 15 minutes after the quiet hours", h)
	}
}

// TestBookingAnotherWayLeavesTheWaitlist: a waiting patient who books the
// specialty in the chat or through an agent no longer waits; a freed time
// goes to the next patient.
func TestBookingAnotherWayLeavesTheWaitlist(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := w.sched.Directory().Provider("dr-chen")
	first, _ := w.wl.Join(ctx, waitlist.Entry{PatientID: "early", Specialty: p.Specialty})
	w.clk.add(time.Second)
	second, _ := w.wl.Join(ctx, waitlist.Entry{PatientID: "late", Specialty: p.Specialty})
	other, err := w.sched.Search(ctx, scheduling.Query{Provider: "dr-chen", From: w.slot.End, To: w.slot.End.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(other) != 1 {
		t.Fatal(err)
	}
	a, err := w.sched.Book(ctx, scheduling.BookRequest{Token: "t", SlotID: other[0].ID, PatientID: "early", By: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.wl.BookedElsewhere(ctx, a); err != nil {
		t.Fatal(err)
	}
	if e, _ := w.store.Get(ctx, first.ID); e.State != waitlist.Booked {
		t.Fatalf("the patient who booked: %s", e.State)
	}
	if e, ok, err := w.wl.Freed(ctx, w.slot); err != nil || !ok || e.ID != second.ID {
		t.Fatalf("the freed time went to %+v %v %v, want the next patient", e, ok, err)
	}
}

// TestAPatientLeavesTheWaitlist: every waiting entry of the patient leaves;
// a second time there is nothing to leave.
func TestAPatientLeavesTheWaitlist(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, sp := range []string{"dermatology", "cardiology"} {
		if _, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "leaver", Specialty: sp}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.wl.LeaveAll(ctx, "leaver"); err != nil || n != 2 {
		t.Fatalf("leaving: %d %v", n, err)
	}
	if n, err := w.wl.LeaveAll(ctx, "leaver"); err != nil || n != 0 {
		t.Fatalf("leaving again: %d %v", n, err)
	}
	if _, ok, _ := w.wl.Freed(ctx, w.slot); ok {
		t.Fatal("a freed time was held for a patient who left")
	}
}

// TestOnlyTheOfferInHandIsCurrent: two times freed at the same moment for
// the same patient are both held before either marks the entry; the one
// that marks it is the offer told, the other (let go at once) is not, and
// a hold whose entry is not marked yet is asked about again until
// MarkGrace has passed.
func TestOnlyTheOfferInHandIsCurrent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := w.sched.Directory().Provider("dr-chen")
	e, err := w.wl.Join(ctx, waitlist.Entry{PatientID: "pt-both", Specialty: p.Specialty})
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.sched.Search(ctx, scheduling.Query{Provider: "dr-chen", From: w.slot.End, To: w.slot.End.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(other) != 1 {
		t.Fatal(err)
	}
	// The first Freed has held w.slot and not yet marked the entry.
	first, err := w.sched.Hold(ctx, scheduling.HoldRequest{WaitlistID: e.ID, Until: w.clk.now().Add(15 * time.Minute),
		BookRequest: scheduling.BookRequest{Token: "waitlist:" + e.ID + ":" + w.slot.ID, SlotID: w.slot.ID, PatientID: e.PatientID, By: "waitlist"}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := w.wl.Current(ctx, first); !errors.Is(err, waitlist.ErrNotMarked) || ok {
		t.Fatalf("an unmarked hold: %v %v, want ErrNotMarked", ok, err)
	}
	// The second Freed holds the other time and marks the entry first.
	offered, ok, err := w.wl.Freed(ctx, other[0])
	if err != nil || !ok {
		t.Fatalf("freed: %v %v", ok, err)
	}
	second, err := w.appts.Get(ctx, offered.Hold)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := w.wl.Current(ctx, second); err != nil || !ok {
		t.Fatalf("the marked hold: %v %v, want current", ok, err)
	}
	if ok, err := w.wl.Current(ctx, first); err != nil || ok {
		t.Fatalf("the hold whose mark lost: %v %v, want not current", ok, err)
	}

	// A hold whose Freed stopped before marking stops being asked about.
	w2 := newWorld(t)
	e2, err := w2.wl.Join(ctx, waitlist.Entry{PatientID: "pt-crash", Specialty: p.Specialty})
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := w2.sched.Hold(ctx, scheduling.HoldRequest{WaitlistID: e2.ID, Until: w2.clk.now().Add(15 * time.Minute),
		BookRequest: scheduling.BookRequest{Token: "waitlist:" + e2.ID + ":" + w2.slot.ID, SlotID: w2.slot.ID, PatientID: e2.PatientID, By: "waitlist"}})
	if err != nil {
		t.Fatal(err)
	}
	w2.clk.add(waitlist.MarkGrace)
	if ok, err := w2.wl.Current(ctx, orphan); err != nil || ok {
		t.Fatalf("an orphan hold past the grace: %v %v, want not current", ok, err)
	}
}
