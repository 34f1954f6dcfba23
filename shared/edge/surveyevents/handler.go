// Package surveyevents is the edge of the follow-up function: the
// conversations and scheduling streams become surveys (a conversation just
// closed, a visit just completed), and the patient API's survey route
// takes answers — from the chat by survey id, from the hosted survey page
// by its signed link.
package surveyevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/session"
	"github.com/patientservicecenter/psc/shared/survey"
)

// Service is what the handler needs of the surveys.
type Service interface {
	Config() *survey.Config
	FollowUp(ctx context.Context, src survey.Source) error
	ForPatient(ctx context.Context, id, patientID string) (survey.Survey, error)
	Answer(ctx context.Context, id, patientID string, a survey.Answer) (survey.Survey, error)
	OptOut(ctx context.Context, id, patientID string) error
}

// Links verifies survey links.
type Links interface {
	VerifyFor(purpose, token string) (session.Link, error)
}

// Connections admits a patient connection's frame and says whose it is.
type Connections interface {
	Admit(ctx context.Context, id string, now time.Time) (chat.Connection, error)
}

// Pusher delivers a frame to a connection.
type Pusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// Directory names providers and visit types for visit surveys.
type Directory interface {
	Provider(id string) (scheduling.Provider, bool)
	VisitType(id string) (scheduling.VisitType, bool)
}

// Handler serves the follow-up function.
type Handler struct {
	svc   Service
	links Links
	conns Connections
	push  Pusher
	dir   Directory
	log   *slog.Logger
}

// NewHandler returns a Handler.
func NewHandler(svc Service, l Links, c Connections, p Pusher, d Directory, log *slog.Logger) *Handler {
	return &Handler{svc: svc, links: l, conns: c, push: p, dir: d, log: log}
}

// Invoke serves both triggers: a WebSocket route's request (it has a
// route key) or a stream batch.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RequestContext struct {
			RouteKey string `json:"routeKey"`
		} `json:"requestContext"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.RequestContext.RouteKey != "" {
		var req events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("reading the request: %w", err)
		}
		return h.Message(ctx, req)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("reading the stream: %w", err)
	}
	return h.Stream(ctx, ev)
}

// Stream takes a batch of the conversations or the scheduling stream,
// stopping at the first failure so the stream retries from it in order.
func (h *Handler) Stream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		src, ok, err := h.source(r)
		if err == nil && ok {
			err = h.svc.FollowUp(ctx, src)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "follow-up failed", "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

// source reads what a record asks a survey for: a conversation that just
// closed, or a visit just recorded as completed.
func (h *Handler) source(r events.DynamoDBEventRecord) (survey.Source, bool, error) {
	if r.EventName == "REMOVE" || len(r.Change.NewImage) == 0 {
		return survey.Source{}, false, nil
	}
	if _, isAppointment := r.Change.NewImage["pk"]; isAppointment {
		newAV, err := ddb.FromStreamImage(r.Change.NewImage)
		if err != nil {
			return survey.Source{}, false, err
		}
		a, ok, err := ddb.AppointmentFromImage(newAV)
		if err != nil || !ok || a.State != scheduling.Completed {
			return survey.Source{}, false, err
		}
		if len(r.Change.OldImage) > 0 {
			oldAV, err := ddb.FromStreamImage(r.Change.OldImage)
			if err != nil {
				return survey.Source{}, false, err
			}
			if old, _, _ := ddb.AppointmentFromImage(oldAV); old.State == scheduling.Completed {
				return survey.Source{}, false, nil
			}
		}
		p, _ := h.dir.Provider(a.Slot.Provider)
		v, _ := h.dir.VisitType(a.Slot.VisitType)
		return survey.Source{Kind: survey.Visit, ID: a.ID, PatientID: a.PatientID, PatientEmail: a.PatientEmail, Locale: a.Locale,
			ConversationID: a.ConversationID, Queue: p.Specialty, AgentID: p.ID, AgentName: p.Name, Topic: v.Name.EN, At: a.Slot.End}, true, nil
	}
	c, err := ddb.ConversationFromImage(r.Change.NewImage)
	if err != nil || c.State != chat.StateClosed {
		return survey.Source{}, false, err
	}
	if old, _ := ddb.ConversationFromImage(r.Change.OldImage); old.State == chat.StateClosed {
		return survey.Source{}, false, nil
	}
	src := survey.Source{Kind: survey.Conversation, ID: c.ID, PatientID: c.PatientID, PatientEmail: c.PatientEmail, Locale: c.Locale,
		ConversationID: c.ID, Queue: c.Queue, AgentID: c.AgentID, AgentName: c.AgentName, Topic: c.Topic, At: c.UpdatedAt}
	if h := c.Handoff; h != nil {
		src.RedFlag = len(h.RedFlags) > 0 || h.Priority == "urgent"
		if src.Queue == "" {
			src.Queue = h.Queue
		}
	}
	if src.Queue == "" {
		src.Queue = "bot"
	}
	return src, true, nil
}

// FormFrame shows the survey page its questions.
type FormFrame struct {
	Type      string            `json:"type"` // "surveyForm"
	RequestID string            `json:"requestId,omitempty"`
	SurveyID  string            `json:"surveyId"`
	Kind      survey.Kind       `json:"kind"`
	Questions []QuestionView    `json:"questions"`
	Answered  bool              `json:"answered"`
	Closed    bool              `json:"closed"`
	Texts     map[string]string `json:"texts"`
}

// QuestionView is a question in the patient's language.
type QuestionView struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Min      int    `json:"min"`
	Max      int    `json:"max"`
	Required bool   `json:"required,omitempty"`
	Text     string `json:"text"`
}

// AnsweredFrame thanks the patient.
type AnsweredFrame struct {
	Type      string `json:"type"` // "surveyAnswered" or "surveyOptedOut"
	RequestID string `json:"requestId,omitempty"`
	SurveyID  string `json:"surveyId"`
	Text      string `json:"text"`
}

// Message serves the survey route.
func (h *Handler) Message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	f, err := protocol.DecodeOnRoute(req.RequestContext.RouteKey, []byte(req.Body), protocol.ActionSurvey)
	log := h.log.With("connection_id", connID, "route", req.RequestContext.RouteKey, "action", protocol.Loggable(f.Action), "request_id", req.RequestContext.RequestID)
	if err == nil {
		var frame any
		frame, err = h.act(ctx, connID, f)
		if err == nil {
			err = h.push.Push(ctx, connID, protocol.Encode(frame))
		}
	}
	return patientws.FrameOutcome(ctx, log, h.push, connID, f.RequestID, err), nil
}

func (h *Handler) act(ctx context.Context, connID string, f protocol.ClientFrame) (any, error) {
	conn, err := h.conns.Admit(ctx, connID, time.Now())
	if err != nil {
		return nil, err
	}
	id, patientID := f.SurveyID, conn.PatientID
	if f.Token != "" {
		link, err := h.links.VerifyFor(session.ForSurvey, f.Token)
		if errors.Is(err, session.ErrBadLink) {
			return nil, fault.Errorf(fault.Unauthorized, "this link is not valid or has expired")
		}
		if err != nil {
			return nil, err
		}
		id, patientID = link.AppointmentID, link.PatientID
	} else if patientID == "" {
		return nil, fault.Errorf(fault.Unauthorized, "start or resume a conversation first")
	}
	cfg := h.svc.Config()
	switch f.Decision {
	case protocol.DecisionView:
		sv, err := h.svc.ForPatient(ctx, id, patientID)
		if err != nil {
			return nil, err
		}
		form := FormFrame{Type: "surveyForm", RequestID: f.RequestID, SurveyID: sv.ID, Kind: sv.Kind, Answered: sv.Answer != nil,
			Closed: !time.Now().Before(sv.ExpiresAt), Texts: map[string]string{}}
		for _, q := range cfg.Kinds[sv.Kind] {
			form.Questions = append(form.Questions, QuestionView{ID: q.ID, Type: q.Type, Min: q.Min, Max: q.Max, Required: q.Required, Text: q.Text.In(sv.Locale)})
		}
		for k, t := range cfg.Texts {
			if !strings.HasPrefix(k, "email") {
				form.Texts[k] = t.In(sv.Locale)
			}
		}
		return form, nil
	case protocol.DecisionOptOut:
		if err := h.svc.OptOut(ctx, id, patientID); err != nil {
			return nil, err
		}
		return AnsweredFrame{Type: "surveyOptedOut", RequestID: f.RequestID, SurveyID: id}, nil
	default:
		sv, err := h.svc.Answer(ctx, id, patientID, survey.Answer{CSAT: f.Score, NPS: f.NPS, Comment: f.Comment})
		if err != nil {
			return nil, err
		}
		return AnsweredFrame{Type: "surveyAnswered", RequestID: f.RequestID, SurveyID: sv.ID, Text: cfg.Texts["thanks"].In(sv.Locale)}, nil
	}
}

// ChatReach reaches a conversation's open patient connections.
type ChatReach struct {
	Conns interface {
		ForConversation(ctx context.Context, conversationID string) ([]chat.Connection, error)
	}
	Patients interface {
		Broadcast(ctx context.Context, conversationID, except string, frame any) error
	}
}

// Connected reports whether the patient has the conversation open.
func (c ChatReach) Connected(ctx context.Context, conversationID string) (bool, error) {
	conns, err := c.Conns.ForConversation(ctx, conversationID)
	return len(conns) > 0, err
}

// Push sends the frame to the conversation's connections.
func (c ChatReach) Push(ctx context.Context, conversationID string, frame any) error {
	return c.Patients.Broadcast(ctx, conversationID, "", frame)
}
