package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

type posted struct{ conv, id, text string }

type fakes struct {
	mu     sync.Mutex
	posts  []posted
	seen   map[string]bool
	mails  [][]byte
	rem    map[string]Reminder
	sent   map[string]bool
	appts  map[string]scheduling.Appointment
	issued int
	swept  time.Time // the last finished sweep
}

func newFakes() *fakes {
	return &fakes{seen: map[string]bool{}, rem: map[string]Reminder{}, sent: map[string]bool{}, appts: map[string]scheduling.Appointment{}}
}

func key(r Reminder) string { return r.AppointmentID + "|" + string(r.Kind) + "|" + r.At.String() }

func (f *fakes) Post(_ context.Context, conv, id, text string) error {
	if !f.seen[conv+id] {
		f.seen[conv+id] = true
		f.posts = append(f.posts, posted{conv, id, text})
	}
	return nil
}
func (f *fakes) Send(_ context.Context, _ string, raw []byte) error {
	f.mails = append(f.mails, raw)
	return nil
}
func (f *fakes) Put(_ context.Context, rs []Reminder) error {
	for _, r := range rs {
		f.rem[key(r)] = r
	}
	return nil
}
func (f *fakes) Delete(_ context.Context, rs []Reminder) error {
	for _, r := range rs {
		delete(f.rem, key(r))
	}
	return nil
}
func (f *fakes) Due(_ context.Context, now time.Time) ([]Reminder, error) {
	var out []Reminder
	for _, r := range f.rem {
		if !r.At.After(now) {
			out = append(out, r)
		}
	}
	return out, nil
}
func (f *fakes) Swept(_ context.Context, now time.Time) error { f.swept = now; return nil }
func (f *fakes) Claim(_ context.Context, r Reminder) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.rem[key(r)]
	delete(f.rem, key(r))
	return ok, nil
}
func (f *fakes) Sent(_ context.Context, k string) (bool, error) { return f.sent[k], nil }
func (f *fakes) MarkSent(_ context.Context, k string) error     { f.sent[k] = true; return nil }
func (f *fakes) Get(_ context.Context, id string) (scheduling.Appointment, error) {
	return f.appts[id], nil
}
func (f *fakes) Issue(id, _ string, _ time.Time) (string, error) {
	f.issued++
	return "tok-" + id, nil
}

// sweeper runs the reminder sweep at a time and returns how many went.
func sweeper(t *testing.T, svc *Service, clk *clock) func(time.Time) int {
	return func(at time.Time) int {
		t.Helper()
		clk.t = at
		n, err := svc.SendDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// clock is a controllable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*Service, *fakes, *clock, *scheduling.Directory) {
	t.Helper()
	texts, err := LoadTexts()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	f := newFakes()
	c := &clock{t: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)}
	svc := NewService(Deps{Texts: texts, Directory: dir, Chat: f, Mail: f, Reminders: f, Sent: f, Appointments: f, Links: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.now},
		Config{PageURL: "https://care.example.org/appointment.html"})
	return svc, f, c, dir
}

func appointment(t *testing.T, dir *scheduling.Directory, slot string) scheduling.Appointment {
	t.Helper()
	s, err := dir.Slot(slot)
	if err != nil {
		t.Fatal(err)
	}
	return scheduling.Appointment{ID: "ap00112233445566778899aabb", PatientID: "p1", PatientName: "Ana", PatientEmail: "ana@example.org",
		Locale: "en", ConversationID: "c1", Slot: s, State: scheduling.Booked, Version: 1}
}

// attachment reads an email: its subject, text, and the calendar part's
// method and parsed calendar.
func attachment(t *testing.T, raw []byte) (subject, text, method string, cal *ics.Calendar) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return subject, text, method, cal
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		ct, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			text = string(body)
		case "text/calendar":
			method = ps["method"]
			if cal, err = ics.ParseCalendar(bytes.NewReader(body)); err != nil {
				t.Fatalf("the invitation does not parse: %v\n%s", err, body)
			}
		}
	}
}

func TestBookingIsConfirmedInTheChatAndByEmailWithAnInvitation(t *testing.T) {
	svc, f, _, dir := setup(t)
	ctx := context.Background()
	a := appointment(t, dir, "dr-lee~follow-up~20261203T1400Z") // Thursday 9:00 New York
	if err := svc.Changed(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	if len(f.posts) != 1 || !strings.Contains(f.posts[0].text, "Appointment confirmed: Follow-up visit with Dr. Grace Lee on Thursday, December 3 at 9:00 AM EST") ||
		!strings.Contains(f.posts[0].text, "Confirmation number 00112233") {
		t.Fatalf("chat: %+v", f.posts)
	}
	if len(f.mails) != 1 {
		t.Fatalf("%d emails", len(f.mails))
	}
	subject, text, method, cal := attachment(t, f.mails[0])
	if subject != "Appointment confirmed: Thursday, December 3 at 9:00 AM EST" || !strings.Contains(text, "Main Campus Clinic") || method != "REQUEST" {
		t.Fatalf("email: %q %q %q", subject, text, method)
	}
	ev := cal.Events()
	start, _ := ev[0].GetStartAt()
	if len(ev) != 1 || !start.Equal(a.Slot.Start) || ev[0].GetProperty(ics.ComponentPropertyLocation).Value != "Main Campus Clinic, 100 Hospital Drive, Building A, 2nd floor" {
		t.Fatalf("invitation: %d events, start %v, %v", len(ev), start, ev[0].GetProperty(ics.ComponentPropertyLocation))
	}
	// The stream delivers the same record again: nothing new.
	if err := svc.Changed(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	if len(f.posts) != 1 || len(f.mails) != 1 {
		t.Fatalf("a redelivered record sent again: %d posts, %d emails", len(f.posts), len(f.mails))
	}
	// A change that is not a booking, move or cancellation says nothing.
	same := a
	same.Version = 2
	if err := svc.Changed(ctx, &a, &same); err != nil || len(f.posts) != 1 {
		t.Fatalf("a confirmation-only change notified: %v %d", err, len(f.posts))
	}
}

// TestRemindersFireOnTimeAndNotAfterACancellation: with a controllable
// clock, the 24-hour and 2-hour reminders go out at their moments, once,
// follow the visit when it moves, and never go out once it is cancelled.
func TestRemindersFireOnTimeAndNotAfterACancellation(t *testing.T) {
	svc, f, clk, dir := setup(t)
	ctx := context.Background()
	a := appointment(t, dir, "dr-lee~follow-up~20261203T1400Z")
	f.appts[a.ID] = a
	if err := svc.Changed(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	sweep := sweeper(t, svc, clk)
	start := a.Slot.Start
	if n := sweep(start.Add(-24*time.Hour - time.Minute)); n != 0 {
		t.Fatalf("%d reminders a minute early", n)
	}
	if n := sweep(start.Add(-24 * time.Hour)); n != 1 || !strings.Contains(f.posts[len(f.posts)-1].text, "Reminder: Follow-up visit with Dr. Grace Lee tomorrow") {
		t.Fatalf("24h reminder: %d %+v", n, f.posts)
	}
	if _, text, _, _ := attachment(t, f.mails[len(f.mails)-1]); !strings.Contains(text, "https://care.example.org/appointment.html?t=tok-"+a.ID+"&do=confirm") {
		t.Fatalf("the reminder email has no confirm link: %s", text)
	}
	if n := sweep(start.Add(-23 * time.Hour)); n != 0 {
		t.Fatalf("the 24h reminder went out again: %d", n)
	}

	// The patient moves the visit a day later: the 2h reminder of the old
	// time never goes out; the new time's reminders do.
	moved := a
	later, _ := dir.Slot("dr-lee~follow-up~20261204T1400Z")
	moved, err := moved.With(scheduling.Rescheduled, later, "patient", clk.t)
	if err != nil {
		t.Fatal(err)
	}
	f.appts[a.ID] = moved
	if err := svc.Changed(ctx, &a, &moved); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.posts[len(f.posts)-1].text, "Your appointment has moved") {
		t.Fatalf("move notice: %+v", f.posts[len(f.posts)-1])
	}
	if n := sweep(start.Add(-2 * time.Hour)); n != 0 {
		t.Fatalf("a reminder of the old time went out: %d", n)
	}
	if n := sweep(later.Start.Add(-24 * time.Hour)); n != 1 {
		t.Fatalf("the new time's 24h reminder: %d", n)
	}

	// Cancelled: the 2h reminder never goes out, and the email cancels the
	// calendar event.
	cancelled, _ := moved.With(scheduling.Cancelled, moved.Slot, "patient", clk.t)
	f.appts[a.ID] = cancelled
	if err := svc.Changed(ctx, &moved, &cancelled); err != nil {
		t.Fatal(err)
	}
	if _, _, method, cal := attachment(t, f.mails[len(f.mails)-1]); method != "CANCEL" || cal.Events()[0].GetProperty(ics.ComponentPropertyStatus).Value != "CANCELLED" {
		t.Fatalf("cancellation email: %s", method)
	}
	if n := sweep(later.Start.Add(-2 * time.Hour)); n != 0 || len(f.rem) != 0 {
		t.Fatalf("after the cancellation: %d sent, %d pending", n, len(f.rem))
	}
	// A reminder left behind (its removal lost) is dropped at sending.
	f.rem["stale"] = Reminder{AppointmentID: a.ID, Kind: Remind2h, At: later.Start.Add(-2 * time.Hour), Start: later.Start}
	if n := sweep(later.Start.Add(-time.Hour)); n != 0 {
		t.Fatalf("a stale reminder went out: %d", n)
	}
}

func TestPlanSkipsRemindersAlreadyPast(t *testing.T) {
	dir, _ := scheduling.LoadDirectory()
	a := appointment(t, dir, "dr-lee~follow-up~20261203T1400Z")
	got := Plan(a, a.Slot.Start.Add(-3*time.Hour), Quiet{})
	if len(got) != 1 || got[0].Kind != Remind2h {
		t.Fatalf("booked 3 hours ahead: %+v, want the 2h reminder only", got)
	}
	a.State = scheduling.Cancelled
	if got := Plan(a, time.Time{}, Quiet{}); len(got) != 2 {
		t.Fatalf("every reminder of a cancelled one, to remove: %+v", got)
	}
	if got := Plan(a, a.Slot.Start.Add(-72*time.Hour), Quiet{}); len(got) != 0 {
		t.Fatalf("a cancelled appointment planned %+v", got)
	}
	kinds := []Kind{}
	for _, r := range Plan(appointment(t, dir, "dr-lee~follow-up~20261203T1400Z"), a.Slot.Start.Add(-72*time.Hour), Quiet{}) {
		kinds = append(kinds, r.Kind)
	}
	if !slices.Equal(kinds, []Kind{Remind24h, Remind2h}) {
		t.Fatalf("kinds %v", kinds)
	}
}

func TestSpanishNotices(t *testing.T) {
	texts, _ := LoadTexts()
	dir, _ := scheduling.LoadDirectory()
	a := appointment(t, dir, "dr-garcia~telehealth~20261201T1500Z")
	a.Locale, a.JoinURL = "es", "https://video.example.org/v/x"
	m := texts.Compose(Booked, a, dir, Fill{})
	if m.Subject != "Cita confirmada: martes 1 de diciembre, 10:00 EST" || !strings.Contains(m.Text, "Consulta por video con Dr. Miguel García") ||
		!strings.Contains(m.Text, "https://video.example.org/v/x") {
		t.Fatalf("es: %+v", m)
	}
}

// TestASpanishReminderLinksToTheSpanishPage: the reminder of a Spanish
// appointment links to the appointment page with lang=es, so the page
// speaks the patient's language (issue 20, item 2).
func TestASpanishReminderLinksToTheSpanishPage(t *testing.T) {
	svc, f, clk, dir := setup(t)
	ctx := context.Background()
	a := appointment(t, dir, "dr-lee~follow-up~20261203T1400Z")
	a.Locale = "es"
	f.appts[a.ID] = a
	if err := svc.Changed(ctx, nil, &a); err != nil {
		t.Fatal(err)
	}
	clk.t = a.Slot.Start.Add(-24 * time.Hour)
	if n, err := svc.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("the 24h reminder: %d %v", n, err)
	}
	if _, text, _, _ := attachment(t, f.mails[len(f.mails)-1]); !strings.Contains(text, "https://care.example.org/appointment.html?t=tok-"+a.ID+"&lang=es&do=confirm") {
		t.Fatalf("the Spanish reminder's link has no lang=es: %s", text)
	}
}
