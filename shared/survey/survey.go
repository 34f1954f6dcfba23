// Package survey is the follow-up of conversations and visits: one
// satisfaction survey per closed conversation or completed visit (unless a
// rule says not to ask), answered once, and a follow-up task for
// supervisors when the answer is poor. It has no AWS imports.
package survey

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/i18n"
)

// Kind is what a survey follows up.
type Kind string

// Survey kinds.
const (
	Conversation Kind = "conversation"
	Visit        Kind = "visit"
)

// Localized is a text in English and Spanish.
type Localized = i18n.Text

// Question is one question of a survey.
type Question struct {
	ID       string    `yaml:"id"`
	Type     string    `yaml:"type"` // scale or text
	Min      int       `yaml:"min"`
	Max      int       `yaml:"max"`
	Required bool      `yaml:"required"`
	Text     Localized `yaml:"text"`
}

// Config is the surveys' configuration (surveys.yaml).
type Config struct {
	Window       time.Duration
	OpenFor      time.Duration
	SkipRedFlags bool
	LowScore     int
	Kinds        map[Kind][]Question
	Texts        map[string]Localized
}

type rawConfig struct {
	Window       string `yaml:"window"`
	SkipRedFlags bool   `yaml:"skipRedFlags"`
	OpenFor      string `yaml:"openFor"`
	LowScore     int    `yaml:"lowScore"`
	Kinds        map[Kind]struct {
		Questions []Question `yaml:"questions"`
	} `yaml:"kinds"`
	Texts map[string]Localized `yaml:"texts"`
}

//go:embed surveys.yaml
var surveysYAML []byte

// LoadConfig parses and checks the embedded configuration.
func LoadConfig() (*Config, error) { return ParseConfig(surveysYAML) }

// ParseConfig parses and checks a configuration: both kinds, each with a
// required 1–5 csat question, a visit's nps on 0–10, texts in both
// languages.
func ParseConfig(b []byte) (*Config, error) {
	var raw rawConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("surveys: %w", err)
	}
	c := &Config{SkipRedFlags: raw.SkipRedFlags, LowScore: raw.LowScore, Kinds: map[Kind][]Question{}, Texts: raw.Texts}
	var err error
	if c.Window, err = time.ParseDuration(raw.Window); err != nil || c.Window < 0 {
		return nil, fmt.Errorf("surveys: window %q is not a duration", raw.Window)
	}
	if c.OpenFor, err = time.ParseDuration(raw.OpenFor); err != nil || c.OpenFor <= 0 {
		return nil, fmt.Errorf("surveys: openFor %q is not a positive duration", raw.OpenFor)
	}
	if c.LowScore < 1 || c.LowScore > 4 {
		return nil, fmt.Errorf("surveys: lowScore must be 1 to 4")
	}
	for _, k := range []Kind{Conversation, Visit} {
		qs := raw.Kinds[k].Questions
		if len(qs) == 0 || qs[0].ID != "csat" || qs[0].Type != "scale" || qs[0].Min != 1 || qs[0].Max != 5 || !qs[0].Required {
			return nil, fmt.Errorf("surveys: %s must start with a required csat question on a 1-5 scale", k)
		}
		seen := map[string]bool{}
		for _, q := range qs {
			if seen[q.ID] || q.Text.EN == "" || q.Text.ES == "" || (q.Type != "scale" && q.Type != "text") || (q.Type == "scale" && q.Max <= q.Min) {
				return nil, fmt.Errorf("surveys: %s question %q is repeated, untranslated or malformed", k, q.ID)
			}
			if q.ID == "nps" && (q.Min != 0 || q.Max != 10) {
				return nil, fmt.Errorf("surveys: nps is on a 0-10 scale")
			}
			seen[q.ID] = true
		}
		c.Kinds[k] = qs
	}
	if !hasQuestion(c.Kinds[Visit], "nps") {
		return nil, fmt.Errorf("surveys: a visit survey asks the nps question")
	}
	for _, t := range []string{"intro", "emailSubject", "emailBody", "thanks"} {
		if c.Texts[t].EN == "" || c.Texts[t].ES == "" {
			return nil, fmt.Errorf("surveys: text %s needs en and es", t)
		}
	}
	return c, nil
}

func hasQuestion(qs []Question, id string) bool {
	for _, q := range qs {
		if q.ID == id {
			return true
		}
	}
	return false
}

// Source is what a survey follows up: a closed conversation or a
// completed visit, with what its answers are reported by.
type Source struct {
	Kind           Kind
	ID             string // the conversation's or the appointment's
	PatientID      string
	PatientEmail   string
	Locale         string
	ConversationID string
	Queue          string
	AgentID        string
	AgentName      string
	Topic          string
	RedFlag        bool
	At             time.Time // when it closed or the visit ended
}

// Answer is a patient's answer.
type Answer struct {
	CSAT      int
	NPS       *int
	Comment   string
	Sentiment float64
	At        time.Time
}

// Survey is one survey.
type Survey struct {
	ID string
	Source
	CreatedAt time.Time
	ExpiresAt time.Time
	// Delivery says how it reached the patient: chat, email, or none
	// (no open chat and no email).
	Delivery string
	Answer   *Answer
}

// SurveyID names the survey of a source: one per conversation or visit,
// whoever asks.
func SurveyID(k Kind, sourceID string) string {
	sum := sha256.Sum256([]byte(string(k) + "\x00" + sourceID))
	return "sv" + hex.EncodeToString(sum[:12])
}

// New makes the survey of a source, or says why not to ask: red flags
// (an emergency is not a service experience to rate).
func (c *Config) New(src Source, now time.Time) (Survey, string) {
	if c.SkipRedFlags && src.RedFlag {
		return Survey{}, "red flag"
	}
	return Survey{ID: SurveyID(src.Kind, src.ID), Source: src, CreatedAt: now.UTC(), ExpiresAt: now.Add(c.OpenFor).UTC()}, ""
}

// MaxCommentRunes bounds a comment.
const MaxCommentRunes = 1000

// Check validates an answer against the survey's questions.
func (c *Config) Check(s Survey, a Answer) error {
	for _, q := range c.Kinds[s.Kind] {
		switch q.ID {
		case "csat":
			if a.CSAT < q.Min || a.CSAT > q.Max {
				return fault.Errorf(fault.BadRequest, "the score must be %d to %d", q.Min, q.Max)
			}
		case "nps":
			if a.NPS != nil && (*a.NPS < q.Min || *a.NPS > q.Max) {
				return fault.Errorf(fault.BadRequest, "the recommendation score must be %d to %d", q.Min, q.Max)
			}
		}
	}
	if s.Kind != Visit && a.NPS != nil {
		return fault.Errorf(fault.BadRequest, "this survey has no recommendation question")
	}
	if len([]rune(a.Comment)) > MaxCommentRunes {
		return fault.Errorf(fault.TooLarge, "the comment is at most %d characters", MaxCommentRunes)
	}
	return nil
}

// Task is a follow-up for supervisors: a poor answer to look into.
type Task struct {
	ID        string
	SurveyID  string
	Reason    string // "low score" or "negative comment"
	CSAT      int
	Comment   string
	Queue     string
	AgentID   string
	AgentName string
	PatientID string
	Kind      Kind
	CreatedAt time.Time
	Done      bool
}

// FollowUp says whether an answer needs a person, and why.
func (c *Config) FollowUp(a Answer) (string, bool) {
	switch {
	case a.CSAT <= c.LowScore:
		return "low score", true
	case a.Sentiment < 0:
		return "negative comment", true
	}
	return "", false
}

// Figure is the CSAT of a group of surveys: how many were sent and
// answered, the response rate and the average score.
type Figure struct {
	Group          string
	Sent, Answered int
	ResponseRate   float64
	AverageCSAT    float64 // of the answered
}

// Week names a survey's ISO week, e.g. 2026-W49.
func Week(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// Figures groups surveys (those delivered) and sums up each group, in the
// order groups first appear.
func Figures(surveys []Survey, group func(Survey) string) []Figure {
	var order []string
	byGroup := map[string]*Figure{}
	sum := map[string]int{}
	for _, s := range surveys {
		if s.Delivery == "none" {
			continue
		}
		g := group(s)
		f, ok := byGroup[g]
		if !ok {
			f = &Figure{Group: g}
			byGroup[g] = f
			order = append(order, g)
		}
		f.Sent++
		if s.Answer != nil {
			f.Answered++
			sum[g] += s.Answer.CSAT
		}
	}
	out := make([]Figure, 0, len(order))
	for _, g := range order {
		f := *byGroup[g]
		f.ResponseRate = float64(f.Answered) / float64(f.Sent)
		if f.Answered > 0 {
			f.AverageCSAT = float64(sum[g]) / float64(f.Answered)
		}
		out = append(out, f)
	}
	return out
}
