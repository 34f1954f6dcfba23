package triage

import (
	"strings"

	"github.com/patientservicecenter/psc/shared/words"
)

// clauses splits text into clauses and each clause into normalised tokens.
// Clauses end at . ; , ! ? (and ¿ ¡ and line breaks) and at the words of
// isClauseWord, which are dropped. Empty clauses are left out.
func clauses(text string) [][]string {
	var out [][]string
	for _, part := range strings.FieldsFunc(text, isClauseMark) {
		var cur []string
		for _, tok := range words.Split(part) {
			if isClauseWord(tok) {
				out = appendClause(out, cur)
				cur = nil
				continue
			}
			cur = append(cur, tok)
		}
		out = appendClause(out, cur)
	}
	return out
}

// appendClause appends a clause unless it is empty.
func appendClause(out [][]string, c []string) [][]string {
	if len(c) == 0 {
		return out
	}
	return append(out, c)
}

// isClauseMark reports whether r ends a clause.
func isClauseMark(r rune) bool {
	switch r {
	case '.', ';', ',', '!', '?', '¿', '¡', '\n', '\r':
		return true
	}
	return false
}

// isClauseWord reports whether a normalised token starts a new clause.
func isClauseWord(tok string) bool {
	switch tok {
	case "but", "pero", "however", "although", "aunque", "sino":
		return true
	}
	return false
}

// isNegationCue reports whether a normalised token negates a phrase that
// follows it within negationWindow tokens of the same clause.
func isNegationCue(tok string) bool {
	switch tok {
	case "no", "not", "dont", "doesnt", "didnt", "never", "without", "deny", "denies", "nor",
		"isnt", "arent", "wasnt", "havent", "hasnt", "neither",
		"sin", "nunca", "ni", "tampoco", "niego":
		return true
	}
	return false
}

// negationWindow is how many tokens before a phrase a negation cue reaches.
const negationWindow = 3

// negated reports whether a negation cue stands within negationWindow
// tokens before position i of the clause.
func negated(clause []string, i int) bool {
	for j := max(0, i-negationWindow); j < i; j++ {
		if isNegationCue(clause[j]) {
			return true
		}
	}
	return false
}
