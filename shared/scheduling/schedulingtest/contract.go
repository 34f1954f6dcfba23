package schedulingtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// StoreContract runs the scheduling.Store contract against a store
// newStore makes, through the scheduling service with the project's
// directory. now is the service's clock; the suite books in a week of its
// own from from (each run on a shared store picks another, so runs do not
// take each other's slots).
func StoreContract(t *testing.T, newStore func(t *testing.T) scheduling.Store, now, from time.Time) {
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T) (*scheduling.Service, scheduling.Store) {
		store := newStore(t)
		return scheduling.NewService(dir, store, scheduling.Config{Notice: time.Hour, TelehealthURL: "https://video.example.org/v"}, func() time.Time { return now }), store
	}
	run := fmt.Sprint(time.Now().UnixNano())
	find := func(t *testing.T, svc *scheduling.Service, provider, visit string, after time.Time) scheduling.Slot {
		t.Helper()
		open, err := svc.Search(context.Background(), scheduling.Query{Provider: provider, VisitType: visit, From: after, To: after.AddDate(0, 0, 7), Limit: 1})
		if err != nil || len(open) != 1 {
			t.Fatalf("no open %s %s time from %s: %v %v", provider, visit, after, open, err)
		}
		return open[0]
	}

	t.Run("FiftyPatientsRaceForOneSlot", func(t *testing.T) {
		// Exactly one appointment; forty-nine conflicts, each with three
		// alternatives; the winner's retries (same token) return the same
		// appointment and book nothing more.
		svc, store := setup(t)
		ctx := context.Background()
		slot := find(t, svc, "dr-okafor", "well-child", from)
		var wg sync.WaitGroup
		errs := make([]error, 50)
		appts := make([]scheduling.Appointment, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				appts[i], errs[i] = svc.Book(ctx, scheduling.BookRequest{Token: run, SlotID: slot.ID, PatientID: fmt.Sprintf("race-%s-%02d", run, i), By: "patient"})
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			var taken *scheduling.Taken
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("patients %d and %d both booked %s", winner, i, slot.ID)
			case errors.As(err, &taken) && fault.CodeOf(err) == fault.Conflict:
				if len(taken.Alternatives) != 3 || taken.Alternatives[0].ID == slot.ID {
					t.Errorf("patient %d's alternatives: %+v", i, taken.Alternatives)
				}
			default:
				t.Errorf("patient %d: %v", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("nobody booked the slot")
		}
		w := appts[winner]
		for range 3 {
			again, err := svc.Book(ctx, scheduling.BookRequest{Token: run, SlotID: slot.ID, PatientID: w.PatientID, By: "patient"})
			if err != nil || again.ID != w.ID {
				t.Fatalf("retry with the winner's token: %+v %v", again, err)
			}
		}
		mine, err := store.ForPatient(ctx, w.PatientID)
		if err != nil || len(mine) != 1 || mine[0].ID != w.ID || mine[0].Slot != slot || mine[0].State != scheduling.Booked {
			t.Fatalf("the winner's appointments: %+v %v", mine, err)
		}
		held, err := store.Busy(ctx, slot.Provider, slot.Start.Add(-time.Hour), slot.End.Add(time.Hour))
		if err != nil || len(held) != 2 || !held[slot.Start.Unix()] || !held[slot.Start.Add(scheduling.Unit).Unix()] {
			t.Fatalf("held units around the slot: %v %v", held, err)
		}
	})

	t.Run("TheHoldFollowsAMoveAndACancellation", func(t *testing.T) {
		svc, store := setup(t)
		ctx := context.Background()
		slot := find(t, svc, "dr-rossi", "follow-up", from)
		a, err := svc.Book(ctx, scheduling.BookRequest{Token: run + "-m", SlotID: slot.ID, PatientID: "move-" + run, By: "patient"})
		if err != nil {
			t.Fatal(err)
		}
		later := find(t, svc, "dr-rossi", "follow-up", slot.End.Add(24*time.Hour))
		moved, err := svc.Reschedule(ctx, a.ID, a.PatientID, later.ID, "agent-1", false)
		if err != nil || moved.State != scheduling.Rescheduled || moved.Version != 2 {
			t.Fatalf("reschedule: %+v %v", moved, err)
		}
		if _, err := svc.Book(ctx, scheduling.BookRequest{Token: run + "-x", SlotID: slot.ID, PatientID: "other-" + run}); err != nil {
			t.Fatalf("the old time did not open: %v", err)
		}
		if _, err := svc.Cancel(ctx, a.ID, a.PatientID, "patient"); err != nil {
			t.Fatal(err)
		}
		if held, _ := store.Busy(ctx, later.Provider, later.Start, later.End); len(held) != 0 {
			t.Fatalf("units still held after the cancellation: %v", held)
		}
		got, err := store.Get(ctx, a.ID)
		if err != nil || got.State != scheduling.Cancelled || len(got.History) != 3 || got.History[1].From != slot.ID {
			t.Fatalf("stored after cancelling: %+v %v", got, err)
		}
	})

	t.Run("WritesAreConditional", func(t *testing.T) {
		// Create refuses an id it has and a held unit; Update applies only
		// at the version it was read at; an unknown id is not found.
		svc, store := setup(t)
		ctx := context.Background()
		slot := find(t, svc, "dr-chen", "skin-check", from)
		a, err := svc.Book(ctx, scheduling.BookRequest{Token: run + "-c", SlotID: slot.ID, PatientID: "cond-" + run, By: "patient"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Create(ctx, a); !errors.Is(err, scheduling.ErrExists) && !errors.Is(err, scheduling.ErrSlotTaken) {
			t.Errorf("creating the same appointment again: %v", err)
		}
		other := a
		other.ID = a.ID[:len(a.ID)-1] + "0"
		if other.ID == a.ID {
			other.ID = a.ID[:len(a.ID)-1] + "1"
		}
		if err := store.Create(ctx, other); !errors.Is(err, scheduling.ErrSlotTaken) {
			t.Errorf("another appointment on held units: %v, want ErrSlotTaken", err)
		}
		stale := a
		stale.Version = a.Version + 5
		if err := store.Update(ctx, stale, nil, nil); fault.CodeOf(err) != fault.Conflict {
			t.Errorf("an update at the wrong version: %v, want a conflict", err)
		}
		if _, err := store.Get(ctx, "ap"+fmt.Sprintf("%024x", time.Now().UnixNano())); fault.CodeOf(err) != fault.NotFound {
			t.Errorf("an unknown appointment: %v, want not found", err)
		}
	})
}
