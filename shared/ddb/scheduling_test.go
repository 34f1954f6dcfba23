package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// schedulingService books against the emulator's scheduling table, with
// a clock at now (so the slots are in the future whatever day it runs).
func schedulingService(t *testing.T) (*scheduling.Service, *ddb.Appointments) {
	t.Helper()
	d, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	store := ddb.NewAppointments(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"], 24*time.Hour)
	return scheduling.NewService(d, store, scheduling.Config{Notice: time.Hour, TelehealthURL: "https://video.example.org/v"}, nil), store
}

// TestFiftyParallelBookingsOfOneSlot: fifty patients book the same slot at
// once against DynamoDB: exactly one appointment, forty-nine conflicts
// each with alternatives; the winner's retries (same token) return the
// same appointment and book nothing more.
func TestFiftyParallelBookingsOfOneSlot(t *testing.T) {
	svc, store := schedulingService(t)
	ctx := context.Background()
	now := time.Now()
	// A provider and day far enough out that no other test run books it:
	// each run picks its own week, 30–400 days ahead.
	from := now.AddDate(0, 0, 30+int(now.UnixNano()%370))
	open, err := svc.Search(ctx, scheduling.Query{Provider: "dr-okafor", VisitType: "well-child", From: from, To: from.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(open) != 1 {
		t.Fatalf("search: %v %v", open, err)
	}
	slot := open[0]
	run := fmt.Sprint(now.UnixNano())
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
	if in, err := store.Between(ctx, slot.Start.Add(-time.Minute), slot.Start.Add(time.Minute)); err != nil || len(in) != 1 || in[0].ID != w.ID {
		t.Fatalf("appointments starting around the slot: %+v %v", in, err)
	}
	held, err := store.Busy(ctx, slot.Provider, slot.Start.Add(-time.Hour), slot.End.Add(time.Hour))
	if err != nil || len(held) != 2 || !held[slot.Start.Unix()] || !held[slot.Start.Add(scheduling.Unit).Unix()] {
		t.Fatalf("held units around the slot: %v %v", held, err)
	}

	// Reschedule to an overlapping longer visit's half, then cancel: the
	// units follow, and the slot opens again.
	later, err := svc.Search(ctx, scheduling.Query{Provider: "dr-okafor", VisitType: "follow-up", From: slot.End, To: slot.End.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(later) != 1 {
		t.Fatalf("search later: %v %v", later, err)
	}
	moved, err := svc.Reschedule(ctx, w.ID, w.PatientID, later[0].ID, "agent-1", true) // a well-child visit moved to a follow-up: a deliberate change of visit
	if err != nil || moved.State != scheduling.Rescheduled || moved.Version != 2 {
		t.Fatalf("reschedule: %+v %v", moved, err)
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: run + "-x", SlotID: slot.ID, PatientID: "race-" + run + "-x"}); err != nil {
		t.Fatalf("the old slot did not open: %v", err)
	}
	if _, err := svc.Cancel(ctx, w.ID, w.PatientID, "patient"); err != nil {
		t.Fatal(err)
	}
	if held, _ := store.Busy(ctx, later[0].Provider, later[0].Start, later[0].End); len(held) != 0 {
		t.Fatalf("units still held after the cancellation: %v", held)
	}
	got, err := store.Get(ctx, w.ID)
	if err != nil || got.State != scheduling.Cancelled || len(got.History) != 3 || got.History[1].From != slot.ID {
		t.Fatalf("stored after cancelling: %+v %v", got, err)
	}
}

// TestRemindersStore: reminders come due at their time (and not before),
// are claimed once, and are gone once deleted.
func TestRemindersStore(t *testing.T) {
	n := ddb.NewNotices(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"])
	ctx := context.Background()
	// A time of its own, so runs never meet: some hour next year.
	now := time.Now()
	base := time.Date(now.Year()+1, time.Month(1+now.Nanosecond()%12), 1+now.Nanosecond()%28, now.Nanosecond()%24, 0, 0, 0, time.UTC)
	id := fmt.Sprint("ap-rem-", now.UnixNano())
	start := base.Add(26 * time.Hour)
	rs := notify.Plan(scheduling.Appointment{ID: id, State: scheduling.Booked, Slot: scheduling.Slot{Start: start, End: start.Add(30 * time.Minute)}}, base)
	if len(rs) != 2 {
		t.Fatalf("plan: %+v", rs)
	}
	if err := n.Put(ctx, rs); err != nil {
		t.Fatal(err)
	}
	mine := func(at time.Time) []notify.Reminder {
		t.Helper()
		due, err := n.Due(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		var out []notify.Reminder
		for _, r := range due {
			if r.AppointmentID == id {
				out = append(out, r)
			}
		}
		return out
	}
	if due := mine(rs[0].At.Add(-time.Second)); len(due) != 0 {
		t.Fatalf("due a second early: %+v", due)
	}
	due := mine(rs[0].At)
	if len(due) != 1 || due[0].Kind != notify.Remind24h || !due[0].Start.Equal(start) {
		t.Fatalf("due at the 24h mark: %+v", due)
	}
	if ok, err := n.Claim(ctx, due[0]); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if ok, err := n.Claim(ctx, due[0]); err != nil || ok {
		t.Fatalf("claimed twice: %v %v", ok, err)
	}
	if err := n.Delete(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if due := mine(rs[1].At); len(due) != 0 {
		t.Fatalf("deleted reminders still due: %+v", due)
	}
	if sent, err := n.Sent(ctx, id+"#v1"); err != nil || sent {
		t.Fatalf("sent before marking: %v %v", sent, err)
	}
	if err := n.MarkSent(ctx, id+"#v1"); err != nil {
		t.Fatal(err)
	}
	if sent, err := n.Sent(ctx, id+"#v1"); err != nil || !sent {
		t.Fatalf("sent after marking: %v %v", sent, err)
	}
}
