package triage

import (
	"math/bits"
	"slices"

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
	starts   [][]int         // by term id: ids of the phrases that start with it
	distinct map[string]bool // real words that are never typos of a term
}

// newLexicon returns an empty lexicon.
func newLexicon() *lexicon {
	return &lexicon{termIDs: map[string]int{}, phraseID: map[string]int{}, distinct: map[string]bool{}}
}

// phrase returns the id of the phrase of normalised words, adding it.
func (l *lexicon) phrase(words []string) int {
	key := ""
	p := make(phrase, len(words))
	for i, w := range words {
		p[i] = l.term(w)
		key += w + " "
	}
	id, ok := l.phraseID[key]
	if !ok {
		id = len(l.phrases)
		l.phraseID[key] = id
		l.phrases = append(l.phrases, p)
		l.starts[p[0]] = append(l.starts[p[0]], id)
	}
	return id
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
	if ok {
		ids = append(ids, exact)
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

// hits are the phrases a message contains: anywhere, and at least once
// without a negation cue before them.
type hits struct {
	found, plain []bool // by phrase id
}

// scan finds the phrases of the lexicon in a text.
func (l *lexicon) scan(text string) hits {
	h := hits{found: make([]bool, len(l.phrases)), plain: make([]bool, len(l.phrases))}
	seen := map[string][]int{}
	for _, clause := range clauses(text) {
		terms := make([][]int, len(clause)) // by position: ids of the terms the token matches
		for i, tok := range clause {
			ids, ok := seen[tok]
			if !ok {
				ids = l.lookup(tok)
				seen[tok] = ids
			}
			terms[i] = ids
		}
		for i := range clause {
			for _, t := range terms[i] {
				for _, id := range l.starts[t] {
					if l.phraseAt(id, terms[i:]) {
						h.found[id] = true
						h.plain[id] = h.plain[id] || !negated(clause, i)
					}
				}
			}
		}
	}
	return h
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

// matcher is the compiled condition of a rule: any of its phrases, or a
// phrase of every all_of group.
type matcher struct {
	anyOf     []int   // phrase ids
	allOf     [][]int // groups of phrase ids
	negatable bool
}

// matches reports whether the rule matches a message with these hits.
func (m matcher) matches(h hits) bool {
	if m.found(h, m.anyOf) {
		return true
	}
	if len(m.allOf) == 0 {
		return false
	}
	for _, group := range m.allOf {
		if !m.found(h, group) {
			return false
		}
	}
	return true
}

// found reports whether one of the phrases is in the message: not negated
// unless the rule ignores negation.
func (m matcher) found(h hits, phrases []int) bool {
	for _, id := range phrases {
		if h.plain[id] || !m.negatable && h.found[id] {
			return true
		}
	}
	return false
}
