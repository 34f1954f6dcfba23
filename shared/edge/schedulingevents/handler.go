// Package schedulingevents is the edge of the notify function: the scheduling
// stream's records become notices, the sweep schedule sends the reminders
// due, patients' texts (from the inbound-SMS queue) are answered, and
// system messages reach the patient's chat.
package schedulingevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Service is what the handler needs of the notices.
type Service interface {
	Changed(ctx context.Context, old, new *scheduling.Appointment) error
	SendDue(ctx context.Context) (int, error)
	Received(ctx context.Context, in notify.Incoming) error
}

// Handler serves the notify function's three triggers.
type Handler struct {
	svc Service
	log *slog.Logger
}

// NewHandler returns a Handler.
func NewHandler(svc Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Handle takes a batch of the scheduling stream (appointments that
// changed; held units are skipped), stopping at the first failure so the
// stream retries from it in order, or a scheduled sweep (no records).
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (events.DynamoDBEventResponse, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.DynamoDBEventResponse{}, fmt.Errorf("reading the event: %w", err)
	}
	var resp events.DynamoDBEventResponse
	if len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" {
		return h.texts(ctx, raw)
	}
	if len(ev.Records) == 0 || ev.Records[0].EventSource != "aws:dynamodb" {
		n, err := h.svc.SendDue(ctx)
		h.log.InfoContext(ctx, "reminder sweep", "sent", n)
		if err != nil {
			h.log.ErrorContext(ctx, "reminder sweep failed", "error", err)
		}
		// Reminders not sent are claimed or still due; the next sweep
		// goes on. A failing sweep is an alarm, not a retry.
		return resp, nil
	}
	for _, r := range ev.Records {
		old, err := image(r.Change.OldImage)
		var new *scheduling.Appointment
		if err == nil {
			new, err = image(r.Change.NewImage)
		}
		if err == nil && (old != nil || new != nil) {
			err = h.svc.Changed(ctx, old, new)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "notice failed", "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

// texts answers a batch of patients' texts from the inbound-SMS queue;
// the messages that failed are retried by the queue (and, after its
// retries, kept in its dead-letter queue), the others are not.
func (h *Handler) texts(ctx context.Context, raw json.RawMessage) (events.DynamoDBEventResponse, error) {
	var ev events.SQSEvent
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(raw, &ev); err != nil {
		return resp, fmt.Errorf("reading the event: %w", err)
	}
	for _, m := range ev.Records {
		in, err := ParseIncoming(m.Body)
		if err != nil {
			// Not a text: retrying cannot help; the queue's message is dropped.
			h.log.WarnContext(ctx, "inbound text unreadable", "message_id", m.MessageId, "error", err)
			continue
		}
		if err := h.svc.Received(ctx, in); err != nil {
			h.log.ErrorContext(ctx, "inbound text failed", "message_id", m.MessageId, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// maxIncoming bounds an inbound message (an SMS is at most a few
// segments; the queue allows 256 KiB).
const maxIncoming = 16 << 10

// ParseIncoming reads a text a patient sent, as AWS End User Messaging SMS
// publishes it to the inbound topic (two-way SMS): the JSON of
// originationNumber, messageBody and inboundMessageId, either raw (the
// queue's subscription delivers raw messages) or inside SNS's
// notification envelope.
func ParseIncoming(body string) (notify.Incoming, error) {
	if len(body) > maxIncoming {
		return notify.Incoming{}, fmt.Errorf("inbound message of %d bytes, more than %d", len(body), maxIncoming)
	}
	var envelope struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if err := json.Unmarshal([]byte(body), &envelope); err == nil && envelope.Type == "Notification" {
		body = envelope.Message
	}
	var m struct {
		From string `json:"originationNumber"`
		Body string `json:"messageBody"`
		ID   string `json:"inboundMessageId"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return notify.Incoming{}, fmt.Errorf("inbound message: %w", err)
	}
	if m.From == "" || m.ID == "" || len(m.ID) > 128 {
		return notify.Incoming{}, fmt.Errorf("inbound message without a sender or an id")
	}
	return notify.Incoming{ID: m.ID, From: m.From, Body: m.Body}, nil
}

// image decodes an appointment image; nil for no image or a held unit.
func image(img map[string]events.DynamoDBAttributeValue) (*scheduling.Appointment, error) {
	if len(img) == 0 {
		return nil, nil
	}
	av, err := ddb.FromStreamImage(img)
	if err != nil {
		return nil, err
	}
	a, ok, err := ddb.AppointmentFromImage(av)
	if err != nil || !ok {
		return nil, err
	}
	return &a, nil
}

// Appender reads a conversation and stores its messages once per client
// message id.
type Appender interface {
	Get(ctx context.Context, id string) (chat.Conversation, error)
	Append(ctx context.Context, m chat.Message) (chat.Message, bool, error)
}

// Broadcaster pushes a frame to a conversation's connections.
type Broadcaster interface {
	Broadcast(ctx context.Context, conversationID, except string, frame any) error
}

// ChatPoster posts notices in the chat as system messages.
type ChatPoster struct {
	Messages  Appender
	Patients  Broadcaster
	Retention time.Duration
}

// Post stores the notice in the conversation and pushes it to the
// patient's open connections; an ended conversation gets none.
func (p ChatPoster) Post(ctx context.Context, conversationID, clientMessageID, text string) error {
	c, err := p.Messages.Get(ctx, conversationID)
	if fault.Is(err, fault.NotFound) || (err == nil && c.State == chat.StateClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the conversation: %w", err)
	}
	now := time.Now()
	m, _, err := p.Messages.Append(ctx, chat.Message{ConversationID: conversationID, ClientMessageID: chat.NoticeClientID(clientMessageID), Role: chat.RoleSystem,
		SenderName: "Appointments", Text: text, At: now, ExpiresAt: now.Add(p.Retention)})
	if fault.Is(err, fault.Conflict) || fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("posting the notice: %w", err)
	}
	return p.Patients.Broadcast(ctx, conversationID, "", m)
}
