package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/chromedp/chromedp"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/adapter/secret"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/session"
)

// reminderLink books an appointment for a new patient (as the bot or an
// agent would, through the scheduling store) and signs the link its
// reminders carry, with the stack's own key.
func reminderLink(t *testing.T, email string) (scheduling.Appointment, string, *scheduling.Service) {
	return reminderLinkIn(t, email, "en")
}

// reminderLinkIn is reminderLink for an appointment booked in a language.
func reminderLinkIn(t *testing.T, email, locale string) (scheduling.Appointment, string, *scheduling.Service) {
	t.Helper()
	return signedLink(t, func(svc *scheduling.Service, slot scheduling.Slot, run int64) (scheduling.Appointment, error) {
		return svc.Book(context.Background(), scheduling.BookRequest{Token: fmt.Sprint(run), SlotID: slot.ID, PatientID: fmt.Sprint("page-", run), PatientName: "Iris",
			PatientEmail: email, Locale: locale, By: "patient"})
	})
}

// signedLink makes an appointment at one of Dr Haddad's open times (make
// books or holds it) and signs the link its messages carry, with the
// stack's own key.
func signedLink(t *testing.T, create func(svc *scheduling.Service, slot scheduling.Slot, run int64) (scheduling.Appointment, error)) (scheduling.Appointment, string, *scheduling.Service) {
	t.Helper()
	svc, slot := haddadSlot(t)
	a, err := create(svc, slot, time.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := stackLinks(t, "AppointmentLinkSecret").Issue(a.ID, a.PatientID, a.Slot.Start)
	if err != nil {
		t.Fatal(err)
	}
	return a, tok, svc
}

func haddadSlot(t *testing.T) (*scheduling.Service, scheduling.Slot) {
	t.Helper()
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	svc := scheduling.NewService(dir, ddb.NewAppointments(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"], 24*time.Hour), scheduling.Config{}, nil)
	from := time.Now().AddDate(0, 0, 40+int(time.Now().UnixNano()%360))
	open, err := svc.Search(context.Background(), scheduling.Query{Provider: "dr-haddad", VisitType: "follow-up", From: from, To: from.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(open) == 0 {
		t.Fatalf("search: %v %v", open, err)
	}
	return svc, open[0]
}

// stackLinks signs links with the stack's own key of a purpose (the
// secret whose name ends in secretSuffix).
func stackLinks(t *testing.T, secretSuffix string) *session.Links {
	t.Helper()
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(awsCfg())
	list, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, s := range list.SecretList {
		if strings.HasSuffix(*s.Name, secretSuffix) {
			id = *s.ARN
		}
	}
	key, err := secret.Key(ctx, sm, id)
	if err != nil {
		t.Fatal(err)
	}
	links, err := session.NewLinks(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return links
}

// TestAppointmentPageConfirmsAndCancels: a reminder's link opens the
// hosted appointment page (no chat needed); the patient sees the visit,
// confirms with the keyboard, then cancels; the store follows, and the
// cancellation email goes out. A tampered link shows an error and no
// appointment.
func TestAppointmentPageConfirmsAndCancels(t *testing.T) {
	email := fmt.Sprintf("iris%d@example.org", time.Now().UnixNano())
	a, tok, svc := reminderLink(t, email)
	page := env.Outputs.Web + "appointment.html?t=" + url.QueryEscape(tok) + "&do=confirm"

	b := browser(t)
	run(t, b, "opening the link", chromedp.Navigate(page))
	waitText(t, b, "#provider", "Dr. Layla Haddad")
	waitText(t, b, "#place", "Main Campus Clinic")
	accessible(t, b, "the appointment page")
	// The link's token leaves the address bar and history once read.
	if loc := run(t, b, "reading the address", chromedp.Evaluate[string](`location.href`)); strings.Contains(loc, "t=") {
		t.Fatalf("the token stays in the address bar: %s", loc)
	}
	if focused := run(t, b, "reading the focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "confirm" {
		t.Fatalf("focus is on %q, want the confirm button (do=confirm)", focused)
	}
	run(t, b, "confirming with Enter", chromedp.KeyEvent("\r"))
	waitText(t, b, "#status", "You confirmed this appointment")
	got, err := svc.Get(context.Background(), a.ID, a.PatientID)
	if err != nil || !got.Confirmed || got.State != scheduling.Booked {
		t.Fatalf("stored after confirming: %+v %v", got, err)
	}

	run(t, b, "asking to cancel", chromedp.Click(`#cancel`))
	run(t, b, "waiting for the check", chromedp.WaitVisible(`#cancel-yes`))
	run(t, b, "cancelling", chromedp.Click(`#cancel-yes`))
	waitText(t, b, "#status", "This appointment is cancelled")
	if got, _ := svc.Get(context.Background(), a.ID, a.PatientID); got.State != scheduling.Cancelled {
		t.Fatalf("stored after cancelling: %v", got.State)
	}
	mailTo(t, email, "Appointment cancelled")

	bad := browser(t)
	run(t, bad, "opening a tampered link", chromedp.Navigate(env.Outputs.Web+"appointment.html?t="+url.QueryEscape(tok[:len(tok)-3]+"abc")))
	waitText(t, bad, "#error", "This link is not valid any more")
	accessible(t, bad, "the appointment page with a bad link")
	if hidden := run(t, bad, "reading the details", chromedp.Evaluate[bool](`document.getElementById("details").hidden`)); !hidden {
		t.Fatal("a tampered link showed an appointment")
	}
}

// TestTheAppointmentPageInSpanish (issue 20, items 2 and 4): a Spanish
// appointment's link (lang=es) opens the page in Spanish — lang="es", no
// English text of the page left, axe-core clean; a cancelled one and a
// tampered link get the page's own Spanish words, never the server's text.
func TestTheAppointmentPageInSpanish(t *testing.T) {
	email := fmt.Sprintf("ines%d@example.org", time.Now().UnixNano())
	a, tok, svc := reminderLinkIn(t, email, "es")
	b := browser(t)
	run(t, b, "opening the Spanish link", chromedp.Navigate(env.Outputs.Web+"appointment.html?t="+url.QueryEscape(tok)+"&lang=es"))
	waitText(t, b, "#provider", "Dr. Layla Haddad")
	waitText(t, b, "#status", "Por favor confirme")
	if l := run(t, b, "reading the page's language", chromedp.Evaluate[string](`document.documentElement.lang`)); l != "es" {
		t.Fatalf("the page's lang is %q, want es", l)
	}
	text := run(t, b, "reading the page", chromedp.Evaluate[string](`document.body.innerText + " " + document.title`))
	for _, english := range []string{"Your appointment", "When", "With", "Where", "Confirmation", "I'll be there", "Cancel the appointment",
		"In an emergency", "chat with us", "Please confirm", "Skip to"} {
		if strings.Contains(text, english) {
			t.Errorf("the Spanish page still says %q", english)
		}
	}
	accessible(t, b, "the appointment page in Spanish")

	if _, err := svc.Cancel(context.Background(), a.ID, a.PatientID, "test"); err != nil {
		t.Fatal(err)
	}
	run(t, b, "reloading after the cancellation", chromedp.Reload())
	waitText(t, b, "#status", "Esta cita está cancelada")
	if hidden := run(t, b, "reading the actions", chromedp.Evaluate[bool](`document.getElementById("actions").hidden`)); !hidden {
		t.Fatal("a cancelled appointment still offers confirm and cancel")
	}

	bad := browser(t)
	run(t, bad, "opening a tampered Spanish link", chromedp.Navigate(env.Outputs.Web+"appointment.html?t="+url.QueryEscape(tok[:len(tok)-3]+"abc")+"&lang=es"))
	waitText(t, bad, "#error", "Este enlace ya no es válido")
	if errText := run(t, bad, "reading the error", chromedp.Text(`#error`)); strings.Contains(errText, "link") {
		t.Fatalf("the Spanish error shows English (the server's text?): %q", errText)
	}
}

// TestDueReminderGoesOutOnTheLocalStack: a reminder that comes due is sent
// by the notify function's schedule on the local stack — by email, with
// the link to the hosted appointment page, which opens that appointment.
func TestDueReminderGoesOutOnTheLocalStack(t *testing.T) {
	email := fmt.Sprintf("remi%d@example.org", time.Now().UnixNano())
	a, _, _ := reminderLink(t, email)
	notices := ddb.NewNotices(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"])
	// Due now, as the notify function plans it a day before the visit.
	if err := notices.Put(context.Background(), []notify.Reminder{{AppointmentID: a.ID, Kind: notify.Remind24h, At: time.Now().Add(-time.Second), Start: a.Slot.Start}}); err != nil {
		t.Fatal(err)
	}
	m := mailTo(t, email, "Reminder")
	if !strings.Contains(m.BodyText, "Dr. Layla Haddad") || !strings.Contains(m.BodyText, env.Outputs.Web+"appointment.html?t=") {
		t.Fatalf("reminder email = %+v", m)
	}
	start := strings.Index(m.BodyText, env.Outputs.Web+"appointment.html?t=")
	link := strings.Fields(m.BodyText[start:])[0]
	b := browser(t)
	run(t, b, "opening the reminder's link", chromedp.Navigate(link))
	waitText(t, b, "#provider", "Dr. Layla Haddad")
	waitText(t, b, "#status", "Please confirm you are coming")
}

// TestPagesAreServedWithTheirSecurityHeaders: the console and the link
// pages cannot be framed by another site; every page sets a
// Content-Security-Policy that allows only its own scripts.
func TestPagesAreServedWithTheirSecurityHeaders(t *testing.T) {
	for page, ancestors := range map[string]string{"agent/": "'none'", "appointment.html": "'none'", "survey.html": "'none'", "index.html": "'self'"} {
		resp, err := http.Get(env.Outputs.Web + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); got != "frame-ancestors "+ancestors {
			t.Errorf("%s: Content-Security-Policy %q, want frame-ancestors %s", page, got, ancestors)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", page)
		}
		if !strings.Contains(string(body), `http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self';`) {
			t.Errorf("%s: no Content-Security-Policy that allows only its own scripts", page)
		}
	}
}
