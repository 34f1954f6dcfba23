// Package notify tells patients about their appointments: a confirmation
// when one is booked, moved or cancelled (in the chat, and by email with a
// calendar invitation), and reminders a day and two hours before the
// visit, each with a link to confirm or cancel. It reacts to the
// scheduling stream, not to the booking code, and has no AWS imports.
package notify

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/i18n"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Kind is what a notice is about.
type Kind string

// Notice kinds.
const (
	Booked      Kind = "booked"
	Rescheduled Kind = "rescheduled"
	Cancelled   Kind = "cancelled"
	Remind24h   Kind = "reminder-24h"
	Remind2h    Kind = "reminder-2h"
	// The reminders by text message, to patients who gave a mobile number
	// for them.
	Text24h Kind = "sms-24h"
	Text2h  Kind = "sms-2h"
	// Offered is a freed time held for a waitlisted patient; HoldExpiry
	// the hold's end, when the sweep lets it go.
	Offered    Kind = "offered"
	HoldExpiry Kind = "hold-expiry"
	// OfferText is an offer's text held back by the quiet hours.
	OfferText Kind = "offer-text"
)

// Texted says whether a kind is a text message.
func (k Kind) Texted() bool { return k == Text24h || k == Text2h }

// Leads are how long before a visit each reminder goes out.
var Leads = map[Kind]time.Duration{Remind24h: 24 * time.Hour, Remind2h: 2 * time.Hour, Text24h: 24 * time.Hour, Text2h: 2 * time.Hour}

// Detect says what a change of an appointment (stream images; old is nil
// for a new one, new nil for a removal) tells the patient, if anything.
func Detect(old, new *scheduling.Appointment) (Kind, bool) {
	switch {
	case new == nil:
		return "", false
	case old == nil && new.State == scheduling.Held:
		return Offered, true
	case old == nil:
		return Booked, new.State == scheduling.Booked
	case old.State == scheduling.Held && new.State == scheduling.Booked:
		return Booked, true // the patient took the held time
	case old.Version == new.Version:
		return "", false
	case new.State == scheduling.Rescheduled && old.Slot.ID != new.Slot.ID:
		return Rescheduled, true
	case new.State == scheduling.Cancelled && old.State.Active():
		return Cancelled, true
	}
	return "", false
}

// Reminder is a reminder due at At for the appointment's visit at Start.
type Reminder struct {
	AppointmentID string
	Kind          Kind
	At            time.Time
	Start         time.Time
}

// Plan lists an active appointment's reminders still ahead of now (none
// for one cancelled or past). A zero now plans every reminder, to know
// which to remove. Text reminders, for a patient who agreed to them, are
// moved out of the quiet hours (or left out when that would be too
// close to the visit).
func Plan(a scheduling.Appointment, now time.Time, q Quiet) []Reminder {
	if a.State == scheduling.Held {
		return []Reminder{{AppointmentID: a.ID, Kind: HoldExpiry, At: a.HoldUntil.UTC(), Start: a.Slot.Start.UTC()}}
	}
	if !a.State.Active() && !now.IsZero() {
		return nil
	}
	kinds := []Kind{Remind24h, Remind2h}
	if a.PatientPhone != "" && !a.SMSConsentAt.IsZero() {
		kinds = append(kinds, Text24h, Text2h)
	}
	var out []Reminder
	for _, k := range kinds {
		at := a.Slot.Start.Add(-Leads[k])
		if k.Texted() {
			var ok bool
			if at, ok = q.Shift(at, a.Slot.Start); !ok {
				continue
			}
		}
		if now.IsZero() || at.After(now) {
			out = append(out, Reminder{AppointmentID: a.ID, Kind: k, At: at.UTC(), Start: a.Slot.Start.UTC()})
		}
	}
	return out
}

// Localized is a text in English and Spanish.
type Localized = i18n.Text

// Texts are the notices' words.
type Texts struct {
	Organization string `yaml:"organization"`
	From         string `yaml:"from"`
	Notices      map[Kind]struct {
		Subject Localized `yaml:"subject"`
		Text    Localized `yaml:"text"`
	} `yaml:"notices"`
	Lines map[string]Localized `yaml:"lines"`
	// Texts are the text reminders; Replies the answers to patients' texts.
	Texts   map[Kind]Localized   `yaml:"texts"`
	Replies map[string]Localized `yaml:"replies"`
}

//go:embed notices.yaml
var noticesYAML []byte

// LoadTexts parses and checks the embedded texts: every kind and line in
// both languages.
func LoadTexts() (*Texts, error) {
	var t Texts
	dec := yaml.NewDecoder(strings.NewReader(string(noticesYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	for _, k := range []Kind{Booked, Rescheduled, Cancelled, Remind24h, Remind2h, Offered} {
		n := t.Notices[k]
		if n.Subject.EN == "" || n.Subject.ES == "" || n.Text.EN == "" || n.Text.ES == "" {
			return nil, fmt.Errorf("notices: %s needs a subject and a text in en and es", k)
		}
	}
	for _, l := range []string{"join", "links", "change", "calendar", "video", "offerLinks"} {
		if t.Lines[l].EN == "" || t.Lines[l].ES == "" {
			return nil, fmt.Errorf("notices: line %s needs en and es", l)
		}
	}
	for _, k := range []Kind{Text24h, Text2h, Offered} {
		if t.Texts[k].EN == "" || t.Texts[k].ES == "" {
			return nil, fmt.Errorf("notices: text %s needs en and es", k)
		}
	}
	for _, r := range []string{"stopped", "started", "help", "unread"} {
		if t.Replies[r].EN == "" || t.Replies[r].ES == "" {
			return nil, fmt.Errorf("notices: reply %s needs en and es", r)
		}
	}
	if t.From == "" {
		return nil, fmt.Errorf("notices: from is required")
	}
	return &t, nil
}

var (
	weekdaysES = []string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
	monthsES   = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}
)

// Until writes when a hold ends: the time of day, in the center's zone.
func Until(t time.Time, zone *time.Location, locale string) string {
	if t.IsZero() {
		return ""
	}
	if locale == "es" {
		return t.In(zone).Format("15:04 MST")
	}
	return t.In(zone).Format("3:04 PM MST")
}

// When writes a visit's start in the center's time zone, in the locale.
func When(t time.Time, zone *time.Location, locale string) string {
	l := t.In(zone)
	if locale == "es" {
		return fmt.Sprintf("%s %d de %s, %s", weekdaysES[l.Weekday()], l.Day(), monthsES[l.Month()-1], l.Format("15:04 MST"))
	}
	return l.Format("Monday, January 2 at 3:04 PM MST")
}

// Message is a notice ready to send: the chat line and the email.
type Message struct {
	Subject string
	Text    string // the chat message, and the email's first paragraph
	Body    string // the whole email body
}

// Fill is what a notice says of an appointment.
type Fill struct {
	Page            string // the appointment's page, from a reminder
	Confirm, Cancel string // the links of a reminder
}

// vars fills a notice's placeholders for an appointment.
func (t *Texts) vars(a scheduling.Appointment, dir *scheduling.Directory, f Fill) *strings.Replacer {
	loc := a.Locale
	p, _ := dir.Provider(a.Slot.Provider)
	v, _ := dir.VisitType(a.Slot.VisitType)
	place := t.Lines["video"].In(loc)
	if a.Slot.Mode != scheduling.Telehealth {
		l, _ := dir.Location(a.Slot.Location)
		place = l.Name + ", " + l.Address
	}
	return strings.NewReplacer("{when}", When(a.Slot.Start, dir.Zone(), loc), "{visit}", v.Name.In(loc), "{provider}", p.Name,
		"{place}", place, "{ref}", scheduling.Reference(a.ID), "{join}", a.JoinURL, "{confirm}", f.Confirm, "{cancel}", f.Cancel,
		"{page}", f.Page, "{org}", t.Organization, "{until}", Until(a.HoldUntil, dir.Zone(), loc))
}

// Text writes a text reminder of a kind for an appointment.
func (t *Texts) Text(k Kind, a scheduling.Appointment, dir *scheduling.Directory, f Fill) string {
	if f.Page == "" {
		f.Page = t.Lines["change"].In(a.Locale)
	}
	return t.vars(a, dir, f).Replace(t.Texts[k].In(a.Locale))
}

// Reply writes an answer to a patient's text in a locale ("": English,
// then Spanish, for a text whose language is not known).
func (t *Texts) Reply(name, locale, contact string) string {
	r := strings.NewReplacer("{org}", t.Organization, "{contact}", contact)
	if locale == "" {
		return r.Replace(t.Replies[name].EN) + "\n" + r.Replace(t.Replies[name].ES)
	}
	return r.Replace(t.Replies[name].In(locale))
}

// Compose writes the notice of a kind for an appointment.
func (t *Texts) Compose(k Kind, a scheduling.Appointment, dir *scheduling.Directory, f Fill) Message {
	loc := a.Locale
	vars := t.vars(a, dir, f)
	n := t.Notices[k]
	m := Message{Subject: vars.Replace(n.Subject.In(loc)), Text: vars.Replace(n.Text.In(loc))}
	lines := []string{m.Text}
	if a.JoinURL != "" && k != Cancelled {
		join := vars.Replace(t.Lines["join"].In(loc))
		m.Text += " " + join
		lines = append(lines, join)
	}
	switch {
	case k == Offered && f.Confirm != "":
		lines = append(lines, vars.Replace(t.Lines["offerLinks"].In(loc)))
	case f.Confirm != "":
		lines = append(lines, vars.Replace(t.Lines["links"].In(loc)))
	case k != Cancelled:
		lines = append(lines, t.Lines["change"].In(loc))
	}
	if k == Booked || k == Rescheduled || k == Cancelled {
		lines = append(lines, t.Lines["calendar"].In(loc))
	}
	m.Body = strings.Join(lines, "\n\n") + "\n"
	return m
}
