package knowledge

import (
	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/spanish"

	"github.com/patientservicecenter/psc/shared/words"
)

// language is how the words of one locale are compared: which words carry
// no topic, and how a word is reduced to its stem.
type language struct {
	stop func(string) bool
	stem func(string) string
}

var languages = map[string]language{
	"en": {
		stop: func(w string) bool { return english.IsStopWord(w) || extraStopEN[w] },
		stem: func(w string) string { return english.Stem(w, true) },
	},
	"es": {
		// Snowball's Spanish stop words are accented ("más"); the words
		// compared here are folded, so the folded list is ours.
		stop: func(w string) bool { return stopES[w] },
		stem: func(w string) string { return spanish.Stem(w, true) },
	},
}

// words returns the normalised words of text that carry a topic.
func (l language) words(text string) []string {
	var out []string
	for _, w := range words.Split(text) {
		if !l.stop(w) {
			out = append(out, w)
		}
	}
	return out
}

// extraStopEN are the words of patients' questions that Snowball's English
// list lacks and that say nothing about the topic.
var extraStopEN = set("hi", "hello", "hey", "please", "thanks", "thank", "pls", "plz", "can", "could", "would",
	"will", "shall", "may", "might", "must", "need", "want", "like", "know", "tell", "let", "get", "got", "go",
	"going", "im", "ive", "id", "ill", "dont", "cant", "wont", "isnt", "arent", "doesnt", "didnt", "whats",
	"wheres", "whens", "hows", "theres", "u", "ur", "ok", "okay", "also", "just", "really", "still", "yes",
	"yeah", "anyone", "someone", "something", "anything", "way", "ways", "there", "help", "question", "questions",
	"info", "information", "thing", "things", "much", "many", "also", "one", "make", "us", "today")

// stopES are Spanish function words and question words, folded.
var stopES = set("de", "la", "que", "el", "en", "y", "a", "los", "del", "se", "las", "por", "un", "para", "con",
	"no", "una", "su", "al", "lo", "como", "mas", "pero", "sus", "le", "ya", "o", "este", "si", "porque", "esta",
	"entre", "cuando", "muy", "sin", "sobre", "tambien", "me", "hasta", "hay", "donde", "quien", "desde", "todo",
	"nos", "durante", "todos", "uno", "les", "ni", "contra", "otros", "ese", "eso", "ante", "ellos", "e", "esto",
	"mi", "antes", "algunos", "que", "unos", "yo", "otro", "otras", "otra", "el", "tanto", "esa", "estos",
	"mucho", "quienes", "nada", "muchos", "cual", "poco", "ella", "estar", "estas", "algunas", "algo",
	"nosotros", "mis", "tu", "te", "ti", "tus", "ellas", "os", "mio", "mia", "tuyo", "suyo", "nuestro",
	"esos", "esas", "estoy", "estas", "estamos", "estan", "estara", "estaran", "estaria", "estarian", "estuvo", "es", "son", "soy", "fue", "era", "ser", "he", "ha",
	"has", "han", "hemos", "habia", "puedo", "puede", "pueden", "podria", "quiero", "quisiera", "necesito",
	"saber", "tengo", "tiene", "tienen", "hola", "buenos", "buenas", "dias", "tardes", "noches", "gracias",
	"favor", "por", "hacer", "hago", "cuanto", "cuanta", "cuantos", "cuantas", "cuales", "ayuda", "ayudar",
	"pregunta", "informacion", "usted", "ustedes", "bueno", "ok", "vale", "oiga", "disculpe", "senor",
	"alguien", "alguna", "alguno", "aqui", "alli", "ahi", "va", "voy", "van", "ir", "dar", "dan", "doy")

func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}
