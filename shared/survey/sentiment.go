package survey

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/words"
)

// Lexicon scores the sentiment of a comment: the weights of the words and
// phrases it holds (lexicon.yaml), a negator flipping the next three
// words, an intensifier making the next word count half again.
type Lexicon struct {
	weights      map[string]float64
	phrases      [][]string // multi-word entries, longest first
	negators     map[string]bool
	intensifiers map[string]bool
}

//go:embed lexicon.yaml
var lexiconYAML []byte

// LoadLexicon parses the embedded lexicon.
func LoadLexicon() (*Lexicon, error) {
	var raw struct {
		Weights      map[string]float64 `yaml:"weights"`
		Negators     []string           `yaml:"negators"`
		Intensifiers []string           `yaml:"intensifiers"`
	}
	if err := yaml.Unmarshal(lexiconYAML, &raw); err != nil {
		return nil, fmt.Errorf("sentiment lexicon: %w", err)
	}
	l := &Lexicon{weights: map[string]float64{}, negators: map[string]bool{}, intensifiers: map[string]bool{}}
	for k, w := range raw.Weights {
		if w < -3 || w > 3 || w == 0 {
			return nil, fmt.Errorf("sentiment lexicon: %q weighs %v; want -3..3, not 0", k, w)
		}
		ws := words.Split(k)
		l.weights[strings.Join(ws, " ")] = w
		if len(ws) > 1 {
			l.phrases = append(l.phrases, ws)
		}
	}
	slices.SortFunc(l.phrases, func(a, b []string) int { return len(b) - len(a) })
	for _, n := range raw.Negators {
		l.negators[strings.Join(words.Split(n), " ")] = true
	}
	for _, i := range raw.Intensifiers {
		l.intensifiers[strings.Join(words.Split(i), " ")] = true
	}
	return l, nil
}

// Score rates a text: below zero is negative, above zero positive, zero
// neutral (or nothing known). Clauses (split at punctuation and "but")
// are scored apart, so a negation never reaches past its clause; the sum
// of the weights found is squashed into -1..1.
func (l *Lexicon) Score(text string) float64 {
	sum := 0.0
	for _, clause := range strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(",.;:!?()\n", r) }) {
		for _, part := range splitWords(words.Split(clause), "but", "pero", "aunque", "although") {
			sum += l.clause(part)
		}
	}
	if sum == 0 {
		return 0
	}
	return math.Max(-1, math.Min(1, sum/math.Sqrt(sum*sum+4)))
}

// splitWords cuts a word list at any of the separators.
func splitWords(ws []string, seps ...string) [][]string {
	var out [][]string
	start := 0
	for i, w := range ws {
		if slices.Contains(seps, w) {
			out = append(out, ws[start:i])
			start = i + 1
		}
	}
	return append(out, ws[start:])
}

// clause sums one clause's weights: a negator flips the next three words'
// ("not very helpful"), an intensifier makes the next one count half
// again.
func (l *Lexicon) clause(ws []string) float64 {
	sum, negate, boost := 0.0, 0, 1.0
	for i := 0; i < len(ws); i++ {
		w, n := l.weightAt(ws, i)
		switch {
		case n > 0:
			if negate > 0 {
				w = -w * 0.75 // "not great" is less bad than "bad"
			}
			sum += w * boost
			boost = 1
			i += n - 1
			negate = max(0, negate-n)
			continue
		case l.negators[ws[i]]:
			negate = 3
			continue
		case l.intensifiers[ws[i]]:
			boost = 1.5
			continue
		}
		boost = 1
		negate = max(0, negate-1)
	}
	return sum
}

// weightAt is the weight of the longest entry starting at word i, and how
// many words it spans (0 when none).
func (l *Lexicon) weightAt(ws []string, i int) (float64, int) {
	for _, p := range l.phrases {
		if i+len(p) <= len(ws) && slices.Equal(ws[i:i+len(p)], p) {
			return l.weights[strings.Join(p, " ")], len(p)
		}
	}
	if w, ok := l.weights[ws[i]]; ok {
		return w, 1
	}
	return 0, 0
}
