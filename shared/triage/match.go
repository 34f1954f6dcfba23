package triage

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/patientservicecenter/psc/shared/words"
)

// term is one normalised word of the rules with its typo tolerance.
type term struct {
	word    string
	runes   []rune
	letters uint32 // letterSet of the word
	maxDist int    // 0 for words of 4 letters or fewer, 1 for 5-7, 2 for 8 or more
}

// newTerm returns the term of a normalised word with its tolerance.
func newTerm(word string) term {
	t := term{word: word, runes: []rune(word)}
	t.letters = letterSet(t.runes)
	switch n := len(t.runes); {
	case n >= 8:
		t.maxDist = 2
	case n >= 5:
		t.maxDist = 1
	}
	return t
}

// near reports whether a token other than the word is a typo of it: within
// maxDist edits. The length and letter-set checks are quick necessary
// conditions before the distance itself.
func (t term) near(runes []rune, letters uint32) bool {
	switch {
	case t.maxDist == 0, len(runes) < len(t.runes)-t.maxDist, len(runes) > len(t.runes)+t.maxDist:
		return false
	case bits.OnesCount32(t.letters&^letters) > t.maxDist, bits.OnesCount32(letters&^t.letters) > t.maxDist:
		return false // each letter only one of them has costs an edit
	}
	return words.Distance(t.runes, runes) <= t.maxDist
}

// letterSet is the set of letters a to z in a word, other characters
// sharing a few buckets (which keeps it a lower bound of the edits).
func letterSet(runes []rune) uint32 {
	var set uint32
	for _, r := range runes {
		if r >= 'a' && r <= 'z' {
			set |= 1 << (r - 'a')
		} else {
			set |= 1 << (26 + r%6)
		}
	}
	return set
}

// phrase is a phrase of the rules: the ids of its words in the lexicon.
type phrase []int

// lexicon holds every word and every phrase of the rules once, so that a
// message is compared with each word at most once per distinct token.
type lexicon struct {
	terms    []term
	termIDs  map[string]int
	fuzzy    [][]int // by length in letters: ids of the terms with typo tolerance
	phrases  []phrase
	phraseID map[string]int
	roles    []role          // by phrase id
	starts   [][]int         // by term id: ids of the phrases that start with it
	distinct map[string]bool // real words that are never typos of a term
	ranges   []numberRange   // terms that match any number in a range
}

// numberRange is a term written n<lo>to<hi> ("n10to54"): it matches any
// number token (digits, or a number word such as "two" or "dos") from lo
// to hi, so that a rule can say "a reading under 55" or "6 weeks old".
type numberRange struct {
	id, lo, hi int
}

// parseRange reads a term of the form n<lo>to<hi>.
func parseRange(w string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(strings.TrimPrefix(w, "n"), "to")
	if !strings.HasPrefix(w, "n") || !found {
		return 0, 0, false
	}
	lo, okLo := number(a)
	hi, okHi := number(b)
	if !okLo || !okHi || a == "" || b == "" || a[0] < '0' || a[0] > '9' || b[0] < '0' || b[0] > '9' || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// newLexicon returns an empty lexicon.
func newLexicon() *lexicon {
	return &lexicon{termIDs: map[string]int{}, phraseID: map[string]int{}, distinct: map[string]bool{}}
}

// phrase returns the id of the phrase of normalised words, adding it and
// giving it the role (a phrase may have several).
func (l *lexicon) phrase(words []string, r role) (id int, ok bool) {
	key := ""
	p := make(phrase, len(words))
	for i, w := range words {
		p[i] = l.term(w)
		key += w + " "
	}
	if id, found := l.phraseID[key]; found {
		l.roles[id] |= r
		return id, true
	}
	id = len(l.phrases)
	l.phraseID[key] = id
	l.phrases = append(l.phrases, p)
	l.roles = append(l.roles, r)
	l.starts[p[0]] = append(l.starts[p[0]], id)
	return id, true
}

// term returns the id of a normalised word, adding it.
func (l *lexicon) term(w string) int {
	if id, ok := l.termIDs[w]; ok {
		return id
	}
	id := len(l.terms)
	t := newTerm(w)
	l.termIDs[w] = id
	l.terms = append(l.terms, t)
	l.starts = append(l.starts, nil)
	if lo, hi, ok := parseRange(w); ok {
		l.ranges = append(l.ranges, numberRange{id: id, lo: lo, hi: hi})
		return id
	}
	if t.maxDist > 0 {
		for len(l.fuzzy) <= len(t.runes) {
			l.fuzzy = append(l.fuzzy, nil)
		}
		l.fuzzy[len(t.runes)] = append(l.fuzzy[len(t.runes)], id)
	}
	return id
}

// lookup returns the ids of the terms a token matches: the equal word and
// the words it is a typo of (none for a distinct word).
func (l *lexicon) lookup(tok string) []int {
	var ids []int
	exact, ok := l.termIDs[tok]
	if _, _, isRange := parseRange(tok); isRange {
		ok = false // a range term matches numbers, never itself
	}
	if ok {
		ids = append(ids, exact)
	}
	if v, isNumber := number(tok); isNumber {
		for _, r := range l.ranges {
			if v >= r.lo && v <= r.hi {
				ids = append(ids, r.id)
			}
		}
	}
	if l.distinct[tok] {
		return ids
	}
	runes := []rune(tok)
	letters := letterSet(runes)
	for n := max(len(runes)-2, 0); n <= len(runes)+2 && n < len(l.fuzzy); n++ {
		for _, id := range l.fuzzy[n] {
			if (!ok || id != exact) && l.terms[id].near(runes, letters) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// status is how a rule, a concept or a phrase is present in a message,
// from absent to reported as happening now.
type status uint8

const (
	absent   status = iota
	reported        // only in a past event, family history, question, hypothetical or risk score
	present         // reported as happening now
)

// role says what a phrase of the lexicon is for: a set of these bits, as
// one phrase may have several ("medicine" is a concept's word and a
// service's).
type role uint16

const (
	roleMatch    role = 1 << iota // a phrase of a rule or a concept
	roleNeutral                   // uses a concept's word in another sense: its tokens match nothing else (it may still match itself)
	roleRecent                    // makes its clause a report of now
	roleReported                  // makes its clause a report of the past, of family, a question or a risk
	roleService                   // names a service or a medicine: a phrase next to it is a name
	roleHad                       // "had", "tuvo": the phrase right after it is a past event
	roleNow                       // "now", "still": the clause reports now, but a past verb's phrase stays past
	roleState                     // a lasting state (pregnant, diabetic, a baby): never a past event
	roleIf                        // "if", "what if": the clause is a hypothetical (reported, but a threat still counts)
	roleName                      // a condition's name ("seizure", "stroke"): next to a service word it names the service
	roleJust                      // "ten minutes ago": its sentence reports now, even a phrase after a past verb ("he had chest pain, it stopped ten minutes ago")
)

// hadReach is how many words after a past verb ("had", "tuvo") a phrase
// may start and still be the thing that happened ("had a bad seizure").
const hadReach = 3

// occurrence is one place a phrase matched.
type occurrence struct {
	sentence int
	pos      int    // index of its first token in the message
	end      int    // index after its last token
	cue      int    // how many words before it the nearest negation cue stands; 0: none
	named    bool   // within serviceReach of a service name: a name, not a symptom
	status   status // present or reported
	// hypothetical: reported only because its clause is a hypothetical ("if
	// my stepdad touches my mom again I'm going to kill him"); a threat's
	// rule counts it as present.
	hypothetical bool
}

// negatedWithin reports whether the occurrence's negation cue stands
// within window words of it.
func (o occurrence) negatedWithin(window int) bool { return o.cue > 0 && o.cue <= window }

// hits are the occurrences of each phrase of the lexicon in a message.
type hits struct {
	occ map[int][]occurrence // by phrase id: only the phrases found
}

// span is a phrase matched at a place of a clause.
type span struct {
	id         int
	start, end int // token indexes in the clause
}

// serviceReach is how close to a service word a condition's name names the
// service: next to it or one word apart ("the stroke clinic", "clinica de
// convulsiones", "seizure medicine").
const serviceReach = 2

// scan finds the phrases of the lexicon in a text, with their negation and
// whether their clause reports something happening now.
func (l *lexicon) scan(text string) hits {
	h := hits{occ: map[int][]occurrence{}}
	seen := map[string][]int{}
	clauses := segment(text)
	found := make([][]span, len(clauses))
	just := map[int]bool{} // sentences with a "moments ago"
	for ci, c := range clauses {
		terms := make([][]int, len(c.toks)) // by position: ids of the terms the token matches
		for i, tok := range c.toks {
			ids, ok := seen[tok]
			if !ok {
				ids = l.lookup(tok)
				seen[tok] = ids
			}
			terms[i] = ids
		}
		var spans []span
		for i := range c.toks {
			for _, t := range terms[i] {
				for _, id := range l.starts[t] {
					if l.phraseAt(id, terms[i:]) {
						spans = append(spans, span{id: id, start: i, end: i + len(l.phrases[id])})
						just[c.sentence] = just[c.sentence] || l.roles[id]&roleJust != 0
					}
				}
			}
		}
		found[ci] = spans
	}
	for ci, c := range clauses {
		l.record(&h, c, found[ci], just[c.sentence])
	}
	return h
}

// record turns the phrases found in a clause into occurrences: neutral
// phrases claim their tokens, a recent marker makes the clause present
// and otherwise a reported marker makes it reported, and a phrase within
// serviceReach of a service name is dropped. just says the clause's
// sentence tells of moments ago: a past verb does not make a phrase past.
func (l *lexicon) record(h *hits, c clause, spans []span, just bool) {
	parts := contextParts(c.toks)
	type context struct{ reported, hypothetical, recent, now bool }
	ctx := make([]context, len(parts))
	var services, neutral, had []span
	for _, s := range spans {
		r, p := l.roles[s.id], partOf(parts, s.start)
		if r&roleHad != 0 {
			had = append(had, s)
		}
		if r&roleNeutral != 0 {
			neutral = append(neutral, s)
		}
		if r&roleService != 0 {
			services = append(services, s)
		}
		// "since" in "none since" is part of a past marker, not a report of now.
		ctx[p].recent = ctx[p].recent || r&roleRecent != 0 && !insideMarker(s, spans, l.roles, roleReported)
		ctx[p].now = ctx[p].now || r&roleNow != 0 && !insideMarker(s, spans, l.roles, roleReported|roleIf)
		ctx[p].reported = ctx[p].reported || r&roleReported != 0
		ctx[p].hypothetical = ctx[p].hypothetical || r&roleIf != 0
	}
	ownEnd := make([]int, len(c.toks)) // negation words that begin a symptom phrase ("no siento"): where it ends
	for _, s := range spans {
		if l.roles[s.id]&roleMatch != 0 && s.end-s.start > 1 && isNegationCue(c.toks[s.start]) {
			ownEnd[s.start] = max(ownEnd[s.start], s.end)
		}
	}
	for _, s := range spans {
		if l.roles[s.id]&roleMatch == 0 || overrun(s, neutral) {
			continue
		}
		x := ctx[partOf(parts, s.start)]
		o := occurrence{
			sentence: c.sentence, pos: c.start + s.start, end: c.start + s.end,
			cue: negationCueSkip(c.toks, groupStart(s, spans, c.toks), ownCues(ownEnd, s.start)), named: l.roles[s.id]&roleName != 0 && nextTo(s, services), status: present,
		}
		switch {
		case l.roles[s.id]&roleState != 0, x.recent:
		case after(s, had) && !just, x.reported && !x.now:
			o.status = reported
		case x.hypothetical && !x.now:
			o.status, o.hypothetical = reported, true
		}
		h.occ[s.id] = append(h.occ[s.id], o)
	}
}

// insideMarker reports whether a span lies within a longer span whose
// role has one of the bits: "is having" in "if someone is having" is part
// of the hypothetical, not a report of now.
func insideMarker(s span, spans []span, roles []role, bits role) bool {
	for _, m := range spans {
		if roles[m.id]&bits != 0 && m.start <= s.start && s.end <= m.end && m.end-m.start > s.end-s.start {
			return true
		}
	}
	return false
}

// ownCues returns the negation words that begin a symptom phrase ending
// at or before start: they negate their own phrase, not a later one.
func ownCues(ownEnd []int, start int) []bool {
	skip := make([]bool, len(ownEnd))
	for j, end := range ownEnd {
		skip[j] = end > 0 && end <= start
	}
	return skip
}

// groupStart returns where the phrases that share words with a span begin,
// so that a negation reads a group of overlapping phrases as one: in "I
// don't want to kill myself", "myself" is as negated as "kill myself".
func groupStart(s span, spans []span, toks []string) int {
	start := s.start
	for _, o := range spans {
		// A phrase that starts with its own negation ("no me duele") does
		// not pull the group before the cue.
		if o.start < start && o.end > s.start && !isNegationCue(toks[o.start]) {
			start = o.start
		}
	}
	return start
}

// contextParts splits a clause into the parts its context markers apply
// to, at an "and" or "y" that starts a new statement (a pronoun, a
// possessive or a time word follows): "my cousin died of an overdose last
// year | and my aunt keeps asking", "had a heart attack years ago | and now
// my chest hurts", but not "heat exhaustion and heat stroke". It returns
// the index of each part's first token. Phrases and negation still read
// the whole clause.
func contextParts(toks []string) []int {
	parts := []int{0}
	for i, t := range toks {
		if i > 0 && i+1 < len(toks) && (t == "and" || t == "y") && startsStatement(toks[i+1]) {
			parts = append(parts, i)
		}
	}
	return parts
}

// startsStatement reports whether a word after "and" starts a new
// statement.
func startsStatement(w string) bool {
	switch w {
	case "i", "im", "ive", "he", "hes", "she", "shes", "they", "theyre", "we", "were", "it", "its", "my", "his", "her", "their", "our",
		"now", "then", "today", "tonight", "yesterday", "this", "there", "theres",
		"yo", "el", "ella", "ellos", "mi", "mis", "su", "sus", "ahora", "ahorita", "luego", "hoy", "anoche", "ayer", "me", "le", "se",
		"tengo", "tiene", "estoy", "esta", "ya":
		return true
	}
	return false
}

// partOf returns the part of the clause a token belongs to.
func partOf(parts []int, i int) int {
	p := 0
	for j, start := range parts {
		if start <= i {
			p = j
		}
	}
	return p
}

// after reports whether a span starts within hadReach words after one of
// the past verbs.
func after(s span, had []span) bool {
	for _, v := range had {
		if v.end <= s.start && s.start-v.end < hadReach {
			return true
		}
	}
	return false
}

// overrun reports whether a neutral phrase shares words with the span
// without lying inside it: "chest cold" takes "chest" from "chest", but
// not from "chest cold" itself or from "it burns when i pee" ("burns
// when").
func overrun(s span, neutral []span) bool {
	for _, n := range neutral {
		inside := n.start >= s.start && n.end <= s.end
		if !inside && n.start < s.end && s.start < n.end {
			return true
		}
	}
	return false
}

// nextTo reports whether a span lies within serviceReach tokens of one of
// the service names, without sharing a word with it (a phrase that holds
// the word, "took all his meds", is no name).
func nextTo(s span, services []span) bool {
	for _, v := range services {
		if s.start < v.end && v.start < s.end {
			continue
		}
		if s.start < v.end+serviceReach && v.start < s.end+serviceReach {
			return true
		}
	}
	return false
}

// phraseAt reports whether the phrase, whose first word matched, goes on
// at the following positions.
func (l *lexicon) phraseAt(id int, terms [][]int) bool {
	p := l.phrases[id]
	if len(p) > len(terms) {
		return false
	}
	for j := 1; j < len(p); j++ {
		if !slices.Contains(terms[j], p[j]) {
			return false
		}
	}
	return true
}

// counts reports whether an occurrence counts for the matcher: not
// negated within its window, and not a service's name unless it takes
// names.
func (m matcher) counts(o occurrence) bool {
	return !o.negatedWithin(m.negation) && (!o.named || m.names)
}

// best returns the strongest status of the phrases' occurrences that
// count.
func (m matcher) best(h hits, phrases []int) status {
	s := absent
	for _, id := range phrases {
		for _, o := range h.occ[id] {
			if m.counts(o) {
				s = max(s, m.statusOf(o))
			}
		}
	}
	return s
}

// matcher is the compiled condition of a rule: any of its phrases, a
// phrase of every all_of group somewhere in the message, or the concepts
// of one of its when lines together in one sentence.
type matcher struct {
	anyOf    []int     // phrase ids
	allOf    [][]int   // groups of phrase ids
	when     [][][]int // lines of concepts, each concept its phrase ids
	anywhere [][][]int // lines whose concepts may be anywhere in the message
	window   int       // how far apart, in tokens, the concepts of a line may be
	negation int       // how far back a negation cue reaches; 0: negation is ignored
	names    bool      // a phrase next to a service's name counts (level rules)
	unless   []int     // phrases that void the rule's phrases and lines in their sentence...
	despite  []int     // ...unless one of these is in it too
	threat   bool      // a hypothetical counts as present: a conditional threat is a threat
	across   bool      // a line's concepts may stand in neighbouring sentences, within the window
}

// statusOf returns an occurrence's status for the matcher.
func (m matcher) statusOf(o occurrence) status {
	if m.threat && o.hypothetical {
		return present
	}
	return o.status
}

// voided reports whether a sentence holds one of the matcher's unless
// phrases and none of its despite phrases (counting: not negated, not a
// name).
func (m matcher) voided(h hits, sentence int) bool {
	in := func(ids []int) bool {
		for _, id := range ids {
			for _, o := range h.occ[id] {
				if o.sentence == sentence && m.counts(o) {
					return true
				}
			}
		}
		return false
	}
	return in(m.unless) && !in(m.despite)
}

// status returns how the rule is present in a message with these hits.
func (m matcher) status(h hits) status {
	s := absent
	for _, id := range m.anyOf {
		for _, o := range h.occ[id] {
			if m.counts(o) && !m.voided(h, o.sentence) {
				s = max(s, m.statusOf(o))
			}
		}
	}
	if len(m.allOf) > 0 {
		all := present
		for _, group := range m.allOf {
			all = min(all, m.best(h, group))
		}
		s = max(s, all)
	}
	for _, line := range m.when {
		if s == present {
			break
		}
		s = max(s, m.line(h, line, false))
	}
	for _, line := range m.anywhere {
		if s == present {
			break
		}
		s = max(s, m.line(h, line, true))
	}
	return s
}

// line returns how a line of concepts is present: each concept's
// occurrence in the sentence of the first concept's, within the window of
// it (anywhere in the message for an anywhere line), at another place than
// the others, each counting (not negated, not a
// name); the line is as strong as its weakest concept and the best pairing
// counts.
func (m matcher) line(h hits, line [][]int, anywhere bool) status {
	best := absent
	for _, id := range line[0] {
		for _, anchor := range h.occ[id] {
			if !m.counts(anchor) || m.voided(h, anchor.sentence) {
				continue
			}
			s := m.statusOf(anchor)
			used := []int{anchor.pos}
			for _, concept := range line[1:] {
				o, ok := m.pair(h, concept, anchor, used, anywhere)
				if !ok {
					s = absent
					break
				}
				s = min(s, m.statusOf(o))
				used = append(used, o.pos)
			}
			best = max(best, s)
		}
	}
	return best
}

// pair finds the strongest occurrence of a concept that goes with the
// anchor: same sentence (or a neighbouring one for a rule that reaches
// across), within the window, not at a place already used.
func (m matcher) pair(h hits, concept []int, anchor occurrence, used []int, anywhere bool) (occurrence, bool) {
	var found occurrence
	ok := false
	for _, id := range concept {
		for _, o := range h.occ[id] {
			switch {
			case !m.counts(o), slices.Contains(used, o.pos):
				continue
			case !anywhere && (!m.across && o.sentence != anchor.sentence || o.pos > anchor.end+m.window || anchor.pos > o.end+m.window):
				continue
			}
			if !ok || m.statusOf(o) > m.statusOf(found) {
				found, ok = o, true
			}
		}
	}
	return found, ok
}
