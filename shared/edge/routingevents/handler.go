// Package routingevents is the edge of escalation and routing: it turns the
// conversations stream, the agents stream and the routing queue's
// messages into calls of the routing service.
package routingevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/adapter/queue"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Service is what the handlers need of the routing service.
type Service interface {
	Escalate(ctx context.Context, c chat.Conversation) error
	Route(ctx context.Context) error
	Expire(ctx context.Context, check routing.OfferCheck) error
	EndedWhileOffered(ctx context.Context, offer routing.OfferCheck) error
	Withdraw(ctx context.Context, offer routing.OfferCheck) error
	Assign(ctx context.Context, a routing.Assignment) error
}

// Handler serves the escalation and routing functions.
type Handler struct {
	svc Service
	log *slog.Logger
	// floor, when set, hears every change the supervisors' floor shows.
	floor Supervisors
	now   func() time.Time
	// figures, when set, counts the changes the KPIs are made of.
	figures *kpi.Recorder
	targets kpi.Targets
}

// WithFigures makes the conversations stream's handler count each change
// the KPIs are made of (once each: the recorder's store keeps a marker
// per event); a failure to count retries the record.
func (h *Handler) WithFigures(r kpi.Recorder, targets kpi.Targets) *Handler {
	h.figures, h.targets = &r, targets
	return h
}

// count records the KPI events of one change.
func (h *Handler) count(ctx context.Context, old, new chat.Conversation) error {
	if h.figures == nil {
		return nil
	}
	evs := kpi.Events(old, new, h.targets)
	if e, ok := kpi.WrapUp(old, new); ok {
		evs = append(evs, e)
	}
	for _, e := range evs {
		if _, err := h.figures.Record(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Supervisors tells every signed-in supervisor's console a frame.
type Supervisors interface {
	Tell(ctx context.Context, frame any) error
}

// WithFloor makes the conversations stream's handler push what changed
// on the floor to the supervisors' consoles: one frame per batch.
func (h *Handler) WithFloor(s Supervisors) *Handler {
	h.floor = s
	return h
}

// NewHandler returns a Handler.
func NewHandler(svc Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Escalations serves the conversations stream: each conversation that has
// just become escalated is put in its queue, and the offer of one its
// patient ended while offered is withdrawn; with WithFloor, what changed
// on the floor (state, queue, agent, wrap-up) goes to the supervisors.
//
// The batch's conversations are taken at the same time, each one's
// records in stream order (a batch is at most BatchSize records), so a
// handoff does not wait for the work on every record before it. A failure
// reports the batch's first failed record: the stream is retried from it,
// and what came after it, done or not, comes again (every step is
// idempotent: the queue's enqueue, the withdrawal, the KPIs' markers).
func (h *Handler) Escalations(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	// A record not reached (its conversation failed before it) keeps
	// the zero outcome: no error, no row.
	type outcome struct {
		err error
		row *agent.FloorRow
		id  string
	}
	outs := make([]outcome, len(ev.Records))
	groups := map[string][]int{}
	var order []string
	for i, r := range ev.Records {
		k := streamKey(r)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range order {
		idx := groups[k]
		wg.Go(func() {
			for _, i := range idx {
				id, row, err := h.escalation(ctx, ev.Records[i])
				outs[i] = outcome{err: err, row: row, id: id}
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	var resp events.DynamoDBEventResponse
	var changed []agent.FloorRow
	for i, o := range outs {
		if o.err != nil && len(resp.BatchItemFailures) == 0 {
			h.log.ErrorContext(ctx, "escalation failed", "conversation_id", o.id, "error", o.err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[i].Change.SequenceNumber})
		}
		if o.err == nil && o.row != nil {
			changed = append(changed, *o.row)
		}
	}
	h.tellFloor(ctx, changed)
	return resp, nil
}

// streamKey is the conversation a record of the conversations stream is
// about: its key, else its image's id ("" when neither says).
func streamKey(r events.DynamoDBEventRecord) string {
	for _, img := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.NewImage, r.Change.OldImage} {
		if v, ok := img["conversationId"]; ok && v.DataType() == events.DataTypeString {
			return v.String()
		}
	}
	return ""
}

// escalation handles one record of the conversations stream and returns
// the conversation's id and its floor row when the floor shows a change.
func (h *Handler) escalation(ctx context.Context, r events.DynamoDBEventRecord) (string, *agent.FloorRow, error) {
	if r.EventName == "REMOVE" {
		return "", nil, nil
	}
	c, err := ddb.ConversationFromImage(r.Change.NewImage)
	old, _ := ddb.ConversationFromImage(r.Change.OldImage)
	switch {
	case err != nil:
	case c.State == chat.StateEscalated && old.State != chat.StateEscalated:
		err = h.svc.Escalate(ctx, c)
	case c.State == chat.StateClosed && old.State == chat.StateOffered:
		// The patient ended it while it was offered.
		var offer routing.OfferCheck
		if offer, err = ddb.PendingOffer(r.Change.OldImage); err == nil && offer.AgentID != "" {
			err = h.svc.EndedWhileOffered(ctx, offer)
		}
	}
	if err == nil {
		err = h.count(ctx, old, c)
	}
	if err != nil {
		return c.ID, nil, err
	}
	if agent.FloorChanged(old, c) {
		row := agent.FloorRowOf(c)
		return c.ID, &row, nil
	}
	return c.ID, nil, nil
}

// tellFloor pushes the floor's changes to the supervisors. It is best
// effort: a console that missed one reads the whole floor again when it
// reconnects, and a failed push must not replay the batch's escalations.
func (h *Handler) tellFloor(ctx context.Context, rows []agent.FloorRow) {
	if h.floor == nil || len(rows) == 0 {
		return
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	if err := h.floor.Tell(ctx, agent.Floor{Conversations: rows, Changes: true, At: now()}); err != nil {
		h.log.WarnContext(ctx, "floor change not pushed", "conversations", len(rows), "error", err)
	}
}

// tellRoster pushes the agents whose presence or load changed to the
// supervisors' consoles, one frame per batch, best effort (as tellFloor).
func (h *Handler) tellRoster(ctx context.Context, ev events.DynamoDBEvent) {
	if h.floor == nil {
		return
	}
	var changed []agent.Agent
	for _, r := range ev.Records {
		if r.EventName == "REMOVE" {
			continue
		}
		n, err := ddb.AgentProfileFromImage(r.Change.NewImage)
		if err != nil || n.ID == "" {
			continue
		}
		o, _ := ddb.AgentProfileFromImage(r.Change.OldImage)
		if agent.RosterChanged(o, n) {
			changed = append(changed, n)
		}
	}
	if len(changed) == 0 {
		return
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	if err := h.floor.Tell(ctx, agent.Roster{Agents: changed, Changes: true, At: now()}); err != nil {
		h.log.WarnContext(ctx, "roster change not pushed", "agents", len(changed), "error", err)
	}
}

// Routing serves the routing function's triggers: the routing queue (a
// request to run), the agents stream (an agent became available, freed
// capacity or gained some) and the sweep schedule (an EventBridge
// "Scheduled Event": no records, so it always runs). One run looks at
// every queue, so a batch needs one run however many records it has.
//
// For the routing queue it reports partial batch failures: an offer check
// that failed comes back alone (and reaches the dead-letter queue after
// its retries) while the rest of the batch is done; a failed routing run
// fails the whole batch, which the next delivery runs again.
func (h *Handler) Routing(ctx context.Context, raw json.RawMessage) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return resp, fmt.Errorf("reading the event: %w", err)
	}
	if len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return resp, fmt.Errorf("reading the routing queue: %w", err)
		}
		for _, m := range ev.Records {
			var req queue.RoutingRequest
			if err := json.Unmarshal([]byte(m.Body), &req); err != nil {
				h.log.WarnContext(ctx, "unreadable routing request dropped", "message_id", m.MessageId)
				continue
			}
			if req.Assign != nil {
				if err := h.svc.Assign(ctx, *req.Assign); err != nil {
					h.log.ErrorContext(ctx, "assignment failed", "conversation_id", req.Assign.ConversationID, "error", err)
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				}
				continue
			}
			if req.Check != nil {
				act := h.svc.Expire
				if req.Check.Withdraw {
					act = h.svc.Withdraw
				}
				if err := act(ctx, *req.Check); err != nil {
					h.log.ErrorContext(ctx, "offer check failed", "conversation_id", req.Check.ConversationID, "error", err)
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				}
			}
		}
	}
	if len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:dynamodb" {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return resp, fmt.Errorf("reading the agents stream: %w", err)
		}
		h.tellRoster(ctx, ev)
		if !anyRoomMade(ev) {
			return resp, nil
		}
	}
	if err := h.svc.Route(ctx); err != nil {
		h.log.ErrorContext(ctx, "routing failed", "error", err)
		return resp, err
	}
	return resp, nil
}

// anyRoomMade reports whether a record of the agents stream can let a
// waiting conversation through: an agent became available, or freed or
// gained capacity.
func anyRoomMade(ev events.DynamoDBEvent) bool {
	for _, r := range ev.Records {
		if r.EventName == "REMOVE" {
			continue
		}
		n, err := ddb.AgentFromImage(r.Change.NewImage)
		if err != nil || n.Presence != "available" {
			continue
		}
		o, _ := ddb.AgentFromImage(r.Change.OldImage)
		if o.Presence != "available" || n.Active < o.Active || n.Capacity > o.Capacity {
			return true
		}
	}
	return false
}
