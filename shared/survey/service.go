package survey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/mailtext"
)

// Store keeps surveys, patients' survey preferences and follow-up tasks.
type Store interface {
	// Create stores a new survey and takes the patient's survey window in
	// one transaction: ErrExists when the survey exists (a redelivered
	// record), a *Suppressed when the patient opted out or had a survey
	// within the window.
	Create(ctx context.Context, s Survey, window time.Duration) error
	Get(ctx context.Context, id string) (Survey, error)
	SetDelivery(ctx context.Context, id, delivery string) error
	// Answer stores the answer if the survey has none and is still open:
	// a fault.Conflict otherwise.
	Answer(ctx context.Context, id string, a Answer) (Survey, error)
	OptOut(ctx context.Context, patientID string, at time.Time) error
	// AddTask stores a follow-up task once per survey (false when it was
	// there already).
	AddTask(ctx context.Context, t Task) (bool, error)
}

// ErrExists is returned by Store.Create for a survey already there.
var ErrExists = errors.New("survey exists")

// Suppressed says why a patient is not surveyed.
type Suppressed struct{ Reason string }

func (s *Suppressed) Error() string { return "survey suppressed: " + s.Reason }

// Chat reaches a conversation's open patient connections.
type Chat interface {
	// Connected reports whether the patient has the conversation open.
	Connected(ctx context.Context, conversationID string) (bool, error)
	Push(ctx context.Context, conversationID string, frame any) error
}

// Mailer sends a MIME message.
type Mailer interface {
	Send(ctx context.Context, to string, raw []byte) error
}

// Linker signs a survey's link.
type Linker interface {
	IssueFor(purpose, id, patientID string, expires time.Time) (string, error)
}

// Supervisors tells the connected supervisors a frame.
type Supervisors interface {
	Tell(ctx context.Context, frame any) error
}

// What the service tells clients. The fan-out's encoder (shared/edge/frames)
// renders each as the protocol's frame.
type (
	// Prompt is the survey asked in the chat: the intro and the CSAT
	// question, its scale, and the comment's prompt.
	Prompt struct {
		SurveyID string
		Question string
		Min, Max int
		Comment  string
	}
	// TaskOpened tells supervisors of a new follow-up task.
	TaskOpened struct{ Task Task }
)

// ServiceConfig holds the links and the sender.
type ServiceConfig struct {
	// PageURL is the hosted survey page; a link is PageURL?t=<token>.
	PageURL string
	// From is the email sender ("Name <address>").
	From string
}

// Service asks for and takes satisfaction surveys.
type Service struct {
	cfg   *Config
	lex   *Lexicon
	store Store
	chat  Chat
	mail  Mailer
	links Linker
	sups  Supervisors
	sc    ServiceConfig
	log   *slog.Logger
	now   func() time.Time
	// figures, when set, counts each answer in the KPIs.
	figures Counter
}

// Counter counts a KPI event once (kpi.Recorder).
type Counter interface {
	Record(ctx context.Context, e kpi.Event) (bool, error)
}

// Deps are a Service's configuration, ports, log and clock.
type Deps struct {
	Surveys     *Config
	Lexicon     *Lexicon
	Store       Store
	Chat        Chat
	Mail        Mailer
	Links       Linker
	Supervisors Supervisors
	Figures     Counter // optional: counts each answer's score in the KPIs
	Log         *slog.Logger
	Now         func() time.Time // nil: the clock
}

// NewService wires a Service.
func NewService(d Deps, sc ServiceConfig) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: d.Surveys, lex: d.Lexicon, store: d.Store, chat: d.Chat, mail: d.Mail, links: d.Links, sups: d.Supervisors, sc: sc, log: d.Log, now: d.Now, figures: d.Figures}
}

// Config is the service's survey configuration.
func (s *Service) Config() *Config { return s.cfg }

// FollowUp asks the one survey of a closed conversation or a completed
// visit: in the chat when the patient still has it open, else by email
// with a signed link, else not at all (recorded as undeliverable). A
// redelivered event delivers a survey not yet delivered and nothing else.
func (s *Service) FollowUp(ctx context.Context, src Source) error {
	sv, why := s.cfg.New(src, s.now())
	if why != "" {
		s.log.InfoContext(ctx, "no survey", "source_id", src.ID, "kind", string(src.Kind), "reason", why)
		return nil
	}
	var sup *Suppressed
	switch err := s.store.Create(ctx, sv, s.cfg.Window); {
	case errors.As(err, &sup):
		s.log.InfoContext(ctx, "no survey", "source_id", src.ID, "kind", string(src.Kind), "reason", sup.Reason)
		return nil
	case errors.Is(err, ErrExists):
		prev, gerr := s.store.Get(ctx, sv.ID)
		if gerr != nil {
			return gerr
		}
		if prev.Delivery != "" {
			return nil
		}
		sv = prev
	case err != nil:
		return fmt.Errorf("creating the survey: %w", err)
	}
	delivery, err := s.deliver(ctx, sv)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "survey asked", "survey_id", sv.ID, "source_id", src.ID, "kind", string(src.Kind), "delivery", delivery)
	return s.store.SetDelivery(ctx, sv.ID, delivery)
}

func (s *Service) deliver(ctx context.Context, sv Survey) (string, error) {
	if sv.ConversationID != "" {
		open, err := s.chat.Connected(ctx, sv.ConversationID)
		if err != nil {
			return "", err
		}
		if open {
			return "chat", s.chat.Push(ctx, sv.ConversationID, s.PromptFor(sv))
		}
	}
	if sv.PatientEmail == "" || s.sc.PageURL == "" {
		return "none", nil
	}
	tok, err := s.links.IssueFor("survey", sv.ID, sv.PatientID, sv.ExpiresAt)
	if err != nil {
		return "", err
	}
	link := s.sc.PageURL + "?t=" + tok
	if sv.Locale == "es" {
		link += "&lang=es" // the page speaks the survey's language
	}
	raw, err := s.email(sv, link)
	if err != nil {
		return "", err
	}
	if err := s.mail.Send(ctx, sv.PatientEmail, raw); err != nil {
		return "", fmt.Errorf("sending the survey email: %w", err)
	}
	return "email", nil
}

// PromptFor is the survey as the chat asks it: the intro and the CSAT
// question.
func (s *Service) PromptFor(sv Survey) Prompt {
	qs := s.cfg.Kinds[sv.Kind]
	comment := ""
	for _, q := range qs {
		if q.Type == "text" {
			comment = q.Text.In(sv.Locale)
		}
	}
	return Prompt{SurveyID: sv.ID, Question: s.cfg.Texts["intro"].In(sv.Locale) + " " + qs[0].Text.In(sv.Locale),
		Min: qs[0].Min, Max: qs[0].Max, Comment: comment}
}

func (s *Service) email(sv Survey, link string) ([]byte, error) {
	until := sv.ExpiresAt.Format("January 2")
	body := strings.NewReplacer("{link}", link, "{until}", until).Replace(s.cfg.Texts["emailBody"].In(sv.Locale))
	return mailtext.Message(s.sc.From, sv.PatientEmail, s.cfg.Texts["emailSubject"].In(sv.Locale), body)
}

// ForPatient reads the patient's survey (another patient's is not found).
func (s *Service) ForPatient(ctx context.Context, id, patientID string) (Survey, error) {
	sv, err := s.store.Get(ctx, id)
	if err != nil {
		return Survey{}, err
	}
	if sv.PatientID != patientID {
		return Survey{}, fault.Errorf(fault.NotFound, "survey not found")
	}
	return sv, nil
}

// Answer takes the patient's answer, once, while the survey is open; a
// poor one opens a follow-up task that connected supervisors hear of.
func (s *Service) Answer(ctx context.Context, id, patientID string, a Answer) (Survey, error) {
	sv, err := s.ForPatient(ctx, id, patientID)
	if err != nil {
		return Survey{}, err
	}
	if err := s.cfg.Check(sv, a); err != nil {
		return Survey{}, err
	}
	if sv.Answer != nil {
		// A retry after a failure finishes what the first answer left
		// undone (its count, its follow-up task); each happens once.
		if err := s.settle(ctx, sv, *sv.Answer); err != nil {
			return Survey{}, err
		}
		return Survey{}, fault.Errorf(fault.Conflict, "this survey was already answered")
	}
	now := s.now()
	if !now.Before(sv.ExpiresAt) {
		return Survey{}, fault.Errorf(fault.Conflict, "this survey has closed")
	}
	a.At = now.UTC()
	a.Sentiment = s.lex.Score(a.Comment)
	answered, err := s.store.Answer(ctx, id, a)
	if err != nil {
		return Survey{}, err
	}
	s.log.InfoContext(ctx, "survey answered", "survey_id", id, "csat", a.CSAT)
	return answered, s.settle(ctx, sv, a)
}

// settle does what follows an answer, once each however often it runs:
// its score counted in the KPIs, and a poor one's follow-up task opened
// (and told to the supervisors).
func (s *Service) settle(ctx context.Context, sv Survey, a Answer) error {
	if s.figures != nil {
		if _, err := s.figures.Record(ctx, kpi.Rating(sv.ID, sv.Source.ID, sv.Queue, sv.AgentID, a.CSAT, a.At)); err != nil {
			return fmt.Errorf("counting the answer: %w", err)
		}
	}
	reason, ok := s.cfg.FollowUp(a)
	if !ok {
		return nil
	}
	t := Task{ID: "tk" + strings.TrimPrefix(sv.ID, "sv"), SurveyID: sv.ID, Reason: reason, CSAT: a.CSAT, Comment: a.Comment, Queue: sv.Queue,
		AgentID: sv.AgentID, AgentName: sv.AgentName, PatientID: sv.PatientID, Kind: sv.Kind, CreatedAt: a.At}
	added, err := s.store.AddTask(ctx, t)
	if err != nil {
		return fmt.Errorf("adding the follow-up task: %w", err)
	}
	if added {
		s.log.InfoContext(ctx, "follow-up task", "task_id", t.ID, "survey_id", sv.ID, "reason", reason)
		if err := s.sups.Tell(ctx, TaskOpened{Task: t}); err != nil {
			s.log.WarnContext(ctx, "task not pushed to supervisors", "task_id", t.ID, "error", err)
		}
	}
	return nil
}

// OptOut records that the patient wants no more surveys.
func (s *Service) OptOut(ctx context.Context, id, patientID string) error {
	sv, err := s.ForPatient(ctx, id, patientID)
	if err != nil {
		return err
	}
	return s.store.OptOut(ctx, sv.PatientID, s.now())
}
