package triage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/words"
)

// ruleFile is the schema of rules.yaml.
type ruleFile struct {
	Version     int                   `yaml:"version"`
	Review      review                `yaml:"review"`
	Window      int                   `yaml:"window"`
	CrisisLine  localized             `yaml:"crisis_line"`
	PoisonLine  localized             `yaml:"poison_line"`
	NowQuestion localized             `yaml:"now_question"`
	Context     contextSpec           `yaml:"context"`
	Concepts    map[string]phraseSpec `yaml:"concepts"`
	States      []string              `yaml:"states"` // concepts that name a lasting state, never a past event
	RedFlags    []flagSpec            `yaml:"red_flags"`
	Complaints  []complaintSpec       `yaml:"complaints"`
	Levels      levelsSpec            `yaml:"levels"`
}

// contextSpec holds the words that tell whether a clause reports
// something happening now.
type contextSpec struct {
	Neutral  phraseSpec            `yaml:"neutral"`  // a concept's word in another sense
	Recent   phraseSpec            `yaml:"recent"`   // the clause reports now, whatever else it says, past verbs included
	Now      phraseSpec            `yaml:"now"`      // the clause reports now, but a past verb's phrase stays past
	Reported map[string]phraseSpec `yaml:"reported"` // past, family history, question, hypothetical, risk score
	Service  phraseSpec            `yaml:"service"`  // names of services and medicines
	Names    phraseSpec            `yaml:"names"`    // conditions' names: next to a service word they name it
	Had      phraseSpec            `yaml:"had"`      // past verbs: the phrase right after one is a past event
	Just     phraseSpec            `yaml:"just"`     // optional; "ten minutes ago": a past verb elsewhere in its sentence still reports now
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
	When    [][]string   `yaml:"when"`     // lines of concept names
	Apart   [][]string   `yaml:"anywhere"` // lines of concept names anywhere in the message, not only in one sentence
}

// flagSpec is a red flag.
type flagSpec struct {
	ruleSpec `yaml:",inline"`
	Name     string `yaml:"name"`
	Hotline  string `yaml:"hotline"`
	Poison   bool   `yaml:"poison"` // a swallowed substance: the guidance gives Poison Control too
	// NegationWindow is how many words before a phrase a negation cue
	// reaches for this flag (3 unless set): the crisis flag uses 2, so
	// that "I'm not suicidal" is a denial while "I don't see the point of
	// living" is not.
	NegationWindow int `yaml:"negation_window"`
	// Window is how far apart, in words, the concepts of one of the flag's
	// lines may stand (the file's window unless set): a head injury told as
	// a long story names the blow and the vomiting far apart.
	Window int `yaml:"window"`
	// Across lets the concepts of a line stand in neighbouring sentences,
	// still within the window: a message written in several sentences
	// tells the fall in one and "she can't get up" in the next.
	Across bool `yaml:"across"`
	// Threat makes a hypothetical count as present for this flag: "if he
	// touches her again I will kill him" is a threat, not a question.
	Threat   bool      `yaml:"threat"`
	Source   string    `yaml:"source"`
	Guidance localized `yaml:"guidance"`
	// Unless lists concepts that, in the sentence of one of the flag's
	// phrases or lines, keep it from matching ("my chest hurts when I
	// cough" is asked about, not escalated).
	Unless []string `yaml:"unless"`
	// Despite lists concepts that keep the flag matching even with an
	// unless concept in the sentence (pain spreading to the arm, sweating).
	Despite []string `yaml:"despite"`
}

// complaintSpec is a complaint: what the patient describes when an
// emergency cannot be ruled out from the message, and the questions that
// rule it in or out.
type complaintSpec struct {
	ruleSpec `yaml:",inline"`
	Name     string    `yaml:"name"`
	Source   string    `yaml:"source"`
	Flag     string    `yaml:"flag"`     // the red flag a yes gives
	Level    Level     `yaml:"level"`    // the level whose advice a no gives
	Fallback bool      `yaml:"fallback"` // only when no other complaint or level rule matched
	Ask      localized `yaml:"ask"`      // the emergency line and the questions
	// Yes lists concepts that, named in the answer to the questions (not
	// negated, as happening now), count as a yes: "no, but now he's
	// throwing up" after a head injury.
	Yes []string `yaml:"yes"`
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
	// PoisonControl is Poison Help's number, given with 911 for a
	// swallowed substance.
	PoisonControl = "1-800-222-1222"
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
	concepts map[string][]int // concept name → phrase ids
	used     map[string]bool  // concepts a rule uses
	window   int
}

// fail records a problem; compile reports them all.
func (c *compiler) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// compile validates the rules and builds the engine.
func compile(f ruleFile) (*Engine, error) {
	c := &compiler{ids: map[string]bool{}, phrases: map[string]string{}, lex: newLexicon(),
		concepts: map[string][]int{}, used: map[string]bool{}, window: f.Window}
	e := &Engine{lex: c.lex}
	if f.Version < 2 {
		c.fail("version must be 2 or more")
	}
	if f.Review.Status == "" {
		c.fail("review.status is required")
	}
	if f.Window < 1 {
		c.fail("window must be 1 or more")
	}
	c.text("crisis_line", f.CrisisLine, hotlineCrisis)
	c.text("poison_line", f.PoisonLine, PoisonControl)
	c.text("now_question", f.NowQuestion, hotlineEmergency)
	e.crisisLine, e.poisonLine, e.nowQuestion = f.CrisisLine, f.PoisonLine, f.NowQuestion
	c.context(f.Context)
	for _, name := range slices.Sorted(maps.Keys(f.Concepts)) {
		if !isID(name) {
			c.fail("concepts.%s: a name must be lower-case letters, digits and _", name)
		}
		c.concepts[name] = c.group("concepts."+name, f.Concepts[name])
	}
	if len(f.RedFlags) == 0 {
		c.fail("red_flags: at least one is required")
	}
	for _, name := range f.States {
		ids, ok := c.concepts[name]
		if !ok {
			c.fail("states: %q is not a concept", name)
		}
		for _, id := range ids {
			c.lex.roles[id] |= roleState
		}
	}
	for i, s := range f.RedFlags {
		e.redFlags = append(e.redFlags, c.flag(i, s))
	}
	for _, lv := range levelOrder() {
		e.levels = append(e.levels, c.level(lv, f.Levels.get(lv)))
	}
	for i, s := range f.Complaints {
		e.complaints = append(e.complaints, c.complaint(i, s, e))
	}
	for _, name := range slices.Sorted(maps.Keys(f.Concepts)) {
		if !c.used[name] {
			c.fail("concepts.%s: no rule uses it", name)
		}
	}
	c.distinct(distinctWords())
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
	if strings.TrimSpace(s.Source) == "" {
		c.fail("%s: source is required: the public clinical criterion the rule follows", where)
	}
	if s.Poison {
		c.text(where+" guidance", s.Guidance, PoisonControl)
	}
	switch s.Hotline {
	case hotlineEmergency:
		c.text(where+" guidance", s.Guidance, hotlineEmergency)
	case hotlineCrisis:
		c.text(where+" guidance", s.Guidance, hotlineCrisis, hotlineEmergency)
	default:
		c.fail("%s: hotline must be %q or %q, not %q", where, hotlineEmergency, hotlineCrisis, s.Hotline)
	}
	m := c.matcher(where, s.ruleSpec, cmp.Or(s.NegationWindow, negationWindow), false)
	if s.Window < 0 {
		c.fail("%s: window must be 1 or more", where)
	}
	m.window = cmp.Or(s.Window, m.window)
	m.threat = s.Threat
	m.across = s.Across
	for _, ids := range c.conceptList(where+" unless", s.Unless) {
		m.unless = append(m.unless, ids...)
	}
	for _, ids := range c.conceptList(where+" despite", s.Despite) {
		m.despite = append(m.despite, ids...)
	}
	return flagRule{
		flag:     RedFlag{ID: s.ID, Name: s.Name, Hotline: s.Hotline, Poison: s.Poison},
		guidance: s.Guidance,
		source:   s.Source,
		m:        m,
	}
}

// complaint compiles the i-th complaint; its red flag must come before it.
func (c *compiler) complaint(i int, s complaintSpec, e *Engine) complaintRule {
	where := fmt.Sprintf("complaints[%d] %s", i, s.ID)
	if s.Name == "" {
		c.fail("%s: name is required", where)
	}
	if strings.TrimSpace(s.Source) == "" {
		c.fail("%s: source is required: the public clinical criterion the questions follow", where)
	}
	flag := e.flag(s.Flag)
	if flag == nil {
		c.fail("%s: flag %q is not a red flag", where, s.Flag)
	} else {
		c.text(where+" ask", s.Ask, flag.flag.Hotline)
	}
	lv := s.Level
	if lv == "" {
		lv = LevelNurseLine
	}
	if !slices.Contains(levelOrder(), lv) {
		c.fail("%s: level %q is not one of %v", where, s.Level, levelOrder())
	}
	// In an answer only a cue right before a sign negates it: "no vomiting"
	// is a no, "no he keeps throwing up" a yes.
	yes := matcher{negation: 1, window: c.window}
	for _, ids := range c.conceptList(where+" yes", s.Yes) {
		yes.when = append(yes.when, [][]int{ids})
	}
	return complaintRule{id: s.ID, name: s.Name, flag: s.Flag, level: lv, fallback: s.Fallback, ask: s.Ask,
		source: s.Source, m: c.matcher(where, s.ruleSpec, negationWindow, false), yes: yes}
}

// context compiles the context words.
func (c *compiler) context(s contextSpec) {
	c.roleGroup("context.neutral", s.Neutral, roleNeutral)
	c.roleGroup("context.recent", s.Recent, roleRecent)
	c.roleGroup("context.now", s.Now, roleNow)
	c.roleGroup("context.service", s.Service, roleService)
	c.roleGroup("context.names", s.Names, roleName)
	c.roleGroup("context.had", s.Had, roleHad)
	if !s.Just.empty() { // optional
		c.roleGroup("context.just", s.Just, roleJust)
	}
	if len(s.Reported) == 0 {
		c.fail("context.reported: at least one kind is required")
	}
	for _, kind := range slices.Sorted(maps.Keys(s.Reported)) {
		r := roleReported
		if kind == "hypothetical" {
			r = roleIf
		}
		c.roleGroup("context.reported."+kind, s.Reported[kind], r)
	}
}

// roleGroup adds phrases with a role other than matching.
func (c *compiler) roleGroup(where string, s phraseSpec, r role) {
	if len(s.EN) == 0 || len(s.ES) == 0 {
		c.fail("%s: en and es phrases are required", where)
	}
	for _, raw := range s.all() {
		c.phraseAs(where, raw, r)
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
		m := c.matcher(fmt.Sprintf("%s.rules[%d] %s", where, i, r.ID), r, negationWindow, true)
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

// matcher compiles the phrases, all_of groups and when lines of a rule,
// with how far back a negation reaches and whether a service's name counts.
// A phrase may belong to one rule only (all_of groups and concepts may
// share phrases with rules).
func (c *compiler) matcher(where string, r ruleSpec, negation int, names bool) matcher {
	c.id(where, r.ID)
	if r.Phrases.empty() && len(r.AllOf) == 0 && len(r.When) == 0 && len(r.Apart) == 0 {
		c.fail("%s: phrases, all_of or when is required", where)
	}
	m := matcher{negation: negation, names: names, window: c.window}
	for i, line := range r.Apart {
		if ids := c.conceptList(fmt.Sprintf("%s anywhere[%d]", where, i), line); len(ids) == len(line) && len(line) > 0 {
			m.anywhere = append(m.anywhere, ids)
		}
	}
	for i, line := range r.When {
		if len(line) == 0 {
			c.fail("%s when[%d]: a line needs a concept", where, i)
			continue
		}
		if ids := c.conceptList(fmt.Sprintf("%s when[%d]", where, i), line); len(ids) == len(line) {
			m.when = append(m.when, ids)
		}
	}
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

// conceptList returns the phrase ids of each named concept, marking them
// used; an unknown name is a problem (and left out).
func (c *compiler) conceptList(where string, names []string) [][]int {
	var out [][]int
	for _, name := range names {
		ids, ok := c.concepts[name]
		if !ok {
			c.fail("%s: %q is not a concept", where, name)
			continue
		}
		c.used[name] = true
		out = append(out, ids)
	}
	return out
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

// phrase checks a phrase to match and returns its id in the lexicon.
func (c *compiler) phrase(where, raw string) (int, bool) { return c.phraseAs(where, raw, roleMatch) }

// phraseAs checks a phrase and returns its id in the lexicon, where it has
// this role.
func (c *compiler) phraseAs(where, raw string, r role) (int, bool) {
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
	id, _ := c.lex.phrase(toks, r)
	return id, true
}

// distinct records the real words that must never be read as typos of a
// phrase word (they still match themselves exactly).
func (c *compiler) distinct(list []string) {
	out := c.lex.distinct
	for _, w := range list {
		toks := words.Split(w)
		if len(toks) != 1 {
			c.fail("distinct_words.txt: %q must be one word", w)
			continue
		}
		if out[toks[0]] {
			c.fail("distinct_words.txt: %q is listed twice", w)
		}
		out[toks[0]] = true
	}
}

// distinctWords returns the words of distinct_words.txt.
func distinctWords() []string {
	var out []string
	for _, line := range strings.Split(string(distinctTXT), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
