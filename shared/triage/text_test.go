package triage

import (
	"slices"
	"testing"

	"github.com/patientservicecenter/psc/shared/words"
)

func TestClauses(t *testing.T) {
	got := clauses("No fever, but my chest hurts; however I'm fine. ¿Y tú? pero no sé\nok although fine sino nada 38.5 1,000")
	want := [][]string{{"no", "fever"}, {"my", "chest", "hurts"}, {"im", "fine"}, {"y", "tu"}, {"no", "se"}, {"ok"}, {"fine"}, {"nada", "38", "5", "1000"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("clauses = %q, want %q", got, want)
	}
}

func TestInitialismsEndNoSentence(t *testing.T) {
	for text, want := range map[string][][]string{
		"Can you explain what the F.A.S.T. acronym means for stroke?": {{"can", "you", "explain", "what", "the", "fast", "acronym", "means", "for", "stroke"}},
		"since 3 p.m. my chest hurts":                                 {{"since", "3", "pm", "my", "chest", "hurts"}},
		"I saw Dr. A. Smith. It hurts":                                {{"i", "saw", "dr"}, {"a"}, {"smith"}, {"it", "hurts"}},
	} {
		if got := clauses(text); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("clauses(%q) = %q, want %q", text, got, want)
		}
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
		l.phrase(words.Split(p), roleMatch)
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

func TestOutOfNowhereNegatesNothing(t *testing.T) {
	if cue := negationCue(words.Split("de la nada me duele"), 4); cue != 0 {
		t.Errorf("'de la nada me duele' (out of nowhere it hurts): cue %d, want none", cue)
	}
	if cue := negationCue(words.Split("nada me duele"), 2); cue != 2 {
		t.Errorf("'nada me duele' (nothing hurts): cue %d, want 2", cue)
	}
}

// TestNegationReach: how far a negation cue reaches, and what is no cue.
func TestNegationReach(t *testing.T) {
	for _, tc := range []struct {
		text string
		at   int // the phrase's first token
		want int
	}{
		{"no headache or seeing spots", 3, 3},
		{"sin fiebre o vomito", 3, 3},
		{"no fever and chest pain", 3, 0}, // "and" starts a new statement
		{"my head hurts or chest pain", 4, 0},
		// A first time, a double negative or a doubt denies nothing; a
		// denial verb reaches the whole clause.
		{"never had this before worst headache of my life", 4, 0},
		{"nunca me habia pasado esto el peor dolor de cabeza", 6, 0},
		{"i never had chest pain", 3, 1},                     // a denial of having it
		{"never had chest pain or anything like that", 2, 1}, // the thing named first: a denial
		{"never felt anything like it my chest is crushing", 5, 0},
		{"i cant not think about killing myself", 5, 0},    // "can't not": the two cancel
		{"i can not breathe", 3, 1},                        // one negation
		{"patient denies any thoughts of self harm", 5, 1}, // a denial verb reaches the clause
		{"la paciente niega ideas de hacerse dano", 4, 1},
		{"not sure what he took at the party", 4, 0}, // a doubt, not a denial
		{"no se si respira", 3, 0},
		{"no se mueve", 2, 2},                              // "no se mueve" denies moving
		{"no estoy segura pero creo que no respira", 7, 1}, // the second "no" still denies
	} {
		if cue := negationCue(words.Split(tc.text), tc.at); cue != tc.want {
			t.Errorf("%q: cue %d, want %d", tc.text, cue, tc.want)
		}
	}
}

func TestADeniedThoughtIsACue(t *testing.T) {
	for _, text := range []string{"no he pensado en hacerme dano", "no ha pensado en matarse"} {
		toks := words.Split(text)
		if cue := negationCue(toks, len(toks)-2); cue != 1 {
			t.Errorf("%q: cue %d, want 1 (a denial of having thought of it)", text, cue)
		}
	}
	// English "he" is a pronoun: no denial, and "no" answers something.
	toks := words.Split("no he thought about killing himself")
	if cue := negationCue(toks, 4); cue != 0 {
		t.Errorf("%q: cue %d, want none", "no he thought about killing himself", cue)
	}
}

func TestScanNegation(t *testing.T) {
	l := newLexicon()
	pain, _ := l.phrase(words.Split("chest pain"), roleMatch)
	breathe, _ := l.phrase(words.Split("cant breathe"), roleMatch)
	for text, want := range map[string][2]bool{ // found, plain for chest pain
		"i do not really have any chest pain": {true, true}, // cue 4 words before
		"i do not have chest pain":            {true, false},
		"no chest pain":                       {true, false},
		"no chest pain, but chest pain":       {true, true},
		"chest pain":                          {true, true},
		"chest":                               {false, false},
	} {
		h := l.scan(text)
		got := [2]bool{matcher{}.best(h, []int{pain}) != absent, matcher{negation: negationWindow}.best(h, []int{pain}) != absent}
		if got != want {
			t.Errorf("scan(%q) chest pain = %v, want %v", text, got, want)
		}
	}
	if h := l.scan("i cant breathe"); (matcher{negation: negationWindow}).best(h, []int{breathe}) != present {
		t.Error("a cue that is a word of the phrase negated it")
	}
}

func TestScanContext(t *testing.T) {
	l := newLexicon()
	attack, _ := l.phrase(words.Split("heart attack"), roleMatch|roleName)
	l.phrase(words.Split("years ago"), roleReported)
	l.phrase(words.Split("today"), roleRecent)
	l.phrase(words.Split("clinic"), roleService)
	l.phrase(words.Split("heart attack risk"), roleNeutral)
	for text, want := range map[string]status{
		"i think im having a heart attack":                    present,
		"had a heart attack years ago":                        reported,
		"had a heart attack years ago, need a refill":         reported,
		"heart attack years ago and another one today":        present, // a recent marker wins in its clause
		"heart attack years ago. now a heart attack":          present,
		"what time does the heart attack clinic open":         absent, // a service's name
		"my heart attack risk is 12 percent":                  absent, // neutral: the words mean something else
		"clinic is closed. i am having a heart attack":        present,
		"the clinic said, heart attack":                       present, // the comma ends the service's reach
		"my heart attack years ago, and a heart attack today": present,
	} {
		if got := (matcher{negation: negationWindow}).best(l.scan(text), []int{attack}); got != want {
			t.Errorf("scan(%q) heart attack = %d, want %d", text, got, want)
		}
	}
}

func TestNumberRanges(t *testing.T) {
	l := newLexicon()
	young, _ := l.phrase(words.Split("n0to12 weeks old"), roleMatch)
	low, _ := l.phrase(words.Split("sugar n10to54"), roleMatch)
	for text, want := range map[string][2]bool{ // young, low
		"my 6 weeks old":         {true, false},
		"she is two weeks old":   {true, false},
		"13 weeks old":           {false, false},
		"sugar 45":               {false, true},
		"sugar 54.9":             {false, true}, // the whole part counts
		"sugar 55":               {false, false},
		"sugar is 45":            {false, false}, // a phrase is consecutive words
		"n0to12 weeks old":       {false, false}, // the range term is not a word
		"sugar 1,000 weeks old":  {false, false},
		"sugar 40. 10 weeks old": {true, true}, // a dot after a number ends the sentence
	} {
		h := l.scan(text)
		m := matcher{negation: negationWindow}
		got := [2]bool{m.best(h, []int{young}) == present, m.best(h, []int{low}) == present}
		if got != want {
			t.Errorf("scan(%q) = %v, want %v", text, got, want)
		}
	}
}
