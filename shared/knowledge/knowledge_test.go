package knowledge

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func load(t testing.TB) *Index {
	t.Helper()
	x, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// labeled is testdata/questions.yaml: questions patients ask, each with
// the article that should answer it first, or "none".
type labeled struct {
	Questions []struct {
		Q      string `yaml:"q"`
		Locale string `yaml:"locale"`
		Want   string `yaml:"want"`
	} `yaml:"questions"`
}

func questions(t *testing.T, file string) labeled {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var l labeled
	if err := yaml.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// figures are the results of one labeled set.
type figures struct {
	inScope, inRight, outScope, outRight int
	perLocale                            map[string][2]int
}

func (f figures) top1() float64     { return float64(f.inRight) / float64(f.inScope) }
func (f figures) rejected() float64 { return float64(f.outRight) / float64(f.outScope) }

// score runs the labeled questions through Answer and logs every miss with
// the two best hits. In scope, a question counts as right when Answer
// returns the labeled article; out of scope, when Answer returns nothing.
func score(t *testing.T, x *Index, l labeled) figures {
	t.Helper()
	f := figures{perLocale: map[string][2]int{}}
	for _, q := range l.Questions {
		if q.Want != "none" {
			if _, ok := x.Lookup(q.Want, q.Locale); !ok {
				t.Fatalf("question %q is labeled with the unknown article %q", q.Q, q.Want)
			}
		}
		got, ok := x.Answer(q.Q, q.Locale)
		right := (q.Want == "none" && !ok) || (ok && got.ID == q.Want)
		c := f.perLocale[q.Locale]
		c[1]++
		if right {
			c[0]++
		}
		f.perLocale[q.Locale] = c
		switch {
		case q.Want == "none":
			f.outScope++
			if right {
				f.outRight++
			}
		default:
			f.inScope++
			if right {
				f.inRight++
			}
		}
		if !right {
			var top []string
			for _, h := range x.Search(q.Q, q.Locale, 2) {
				top = append(top, h.Article.ID+" "+strconvF(h.Score)+"/"+strconvF(h.Coverage))
			}
			t.Logf("miss (%s): %q want %s, got %q (top: %s)", q.Locale, q.Q, q.Want, got.ID, strings.Join(top, ", "))
		}
	}
	t.Logf("top-1 accuracy: %.1f%% (%d/%d in scope); out of scope rejected: %.1f%% (%d/%d)",
		100*f.top1(), f.inRight, f.inScope, 100*f.rejected(), f.outRight, f.outScope)
	for _, loc := range x.Locales() {
		c := f.perLocale[loc]
		t.Logf("  %s: %d/%d right", loc, c[0], c[1])
	}
	return f
}

// TestAccuracy reports the knowledge base's top-1 accuracy on the labeled
// questions (testdata/questions.yaml, which the articles are tuned on) and
// fails below the goal of 90%; and on the held-out questions
// (testdata/holdout.yaml, never tuned on), which estimate how the base does
// on new questions and fail below a floor of 80%.
func TestAccuracy(t *testing.T) {
	x := load(t)
	for _, tc := range []struct {
		name, file    string
		minIn, minOut int     // the least questions in and out of scope
		bar           float64 // the least top-1 accuracy and share of out-of-scope questions rejected
	}{
		{"labeled", "testdata/questions.yaml", 150, 30, 0.90},
		{"held-out", "testdata/holdout.yaml", 50, 10, 0.80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := score(t, x, questions(t, tc.file))
			if f.inScope < tc.minIn || f.outScope < tc.minOut {
				t.Fatalf("the %s set is too small: %d in scope (want ≥%d), %d out of scope (want ≥%d)", tc.name, f.inScope, tc.minIn, f.outScope, tc.minOut)
			}
			if f.top1() < tc.bar {
				t.Errorf("%s top-1 accuracy %.1f%% is below %.0f%%", tc.name, 100*f.top1(), 100*tc.bar)
			}
			if f.rejected() < tc.bar {
				t.Errorf("only %.1f%% of the %s out-of-scope questions were rejected, want %.0f%% or more", 100*f.rejected(), tc.name, 100*tc.bar)
			}
		})
	}
}

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func TestAnswers(t *testing.T) {
	x := load(t)
	for _, tc := range []struct{ q, locale, want string }{
		{"What are the visiting hours?", "en", "visiting-hours"},
		{"where do I park?", "en", "parking"},
		{"¿Dónde puedo estacionar mi carro?", "es", "parking"},
		{"I need a perscription refil", "en", "prescription-refills"}, // two typos
		{"how do i pay my bill", "en", "billing"},
		{"olvidé mi contraseña del portal", "es", "portal-login"},
		{"should I go to the ER or urgent care", "en", "er-vs-urgent-care"},
	} {
		a, ok := x.Answer(tc.q, tc.locale)
		if !ok || a.ID != tc.want || a.Locale != tc.locale {
			t.Errorf("Answer(%q, %s) = %q %s %v, want %s", tc.q, tc.locale, a.ID, a.Locale, ok, tc.want)
		}
	}
	for _, q := range []string{"", "asdf qwerty zxcv", "blorp glorp", "hi", "what is the capital of France", "how many hours should I sleep"} {
		if a, ok := x.Answer(q, "en"); ok {
			t.Errorf("Answer(%q) = %s, want no answer", q, a.ID)
		}
	}
}

func TestUnknownLocaleFallsBackToEnglish(t *testing.T) {
	a, ok := load(t).Answer("where do I park", "fr")
	if !ok || a.Locale != "en" || a.ID != "parking" {
		t.Fatalf("Answer in fr = %+v %v", a, ok)
	}
}

func TestSearchRanksAndLimits(t *testing.T) {
	x := load(t)
	hits := x.Search("parking garage cost for visitors", "en", 3)
	if len(hits) != 3 || hits[0].Article.ID != "parking" {
		t.Fatalf("hits = %+v", hits)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Fatalf("hits out of order: %+v", hits)
		}
	}
	if hits[0].Coverage <= 0 || hits[0].Coverage > 1 {
		t.Fatalf("coverage %v out of (0, 1]", hits[0].Coverage)
	}
	if got := x.Search("parking", "en", 0); got != nil {
		t.Fatalf("k=0 gave %+v", got)
	}
}

func TestEveryArticleHasBothLanguagesAndFindsItself(t *testing.T) {
	x := load(t)
	en, es := x.locales["en"].articles, x.locales["es"].articles
	if len(en) != len(es) || len(en) < 24 {
		t.Fatalf("%d English and %d Spanish articles, want the same number, at least 24", len(en), len(es))
	}
	// Each article's title, asked as a question, finds the article.
	for _, loc := range []string{"en", "es"} {
		for _, a := range x.locales[loc].articles {
			if got, ok := x.Answer(a.Title, loc); !ok || got.ID != a.ID {
				t.Errorf("%s: its own title %q finds %q (%v)", loc, a.Title, got.ID, ok)
			}
		}
	}
}

func TestParseRejectsBadArticles(t *testing.T) {
	version := func(title, answer, keywords string) string {
		return "{title: \"" + title + "\", answer: \"" + answer + "\", keywords: [" + keywords + "]}"
	}
	good := version("T", "A", "k")
	for name, tc := range map[string]struct{ yaml, want string }{
		"empty":           {`articles: []`, "no articles"},
		"bad yaml":        {`articles: [`, "knowledge base:"},
		"unknown field":   {"articles:\n  - {id: a, en: " + good + ", es: " + good + ", fr: " + good + "}", "field fr not found"},
		"bad id":          {"articles:\n  - {id: Bad_Id, en: " + good + ", es: " + good + "}", "id must be"},
		"duplicate id":    {"articles:\n  - {id: a, en: " + good + ", es: " + good + "}\n  - {id: a, en: " + good + ", es: " + good + "}", "id used twice"},
		"missing es":      {"articles:\n  - {id: a, en: " + good + "}", "no es version"},
		"no title":        {"articles:\n  - {id: a, en: " + version("", "A", "k") + ", es: " + good + "}", "no title"},
		"no answer":       {"articles:\n  - {id: a, en: " + good + ", es: " + version("T", "", "k") + "}", "no answer"},
		"no keywords":     {"articles:\n  - {id: a, en: " + version("T", "A", "") + ", es: " + good + "}", "no keywords"},
		"keyword twice":   {"articles:\n  - {id: a, en: " + version("T", "A", "k, k") + ", es: " + good + "}", "listed twice"},
		"answer too long": {"articles:\n  - {id: a, en: " + version("T", strings.Repeat("x", maxAnswer+1), "k") + ", es: " + good + "}", "more than 1200"},
		"title too long":  {"articles:\n  - {id: a, en: " + version(strings.Repeat("x", maxTitle+1), "A", "k") + ", es: " + good + "}", "title longer"},
		"empty keyword":   {"articles:\n  - {id: a, en: " + version("T", "A", "k, ' '") + ", es: " + good + "}", "keyword 2 is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte("articles:\n  - {id: a, en: " + good + ", es: " + good + "}")); err != nil {
		t.Fatalf("a good file: %v", err)
	}
}

func FuzzSearch(f *testing.F) {
	x := load(f)
	for _, s := range []string{"where do I park", "¿Dónde está la farmacia?", "", "\xff\xfe", strings.Repeat("refill ", 300), "ñññ 911 ER"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, loc := range []string{"en", "es"} {
			hits := x.Search(q, loc, 5)
			if len(hits) > 5 {
				t.Fatalf("%d hits for k=5", len(hits))
			}
			for i, h := range hits {
				if h.Score <= 0 || h.Coverage <= 0 || h.Coverage > 1+1e-9 || (i > 0 && h.Score > hits[i-1].Score) {
					t.Fatalf("bad hit %d for %q: %+v", i, q, h)
				}
			}
			if a, ok := x.Answer(q, loc); ok && (len(hits) == 0 || a.ID != hits[0].Article.ID) {
				t.Fatalf("Answer(%q) = %s, but the best hit is %+v", q, a.ID, hits)
			}
		}
	})
}

func BenchmarkAnswer(b *testing.B) {
	x := load(b)
	for b.Loop() {
		x.Answer("Hi, my mom is staying on the fourth floor, what time can I come and visit her tonight?", "en")
	}
}
