// Package bot is the health bot's dialog: a pure function from the
// conversation's dialog state and one patient input to the bot's reply,
// the next state, and a handoff to a person when one is needed. It never
// diagnoses: symptoms go through the triage rules (red flags get emergency
// guidance in the very first reply, at any point of the conversation),
// questions through the knowledge base, and everything else to a person.
package bot

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/knowledge"
	"github.com/patientservicecenter/psc/shared/triage"
	"github.com/patientservicecenter/psc/shared/words"
)

// Stages of the dialog.
const (
	stageNew         = ""
	stageConsent     = "consent"
	stageOpen        = "open"
	stageHelpful     = "helpful"
	stageSpecialty   = "appointment:specialty"
	stageDays        = "appointment:days"
	stageProvider    = "appointment:provider"
	stageCallback    = "callback"
	stageHandedOff   = "handed-off"
	stageTriageAsk   = "triage:ask" // a complaint's emergency questions were asked
	stageTriageNow   = "triage:now" // "is this happening now?" was asked
	maxMisses        = 2
	summaryTextLimit = 160
)

// Handoff reasons.
const (
	ReasonRedFlag       = "red_flag"
	ReasonRequested     = "patient_request"
	ReasonDeclinedBot   = "declined_bot"
	ReasonNotUnderstood = "not_understood"
	ReasonAgentOnly     = "agent_only_topic"
	ReasonAppointment   = "appointment_request"
	ReasonNurse         = "nurse_request"
	ReasonCallback      = "callback_request"
)

// State is the dialog state kept between turns.
type State struct {
	Stage       string            `json:"stage,omitempty"`
	Locale      string            `json:"locale,omitempty"`
	Misses      int               `json:"misses,omitempty"`
	Collected   map[string]string `json:"collected,omitempty"`
	TriageLevel string            `json:"triageLevel,omitempty"`
	// Pending are the red flags a yes to the triage question gives, and
	// PendingLevel the level whose advice a no gives.
	Pending          []string `json:"pending,omitempty"`
	PendingLevel     string   `json:"pendingLevel,omitempty"`
	PendingComplaint string   `json:"pendingComplaint,omitempty"`
	LastArticle      string   `json:"lastArticle,omitempty"`
	// Booking: the slots or appointments on offer, the slot chosen, the
	// appointment being moved or cancelled, the patient's email.
	Offered        []Choice `json:"offered,omitempty"`
	Chosen         string   `json:"chosen,omitempty"`
	Target         string   `json:"target,omitempty"`
	TargetProvider string   `json:"targetProvider,omitempty"`
	TargetVisit    string   `json:"targetVisit,omitempty"`
	Verb           string   `json:"verb,omitempty"`
	Email          string   `json:"email,omitempty"`
	EmailAsked     bool     `json:"emailAsked,omitempty"`
	Phone          string   `json:"phone,omitempty"`
	PhoneAsked     bool     `json:"phoneAsked,omitempty"`
	Waitlisting    bool     `json:"waitlisting,omitempty"` // the contacts asked are for the waitlist
	// Identity: verified (and with which address) once the patient typed
	// the code sent to the email on file; the code on its way; how many
	// were sent; until when wrong codes lock verification.
	Verified      bool      `json:"verified,omitempty"`
	VerifiedEmail string    `json:"verifiedEmail,omitempty"`
	Verify        *Verify   `json:"verify,omitempty"`
	CodesSent     int       `json:"codesSent,omitempty"`
	WrongCodes    int       `json:"wrongCodes,omitempty"`
	LockedUntil   time.Time `json:"lockedUntil,omitempty"`
}

// DecodeState reads a stored state; an empty one is a new conversation.
func DecodeState(s string) (State, error) {
	var st State
	if s == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return st, fmt.Errorf("decoding bot state: %w", err)
	}
	return st, nil
}

// Resumed is the stored dialog state of a conversation a person hands back
// to the bot: the open menu, in the conversation's language.
func Resumed(locale string) string {
	if locale != "es" {
		locale = "en"
	}
	return State{Stage: stageOpen, Locale: locale}.Encode()
}

// Encode renders the state for storage.
func (s State) Encode() string {
	b, _ := json.Marshal(s) // a struct of strings and ints always marshals
	return string(b)
}

// Input is one thing the bot reacts to.
type Input struct {
	Start  bool   // the conversation just started: greet
	Text   string // the patient's message (or the start topic)
	Locale string // the conversation's locale
	Topic  string // the topic given at start, for routing and the summary
	Now    time.Time
	// Booking books for the conversation's patient; nil: appointment
	// requests are handed to the scheduling team.
	Booking Booking
	// Staffed reports whether someone who serves the queue is online
	// (available or busy) to take a handoff now; nil means yes. Urgent,
	// callback and appointment handoffs wait for a person whatever it says.
	Staffed func(queue string) bool
}

// Output is the bot's answer to one input.
type Output struct {
	Text         string
	QuickReplies []string
	State        State
	Handoff      *chat.Handoff
	// Close says the patient is done: the bot resolved the conversation,
	// which closes with this reply.
	Close bool
}

// Engine runs the dialog. It is safe for concurrent use.
type Engine struct {
	c      *Content
	hours  *Hours
	triage *triage.Engine
	kb     *knowledge.Index
	org    string // the hospital's name, when the deployment gives one
	texts  bool   // the deployment sends reminders by text message
}

// WithTextReminders makes a new booking ask for a mobile number for text
// reminders (the deployment sends them: TEXT_REMINDERS).
func (e *Engine) WithTextReminders(on bool) *Engine {
	e.texts = on
	return e
}

// WithOrganization names the hospital in what the bot says ("the virtual
// assistant of Riverside General"); without it the content's words are
// used ("our hospital", "nuestro hospital").
func (e *Engine) WithOrganization(name string) *Engine {
	e.org = strings.TrimSpace(name)
	return e
}

func (e *Engine) organization(locale string) string {
	if e.org != "" {
		return e.org
	}
	return e.c.Organization.In(locale)
}

// New returns an engine over its content, opening hours, triage rules and
// knowledge base.
func New(c *Content, h *Hours, t *triage.Engine, kb *knowledge.Index) *Engine {
	return &Engine{c: c, hours: h, triage: t, kb: kb}
}

// Load returns an engine over the embedded content, rules and articles,
// with the given opening hours.
func Load(hours HoursConfig) (*Engine, error) {
	h, err := NewHours(hours)
	if err != nil {
		return nil, err
	}
	c, err := LoadContent()
	if err != nil {
		return nil, err
	}
	t, err := triage.Load()
	if err != nil {
		return nil, err
	}
	kb, err := knowledge.Load()
	if err != nil {
		return nil, err
	}
	return New(c, h, t, kb), nil
}

// turn is one turn being built.
type turn struct {
	e       *Engine
	st      State
	in      Input
	words   []string
	parts   []string
	quick   []string
	handed  *chat.Handoff
	closing bool
	// crisisLine offers the crisis line (988) on a line of its own at the
	// end of the reply: the message denied a crisis.
	crisisLine bool
	// unanswered is the triage question the message neither answered nor
	// left for something else: asked again rather than "I didn't
	// understand".
	unanswered *State
}

func (t *turn) say(key string, vars ...string) {
	text := t.e.c.Text[key].In(t.st.Locale)
	text = strings.ReplaceAll(text, "{org}", t.e.organization(t.st.Locale))
	for i := 0; i+1 < len(vars); i += 2 {
		text = strings.ReplaceAll(text, "{"+vars[i]+"}", vars[i+1])
	}
	t.parts = append(t.parts, text)
}

func (t *turn) replies(key string) { t.quick = t.e.c.QuickReplies[key].In(t.st.Locale) }

func (t *turn) is(intent string) bool { return hasPhrase(t.words, t.e.c.Intents[intent].Both()) }

func (t *turn) isOnly(intent string) bool { return isOnly(t.words, t.e.c.Intents[intent].Both()) }

// Turn answers one input.
func (e *Engine) Turn(st State, in Input) Output {
	if st.Locale == "" {
		st.Locale = in.Locale
	}
	if st.Locale != "es" {
		st.Locale = "en"
	}
	t := &turn{e: e, st: st, in: in, words: words.Split(in.Text)}
	if !in.Start {
		if l := detectLocale(t.words); l != "" {
			t.st.Locale = l
		}
	}
	switch {
	case t.st.Stage == stageHandedOff:
		// A person has the conversation; the bot stays quiet.
		return Output{State: t.st}
	case in.Start:
		t.start()
	default:
		t.message()
	}
	if t.crisisLine && t.handed == nil {
		t.parts = append(t.parts, t.e.triage.CrisisLine(t.st.Locale))
	}
	out := Output{Text: strings.Join(t.parts, "\n\n"), QuickReplies: t.quick, State: t.st, Handoff: t.handed, Close: t.closing}
	if strings.HasPrefix(out.State.Stage, "appointment:") {
		// Every step of the appointment dialog shows a way out, which
		// every step also hears: cancel, or a person.
		out.QuickReplies = withWayOut(out.QuickReplies, t.e.c.QuickReplies["wayOut"].In(t.st.Locale))
	}
	if out.Handoff != nil {
		out.State.Stage, out.QuickReplies = stageHandedOff, nil
	}
	return out
}

func (t *turn) start() {
	t.say("greeting")
	if t.redFlags() {
		return
	}
	if !t.e.hours.Open(t.in.Now) {
		t.say("closed", "hours", t.e.hours.describe.In(t.st.Locale))
	}
	t.say("consent")
	t.replies("consent")
	t.st.Stage = stageConsent
}

func (t *turn) message() {
	// Safety first, in every message at any point: red flags, the answer
	// to a triage question, then a complaint's emergency questions or "is
	// this happening now?".
	if t.redFlags() {
		return
	}
	switch t.st.Stage {
	case stageConsent:
		switch {
		case t.is("handoff") || t.isOnly("no"):
			t.requestPerson(t.queueForTopic(), ReasonDeclinedBot, "declined")
			return
		case t.isOnly("yes"):
			t.st.Stage = stageOpen
			t.say("consentYes")
			t.replies("menu")
			return
		}
		t.st.Stage = stageOpen // a question right away is consent too
	case stageSpecialty, stageDays, stageProvider:
		if t.leavesForAPerson() || t.appointmentStep() {
			return
		}
	case stageSlots, stageConfirm, stageEmail, stagePhone, stageWaitlist, stagePickAppt, stageCancelAppt, stageVerify:
		if t.leavesForAPerson() || t.bookingStep() {
			return
		}
	case stageHelpful:
		t.st.Stage = stageOpen
		switch {
		case t.is("done"):
			t.finish()
			return
		case t.isOnly("yes") || t.is("yes") && !t.is("no"):
			t.st.Misses = 0
			t.say("helpfulYes")
			t.replies("anythingElse")
			return
		case t.isOnly("no"):
			t.say("helpfulNo")
			t.replies("menu")
			return
		}
	case stageCallback:
		t.say("callbackDone")
		t.handoff(t.e.c.Queues["callback"], "normal", ReasonCallback)
		return
	}
	t.open()
}

// leavesForAPerson ends an appointment dialog for a patient who asks for
// a person (or the nurse) at any of its steps: the request is heard, not
// answered with the step's question again. (A red flag is heard before any
// step runs.)
func (t *turn) leavesForAPerson() bool {
	if !t.is("handoff") && !t.is("nurse") {
		return false
	}
	if t.st.Stage == stageEmail && strings.Contains(t.in.Text, "@") {
		return false // an address like human.resources@… is an answer
	}
	t.resetBooking()
	t.st.Stage = stageOpen
	t.open()
	return true
}

// open handles a message in the open dialog.
func (t *turn) open() {
	switch {
	case t.is("done"):
		t.finish()
	case t.is("nurse"):
		t.requestPerson(t.e.c.Queues["nurse"], ReasonNurse, "handoff")
	case t.is("handoff"):
		t.requestPerson(t.queueForTopic(), ReasonRequested, "handoff")
	case t.agentOnly() != "":
		t.requestPerson(t.agentOnly(), ReasonAgentOnly, "agentOnly")
	case t.is("leaveMessage"):
		t.st.Stage = stageCallback
		t.say("callbackAsk")
	case t.is("leaveWaitlist") && t.in.Booking != nil && t.in.Booking.HoldMinutes() > 0:
		t.leaveWaitlist()
	case t.is("cancelAppt"):
		t.startChange(cancelVerb)
	case t.is("rescheduleAppt"):
		t.startChange(rescheduleVerb)
	case t.is("myAppointments"):
		t.startChange(listVerb)
	case t.is("appointment"):
		t.st.Collected = map[string]string{}
		if s, ok := t.specialty(); ok {
			t.st.Collected["specialty"] = s.ID
			t.st.Stage = stageDays
			t.say("appointmentDays")
			t.replies("days")
			return
		}
		t.st.Stage = stageSpecialty
		t.say("appointmentSpecialty")
		t.quick = t.specialtyNames()
	case t.is("askQuestion"):
		t.say("askQuestion")
	case t.is("checkSymptom"):
		t.say("askSymptoms")
	default:
		if t.symptoms() || t.knowledge() {
			return
		}
		if t.unanswered != nil {
			t.reask()
			return
		}
		t.st.Misses++
		if t.st.Misses >= maxMisses {
			t.requestPerson(t.queueForTopic(), ReasonNotUnderstood, "notUnderstoodHandoff")
			return
		}
		t.say("notUnderstood")
		t.replies("menu")
	}
}

// finish says goodbye and closes the conversation: the bot resolved it.
func (t *turn) finish() {
	t.say("goodbye")
	t.closing = true
	t.st.Stage = stageHandedOff
}

// requestPerson hands off during opening hours when someone who serves
// the queue is online; otherwise it says so and offers what is available
// instead: a message for a callback, an appointment request, answers.
func (t *turn) requestPerson(queue, reason, textKey string) {
	if !t.e.hours.Open(t.in.Now) {
		t.say("closed", "hours", t.e.hours.describe.In(t.st.Locale))
		t.replies("closed")
		return
	}
	if t.in.Staffed != nil && !t.in.Staffed(queue) {
		t.st.Misses = 0
		t.say("unstaffed")
		t.replies("closed")
		return
	}
	t.say(textKey)
	t.handoff(queue, "normal", reason)
}

// redFlags assesses the message. A red flag gets emergency guidance and an
// urgent handoff; then the answer to a pending triage question is taken;
// then a complaint whose emergency cannot be ruled out gets its emergency
// questions, and a red flag mentioned only as a past event, family history
// or question gets "is this happening now?". Each of these ends the turn.
// A denied crisis ("I'm not suicidal") gets the crisis line on a line of
// its own after the rest of the reply.
func (t *turn) redFlags() bool {
	r := t.e.triage.Assess(t.in.Text)
	switch {
	case r.Level == triage.LevelEmergency:
		t.emergency(r)
		return true
	case t.triageAnswer():
		return true
	case r.Ask != nil:
		t.st.Stage, t.st.Pending, t.st.PendingLevel, t.st.PendingComplaint = stageTriageAsk, []string{r.Ask.Flag}, string(r.Level), r.Ask.ID
		t.st.TriageLevel, t.st.Misses = string(r.Level), 0
		t.parts = append(t.parts, t.e.triage.Question(*r.Ask, t.st.Locale))
		t.replies("triageQuestion")
		return true
	case len(r.Check) > 0:
		t.st.Stage, t.st.Pending, t.st.PendingLevel, t.st.PendingComplaint = stageTriageNow, flagIDs(r.Check), "", ""
		t.st.Misses = 0
		t.parts = append(t.parts, t.e.triage.NowQuestion(t.st.Locale))
		t.replies("triageQuestion")
		return true
	case r.CrisisMention:
		t.crisisLine = true
	}
	return false
}

// emergency gives the guidance of the red flags first, then hands off
// urgently. Every red flag's guidance already tells the patient a member of
// the care team is being alerted (a triage test holds the rules to it), so
// the reply does not say it a second time.
func (t *turn) emergency(r triage.Result) {
	t.st.TriageLevel, t.st.Pending, t.st.PendingLevel, t.st.PendingComplaint = string(r.Level), nil, "", ""
	t.parts = append([]string{t.e.triage.Guidance(r, t.st.Locale)}, t.parts...)
	t.handoff(t.e.c.Queues["urgent"], "urgent", ReasonRedFlag, flagIDs(r.RedFlags)...)
}

// triageAnswer takes the answer to a triage question: a yes, or an answer
// that names one of the complaint's emergency signs, gives the pending
// red flags; a no the pending level's advice (or, after "is this
// happening now?", the menu). Anything else leaves the question and is
// answered as a message.
func (t *turn) triageAnswer() bool {
	if t.st.Stage != stageTriageAsk && t.st.Stage != stageTriageNow {
		return false
	}
	saved := t.st
	stage, pending, level, complaint := t.st.Stage, t.st.Pending, triage.Level(t.st.PendingLevel), t.st.PendingComplaint
	t.st.Stage, t.st.Pending, t.st.PendingLevel, t.st.PendingComplaint = stageOpen, nil, "", ""
	switch {
	case t.isOnly("triageYes") || t.is("triageYes") && !t.is("triageNo") || t.e.triage.Confirms(complaint, t.in.Text):
		if r, ok := t.e.triage.Emergency(pending...); ok {
			t.emergency(r)
			return true
		}
	case t.isOnly("triageNo") || t.is("triageNo") && !t.is("triageYes"):
		if stage == stageTriageNow || level == triage.LevelNone {
			t.say("nowNo")
			t.replies("menu")
			return true
		}
		t.say("triageNo")
		t.parts = append(t.parts, t.e.triage.Guidance(triage.Result{Level: level}, t.st.Locale))
		t.say("triageFollowUp")
		t.replies("triage")
		return true
	}
	t.unanswered = &saved
	return false
}

// reask asks the unanswered triage question again.
func (t *turn) reask() {
	t.st.Stage, t.st.Pending, t.st.PendingLevel, t.st.PendingComplaint =
		t.unanswered.Stage, t.unanswered.Pending, t.unanswered.PendingLevel, t.unanswered.PendingComplaint
	t.say("triageAgain")
	if t.st.Stage == stageTriageNow {
		t.parts = append(t.parts, t.e.triage.NowQuestion(t.st.Locale))
	} else {
		t.parts = append(t.parts, t.e.triage.Question(triage.Complaint{ID: t.st.PendingComplaint}, t.st.Locale))
	}
	t.replies("triageQuestion")
}

// flagIDs returns the ids of red flags.
func flagIDs(flags []triage.RedFlag) []string {
	ids := make([]string, 0, len(flags))
	for _, f := range flags {
		ids = append(ids, f.ID)
	}
	return ids
}

// symptoms answers a non-emergency symptom with its triage level's advice.
func (t *turn) symptoms() bool {
	r := t.e.triage.Assess(t.in.Text)
	if r.Level == triage.LevelNone {
		return false
	}
	t.st.TriageLevel, t.st.Misses = string(r.Level), 0
	t.parts = append(t.parts, t.e.triage.Guidance(r, t.st.Locale))
	t.say("triageFollowUp")
	t.replies("triage")
	return true
}

// knowledge answers from the knowledge base, naming the article.
func (t *turn) knowledge() bool {
	a, ok := t.e.kb.Answer(t.in.Text, t.st.Locale)
	if !ok {
		return false
	}
	t.st.LastArticle, t.st.Misses, t.st.Stage = a.ID, 0, stageHelpful
	t.parts = append(t.parts, a.Answer)
	t.say("source", "title", a.Title)
	t.say("helpful")
	t.replies("helpful")
	return true
}

func (t *turn) agentOnly() string {
	for _, a := range t.e.c.AgentOnly {
		if hasPhrase(t.words, a.Phrases.Both()) {
			return a.Queue
		}
	}
	return ""
}

func (t *turn) specialty() (Specialty, bool) {
	for _, s := range t.e.c.Specialties {
		if hasPhrase(t.words, append(s.Phrases.Both(), s.EN, s.ES)) {
			return s, true
		}
	}
	return Specialty{}, false
}

func (t *turn) specialtyNames() []string {
	var names []string
	for _, s := range t.e.c.Specialties {
		names = append(names, s.Name(t.st.Locale))
	}
	return names
}

// appointmentStep collects the next field of an appointment request, and
// hands the request to scheduling once it has them.
func (t *turn) appointmentStep() bool {
	if t.isOnly("cancel") || t.is("cancel") && t.st.Stage == stageProvider && !t.isOnly("noPreference") {
		t.st.Stage, t.st.Collected = stageOpen, nil
		t.say("appointmentCancelled")
		t.replies("menu")
		return true
	}
	if t.st.Collected == nil {
		t.st.Collected = map[string]string{}
	}
	switch t.st.Stage {
	case stageSpecialty:
		s, ok := t.specialty()
		if !ok {
			t.say("appointmentSpecialty")
			t.quick = t.specialtyNames()
			return true
		}
		t.st.Collected["specialty"] = s.ID
		t.st.Stage = stageDays
		t.say("appointmentDays")
		t.replies("days")
	case stageDays:
		t.st.Collected["preferredDays"] = clip(t.in.Text, 80)
		t.st.Stage = stageProvider
		t.say("appointmentProvider")
		t.replies("provider")
	case stageProvider:
		if !t.is("noPreference") {
			t.st.Collected["provider"] = clip(t.in.Text, 80)
		}
		if t.offerSlots(time.Time{}) {
			return true
		}
		if b := t.in.Booking; b != nil && b.HoldMinutes() > 0 {
			t.noSlots() // the waitlist, or a person
			return true
		}
		t.say("appointmentHandoff", "summary", t.collectedSummary())
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
	}
	return true
}

func (t *turn) collectedSummary() string {
	var parts []string
	if id := t.st.Collected["specialty"]; id != "" {
		for _, s := range t.e.c.Specialties {
			if s.ID == id {
				parts = append(parts, s.Name(t.st.Locale))
			}
		}
	}
	if d := t.st.Collected["preferredDays"]; d != "" {
		parts = append(parts, d)
	}
	if p := t.st.Collected["provider"]; p != "" {
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// queueForTopic picks a queue from the conversation's start topic: an
// agent-only topic's queue, else the default.
func (t *turn) queueForTopic() string {
	topic := words.Split(t.in.Topic)
	for _, a := range t.e.c.AgentOnly {
		if hasPhrase(topic, a.Phrases.Both()) {
			return a.Queue
		}
	}
	return t.e.c.Queues["default"]
}

// handoff records the handoff context, with a short summary for the agent.
func (t *turn) handoff(queue, priority, reason string, redFlags ...string) {
	h := &chat.Handoff{
		Queue: queue, Priority: priority, Language: t.st.Locale, Reason: reason, TriageLevel: t.st.TriageLevel,
		RedFlags: redFlags, Collected: t.st.Collected, At: t.in.Now.UTC(),
	}
	t.handed = h
	var s []string
	s = append(s, "Reason: "+strings.ReplaceAll(reason, "_", " ")+".")
	if t.in.Topic != "" {
		s = append(s, "Topic: "+clip(t.in.Topic, summaryTextLimit)+".")
	}
	if h.TriageLevel != "" {
		s = append(s, "Triage: "+h.TriageLevel+".")
	}
	if len(redFlags) > 0 {
		s = append(s, "Red flags: "+strings.Join(redFlags, ", ")+".")
	}
	if len(t.st.Collected) > 0 {
		keys := make([]string, 0, len(t.st.Collected))
		for k := range t.st.Collected {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+t.st.Collected[k])
		}
		s = append(s, "Collected: "+strings.Join(kv, ", ")+".")
	}
	if t.in.Text != "" {
		s = append(s, "Last message: "+clip(t.in.Text, summaryTextLimit))
	}
	h.Summary = strings.Join(s, " ")
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// withWayOut adds to a step's quick replies the ways out it lacks.
func withWayOut(quick, out []string) []string {
	have := map[string]bool{}
	for _, q := range quick {
		have[strings.ToLower(q)] = true
	}
	for _, o := range out {
		if !have[strings.ToLower(o)] {
			quick = append(quick, o)
		}
	}
	return quick
}
