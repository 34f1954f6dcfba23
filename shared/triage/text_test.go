package triage

import (
	"slices"
	"testing"

	"github.com/patientservicecenter/psc/shared/words"
)

func TestClauses(t *testing.T) {
	got := clauses("No fever, but my chest hurts; however I'm fine. ¿Y tú? pero no sé\nok although fine sino nada")
	want := [][]string{{"no", "fever"}, {"my", "chest", "hurts"}, {"im", "fine"}, {"y", "tu"}, {"no", "se"}, {"ok"}, {"fine"}, {"nada"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("clauses = %q, want %q", got, want)
	}
}

func TestTermTolerance(t *testing.T) {
	for _, tc := range []struct {
		term, tok string
		want      bool
	}{
		{"pain", "pian", false}, // 4 letters or fewer: exact
		{"cant", "cnat", false},
		{"chest", "chset", true}, // 5-7 letters: one edit
		{"chest", "chesst", true},
		{"chest", "cheat", true},
		{"chest", "chets", true},
		{"breathe", "breath", true},
		{"breathe", "breth", false},   // two edits
		{"bleeding", "bleding", true}, // 8 or more: two edits
		{"bleeding", "bleedingg", true},
		{"suicidal", "sucidl", true},
		{"suicidal", "scdl", false},
		{"suicidal", "xuicidaly", true},
		{"suicidal", "xuicidalyz", false},
		{"overdose", "overdos", true},
		{"corazon", "corazn", true},
		{"corazon", "corazón", true}, // a rune is one letter
	} {
		runes := []rune(tc.tok)
		if got := newTerm(tc.term).near(runes, letterSet(runes)); got != tc.want {
			t.Errorf("%q near %q = %v, want %v", tc.term, tc.tok, got, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	l := newLexicon()
	for _, p := range []string{"chest pain", "overdose", "fainting", "cant breathe"} {
		l.phrase(words.Split(p))
	}
	l.distinct["overdue"] = true
	for tok, want := range map[string][]string{
		"chest":     {"chest"},
		"chset":     {"chest"},
		"overdose":  {"overdose"},
		"overdos":   {"overdose"},
		"overdue":   nil, // a distinct word: never a typo
		"fainting":  {"fainting"},
		"feinting":  {"fainting"},
		"pian":      nil,
		"breath":    {"breathe"},
		"something": nil,
	} {
		var got []string
		for _, id := range l.lookup(tok) {
			got = append(got, l.terms[id].word)
		}
		if !slices.Equal(got, want) {
			t.Errorf("lookup(%q) = %q, want %q", tok, got, want)
		}
	}
}

func TestScanNegation(t *testing.T) {
	l := newLexicon()
	pain := l.phrase(words.Split("chest pain"))
	breathe := l.phrase(words.Split("cant breathe"))
	for text, want := range map[string][2]bool{ // found, plain for chest pain
		"i do not really have any chest pain": {true, true}, // cue 4 words before
		"i do not have chest pain":            {true, false},
		"no chest pain":                       {true, false},
		"no chest pain, but chest pain":       {true, true},
		"chest pain":                          {true, true},
		"chest":                               {false, false},
	} {
		h := l.scan(text)
		if got := [2]bool{h.found[pain], h.plain[pain]}; got != want {
			t.Errorf("scan(%q) chest pain = %v, want %v", text, got, want)
		}
	}
	if h := l.scan("i cant breathe"); !h.plain[breathe] {
		t.Error("a cue that is a word of the phrase negated it")
	}
}
