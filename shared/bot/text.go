package bot

import (
	"strings"

	"github.com/patientservicecenter/psc/shared/words"
)

// hasPhrase reports whether the words of any phrase appear consecutively
// in text's words.
func hasPhrase(text []string, phrases []string) bool {
	for _, p := range phrases {
		pw := words.Split(p)
		if len(pw) == 0 || len(pw) > len(text) {
			continue
		}
		for i := 0; i+len(pw) <= len(text); i++ {
			match := true
			for j, w := range pw {
				if text[i+j] != w {
					match = false
					break
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}

// isOnly reports whether the text is one of the phrases and nothing more
// (a short answer such as "yes" or "no", not a sentence containing it).
func isOnly(text []string, phrases []string) bool {
	joined := strings.Join(text, " ")
	for _, p := range phrases {
		if strings.Join(words.Split(p), " ") == joined {
			return true
		}
	}
	return false
}

var spanishMarkers = map[string]bool{
	"el": true, "la": true, "los": true, "las": true, "que": true, "de": true, "y": true, "en": true, "por": true, "para": true,
	"como": true, "donde": true, "cuando": true, "mi": true, "tengo": true, "es": true, "necesito": true, "quiero": true,
	"puedo": true, "hola": true, "gracias": true, "una": true, "un": true, "con": true, "estoy": true, "me": true, "del": true,
	"cual": true, "cuanto": true, "hay": true, "usted": true, "ustedes": true, "buenos": true, "dias": true, "tardes": true,
}

var englishMarkers = map[string]bool{
	"the": true, "is": true, "are": true, "what": true, "where": true, "when": true, "how": true, "i": true, "my": true,
	"have": true, "need": true, "want": true, "can": true, "you": true, "to": true, "and": true, "of": true, "for": true,
	"hello": true, "hi": true, "thanks": true, "please": true, "do": true, "does": true, "with": true, "am": true, "it": true,
}

// detectLocale guesses "en" or "es" from the text's function words, and
// returns "" when the text is too short or mixed to tell.
func detectLocale(text []string) string {
	es, en := 0, 0
	for _, w := range text {
		if spanishMarkers[w] {
			es++
		}
		if englishMarkers[w] {
			en++
		}
	}
	switch {
	case es >= 2 && es > 2*en:
		return "es"
	case en >= 2 && en > 2*es:
		return "en"
	}
	return ""
}
