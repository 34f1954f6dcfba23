package bot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

// booked is a conversation whose patient has an upcoming visit booked
// with email on file (none when email is empty).
func booked(t *testing.T, locale, email string) (*conversation, *fakeBooking) {
	t.Helper()
	b := newFakeBooking(t)
	slots, _ := b.Search(scheduling.Query{Provider: "dr-lee", From: open.Add(24 * time.Hour), To: open.AddDate(0, 0, 7), Limit: 1})
	if _, err := b.Book(slots[0].ID, email, ""); err != nil {
		t.Fatal(err)
	}
	c := start(t, locale, open).with(b)
	c.say("yes")
	return c, b
}

// TestAnUnverifiedPatientIsAskedForACodeBeforeTheirAppointments: asking
// to move or cancel a visit sends a code to the email on file and shows
// nothing of the record; the code verifies the conversation, and the
// request goes on.
func TestAnUnverifiedPatientIsAskedForACodeBeforeTheirAppointments(t *testing.T) {
	c, b := booked(t, "en", "mara@example.org")
	out := c.say("cancel my appointment")
	if !strings.Contains(out.Text, "6-digit code to m•••@example.org") || strings.Contains(out.Text, "Dr.") || c.st.Stage != stageVerify ||
		strings.Join(out.QuickReplies, "|") != "Send a new code|Cancel|Talk to a person" {
		t.Fatalf("step-up: %q %v (stage %s)", out.Text, out.QuickReplies, c.st.Stage)
	}
	if c.st.Verify == nil || strings.Contains(c.st.Encode(), b.lastCode("mara@example.org")) {
		t.Fatalf("the stored state keeps the code itself: %s", c.st.Encode())
	}
	// Not a code: asked again, nothing counted.
	if out = c.say("I don't have it yet"); !strings.Contains(out.Text, "type the 6-digit code") || c.st.WrongCodes != 0 {
		t.Fatalf("not a code: %q %+v", out.Text, c.st)
	}
	out = c.say(b.lastCode("mara@example.org"))
	if !c.st.Verified || c.st.VerifiedEmail != "mara@example.org" || !strings.Contains(out.Text, "Cancel your appointment on") {
		t.Fatalf("after the code: %q (verified %v)", out.Text, c.st.Verified)
	}
	// Verified for the rest of the conversation: no second code.
	c.say("No, keep it")
	if out = c.say("reschedule my appointment"); len(b.codes["mara@example.org"]) != 1 || len(out.QuickReplies) == 0 {
		t.Fatalf("a second request asked again: %q, %d codes", out.Text, len(b.codes["mara@example.org"]))
	}
}

// TestThreeWrongCodesLockVerification: three wrong codes end the attempt
// and lock verification for 15 minutes, in which no code is sent; then it
// works again.
func TestThreeWrongCodesLockVerification(t *testing.T) {
	c, b := booked(t, "en", "lou@example.org")
	c.say("reschedule my appointment")
	c.say("000000")
	if out := c.say("111111"); !strings.Contains(out.Text, "isn't right") || c.st.WrongCodes != 2 {
		t.Fatalf("second wrong code: %q %+v", out.Text, c.st)
	}
	out := c.say("222222")
	if !strings.Contains(out.Text, "next 15 minutes") || c.st.Verify != nil || c.st.Verified || c.st.Stage != stageOpen {
		t.Fatalf("third wrong code: %q %+v", out.Text, c.st)
	}
	// The right code, too late, does nothing.
	if out = c.say(b.lastCode("lou@example.org")); c.st.Verified {
		t.Fatalf("the old code verified after the lock: %q", out.Text)
	}
	c.now = open.Add(10 * time.Minute)
	if out = c.say("reschedule my appointment"); !strings.Contains(out.Text, "next 5 minutes") || len(b.codes["lou@example.org"]) != 1 {
		t.Fatalf("while locked: %q, %d codes sent", out.Text, len(b.codes["lou@example.org"]))
	}
	c.now = open.Add(16 * time.Minute)
	c.say("reschedule my appointment")
	if out = c.say(b.lastCode("lou@example.org")); !c.st.Verified || len(b.codes["lou@example.org"]) != 2 {
		t.Fatalf("after the lock: %q, verified %v", out.Text, c.st.Verified)
	}
}

// TestANewCodeBuysNoNewTries: two wrong codes, a new code, one more
// wrong: locked.
func TestANewCodeBuysNoNewTries(t *testing.T) {
	c, _ := booked(t, "en", "kai@example.org")
	c.say("cancel my appointment")
	c.say("000000")
	c.say("111111")
	c.say("Send a new code")
	if out := c.say("222222"); !strings.Contains(out.Text, "next 15 minutes") {
		t.Fatalf("the third wrong code, after a new one: %q", out.Text)
	}
}

// TestAnExpiredCodeIsRefusedAndANewOneSent: a code typed after 10 minutes
// is refused; "send a new code" sends another, which works; the first no
// longer does.
func TestAnExpiredCodeIsRefusedAndANewOneSent(t *testing.T) {
	c, b := booked(t, "en", "ivy@example.org")
	c.say("cancel my appointment")
	first := b.lastCode("ivy@example.org")
	c.now = open.Add(11 * time.Minute)
	if out := c.say(first); !strings.Contains(out.Text, "expired") || c.st.Verified {
		t.Fatalf("expired code: %q", out.Text)
	}
	if out := c.say("Send a new code"); !strings.Contains(out.Text, "i•••@example.org") || len(b.codes["ivy@example.org"]) != 2 {
		t.Fatalf("new code: %q", out.Text)
	}
	if c.say(first); c.st.Verified {
		t.Fatal("the first code verified after a new one was sent")
	}
	if c.say(b.lastCode("ivy@example.org")); !c.st.Verified {
		t.Fatal("the new code did not verify")
	}
}

// TestEveryWayOutOfTheCodeStep: cancel leaves it, a request for a person
// hands off, a red flag is heard; no email on file, or a code that
// cannot be sent, never shows the record.
func TestEveryWayOutOfTheCodeStep(t *testing.T) {
	c, _ := booked(t, "en", "sam@example.org")
	c.say("cancel my appointment")
	if out := c.say("Cancel"); !strings.Contains(out.Text, "didn't change anything") || c.st.Stage != stageOpen || c.st.Verify != nil {
		t.Fatalf("cancel: %q %s", out.Text, c.st.Stage)
	}
	c.say("cancel my appointment")
	if out := c.say("Talk to a person"); out.Handoff == nil {
		t.Fatalf("a person: %q", out.Text)
	}
	c, _ = booked(t, "en", "sam@example.org")
	c.say("cancel my appointment")
	if out := c.say("I have crushing chest pain"); out.Handoff == nil || out.Handoff.Priority != "urgent" {
		t.Fatalf("a red flag at the code step: %q %+v", out.Text, out.Handoff)
	}
	c, _ = booked(t, "en", "")
	if out := c.say("cancel my appointment"); out.Handoff == nil || !strings.Contains(out.Text, "no email or mobile number on file") || strings.Contains(out.Text, "Dr.") {
		t.Fatalf("no email on file: %q %+v", out.Text, out.Handoff)
	}
	c, b := booked(t, "en", "sam@example.org")
	b.codeErr = errors.New("SES throttled")
	if out := c.say("cancel my appointment"); !strings.Contains(out.Text, "couldn't send the code") || c.st.Stage != stageOpen {
		t.Fatalf("a code not sent: %q", out.Text)
	}
}

// TestTheCodeStepInSpanish: the step-up and the code's email speak the
// conversation's language.
func TestTheCodeStepInSpanish(t *testing.T) {
	c, b := booked(t, "es", "luz@example.org")
	out := c.say("cancelar mi cita")
	if !strings.Contains(out.Text, "código de 6 dígitos a l•••@example.org") || out.QuickReplies[0] != "Enviar un código nuevo" {
		t.Fatalf("step-up in Spanish: %q %v", out.Text, out.QuickReplies)
	}
	if out = c.say(b.lastCode("luz@example.org")); !strings.Contains(out.Text, "comprobé que es usted") {
		t.Fatalf("verified in Spanish: %q", out.Text)
	}
	raw, err := c.e.codeEmail("PSC <no-reply@example.org>", "luz@example.org", "es", "123456")
	if err != nil || !strings.Contains(string(raw), "Su código es 123456") || !strings.Contains(string(raw), "Subject: =?utf-8?q?") {
		t.Fatalf("the Spanish email: %s %v", raw, err)
	}
}

// TestAVerifiedPatientSeesTheirAppointments: "show my appointments" asks
// for the code first, then lists each upcoming visit (when, with whom,
// where, the confirmation number) with what can be done next.
func TestAVerifiedPatientSeesTheirAppointments(t *testing.T) {
	for _, tc := range []struct{ locale, ask, want, next string }{
		{"en", "show my appointments", "Your upcoming appointments:\n• ", "Reschedule"},
		{"es", "quiero ver mis citas", "Sus próximas citas:\n• ", "Reprogramar"},
	} {
		c, b := booked(t, tc.locale, "noa@example.org")
		out := c.say(tc.ask)
		if c.st.Stage != stageVerify || strings.Contains(out.Text, "Lee") {
			t.Fatalf("%s: before the code: %q", tc.locale, out.Text)
		}
		out = c.say(b.lastCode("noa@example.org"))
		if !strings.Contains(out.Text, tc.want) || !strings.Contains(out.Text, "Dr. Grace Lee") || !strings.Contains(out.Text, scheduling.Reference(b.appts[0].ID)) ||
			out.QuickReplies[0] != tc.next {
			t.Fatalf("%s: the list: %q %v", tc.locale, out.Text, out.QuickReplies)
		}
	}
}

// TestWrongCodesCountAcrossConversations: a session may start many
// conversations; the patient's wrong codes count across them, and the
// sixth in a day locks verification until a day after the first, in any
// conversation.
func TestWrongCodesCountAcrossConversations(t *testing.T) {
	c, b := booked(t, "en", "ivo@example.org")
	wrong := func(c *conversation) string {
		t.Helper()
		c.say("reschedule my appointment")
		c.say("000000")
		c.say("111111")
		return c.say("222222").Text
	}
	if out := wrong(c); !strings.Contains(out, "next 15 minutes") {
		t.Fatalf("first conversation: %q", out)
	}
	// A new conversation of the same patient, twenty minutes later.
	later := start(t, "en", open.Add(20*time.Minute)).with(b)
	later.say("yes")
	if out := wrong(later); !strings.Contains(out, "about 24 hours") || b.tries.Wrong != MaxWrongPerDay {
		t.Fatalf("second conversation: %q, tries %+v", out, b.tries)
	}
	if want := open.Add(WrongWindow); !b.tries.LockedUntil.Equal(want) {
		t.Fatalf("locked until %s, want a day after the first wrong code", b.tries.LockedUntil)
	}
	// A third conversation an hour on: no code is sent.
	third := start(t, "en", open.Add(time.Hour)).with(b)
	third.say("yes")
	sent := len(b.codes["ivo@example.org"])
	if out := third.say("cancel my appointment"); !strings.Contains(out.Text, "about 23 hours") || len(b.codes["ivo@example.org"]) != sent {
		t.Fatalf("third conversation: %q, %d codes sent", out.Text, len(b.codes["ivo@example.org"])-sent)
	}
	// A day after the first wrong code, it may try again.
	fourth := start(t, "en", open.Add(WrongWindow+time.Minute)).with(b)
	fourth.say("yes")
	fourth.say("cancel my appointment")
	if out := fourth.say(b.lastCode("ivo@example.org")); !fourth.st.Verified {
		t.Fatalf("the next day: %q", out.Text)
	}
}

// TestACodeGoesByTextWhenThereIsNoEmail: a patient whose appointment has
// a mobile number given for texts and no email gets the code by text.
func TestACodeGoesByTextWhenThereIsNoEmail(t *testing.T) {
	b := newFakeBooking(t)
	slots, _ := b.Search(scheduling.Query{Provider: "dr-lee", From: open.Add(24 * time.Hour), To: open.AddDate(0, 0, 7), Limit: 1})
	if _, err := b.Book(slots[0].ID, "", "+15552010167"); err != nil {
		t.Fatal(err)
	}
	c := start(t, "en", open).with(b)
	c.say("yes")
	out := c.say("show my appointments")
	if !strings.Contains(out.Text, "6-digit code to +1 •••••••• 67") || len(b.codes["+15552010167"]) != 1 {
		t.Fatalf("step-up by text: %q %v", out.Text, b.codes)
	}
	if out = c.say(b.lastCode("+15552010167")); !c.st.Verified || c.st.VerifiedEmail != "+15552010167" {
		t.Fatalf("verified by text: %q %+v", out.Text, c.st)
	}
	// A number that replied STOP gets no code: a person helps.
	stopped := start(t, "en", open).with(b)
	b.stopped = map[string]bool{"+15552010167": true}
	stopped.say("yes")
	if out := stopped.say("show my appointments"); out.Handoff == nil || len(b.codes["+15552010167"]) != 1 {
		t.Fatalf("after STOP: %q, codes %v", out.Text, b.codes)
	}
	// Without text reminders in the deployment, a person helps.
	d := newFakeBooking(t)
	if _, err := d.Book(slots[0].ID, "", "+15552010167"); err != nil {
		t.Fatal(err)
	}
	e := start(t, "en", open).with(d)
	e.e.WithTextReminders(false)
	e.say("yes")
	if out := e.say("show my appointments"); out.Handoff == nil {
		t.Fatalf("no texts: %q", out.Text)
	}
}

func TestTheCodesTextSaysWhoAndHowToStop(t *testing.T) {
	e := engine(t).WithOrganization("Riverside General")
	for _, locale := range []string{"en", "es"} {
		if got := e.codeText(locale, "042917"); !strings.Contains(got, "Riverside General") || !strings.Contains(got, "042917") || !strings.Contains(got, "STOP") || len(got) > 320 {
			t.Errorf("%s: %q", locale, got)
		}
	}
}

// TestAnOpenConversationGetsNoTryOnceThePatientIsLocked: codes asked for
// in two conversations at once; the sixth wrong code (in the first) locks
// the patient, and the second conversation's code is not checked.
func TestAnOpenConversationGetsNoTryOnceThePatientIsLocked(t *testing.T) {
	c, b := booked(t, "en", "noa@example.org")
	other := start(t, "en", open).with(b)
	other.say("yes")
	other.say("reschedule my appointment") // a code on its way here
	b.tries = CodeTries{Wrong: MaxWrongPerDay - 1, Since: open, Version: 5}
	c.say("reschedule my appointment")
	if out := c.say("000000"); !strings.Contains(out.Text, "hours") {
		t.Fatalf("the sixth wrong code: %q", out.Text)
	}
	if out := other.say(b.lastCode("noa@example.org")); other.st.Verified || !strings.Contains(out.Text, "hours") {
		t.Fatalf("the other conversation's code was checked: %q, verified %v", out.Text, other.st.Verified)
	}
}

// TestCodesSentAreCappedPerPatientPerDay: each code is a paid email or
// text; a patient gets at most MaxCodesPerDay a day across conversations.
func TestCodesSentAreCappedPerPatientPerDay(t *testing.T) {
	var c CodeTries
	var ok bool
	for i := range MaxCodesPerDay {
		if c, ok = c.AddSent(open.Add(time.Duration(i) * time.Hour)); !ok {
			t.Fatalf("code %d refused", i+1)
		}
	}
	if _, ok = c.AddSent(open.Add(23 * time.Hour)); ok {
		t.Fatal("a code past the day's cap was allowed")
	}
	if c, ok = c.AddSent(open.Add(WrongWindow)); !ok || c.Sent != 1 {
		t.Fatalf("the next day: %+v %v", c, ok)
	}
	g := &memGuard{}
	for range MaxCodesPerDay {
		if err := countSent(context.Background(), g, "p", open); err != nil {
			t.Fatal(err)
		}
	}
	if err := countSent(context.Background(), g, "p", open); !errors.Is(err, ErrTooManyCodes) {
		t.Fatalf("the seventh code: %v", err)
	}
}

type memGuard struct{ t CodeTries }

func (m *memGuard) Tries(context.Context, string) (CodeTries, error) { return m.t, nil }
func (m *memGuard) SaveTries(_ context.Context, _ string, t CodeTries) error {
	m.t = t
	return nil
}
