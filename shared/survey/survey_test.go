package survey

import (
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

func lexicon(t *testing.T) *Lexicon {
	t.Helper()
	l, err := LoadLexicon()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSentiment(t *testing.T) {
	l := lexicon(t)
	for _, tc := range []struct {
		text string
		want int // -1 negative, 0 neutral, 1 positive
	}{
		{"The agent was very helpful and kind, thank you!", 1},
		{"Great service, quick and easy.", 1},
		{"Excelente servicio, muy amable.", 1},
		{"Todo fue rápido y fácil, gracias", 1},
		{"No problem at all, it was resolved", 1},
		{"The agent was rude and I waited forever", -1},
		{"Terrible. Nobody called me back.", -1},
		{"It was not helpful at all", -1},
		{"not resolved, a waste of time", -1},
		{"La espera fue muy larga y la persona fue grosera", -1},
		{"No me ayudaron, pésimo servicio", -1},
		{"I was frustrated and disappointed", -1},
		{"The doctor didn't explain anything, very confusing", -1},
		{"I called on Tuesday about my bill", 0},
		{"", 0},
		{"ok", 0},
	} {
		got := l.Score(tc.text)
		sign := 0
		if got > 0 {
			sign = 1
		} else if got < 0 {
			sign = -1
		}
		if sign != tc.want || got < -1 || got > 1 {
			t.Errorf("%q scored %.2f, want sign %d", tc.text, got, tc.want)
		}
	}
	if a, b := l.Score("rude"), l.Score("very rude"); b >= a {
		t.Errorf("an intensifier did not strengthen: rude %.2f, very rude %.2f", a, b)
	}
}

func FuzzSentiment(f *testing.F) {
	l, _ := LoadLexicon()
	for _, s := range []string{"not not good", "very very", "no", "n't", "waste of", "nunca más"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v := l.Score(s); v < -1 || v > 1 || v != v {
			t.Fatalf("%q scored %v", s, v)
		}
	})
}

func TestConfigAndAnswers(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != 14*24*time.Hour || c.OpenFor != 7*24*time.Hour || !c.SkipRedFlags || c.LowScore != 2 {
		t.Fatalf("config = %+v", c)
	}
	for _, bad := range []struct{ yaml, want string }{
		{strings.Replace(string(surveysYAML), "window: 336h", "window: soon", 1), "window"},
		{strings.Replace(string(surveysYAML), "lowScore: 2", "lowScore: 9", 1), "lowScore"},
		{strings.Replace(string(surveysYAML), "min: 0\n        max: 10", "min: 0\n        max: 5", 1), "nps"},
		{strings.Replace(string(surveysYAML), "      - id: csat\n        type: scale\n        min: 1\n        max: 5\n        required: true", "      - id: csat\n        type: scale\n        min: 1\n        max: 10\n        required: true", 1), "csat"},
	} {
		if _, err := ParseConfig([]byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("a config with a bad %s: %v", bad.want, err)
		}
	}
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	if _, why := c.New(Source{Kind: Conversation, ID: "c1", RedFlag: true}, now); why != "red flag" {
		t.Fatalf("a red-flag conversation: %q", why)
	}
	s, why := c.New(Source{Kind: Conversation, ID: "c1"}, now)
	if why != "" || s.ID != SurveyID(Conversation, "c1") || s.ID == SurveyID(Visit, "c1") || !s.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("survey = %+v %q", s, why)
	}
	nps := 11
	for _, tc := range []struct {
		a    Answer
		kind Kind
		code fault.Code
	}{
		{Answer{CSAT: 5}, Conversation, ""},
		{Answer{CSAT: 0}, Conversation, fault.BadRequest},
		{Answer{CSAT: 6}, Conversation, fault.BadRequest},
		{Answer{CSAT: 4, NPS: &nps}, Visit, fault.BadRequest},
		{Answer{CSAT: 4, NPS: intPtr(9)}, Visit, ""},
		{Answer{CSAT: 4, NPS: intPtr(9)}, Conversation, fault.BadRequest},
		{Answer{CSAT: 3, Comment: strings.Repeat("x", MaxCommentRunes+1)}, Conversation, fault.TooLarge},
	} {
		if err := c.Check(Survey{Source: Source{Kind: tc.kind}}, tc.a); fault.CodeOf(err) != tc.code {
			t.Errorf("%s answer %+v: %v, want %q", tc.kind, tc.a, err, tc.code)
		}
	}
	for _, tc := range []struct {
		a      Answer
		reason string
	}{
		{Answer{CSAT: 1}, "low score"}, {Answer{CSAT: 2}, "low score"}, {Answer{CSAT: 3}, ""},
		{Answer{CSAT: 4, Sentiment: -0.4}, "negative comment"}, {Answer{CSAT: 5, Sentiment: 0.6}, ""},
	} {
		if reason, _ := c.FollowUp(tc.a); reason != tc.reason {
			t.Errorf("follow-up of %+v: %q, want %q", tc.a, reason, tc.reason)
		}
	}
}

func intPtr(i int) *int { return &i }

func TestFiguresPerAgentQueueAndWeek(t *testing.T) {
	mon := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC) // 2026-W49
	answered := func(csat int) *Answer { return &Answer{CSAT: csat} }
	surveys := []Survey{
		{Source: Source{AgentName: "Ana", Queue: "billing"}, CreatedAt: mon, Answer: answered(5)},
		{Source: Source{AgentName: "Ana", Queue: "billing"}, CreatedAt: mon, Answer: answered(3)},
		{Source: Source{AgentName: "Ana", Queue: "general"}, CreatedAt: mon},
		{Source: Source{AgentName: "Ben", Queue: "general"}, CreatedAt: mon.AddDate(0, 0, 7), Answer: answered(1)},
		{Source: Source{AgentName: "Ben", Queue: "general"}, CreatedAt: mon, Delivery: "none"},
	}
	byAgent := Figures(surveys, func(s Survey) string { return s.AgentName })
	if len(byAgent) != 2 || byAgent[0] != (Figure{Group: "Ana", Sent: 3, Answered: 2, ResponseRate: 2.0 / 3, AverageCSAT: 4}) ||
		byAgent[1] != (Figure{Group: "Ben", Sent: 1, Answered: 1, ResponseRate: 1, AverageCSAT: 1}) {
		t.Fatalf("by agent: %+v", byAgent)
	}
	byWeek := Figures(surveys, func(s Survey) string { return Week(s.CreatedAt) })
	if len(byWeek) != 2 || byWeek[0].Group != "2026-W49" || byWeek[0].Sent != 3 || byWeek[1].Group != "2026-W50" {
		t.Fatalf("by week: %+v", byWeek)
	}
	byQueue := Figures(surveys, func(s Survey) string { return s.Queue })
	if byQueue[1].Group != "general" || byQueue[1].Sent != 2 || byQueue[1].AverageCSAT != 1 {
		t.Fatalf("by queue: %+v", byQueue)
	}
}
