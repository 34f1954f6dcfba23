package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// fakeBooking books against the real directory, remembering what it
// booked; taken makes the next Book find its slot taken.
type fakeBooking struct {
	dir     *scheduling.Directory
	appts   []scheduling.Appointment
	taken   bool
	emails  []string
	phones  []string
	hold    int  // minutes a waitlist hold lasts; 0: no waitlist
	none    bool // no open time at all
	tries   CodeTries
	stopped map[string]bool // numbers that replied STOP
	joined  []string        // the waitlist joins: specialty|provider|email|phone
	calls   []string
	// codes are the one-time codes sent, by address, newest last; each is
	// the next of nextCode.
	codes    map[string][]string
	nextCode int
	codeErr  error
}

// SendCode "sends" a new code: 100001, 100002, ...
func (f *fakeBooking) SendCode(email string) (string, string, error) {
	if f.codeErr != nil {
		return "", "", f.codeErr
	}
	if f.stopped[email] {
		return "", "", ErrTextsStopped
	}
	f.nextCode++
	code := fmt.Sprintf("%06d", 100000+f.nextCode)
	if f.codes == nil {
		f.codes = map[string][]string{}
	}
	f.codes[email] = append(f.codes[email], code)
	return "salt", CodeHash("salt", code), nil
}

// lastCode is the newest code sent to the address.
func (f *fakeBooking) lastCode(email string) string {
	cs := f.codes[email]
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1]
}

func newFakeBooking(t *testing.T) *fakeBooking {
	d, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeBooking{dir: d}
}

func (f *fakeBooking) Directory() *scheduling.Directory { return f.dir }

func (f *fakeBooking) Search(q scheduling.Query) ([]scheduling.Slot, error) {
	var out []scheduling.Slot
	if f.none {
		return nil, nil
	}
	for _, s := range f.dir.Candidates(q) {
		if !f.held(s) {
			out = append(out, s)
		}
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (f *fakeBooking) held(s scheduling.Slot) bool {
	for _, a := range f.appts {
		if a.State.Active() && a.Slot.Provider == s.Provider && a.Slot.Start.Before(s.End) && s.Start.Before(a.Slot.End) {
			return true
		}
	}
	return false
}

func (f *fakeBooking) Book(slotID, email, phone string) (scheduling.Appointment, error) {
	f.calls = append(f.calls, "book "+slotID)
	s, err := f.dir.Slot(slotID)
	if err != nil {
		return scheduling.Appointment{}, err
	}
	if f.taken {
		f.taken = false
		alts, _ := f.Search(scheduling.Query{Provider: s.Provider, VisitType: s.VisitType, From: s.End, To: s.End.AddDate(0, 0, 14), Limit: 3})
		return scheduling.Appointment{}, &scheduling.Taken{Alternatives: alts}
	}
	f.emails = append(f.emails, email)
	f.phones = append(f.phones, phone)
	a := scheduling.Appointment{ID: "ap0123456789abcdef0123456" + string(rune('0'+len(f.appts))), Slot: s, State: scheduling.Booked, PatientEmail: email, PatientPhone: phone}
	if phone != "" {
		a.SMSConsentAt = s.Start.AddDate(0, 0, -7)
	}
	if s.Mode == scheduling.Telehealth {
		a.JoinURL = "https://video.example.org/v/" + a.ID
	}
	f.appts = append(f.appts, a)
	return a, nil
}

func (f *fakeBooking) HoldMinutes() int { return f.hold }

// The patient's wrong codes across conversations, kept as a store would.
func (f *fakeBooking) Tries(context.Context, string) (CodeTries, error) { return f.tries, nil }
func (f *fakeBooking) SaveTries(_ context.Context, _ string, t CodeTries) error {
	if t.Version != f.tries.Version+1 {
		return fault.Errorf(fault.Conflict, "changed")
	}
	f.tries = t
	return nil
}
func (f *fakeBooking) CodesLocked(time.Time) (time.Time, error) { return f.tries.LockedUntil, nil }
func (f *fakeBooking) WrongCode(now time.Time) (time.Time, error) {
	return countWrong(context.Background(), f, "patient", now)
}
func (f *fakeBooking) JoinWaitlist(specialty, provider, email, phone string) error {
	f.joined = append(f.joined, specialty+"|"+provider+"|"+email+"|"+phone)
	return nil
}
func (f *fakeBooking) LeaveWaitlist() (int, error) {
	n := len(f.joined)
	f.joined = nil
	return n, nil
}

func (f *fakeBooking) Upcoming() ([]scheduling.Appointment, error) {
	var out []scheduling.Appointment
	for _, a := range f.appts {
		if a.State.Active() {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeBooking) Reschedule(id, slotID string) (scheduling.Appointment, error) {
	f.calls = append(f.calls, "reschedule "+id+" "+slotID)
	for i, a := range f.appts {
		if a.ID == id {
			s, _ := f.dir.Slot(slotID)
			f.appts[i].Slot, f.appts[i].State = s, scheduling.Rescheduled
			return f.appts[i], nil
		}
	}
	return scheduling.Appointment{}, scheduling.ErrSlotTaken
}

func (f *fakeBooking) Cancel(id string) (scheduling.Appointment, error) {
	f.calls = append(f.calls, "cancel "+id)
	for i, a := range f.appts {
		if a.ID == id {
			f.appts[i].State = scheduling.Cancelled
			return f.appts[i], nil
		}
	}
	return scheduling.Appointment{}, scheduling.ErrSlotTaken
}

// converse is a conversation whose turns carry the booking.
func (c *conversation) with(b Booking) *conversation {
	c.booking = b
	c.e.WithTextReminders(true)
	return c
}

// askForTimes asks for an appointment of a service at a time of day, with
// no preference of provider, and returns the bot's offer of open times.
func (c *conversation) askForTimes(service, when string) Output {
	c.t.Helper()
	c.say("I need an appointment")
	c.say(service)
	c.say(when)
	return c.say("No preference")
}

// bookFirst picks the first time of the bot's offer and confirms it.
func (c *conversation) bookFirst(offer Output) Output {
	c.t.Helper()
	c.say(offer.QuickReplies[0])
	return c.say("Yes, book it")
}

func TestBotBooksAnAppointment(t *testing.T) {
	b := newFakeBooking(t)
	c := start(t, "en", open).with(b)
	c.say("yes")
	out := c.askForTimes("Primary care", "Weekday mornings")
	if out.Handoff != nil || !strings.Contains(out.Text, "next open times for Primary care") || len(out.QuickReplies) != 6 || out.QuickReplies[3] != "Other times" || out.QuickReplies[4] != "Cancel" || out.QuickReplies[5] != "Talk to a person" {
		t.Fatalf("offer: %q %v %+v", out.Text, out.QuickReplies, out.Handoff)
	}
	for _, label := range out.QuickReplies[:3] {
		if !strings.Contains(label, "AM ·") || strings.HasPrefix(label, "Sat") || strings.HasPrefix(label, "Sun") {
			t.Errorf("a weekday-morning offer reads %q", label)
		}
	}
	first := out.QuickReplies[0]
	more := c.say("Other times")
	if len(more.QuickReplies) != 6 || more.QuickReplies[0] == first {
		t.Fatalf("other times: %v", more.QuickReplies)
	}
	pick := more.QuickReplies[1]
	out = c.say(pick)
	if !strings.Contains(out.Text, "Shall I book "+pick) || !strings.Contains(out.Text, "Main Campus Clinic") && !strings.Contains(out.Text, "North Family") {
		t.Fatalf("confirm: %q", out.Text)
	}
	out = c.say("Yes, book it")
	if !strings.Contains(out.Text, "email") || len(b.calls) != 0 {
		t.Fatalf("email ask: %q, calls %v", out.Text, b.calls)
	}
	if out = c.say("not an address"); !strings.Contains(out.Text, "doesn't look like an email") {
		t.Fatalf("bad email: %q", out.Text)
	}
	out = c.say("ana.ruiz@example.org")
	// Giving a mobile number is the opt-in to text reminders: the question
	// says what it agrees to, as US carriers require.
	for _, want := range []string{"texts from us", "mobile number", "up to 2 per appointment", "waitlist offers", "rates may apply", "STOP", "HELP"} {
		if !strings.Contains(out.Text, want) || len(b.calls) != 0 || !slices.Contains(out.QuickReplies, "Skip") {
			t.Fatalf("phone ask lacks %q: %q %v, calls %v", want, out.Text, out.QuickReplies, b.calls)
		}
	}
	for _, bad := range []string{"my phone", "12345", "555-0123", "+0 555 201 0123", "(155) 201-0123"} {
		if out = c.say(bad); !strings.Contains(out.Text, "doesn't look like a US or Canadian mobile number") || len(b.calls) != 0 {
			t.Fatalf("bad phone %q: %q", bad, out.Text)
		}
	}
	out = c.say("(555) 201-0123")
	if !strings.Contains(out.Text, "You're booked") || !strings.Contains(out.Text, "confirmation number is 0123456") || out.Handoff != nil || c.st.Stage != stageOpen {
		t.Fatalf("booked: %q %+v %s", out.Text, out.Handoff, c.st.Stage)
	}
	if len(b.emails) != 1 || b.emails[0] != "ana.ruiz@example.org" || len(b.phones) != 1 || b.phones[0] != "+15552010123" {
		t.Fatalf("booked with emails %v, phones %v", b.emails, b.phones)
	}
	// The next booking in the conversation asks for neither again.
	out = c.askForTimes("Dermatology", "Any time")
	if out = c.bookFirst(out); !strings.Contains(out.Text, "You're booked") {
		t.Fatalf("second booking: %q", out.Text)
	}
}

// TestAPatientJoinsTheWaitlist (issue 20, item 7): none of the times
// offered suits, or none fits at all: the patient joins the waitlist,
// giving the contacts an offer goes to; in Spanish too.
func TestAPatientJoinsTheWaitlist(t *testing.T) {
	b := newFakeBooking(t)
	b.hold = 15
	c := start(t, "en", open).with(b)
	c.say("yes")
	offer := c.askForTimes("Dermatology", "Any time")
	if !slices.Contains(offer.QuickReplies, "Join the waitlist") {
		t.Fatalf("the offer has no waitlist: %v", offer.QuickReplies)
	}
	if out := c.say("Join the waitlist"); !strings.Contains(out.Text, "What email address") {
		t.Fatalf("email ask: %q", out.Text)
	}
	c.say("ana.ruiz@example.org")
	out := c.say("555 201 0123")
	if !strings.Contains(out.Text, "You're on the waitlist for Dermatology") || !strings.Contains(out.Text, "hold it for you for 15 minutes") ||
		!strings.Contains(out.Text, "also text +1 •••••••• 23") || c.st.Stage != stageOpen || len(b.calls) != 0 {
		t.Fatalf("joined: %q %s %v", out.Text, c.st.Stage, b.calls)
	}
	if len(b.joined) != 1 || b.joined[0] != "dermatology||ana.ruiz@example.org|+15552010123" {
		t.Fatalf("joins: %v", b.joined)
	}

	// Leaving it is one sentence away; a second time, there is nothing to leave.
	joined := b.joined
	if out := c.say("Please take me off the waitlist"); !strings.Contains(out.Text, "you're off the waitlist") || len(b.joined) != 0 {
		t.Fatalf("leaving: %q %v", out.Text, b.joined)
	}
	if out := c.say("leave the waitlist"); !strings.Contains(out.Text, "not waiting on the waitlist") {
		t.Fatalf("leaving twice: %q", out.Text)
	}
	b.joined = joined

	// Nothing fits at all: the waitlist is offered before a person.
	es := start(t, "es", open).with(b)
	es.e.WithTextReminders(false)
	es.say("sí")
	es.say("Necesito una cita")
	es.say("Dermatología")
	es.say("Cualquier horario")
	b.none = true
	out = es.say("Sin preferencia")
	if !strings.Contains(out.Text, "lista de espera") || !slices.Contains(out.QuickReplies, "Unirme a la lista de espera") || out.Handoff != nil {
		t.Fatalf("nothing fits: %q %v %+v", out.Text, out.QuickReplies, out.Handoff)
	}
	es.say("Unirme a la lista de espera")
	if out = es.say("ana@example.org"); !strings.Contains(out.Text, "Está en la lista de espera") || len(b.joined) != 2 {
		t.Fatalf("joined in Spanish: %q %v", out.Text, b.joined)
	}
	// Or a person, as before.
	pe := start(t, "en", open).with(b)
	pe.say("yes")
	pe.askForTimes("Dermatology", "Any time")
	if out := pe.say("Talk to a person"); out.Handoff == nil {
		t.Fatalf("a person: %q", out.Text)
	}
}

// TestNoPhoneIsAskedWhereNoTextsGoOut: a deployment without text
// reminders books right after the email.
func TestNoPhoneIsAskedWhereNoTextsGoOut(t *testing.T) {
	b := newFakeBooking(t)
	c := start(t, "en", open).with(b)
	c.e.WithTextReminders(false)
	c.say("yes")
	c.bookFirst(c.askForTimes("Primary care", "Any time"))
	if out := c.say("ana.ruiz@example.org"); !strings.Contains(out.Text, "You're booked") || strings.Contains(out.Text, "text") || b.phones[0] != "" {
		t.Fatalf("booked: %q, phones %v", out.Text, b.phones)
	}
}

func TestBotOffersTheNextTimesWhenOneIsTaken(t *testing.T) {
	b := newFakeBooking(t)
	c := start(t, "en", open).with(b)
	c.say("yes")
	c.say("I want to book an appointment with a cardiologist")
	c.say("Any time")
	out := c.say("No preference")
	c.bookFirst(out)
	c.say("Skip") // the email
	b.taken = true
	out = c.say("Skip") // the phone
	if !strings.Contains(out.Text, "just taken") || len(out.QuickReplies) != 6 || c.st.Stage != stageSlots {
		t.Fatalf("taken: %q %v", out.Text, out.QuickReplies)
	}
	if out = c.bookFirst(out); !strings.Contains(out.Text, "You're booked") {
		t.Fatalf("after the conflict: %q", out.Text)
	}
}

func TestBotReschedulesAndCancels(t *testing.T) {
	b := newFakeBooking(t)
	open1, _ := b.Search(scheduling.Query{Provider: "dr-lee", Mode: scheduling.Telehealth, From: open.Add(24 * time.Hour), To: open.AddDate(0, 0, 7), Limit: 1})
	if _, err := b.Book(open1[0].ID, "ana@example.org", ""); err != nil {
		t.Fatal(err)
	}
	id := b.appts[0].ID
	c := start(t, "en", open).with(b)
	c.say("yes")
	// First the patient proves who they are: a code to the email on file.
	out := c.say("I need to reschedule my appointment")
	if !strings.Contains(out.Text, "a•••@example.org") || len(b.codes["ana@example.org"]) != 1 || len(b.calls) != 1 {
		t.Fatalf("step-up: %q, codes %v, calls %v", out.Text, b.codes, b.calls)
	}
	out = c.say("my code is " + b.lastCode("ana@example.org"))
	if !strings.Contains(out.Text, "that's you") || len(out.QuickReplies) != 6 || !strings.Contains(out.QuickReplies[0], "Dr. Grace Lee (video)") {
		t.Fatalf("reschedule offers: %q %v", out.Text, out.QuickReplies)
	}
	c.say(out.QuickReplies[2])
	out = c.say("yes")
	if !strings.Contains(out.Text, "moved to") || !strings.Contains(b.calls[len(b.calls)-1], "reschedule "+id) {
		t.Fatalf("rescheduled: %q %v", out.Text, b.calls)
	}
	out = c.say("Please cancel my appointment")
	if !strings.Contains(out.Text, "Cancel your appointment on") || out.QuickReplies[0] != "Yes, cancel it" {
		t.Fatalf("cancel ask: %q %v", out.Text, out.QuickReplies)
	}
	if out = c.say("No, keep it"); !strings.Contains(out.Text, "didn't change anything") || b.appts[0].State != scheduling.Rescheduled {
		t.Fatalf("keep: %q %v", out.Text, b.appts[0].State)
	}
	c.say("cancel my appointment")
	out = c.say("Yes, cancel it")
	if !strings.Contains(out.Text, "is cancelled") || b.appts[0].State != scheduling.Cancelled {
		t.Fatalf("cancelled: %q %v", out.Text, b.appts[0].State)
	}
	if out = c.say("cancel my appointment"); !strings.Contains(out.Text, "don't see any upcoming appointments") {
		t.Fatalf("nothing left: %q", out.Text)
	}
}

// atEmailStep is a conversation that has chosen a time and confirmed it:
// the bot asks for an email address.
func atEmailStep(t *testing.T) *conversation {
	t.Helper()
	c := start(t, "en", open).with(newFakeBooking(t))
	c.say("yes")
	c.say("appointment")
	c.say("Primary care")
	c.say("Any time")
	out := c.say("No preference")
	c.bookFirst(out)
	return c
}

func TestRedFlagWhileBooking(t *testing.T) {
	c := atEmailStep(t)
	var out Output
	if out = c.say("I can't breathe"); out.Handoff == nil || out.Handoff.Priority != "urgent" || !strings.Contains(out.Text, "911") {
		t.Fatalf("a red flag while giving an email: %q %+v", out.Text, out.Handoff)
	}
}

// TestSpecialtiesMatchTheSchedulingDirectory: every kind of care the bot
// offers has providers, and every specialty providers have is offered.
func TestSpecialtiesMatchTheSchedulingDirectory(t *testing.T) {
	e := engine(t)
	d := newFakeBooking(t).Directory()
	var bot []string
	for _, s := range e.c.Specialties {
		bot = append(bot, s.ID)
	}
	for _, s := range d.Specialties() {
		if !slices.Contains(bot, s) {
			t.Errorf("providers have specialty %q, which the bot never offers", s)
		}
	}
	for _, s := range bot {
		if !slices.Contains(d.Specialties(), s) {
			t.Errorf("the bot offers %q, which no provider has", s)
		}
	}
}

// TestEveryBookingStepHearsAPersonRequestAndARedFlag (issue 20): at every
// step of booking, "I want to talk to a person" (in either language) is
// heard, not answered with the step's question again; a red flag gets the
// emergency answer at every step too.
func TestEveryBookingStepHearsAPersonRequestAndARedFlag(t *testing.T) {
	steps := []string{"appointment", "Primary care", "Any time", "No preference", "", "Yes, book it"}
	for n := 1; n <= len(steps); n++ {
		for _, probe := range []struct{ say, want string }{
			{"I can't breathe", "911"},
			{"actually I want to talk to a person", "person"},
			{"quiero hablar con una persona", "person"},
		} {
			c := start(t, "en", open).with(newFakeBooking(t))
			c.say("yes")
			var out Output
			for _, s := range steps[:n] {
				if s == "" {
					s = out.QuickReplies[0]
				}
				out = c.say(s)
			}
			out = c.say(probe.say)
			if out.Handoff == nil || (probe.want == "911" && !strings.Contains(out.Text, "911")) {
				t.Errorf("after %d booking steps, %q: %q (handoff %+v)", n, probe.say, out.Text, out.Handoff)
			}
		}
	}
}

// TestAnEmailAddressIsAnAnswerNotARequestForAPerson: at the email step an
// address whose words name a person ("human", "agent") is still an address.
func TestAnEmailAddressIsAnAnswerNotARequestForAPerson(t *testing.T) {
	c := atEmailStep(t)
	var out Output
	if out = c.say("human.agent@example.org"); out.Handoff != nil {
		t.Fatalf("an email address was taken for a request for a person: %q", out.Text)
	}
}

// TestABookingPromisesOnlyTheRemindersThatWillGoOut (issue 20): a visit
// booked less than a day ahead gets no "day before" reminder, and one
// less than two hours ahead none at all; the confirmation says so.
func TestABookingPromisesOnlyTheRemindersThatWillGoOut(t *testing.T) {
	for _, tc := range []struct {
		ahead     time.Duration
		phone     string
		want, not string
	}{
		{72 * time.Hour, "no thanks", "We'll remind you the day before and 2 hours before.", "won't send"},
		{5 * time.Hour, "no thanks", "We'll remind you 2 hours before.", "the day before"},
		{90 * time.Minute, "no thanks", "we won't send a reminder", "remind you"},
		{72 * time.Hour, "555.201.0123", "The reminders will also come by text to +1 •••••••• 23.", "won't send"},
		{90 * time.Minute, "555.201.0123", "we won't send a reminder", "by text"},
	} {
		b := newFakeBooking(t)
		c := start(t, "en", open).with(b)
		c.say("yes")
		out := c.askForTimes("Primary care", "Any time")
		c.say(out.QuickReplies[0])
		slot, err := b.dir.Slot(c.st.Chosen)
		if err != nil {
			t.Fatal(err)
		}
		c.now = slot.Start.Add(-tc.ahead) // the patient booked this long before the visit
		c.say("Yes, book it")
		c.say("ana.ruiz@example.org")
		out = c.say(tc.phone)
		if !strings.Contains(out.Text, "You're booked") || !strings.Contains(out.Text, tc.want) || strings.Contains(out.Text, tc.not) || tc.phone == "no thanks" && strings.Contains(out.Text, "by text") {
			t.Errorf("booked %s ahead: %q, want %q and not %q", tc.ahead, out.Text, tc.want, tc.not)
		}
	}
}

// TestEveryBookingStepShowsAWayOut (issue 20, item 3): each step of the
// appointment dialog, in both languages, offers Cancel and a person as
// quick replies, and pressing Cancel leaves the dialog.
func TestEveryBookingStepShowsAWayOut(t *testing.T) {
	for _, tc := range []struct {
		locale, cancel, person string
		steps                  []string
	}{
		{"en", "Cancel", "Talk to a person", []string{"I need an appointment", "Primary care", "Weekday mornings", "No preference"}},
		{"es", "Cancelar", "Hablar con una persona", []string{"Necesito una cita", "Atención primaria", "Mañanas entre semana", "Sin preferencia"}},
	} {
		for n := 1; n <= len(tc.steps); n++ {
			c := start(t, tc.locale, open).with(newFakeBooking(t))
			c.say(map[string]string{"en": "yes", "es": "sí"}[tc.locale])
			var out Output
			for _, s := range tc.steps[:n] {
				out = c.say(s)
			}
			if !strings.HasPrefix(c.st.Stage, "appointment:") {
				t.Fatalf("%s after %q: stage %q, not in the dialog (%q)", tc.locale, tc.steps[:n], c.st.Stage, out.Text)
			}
			if !slices.Contains(out.QuickReplies, tc.cancel) || !slices.Contains(out.QuickReplies, tc.person) {
				t.Errorf("%s after %q: quick replies %v lack a way out", tc.locale, tc.steps[:n], out.QuickReplies)
			}
			if out = c.say(tc.cancel); strings.HasPrefix(c.st.Stage, "appointment:") {
				t.Errorf("%s after %q: %s left the patient in the dialog (%q)", tc.locale, tc.steps[:n], tc.cancel, out.Text)
			}
		}
	}
}
