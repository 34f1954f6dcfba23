package words

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"I can't BREATHE!":           {"i", "cant", "breathe"},
		"Don’t":                      {"dont"},
		"¿Qué pasó? Niño, corazón":   {"que", "paso", "nino", "corazon"},
		"pingüino ÁÉÍÓÚÜÑ":           {"pinguino", "aeiouun"},
		"e\u0301l":                   {"el"}, // a combining accent folds away
		"x-ray 103.5°F":              {"x", "ray", "103", "5", "f"},
		"   ":                        nil,
		"I'm":                        {"im"},
		"self-harm/selfharm":         {"self", "harm", "selfharm"},
		"\xff\xfe broken utf8 chest": {"broken", "utf8", "chest"},
	} {
		if got := Split(in); !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"chest", "chest", 0},
		{"chest", "chset", 1}, // transposition
		{"breathe", "breath", 1},
		{"shortness", "shortnes", 1},
		{"suicidal", "sucidal", 1},
		{"", "abc", 3},
		{"abc", "", 3},
		{"ca", "abc", 3}, // optimal string alignment, not unrestricted Damerau–Levenshtein
		{"kitten", "sitting", 3},
	} {
		if got := Distance([]rune(tc.a), []rune(tc.b)); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
