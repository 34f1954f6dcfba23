package triage

import (
	_ "embed"
	"strings"
)

//go:embed rules.yaml
var rulesYAML []byte

// Level is a triage level.
type Level string

// The triage levels, from a red flag down to self-care.
const (
	LevelNone      Level = ""          // no symptom recognised
	LevelEmergency Level = "emergency" // a red flag
	LevelNurseLine Level = "nurse_line"
	LevelBookVisit Level = "book_visit"
	LevelSelfCare  Level = "self_care"
)

// RedFlag is a red-flag rule that matched.
type RedFlag struct {
	ID      string // e.g. "chest_pain"
	Name    string // e.g. "Chest pain or pressure" (English, for agents)
	Hotline string // "911" or "988"
}

// Result is the assessment of one message.
type Result struct {
	Level    Level
	RedFlags []RedFlag // every red flag that matched (not negated), most severe first; empty unless Level == LevelEmergency
	Matched  []string  // ids of the rules that matched, for the handoff summary (never the patient's text)
}

// Engine assesses messages against the rules. It is immutable once built
// and safe for concurrent use.
type Engine struct {
	redFlags   []flagRule   // most severe first
	levels     []levelRules // highest level first
	crisisLine localized
	lex        *lexicon
}

// flagRule is a compiled red flag.
type flagRule struct {
	flag     RedFlag
	guidance localized
	m        matcher
}

// levelRules are the compiled rules of one level.
type levelRules struct {
	level  Level
	advice localized
	rules  []levelRule
}

// levelRule is a compiled rule of a level.
type levelRule struct {
	id string
	m  matcher
}

// Load parses the embedded rules.yaml.
func Load() (*Engine, error) { return Parse(rulesYAML) }

// Parse parses and validates rules YAML. Every rule needs an id (unique),
// phrases in en and es (directly or in each all_of group); every red flag
// a name, the hotline 911 or 988 and guidance in en and es that mentions
// its hotline (and 911 too for 988); every level advice in en and es that
// mentions 911. Unknown fields are errors.
func Parse(data []byte) (*Engine, error) {
	f, err := decode(data)
	if err != nil {
		return nil, err
	}
	return compile(f)
}

// Assess assesses one message. It is pure and safe for concurrent use.
func (e *Engine) Assess(text string) Result {
	h := e.lex.scan(text)
	var r Result
	for _, f := range e.redFlags {
		if f.m.matches(h) {
			r.RedFlags = append(r.RedFlags, f.flag)
			r.Matched = append(r.Matched, f.flag.ID)
		}
	}
	for _, lv := range e.levels {
		for _, rule := range lv.rules {
			if rule.m.matches(h) {
				r.Matched = append(r.Matched, rule.id)
				if r.Level == LevelNone {
					r.Level = lv.level
				}
			}
		}
	}
	if len(r.RedFlags) > 0 {
		r.Level = LevelEmergency
	}
	return r
}

// Guidance returns the reply text for a result in locale ("en" or "es";
// any other locale gets English). For an emergency it is the guidance of
// the most severe red flag, followed by the crisis line (988) when a
// crisis flag matched too; for another level that level's advice; "" for
// LevelNone or an unknown level.
func (e *Engine) Guidance(r Result, locale string) string {
	switch r.Level {
	case LevelNone:
		return ""
	case LevelEmergency:
		return e.emergency(r.RedFlags, locale)
	}
	for _, lv := range e.levels {
		if lv.level == r.Level {
			return lv.advice.in(locale)
		}
	}
	return ""
}

// emergency composes the guidance for the red flags, most severe first.
// Flags this engine does not know are skipped; with none left it falls back
// to the most severe rule's guidance, so an emergency never goes without
// one.
func (e *Engine) emergency(flags []RedFlag, locale string) string {
	var top *flagRule
	crisis := false
	for _, f := range flags {
		rule := e.flag(f.ID)
		if rule == nil {
			continue
		}
		if top == nil {
			top = rule
		}
		crisis = crisis || rule.flag.Hotline == hotlineCrisis
	}
	if top == nil {
		top = &e.redFlags[0]
	}
	text := top.guidance.in(locale)
	if crisis && !strings.Contains(text, hotlineCrisis) {
		text += " " + e.crisisLine.in(locale)
	}
	return text
}

// flag returns the red flag with this id, or nil.
func (e *Engine) flag(id string) *flagRule {
	for i := range e.redFlags {
		if e.redFlags[i].flag.ID == id {
			return &e.redFlags[i]
		}
	}
	return nil
}

// RedFlagIDs returns the ids of the red flags, most severe first.
func (e *Engine) RedFlagIDs() []string {
	ids := make([]string, len(e.redFlags))
	for i, f := range e.redFlags {
		ids[i] = f.flag.ID
	}
	return ids
}
