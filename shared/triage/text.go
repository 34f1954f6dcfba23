package triage

import (
	"strings"
	"unicode"

	"github.com/patientservicecenter/psc/shared/words"
)

// clause is a run of normalised tokens that a phrase, a negation or a
// context marker never leaves; sentence numbers the sentence it belongs
// to, the scope in which the concepts of a rule are paired.
type clause struct {
	sentence int
	start    int // index of the first token in the message
	toks     []string
}

// segment splits text into sentences and clauses of normalised tokens.
// Sentences end at . ! ? ; (and the Spanish ¿ ¡) and at line breaks, but a
// . or , between two digits ("38.5", "1,000") ends nothing. Clauses end at
// sentence ends, at commas and at the words of isClauseWord, which are
// dropped. Empty clauses are left out.
func segment(text string) []clause {
	var out []clause
	sentence, pos := 0, 0
	for _, s := range splitSentences(text) {
		for _, part := range strings.Split(s, ",") {
			var cur []string
			flush := func() {
				if len(cur) > 0 {
					out = append(out, clause{sentence: sentence, start: pos, toks: cur})
					pos += len(cur)
				}
				cur = nil
			}
			for _, tok := range words.Split(part) {
				if isClauseWord(tok) {
					flush()
					continue
				}
				cur = append(cur, tok)
			}
			flush()
		}
		sentence++
	}
	return out
}

// splitSentences splits text at sentence marks; a comma between digits is
// dropped so that it splits no clause either.
func splitSentences(text string) []string {
	rs := []rune(text)
	var out []string
	var b strings.Builder
	for i, r := range rs {
		between := i > 0 && i+1 < len(rs) && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1])
		switch {
		case (r == '.' || r == ',') && between:
			if r == '.' || !thousands(rs[i+1:]) {
				b.WriteRune(' ') // 38.5, 38,5 → 38 5: the whole part is the number
			}
		case r == '.' && initialism(rs, i):
			if i+1 < len(rs) && unicode.IsLetter(rs[i+1]) {
				continue // F.A.S.T. → FAST
			}
			b.WriteRune(' ')
		case isSentenceMark(r):
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	return append(out, b.String())
}

// initialism reports whether the dot at i belongs to a dotted initialism
// ("F.A.S.T.", "e.g.", "p.m."): it follows a lone letter, and a lone letter
// with its dot comes right after it or right before it. Such a dot ends no
// sentence ("Can you explain what the F.A.S.T. acronym means for stroke?"
// is one question).
func initialism(rs []rune, i int) bool {
	lone := func(j int) bool { // rs[j] is a letter with no letter before it
		return j >= 0 && j < len(rs) && unicode.IsLetter(rs[j]) && (j == 0 || !unicode.IsLetter(rs[j-1]))
	}
	if !lone(i - 1) {
		return false
	}
	next := i+2 < len(rs) && unicode.IsLetter(rs[i+1]) && rs[i+2] == '.'
	prev := i >= 3 && rs[i-2] == '.' && lone(i-3)
	return next || prev
}

// thousands reports whether the digits after a comma are a group of
// thousands (exactly three, "1,000"), not a decimal part ("38,5").
func thousands(rest []rune) bool {
	n := 0
	for n < len(rest) && unicode.IsDigit(rest[n]) {
		n++
	}
	return n == 3
}

// clauses returns the tokens of each clause of text (for tests and tools).
func clauses(text string) [][]string {
	var out [][]string
	for _, c := range segment(text) {
		out = append(out, c.toks)
	}
	return out
}

// isSentenceMark reports whether r ends a sentence.
func isSentenceMark(r rune) bool {
	switch r {
	case '.', ';', '!', '?', '¿', '¡', '\n', '\r':
		return true
	}
	return false
}

// isClauseMark reports whether r ends a clause: a sentence mark or a comma.
func isClauseMark(r rune) bool { return r == ',' || isSentenceMark(r) }

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
		"isnt", "arent", "wasnt", "havent", "hasnt", "neither", "nothing", "nope",
		"sin", "nunca", "ni", "tampoco", "niego", "nada":
		return true
	}
	return false
}

// negationWindow is how many tokens before a phrase a negation cue
// reaches, unless a rule says otherwise.
const negationWindow = 3

// negationCue returns how many tokens before position i of the clause the
// nearest negation cue stands (0: none). A denial of having or of thinking,
// anywhere before it in the clause ("I don't have a fever or chest pain",
// "no tengo fiebre ni dolor de pecho", "no estoy pensando en hacerme
// daño"), counts as a cue right before it.
func negationCue(toks []string, i int) int { return negationCueSkip(toks, i, nil) }

// negationCueSkip is negationCue with cues at the positions of skip left
// out: the first word of a symptom phrase that holds its own negation ("no
// siento el lado izquierdo") negates that phrase only.
func negationCueSkip(toks []string, i int, skip []bool) int {
	from := 0 // a negation never reaches across an "and", "y" or "or"
	for j := i - 1; j >= 0; j-- {
		if isJoin(toks[j]) && !negatedList(toks, j) {
			from = j + 1
			break
		}
	}
	for j := from; j+1 < i; j++ {
		if firstTime(toks, j) || doubleNegative(toks, j) || hedge(toks, j) {
			continue
		}
		if isDenial(toks[j], toks[j+1]) || j+2 < i && isNegationCue(toks[j]) && (isBeing(toks[j+1]) && isThinking(toks[j+2]) || hasThought(toks[j+1], toks[j+2])) {
			return 1
		}
	}
	for j := i - 1; j >= from; j-- {
		if isNegationCue(toks[j]) && !isInterjection(toks, j) && !outOfNowhere(toks, j) && !firstTime(toks, j) && !doubleNegative(toks, j) && !hedge(toks, j) && (skip == nil || !skip[j]) {
			return i - j
		}
	}
	return 0
}

// firstTime reports whether the cue at j opens a first time ("never had
// this before", "never felt anything like it", "nunca me había pasado
// esto"), which denies nothing that follows: "never had this before: worst
// headache of my life". "Never had chest pain or anything like that"
// still denies: the thing named comes first.
func firstTime(toks []string, j int) bool {
	switch toks[j] {
	case "never":
		if j+2 >= len(toks) {
			return false
		}
		switch toks[j+1] {
		case "had", "felt", "experienced", "seen", "been", "gotten", "have", "feel":
		default:
			return false
		}
		switch toks[j+2] {
		case "this", "that", "anything", "something", "it", "such":
			return true
		}
	case "nunca":
		for _, w := range toks[j+1 : min(len(toks), j+5)] {
			switch w {
			case "esto", "algo", "asi":
				return true
			case "me", "le", "se", "habia", "ha", "he", "sentido", "pasado", "dolido", "tenido":
			default:
				return false
			}
		}
	}
	return false
}

// hedge reports whether the cue at j opens a doubt ("not sure what he
// took", "don't know if she's breathing", "no sé si respira", "no estoy
// segura"), which denies nothing that follows.
func hedge(toks []string, j int) bool {
	if j+1 >= len(toks) {
		return false
	}
	switch toks[j] {
	case "not", "dont", "no":
	default:
		return false
	}
	switch toks[j+1] {
	case "sure", "know", "certain", "idea":
		return true
	case "se":
		return j+2 < len(toks) && toks[j+2] == "si" // "no sé si", never "no se mueve"
	case "sabemos":
		return true
	case "estoy":
		return j+2 < len(toks) && strings.HasPrefix(toks[j+2], "segur")
	}
	return false
}

// doubleNegative reports whether the cue at j is the second of two ("I
// can't not think about it"): the two cancel out.
func doubleNegative(toks []string, j int) bool {
	if j == 0 || toks[j] != "not" {
		return false
	}
	switch toks[j-1] {
	case "cant", "cannot", "couldnt":
		return true
	}
	return false
}

// outOfNowhere reports whether the cue at j is the "nada" of "de la nada"
// (out of nowhere, suddenly), which negates nothing: "de la nada me duele
// horrible" is a sudden pain.
func outOfNowhere(toks []string, j int) bool {
	return toks[j] == "nada" && j >= 2 && toks[j-1] == "la" && toks[j-2] == "de"
}

// isInterjection reports whether the cue at j answers something rather
// than negating what follows: "no he can't breathe", "nope she threw up".
func isInterjection(toks []string, j int) bool {
	if j+1 >= len(toks) {
		return false
	}
	switch toks[j] {
	case "no", "nope", "nah":
	default:
		return false
	}
	switch toks[j+1] {
	case "he", "hes", "she", "shes", "i", "im", "it", "its", "they", "theyre", "we", "my", "his", "her", "the", "now":
		return true
	}
	return false
}

// negatedList reports whether the join at j is the "or" of a negated list
// ("no headache or seeing spots", "sin fiebre o vómito"): an "or" right
// after a negated word or two lets the negation reach past it.
func negatedList(toks []string, j int) bool {
	if toks[j] != "or" && toks[j] != "o" {
		return false
	}
	return j >= 2 && isNegationCue(toks[j-2]) || j >= 3 && isNegationCue(toks[j-3])
}

// isJoin reports whether a token joins two statements, which a negation
// does not cross: "I don't have my inhaler and I can't breathe", "no fever
// and chest pain".
func isJoin(tok string) bool {
	switch tok {
	case "and", "y", "or", "o", "plus":
		return true
	}
	return false
}

// isBeing and isThinking read "not ... thinking": "im not thinking",
// "no estoy pensando".
func isBeing(tok string) bool {
	switch tok {
	case "am", "im", "estoy", "esta", "ando", "been":
		return true
	}
	return false
}

// hasThought reads the Spanish perfect after a cue: "no he pensado",
// "no ha pensado". Only in Spanish: English "he" is a pronoun ("no he
// thought about killing himself" is no denial).
func hasThought(aux, verb string) bool {
	return (aux == "he" || aux == "ha" || aux == "hemos" || aux == "han") && verb == "pensado"
}

func isThinking(tok string) bool {
	switch tok {
	case "thinking", "pensando", "planning", "planeando":
		return true
	}
	return false
}

// isDenial reports whether two tokens deny having something: "dont have",
// "no tengo", "never had".
func isDenial(a, b string) bool {
	switch a {
	case "deny", "denies", "denied", "niega", "nego": // "patient denies any thoughts of self-harm"
		return true
	case "dont", "doesnt", "didnt", "never", "havent", "hasnt", "not", "no", "nunca", "ni":
	default:
		return false
	}
	switch b {
	case "have", "has", "had", "having", "tengo", "tiene", "tuve", "tuvo", "hay":
		return true
	}
	return false
}

// wordNumbers are the number words a count or an age is written with.
var wordNumbers = map[string]int{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
	"ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
	"uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
	"nueve": 9, "diez": 10, "once": 11, "doce": 12, "quince": 15, "veinte": 20, "treinta": 30, "cuarenta": 40,
	"cincuenta": 50,
}

// number returns the value of a token written in digits (up to six) or as
// a number word.
func number(tok string) (int, bool) {
	if v, ok := wordNumbers[tok]; ok {
		return v, true
	}
	if tok == "" || len(tok) > 6 {
		return 0, false
	}
	v := 0
	for _, r := range tok {
		if r < '0' || r > '9' {
			return 0, false
		}
		v = v*10 + int(r-'0')
	}
	return v, true
}
