// Package words normalises free text written by patients into comparable
// words: lower case, accents folded, apostrophes dropped (can't → cant),
// and every other character that is not a letter or a digit a separator.
// Triage, the knowledge base and the dialog engine all compare text this
// way, so a phrase written in a rule file matches what a patient types.
package words

import (
	"strings"
	"unicode"
)

// Split normalises s and splits it into words.
func Split(s string) []string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		switch {
		case isApostrophe(r), unicode.Is(unicode.Mn, r): // combining accents fold away too
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(Fold(r))
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}

// Fold removes the accent of a lower-case Latin letter.
func Fold(r rune) rune {
	switch r {
	case 'á', 'à', 'â', 'ä', 'ã':
		return 'a'
	case 'é', 'è', 'ê', 'ë':
		return 'e'
	case 'í', 'ì', 'î', 'ï':
		return 'i'
	case 'ó', 'ò', 'ô', 'ö', 'õ':
		return 'o'
	case 'ú', 'ù', 'û', 'ü':
		return 'u'
	case 'ñ':
		return 'n'
	case 'ç':
		return 'c'
	}
	return r
}

// isApostrophe reports whether r is an apostrophe, which Split drops.
func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', 'ʼ', '`', '´':
		return true
	}
	return false
}

// Distance is the Damerau–Levenshtein distance of a and b in its optimal
// string alignment form: insertions, deletions, substitutions and
// transpositions of adjacent letters each cost 1.
func Distance(a, b []rune) int {
	n := len(b) + 1
	var buf [72]int // three rows for words of up to 23 letters without allocating
	rows := buf[:]
	if 3*n > len(buf) {
		rows = make([]int, 3*n)
	}
	prev2, prev, cur := rows[:n], rows[n:2*n], rows[2*n:3*n]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
