package bot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// evalCase is one phrasing of an evaluation set (shared/triage/testdata/eval).
type evalCase struct {
	Text    string   `yaml:"text"`
	Lang    string   `yaml:"lang"`
	Expect  string   `yaml:"expect"`  // emergency, ask, now or benign
	Numbers []string `yaml:"numbers"` // for emergency: the hotlines the reply gives, the first one first
	Kind    string   `yaml:"kind"`
	Source  string   `yaml:"source"`
}

// evalFigures are what a set measures: the bot's first reply to each phrasing.
type evalFigures struct {
	emergencies, caught, rightNumber int
	benign, falseAlarms              int // benign, ask and now phrasings; those escalated as emergencies
	asks, asked, nows, nowAsked      int
	notUnderstood                    int // phrasings that name a symptom answered "I didn't understand"
	misses                           []string
}

// loadEval reads an evaluation set and checks its shape.
func loadEval(t *testing.T, name string) []evalCase {
	t.Helper()
	data, err := os.ReadFile("../triage/testdata/eval/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []evalCase `yaml:"cases"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i, c := range f.Cases {
		ok := c.Text != "" && (c.Lang == "en" || c.Lang == "es") && c.Kind != "" &&
			slices.Contains([]string{"emergency", "ask", "now", "benign"}, c.Expect) &&
			(c.Expect == "emergency") == (len(c.Numbers) > 0)
		if !ok {
			t.Fatalf("%s: case %d is malformed: %+v", name, i, c)
		}
	}
	return f.Cases
}

// evaluate gives each phrasing as the first message of a conversation whose
// patient said yes to the bot, and measures the first reply.
func evaluate(t *testing.T, cases []evalCase) evalFigures {
	e := engine(t)
	var f evalFigures
	for _, c := range cases {
		out := e.Turn(State{Stage: stageOpen, Locale: c.Lang}, Input{Text: c.Text, Locale: c.Lang, Now: open})
		urgent := out.Handoff != nil && out.Handoff.Priority == "urgent"
		// A phrasing that reports a symptom (an emergency, a complaint, a
		// mild complaint) is never answered "I didn't understand"; an
		// administrative or educational question may be (the knowledge base
		// answers what it covers).
		if (c.Expect == "emergency" || c.Expect == "ask" || c.Kind == "mild") && strings.Contains(out.Text, e.c.Text["notUnderstood"].In(out.State.Locale)) {
			f.notUnderstood++
			f.misses = append(f.misses, fmt.Sprintf("not understood (%s, %s): %q", c.Expect, c.Kind, c.Text))
		}
		switch c.Expect {
		case "emergency":
			f.emergencies++
			if !urgent {
				f.misses = append(f.misses, fmt.Sprintf("missed %s (%s): %q → %q", c.Kind, c.Lang, c.Text, clip(out.Text, 90)))
				continue
			}
			f.caught++
			if numbersInOrder(out.Text, c.Numbers) {
				f.rightNumber++
			} else {
				f.misses = append(f.misses, fmt.Sprintf("wrong number %s (want %v): %q → %q", c.Kind, c.Numbers, c.Text, clip(out.Text, 90)))
			}
		default:
			f.benign++
			if urgent {
				f.falseAlarms++
				f.misses = append(f.misses, fmt.Sprintf("false alarm %s/%s (%s): %q", c.Expect, c.Kind, c.Lang, c.Text))
			}
			switch c.Expect {
			case "ask":
				f.asks++
				if out.State.Stage == stageTriageAsk {
					f.asked++
				} else if !urgent {
					f.misses = append(f.misses, fmt.Sprintf("not asked %s (%s): %q → %q", c.Kind, c.Lang, c.Text, clip(out.Text, 60)))
				}
			case "now":
				f.nows++
				if out.State.Stage == stageTriageNow {
					f.nowAsked++
				} else if !urgent {
					f.misses = append(f.misses, fmt.Sprintf("no 'happening now?' %s (%s): %q → %q", c.Kind, c.Lang, c.Text, clip(out.Text, 60)))
				}
			}
		}
	}
	sort.Strings(f.misses)
	return f
}

// numbersInOrder reports whether text gives every number, the first one
// before the others.
func numbersInOrder(text string, numbers []string) bool {
	first := strings.Index(text, numbers[0])
	if first < 0 {
		return false
	}
	for _, n := range numbers[1:] {
		if i := strings.Index(text, n); i < 0 || i < first {
			return false
		}
	}
	return true
}

func (f evalFigures) report(t *testing.T, name string, n int) {
	t.Logf("%s: %d phrasings", name, n)
	t.Logf("  red flags caught (emergency guidance and urgent handoff in the first reply): %d/%d (%.1f%%)", f.caught, f.emergencies, pct(f.caught, f.emergencies))
	t.Logf("  right number first (911, 988, Poison Control): %d/%d", f.rightNumber, f.caught)
	t.Logf("  false emergencies on non-emergencies: %d/%d (%.1f%%)", f.falseAlarms, f.benign, pct(f.falseAlarms, f.benign))
	t.Logf("  complaints asked their emergency questions: %d/%d; 'is this happening now?' asked: %d/%d", f.asked, f.asks, f.nowAsked, f.nows)
	t.Logf("  phrasings naming a symptom answered 'I didn't understand': %d", f.notUnderstood)
	for _, m := range f.misses {
		t.Logf("  - %s", m)
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// TestTriageDevelopmentSet holds the rules to the development sets
// (dev*.yaml): every red flag caught with the right number first, at most
// 3% false emergencies, and no phrasing that names a symptom answered "I
// didn't understand".
func TestTriageDevelopmentSet(t *testing.T) {
	names, err := filepath.Glob("../triage/testdata/eval/dev*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no development set: %v", err)
	}
	var cases []evalCase
	for _, n := range names {
		cases = append(cases, loadEval(t, filepath.Base(n))...)
	}
	f := evaluate(t, cases)
	f.report(t, "development set", len(cases))
	spanish := 0
	for _, c := range cases {
		if c.Lang == "es" {
			spanish++
		}
	}
	if len(cases) < 400 || 3*spanish < len(cases) || f.benign < 150 {
		t.Errorf("the development set has %d phrasings (%d Spanish, %d non-emergencies); want 400, a third Spanish, 150", len(cases), spanish, f.benign)
	}
	if f.caught != f.emergencies || f.rightNumber != f.caught {
		t.Errorf("red flags: %d/%d caught, %d with the right number first; want all", f.caught, f.emergencies, f.rightNumber)
	}
	if pct(f.falseAlarms, f.benign) > 3 {
		t.Errorf("false emergencies: %d/%d (%.1f%%), want 3%% or fewer", f.falseAlarms, f.benign, pct(f.falseAlarms, f.benign))
	}
	if f.notUnderstood > 0 {
		t.Errorf("%d phrasings answered 'I didn't understand'", f.notUnderstood)
	}
}

// TestTriageHeldOutSet reports the held-out sets' figures; they are never
// tuned on, so their figures are not held to a bar (docs/bot.md records
// them). It fails only if a set is not what it should be.
func TestTriageHeldOutSet(t *testing.T) {
	for _, set := range []struct {
		name string
		min  int
	}{{"heldout.yaml", 150}, {"heldout2.yaml", 80}, {"heldout3.yaml", 250}, {"heldout4.yaml", 250}} {
		cases := loadEval(t, set.name)
		f := evaluate(t, cases)
		f.report(t, set.name, len(cases))
		if len(cases) < set.min || f.emergencies == 0 || f.benign == 0 {
			t.Errorf("%s has %d phrasings (%d emergencies, %d others); want %d with both", set.name, len(cases), f.emergencies, f.benign, set.min)
		}
	}
}
