package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

func TestPhoneReadsNumbersAsPatientsTypeThem(t *testing.T) {
	for in, want := range map[string]string{
		"(555) 201-0123": "+15552010123", "555.201.0123": "+15552010123", "5552010123": "+15552010123",
		"1 555 201 0123": "+15552010123", "+1 555-201-0123": "+15552010123", " +1 (416) 555-0199 ": "+14165550199",
	} {
		if got, err := Phone(in); err != nil || got != want {
			t.Errorf("Phone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "my phone", "555-0123", "12345", "(155) 201-0123", "555 101 0123", "+0 555 201 0123", "+1 155 201 0123",
		"555-201-0123 ext 4", "+1234567", "+1234567890123456", "555‐201‐0123", "5552010123; DROP", "+44 20 7946 0958", "+52 55 1234 5678", "+882 1234 5678"} {
		if got, err := Phone(in); !errors.Is(err, ErrPhone) {
			t.Errorf("Phone(%q) = %q, %v; want ErrPhone", in, got, err)
		}
	}
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"(555) 201-0123", "+44 20 7946 0958", "1-555-201-0123", "+", "++1", "٥٥٥٢٠١٠١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Phone(s)
		if err != nil {
			return
		}
		// An accepted number is North American E.164: +1 and ten ASCII
		// digits; and reading it again gives it back.
		if len(p) != 12 || !strings.HasPrefix(p, "+1") || strings.Trim(p[1:], "0123456789") != "" {
			t.Fatalf("Phone(%q) = %q, not E.164", s, p)
		}
		if again, err := Phone(p); err != nil || again != p {
			t.Fatalf("Phone(%q) = %q, %v", p, again, err)
		}
	})
}

func TestKeywordsFollowCarrierRules(t *testing.T) {
	for in, want := range map[string]struct {
		kw     Keyword
		locale string
	}{
		"STOP": {OptOut, "en"}, "stop": {OptOut, "en"}, "Stop.": {OptOut, "en"}, " STOP ALL ": {OptOut, "en"}, "unsubscribe": {OptOut, "en"},
		"Cancel": {OptOut, "en"}, "END": {OptOut, "en"}, "quit": {OptOut, "en"}, "opt out": {OptOut, "en"}, "REVOKE": {OptOut, "en"},
		"PARAR": {OptOut, "es"}, "Cancelar": {OptOut, "es"},
		"START": {OptIn, "en"}, "unstop": {OptIn, "en"},
		"HELP": {Help, "en"}, "help!": {Help, "en"}, "INFO": {Help, "en"}, "Ayuda": {Help, "es"},
		"please stop texting me": {OptOut, "en"}, "STOP 🙏": {OptOut, "en"}, "I want to opt out": {OptOut, "en"}, "por favor parar los mensajes": {OptOut, "es"},
		"stop 2": {OptOut, "en"}, "I have chest pain": {NoKeyword, ""}, "yes": {NoKeyword, ""}, "": {NoKeyword, ""},
		"can I come at the end of the day": {NoKeyword, ""}, "I need to cancel my appointment": {NoKeyword, ""}, "tengo la presión baja": {NoKeyword, ""},
	} {
		if kw, loc := KeywordOf(in); kw != want.kw || loc != want.locale {
			t.Errorf("KeywordOf(%q) = %s %q; want %s %q", in, kw, loc, want.kw, want.locale)
		}
	}
}

func FuzzKeywordOf(f *testing.F) {
	for _, s := range []string{"STOP", "stop all", "Ayuda", "chest pain", "S\u0301TOP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kw, loc := KeywordOf(s)
		if (kw == NoKeyword) != (loc == "") {
			t.Fatalf("KeywordOf(%q) = %s %q", s, kw, loc)
		}
		// A keyword has letters of a keyword and nothing else.
		if kw != NoKeyword && utf8.RuneCountInString(s) > 200 {
			t.Fatalf("KeywordOf(%q) took a long text for a keyword", s)
		}
	})
}

func TestQuietHoursHoldTextsToTheMorning(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuiet("21:00-08:00", ny)
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, ny) }
	for _, tc := range []struct {
		t     time.Time
		quiet bool
	}{{at(3, 20, 59), false}, {at(3, 21, 0), true}, {at(3, 23, 30), true}, {at(4, 0, 0), true}, {at(4, 7, 59), true}, {at(4, 8, 0), false}, {at(4, 12, 0), false}} {
		if got := q.In(tc.t); got != tc.quiet {
			t.Errorf("In(%s) = %v", tc.t, got)
		}
	}
	if end := q.End(at(3, 22, 0)); !end.Equal(at(4, 8, 0)) {
		t.Errorf("End(22:00) = %s", end)
	}
	if end := q.End(at(4, 6, 0)); !end.Equal(at(4, 8, 0)) {
		t.Errorf("End(06:00) = %s", end)
	}
	// A 24-hour text for a 7:00 visit is due at 7:00 the day before: held
	// to 8:00. A 2-hour text for an 8:15 visit (due 6:15) would come too
	// close to the visit: dropped. One due at noon goes at noon.
	if got, ok := q.Shift(at(3, 7, 0), at(4, 7, 0)); !ok || !got.Equal(at(3, 8, 0)) {
		t.Errorf("Shift(7:00 for a visit the next day) = %s %v", got, ok)
	}
	if _, ok := q.Shift(at(4, 6, 15), at(4, 8, 15)); ok {
		t.Error("a text held to 8:00 for an 8:15 visit was kept")
	}
	if got, ok := q.Shift(at(4, 12, 0), at(4, 14, 0)); !ok || !got.Equal(at(4, 12, 0)) {
		t.Errorf("Shift(noon) = %s %v", got, ok)
	}
	// The days the clocks change: the wall clock counts.
	for _, tc := range []struct {
		t     time.Time
		quiet bool
	}{{time.Date(2026, 3, 8, 21, 30, 0, 0, ny), true}, {time.Date(2026, 3, 8, 7, 30, 0, 0, ny), true}, {time.Date(2026, 11, 1, 7, 30, 0, 0, ny), true},
		{time.Date(2026, 11, 1, 20, 30, 0, 0, ny), false}, {time.Date(2026, 3, 8, 8, 0, 0, 0, ny), false}} {
		if got := q.In(tc.t); got != tc.quiet {
			t.Errorf("In(%s) = %v", tc.t, got)
		}
	}
	if end := q.End(time.Date(2026, 3, 7, 23, 0, 0, 0, ny)); !end.Equal(time.Date(2026, 3, 8, 8, 0, 0, 0, ny)) {
		t.Errorf("End over the change = %s", end)
	}
	if q, err := ParseQuiet("", ny); err != nil || q.In(at(4, 3, 0)) {
		t.Errorf("no quiet hours: %+v %v", q, err)
	}
	for _, bad := range []string{"21:00", "9pm-8am", "08:00-08:00", "25:00-08:00"} {
		if _, err := ParseQuiet(bad, ny); err == nil {
			t.Errorf("ParseQuiet(%q) accepted", bad)
		}
	}
}

// texting is a Texter and OptOuts in memory.
type texting struct {
	texts []struct{ to, body string }
	out   map[string]bool
	fail  error
}

func (x *texting) Text(_ context.Context, phone, body string) error {
	if x.fail != nil {
		return x.fail
	}
	x.texts = append(x.texts, struct{ to, body string }{phone, body})
	return nil
}
func (x *texting) OptedOut(_ context.Context, phone string) (bool, error) { return x.out[phone], nil }
func (x *texting) SetOptedOut(_ context.Context, phone string, out bool, _ time.Time) error {
	x.out[phone] = out
	return nil
}

func setupTexting(t *testing.T) (*Service, *fakes, *texting, *clock) {
	t.Helper()
	svc, f, clk, dir := setup(t)
	x := &texting{out: map[string]bool{}}
	svc.sms, svc.opts = x, x
	q, err := ParseQuiet("21:00-08:00", dir.Zone())
	if err != nil {
		t.Fatal(err)
	}
	svc.cfg.Quiet, svc.cfg.HelpContact = q, "(555) 010-2000"
	return svc, f, x, clk
}

// TestTextRemindersGoOnceToThoseWhoAgreed: a patient who gave a mobile
// number gets the two reminders by text too, each once, with the page's
// link; one who did not gets none; a STOP stops them.
func TestTextRemindersGoOnceToThoseWhoAgreed(t *testing.T) {
	svc, f, x, clk := setupTexting(t)
	ctx := context.Background()
	dir := svc.dir
	a := appointment(t, dir, "dr-lee~follow-up~20261203T1600Z") // 11:00 in New York
	a.PatientPhone, a.SMSConsentAt = "+15552010123", clk.t
	f.appts[a.ID] = a
	if err := svc.Changed(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	if len(f.rem) != 4 {
		t.Fatalf("planned %d reminders, want 2 by chat and email and 2 by text", len(f.rem))
	}
	sweep := sweeper(t, svc, clk)
	if n := sweep(a.Slot.Start.Add(-24 * time.Hour)); n != 2 || len(x.texts) != 1 {
		t.Fatalf("24h: %d sent, texts %+v", n, x.texts)
	}
	got := x.texts[0]
	for _, want := range []string{"our hospital: reminder of your Follow-up visit with Dr. Grace Lee tomorrow", "https://care.example.org/appointment.html?t=tok-" + a.ID, "Reply STOP to opt out, HELP for help."} {
		if got.to != "+15552010123" || !strings.Contains(got.body, want) {
			t.Fatalf("text %+v lacks %q", got, want)
		}
	}
	if strings.Contains(got.body, "&do=") {
		t.Fatalf("the text links to one action: %s", got.body)
	}
	// A second sweep sends nothing again, even with the reminder back.
	_ = f.Put(ctx, []Reminder{{AppointmentID: a.ID, Kind: Text24h, At: clk.t, Start: a.Slot.Start}})
	if n := sweep(clk.t.Add(time.Minute)); n != 0 || len(x.texts) != 1 {
		t.Fatalf("a second sweep: %d, %d texts", n, len(x.texts))
	}
	// The patient replies STOP: the 2-hour reminder comes by email and
	// chat, not by text.
	if err := svc.Received(ctx, Incoming{ID: "in-1", From: "+15552010123", Body: "STOP"}); err != nil {
		t.Fatal(err)
	}
	if n := sweep(a.Slot.Start.Add(-2 * time.Hour)); n != 1 || len(x.texts) != 2 || !strings.Contains(x.texts[1].body, "unsubscribed") {
		t.Fatalf("2h after STOP: %d sent, texts %+v", n, x.texts)
	}

	// Without a number (or without the consent), no text is planned.
	b := appointment(t, dir, "dr-lee~follow-up~20261204T1600Z")
	b.ID = "ap99"
	b.PatientPhone = "+15552010199"
	if rs := Plan(b, clk.t.Add(-72*time.Hour), svc.cfg.Quiet); len(rs) != 2 {
		t.Fatalf("planned %+v for a number given without consent", rs)
	}
}

// TestATextDueInTheQuietHoursWaitsForTheMorning: a sweep that finds a
// text due at night puts it back for 8:00; a failed send is retried by
// the next sweep, and still goes once.
func TestATextDueInTheQuietHoursWaitsForTheMorning(t *testing.T) {
	svc, f, x, clk := setupTexting(t)
	ctx := context.Background()
	a := appointment(t, svc.dir, "dr-lee~follow-up~20261203T1600Z")
	a.PatientPhone, a.SMSConsentAt = "+15552010123", clk.t
	f.appts[a.ID] = a
	ny := svc.dir.Zone()
	night := time.Date(2026, 12, 2, 23, 0, 0, 0, ny)
	_ = f.Put(ctx, []Reminder{{AppointmentID: a.ID, Kind: Text24h, At: night.Add(-time.Minute), Start: a.Slot.Start}})
	clk.t = night
	if n, err := svc.SendDue(ctx); err != nil || n != 0 || len(x.texts) != 0 {
		t.Fatalf("at night: %d %v %+v", n, err, x.texts)
	}
	if len(f.rem) != 1 {
		t.Fatalf("held reminders: %+v", f.rem)
	}
	for _, r := range f.rem {
		if want := time.Date(2026, 12, 3, 8, 0, 0, 0, ny); !r.At.Equal(want) {
			t.Fatalf("held to %s, want %s", r.At, want)
		}
	}
	x.fail = errors.New("throttled")
	clk.t = time.Date(2026, 12, 3, 8, 0, 0, 0, ny)
	if _, err := svc.SendDue(ctx); err == nil || len(f.rem) != 1 {
		t.Fatalf("a failed text: %v, %d reminders left", err, len(f.rem))
	}
	x.fail = nil
	clk.t = clk.t.Add(time.Minute)
	if n, err := svc.SendDue(ctx); err != nil || n != 1 || len(x.texts) != 1 {
		t.Fatalf("the retry: %d %v %+v", n, err, x.texts)
	}
}

// TestRepliesToPatientsTexts: STOP, START and HELP are answered in the
// keyword's language; anything else gets where to reach a person and 911
// in both languages, once per message, and nothing once the number has
// stopped.
func TestRepliesToPatientsTexts(t *testing.T) {
	svc, _, x, _ := setupTexting(t)
	ctx := context.Background()
	say := func(id, from, body string) string {
		t.Helper()
		n := len(x.texts)
		if err := svc.Received(ctx, Incoming{ID: id, From: from, Body: body}); err != nil {
			t.Fatal(err)
		}
		if len(x.texts) == n {
			return ""
		}
		return x.texts[len(x.texts)-1].body
	}
	const me = "+15552010123"
	if got := say("1", me, "HELP"); !strings.Contains(got, "our hospital texts: appointment reminders") || !strings.Contains(got, "(555) 010-2000") || !strings.Contains(got, "STOP") {
		t.Fatalf("HELP: %q", got)
	}
	if got := say("2", me, "I have chest pain"); !strings.Contains(got, "call 911") || !strings.Contains(got, "llame al 911") || !strings.Contains(got, "cannot read replies") {
		t.Fatalf("a message nobody reads: %q", got)
	}
	if got := say("2", me, "I have chest pain"); got != "" {
		t.Fatalf("a redelivered message was answered again: %q", got)
	}
	if got := say("3", me, "Parar"); !strings.Contains(got, "no recibirá más") || !x.out[me] {
		t.Fatalf("PARAR: %q, opted out %v", got, x.out[me])
	}
	if got := say("4", me, "thanks"); got != "" {
		t.Fatalf("a stopped number got %q", got)
	}
	if got := say("5", me, "AYUDA"); !strings.Contains(got, "Mensajes de our hospital") {
		t.Fatalf("AYUDA: %q", got)
	}
	if got := say("6", "(555) 201-0123", "START"); !strings.Contains(got, "on again") || x.out[me] {
		t.Fatalf("START: %q, opted out %v", got, x.out[me])
	}
	if got := say("7", "short code 12345", "STOP"); got != "" {
		t.Fatalf("a sender that is no phone number got %q", got)
	}
	for _, m := range x.texts {
		if utf8.RuneCountInString(m.body) > 320 {
			t.Errorf("a reply of %d characters (more than two SMS segments of 160): %q", utf8.RuneCountInString(m.body), m.body)
		}
	}
}

type waitlistCalls struct {
	freed   []string
	settled []string
	expired []string
	booked  []string
	// current answers Current: a hold not listed is its entry's offer.
	current map[string]error
}

func (w *waitlistCalls) Current(_ context.Context, a scheduling.Appointment) (bool, error) {
	err, listed := w.current[a.ID]
	return !listed, err
}

func (w *waitlistCalls) BookedElsewhere(_ context.Context, a scheduling.Appointment) error {
	w.booked = append(w.booked, a.ID)
	return nil
}

func (w *waitlistCalls) SlotFreed(_ context.Context, slot scheduling.Slot) error {
	w.freed = append(w.freed, slot.ID)
	return nil
}
func (w *waitlistCalls) Settled(_ context.Context, a scheduling.Appointment) error {
	w.settled = append(w.settled, string(a.State))
	return nil
}
func (w *waitlistCalls) ExpireHold(_ context.Context, id string) (bool, error) {
	w.expired = append(w.expired, id)
	return true, nil
}

// TestAHeldTimeIsToldAndFollowed: a time held from the waitlist is told
// in the chat, by email and by text with its take-it and let-it-go links;
// its end is planned and, come due, the hold is let go; a cancellation and
// a move free their old time for the waitlist; a hold taken or let go is
// settled.
func TestAHeldTimeIsToldAndFollowed(t *testing.T) {
	svc, f, x, clk := setupTexting(t)
	wl := &waitlistCalls{}
	svc.wl, svc.holds = wl, wl
	ctx := context.Background()
	held := appointment(t, svc.dir, "dr-lee~follow-up~20261203T1600Z")
	held.State, held.HoldUntil, held.WaitlistID = scheduling.Held, clk.t.Add(15*time.Minute), "wl1"
	held.PatientPhone, held.SMSConsentAt = "+15552010123", clk.t
	f.appts[held.ID] = held
	if err := svc.Changed(ctx, nil, &held); err != nil {
		t.Fatal(err)
	}
	post := f.posts[len(f.posts)-1].text
	if !strings.Contains(post, "a time opened for Follow-up visit with Dr. Grace Lee") || !strings.Contains(post, "held for you until 10:15 AM EST") {
		t.Fatalf("the offer in the chat: %q", post)
	}
	if _, text, _, _ := attachment(t, f.mails[len(f.mails)-1]); !strings.Contains(text, "Take it: https://care.example.org/appointment.html?t=tok-"+held.ID+"&do=confirm") {
		t.Fatalf("the offer's email: %s", text)
	}
	if len(x.texts) != 1 || !strings.Contains(x.texts[0].body, "Held until 10:15 AM EST") {
		t.Fatalf("the offer's text: %+v", x.texts)
	}
	clk.t = held.HoldUntil
	if _, err := svc.SendDue(ctx); err != nil || len(wl.expired) != 1 || wl.expired[0] != held.ID {
		t.Fatalf("the hold's end: %v %v", wl.expired, err)
	}
	let, _ := held.With(scheduling.Cancelled, held.Slot, "waitlist", clk.t)
	if err := svc.Changed(ctx, &held, &let); err != nil || len(wl.settled) != 1 || wl.settled[0] != "cancelled" {
		t.Fatalf("a hold let go: %v %v", wl.settled, err)
	}
	booked := appointment(t, svc.dir, "dr-lee~follow-up~20261204T1600Z")
	booked.ID = "ap-other"
	if err := svc.Changed(ctx, nil, &booked); err != nil || len(wl.booked) != 1 || wl.booked[0] != "ap-other" {
		t.Fatalf("a booking: %v %v", wl.booked, err)
	}
	cancelled, _ := booked.With(scheduling.Cancelled, booked.Slot, "patient", clk.t)
	if err := svc.Changed(ctx, &booked, &cancelled); err != nil || len(wl.freed) != 1 || wl.freed[0] != booked.Slot.ID {
		t.Fatalf("a cancellation: %v %v", wl.freed, err)
	}
	later, _ := svc.dir.Slot("dr-lee~follow-up~20261205T1600Z")
	moved, _ := booked.With(scheduling.Rescheduled, later, "patient", clk.t)
	if err := svc.Changed(ctx, &booked, &moved); err != nil || len(wl.freed) != 2 || wl.freed[1] != booked.Slot.ID {
		t.Fatalf("a move: %v %v", wl.freed, err)
	}
}

// TestAHoldLetGoAtOnceIsNotTold: two times freed at the same moment for
// one patient are both held; only the one that is the waitlist entry's
// offer is told. A hold whose entry is not marked yet fails the record, so
// the stream tries it again, and then it is told.
func TestAHoldLetGoAtOnceIsNotTold(t *testing.T) {
	svc, f, x, clk := setupTexting(t)
	ctx := context.Background()
	lost := appointment(t, svc.dir, "dr-lee~follow-up~20261203T1600Z")
	lost.State, lost.HoldUntil, lost.WaitlistID = scheduling.Held, clk.t.Add(15*time.Minute), "wl1"
	lost.PatientPhone, lost.SMSConsentAt = "+15552010123", clk.t
	early := appointment(t, svc.dir, "dr-lee~follow-up~20261204T1600Z")
	early.ID, early.State, early.HoldUntil, early.WaitlistID = "ap-early", scheduling.Held, clk.t.Add(15*time.Minute), "wl1"
	wl := &waitlistCalls{current: map[string]error{lost.ID: nil, early.ID: waitlist.ErrNotMarked}}
	svc.wl, svc.holds = wl, wl
	posts, mails := len(f.posts), len(f.mails)
	if err := svc.Changed(ctx, nil, &lost); err != nil {
		t.Fatal(err)
	}
	if len(f.posts) != posts || len(f.mails) != mails || len(x.texts) != 0 {
		t.Fatalf("a hold let go at once was told: %d posts, %d emails, %d texts", len(f.posts)-posts, len(f.mails)-mails, len(x.texts))
	}
	if err := svc.Changed(ctx, nil, &early); !errors.Is(err, waitlist.ErrNotMarked) || len(f.posts) != posts {
		t.Fatalf("an unmarked hold: %v, %d posts", err, len(f.posts)-posts)
	}
	delete(wl.current, early.ID)
	if err := svc.Changed(ctx, nil, &early); err != nil || len(f.posts) != posts+1 {
		t.Fatalf("the hold once marked: %v, %d posts", err, len(f.posts)-posts)
	}
	clk.t = lost.HoldUntil
	if _, err := svc.SendDue(ctx); err != nil || !slices.Contains(wl.expired, lost.ID) || !f.swept.Equal(clk.t) {
		t.Fatalf("the untold hold still lapses: %v %v (sweep recorded at %v)", wl.expired, err, f.swept)
	}
}

// TestAnOfferMadeAtNightIsTextedInTheMorning: a time held from the
// waitlist during the quiet hours is told by chat and email at once, by
// text when they end, and only if it is still held.
func TestAnOfferMadeAtNightIsTextedInTheMorning(t *testing.T) {
	svc, f, x, clk := setupTexting(t)
	ctx := context.Background()
	ny := svc.dir.Zone()
	clk.t = time.Date(2026, 12, 2, 2, 0, 0, 0, ny)
	held := appointment(t, svc.dir, "dr-lee~follow-up~20261203T1600Z")
	held.State, held.HoldUntil, held.WaitlistID = scheduling.Held, time.Date(2026, 12, 2, 8, 15, 0, 0, ny), "wl1"
	held.PatientPhone, held.SMSConsentAt = "+15552010123", clk.t
	f.appts[held.ID] = held
	if err := svc.Changed(ctx, nil, &held); err != nil {
		t.Fatal(err)
	}
	if len(x.texts) != 0 || len(f.mails) != 1 {
		t.Fatalf("at night: %d texts, %d emails", len(x.texts), len(f.mails))
	}
	sweep := sweeper(t, svc, clk)
	sweep(time.Date(2026, 12, 2, 7, 59, 0, 0, ny))
	if len(x.texts) != 0 {
		t.Fatalf("texted before 8:00: %+v", x.texts)
	}
	sweep(time.Date(2026, 12, 2, 8, 0, 0, 0, ny))
	if len(x.texts) != 1 || !strings.Contains(x.texts[0].body, "Held until 8:15 AM EST") {
		t.Fatalf("at 8:00: %+v", x.texts)
	}
}
