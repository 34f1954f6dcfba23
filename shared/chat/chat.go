// Package chat holds the rules of a patient conversation: starting one,
// storing messages exactly once and in order, resuming after a reconnect,
// typing and ending. It speaks to storage and to connections through the
// small interfaces below; adapters in shared/adapter/ddb and shared/adapter/push implement
// them on AWS.
package chat

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/patientservicecenter/psc/shared/fanout"
	"github.com/patientservicecenter/psc/shared/session"
)

// State is a conversation's state.
type State string

// Conversation states.
const (
	StateBot State = "bot"
	// StateEscalated: the bot handed off; the escalation function has not
	// queued it yet. Patients see it as waiting.
	StateEscalated State = "escalated"
	StateWaiting   State = "waiting"
	// StateOffered: offered to an agent who has not accepted yet.
	StateOffered  State = "offered"
	StateAssigned State = "assigned"
	StateClosed   State = "closed"
)

// PatientState is the state a patient is shown: bot, waiting, assigned or closed.
func (s State) PatientState() string {
	if s == StateEscalated || s == StateOffered {
		return string(StateWaiting)
	}
	return string(s)
}

// Handoff is the context the bot hands to a person: where the
// conversation should go, how urgently, and why.
type Handoff struct {
	Queue       string            `json:"queue" dynamodbav:"queue"`
	Priority    string            `json:"priority" dynamodbav:"priority"` // urgent, high or normal
	Language    string            `json:"language" dynamodbav:"language"`
	Reason      string            `json:"reason" dynamodbav:"reason"`
	TriageLevel string            `json:"triageLevel,omitempty" dynamodbav:"triageLevel,omitempty"`
	RedFlags    []string          `json:"redFlags,omitempty" dynamodbav:"redFlags,omitempty"`
	Collected   map[string]string `json:"collected,omitempty" dynamodbav:"collected,omitempty"`
	Summary     string            `json:"summary" dynamodbav:"summary"`
	At          time.Time         `json:"at" dynamodbav:"at"`
}

// Change is what a bot turn changes on its conversation, in the same
// write that stores its reply.
type Change struct {
	BotState string   // the dialog state to keep (opaque to chat)
	Handoff  *Handoff // when set, the conversation moves from bot to escalated
	// PatientEmail, when set, is the address the patient gave (for
	// confirmations and the follow-up survey).
	PatientEmail string
	// Close closes the conversation: the bot resolved it.
	Close bool
	// Verified, when set, is the address the patient proved they own in
	// this turn (a one-time code): the conversation's identity level is
	// verified from then on.
	Verified string
	// Answers is the id of the patient's message the turn answers ("" for
	// the greeting): a stored message (the turn has read it; a store may
	// place the reply right after it without reading the sequence). Turns
	// answer in order, so a turn for a message at or before the last one
	// answered is a redelivery and stores nothing.
	Answers string
}

// Client message ids of a conversation share one space, so the ones the
// server makes for agents and notices carry a '#', which a patient's id
// (protocol: letters, digits and ._:-) never does: a patient cannot take
// an agent's id and make the agent's message look like a resend.

// IdentityVerified is the identity level of a conversation whose patient
// typed the one-time code sent to the email on file for them.
const IdentityVerified = "verified"

// AgentClientID is the stored client message id of an agent's message.
func AgentClientID(id string) string { return "agent#" + id }

// NoticeClientID is the stored client message id of a system notice.
func NoticeClientID(id string) string { return "notice#" + id }

// Roles of message senders and connections.
const (
	RolePatient = "patient"
	RoleBot     = "bot"
	RoleAgent   = "agent"
	RoleSystem  = "system"
)

// Conversation is one patient conversation.
type Conversation struct {
	ID          string
	PatientID   string
	PatientName string
	Topic       string
	Locale      string
	State       State
	BotState    string
	Handoff     *Handoff
	// AgentID and AgentName are the agent who holds the conversation
	// (assigned), or held it last.
	AgentID   string
	AgentName string
	// OfferedTo is the agent an offered conversation waits on (empty in
	// any other state), until OfferExpiresAt.
	OfferedTo      string
	OfferExpiresAt time.Time
	// Disposition is the agent's wrap-up of a conversation they closed.
	Disposition string
	// Identity is the patient's identity level: "" (anonymous) or
	// IdentityVerified, with the address they proved they own.
	Identity      string
	VerifiedEmail string
	// TranscriptSentAt is when its transcript was emailed (zero: never).
	TranscriptSentAt time.Time
	// PatientEmail is the address the patient gave in the conversation.
	PatientEmail string
	// Queue is the queue routing last put the conversation in.
	Queue string
	// Transfer is the last agent's handing on of the conversation, which
	// the next agent is told.
	Transfer *Transfer
	// Watchers are the supervisors monitoring it: their consoles hear
	// what its agent hears. Barged are those of them who joined it and may
	// write to the patient.
	Watchers []string
	Barged   []string
	// BotReply is the id of the bot's last reply (empty before its
	// first).
	BotReply string
	// AssignedAt is when its agent accepted it (zero before).
	AssignedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
}

// Transfer is an agent's handing on of a conversation they held: who,
// why, and to whom (a queue, or a named agent).
type Transfer struct {
	By     string // the transferring agent's name
	Reason string
	To     string // the queue, or the agent's name
	At     time.Time
}

// MessageID is the id of the message with sequence number seq in its
// conversation: ids sort in conversation order, which resume relies on.
func MessageID(seq int64) string { return fmt.Sprintf("m%012d", seq) }

// MessageSeq is the sequence number of a message id (ok false when id is
// not one).
func MessageSeq(id string) (seq int64, ok bool) {
	if len(id) != 13 || id[0] != 'm' {
		return 0, false
	}
	for _, c := range id[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseInt(id[1:], 10, 64)
	return seq, err == nil
}

// Message is one stored message. ID is MessageID(Seq).
type Message struct {
	ConversationID  string
	ID              string
	Seq             int64
	ClientMessageID string
	Role            string
	SenderName      string
	Text            string
	QuickReplies    []string
	At              time.Time
	ExpiresAt       time.Time
	// Follows, on a message to append, is the id of the message it most
	// likely comes right after, when the writer knows it (the bot's last
	// reply, for a patient writing to the bot): a store may try the slot
	// after it before reading the sequence. A hint only, never stored.
	Follows string
}

// Connection is one open WebSocket connection.
type Connection struct {
	ID             string
	Role           string
	PatientID      string
	ConversationID string
	ConnectedAt    time.Time
	ExpiresAt      time.Time
}

// Conversations stores conversations and their messages.
type Conversations interface {
	Create(ctx context.Context, c Conversation) error
	// Get returns a fault.NotFound error for an unknown id.
	Get(ctx context.Context, id string) (Conversation, error)
	// Append stores m with the conversation's next sequence number, unless a
	// message with the same ClientMessageID is stored already: then it
	// returns that one and duplicate=true. A closed conversation is a
	// fault.Conflict; callers check the state first (see the ddb adapter).
	Append(ctx context.Context, m Message) (stored Message, duplicate bool, err error)
	// After returns the messages after the id afterID ("" for all), in order.
	After(ctx context.Context, conversationID, afterID string) ([]Message, error)
	// AppendTurn stores a bot reply like Append and applies the turn's
	// change in the same write, only while the conversation is in bot
	// state (fault.Conflict otherwise). A redelivered turn (the same
	// Change.Answers) finds its reply and changes nothing.
	AppendTurn(ctx context.Context, m Message, c Change) (stored Message, duplicate bool, err error)
	// ForTurn returns the conversation and, unless messageID is empty, the
	// message a bot turn answers, in one read where the store can;
	// fault.NotFound when either is missing (with the conversation when
	// only the message is).
	ForTurn(ctx context.Context, conversationID, messageID string) (Conversation, Message, error)
	// Stored returns the message stored for a client message id, if any.
	Stored(ctx context.Context, conversationID, clientMessageID string) (Message, bool, error)
	// Message returns one stored message.
	Message(ctx context.Context, conversationID, messageID string) (Message, error)
	// Close moves an open conversation to closed; closing a closed one is a
	// fault.Conflict.
	Close(ctx context.Context, id string, at time.Time) (Conversation, error)
}

// Connections stores open connections.
type Connections interface {
	Put(ctx context.Context, c Connection) error
	// Admit counts one frame against the connection's rate limit and
	// returns the connection: fault.RateLimited over the limit,
	// fault.NotFound for a connection that is gone.
	Admit(ctx context.Context, id string, now time.Time) (Connection, error)
	// Bind attaches the connection to a patient's conversation.
	Bind(ctx context.Context, id, patientID, conversationID string) error
	// CountStart counts a new conversation against the caps: perConnection
	// on one connection, perPatient for one patient (a session) in a UTC
	// day. Over either it is fault.RateLimited and counts nothing more.
	CountStart(ctx context.Context, id, patientID string, now time.Time, perConnection, perPatient int) error
	Delete(ctx context.Context, id string) error
	// ForConversation lists the connections bound to a conversation.
	ForConversation(ctx context.Context, conversationID string) ([]Connection, error)
}

// ErrGone is returned by a Pusher for a connection that no longer exists.
var ErrGone = fanout.ErrGone

// Pusher sends a frame to one connection.
type Pusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// Sessions issues and verifies patient session tokens.
type Sessions interface {
	Issue(patientID, conversationID string) (string, session.Claims, error)
	Verify(token string) (session.Claims, error)
}

// Note is an agent's private note on a conversation; patients never see
// notes.
type Note struct {
	ConversationID string
	AgentID        string
	AgentName      string
	Text           string
	At             time.Time
	ExpiresAt      time.Time
}
