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
	moved, err := svc.Reschedule(ctx, w.ID, w.PatientID, later[0].ID, "agent-1")
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
