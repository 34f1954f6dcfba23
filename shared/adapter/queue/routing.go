package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/shared/routing"
)

// RoutingRequest is the body of a routing-queue message: why routing
// should run. Routing always looks at every queue, so the reason is for
// the logs only.
type RoutingRequest struct {
	Reason string `json:"reason,omitempty"`
	// Check, when set, asks to take back this offer if it is still
	// pending (sent with a delay of the offer's timeout).
	Check *routing.OfferCheck `json:"check,omitempty"`
	// Assign, when set, is a supervisor's assignment to carry out.
	Assign *routing.Assignment `json:"assign,omitempty"`
}

// Routing asks the routing function to run, through its SQS queue.
type Routing struct {
	api API
	url string
}

var _ routing.Trigger = (*Routing)(nil)

// NewRouting returns a sender to the routing queue at url.
func NewRouting(api API, url string) *Routing { return &Routing{api: api, url: url} }

// RequestAssignment asks the routing function to offer a waiting
// conversation to the agent a supervisor chose.
func (q *Routing) RequestAssignment(ctx context.Context, conversationID, agentID, by string) error {
	body, err := json.Marshal(RoutingRequest{Reason: "assigned", Assign: &routing.Assignment{ConversationID: conversationID, AgentID: agentID, By: by}})
	if err != nil {
		return err
	}
	msg := string(body)
	if _, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: &msg}); err != nil {
		return fmt.Errorf("asking for an assignment: %w", err)
	}
	return nil
}

// RequestRouting enqueues a routing run.
func (q *Routing) RequestRouting(ctx context.Context, reason string) error {
	body, err := json.Marshal(RoutingRequest{Reason: reason})
	if err != nil {
		return fmt.Errorf("encoding routing request: %w", err)
	}
	if _, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: stringPtr(string(body))}); err != nil {
		return fmt.Errorf("requesting routing: %w", err)
	}
	return nil
}

// maxDelay is SQS's longest delivery delay.
const maxDelay = 15 * time.Minute

// CheckOfferLater enqueues an offer's expiry check, delivered after the
// offer's timeout (at most SQS's 15 minutes).
func (q *Routing) CheckOfferLater(ctx context.Context, check routing.OfferCheck, after time.Duration) error {
	body, err := json.Marshal(RoutingRequest{Reason: "offer check", Check: &check})
	if err != nil {
		return fmt.Errorf("encoding offer check: %w", err)
	}
	delay := int32(math.Ceil(min(after, maxDelay).Seconds()))
	if _, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: stringPtr(string(body)), DelaySeconds: delay}); err != nil {
		return fmt.Errorf("scheduling offer check: %w", err)
	}
	return nil
}
