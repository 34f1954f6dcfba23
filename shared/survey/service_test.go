package survey

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/kpi"
)

// memStore holds the DynamoDB store's conditions: a survey is created
// once, a patient is surveyed once per window unless opted out, an answer
// is taken once, a task is added once per survey.
type memStore struct {
	surveys map[string]Survey
	last    map[string]time.Time
	out     map[string]bool
	tasks   map[string]Task
}

func newMemStore() *memStore {
	return &memStore{surveys: map[string]Survey{}, last: map[string]time.Time{}, out: map[string]bool{}, tasks: map[string]Task{}}
}

func (m *memStore) Create(_ context.Context, s Survey, window time.Duration) error {
	if _, ok := m.surveys[s.ID]; ok {
		return ErrExists
	}
	if m.out[s.PatientID] {
		return &Suppressed{Reason: "opted out"}
	}
	if last, ok := m.last[s.PatientID]; ok && s.CreatedAt.Sub(last) < window {
		return &Suppressed{Reason: "surveyed within the window"}
	}
	m.surveys[s.ID] = s
	m.last[s.PatientID] = s.CreatedAt
	return nil
}
func (m *memStore) Get(_ context.Context, id string) (Survey, error) {
	s, ok := m.surveys[id]
	if !ok {
		return Survey{}, fault.Errorf(fault.NotFound, "survey not found")
	}
	return s, nil
}
func (m *memStore) SetDelivery(_ context.Context, id, d string) error {
	s := m.surveys[id]
	s.Delivery = d
	m.surveys[id] = s
	return nil
}
func (m *memStore) Answer(_ context.Context, id string, a Answer) (Survey, error) {
	s := m.surveys[id]
	if s.Answer != nil {
		return Survey{}, fault.Errorf(fault.Conflict, "already answered")
	}
	s.Answer = &a
	m.surveys[id] = s
	return s, nil
}
func (m *memStore) OptOut(_ context.Context, pid string, _ time.Time) error {
	m.out[pid] = true
	return nil
}
func (m *memStore) AddTask(_ context.Context, t Task) (bool, error) {
	if _, ok := m.tasks[t.SurveyID]; ok {
		return false, nil
	}
	m.tasks[t.SurveyID] = t
	return true, nil
}

type fakeOut struct {
	open   map[string]bool
	pushed []any
	mails  []string
	told   []any
}

func (f *fakeOut) Connected(_ context.Context, c string) (bool, error) { return f.open[c], nil }
func (f *fakeOut) Push(_ context.Context, _ string, frame any) error {
	f.pushed = append(f.pushed, frame)
	return nil
}
func (f *fakeOut) Send(_ context.Context, to string, raw []byte) error {
	f.mails = append(f.mails, to+"\n"+string(raw))
	return nil
}
func (f *fakeOut) IssueFor(purpose, id, _ string, _ time.Time) (string, error) {
	return purpose + "-" + id, nil
}
func (f *fakeOut) Tell(_ context.Context, frame any) error {
	f.told = append(f.told, frame)
	return nil
}

type clock struct{ t time.Time }

func setup(t *testing.T) (*Service, *memStore, *fakeOut, *clock) {
	t.Helper()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	store, out := newMemStore(), &fakeOut{open: map[string]bool{}}
	c := &clock{t: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)}
	svc := NewService(Deps{Surveys: cfg, Lexicon: lexicon(t), Store: store, Chat: out, Mail: out, Links: out, Supervisors: out,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return c.t }},
		ServiceConfig{PageURL: "https://care.example.org/survey.html", From: "PSC <surveys@example.org>"})
	return svc, store, out, c
}

func conversation(id, patient string) Source {
	return Source{Kind: Conversation, ID: id, PatientID: patient, ConversationID: id, Queue: "billing", AgentID: "a1", AgentName: "Ana", Locale: "en"}
}

func TestOneSurveyPerClosedConversationInTheChatOrByEmail(t *testing.T) {
	svc, store, out, clk := setup(t)
	ctx := context.Background()
	out.open["c1"] = true
	src := conversation("c1", "p1")
	for range 3 { // the stream delivers the record three times
		if err := svc.FollowUp(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	if len(store.surveys) != 1 || len(out.pushed) != 1 || len(out.mails) != 0 {
		t.Fatalf("%d surveys, %d pushed, %d mails; want one survey in the chat", len(store.surveys), len(out.pushed), len(out.mails))
	}
	f := out.pushed[0].(Prompt)
	if f.Min != 1 || f.Max != 5 || !strings.Contains(f.Question, "How satisfied are you with the help") {
		t.Fatalf("survey frame = %+v", f)
	}

	// Another patient has left the chat but gave an email: a link by email.
	clk.t = clk.t.Add(time.Hour)
	gone := conversation("c2", "p2")
	gone.PatientEmail = "p2@example.org"
	if err := svc.FollowUp(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if len(out.mails) != 1 || !strings.Contains(out.mails[0], "https://care.example.org/survey.html?t=survey-"+SurveyID(Conversation, "c2")) ||
		!strings.Contains(out.mails[0], "Subject: How did we do?") {
		t.Fatalf("mails = %q", out.mails)
	}
	// Nobody to reach: recorded, not delivered.
	if err := svc.FollowUp(ctx, conversation("c3", "p3")); err != nil {
		t.Fatal(err)
	}
	if d := store.surveys[SurveyID(Conversation, "c3")].Delivery; d != "none" {
		t.Fatalf("an unreachable patient's survey: %q", d)
	}
}

func TestSuppressionRules(t *testing.T) {
	svc, store, out, clk := setup(t)
	ctx := context.Background()
	out.open["c1"], out.open["c2"], out.open["c3"], out.open["c4"] = true, true, true, true
	red := conversation("c1", "p1")
	red.RedFlag = true
	if err := svc.FollowUp(ctx, red); err != nil || len(store.surveys) != 0 {
		t.Fatalf("a red-flag conversation was surveyed: %v", err)
	}
	if err := svc.FollowUp(ctx, conversation("c2", "p1")); err != nil || len(store.surveys) != 1 {
		t.Fatalf("first survey: %v", err)
	}
	clk.t = clk.t.Add(13 * 24 * time.Hour)
	if err := svc.FollowUp(ctx, conversation("c3", "p1")); err != nil || len(store.surveys) != 1 {
		t.Fatalf("a second survey within 14 days: %v %d", err, len(store.surveys))
	}
	clk.t = clk.t.Add(2 * 24 * time.Hour)
	if err := svc.FollowUp(ctx, conversation("c4", "p1")); err != nil || len(store.surveys) != 2 {
		t.Fatalf("a survey after the window: %v %d", err, len(store.surveys))
	}
	if err := svc.OptOut(ctx, SurveyID(Conversation, "c4"), "p1"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(30 * 24 * time.Hour)
	out.open["c5"] = true
	if err := svc.FollowUp(ctx, conversation("c5", "p1")); err != nil || len(store.surveys) != 2 {
		t.Fatalf("an opted-out patient was surveyed: %v %d", err, len(store.surveys))
	}
}

func TestAnswersOnceAndPoorOnesGetAPerson(t *testing.T) {
	svc, store, out, clk := setup(t)
	ctx := context.Background()
	for _, c := range []string{"c1", "c2", "c3"} {
		out.open[c] = true
		if err := svc.FollowUp(ctx, conversation(c, "p-"+c)); err != nil {
			t.Fatal(err)
		}
	}
	id1 := SurveyID(Conversation, "c1")
	if _, err := svc.Answer(ctx, id1, "someone-else", Answer{CSAT: 5}); fault.CodeOf(err) != fault.NotFound {
		t.Fatalf("another patient answering: %v", err)
	}
	if _, err := svc.Answer(ctx, id1, "p-c1", Answer{CSAT: 7}); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("a score of 7: %v", err)
	}
	got, err := svc.Answer(ctx, id1, "p-c1", Answer{CSAT: 5, Comment: "Very helpful, thank you"})
	if err != nil || got.Answer.CSAT != 5 || got.Answer.Sentiment <= 0 || len(store.tasks) != 0 {
		t.Fatalf("a good answer: %+v %v, tasks %v", got.Answer, err, store.tasks)
	}
	if _, err := svc.Answer(ctx, id1, "p-c1", Answer{CSAT: 1}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("a second answer: %v", err)
	}
	// A low score: a task, pushed to supervisors once.
	if _, err := svc.Answer(ctx, SurveyID(Conversation, "c2"), "p-c2", Answer{CSAT: 2}); err != nil {
		t.Fatal(err)
	}
	// A middling score with an angry comment: a task too.
	if _, err := svc.Answer(ctx, SurveyID(Conversation, "c3"), "p-c3", Answer{CSAT: 4, Comment: "the agent was rude and I waited forever"}); err != nil {
		t.Fatal(err)
	}
	if len(store.tasks) != 2 || store.tasks[SurveyID(Conversation, "c2")].Reason != "low score" || store.tasks[SurveyID(Conversation, "c3")].Reason != "negative comment" {
		t.Fatalf("tasks = %+v", store.tasks)
	}
	if len(out.told) != 2 || out.told[0].(TaskOpened).Task.Queue != "billing" || out.told[0].(TaskOpened).Task.AgentName != "Ana" {
		t.Fatalf("supervisors told %+v", out.told)
	}
	// Closed after a week.
	out.open["c9"] = true
	if err := svc.FollowUp(ctx, conversation("c9", "p9")); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(8 * 24 * time.Hour)
	if _, err := svc.Answer(ctx, SurveyID(Conversation, "c9"), "p9", Answer{CSAT: 3}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("an answer after the survey closed: %v", err)
	}
}

// countOnce counts KPI events once per key, as kpi.Recorder's marker does,
// and fails while down.
type countOnce struct {
	down   bool
	counts map[string]kpi.Event
}

func (c *countOnce) Record(_ context.Context, e kpi.Event) (bool, error) {
	if c.down {
		return false, fault.Errorf(fault.Internal, "throttled")
	}
	if _, ok := c.counts[e.Key]; ok {
		return false, nil
	}
	c.counts[e.Key] = e
	return true, nil
}

func TestEveryAnswerIsCountedOnceEvenWhenTheCountFirstFails(t *testing.T) {
	svc, store, out, _ := setup(t)
	figures := &countOnce{counts: map[string]kpi.Event{}}
	svc.figures = figures
	ctx := context.Background()
	out.open["c1"] = true
	if err := svc.FollowUp(ctx, conversation("c1", "p1")); err != nil {
		t.Fatal(err)
	}
	id := SurveyID(Conversation, "c1")

	// The answer is stored but its count fails: the patient sees an error.
	figures.down = true
	if _, err := svc.Answer(ctx, id, "p1", Answer{CSAT: 2}); err == nil {
		t.Fatal("an answer whose count failed reported success")
	}
	if len(figures.counts) != 0 || store.surveys[id].Answer == nil {
		t.Fatalf("after the failure: counts %v, stored answer %v", figures.counts, store.surveys[id].Answer)
	}

	// The patient sends it again: the first answer stands, and what it
	// left undone (its count, the low score's task) is done once.
	figures.down = false
	for range 2 {
		if _, err := svc.Answer(ctx, id, "p1", Answer{CSAT: 5}); fault.CodeOf(err) != fault.Conflict {
			t.Fatalf("answering again: %v", err)
		}
	}
	e, ok := figures.counts[kpi.Rated+"#"+id]
	if len(figures.counts) != 1 || !ok || e.Score != 2 || e.Queue != "billing" || e.AgentID != "a1" || e.ConversationID != "c1" {
		t.Fatalf("counts = %+v", figures.counts)
	}
	if len(store.tasks) != 1 || len(out.told) != 1 {
		t.Fatalf("%d tasks, %d told; want the low score's one task, told once", len(store.tasks), len(out.told))
	}
}
