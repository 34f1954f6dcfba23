package routingevents

import (
	"context"
	"fmt"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Patients pushes a frame to a conversation's patient connections
// (fanout.Patients).
type Patients interface {
	Broadcast(ctx context.Context, conversationID, except string, frame any) error
}

// Consoles pushes a frame to staff consoles (fanout.Consoles).
type Consoles interface {
	ToAgent(ctx context.Context, agentID string, frame any) error
	Deliver(ctx context.Context, agentID string, frame any) (int, error)
	Tell(ctx context.Context, frame any) error
}

// Notifier turns what routing did into the protocol's frames
// (docs/protocol.md) and pushes them. Consoles may be nil where routing
// tells only patients (the escalation function).
type Notifier struct {
	Patients Patients
	Consoles Consoles
}

var _ routing.Notifier = Notifier{}

// Offer pushes an offer frame to the agent's consoles.
func (n Notifier) Offer(ctx context.Context, agentID string, o routing.OfferNote) (int, error) {
	if n.Consoles == nil {
		return 0, errNoConsoles
	}
	return n.Consoles.Deliver(ctx, agentID, frames.Offer(o))
}

// Place pushes a waiting status with the queue position and, when known,
// the queue's recent wait in whole seconds. It carries no "at": a
// position read from the queue index may be stale, and clients never let
// it take them out of a later state.
func (n Notifier) Place(ctx context.Context, conversationID string, position int, recentWait time.Duration) error {
	return n.Patients.Broadcast(ctx, conversationID, "", protocol.StatusFrame{Type: protocol.TypeStatus, ConversationID: conversationID,
		State: string(chat.StateWaiting), QueuePosition: position, RecentWaitSeconds: int(recentWait.Round(time.Second) / time.Second)})
}

// SetAway pushes the agent's new presence.
func (n Notifier) SetAway(ctx context.Context, agentID string) error {
	if n.Consoles == nil {
		return errNoConsoles
	}
	return n.Consoles.ToAgent(ctx, agentID, protocol.PresenceFrame{Type: "presence", Status: "away"})
}

// Withdrawn pushes the offered conversation's closed status.
func (n Notifier) Withdrawn(ctx context.Context, agentID, conversationID string) error {
	if n.Consoles == nil {
		return errNoConsoles
	}
	return n.Consoles.ToAgent(ctx, agentID, protocol.StatusFrame{Type: protocol.TypeStatus, ConversationID: conversationID, State: string(chat.StateClosed)})
}

// Assignment pushes the assignment frame to the supervisor.
func (n Notifier) Assignment(ctx context.Context, supervisorID string, o routing.AssignmentOutcome) error {
	if n.Consoles == nil {
		return errNoConsoles
	}
	return n.Consoles.ToAgent(ctx, supervisorID, protocol.AssignmentFrame{Type: "assignment", ConversationID: o.ConversationID,
		AgentID: o.AgentID, OK: o.OK, Reason: o.Reason})
}

// Stranded pushes an urgent alert to every supervisor console.
func (n Notifier) Stranded(ctx context.Context, a routing.StrandedAlert) error {
	if n.Consoles == nil {
		return errNoConsoles
	}
	flags := a.RedFlags
	if flags == nil {
		flags = []string{}
	}
	return n.Consoles.Tell(ctx, protocol.AlertFrame{Type: protocol.TypeAlert, ConversationID: a.ConversationID, Priority: routing.Urgent,
		State: string(chat.StateWaiting), RedFlags: flags, At: protocol.FormatTime(a.At),
		Summary: fmt.Sprintf("Urgent, waiting %d min in %s: no one available can take it", int(a.Waited.Minutes()), a.Queue)})
}

var errNoConsoles = fmt.Errorf("routing notifier: no consoles configured")
