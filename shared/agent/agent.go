// Package agent is the agent side of the service center: who an agent is
// (from the identity provider's verified token), their consoles'
// connections, their presence, and the rule that every action is checked
// against the caller's role. It has no AWS imports; the token verifier, the
// stores and the pusher are adapters.
package agent

import (
	"context"
	"slices"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Role is an identity-provider group.
type Role string

// The roles of the agent pool.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
)

// Identity is what a verified token says about its holder.
type Identity struct {
	AgentID   string // the token's subject
	Username  string
	Name      string
	Roles     []Role
	Skills    []string
	Languages []string
	Capacity  int
	ExpiresAt time.Time
}

// Has reports whether the identity has the role.
func (i Identity) Has(r Role) bool { return slices.Contains(i.Roles, r) }

// CanTakeConversations reports whether the identity may be offered
// conversations: agents and supervisors may, admins only administer.
func (i Identity) CanTakeConversations() bool { return i.Has(RoleAgent) || i.Has(RoleSupervisor) }

// Presence is an agent's availability.
type Presence string

// Presence states; only Available agents are offered conversations.
const (
	Available Presence = "available"
	Busy      Presence = "busy"
	Away      Presence = "away"
	Offline   Presence = "offline"
)

// Agent is an agent's record: their profile as the identity provider last
// told it, and their presence.
type Agent struct {
	ID        string
	Name      string
	Roles     []Role
	Skills    []string
	Languages []string
	Capacity  int
	Presence  Presence
	// Since is when the presence last changed.
	Since time.Time
	// Active counts the conversations offered to or held by the agent.
	Active int
}

// Connection is an agent console's open WebSocket.
type Connection struct {
	ID             string
	AgentID        string
	Roles          []Role
	ConnectedAt    time.Time
	TokenExpiresAt time.Time
	// ExpiresAt is when the record may be removed (TTL), well after the
	// token expires.
	ExpiresAt time.Time
}

// SignedIn reports whether the console's sign-in is still valid at now:
// an expired one gets no action answered and no frame pushed.
func (c Connection) SignedIn(now time.Time) bool { return now.Before(c.TokenExpiresAt) }

// Verifier checks an identity-provider token: signature against the pool's
// keys, issuer, audience (the console's client), expiry. It returns a
// fault.Unauthorized error for any token it does not accept.
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

// Agents stores agents' records.
type Agents interface {
	Get(ctx context.Context, agentID string) (Agent, error)
	// SaveProfile records the identity's profile; a new agent starts
	// Offline, a known one keeps their presence.
	SaveProfile(ctx context.Context, id Identity, now time.Time) error
	// SetPresence changes the agent's presence and returns the record.
	SetPresence(ctx context.Context, agentID string, p Presence, now time.Time) (Agent, error)
	// All lists every agent's record (staff: tens to hundreds).
	All(ctx context.Context) ([]Agent, error)
}

// Connections stores agents' console connections.
type Connections interface {
	Put(ctx context.Context, c Connection) error
	// Admit counts a frame against the connection's rate limit and returns
	// the connection (fault.NotFound when it is gone, fault.RateLimited).
	Admit(ctx context.Context, id string, now time.Time) (Connection, error)
	// Delete removes the connection and returns what it was (ok false when
	// there was none).
	Delete(ctx context.Context, id string) (Connection, bool, error)
	ForAgent(ctx context.Context, agentID string) ([]Connection, error)
}

// Pusher sends an encoded frame to a connection. A gone connection is not
// an error.
type Pusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// Assignments are the transitions of a conversation between routing and
// its agent, each one conditional write or transaction.
type Assignments interface {
	// Accept makes the agent's unexpired offer an assignment.
	Accept(ctx context.Context, conversationID, agentID, agentName string, now time.Time) (chat.Conversation, error)
	// Release puts an offered conversation back in its queue and frees the
	// agent's capacity; why decides whether it may be offered to them again
	// and whether they are set away.
	Release(ctx context.Context, conversationID, agentID, offerID string, why routing.ReleaseReason, now time.Time) (bool, error)
	// Finish closes the agent's conversation with a disposition and frees
	// their capacity.
	// steps are the script steps the agent says were done, kept with the
	// disposition.
	Finish(ctx context.Context, conversationID, agentID, disposition string, steps []string, now time.Time) (chat.Conversation, error)
	// Transfer puts the agent's conversation in another queue and frees
	// their capacity; it returns the conversation's new place.
	// HandBack gives the agent's conversation back to the bot, with the
	// dialog state it resumes in, and frees their capacity.
	HandBack(ctx context.Context, conversationID, agentID, botState string, now time.Time) (chat.Conversation, error)
	// note says who hands it on and why, for the next agent.
	Transfer(ctx context.Context, conversationID, agentID, queue string, note chat.Transfer, now time.Time) (routing.Waiting, error)
	// Held lists the conversations the agent holds, until wrap-up.
	Held(ctx context.Context, agentID string) ([]chat.Conversation, error)
	// Offered lists the conversations offered to the agent and not yet
	// taken, released or lapsed.
	Offered(ctx context.Context, agentID string) ([]chat.Conversation, error)
}

// Conversations reads conversations and stores agents' messages and notes.
type Conversations interface {
	Get(ctx context.Context, id string) (chat.Conversation, error)
	Append(ctx context.Context, m chat.Message) (chat.Message, bool, error)
	// Stored returns the message stored under a client message id, if any.
	Stored(ctx context.Context, conversationID, clientMessageID string) (chat.Message, bool, error)
	After(ctx context.Context, conversationID, afterID string) ([]chat.Message, error)
	AddNote(ctx context.Context, n chat.Note) error
	Notes(ctx context.Context, conversationID string) ([]chat.Note, error)
}

// Patients tells a conversation's patient connections a frame.
type Patients interface {
	Broadcast(ctx context.Context, conversationID, except string, frame any) error
}

// Trigger asks routing to run.
type Trigger interface {
	RequestRouting(ctx context.Context, reason string) error
}

// Assigner asks routing to offer a waiting conversation to the agent a
// supervisor chose.
type Assigner interface {
	RequestAssignment(ctx context.Context, conversationID, agentID, by string) error
}

// AuditEntry is one read of a patient's context by a person.
type AuditEntry struct {
	PatientID      string
	ConversationID string
	ReaderID       string
	ReaderRole     string
	What           string // what was read
	Why            string // the reason given
	At             time.Time
}

// Audit records reads of patient context; a read that cannot be recorded
// is not shown.
type Audit interface {
	Record(ctx context.Context, e AuditEntry) error
}
