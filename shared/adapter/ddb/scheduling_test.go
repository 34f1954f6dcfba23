package ddb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/scheduling/schedulingtest"
	"github.com/patientservicecenter/psc/shared/waitlist"
	"github.com/patientservicecenter/psc/shared/waitlist/waitlisttest"
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

// bookAhead books the first open time of Dr. Novak in a week of its own,
// 30 to 400 days ahead, for the request's patient (the token is theirs).
func bookAhead(t *testing.T, svc *scheduling.Service, r scheduling.BookRequest) (scheduling.Appointment, error) {
	t.Helper()
	now := time.Now()
	from := now.AddDate(0, 0, 30+int(now.UnixNano()%370))
	open, err := svc.Search(context.Background(), scheduling.Query{Provider: "dr-novak", From: from, To: from.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(open) != 1 {
		t.Fatalf("search: %v %v", open, err)
	}
	r.Token, r.SlotID = r.PatientID, open[0].ID
	return svc.Book(context.Background(), r)
}

// TestAppointmentsKeepTheStoreContract: the DynamoDB store passes the
// suite the in-memory store passes (schedulingtest.StoreContract): fifty
// patients racing for one slot on the emulator, the hold following a move
// and a cancellation, conditional writes. Each run books in a week of its
// own, 30 to 400 days ahead.
func TestAppointmentsKeepTheStoreContract(t *testing.T) {
	now := time.Now()
	from := now.AddDate(0, 0, 30+int(now.UnixNano()%370))
	schedulingtest.StoreContract(t, func(*testing.T) scheduling.Store { _, store := schedulingService(t); return store }, now, from)
}

// TestBetweenListsTheAppointmentsStartingInAWindow: the reminder sweep's
// read, which only the DynamoDB store has.
func TestBetweenListsTheAppointmentsStartingInAWindow(t *testing.T) {
	svc, store := schedulingService(t)
	ctx := context.Background()
	a, err := bookAhead(t, svc, scheduling.BookRequest{PatientID: fmt.Sprint("between-", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	in, err := store.Between(ctx, a.Slot.Start.Add(-time.Minute), a.Slot.Start.Add(time.Minute))
	if err != nil || len(in) != 1 || in[0].ID != a.ID {
		t.Fatalf("appointments starting around the slot: %+v %v", in, err)
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
	rs := notify.Plan(scheduling.Appointment{ID: id, State: scheduling.Booked, Slot: scheduling.Slot{Start: start, End: start.Add(30 * time.Minute)}}, base, notify.Quiet{})
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

// TestAHoldsEndIsFoundAfterALongStop: sweeps that stopped for longer
// than the lookback still find a hold's end when they start again, from
// the last sweep that finished (at most eight days back).
func TestAHoldsEndIsFoundAfterALongStop(t *testing.T) {
	n := ddb.NewNotices(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"])
	ctx := context.Background()
	now := time.Now()
	// Two years on, so no other test's reminders or sweeps meet these.
	base := time.Date(now.Year()+2, time.Month(1+now.Nanosecond()%12), 1+now.Nanosecond()%28, now.Nanosecond()%24, 0, 0, 0, time.UTC)
	end := notify.Reminder{AppointmentID: fmt.Sprint("ap-hold-", now.UnixNano()), Kind: notify.HoldExpiry, At: base.Add(15 * time.Minute), Start: base.AddDate(0, 0, 3)}
	if err := n.Put(ctx, []notify.Reminder{end}); err != nil {
		t.Fatal(err)
	}
	found := func(at time.Time) bool {
		t.Helper()
		due, err := n.Due(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(due, func(r notify.Reminder) bool { return r.AppointmentID == end.AppointmentID })
	}
	if err := n.Swept(ctx, base); err != nil {
		t.Fatal(err)
	}
	if !found(base.Add(30 * time.Hour)) {
		t.Fatal("a hold's end due 30 hours before the next sweep, with the last finished sweep just before it, was not found")
	}
	if err := n.Swept(ctx, base.Add(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if found(base.Add(30 * time.Hour)) {
		t.Fatal("found from before the lookback of a later finished sweep")
	}
	if err := n.Swept(ctx, base.AddDate(0, 0, -30)); err != nil {
		t.Fatal(err)
	}
	if found(base.AddDate(0, 0, 9)) {
		t.Fatal("a sweep looked back more than eight days")
	}
	if err := n.Delete(ctx, []notify.Reminder{end}); err != nil {
		t.Fatal(err)
	}
}

// TestTheTextOptInAndOptOutsAreKept: a booking with a mobile number
// keeps the number and when the patient agreed to texts; a STOP holds
// until a START.
func TestTheTextOptInAndOptOutsAreKept(t *testing.T) {
	svc, store := schedulingService(t)
	ctx := context.Background()
	now := time.Now()
	phone := fmt.Sprintf("+1555%07d", now.UnixNano()%10000000)
	a, err := bookAhead(t, svc, scheduling.BookRequest{PatientID: fmt.Sprint("sms-", now.UnixNano()), PatientPhone: phone})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, a.ID)
	if err != nil || got.PatientPhone != phone || got.SMSConsentAt.IsZero() || !got.SMSConsentAt.Equal(a.SMSConsentAt) {
		t.Fatalf("stored %q consent %v (booked %v): %v", got.PatientPhone, got.SMSConsentAt, a.SMSConsentAt, err)
	}
	n := ddb.NewNotices(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"])
	for _, step := range []struct {
		set, want bool
	}{{true, true}, {true, true}, {false, false}} {
		if err := n.SetOptedOut(ctx, phone, step.set, now); err != nil {
			t.Fatal(err)
		}
		if out, err := n.OptedOut(ctx, phone); err != nil || out != step.want {
			t.Fatalf("after setting %v: opted out %v, %v", step.set, out, err)
		}
	}
	if out, err := n.OptedOut(ctx, phone+"9"); err != nil || out {
		t.Fatalf("a number never seen: %v %v", out, err)
	}
}

// TestTheWaitlistKeepsTheStoreContract: the DynamoDB waitlist passes the
// suite the in-memory one passes, on a specialty of its own per run.
func TestTheWaitlistKeepsTheStoreContract(t *testing.T) {
	now := time.Now()
	waitlisttest.StoreContract(t, func(*testing.T) waitlist.Store {
		return ddb.NewWaitlist(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"])
	}, fmt.Sprint("contract-", now.UnixNano()), now)
}

// TestWrongCodesAreCountedOncePerWrite: the patient's wrong codes, kept
// across conversations, are written only at the version they were read.
func TestWrongCodesAreCountedOncePerWrite(t *testing.T) {
	ctx := context.Background()
	store := ddb.NewCodeTries(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SchedulingTable"])
	patient := fmt.Sprint("codes-", time.Now().UnixNano())
	none, err := store.Tries(ctx, patient)
	if err != nil || none.Wrong != 0 || none.Version != 0 {
		t.Fatalf("no tries yet: %+v %v", none, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	first := none.Add(now)
	if err := store.SaveTries(ctx, patient, first); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveTries(ctx, patient, first); !fault.Is(err, fault.Conflict) {
		t.Fatalf("the same write twice: %v", err)
	}
	next := first
	for range bot.MaxWrongPerDay - 1 {
		next = next.Add(now.Add(time.Minute))
		if err := store.SaveTries(ctx, patient, next); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.Tries(ctx, patient)
	if err != nil || got.Wrong != bot.MaxWrongPerDay || !got.LockedUntil.Equal(now.Add(bot.WrongWindow)) || !got.Since.Equal(now) {
		t.Fatalf("after %d wrong codes: %+v %v", bot.MaxWrongPerDay, got, err)
	}
}
