// Package botturn is the edge between the bot-turn SQS FIFO queue and the
// bot: it decodes each request, takes the turn, and reports failures as
// partial batch failures in FIFO fashion. A batch holds the turns of
// several conversations (message groups): each conversation's turns are
// taken in order, the conversations side by side; after a failure every
// later record of that conversation is reported failed too, so its turns
// never overtake each other, while the other conversations go on.
package botturn

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

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
	var groups [][]int // record indexes per message group, in batch order
	at := map[string]int{}
	for i, rec := range ev.Records {
		// A record without a group (not from a FIFO queue) joins one
		// sequence with the others like it.
		g := rec.Attributes["MessageGroupId"]
		k, ok := at[g]
		if !ok {
			k = len(groups)
			at[g] = k
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], i)
	}
	failed := make([]bool, len(ev.Records))
	var wg sync.WaitGroup
	for _, idx := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, i := range idx {
				if !h.take(ctx, ev.Records[i]) {
					for _, j := range idx[k:] {
						failed[j] = true
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// take takes one turn and reports whether it succeeded.
func (h *Handler) take(ctx context.Context, rec events.SQSMessage) bool {
	var r bot.Request
	if err := json.Unmarshal([]byte(rec.Body), &r); err != nil || r.ConversationID == "" {
		// Unreadable: retried until the queue moves it to the DLQ for a person to look at.
		h.log.ErrorContext(ctx, "bot turn request unreadable", "sqs_message_id", rec.MessageId)
		return false
	}
	log := h.log.With("conversation_id", r.ConversationID, "message_id", r.MessageID, "receive_count", rec.Attributes["ApproximateReceiveCount"])
	out, err := h.turns.Handle(ctx, r)
	if err != nil {
		log.ErrorContext(ctx, "bot turn failed", "error", err)
		return false
	}
	attrs := []any{"replied", out.Replied, "duplicate", out.Duplicate}
	if out.Skipped != "" {
		attrs = append(attrs, "skipped", out.Skipped)
	}
	if hd := out.Handoff; hd != nil {
		attrs = append(attrs, "handoff_queue", hd.Queue, "handoff_priority", hd.Priority, "handoff_reason", hd.Reason, "red_flags", hd.RedFlags)
	}
	log.InfoContext(ctx, "bot turn", attrs...)
	return true
}
