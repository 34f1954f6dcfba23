package bot

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	open   = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC) // Monday 10:00 Eastern
	closed = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC) // Sunday
)

func engine(t *testing.T) *Engine {
	t.Helper()
	e, err := Load(HoursConfig{Timezone: "America/New_York", Weekly: "mon-fri=08:00-18:00,sat=09:00-13:00", Closures: []string{"2026-11-26"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// conversation drives the engine like the bot-turn function does.
type conversation struct {
	t     *testing.T
	e     *Engine
	st    State
	now   time.Time
	topic string
	last  Output
	// online lists the queues someone serves right now; nil: all.
	online  []string
	asked   []string
	booking Booking
}

func start(t *testing.T, locale string, now time.Time) *conversation {
	c := &conversation{t: t, e: engine(t), now: now}
	c.last = c.e.Turn(State{}, Input{Start: true, Locale: locale, Now: now})
	c.st = c.last.State
	return c
}

func (c *conversation) say(text string) Output {
	c.t.Helper()
	in := Input{Text: text, Locale: "en", Topic: c.topic, Now: c.now, Booking: c.booking}
	if c.online != nil {
		in.Staffed = func(q string) bool { c.asked = append(c.asked, q); return slices.Contains(c.online, q) }
	}
	c.last = c.e.Turn(c.st, in)
	c.st = c.last.State
	return c.last
}

func TestGreetingSaysWhatTheBotIsAndIsNot(t *testing.T) {
	for _, tc := range []struct{ locale, want string }{{"en", "not a doctor"}, {"es", "No soy médico"}} {
		c := start(t, tc.locale, open)
		if !strings.Contains(c.last.Text, tc.want) || !strings.Contains(c.last.Text, "911") || len(c.last.QuickReplies) != 2 {
			t.Fatalf("%s greeting = %q %v", tc.locale, c.last.Text, c.last.QuickReplies)
		}
		if c.st.Stage != stageConsent || c.last.Handoff != nil {
			t.Fatalf("after greeting: %+v", c.st)
		}
	}
	if c := start(t, "en", closed); !strings.Contains(c.last.Text, "offline") {
		t.Fatalf("after-hours greeting does not say the team is offline: %q", c.last.Text)
	}
}

func TestRedFlagGetsEmergencyGuidanceFirstAtAnyPoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []string
		text   string
		flag   string
		number string
	}{
		{"before consent", nil, "I have crushing chest pain", "chest_pain", "911"},
		{"after a question", []string{"yes", "what are the visiting hours?"}, "my father's face is drooping and his speech is slurred", "stroke", "911"},
		{"spanish", []string{"sí"}, "tengo dolor de pecho muy fuerte", "chest_pain", "911"},
		{"crisis", []string{"yes"}, "I want to kill myself", "", "988"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, "en", closed) // red flags do not wait for opening hours
			for _, s := range tc.before {
				c.say(s)
			}
			out := c.say(tc.text)
			first := strings.SplitN(out.Text, "\n\n", 2)[0]
			if !strings.Contains(first, tc.number) {
				t.Fatalf("first paragraph %q lacks %s", first, tc.number)
			}
			// The patient is told once that the care team is alerted (the
			// reply used to say it in the guidance and again after it).
			if n := strings.Count(out.Text, "care team") + strings.Count(out.Text, "equipo de atención"); n != 1 {
				t.Fatalf("the reply tells of the care team %d times, want once: %q", n, out.Text)
			}
			h := out.Handoff
			if h == nil || h.Priority != "urgent" || h.Queue != "urgent" || h.Reason != ReasonRedFlag || h.TriageLevel != "emergency" || len(h.RedFlags) == 0 {
				t.Fatalf("handoff = %+v", h)
			}
			if tc.flag != "" && h.RedFlags[0] != tc.flag {
				t.Fatalf("red flags = %v, want %s first", h.RedFlags, tc.flag)
			}
			if !strings.Contains(h.Summary, "Red flags:") || out.State.Stage != stageHandedOff {
				t.Fatalf("summary %q stage %q", h.Summary, out.State.Stage)
			}
		})
	}
}

func TestStartTopicWithRedFlag(t *testing.T) {
	e := engine(t)
	out := e.Turn(State{}, Input{Start: true, Text: "chest pain since this morning", Topic: "chest pain since this morning", Locale: "en", Now: open})
	if out.Handoff == nil || out.Handoff.Priority != "urgent" || !strings.HasPrefix(out.Text, strings.SplitN(out.Text, "\n\n", 2)[0]) || !strings.Contains(strings.SplitN(out.Text, "\n\n", 2)[0], "911") {
		t.Fatalf("start with a red-flag topic: %q %+v", out.Text, out.Handoff)
	}
}

func TestKnowledgeAnswerNamesItsSourceAndAsksIfItHelped(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	out := c.say("What are the visiting hours?")
	if !strings.Contains(out.Text, "Source: ") || out.State.Stage != stageHelpful || out.Handoff != nil || len(out.QuickReplies) != 2 {
		t.Fatalf("knowledge answer = %q %v %+v", out.Text, out.QuickReplies, out.State)
	}
	if out := c.say("No"); !strings.Contains(out.Text, "another way") {
		t.Fatalf("after 'no': %q", out.Text)
	}
	es := start(t, "es", open)
	if out := es.say("¿Dónde puedo estacionar mi carro?"); !strings.Contains(out.Text, "Fuente: ") {
		t.Fatalf("Spanish knowledge answer = %q", out.Text)
	}
}

func TestHandoffOnRequest(t *testing.T) {
	for _, text := range []string{"agent", "I want to talk to a human", "can I speak to someone please", "representative", "quiero hablar con una persona"} {
		c := start(t, "en", open)
		c.say("yes")
		out := c.say(text)
		if out.Handoff == nil || out.Handoff.Reason != ReasonRequested || out.Handoff.Queue != "general" || out.Handoff.Priority != "normal" {
			t.Fatalf("%q: handoff %+v", text, out.Handoff)
		}
	}
	// The topic chosen at start routes the handoff.
	c := start(t, "en", open)
	c.topic = "I have a complaint about my visit"
	if out := c.say("talk to a person"); out.Handoff == nil || out.Handoff.Queue != "patient-relations" {
		t.Fatalf("topic routing: %+v", out.Handoff)
	}
}

func TestDecliningTheBotAfterHoursOffersCallback(t *testing.T) {
	c := start(t, "en", closed)
	out := c.say("no")
	if out.Handoff != nil || !strings.Contains(out.Text, "offline") || len(out.QuickReplies) != 3 {
		t.Fatalf("declined after hours: %q %v %+v", out.Text, out.QuickReplies, out.Handoff)
	}
	c = start(t, "en", open)
	if out := c.say("no"); out.Handoff == nil || out.Handoff.Reason != ReasonDeclinedBot {
		t.Fatalf("declined in hours: %+v", out.Handoff)
	}
}

func TestAfterHoursOffersCallback(t *testing.T) {
	c := start(t, "en", closed)
	c.say("yes")
	out := c.say("talk to a person")
	if out.Handoff != nil || !strings.Contains(out.Text, "offline") || len(out.QuickReplies) != 3 {
		t.Fatalf("after hours: %q %v %+v", out.Text, out.QuickReplies, out.Handoff)
	}
	c.say(out.QuickReplies[0]) // Leave a message
	out = c.say("Please call me at 555-0100 tomorrow morning about my bill")
	if out.Handoff == nil || out.Handoff.Queue != "callback" || out.Handoff.Reason != ReasonCallback {
		t.Fatalf("callback: %+v", out.Handoff)
	}
}

// TestNoOneOnlineOffersCallbackOrBooking: when nobody who serves the queue
// is online, a request for a person (asked for, an agent-only topic, or
// after two misses) is not queued to wait for nobody: the patient hears so
// and is offered a callback message, an appointment request or answers.
// Red flags, callbacks and appointment requests still go to a person.
func TestNoOneOnlineOffersCallbackOrBooking(t *testing.T) {
	for _, tc := range []struct {
		name  string
		say   []string
		queue string
	}{
		{"asked", []string{"talk to a person"}, "general"},
		{"nurse", []string{"I want to talk to a nurse"}, "nurse"},
		{"agent-only", []string{"I was charged twice"}, "billing"},
		{"two misses", []string{"asdf qwerty zxcv", "blorp glorp"}, "general"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, "en", open)
			c.online = []string{"callback", "scheduling"}
			c.say("yes")
			var out Output
			for _, text := range tc.say {
				out = c.say(text)
			}
			if out.Handoff != nil || !strings.Contains(out.Text, "busy or away") || !slices.Contains(out.QuickReplies, "Leave a message") {
				t.Fatalf("nobody online: %q %v %+v", out.Text, out.QuickReplies, out.Handoff)
			}
			if !slices.Contains(c.asked, tc.queue) {
				t.Fatalf("staffing asked for %v, want %s", c.asked, tc.queue)
			}
			c.say("Leave a message")
			out = c.say("Please call me at 555-0100 tomorrow morning")
			if out.Handoff == nil || out.Handoff.Queue != "callback" || out.Handoff.Reason != ReasonCallback {
				t.Fatalf("callback while nobody is online: %+v", out.Handoff)
			}
		})
	}
	c := start(t, "en", open)
	c.online = []string{}
	c.say("yes")
	if out := c.say("I have crushing chest pain"); out.Handoff == nil || out.Handoff.Priority != "urgent" {
		t.Fatalf("a red flag with nobody online still goes to a person (urgent): %+v", out.Handoff)
	}
	c = start(t, "en", open)
	c.online = []string{"general"}
	c.say("yes")
	if out := c.say("talk to a person"); out.Handoff == nil || out.Handoff.Queue != "general" {
		t.Fatalf("someone online: %+v", out.Handoff)
	}
}

func TestTwoMissesHandOff(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	if out := c.say("asdf qwerty zxcv"); out.Handoff != nil || !strings.Contains(out.Text, "didn't understand") {
		t.Fatalf("first miss: %q %+v", out.Text, out.Handoff)
	}
	out := c.say("blorp glorp")
	if out.Handoff == nil || out.Handoff.Reason != ReasonNotUnderstood {
		t.Fatalf("second miss: %q %+v", out.Text, out.Handoff)
	}
}

func TestAgentOnlyTopics(t *testing.T) {
	for text, queue := range map[string]string{
		"I want to dispute a charge on my bill": "billing",
		"I was charged twice":                   "billing",
		"I want to file a complaint":            "patient-relations",
		"quiero poner una queja":                "patient-relations",
	} {
		c := start(t, "en", open)
		c.say("yes")
		if out := c.say(text); out.Handoff == nil || out.Handoff.Queue != queue || out.Handoff.Reason != ReasonAgentOnly {
			t.Fatalf("%q: %+v", text, out.Handoff)
		}
	}
}

func TestAppointmentRequestCollectsFieldsThenHandsToScheduling(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	out := c.say("I need to make an appointment")
	if c.st.Stage != stageSpecialty || len(out.QuickReplies) == 0 {
		t.Fatalf("asks specialty: %q %v", out.Text, out.QuickReplies)
	}
	c.say("Cardiology")
	out = c.say("Weekday mornings")
	if c.st.Stage != stageProvider {
		t.Fatalf("after days: %+v", c.st)
	}
	out = c.say("No preference")
	h := out.Handoff
	if h == nil || h.Queue != "scheduling" || h.Reason != ReasonAppointment || h.Collected["specialty"] != "cardiology" || h.Collected["preferredDays"] != "Weekday mornings" || h.Collected["provider"] != "" {
		t.Fatalf("scheduling handoff = %+v", h)
	}
	// Spanish, with the specialty in the first message.
	es := start(t, "es", open)
	out = es.say("quiero una cita con el cardiólogo")
	if es.st.Stage != stageDays || es.st.Collected["specialty"] != "cardiology" || !strings.Contains(out.Text, "días") {
		t.Fatalf("Spanish appointment: %q %+v", out.Text, es.st)
	}
	// Cancelling stops the request.
	x := start(t, "en", open)
	x.say("book an appointment")
	if out := x.say("cancel"); out.Handoff != nil || x.st.Stage != stageOpen || x.st.Collected != nil {
		t.Fatalf("cancel: %q %+v", out.Text, x.st)
	}
}

func TestSymptomWithoutRedFlagGetsTriageAdviceNotADiagnosis(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	out := c.say("I have had a sore throat and a runny nose for two days")
	if out.Handoff != nil || out.State.TriageLevel == "" || out.State.TriageLevel == "emergency" || len(out.QuickReplies) != 2 {
		t.Fatalf("triage: %q %+v %v", out.Text, out.State, out.QuickReplies)
	}
	if out := c.say("Talk to a nurse"); out.Handoff == nil || out.Handoff.Queue != "nurse" || out.Handoff.TriageLevel == "" {
		t.Fatalf("nurse handoff: %+v", out.Handoff)
	}
}

func TestLanguageFollowsThePatient(t *testing.T) {
	c := start(t, "en", open)
	out := c.say("hola, necesito saber cuál es el horario de visitas del hospital")
	if c.st.Locale != "es" || out.Handoff != nil || !strings.Contains(out.Text, "Fuente") {
		t.Fatalf("switch to Spanish: %q %+v", out.Text, c.st)
	}
}

func TestHandedOffBotStaysQuietAndTurnsArePure(t *testing.T) {
	e := engine(t)
	if out := e.Turn(State{Stage: stageHandedOff}, Input{Text: "hello?", Now: open}); out.Text != "" || out.Handoff != nil {
		t.Fatalf("after handoff: %+v", out)
	}
	st := State{Stage: stageOpen, Locale: "en"}
	a := e.Turn(st, Input{Text: "where do I park?", Now: open})
	b := e.Turn(st, Input{Text: "where do I park?", Now: open})
	if a.Text != b.Text || a.State.Encode() != b.State.Encode() {
		t.Fatal("the same input gave different outputs")
	}
	got, err := DecodeState(a.State.Encode())
	if err != nil || got.Encode() != a.State.Encode() {
		t.Fatalf("state round trip: %v", err)
	}
}

func TestContentValidation(t *testing.T) {
	if _, err := ParseContent([]byte("organization: {en: x, es: x}\nunknown: 1\n")); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := ParseContent([]byte("organization: {en: x, es: x}\n")); err == nil || !strings.Contains(err.Error(), "text greeting") {
		t.Fatalf("empty content: %v", err)
	}
}

func TestHours(t *testing.T) {
	h, err := NewHours(HoursConfig{Timezone: "America/New_York", Weekly: "mon-fri=08:00-18:00, sat=09:00-13:00", Closures: []string{"2026-11-26"}})
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]bool{
		"2026-11-23T13:00:00Z": true,  // Mon 08:00 ET
		"2026-11-23T12:59:00Z": false, // Mon 07:59
		"2026-11-23T23:00:00Z": false, // Mon 18:00
		"2026-11-28T15:00:00Z": true,  // Sat 10:00
		"2026-11-22T15:00:00Z": false, // Sun
		"2026-11-26T15:00:00Z": false, // Thanksgiving closure
	} {
		tm, _ := time.Parse(time.RFC3339, at)
		if h.Open(tm) != want {
			t.Errorf("Open(%s) = %v", at, !want)
		}
	}
	if d := h.describe.EN; d != "Mon–Fri 08:00–18:00, Sat 09:00–13:00 (America/New_York)" {
		t.Errorf("description = %q", d)
	}
	for _, bad := range []HoursConfig{{Timezone: "Mars/Base", Weekly: "mon=08:00-18:00"}, {Timezone: "UTC", Weekly: "mon=18:00-08:00"}, {Timezone: "UTC", Weekly: "fri-mon=08:00-09:00"}, {Timezone: "UTC", Closures: []string{"tomorrow"}}} {
		if _, err := NewHours(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestConsentQuickRepliesDoWhatTheySay: the greeting's own quick replies,
// clicked, continue with the bot or reach a person, in both languages.
func TestConsentQuickRepliesDoWhatTheySay(t *testing.T) {
	for _, locale := range []string{"en", "es"} {
		c := start(t, locale, open)
		yes, no := c.last.QuickReplies[0], c.last.QuickReplies[1]
		out := c.say(yes)
		if c.st.Stage != stageOpen || out.Handoff != nil || len(out.QuickReplies) != 4 {
			t.Fatalf("%s: %q answered %q %v", locale, yes, out.Text, out.QuickReplies)
		}
		c = start(t, locale, open)
		if out := c.say(no); out.Handoff == nil {
			t.Fatalf("%s: %q did not reach a person: %q", locale, no, out.Text)
		}
	}
}

// TestThePatientIsDone: after a helpful answer the bot offers to finish;
// "that's all" (or "bye", "eso es todo") closes the conversation.
func TestThePatientIsDone(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	c.say("Where can I park?")
	out := c.say("Yes, thanks")
	if len(out.QuickReplies) == 0 || out.QuickReplies[0] != "That's all, thanks" || out.Close {
		t.Fatalf("after a helpful answer: %q %v", out.Text, out.QuickReplies)
	}
	out = c.say(out.QuickReplies[0])
	if !out.Close || out.Handoff != nil || !strings.Contains(out.Text, "This chat is now closed") {
		t.Fatalf("done: %q close=%v", out.Text, out.Close)
	}
	if again := c.say("hello?"); again.Text != "" || again.Close {
		t.Fatalf("a closed conversation's bot spoke: %q", again.Text)
	}
	es := start(t, "es", open)
	es.say("sí")
	if out := es.say("eso es todo, gracias"); !out.Close {
		t.Fatalf("es: %q", out.Text)
	}
}

// BenchmarkTurn is one whole dialog turn: a patient's question after
// consent, with the red-flag check, the triage rules and the knowledge
// answer.
func BenchmarkTurn(b *testing.B) {
	e, err := Load(HoursConfig{Timezone: "America/New_York", Weekly: "mon-sun=00:00-24:00"})
	if err != nil {
		b.Fatal(err)
	}
	st := e.Turn(State{}, Input{Start: true, Locale: "en", Now: open}).State
	st = e.Turn(st, Input{Text: "yes", Locale: "en", Now: open}).State
	in := Input{Text: "What are the visiting hours for the main hospital?", Locale: "en", Now: open}
	b.ReportAllocs()
	for b.Loop() {
		if out := e.Turn(st, in); out.Text == "" {
			b.Fatal("no answer")
		}
	}
}

func TestComplaintQuestionsThenAnswer(t *testing.T) {
	for _, tc := range []struct {
		locale, complaint, answer string
		urgent                    bool
		want                      string
	}{
		{"en", "I hit my head on a cabinet", "yes", true, "Call 911 now"},
		{"en", "I hit my head on a cabinet", "no", false, "talk with a nurse"},
		{"en", "burned my hand on the stove", "Yes", true, "Call 911 now"},
		{"es", "me quemé la mano con la estufa", "sí", true, "Llame al 911"},
		{"es", "me quemé la mano con la estufa", "no", false, "enfermera"},
		{"en", "I've been feeling hopeless lately", "yes", true, "988"},
	} {
		c := start(t, tc.locale, open)
		c.say("yes")
		out := c.say(tc.complaint)
		if c.st.Stage != stageTriageAsk || !strings.Contains(out.Text, "911") && !strings.Contains(out.Text, "988") || len(out.QuickReplies) != 2 || out.Handoff != nil {
			t.Fatalf("%q: %q %v %+v", tc.complaint, out.Text, out.QuickReplies, out.Handoff)
		}
		out = c.say(tc.answer)
		if got := out.Handoff != nil && out.Handoff.Priority == "urgent"; got != tc.urgent || !strings.Contains(out.Text, tc.want) {
			t.Fatalf("%q then %q: %q, handoff %+v", tc.complaint, tc.answer, out.Text, out.Handoff)
		}
		if tc.urgent && !strings.HasPrefix(out.Text, "Call 911") && !strings.HasPrefix(out.Text, "Llame al 911") && !strings.HasPrefix(out.Text, "Please call or text 988") {
			t.Fatalf("%q then yes: the guidance is not first: %q", tc.complaint, out.Text)
		}
	}
}

func TestPastEventAsksIfItIsHappeningNow(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	out := c.say("my dad had a stroke two years ago, can I book him a follow up")
	if c.st.Stage != stageTriageNow || !strings.HasPrefix(out.Text, "Is this happening now") || out.Handoff != nil {
		t.Fatalf("past event: %q %+v", out.Text, out.Handoff)
	}
	if out = c.say("no"); out.Handoff != nil || !strings.Contains(out.Text, "How can I help") || c.st.Stage != stageOpen {
		t.Fatalf("no: %q %+v", out.Text, out.Handoff)
	}
	c.say("I had a heart attack last year")
	if out = c.say("yes"); out.Handoff == nil || out.Handoff.Priority != "urgent" || out.Handoff.RedFlags[0] != "chest_pain" {
		t.Fatalf("yes: %q %+v", out.Text, out.Handoff)
	}
}

func TestAnythingElseLeavesTheTriageQuestion(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	c.say("I hit my head")
	out := c.say("what are your opening hours?")
	if out.Handoff != nil || c.st.Stage == stageTriageAsk || strings.Contains(out.Text, "didn't understand") {
		t.Fatalf("a question after the triage question: %q %+v stage %s", out.Text, out.Handoff, c.st.Stage)
	}
	// A red flag in the answer escalates whatever the question was.
	c.say("I hit my head")
	if out = c.say("no but now he's throwing up and really sleepy"); out.Handoff == nil || out.Handoff.Priority != "urgent" {
		t.Fatalf("a red flag in the answer: %q %+v", out.Text, out.Handoff)
	}
}

func TestDeniedCrisisGetsTheRequestAnsweredAnd988OnItsOwnLine(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	out := c.say("I'm not suicidal, I just need to know how to get a refill")
	parts := strings.Split(out.Text, "\n\n")
	if out.Handoff != nil || len(parts) < 2 || !strings.Contains(parts[len(parts)-1], "988") || strings.Contains(parts[0], "988") {
		t.Fatalf("denied crisis: %q %+v", out.Text, out.Handoff)
	}
}

func TestAYesWithANewComplaintStillEscalates(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	c.say("my son hit his head on the table")
	out := c.say("yes and his hand feels numb")
	if out.Handoff == nil || out.Handoff.Priority != "urgent" || out.Handoff.RedFlags[0] != "head_injury_danger" {
		t.Fatalf("a yes beside a new complaint: %q %+v", out.Text, out.Handoff)
	}
}

func TestAnAnswerThatIsNeitherYesNorNoAsksAgain(t *testing.T) {
	c := start(t, "en", open)
	c.say("yes")
	c.say("my son hit his head on the table")
	out := c.say("hmm hard to say")
	if c.st.Stage != stageTriageAsk || !strings.Contains(out.Text, "yes or a no") || !strings.Contains(out.Text, "After a head injury") || strings.Contains(out.Text, "didn't understand") {
		t.Fatalf("an unclear answer: %q stage %s", out.Text, c.st.Stage)
	}
	if out = c.say("no he keeps throwing up"); out.Handoff == nil || out.Handoff.Priority != "urgent" {
		t.Fatalf("a sign after an interjection: %q %+v", out.Text, out.Handoff)
	}
}

// TestTheGreetingNamesTheHospitalInTheConversationsLanguage (issue 20,
// item 2): the Spanish greeting said "de our hospital". Without a name
// configured it is "our hospital" / "nuestro hospital"; with one, that
// name in both.
func TestTheGreetingNamesTheHospitalInTheConversationsLanguage(t *testing.T) {
	for locale, want := range map[string]string{"en": "of our hospital", "es": "de nuestro hospital"} {
		if g := start(t, locale, open).last.Text; !strings.Contains(g, want) {
			t.Errorf("%s greeting %q lacks %q", locale, g, want)
		}
	}
	e := engine(t).WithOrganization("Riverside General")
	for _, locale := range []string{"en", "es"} {
		out := e.Turn(State{}, Input{Start: true, Locale: locale, Now: open})
		if !strings.Contains(out.Text, "Riverside General") || strings.Contains(out.Text, "hospital") {
			t.Errorf("%s greeting with a name: %q", locale, out.Text)
		}
	}
	if SenderName("es") != "Asistente virtual" || SenderName("en") != "Virtual assistant" {
		t.Errorf("the bot signs %q and %q", SenderName("en"), SenderName("es"))
	}
}
