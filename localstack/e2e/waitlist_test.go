package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/chromedp"

	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

// TestAFreedTimeGoesToTheWaitlistOneAtATime (issue 20, item 7): twenty
// patients wait for a pediatrics visit, the first of them joined in the
// chat; a cancellation frees one time. On the local stack it is held for
// the first patient (told in the chat and by email, with links), the hold
// lapses and it moves to the second, who lets it go, then to the third,
// who takes it from the link. At every step exactly one patient holds it,
// and nobody else ever does.
func TestAFreedTimeGoesToTheWaitlistOneAtATime(t *testing.T) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	appts := ddb.NewAppointments(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"], 24*time.Hour)
	svc := scheduling.NewService(dir, appts, scheduling.Config{Notice: time.Hour}, nil)
	store := ddb.NewWaitlist(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"])
	wl := waitlist.NewService(store, svc, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)

	// Someone holds a pediatrics time two to seven weeks ahead.
	from := time.Now().AddDate(0, 0, 14+int(run%35)) // within the eight weeks a chat join waits for
	open, err := svc.Search(ctx, scheduling.Query{Specialty: "pediatrics", From: from, To: from.AddDate(0, 0, 14), Limit: 1})
	if err != nil || len(open) != 1 {
		t.Fatalf("search: %v %v", open, err)
	}
	slot := open[0]
	other, err := svc.Book(ctx, scheduling.BookRequest{Token: fmt.Sprint("wl-", run), SlotID: slot.ID, PatientID: fmt.Sprint("wl-other-", run), By: "patient"})
	if err != nil {
		t.Fatal(err)
	}

	// The first patient joins in the chat: no time offered suits them.
	p := startWithBot(t, "Nadia")
	n := 0
	offer := askForTimes(t, p, &n, "Pediatrics")
	if !strings.Contains(fmt.Sprint(offer["quickReplies"]), "Join the waitlist") {
		t.Fatalf("offer = %v", offer)
	}
	chat(t, p, &n, "Join the waitlist")
	firstEmail := fmt.Sprintf("nadia%d@example.org", run)
	chat(t, p, &n, firstEmail)
	if joined := chat(t, p, &n, "Skip"); !strings.Contains(joined["text"].(string), "You're on the waitlist for Pediatrics") {
		t.Fatalf("joined = %v", joined)
	}
	patients := []string{p.patientID}
	emails := []string{firstEmail}
	entries := []string{waitlist.EntryID(p.patientID, "pediatrics", "")}
	// Nineteen more, for that day only.
	for i := 1; i < 20; i++ {
		e, err := wl.Join(ctx, waitlist.Entry{PatientID: fmt.Sprintf("wl-%d-%d", run, i), PatientName: "Patient", PatientEmail: fmt.Sprintf("wl%d-%d@example.org", run, i),
			Locale: "en", Specialty: "pediatrics", From: slot.Start, To: slot.Start.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		patients, emails, entries = append(patients, e.PatientID), append(emails, e.PatientEmail), append(entries, e.ID)
	}
	t.Cleanup(func() {
		for _, id := range entries {
			_ = wl.Leave(context.Background(), id)
		}
	})

	// heldBy waits until the slot is held for patient i, and checks no one
	// else holds or ever held it.
	heldBy := func(i int) scheduling.Appointment {
		t.Helper()
		var mine scheduling.Appointment
		stacktest.Eventually(t, 30*time.Second, fmt.Sprintf("the time held for patient %d alone", i), func() bool {
			var holders []string
			for j, pt := range patients {
				all, err := appts.ForPatient(ctx, pt)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range all {
					if a.Slot.ID != slot.ID {
						continue
					}
					if j > i {
						t.Fatalf("patient %d, behind patient %d, got the time: %+v", j, i, a)
					}
					if a.State == scheduling.Held || a.State.Active() {
						holders = append(holders, fmt.Sprint(j))
						mine = a
					}
				}
			}
			if len(holders) > 1 {
				t.Fatalf("the time is held by patients %v at once", holders)
			}
			return len(holders) == 1 && mine.PatientID == patients[i]
		})
		return mine
	}

	if _, err := svc.Cancel(ctx, other.ID, other.PatientID, "patient"); err != nil {
		t.Fatal(err)
	}
	first := heldBy(0)
	if first.State != scheduling.Held || first.WaitlistID != entries[0] {
		t.Fatalf("the first hold: %+v", first)
	}
	m := mailTo(t, emails[0], "A time opened for you")
	if !strings.Contains(m.BodyText, "held for you until") || !strings.Contains(m.BodyText, "Take it: "+env.Outputs.Web+"appointment.html?t=") {
		t.Fatalf("the offer's email: %s", m.BodyText)
	}
	notice, _ := p.c.Wait(func(f map[string]any) bool {
		return f["type"] == "message" && strings.Contains(fmt.Sprint(f["text"]), "Good news from the waitlist")
	})
	if !strings.Contains(fmt.Sprint(notice["text"]), "Dr.") {
		t.Fatalf("the offer in the chat: %v", notice)
	}

	// Patient 0 does nothing: the hold lapses (10 s here) and it moves on.
	second := heldBy(1)
	mailTo(t, emails[1], "A time opened for you")
	// Patient 1 lets it go (as the page's "Let it go" does).
	if _, err := svc.Cancel(ctx, second.ID, second.PatientID, "patient"); err != nil {
		t.Fatal(err)
	}
	heldBy(2)
	// Patient 2 takes it from the link in the email.
	m = mailTo(t, emails[2], "A time opened for you")
	at := strings.Index(m.BodyText, env.Outputs.Web+"appointment.html?t=")
	u, err := url.Parse(strings.Fields(m.BodyText[at:])[0])
	if err != nil {
		t.Fatal(err)
	}
	link := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	taken := link.Request(map[string]any{"action": "appointment", "token": u.Query().Get("t"), "decision": "confirm"})
	if ap, _ := taken["appointment"].(map[string]any); taken["type"] != "appointment" || ap["state"] != "booked" || taken["confirmed"] != true {
		t.Fatalf("taking the time: %v", taken)
	}
	final := heldBy(2)
	if final.State != scheduling.Booked {
		t.Fatalf("the time ends %s", final.State)
	}
	mailTo(t, emails[2], "Appointment confirmed")
	// The notify function settles the entry right after that email.
	stacktest.Eventually(t, 20*time.Second, "the entry of the patient who took the time booked", func() bool {
		e, err := store.Get(ctx, entries[2])
		return err == nil && e.State == waitlist.Booked
	})
	for i, want := range []waitlist.State{waitlist.Waiting, waitlist.Waiting, waitlist.Booked, waitlist.Waiting} {
		e, err := store.Get(ctx, entries[i])
		if err != nil || e.State != want || e.Hold != "" {
			t.Fatalf("entry %d: %+v %v, want %s", i, e, err, want)
		}
	}
	// The first patient, still waiting, leaves in the chat.
	if left := chat(t, p, &n, "Please take me off the waitlist"); !strings.Contains(left["text"].(string), "you're off the waitlist") {
		t.Fatalf("leaving = %v", left)
	}
	if e, err := store.Get(ctx, entries[0]); err != nil || e.State != waitlist.Left {
		t.Fatalf("the first entry after leaving: %+v %v", e, err)
	}
}

// heldLink holds a time for a new patient, as the waitlist does, and signs
// the link its offer carries.
func heldLink(t *testing.T, locale string) (scheduling.Appointment, string, *scheduling.Service) {
	t.Helper()
	return signedLink(t, func(svc *scheduling.Service, slot scheduling.Slot, run int64) (scheduling.Appointment, error) {
		return svc.Hold(context.Background(), scheduling.HoldRequest{Until: time.Now().Add(10 * time.Minute), BookRequest: scheduling.BookRequest{Token: fmt.Sprint(run),
			SlotID: slot.ID, PatientID: fmt.Sprint("held-", run), PatientName: "Rosa", Locale: locale, By: "waitlist"}})
	})
}

// TestAHeldTimeOnTheAppointmentPage (issue 20, item 7): the offer's link
// opens the page with the time held until when, "Take this time" and
// "Let it go", axe-clean in English and Spanish; letting it go releases
// it, taking it books it.
func TestAHeldTimeOnTheAppointmentPage(t *testing.T) {
	a, tok, svc := heldLink(t, "en")
	b := browser(t)
	run(t, b, "opening the offer's link", chromedp.Navigate(env.Outputs.Web+"appointment.html?t="+url.QueryEscape(tok)+"&do=confirm"))
	waitText(t, b, "#status", "it is held for you until")
	waitText(t, b, "#confirm", "Take this time")
	waitText(t, b, "#cancel", "Let it go")
	accessible(t, b, "the appointment page with a held time")
	run(t, b, "letting it go", chromedp.Click(`#cancel`))
	run(t, b, "waiting for the check", chromedp.WaitVisible(`#cancel-yes`))
	waitText(t, b, "#cancel-question", "offered to the next patient on the waitlist")
	run(t, b, "confirming", chromedp.Click(`#cancel-yes`))
	waitText(t, b, "#status", "You let this time go")
	if got, _ := svc.Get(context.Background(), a.ID, a.PatientID); got.State != scheduling.Cancelled {
		t.Fatalf("stored after letting it go: %v", got.State)
	}

	es, tok, svc := heldLink(t, "es")
	b = browser(t)
	run(t, b, "opening the Spanish offer's link", chromedp.Navigate(env.Outputs.Web+"appointment.html?t="+url.QueryEscape(tok)+"&lang=es"))
	waitText(t, b, "#status", "se lo reservamos hasta las")
	waitText(t, b, "#confirm", "Tomar este horario")
	text := run(t, b, "reading the page", chromedp.Evaluate[string](`document.body.innerText`))
	for _, english := range []string{"Take this time", "Let it go", "held for you", "waitlist"} {
		if strings.Contains(text, english) {
			t.Errorf("the Spanish page still says %q", english)
		}
	}
	accessible(t, b, "the Spanish appointment page with a held time")
	run(t, b, "taking it", chromedp.Click(`#confirm`))
	waitText(t, b, "#status", "Este horario es suyo")
	if got, _ := svc.Get(context.Background(), es.ID, es.PatientID); got.State != scheduling.Booked {
		t.Fatalf("stored after taking it: %v", got.State)
	}
}
