// Package botqueue is the edge between the bot-turn SQS FIFO queue and the
// bot: it decodes each request, takes the turn, and reports failures as
// partial batch failures in FIFO fashion (after the first failure, every
// later record is reported failed too, so a conversation's turns never
// overtake each other).
package botqueue

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/bot"
)

// Turns takes bot turns.
type Turns interface {
	Handle(ctx context.Context, r bot.Request) (bot.Outcome, error)
}

var _ Turns = (*bot.Turner)(nil)

// Handler serves the bot-turn queue.
type Handler struct {
	turns Turns
	log   *slog.Logger
}

// NewHandler returns a Handler.
func NewHandler(t Turns, log *slog.Logger) *Handler { return &Handler{turns: t, log: log} }

// Handle processes one batch.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	failed := false
	for _, rec := range ev.Records {
		if failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		var r bot.Request
		if err := json.Unmarshal([]byte(rec.Body), &r); err != nil || r.ConversationID == "" {
			// Unreadable: retried until the queue moves it to the DLQ for a person to look at.
			h.log.ErrorContext(ctx, "bot turn request unreadable", "sqs_message_id", rec.MessageId)
			failed = true
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		log := h.log.With("conversation_id", r.ConversationID, "message_id", r.MessageID, "receive_count", rec.Attributes["ApproximateReceiveCount"])
		out, err := h.turns.Handle(ctx, r)
		if err != nil {
			log.ErrorContext(ctx, "bot turn failed", "error", err)
			failed = true
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		attrs := []any{"replied", out.Replied, "duplicate", out.Duplicate}
		if out.Skipped != "" {
			attrs = append(attrs, "skipped", out.Skipped)
		}
		if hd := out.Handoff; hd != nil {
			// Which red flags, and why, are health information: they stay in
			// the conversation's record; the log keeps how urgent it was.
			attrs = append(attrs, "handoff", true, "handoff_priority", hd.Priority, "red_flag_count", len(hd.RedFlags))
		}
		log.InfoContext(ctx, "bot turn", attrs...)
	}
	return resp, nil
}
