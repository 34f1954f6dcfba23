package triage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/words"
)

// ruleFile is the schema of rules.yaml.
type ruleFile struct {
	Version       int        `yaml:"version"`
	Review        review     `yaml:"review"`
	DistinctWords []string   `yaml:"distinct_words"`
	CrisisLine    localized  `yaml:"crisis_line"`
	RedFlags      []flagSpec `yaml:"red_flags"`
	Levels        levelsSpec `yaml:"levels"`
}

// review records the clinical review of the rules.
type review struct {
	Status   string `yaml:"status"`
	Note     string `yaml:"note"`
	Reviewer string `yaml:"reviewer"`
	Date     string `yaml:"date"`
}

// localized is a text in English and Spanish.
type localized struct {
	EN string `yaml:"en"`
	ES string `yaml:"es"`
}

// in returns the text in locale: Spanish for "es" and its regional forms
// ("es-US"), English otherwise.
func (l localized) in(locale string) string {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	lang, _, _ = strings.Cut(lang, "_")
	if lang == "es" {
		return l.ES
	}
	return l.EN
}

// phraseSpec is a list of phrases per language.
type phraseSpec struct {
	EN []string `yaml:"en"`
	ES []string `yaml:"es"`
}

// empty reports whether there are no phrases in either language.
func (p phraseSpec) empty() bool { return len(p.EN) == 0 && len(p.ES) == 0 }

// all returns the English and the Spanish phrases.
func (p phraseSpec) all() []string { return append(append([]string{}, p.EN...), p.ES...) }

// ruleSpec is the matching part of a rule.
type ruleSpec struct {
	ID      string       `yaml:"id"`
	Phrases phraseSpec   `yaml:"phrases"`
	AllOf   []phraseSpec `yaml:"all_of"`
}

// flagSpec is a red flag.
type flagSpec struct {
	ruleSpec       `yaml:",inline"`
	Name           string    `yaml:"name"`
	Hotline        string    `yaml:"hotline"`
	IgnoreNegation bool      `yaml:"ignore_negation"`
	Guidance       localized `yaml:"guidance"`
}

// levelSpec is a triage level: its advice and its rules.
type levelSpec struct {
	Advice localized  `yaml:"advice"`
	Rules  []ruleSpec `yaml:"rules"`
}

// levelsSpec holds the levels by name.
type levelsSpec struct {
	NurseLine levelSpec `yaml:"nurse_line"`
	BookVisit levelSpec `yaml:"book_visit"`
	SelfCare  levelSpec `yaml:"self_care"`
}

// levelOrder lists the levels from the highest to the lowest.
func levelOrder() []Level { return []Level{LevelNurseLine, LevelBookVisit, LevelSelfCare} }

// get returns the spec of a level.
func (l levelsSpec) get(lv Level) levelSpec {
	switch lv {
	case LevelNurseLine:
		return l.NurseLine
	case LevelBookVisit:
		return l.BookVisit
	}
	return l.SelfCare
}

// Hotlines.
const (
	hotlineEmergency = "911"
	hotlineCrisis    = "988"
)

// decode parses rules YAML strictly: unknown fields are errors.
func decode(data []byte) (ruleFile, error) {
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("triage rules: %w", err)
	}
	return f, nil
}

// compiler validates the rules and builds an Engine.
type compiler struct {
	problems []error
	ids      map[string]bool
	phrases  map[string]string // top-level phrase → rule id
	lex      *lexicon
}

// fail records a problem; compile reports them all.
func (c *compiler) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// compile validates the rules and builds the engine.
func compile(f ruleFile) (*Engine, error) {
	c := &compiler{ids: map[string]bool{}, phrases: map[string]string{}, lex: newLexicon()}
	e := &Engine{lex: c.lex}
	if f.Version < 1 {
		c.fail("version must be 1 or more")
	}
	if f.Review.Status == "" {
		c.fail("review.status is required")
	}
	c.text("crisis_line", f.CrisisLine, hotlineCrisis)
	e.crisisLine = f.CrisisLine
	if len(f.RedFlags) == 0 {
		c.fail("red_flags: at least one is required")
	}
	for i, s := range f.RedFlags {
		e.redFlags = append(e.redFlags, c.flag(i, s))
	}
	for _, lv := range levelOrder() {
		e.levels = append(e.levels, c.level(lv, f.Levels.get(lv)))
	}
	c.distinct(f.DistinctWords)
	if len(c.problems) > 0 {
		return nil, fmt.Errorf("triage rules: %w", errors.Join(c.problems...))
	}
	return e, nil
}

// flag compiles the i-th red flag.
func (c *compiler) flag(i int, s flagSpec) flagRule {
	where := fmt.Sprintf("red_flags[%d] %s", i, s.ID)
	if s.Name == "" {
		c.fail("%s: name is required", where)
	}
	switch s.Hotline {
	case hotlineEmergency:
		c.text(where+" guidance", s.Guidance, hotlineEmergency)
	case hotlineCrisis:
		c.text(where+" guidance", s.Guidance, hotlineCrisis, hotlineEmergency)
	default:
		c.fail("%s: hotline must be %q or %q, not %q", where, hotlineEmergency, hotlineCrisis, s.Hotline)
	}
	return flagRule{
		flag:     RedFlag{ID: s.ID, Name: s.Name, Hotline: s.Hotline},
		guidance: s.Guidance,
		m:        c.matcher(where, s.ruleSpec, !s.IgnoreNegation),
	}
}

// level compiles a level and its rules.
func (c *compiler) level(lv Level, s levelSpec) levelRules {
	where := "levels." + string(lv)
	c.text(where+" advice", s.Advice, hotlineEmergency)
	if len(s.Rules) == 0 {
		c.fail("%s: at least one rule is required", where)
	}
	out := levelRules{level: lv, advice: s.Advice}
	for i, r := range s.Rules {
		m := c.matcher(fmt.Sprintf("%s.rules[%d] %s", where, i, r.ID), r, true)
		out.rules = append(out.rules, levelRule{id: r.ID, m: m})
	}
	return out
}

// text checks that a text exists in both languages and mentions each of
// the numbers.
func (c *compiler) text(where string, l localized, numbers ...string) {
	for _, t := range []struct{ lang, s string }{{"en", l.EN}, {"es", l.ES}} {
		if strings.TrimSpace(t.s) == "" {
			c.fail("%s: %s text is required", where, t.lang)
			continue
		}
		for _, n := range numbers {
			if !strings.Contains(t.s, n) {
				c.fail("%s: %s text must mention %s", where, t.lang, n)
			}
		}
	}
}

// matcher compiles the phrases and all_of groups of a rule. A phrase may
// belong to one rule only (all_of groups may share phrases with rules).
func (c *compiler) matcher(where string, r ruleSpec, negatable bool) matcher {
	c.id(where, r.ID)
	if r.Phrases.empty() && len(r.AllOf) == 0 {
		c.fail("%s: phrases or all_of is required", where)
	}
	m := matcher{negatable: negatable}
	if !r.Phrases.empty() {
		m.anyOf = c.group(where+" phrases", r.Phrases)
		for _, p := range r.Phrases.all() {
			key := strings.Join(words.Split(p), " ")
			if other, dup := c.phrases[key]; dup && other != r.ID {
				c.fail("%s: phrase %q is also a phrase of %s", where, p, other)
			}
			c.phrases[key] = r.ID
		}
	}
	if len(r.AllOf) == 1 {
		c.fail("%s: all_of needs two groups or more", where)
	}
	for i, g := range r.AllOf {
		m.allOf = append(m.allOf, c.group(fmt.Sprintf("%s all_of[%d]", where, i), g))
	}
	return m
}

// id checks that a rule id is well formed and unique.
func (c *compiler) id(where, id string) {
	switch {
	case !isID(id):
		c.fail("%s: id must be lower-case letters, digits and _", where)
	case c.ids[id]:
		c.fail("%s: id %q is used twice", where, id)
	}
	c.ids[id] = true
}

// isID reports whether s is a lower-case identifier: a-z, 0-9 and _.
func isID(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// group compiles a list of phrases that must exist in both languages into
// phrase ids.
func (c *compiler) group(where string, s phraseSpec) []int {
	if len(s.EN) == 0 {
		c.fail("%s: en phrases are required", where)
	}
	if len(s.ES) == 0 {
		c.fail("%s: es phrases are required", where)
	}
	var out []int
	for _, list := range [][]string{s.EN, s.ES} {
		seen := map[int]bool{}
		for _, raw := range list {
			id, ok := c.phrase(where, raw)
			switch {
			case !ok:
			case seen[id]:
				c.fail("%s: phrase %q is listed twice", where, raw)
			case !slices.Contains(out, id): // a word both languages share counts once
				out = append(out, id)
			}
			seen[id] = true
		}
	}
	return out
}

// phrase checks a phrase and returns its id in the lexicon.
func (c *compiler) phrase(where, raw string) (int, bool) {
	toks := words.Split(raw)
	switch {
	case len(toks) == 0:
		c.fail("%s: empty phrase %q", where, raw)
		return 0, false
	case strings.ContainsFunc(raw, isClauseMark):
		c.fail("%s: phrase %q contains a clause mark and can never match", where, raw)
		return 0, false
	}
	for _, t := range toks {
		if isClauseWord(t) {
			c.fail("%s: phrase %q contains the clause word %q and can never match", where, raw, t)
		}
	}
	return c.lex.phrase(toks), true
}

// distinct records the real words that must never be read as typos of a
// phrase word (they still match themselves exactly).
func (c *compiler) distinct(list []string) {
	out := c.lex.distinct
	for _, w := range list {
		toks := words.Split(w)
		if len(toks) != 1 {
			c.fail("distinct_words: %q must be one word", w)
			continue
		}
		if out[toks[0]] {
			c.fail("distinct_words: %q is listed twice", w)
		}
		out[toks[0]] = true
	}
}
