package bot

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // business hours need time zones; Lambda's base image may have none

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/i18n"
)

//go:embed content.yaml
var contentYAML []byte

// Localized is a text in each supported language.
type Localized = i18n.Text

// Phrases are words to recognise, per language.
type Phrases struct {
	EN []string `yaml:"en"`
	ES []string `yaml:"es"`
}

// Both returns the phrases of both languages: patients mix them.
func (p Phrases) Both() []string { return append(append([]string{}, p.EN...), p.ES...) }

// Replies are quick replies per language.
type Replies struct {
	EN []string `yaml:"en"`
	ES []string `yaml:"es"`
}

// In returns the replies in locale.
func (r Replies) In(locale string) []string {
	if locale == "es" {
		return r.ES
	}
	return r.EN
}

// Specialty is a kind of care a patient can ask an appointment for.
type Specialty struct {
	ID      string  `yaml:"id"`
	EN      string  `yaml:"en"`
	ES      string  `yaml:"es"`
	Phrases Phrases `yaml:"phrases"`
}

// Name returns the specialty's name in locale.
func (s Specialty) Name(locale string) string { return Localized{EN: s.EN, ES: s.ES}.In(locale) }

// AgentOnly is a topic only a person handles.
type AgentOnly struct {
	Queue   string  `yaml:"queue"`
	Phrases Phrases `yaml:"phrases"`
}

// Content is the bot's words and conversation rules (content.yaml).
type Content struct {
	// Organization is how the bot names the hospital when the deployment
	// gives no name (WithOrganization), in each language.
	Organization i18n.Text            `yaml:"organization"`
	Text         map[string]Localized `yaml:"text"`
	QuickReplies map[string]Replies   `yaml:"quickReplies"`
	Intents      map[string]Phrases   `yaml:"intents"`
	AgentOnly    []AgentOnly          `yaml:"agentOnly"`
	Specialties  []Specialty          `yaml:"specialties"`
	Queues       map[string]string    `yaml:"queues"`
}

// HoursConfig is the center's opening hours: configuration (the
// template's BusinessHours, BusinessTimezone and BusinessClosures).
type HoursConfig struct {
	Timezone string   // IANA zone, e.g. America/New_York
	Weekly   string   // e.g. "mon-fri=08:00-18:00,sat=09:00-13:00"; days not named are closed
	Closures []string // dates (YYYY-MM-DD) the center is closed
}

var (
	requiredTexts = []string{"greeting", "consent", "consentYes", "declined", "askQuestion", "askSymptoms", "handoff", "agentOnly",
		"notUnderstood", "notUnderstoodHandoff", "source", "helpful", "helpfulYes", "helpfulNo",
		"appointmentSpecialty", "appointmentDays", "appointmentProvider", "appointmentHandoff", "appointmentCancelled",
		"triageFollowUp", "triageNo", "nowNo", "triageAgain", "closed", "unstaffed", "callbackAsk", "callbackDone",
		"slotsOffer", "slotsPick", "slotsNone", "slotConfirm", "askEmail", "badEmail", "askPhone", "badPhone", "booked", "remindBoth", "remind2h", "remindText", "remindNone", "bookedVideo", "slotTaken", "bookingFailed",
		"slotsNoneWaitlist", "waitlistJoined", "waitlistText", "verifyLockedLong", "codeText", "waitlistLeft", "waitlistNotOn",
		"apptNone", "apptPick", "cancelConfirm", "apptCancelled", "rescheduled", "apptKept", "goodbye"}
	requiredReplies = []string{"wayOut", "consent", "menu", "helpful", "triage", "triageQuestion", "days", "provider", "closed", "slots", "confirm", "email", "phone", "cancelAppt", "anythingElse", "waitlist", "waitlistAsk"}
	requiredIntents = []string{"yes", "no", "handoff", "nurse", "appointment", "cancel", "askQuestion", "checkSymptom", "leaveMessage", "noPreference",
		"rescheduleAppt", "cancelAppt", "otherTimes", "skip", "done", "triageYes", "triageNo", "waitlist", "leaveWaitlist"}
	requiredQueues = []string{"default", "urgent", "nurse", "scheduling", "callback"}
)

// LoadContent parses the embedded content.
func LoadContent() (*Content, error) { return ParseContent(contentYAML) }

// ParseContent parses and validates content YAML: every text, reply set
// and intent the engine uses exists in English and Spanish.
func ParseContent(data []byte) (*Content, error) {
	var c Content
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("bot content: %w", err)
	}
	var problems []string
	for _, k := range requiredTexts {
		if t := c.Text[k]; t.EN == "" || t.ES == "" {
			problems = append(problems, "text "+k+" needs en and es")
		}
	}
	for _, k := range requiredReplies {
		if r := c.QuickReplies[k]; len(r.EN) == 0 || len(r.EN) != len(r.ES) {
			problems = append(problems, "quickReplies "+k+" needs the same number of en and es replies")
		}
	}
	for _, k := range requiredIntents {
		if p := c.Intents[k]; len(p.EN) == 0 || len(p.ES) == 0 {
			problems = append(problems, "intent "+k+" needs en and es phrases")
		}
	}
	for _, k := range requiredQueues {
		if c.Queues[k] == "" {
			problems = append(problems, "queues."+k+" is required")
		}
	}
	for _, s := range c.Specialties {
		if s.ID == "" || s.EN == "" || s.ES == "" || len(s.Phrases.EN) == 0 || len(s.Phrases.ES) == 0 {
			problems = append(problems, "specialty "+s.ID+" needs id, en, es and phrases")
		}
	}
	for _, a := range c.AgentOnly {
		if a.Queue == "" || len(a.Phrases.EN) == 0 || len(a.Phrases.ES) == 0 {
			problems = append(problems, "agentOnly topics need a queue and en and es phrases")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("bot content: %s", strings.Join(problems, "; "))
	}
	return &c, nil
}

// Hours answers whether the center is open.
type Hours struct {
	loc      *time.Location
	weekly   map[time.Weekday][2]int // minutes from midnight, [open, close)
	closures map[string]bool
	describe Localized
}

var dayOrder = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

var dayNames = map[string]Localized{
	"mon": {EN: "Mon", ES: "lun"}, "tue": {EN: "Tue", ES: "mar"}, "wed": {EN: "Wed", ES: "mié"}, "thu": {EN: "Thu", ES: "jue"},
	"fri": {EN: "Fri", ES: "vie"}, "sat": {EN: "Sat", ES: "sáb"}, "sun": {EN: "Sun", ES: "dom"},
}

// NewHours parses opening hours.
func NewHours(c HoursConfig) (*Hours, error) {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		return nil, fmt.Errorf("business timezone %q is not an IANA time zone", c.Timezone)
	}
	h := &Hours{loc: loc, weekly: map[time.Weekday][2]int{}, closures: map[string]bool{}}
	spans := map[string]string{}
	for _, part := range strings.Split(c.Weekly, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, span, ok := strings.Cut(part, "=")
		var oh, om, ch, cm int
		if _, err := fmt.Sscanf(span, "%d:%d-%d:%d", &oh, &om, &ch, &cm); !ok || err != nil || oh*60+om >= ch*60+cm || ch*60+cm > 24*60 {
			return nil, fmt.Errorf("business hours %q: want day=HH:MM-HH:MM", part)
		}
		list, err := dayRange(days)
		if err != nil {
			return nil, err
		}
		for _, d := range list {
			h.weekly[weekdays[d]] = [2]int{oh*60 + om, ch*60 + cm}
			spans[d] = fmt.Sprintf("%02d:%02d–%02d:%02d", oh, om, ch, cm)
		}
	}
	for _, d := range c.Closures {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return nil, fmt.Errorf("business closure %q is not a date (YYYY-MM-DD)", d)
		}
		h.closures[d] = true
	}
	h.describe = describe(spans, c.Timezone)
	return h, nil
}

// dayRange reads "mon", or "mon-fri".
func dayRange(s string) ([]string, error) {
	from, to, isRange := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "-")
	if !isRange {
		to = from
	}
	i, j := indexOf(dayOrder, from), indexOf(dayOrder, to)
	if i < 0 || j < 0 || j < i {
		return nil, fmt.Errorf("business hours: %q is not a day or a range like mon-fri", s)
	}
	return dayOrder[i : j+1], nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// describe renders the hours for patients, grouping days with equal hours.
func describe(spans map[string]string, zone string) Localized {
	var en, es []string
	for i := 0; i < len(dayOrder); {
		span, ok := spans[dayOrder[i]]
		j := i
		for j+1 < len(dayOrder) && ok && spans[dayOrder[j+1]] == span {
			j++
		}
		if ok {
			en = append(en, dayLabel(i, j, "en")+" "+span)
			es = append(es, dayLabel(i, j, "es")+" "+span)
		}
		i = j + 1
	}
	if len(en) == 0 {
		return Localized{EN: "closed", ES: "cerrado"}
	}
	return Localized{EN: strings.Join(en, ", ") + " (" + zone + ")", ES: strings.Join(es, ", ") + " (" + zone + ")"}
}

func dayLabel(i, j int, locale string) string {
	if i == j {
		return dayNames[dayOrder[i]].In(locale)
	}
	return dayNames[dayOrder[i]].In(locale) + "–" + dayNames[dayOrder[j]].In(locale)
}

// Open reports whether the center is open at t.
func (h *Hours) Open(t time.Time) bool {
	local := t.In(h.loc)
	if h.closures[local.Format("2006-01-02")] {
		return false
	}
	span, ok := h.weekly[local.Weekday()]
	m := local.Hour()*60 + local.Minute()
	return ok && m >= span[0] && m < span[1]
}
