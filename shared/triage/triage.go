package triage

import (
	_ "embed"
	"slices"
	"strings"
)

//go:embed rules.yaml
var rulesYAML []byte

//go:embed distinct_words.txt
var distinctTXT []byte

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
	Poison  bool   // a swallowed substance: Poison Control is given with 911
}

// Complaint is a complaint whose emergency questions the bot asks: the
// message describes it, but whether it is an emergency cannot be told
// from the message.
type Complaint struct {
	ID    string // e.g. "head_injury"
	Name  string // English, for agents
	Flag  string // the red flag a yes to the questions gives
	Level Level  // the level whose advice a no gives
}

// Result is the assessment of one message.
type Result struct {
	Level    Level
	RedFlags []RedFlag // every red flag reported as happening now (not negated), most severe first; empty unless Level == LevelEmergency
	Matched  []string  // ids of the rules that matched, for the handoff summary (never the patient's text)
	// Ask is the complaint whose emergency questions come before anything
	// else, when no red flag is reported as happening now.
	Ask *Complaint
	// Check lists the red flags the message mentions only as a past
	// event, family history, question, hypothetical or risk score, when
	// nothing else in it is a red flag or a complaint: ask whether it is
	// happening now.
	Check []RedFlag
	// CrisisMention says the message denies a crisis ("I'm not suicidal")
	// without reporting one: offer the crisis line on a line of its own. In
	// an emergency ("I'm not suicidal... well, actually I took all my
	// pills") the guidance gives the crisis line after the emergency's.
	CrisisMention bool
}

// Engine assesses messages against the rules. It is immutable once built
// and safe for concurrent use.
type Engine struct {
	redFlags    []flagRule   // most severe first
	levels      []levelRules // highest level first
	complaints  []complaintRule
	crisisLine  localized
	poisonLine  localized
	nowQuestion localized
	lex         *lexicon
}

// flagRule is a compiled red flag.
type flagRule struct {
	flag     RedFlag
	guidance localized
	source   string
	m        matcher
}

// complaintRule is a compiled complaint.
type complaintRule struct {
	id, name, flag string
	level          Level
	fallback       bool
	ask            localized
	source         string
	m              matcher
	yes            matcher // the concepts that count as a yes in an answer
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
//
// A red flag reported as happening now makes an emergency. Otherwise the
// first complaint the message describes is asked about (a fallback
// complaint only when nothing else matched), and the triage level is the
// highest of the level rules and the complaint's. A red flag mentioned
// only as a past event, family history, question or risk score is a Check
// when the message reports nothing else; a denied crisis is a
// CrisisMention.
func (e *Engine) Assess(text string) Result {
	h := e.lex.scan(text)
	var r Result
	var reportedFlags []RedFlag
	for _, f := range e.redFlags {
		switch f.m.status(h) {
		case present:
			r.RedFlags = append(r.RedFlags, f.flag)
			r.Matched = append(r.Matched, f.flag.ID)
		case reported:
			reportedFlags = append(reportedFlags, f.flag)
		case absent:
			if f.flag.Hotline == hotlineCrisis {
				denied := f.m
				denied.negation = 0
				r.CrisisMention = r.CrisisMention || denied.status(h) == present
			}
		}
	}
	if len(r.RedFlags) > 0 {
		r.Level = LevelEmergency
		for _, lv := range e.levels {
			for _, rule := range lv.rules {
				if rule.m.status(h) == present {
					r.Matched = append(r.Matched, rule.id)
				}
			}
		}
		return r
	}
	for _, lv := range e.levels {
		for _, rule := range lv.rules {
			if rule.m.status(h) != absent {
				r.Matched = append(r.Matched, rule.id)
				if r.Level == LevelNone {
					r.Level = lv.level
				}
			}
		}
	}
	levelFound := r.Level != LevelNone
	for _, c := range e.complaints {
		if c.fallback && (r.Ask != nil || levelFound) {
			continue
		}
		switch c.m.status(h) {
		case absent:
			continue
		case reported:
			// A complaint told as a past event or a question is checked
			// like a red flag told so.
			if f := e.flag(c.flag); f != nil && !slices.ContainsFunc(reportedFlags, func(x RedFlag) bool { return x.ID == c.flag }) {
				reportedFlags = append(reportedFlags, f.flag)
			}
			continue
		}
		r.Matched = append(r.Matched, c.id)
		if r.Ask == nil {
			r.Ask = &Complaint{ID: c.id, Name: c.name, Flag: c.flag, Level: c.level}
			if r.Level == LevelNone {
				r.Level = c.level
			}
		}
	}
	if r.Ask == nil {
		r.Check = reportedFlags
	}
	return r
}

// Question returns the complaint's emergency line and questions in locale.
func (e *Engine) Question(c Complaint, locale string) string {
	for _, rule := range e.complaints {
		if rule.id == c.ID {
			return rule.ask.in(locale)
		}
	}
	return ""
}

// Confirms reports whether a message that answers a complaint's questions
// names one of the complaint's emergency signs, as happening now and not
// negated: it counts as a yes.
func (e *Engine) Confirms(complaintID, text string) bool {
	for _, c := range e.complaints {
		if c.id == complaintID {
			return len(c.yes.when) > 0 && c.yes.status(e.lex.scan(text)) == present
		}
	}
	return false
}

// NowQuestion returns "is this happening now?" with the 911 line, in locale.
func (e *Engine) NowQuestion(locale string) string { return e.nowQuestion.in(locale) }

// CrisisLine returns the line that offers the crisis line (988), in locale.
func (e *Engine) CrisisLine(locale string) string { return e.crisisLine.in(locale) }

// Emergency returns the result of a red flag confirmed by a yes (to a
// complaint's questions or to "is this happening now?"); ok is false for
// an id that is not a red flag.
func (e *Engine) Emergency(ids ...string) (Result, bool) {
	var r Result
	for _, f := range e.redFlags {
		if slices.Contains(ids, f.flag.ID) {
			r.RedFlags = append(r.RedFlags, f.flag)
			r.Matched = append(r.Matched, f.flag.ID)
		}
	}
	if len(r.RedFlags) == 0 {
		return Result{}, false
	}
	r.Level = LevelEmergency
	return r, true
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
		text := e.emergency(r.RedFlags, locale)
		if r.CrisisMention && !strings.Contains(text, hotlineCrisis) {
			text += " " + e.crisisLine.in(locale)
		}
		return text
	}
	for _, lv := range e.levels {
		if lv.level == r.Level {
			return lv.advice.in(locale)
		}
	}
	return ""
}

// emergency composes the guidance for the red flags, most severe first:
// the most severe flag's guidance, then Poison Control when a swallowed
// substance matched and that guidance does not give it, then the crisis
// line when a crisis flag matched with a more severe one. Flags this
// engine does not know are skipped; with none left it falls back to the
// most severe rule's guidance, so an emergency never goes without one.
func (e *Engine) emergency(flags []RedFlag, locale string) string {
	var top *flagRule
	crisis, poison := false, false
	for _, f := range flags {
		rule := e.flag(f.ID)
		if rule == nil {
			continue
		}
		if top == nil {
			top = rule
		}
		crisis = crisis || rule.flag.Hotline == hotlineCrisis
		poison = poison || rule.flag.Poison
	}
	if top == nil {
		top = &e.redFlags[0]
	}
	text := top.guidance.in(locale)
	if poison && !strings.Contains(text, PoisonControl) {
		text += " " + e.poisonLine.in(locale)
	}
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

// Watch assesses a message the patient sent once a person has the
// conversation (or while it waits for one): for a red flag reported as
// happening now it returns the emergency guidance in locale and the red
// flags; ok is false otherwise.
func (e *Engine) Watch(text, locale string) (guidance string, flags []RedFlag, ok bool) {
	r := e.Assess(text)
	if r.Level != LevelEmergency {
		return "", nil, false
	}
	return e.Guidance(r, locale), r.RedFlags, true
}

// Typos returns the words of the rules a token is taken for by typo
// tolerance (not the word it equals): the check behind
// distinct_words.txt, used by scripts/triage-words.sh.
func (e *Engine) Typos(token string) []string {
	var out []string
	for _, id := range e.lex.lookup(token) {
		if w := e.lex.terms[id].word; w != token {
			if _, _, isRange := parseRange(w); !isRange {
				out = append(out, w)
			}
		}
	}
	return out
}

// RedFlagIDs returns the ids of the red flags, most severe first.
func (e *Engine) RedFlagIDs() []string {
	ids := make([]string, len(e.redFlags))
	for i, f := range e.redFlags {
		ids[i] = f.flag.ID
	}
	return ids
}
