package triage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/words"
)

// testCase is one message of testdata/cases.yaml and what it must give.
type testCase struct {
	Text  string   `yaml:"text"`
	Level string   `yaml:"level"` // "none" for LevelNone
	Flags []string `yaml:"flags"` // the red flags, most severe first
	Rules []string `yaml:"rules"` // rule ids that must be among Result.Matched
	Check []string `yaml:"check"` // the red flags to ask "is this happening now?" about
	Ask   string   `yaml:"ask"`   // the complaint whose questions are asked
	Note  string   `yaml:"note"`
}

type caseFile struct {
	RedFlags     map[string][]testCase `yaml:"red_flags"`
	Conservative []testCase            `yaml:"conservative"`
	Levels       []testCase            `yaml:"levels"`
	None         []string              `yaml:"none"`
	Context      []testCase            `yaml:"context"`
	Denials      []string              `yaml:"denials"`
	Asks         []testCase            `yaml:"asks"`
}

// engine loads the embedded rules.
func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// loadCases reads testdata/cases.yaml.
func loadCases(t *testing.T) caseFile {
	t.Helper()
	data, err := os.ReadFile("testdata/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f caseFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

// devCoverage counts, per red flag, the emergency phrasings of the
// development sets (testdata/eval/dev*.yaml) that give it.
func devCoverage(t *testing.T, e *Engine) map[string]int {
	t.Helper()
	names, err := filepath.Glob("testdata/eval/dev*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no development set: %v", err)
	}
	n := map[string]int{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Cases []struct {
				Text   string `yaml:"text"`
				Expect string `yaml:"expect"`
			} `yaml:"cases"`
		}
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Cases {
			if c.Expect == "emergency" {
				for _, fl := range e.Assess(c.Text).RedFlags {
					n[fl.ID]++
				}
			}
		}
	}
	return n
}

// minCasesPerRedFlag is how many messages each red flag is tested with, in
// testdata/cases.yaml and the development set together.
const minCasesPerRedFlag = 12

// TestCases runs every case of testdata/cases.yaml and logs how many cases
// each red flag has (go test -v).
func TestCases(t *testing.T) {
	e := engine(t)
	f := loadCases(t)
	dev := devCoverage(t, e)
	for _, id := range e.RedFlagIDs() {
		cases := f.RedFlags[id]
		t.Logf("red flag %-26s %d cases, %d development-set phrasings", id, len(cases), dev[id])
		if len(cases)+dev[id] < minCasesPerRedFlag {
			t.Errorf("red flag %s has %d cases and %d development-set phrasings, want %d or more", id, len(cases), dev[id], minCasesPerRedFlag)
		}
		for _, c := range cases {
			c.Level = string(LevelEmergency)
			if c.Flags == nil {
				c.Flags = []string{id}
			}
			check(t, e, "red_flags."+id, c)
		}
	}
	for id := range f.RedFlags {
		if !slices.Contains(e.RedFlagIDs(), id) {
			t.Errorf("cases for unknown red flag %s", id)
		}
	}
	for _, c := range f.Conservative {
		c.Level = string(LevelEmergency)
		check(t, e, "conservative", c)
	}
	for _, c := range f.Levels {
		check(t, e, "levels", c)
	}
	for _, text := range f.None {
		check(t, e, "none", testCase{Text: text, Level: "none"})
	}
	for _, c := range f.Context {
		r := e.Assess(c.Text)
		if got := flagIDs(r.Check); len(r.RedFlags) > 0 || r.Ask != nil || !slices.Equal(got, c.Check) {
			t.Errorf("context: %q: red flags %v, ask %v, check %v, want check %v", c.Text, flagIDs(r.RedFlags), r.Ask, got, c.Check)
		}
	}
	for _, text := range f.Denials {
		if r := e.Assess(text); len(r.RedFlags) > 0 || !r.CrisisMention {
			t.Errorf("denials: %q: red flags %v, crisis mention %v", text, flagIDs(r.RedFlags), r.CrisisMention)
		}
	}
	for _, c := range f.Asks {
		r := e.Assess(c.Text)
		if len(r.RedFlags) > 0 || r.Ask == nil || r.Ask.ID != c.Ask {
			t.Errorf("asks: %q: red flags %v, ask %+v, want %s", c.Text, flagIDs(r.RedFlags), r.Ask, c.Ask)
		}
	}
	t.Logf("%d conservative, %d level, %d non-symptom, %d context, %d denial and %d ask cases",
		len(f.Conservative), len(f.Levels), len(f.None), len(f.Context), len(f.Denials), len(f.Asks))
}

// flagIDs returns the ids of red flags.
func flagIDs(flags []RedFlag) []string {
	var ids []string
	for _, f := range flags {
		ids = append(ids, f.ID)
	}
	return ids
}

// check assesses a case and reports a mismatch.
func check(t *testing.T, e *Engine, section string, c testCase) {
	t.Helper()
	want := Level(c.Level)
	if c.Level == "none" {
		want = LevelNone
	}
	r := e.Assess(c.Text)
	var flags []string
	for _, f := range r.RedFlags {
		flags = append(flags, f.ID)
	}
	switch {
	case r.Level != want:
		t.Errorf("%s: %q: level %q, want %q (matched %v)", section, c.Text, r.Level, want, r.Matched)
	case want == LevelEmergency && !slices.Equal(flags, c.Flags):
		t.Errorf("%s: %q: red flags %v, want %v", section, c.Text, flags, c.Flags)
	}
	for _, id := range c.Rules {
		if !slices.Contains(r.Matched, id) {
			t.Errorf("%s: %q: rule %s did not match (matched %v)", section, c.Text, id, r.Matched)
		}
	}
}

// TestResultInvariants checks what every result promises on the case texts.
func TestResultInvariants(t *testing.T) {
	e := engine(t)
	f := loadCases(t)
	var texts []string
	for _, cs := range f.RedFlags {
		for _, c := range cs {
			texts = append(texts, c.Text)
		}
	}
	for _, c := range append(f.Conservative, f.Levels...) {
		texts = append(texts, c.Text)
	}
	texts = append(texts, f.None...)
	ids := ruleIDs(e)
	for _, text := range texts {
		checkInvariants(t, e, ids, text)
	}
}

// checkInvariants checks what the result of any text promises; ids are the
// engine's rule ids.
func checkInvariants(t testing.TB, e *Engine, ids []string, text string) {
	t.Helper()
	r := e.Assess(text)
	switch r.Level {
	case LevelNone, LevelEmergency, LevelNurseLine, LevelBookVisit, LevelSelfCare:
	default:
		t.Fatalf("%q: invalid level %q", text, r.Level)
	}
	if (r.Level == LevelEmergency) != (len(r.RedFlags) > 0) {
		t.Fatalf("%q: level %q with red flags %v", text, r.Level, r.RedFlags)
	}
	if (r.Level == LevelNone) != (len(r.Matched) == 0) {
		t.Fatalf("%q: level %q with matched %v", text, r.Level, r.Matched)
	}
	for _, id := range r.Matched {
		if !slices.Contains(ids, id) {
			t.Fatalf("%q: matched %q is not a rule id", text, id)
		}
	}
	g := e.Guidance(r, "en")
	if es := e.Guidance(r, "es"); (r.Level == LevelNone) != (g == "") || (g == "") != (es == "") {
		t.Fatalf("%q: level %q with guidance %q / %q", text, r.Level, g, es)
	}
	if r.Level == LevelEmergency && !strings.Contains(g, "911") && !strings.Contains(g, "988") {
		t.Fatalf("%q: emergency guidance without a hotline: %q", text, g)
	}
}

// ruleIDs returns the ids of every rule, red flags first.
func ruleIDs(e *Engine) []string {
	ids := e.RedFlagIDs()
	for _, lv := range e.levels {
		for _, r := range lv.rules {
			ids = append(ids, r.id)
		}
	}
	for _, c := range e.complaints {
		ids = append(ids, c.id)
	}
	return ids
}

func TestSeverityOrder(t *testing.T) {
	e := engine(t)
	r := e.Assess("I can't breathe and I have chest pain and I passed out")
	var ids []string
	for _, f := range r.RedFlags {
		ids = append(ids, f.ID)
	}
	// Unresponsive first, then breathing, then circulation (the order of
	// first aid: the dispatcher's instructions come first).
	want := []string{"unresponsive_or_seizure", "trouble_breathing", "chest_pain"}
	if !slices.Equal(ids, want) {
		t.Fatalf("red flags %v, want %v (list order of rules.yaml)", ids, want)
	}
	if r.Matched[0] != "unresponsive_or_seizure" || r.RedFlags[0].Name == "" || r.RedFlags[0].Hotline != "911" {
		t.Fatalf("result %+v", r)
	}
}

func TestNegationStaysInItsClause(t *testing.T) {
	e := engine(t)
	for text, want := range map[string]Level{
		"I don't have chest pain":                   LevelNone,
		"no chest pain, but I can't breathe":        LevelEmergency,
		"no chest pain but chest pressure":          LevelEmergency,
		"no fever. Chest pain":                      LevelEmergency,
		"no tengo fiebre pero me duele el pecho":    LevelEmergency,
		"no fever; however I have crushing pain":    LevelEmergency,
		"not sure, chest pain":                      LevelEmergency,
		"I have chest pain, no fever":               LevelEmergency,
		"no, I have chest pain":                     LevelEmergency,
		"no\nchest pain":                            LevelEmergency,
		"no really really really chest pain at all": LevelEmergency, // the cue is 4 words before
	} {
		if got := e.Assess(text).Level; got != want {
			t.Errorf("%q: level %q, want %q", text, got, want)
		}
	}
}

func TestRedFlagGuidance(t *testing.T) {
	e := engine(t)
	mustSay := map[string][]string{ // the chat is not for emergencies; a person is alerted
		"en": {"not for emergencies", "alerting a member of our care team"},
		"es": {"no es para emergencias", "avisando ahora mismo a una persona"},
	}
	for _, f := range e.redFlags {
		r := Result{Level: LevelEmergency, RedFlags: []RedFlag{f.flag}, Matched: []string{f.flag.ID}}
		for _, locale := range []string{"en", "es"} {
			g := e.Guidance(r, locale)
			if !strings.Contains(g, f.flag.Hotline) {
				t.Errorf("%s guidance (%s) lacks %s: %q", f.flag.ID, locale, f.flag.Hotline, g)
			}
			if !strings.Contains(g, "911") {
				t.Errorf("%s guidance (%s) lacks 911: %q", f.flag.ID, locale, g)
			}
			if sentences := strings.Count(g, ". ") + 1; sentences > 3 {
				t.Errorf("%s guidance (%s) has %d sentences: keep it short", f.flag.ID, locale, sentences)
			}
			if first, _, _ := strings.Cut(g, ". "); !strings.Contains(first, f.flag.Hotline) {
				t.Errorf("%s guidance (%s): the first sentence must give %s: %q", f.flag.ID, locale, f.flag.Hotline, first)
			}
			for _, w := range mustSay[locale] {
				if !strings.Contains(g, w) {
					t.Errorf("%s guidance (%s) lacks %q: %q", f.flag.ID, locale, w, g)
				}
			}
		}
	}
	crisis := e.Assess("I want to kill myself")
	if crisis.RedFlags[0].Hotline != "988" {
		t.Fatalf("crisis flag hotline %q", crisis.RedFlags[0].Hotline)
	}
	for _, locale := range []string{"en", "es"} {
		if g := e.Guidance(crisis, locale); !strings.Contains(g, "988") {
			t.Errorf("crisis guidance (%s) lacks 988: %q", locale, g)
		}
	}
}

func TestCombinedGuidanceMentions911And988(t *testing.T) {
	e := engine(t)
	for _, text := range []string{
		"I took too many pills because I want to die",
		"I want to kill myself and I can't breathe",
		"tomé demasiadas pastillas, quiero morir",
	} {
		r := e.Assess(text)
		if r.Level != LevelEmergency || len(r.RedFlags) < 2 || r.RedFlags[0].Hotline != "911" {
			t.Fatalf("%q: %+v", text, r)
		}
		for _, locale := range []string{"en", "es"} {
			g := e.Guidance(r, locale)
			if !strings.Contains(g, "911") || !strings.Contains(g, "988") {
				t.Errorf("%q (%s): guidance lacks 911 or 988: %q", text, locale, g)
			}
			if strings.Index(g, "911") > strings.Index(g, "988") {
				t.Errorf("%q (%s): 911 should come first: %q", text, locale, g)
			}
		}
	}
}

func TestGuidanceLocaleAndLevels(t *testing.T) {
	e := engine(t)
	r := e.Assess("I have crushing chest pain")
	en, es := e.Guidance(r, "en"), e.Guidance(r, "es")
	if en == es || !strings.Contains(es, "Llame") {
		t.Fatalf("en %q, es %q", en, es)
	}
	for _, locale := range []string{"", "fr", "EN"} {
		if g := e.Guidance(r, locale); g != en {
			t.Errorf("locale %q: %q, want English", locale, g)
		}
	}
	if g := e.Guidance(r, "es-US"); g != es {
		t.Errorf("locale es-US: %q, want Spanish", g)
	}
	for _, lv := range levelOrder() {
		for _, locale := range []string{"en", "es"} {
			g := e.Guidance(Result{Level: lv}, locale)
			if g == "" || !strings.Contains(g, "911") {
				t.Errorf("%s advice (%s) must say to call 911 if it gets worse: %q", lv, locale, g)
			}
		}
	}
	if g := e.Guidance(Result{}, "en"); g != "" {
		t.Errorf("LevelNone guidance %q", g)
	}
	if g := e.Guidance(Result{Level: "unknown"}, "en"); g != "" {
		t.Errorf("unknown level guidance %q", g)
	}
	// An emergency never goes without guidance, even with flags this engine
	// does not know.
	if g := e.Guidance(Result{Level: LevelEmergency, RedFlags: []RedFlag{{ID: "gone"}}}, "en"); !strings.Contains(g, "911") {
		t.Errorf("emergency fallback guidance %q", g)
	}
}

// diagnosisWords are phrases that would name or suggest a diagnosis. They
// are checked on the normalised text (accents folded).
var diagnosisWords = []string{
	"you have", "youve got", "you are having", "youre having", "diagnos", "sounds like", "probably", "likely",
	"you may have", "you might have", "could be a", "usted tiene", "tiene usted", "parece que tiene",
	"probablemente", "puede que tenga", "podria tener", "se trata de", "es un caso de",
}

func TestNoDiagnosisInAnyText(t *testing.T) {
	e := engine(t)
	texts := map[string]string{"crisis_line.en": e.crisisLine.EN, "crisis_line.es": e.crisisLine.ES}
	for _, f := range e.redFlags {
		texts[f.flag.ID+".en"], texts[f.flag.ID+".es"] = f.guidance.EN, f.guidance.ES
	}
	for _, lv := range e.levels {
		texts[string(lv.level)+".en"], texts[string(lv.level)+".es"] = lv.advice.EN, lv.advice.ES
	}
	for where, text := range texts {
		norm := " " + strings.Join(words.Split(text), " ") + " "
		for _, w := range diagnosisWords {
			if strings.Contains(norm, " "+w) {
				t.Errorf("%s contains %q: %q", where, w, text)
			}
		}
	}
}

func TestLoadReviewPending(t *testing.T) {
	f, err := decode(rulesYAML)
	if err != nil {
		t.Fatal(err)
	}
	if f.Review.Status == "" || f.Version < 1 {
		t.Fatalf("review %+v version %d", f.Review, f.Version)
	}
	if f.Review.Reviewer == "" && f.Review.Date != "" || f.Review.Reviewer != "" && f.Review.Date == "" {
		t.Fatalf("review needs both reviewer and date, or neither: %+v", f.Review)
	}
}

const validRules = `
version: 2
review: {status: pending, note: "", reviewer: "", date: ""}
window: 10
crisis_line: {en: "Call or text 988.", es: "Llame o envíe un texto al 988."}
poison_line: {en: "Poison Control: 1-800-222-1222.", es: "Poison Control: 1-800-222-1222."}
now_question: {en: "Is it now? If so call 911.", es: "¿Es ahora? Si es así llame al 911."}
context:
  neutral: {en: [chest cold], es: [resfriado de pecho]}
  recent: {en: [today], es: [hoy]}
  now: {en: [now], es: [ahora]}
  reported: {past: {en: [years ago], es: [hace anos]}}
  service: {en: [clinic], es: [clinica]}
  names: {en: [chest pain, chest, pain], es: [dolor de pecho, pecho, dolor]}
  had: {en: [had], es: [tuvo]}
concepts:
  chest: {en: [chest], es: [pecho]}
  pain: {en: [pain, hurts], es: [dolor, duele]}
  head: {en: [head], es: [cabeza]}
  hit: {en: [hit, bumped], es: [golpe]}
  vomit: {en: [vomiting], es: [vomito]}
red_flags:
  - id: chest_pain
    name: Chest pain
    hotline: "911"
    source: "AHA warning signs"
    guidance: {en: "Call 911 now.", es: "Llame al 911 ahora."}
    phrases: {en: [chest pain], es: [dolor de pecho]}
    when:
      - [chest, pain]
  - id: head_danger
    name: Head injury with vomiting
    hotline: "911"
    source: "NICE CG176"
    guidance: {en: "Call 911 now.", es: "Llame al 911 ahora."}
    when:
      - [head, hit, vomit]
  - id: poisoning
    name: Poisoning
    hotline: "911"
    poison: true
    source: "Poison Help"
    guidance: {en: "Call 911 now, or 1-800-222-1222.", es: "Llame al 911 ahora, o al 1-800-222-1222."}
    phrases: {en: [swallowed bleach], es: [trago cloro]}
  - id: crisis
    name: Crisis
    hotline: "988"
    negation_window: 2
    source: "C-SSRS"
    guidance: {en: "Call or text 988, or 911.", es: "Llame o envíe un texto al 988, o al 911."}
    phrases: {en: [suicidal], es: [suicida]}
complaints:
  - id: ask_head
    name: Head injury
    flag: head_danger
    source: "NICE CG176"
    yes: [vomit]
    when:
      - [head, hit]
    ask: {en: "If vomiting, call 911. Any?", es: "Si vomita, llame al 911. ¿Alguno?"}
levels:
  nurse_line:
    advice: {en: "Call a nurse; 911 if worse.", es: "Llame a una enfermera; 911 si empeora."}
    rules:
      - id: fever_in_baby
        all_of:
          - {en: [baby], es: [bebe]}
          - {en: [fever], es: [fiebre]}
  book_visit:
    advice: {en: "Book a visit; 911 if worse.", es: "Pida una cita; 911 si empeora."}
    rules: [{id: rash, phrases: {en: [rash], es: [sarpullido]}}]
  self_care:
    advice: {en: "Rest; 911 if worse.", es: "Descanse; 911 si empeora."}
    rules: [{id: cold, phrases: {en: [runny nose], es: [mocos]}}]
`

func TestParseValid(t *testing.T) {
	e, err := Parse([]byte(validRules))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Assess("my baby has a fever"); r.Level != LevelNurseLine || !slices.Equal(r.Matched, []string{"fever_in_baby"}) {
		t.Fatalf("all_of: %+v", r)
	}
	if r := e.Assess("my baby is fine, no fever"); r.Level != LevelNone {
		t.Fatalf("negated all_of group: %+v", r)
	}
	if r := e.Assess("I'm not suicidal"); r.Level != LevelNone || !r.CrisisMention {
		t.Fatalf("a denied crisis: %+v", r)
	}
	if r := e.Assess("I don't think I'm still suicidal"); r.Level != LevelEmergency {
		t.Fatalf("a denial 3 words before a crisis word (its window is 2): %+v", r)
	}
	if r := e.Assess("not chest pain"); r.Level != LevelNone {
		t.Fatalf("negation: %+v", r)
	}
	for text, want := range map[string][]string{
		"my chest really hurts":                 {"chest_pain"},  // a when line
		"no pain in my chest":                   nil,             // negated
		"I have a chest cold and my knee hurts": nil,             // neutral: the chest of a chest cold is not a chest
		"he swallowed bleach":                   {"poisoning"},   // Poison Control
		"hit my head today and keep vomiting":   {"head_danger"}, // three concepts in one sentence
		"hit my head. vomiting":                 nil,             // not in one sentence
		"chest pain years ago":                  nil,             // reported, not happening now
		"chest pain years ago and again today":  {"chest_pain"},  // a recent marker wins in its clause
		"the chest pain clinic":                 nil,             // a service's name
	} {
		if got := flagIDs(e.Assess(text).RedFlags); !slices.Equal(got, want) {
			t.Errorf("%q: red flags %v, want %v", text, got, want)
		}
	}
	if r := e.Assess("chest pain years ago"); len(r.Check) != 1 || r.Check[0].ID != "chest_pain" {
		t.Errorf("a reported red flag is checked: %+v", r)
	}
	r := e.Assess("I bumped my head")
	if r.Ask == nil || r.Ask.ID != "ask_head" || r.Ask.Flag != "head_danger" || r.Level != LevelNurseLine || !strings.HasPrefix(e.Question(*r.Ask, "en"), "If vomiting") {
		t.Fatalf("a complaint: %+v", r)
	}
	if !e.Confirms("ask_head", "no but now vomiting") || e.Confirms("ask_head", "no vomiting") {
		t.Error("an answer that names the complaint's sign confirms it; a negated one does not")
	}
	if g := e.Guidance(Result{Level: LevelEmergency, RedFlags: []RedFlag{{ID: "poisoning"}}}, "es"); !strings.Contains(g, PoisonControl) {
		t.Errorf("poison guidance %q", g)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"missing hotline", `hotline: "911"`, ``, "hotline"},
		{"other hotline", `hotline: "911"`, `hotline: "112"`, "hotline"},
		{"missing Spanish phrases", `phrases: {en: [chest pain], es: [dolor de pecho]}`, `phrases: {en: [chest pain]}`, "es phrases"},
		{"missing Spanish in an all_of group", `{en: [fever], es: [fiebre]}`, `{en: [fever]}`, "es phrases"},
		{"missing Spanish in a concept", `chest: {en: [chest], es: [pecho]}`, `chest: {en: [chest]}`, "es phrases"},
		{"unknown field", `negation_window: 2`, `negation_windows: 2`, "negation_windows"},
		{"unknown level", `  book_visit:`, `  urgent_care:`, "urgent_care"},
		{"missing id", `id: rash,`, ``, "id"},
		{"duplicate id", `id: rash,`, `id: cold,`, "used twice"},
		{"no phrases", `phrases: {en: [suicidal], es: [suicida]}`, ``, "phrases, all_of or when"},
		{"missing source", `source: "AHA warning signs"`, ``, "source is required"},
		{"unknown concept", `- [chest, pain]`, `- [chest, ache]`, `"ache" is not a concept`},
		{"unused concept", `- [chest, pain]`, `- [pain]`, "concepts.chest: no rule uses it"},
		{"complaint of an unknown flag", `flag: head_danger`, `flag: head_trauma`, "not a red flag"},
		{"ask without the flag's hotline", `ask: {en: "If vomiting, call 911. Any?"`, `ask: {en: "If vomiting, call. Any?"`, "mention 911"},
		{"poison guidance without Poison Control", `en: "Call 911 now, or 1-800-222-1222."`, `en: "Call 911 now."`, "mention 1-800-222-1222"},
		{"guidance without its hotline", `es: "Llame al 911 ahora."`, `es: "Llame ahora."`, "mention 911"},
		{"crisis guidance without 911", `es: "Llame o envíe un texto al 988, o al 911."`, `es: "Llame al 988."`, "mention 911"},
		{"missing guidance", `guidance: {en: "Call 911 now.", es: "Llame al 911 ahora."}`, ``, "text is required"},
		{"advice without 911", `es: "Descanse; 911 si empeora."`, `es: "Descanse."`, "mention 911"},
		{"now question without 911", `If so call 911.`, `If so call.`, "now_question: en text must mention 911"},
		{"missing name", `name: Chest pain`, ``, "name"},
		{"phrase with a clause mark", `[runny nose]`, `["runny, nose"]`, "clause mark"},
		{"phrase with a clause word", `[runny nose]`, `[runny but nose]`, "clause word"},
		{"phrase in two rules", `[runny nose]`, `[rash]`, "also a phrase"},
		{"single all_of group", "          - {en: [fever], es: [fiebre]}\n", "", "two groups"},
		{"no review status", `status: pending,`, ``, "review.status"},
		{"no window", `window: 10`, ``, "window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validRules, tc.old) {
				t.Fatalf("test setup: %q not in validRules", tc.old)
			}
			_, err := Parse([]byte(strings.Replace(validRules, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte("red_flags: [")); err == nil {
		t.Fatal("malformed YAML parsed")
	}
}

func TestConcurrentAssess(t *testing.T) {
	e := engine(t)
	done := make(chan Result)
	for range 8 {
		go func() { done <- e.Assess("I have crushing chest pain and I can't breathe") }()
	}
	for range 8 {
		if r := <-done; len(r.RedFlags) != 2 {
			t.Errorf("concurrent result %+v", r)
		}
	}
}

// TestReviewTableListsEveryRule keeps docs/bot.md's clinical-review table
// true: every red flag and complaint is there with its source.
func TestReviewTableListsEveryRule(t *testing.T) {
	e := engine(t)
	doc, err := os.ReadFile("../../docs/bot.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, f := range e.redFlags {
		if !strings.Contains(text, "| `"+f.flag.ID+"` — "+f.flag.Name+" |") || !strings.Contains(text, f.source) {
			t.Errorf("docs/bot.md's review table lacks red flag %s or its source", f.flag.ID)
		}
	}
	for _, c := range e.complaints {
		if !strings.Contains(text, "| `"+c.id+"` — "+c.name+" |") || !strings.Contains(text, c.source) {
			t.Errorf("docs/bot.md's review table lacks complaint %s or its source", c.id)
		}
	}
}

// TestReviewedEmergencies holds the present emergencies a review built to
// defeat the context rules (a denial, a service word, "and", a past verb,
// an unless concept next to a real sign): each must escalate.
func TestReviewedEmergencies(t *testing.T) {
	e := engine(t)
	for _, text := range []string{
		"I dont have my inhaler and I cant breathe", "we dont have a car and my husband collapsed", "he doesn't have insurance and he is having a seizure",
		"He doesn't have asthma and he can't breathe", "she has never had a seizure and she is seizing right now",
		"I don't have a history of heart problems and I have crushing chest pain", "I've never had anything like this before and I can't breathe",
		"I haven't had my meds today and now I can't breathe", "I can not get any air and my lips are blue", "no tengo mi inhalador y no puedo respirar",
		"no hay nadie en casa y mi mama no respira", "mi hijo nunca ha tenido convulsiones y ahorita esta convulsionando",
		"I don't have anyone and I want to kill myself", "no tengo a nadie y me quiero matar", "no siento el brazo izquierdo",
		"no siento el lado izquierdo de la cara", "no siento mi brazo izquierdo y tengo dolor en el pecho", "No he can't breathe", "no he is not breathing",
		"started cpr he isnt breathing", "doing cpr not breathing", "after his vaccine he cant breathe", "despues de la vacuna no puede respirar",
		"le pusieron la vacuna y se esta ahogando", "crushing pain in center of chest", "me aprieta en el centro del pecho", "my son overdosed on medication",
		"he collapsed at clinic", "my teacher collapsed in class", "I got shot at the park", "he was shot at work", "me va a matar mi esposo, tiene un cuchillo",
		"not eating and cant breathe", "no fever and chest pain",
		"I have asthma and crushing chest pain going down my left arm and I'm sweating", "tengo asma y un dolor de pecho muy fuerte que me baja al brazo izquierdo",
		"crushing chest pain going into my jaw, sweating, worse when I take a deep breath", "I just tried to hang myself", "I have symptoms of a heart attack",
		"he's showing signs of a stroke", "mi papa tiene sintomas de infarto", "should I take him to the ER he collapsed and isnt breathing",
		"my son was doing homework and suddenly collapsed", "the pain in my chest goes to my back in waves", "a los 10 minutos empezo a convulsionar",
		"cuando me dio el dolor de pecho no podia respirar",
	} {
		if r := e.Assess(text); r.Level != LevelEmergency {
			t.Errorf("%q: level %q, ask %v, check %v: want an emergency", text, r.Level, r.Ask, flagIDs(r.Check))
		}
	}
}

// TestEveryRedFlagGuidanceSaysTheTeamIsAlerted: the bot hands every red
// flag off urgently and, with the guidance, says nothing more; so each
// guidance, in both languages, must tell the patient a person of the care
// team is being alerted.
func TestEveryRedFlagGuidanceSaysTheTeamIsAlerted(t *testing.T) {
	e := engine(t)
	for _, id := range e.RedFlagIDs() {
		r, ok := e.Emergency(id)
		if !ok {
			t.Fatalf("red flag %s gives no emergency", id)
		}
		for locale, says := range map[string]string{"en": "alerting a member of our care team", "es": "una persona de nuestro equipo de atención"} {
			if g := e.Guidance(r, locale); !strings.Contains(g, says) {
				t.Errorf("%s guidance (%s) does not say the team is alerted: %q", id, locale, g)
			}
		}
	}
}

// TestFlagWindow: a red flag's own window replaces the file's for its
// lines, so a long story's blow and, far later, its vomiting are one line.
func TestFlagWindow(t *testing.T) {
	story := "I hit my head on the shelf at work this morning and then I drove home and made lunch and watched a show and now I am vomiting"
	e, err := Parse([]byte(validRules))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Assess(story); slices.Contains(r.Matched, "head_danger") {
		t.Fatalf("the file's window of 10 matched words 20 apart: %+v", r)
	}
	wide := strings.Replace(validRules, "    source: \"NICE CG176\"\n", "    source: \"NICE CG176\"\n    window: 30\n", 1)
	if e, err = Parse([]byte(wide)); err != nil {
		t.Fatal(err)
	}
	if r := e.Assess(story); !slices.Contains(r.Matched, "head_danger") {
		t.Fatalf("a flag window of 30 did not match words 20 apart: %+v", r)
	}
	if r := e.Assess("I hit my head. Now I am vomiting"); slices.Contains(r.Matched, "head_danger") {
		t.Fatalf("a flag window reached into another sentence: %+v", r)
	}
	if _, err := Parse([]byte(strings.Replace(wide, "window: 30", "window: -1", 1))); err == nil {
		t.Fatal("a negative flag window was accepted")
	}
}

// TestADeniedCrisisInAnEmergencyStillGetsTheCrisisLine: a message that
// denies a crisis and then reports an emergency ("I'm not suicidal...
// well, actually I took all my pills") gets the emergency's numbers first
// and the crisis line after them.
func TestADeniedCrisisInAnEmergencyStillGetsTheCrisisLine(t *testing.T) {
	e := engine(t)
	for _, tc := range []struct{ text, locale string }{
		{"I'm not suicidal... well, actually I took all my pills about an hour ago", "en"},
		{"no quiero matarme, pero me tomé todo el frasco de pastillas hace un rato", "es"},
	} {
		r := e.Assess(tc.text)
		g := e.Guidance(r, tc.locale)
		i911, iPoison, i988 := strings.Index(g, "911"), strings.Index(g, PoisonControl), strings.Index(g, "988")
		if r.Level != LevelEmergency || i911 < 0 || iPoison < i911 || i988 < iPoison {
			t.Errorf("%q: level %s, guidance %q; want 911, then Poison Control, then 988", tc.text, r.Level, g)
		}
	}
	if g := e.Guidance(e.Assess("I have crushing chest pain"), "en"); strings.Contains(g, "988") {
		t.Errorf("an emergency with no crisis mention: %q, want no crisis line", g)
	}
}
