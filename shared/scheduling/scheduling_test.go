package scheduling_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/scheduling/schedulingtest"
)

// Monday 2026-11-30, 07:00 in New York.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func directory(t testing.TB) *scheduling.Directory {
	t.Helper()
	d, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func service(t testing.TB, store scheduling.Store) *scheduling.Service {
	return scheduling.NewService(directory(t), store, scheduling.Config{Notice: 2 * time.Hour, TelehealthURL: "https://video.example.org/v/"}, func() time.Time { return t0 })
}

func TestDirectoryIsValid(t *testing.T) {
	d := directory(t)
	if len(d.Providers) < 5 || len(d.Specialties()) < 5 {
		t.Fatalf("directory has %d providers in %d specialties", len(d.Providers), len(d.Specialties()))
	}
	for _, bad := range []struct{ yaml, want string }{
		{"timezone: Mars/Olympus", "IANA"},
		{"timezone: UTC\nholidays: [\"12/25\"]", "holiday"},
		{"timezone: UTC\nvisitTypes: [{id: x, minutes: 20, mode: in-person, name: {en: a, es: b}}]", "multiple of 15"},
		{"timezone: UTC\nvisitTypes: [{id: x, minutes: 30, mode: phone, name: {en: a, es: b}}]", "mode"},
		{"timezone: UTC\nlocations: [{id: m, name: M, address: A}]\nvisitTypes: [{id: v, minutes: 30, mode: in-person, name: {en: a, es: b}}]\nproviders: [{id: p, name: P, specialty: s, languages: [en], visitTypes: [v], weekly: [{days: [mon], from: \"08:10\", to: \"12:00\", location: m, modes: [in-person]}]}]", "quarter hour"},
		{"timezone: UTC\nlocations: [{id: m, name: M, address: A}]\nvisitTypes: [{id: v, minutes: 30, mode: in-person, name: {en: a, es: b}}]\nproviders: [{id: p, name: P, specialty: s, languages: [en], visitTypes: [w], weekly: [{days: [mon], from: \"08:00\", to: \"12:00\", location: m, modes: [in-person]}]}]", "unknown visit type"},
		{"timezone: UTC\nlocations: [{id: m, name: M, address: A}]\nvisitTypes: [{id: v, minutes: 30, mode: in-person, name: {en: a, es: b}}]\nproviders: [{id: p, name: P, specialty: s, languages: [en], visitTypes: [v], weekly: [{days: [moonday], from: \"08:00\", to: \"12:00\", location: m, modes: [in-person]}]}]", "mon..sun"},
		{"timezone: UTC\nunknownKey: 1", "unknownKey"},
	} {
		if _, err := scheduling.ParseDirectory([]byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%.50q: err %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

func TestCandidatesFollowTheWeekAndItsExceptions(t *testing.T) {
	d := directory(t)
	ny := d.Zone()
	day := func(y int, m time.Month, dd int) (time.Time, time.Time) {
		from := time.Date(y, m, dd, 0, 0, 0, 0, ny)
		return from, from.AddDate(0, 0, 1)
	}
	// Monday: Dr. Lee has 08:00-12:00 in person (8 follow-ups), 13:00-17:00 (8 more).
	from, to := day(2026, 11, 30)
	got := d.Candidates(scheduling.Query{Provider: "dr-lee", VisitType: "follow-up", From: from, To: to})
	if len(got) != 16 || got[0].Start.In(ny).Format("15:04") != "08:00" || got[15].Start.In(ny).Format("15:04") != "16:30" || got[0].Location != "main" {
		t.Fatalf("Monday follow-ups: %d, first %v, last %v", len(got), got[0], got[len(got)-1])
	}
	// Tuesday afternoon is not a block of Dr. Lee's; telehealth only in the afternoon blocks.
	from, to = day(2026, 12, 1)
	if got := d.Candidates(scheduling.Query{Provider: "dr-lee", Mode: scheduling.Telehealth, From: from, To: to}); len(got) != 0 {
		t.Fatalf("Tuesday video visits: %v", got)
	}
	from, to = day(2026, 12, 2)
	if got := d.Candidates(scheduling.Query{Provider: "dr-lee", Mode: scheduling.Telehealth, From: from, To: to}); len(got) != 16 || got[0].Mode != scheduling.Telehealth || got[0].VisitType != "telehealth" {
		t.Fatalf("Wednesday video visits (15 min in 13:00-17:00): %d %v", len(got), got)
	}
	// Christmas is a holiday; Dr. García is off 21-24 December.
	from, to = day(2026, 12, 25)
	if got := d.Candidates(scheduling.Query{Specialty: "primary-care", From: from, To: to}); len(got) != 0 {
		t.Fatalf("Christmas: %v", got)
	}
	from, to = day(2026, 12, 21)
	for _, s := range d.Candidates(scheduling.Query{Specialty: "primary-care", From: from, To: to}) {
		if s.Provider == "dr-garcia" {
			t.Fatalf("Dr. García during time off: %v", s)
		}
	}
	// Language: only Spanish-speaking providers.
	from, to = day(2026, 11, 30)
	for _, s := range d.Candidates(scheduling.Query{Specialty: "primary-care", Language: "es", From: from, To: to}) {
		if s.Provider != "dr-garcia" {
			t.Fatalf("a Spanish search gave %v", s)
		}
	}
	// scheduling.Slot ids name a real slot, and only those.
	s := got[3]
	back, err := d.Slot(s.ID)
	if err != nil || back != s {
		t.Fatalf("slot %s read back as %+v, %v", s.ID, back, err)
	}
	for _, bad := range []string{"nope", "dr-lee~follow-up~20261130T1315Z", "dr-lee~well-child~20261130T1300Z", "dr-zz~follow-up~20261130T1300Z", "dr-lee~follow-up~20261225T1400Z"} {
		if _, err := d.Slot(bad); err == nil {
			t.Errorf("slot %q was accepted", bad)
		}
	}
}

func TestBookingIsIdempotentAndNeverDoubleBooks(t *testing.T) {
	store := schedulingtest.NewMemStore()
	svc := service(t, store)
	ctx := context.Background()
	open, err := svc.Search(ctx, scheduling.Query{Provider: "dr-lee", VisitType: "follow-up", From: t0, To: t0.Add(48 * time.Hour), Limit: 5})
	if err != nil || len(open) != 5 {
		t.Fatalf("search: %v %v", open, err)
	}
	if first := open[0].Start; first.Before(t0.Add(2 * time.Hour)) {
		t.Fatalf("the first open slot %v is inside the notice period", first)
	}
	slot := open[0]
	req := scheduling.BookRequest{Token: "t1", SlotID: slot.ID, PatientID: "p1", PatientName: "Ana", By: "bot"}
	a, err := svc.Book(ctx, req)
	if err != nil || a.State != scheduling.Booked || a.Slot != slot || len(a.History) != 1 || a.Version != 1 {
		t.Fatalf("book: %+v %v", a, err)
	}
	again, err := svc.Book(ctx, req)
	if err != nil || again.ID != a.ID {
		t.Fatalf("the same request again: %+v %v, want the same appointment", again, err)
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "t1", SlotID: open[1].ID, PatientID: "p1"}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("a reused token for another slot: %v", err)
	}
	_, err = svc.Book(ctx, scheduling.BookRequest{Token: "t2", SlotID: slot.ID, PatientID: "p2"})
	var taken *scheduling.Taken
	if !errors.As(err, &taken) || fault.CodeOf(err) != fault.Conflict || len(taken.Alternatives) != 3 || taken.Alternatives[0].ID != open[1].ID {
		t.Fatalf("another patient for the same slot: %v %+v", err, taken)
	}
	// A 60-minute visit overlapping the booked 30 minutes is taken too.
	overlap := scheduling.SlotID("dr-lee", "new-patient", slot.Start)
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "t3", SlotID: overlap, PatientID: "p3"}); !errors.As(err, &taken) {
		t.Fatalf("an overlapping longer visit: %v", err)
	}
	after, _ := svc.Search(ctx, scheduling.Query{Provider: "dr-lee", VisitType: "follow-up", From: t0, To: t0.Add(48 * time.Hour), Limit: 5})
	if after[0].ID == slot.ID {
		t.Fatal("the booked slot is still listed as open")
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "t4", SlotID: scheduling.SlotID("dr-lee", "follow-up", time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)), PatientID: "p4"}); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("a slot inside the notice period: %v", err)
	}
}

func TestRescheduleAndCancelMoveTheHold(t *testing.T) {
	store := schedulingtest.NewMemStore()
	svc := service(t, store)
	ctx := context.Background()
	open, _ := svc.Search(ctx, scheduling.Query{Provider: "dr-lee", Mode: scheduling.Telehealth, From: t0, To: t0.Add(72 * time.Hour), Limit: 3})
	a, err := svc.Book(ctx, scheduling.BookRequest{Token: "r1", SlotID: open[0].ID, PatientID: "p1", By: "bot"})
	if err != nil || a.JoinURL != "https://video.example.org/v/"+a.ID {
		t.Fatalf("video visit: %+v %v", a, err)
	}
	if _, err := svc.Reschedule(ctx, a.ID, "someone-else", open[1].ID, "bot", false); fault.CodeOf(err) != fault.NotFound {
		t.Fatalf("another patient rescheduling: %v", err)
	}
	moved, err := svc.Reschedule(ctx, a.ID, "p1", open[1].ID, "agent-1", false)
	if err != nil || moved.State != scheduling.Rescheduled || moved.Slot.ID != open[1].ID || len(moved.History) != 2 || moved.History[1].From != open[0].ID {
		t.Fatalf("reschedule: %+v %v", moved, err)
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "r2", SlotID: open[0].ID, PatientID: "p2"}); err != nil {
		t.Fatalf("the old slot is not open again: %v", err)
	}
	if _, err := svc.Confirm(ctx, a.ID, "p2", "patient"); fault.CodeOf(err) != fault.NotFound {
		t.Fatalf("another patient confirming: %v", err)
	}
	conf, err := svc.Confirm(ctx, a.ID, "p1", "patient")
	if err != nil || !conf.Confirmed || conf.Version != moved.Version+1 || !conf.History[len(conf.History)-1].Confirmed {
		t.Fatalf("confirm: %+v %v", conf, err)
	}
	if again, err := svc.Confirm(ctx, a.ID, "p1", "patient"); err != nil || again.Version != conf.Version {
		t.Fatalf("confirming again: %+v %v", again, err)
	}
	c, err := svc.Cancel(ctx, a.ID, "p1", "patient")
	if err != nil || c.State != scheduling.Cancelled || len(c.History) != 4 {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if _, err := svc.Cancel(ctx, a.ID, "p1", "patient"); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("cancelling twice: %v", err)
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "r3", SlotID: open[1].ID, PatientID: "p3"}); err != nil {
		t.Fatalf("the cancelled slot is not open again: %v", err)
	}
	// A 60-minute visit moved to a 30-minute one inside it: the units both
	// hold stay held, the others are released (a transaction may not
	// touch an item twice).
	long, _ := svc.Search(ctx, scheduling.Query{Provider: "dr-lee", VisitType: "new-patient", From: t0, To: t0.Add(72 * time.Hour), Limit: 1})
	np, err := svc.Book(ctx, scheduling.BookRequest{Token: "r4", SlotID: long[0].ID, PatientID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	inside := scheduling.SlotID("dr-lee", "follow-up", long[0].Start.Add(30*time.Minute))
	// A move keeps the kind of visit unless it is changed deliberately.
	if _, err := svc.Reschedule(ctx, np.ID, "p1", inside, "agent-1", false); fault.CodeOf(err) != fault.BadRequest || !strings.Contains(err.Error(), "keeps the kind of visit") {
		t.Fatalf("a new-patient visit moved to a follow-up without saying so: %v, want bad_request", err)
	}
	if _, err := svc.Reschedule(ctx, np.ID, "p1", inside, "agent-1", true); err != nil {
		t.Fatalf("rescheduling into its own time: %v", err)
	}
	if _, err := svc.Book(ctx, scheduling.BookRequest{Token: "r5", SlotID: scheduling.SlotID("dr-lee", "follow-up", long[0].Start), PatientID: "p5"}); err != nil {
		t.Fatalf("the released first half is not open: %v", err)
	}
	if _, err := svc.Cancel(ctx, np.ID, "p1", "patient"); err != nil {
		t.Fatal(err)
	}
	up, err := svc.Upcoming(ctx, "p1")
	if err != nil || len(up) != 0 {
		t.Fatalf("p1's upcoming after cancelling: %v %v", up, err)
	}
	if up, _ := svc.Upcoming(ctx, "p2"); len(up) != 1 {
		t.Fatalf("p2's upcoming: %v", up)
	}
}

// TestMemStoreKeepsTheStoreContract: the in-memory store the other tests
// use passes the suite the DynamoDB store passes too (the booking race,
// the hold following a move and a cancellation, conditional writes).
func TestMemStoreKeepsTheStoreContract(t *testing.T) {
	schedulingtest.StoreContract(t, func(*testing.T) scheduling.Store { return schedulingtest.NewMemStore() }, t0, t0.Add(24*time.Hour))
}

// TestNoTwoAppointmentsEverShareAUnit: random sequences of bookings,
// reschedules and cancellations by several patients over a small day —
// no two active appointments of a provider ever overlap, and every
// active appointment's slot is held by it.
func TestNoTwoAppointmentsEverShareAUnit(t *testing.T) {
	d := directory(t)
	from := time.Date(2026, 12, 2, 13, 0, 0, 0, d.Zone()) // Wednesday afternoon
	all := d.Candidates(scheduling.Query{Provider: "dr-lee", From: from, To: from.Add(4 * time.Hour)})
	all = append(all, d.Candidates(scheduling.Query{Provider: "dr-lee", VisitType: "telehealth", From: from, To: from.Add(4 * time.Hour)})...)
	all = append(all, d.Candidates(scheduling.Query{Provider: "dr-lee", VisitType: "new-patient", From: from, To: from.Add(4 * time.Hour)})...)
	rapid.Check(t, func(t *rapid.T) {
		store := schedulingtest.NewMemStore()
		svc := scheduling.NewService(d, store, scheduling.Config{}, func() time.Time { return t0 })
		ctx := context.Background()
		var booked []string
		for step := range rapid.IntRange(1, 40).Draw(t, "steps") {
			patient := fmt.Sprintf("p%d", rapid.IntRange(0, 3).Draw(t, "patient"))
			slot := rapid.SampledFrom(all).Draw(t, "slot")
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); {
			case op == 0 || len(booked) == 0:
				if a, err := svc.Book(ctx, scheduling.BookRequest{Token: fmt.Sprint("tok", step), SlotID: slot.ID, PatientID: patient}); err == nil {
					booked = append(booked, a.ID)
				}
			case op == 1:
				a, _ := store.Get(ctx, rapid.SampledFrom(booked).Draw(t, "appointment"))
				_, _ = svc.Reschedule(ctx, a.ID, a.PatientID, slot.ID, "agent", true)
			default:
				a, _ := store.Get(ctx, rapid.SampledFrom(booked).Draw(t, "appointment"))
				_, _ = svc.Cancel(ctx, a.ID, a.PatientID, "patient")
			}
			holders := map[int64]string{}
			for _, a := range store.All() {
				if !a.State.Active() {
					continue
				}
				for _, u := range a.Slot.Units() {
					if other, ok := holders[u.Unix()]; ok {
						t.Fatalf("%s and %s both hold %v", other, a.ID, u)
					}
					holders[u.Unix()] = a.ID
					if store.Holder(a.Slot.Provider, u) != a.ID {
						t.Fatalf("%s's unit %v is not held by it", a.ID, u)
					}
				}
			}
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	svc := service(b, schedulingtest.NewMemStore())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Search(ctx, scheduling.Query{Specialty: "primary-care", From: t0, To: t0.Add(14 * 24 * time.Hour), Limit: 3}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAMoveKeepsTheSpecialtyAndTheVisitType (issue 19): a primary-care
// follow-up is not moved to a cardiology visit, or to a primary-care
// new-patient visit, unless the change is deliberate; another primary-care
// doctor's follow-up is a move.
func TestAMoveKeepsTheSpecialtyAndTheVisitType(t *testing.T) {
	svc := service(t, schedulingtest.NewMemStore())
	ctx := context.Background()
	find := func(provider, visit string) scheduling.Slot {
		t.Helper()
		s, err := svc.Search(ctx, scheduling.Query{Provider: provider, VisitType: visit, Mode: scheduling.InPerson, From: t0, To: t0.Add(7 * 24 * time.Hour), Limit: 1})
		if err != nil || len(s) == 0 {
			t.Fatalf("no %s %s slot: %v", provider, visit, err)
		}
		return s[0]
	}
	a, err := svc.Book(ctx, scheduling.BookRequest{Token: "k1", SlotID: find("dr-lee", "follow-up").ID, PatientID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []scheduling.Slot{find("dr-rossi", "follow-up"), find("dr-lee", "new-patient")} {
		if _, err := svc.Reschedule(ctx, a.ID, "p1", to.ID, "agent-1", false); fault.CodeOf(err) != fault.BadRequest {
			t.Errorf("moved to %s without a deliberate change: %v, want bad_request", to.ID, err)
		}
	}
	moved, err := svc.Reschedule(ctx, a.ID, "p1", find("dr-garcia", "follow-up").ID, "agent-1", false)
	if err != nil || moved.Slot.Provider != "dr-garcia" {
		t.Fatalf("a follow-up with another primary-care doctor: %+v %v", moved.Slot, err)
	}
	changed, err := svc.Reschedule(ctx, a.ID, "p1", find("dr-rossi", "new-patient").ID, "agent-1", true)
	if err != nil || changed.Slot.VisitType != "new-patient" {
		t.Fatalf("a deliberate change: %+v %v", changed.Slot, err)
	}
}

// TestSlotsAreDescribedWithTheDirectorysNames: a slot is shown with its
// provider, visit type (in the locale) and place; a video visit has no
// address and says so in the locale; a taken slot's alternatives are
// described the same way.
func TestSlotsAreDescribedWithTheDirectorysNames(t *testing.T) {
	d := directory(t)
	p, v := d.Providers[0], d.VisitTypes[0]
	l := d.Locations[0]
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	in := scheduling.Slot{ID: "s1", Provider: p.ID, VisitType: v.ID, Location: l.ID, Mode: scheduling.InPerson, Start: at, End: at.Add(30 * time.Minute)}
	video := in
	video.ID, video.Mode = "s2", scheduling.Telehealth
	got := d.Describe([]scheduling.Slot{in, video}, "es")
	want := scheduling.SlotInfo{SlotID: "s1", ProviderID: p.ID, ProviderName: p.Name, Specialty: p.Specialty, VisitTypeID: v.ID, VisitTypeName: v.Name.In("es"),
		Start: in.Start, End: in.End, LocationID: l.ID, LocationName: l.Name, Address: l.Address, Mode: scheduling.InPerson, TimeZone: d.Zone().String()}
	if len(got) != 2 || got[0] != want {
		t.Fatalf("described %+v\nwant %+v", got, want)
	}
	if got[1].LocationName != "Por video" || got[1].Address != "" || got[1].LocationID != l.ID {
		t.Fatalf("a video visit in Spanish: %+v", got[1])
	}
	if en := d.Describe([]scheduling.Slot{video}, "en"); en[0].LocationName != "Video visit" {
		t.Fatalf("a video visit in English: %+v", en[0])
	}
	err := d.Offered(&scheduling.Taken{Alternatives: []scheduling.Slot{in}}, "en")
	var u *scheduling.Unavailable
	if !errors.As(err, &u) || len(u.Alternatives) != 1 || u.Alternatives[0].SlotID != "s1" || !errors.Is(err, scheduling.ErrSlotTaken) {
		t.Fatalf("a taken slot's error: %v", err)
	}
	if other := d.Offered(scheduling.ErrExists, "en"); other != scheduling.ErrExists {
		t.Fatalf("another error was changed: %v", other)
	}
}
