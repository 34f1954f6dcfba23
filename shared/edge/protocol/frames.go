// Package protocol is the WebSocket protocol of docs/protocol.md: the client
// frames (decoded and validated here, before any domain call) and the server
// frames, and the one mapping from errors to error frames.
package protocol

import (
	"encoding/json"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Server frame types.
const (
	TypeSession = "session"
	TypeAck     = "ack"
	TypeMessage = "message"
	TypeStatus  = "status"
	TypeHistory = "history"
	TypeTyping  = "typing"
	TypeError   = "error"
	TypeAlert   = "alert" // agent API: a red flag after the handoff
)

// TimeFormat is RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t as the protocol does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Sender says who wrote a message.
type Sender struct {
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
}

// SessionFrame answers start.
type SessionFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	Session        string `json:"session"`
	ConversationID string `json:"conversationId"`
	PatientID      string `json:"patientId"`
}

// AckFrame says a message is stored.
type AckFrame struct {
	Type            string `json:"type"`
	RequestID       string `json:"requestId,omitempty"`
	ClientMessageID string `json:"clientMessageId"`
	MessageID       string `json:"messageId"`
	At              string `json:"at"`
}

// MessageFrame is one message of a conversation.
type MessageFrame struct {
	Type           string   `json:"type"`
	ConversationID string   `json:"conversationId"`
	MessageID      string   `json:"messageId"`
	From           Sender   `json:"from"`
	Text           string   `json:"text"`
	At             string   `json:"at"`
	QuickReplies   []string `json:"quickReplies,omitempty"`
}

// Agent names the agent who owns a conversation.
type Agent struct {
	Name string `json:"name"`
}

// StatusFrame tells a conversation's state.
type StatusFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	State          string `json:"state"`
	QueuePosition  int    `json:"queuePosition,omitempty"`
	// RecentWaitSeconds, with a queue position, is how long the queue's
	// patients waited lately (the mean of the last hour or two; absent
	// when too few were answered to say).
	RecentWaitSeconds int    `json:"recentWaitSeconds,omitempty"`
	Agent             *Agent `json:"agent,omitempty"`
	// Identity is "verified" once the patient proved who they are.
	Identity string `json:"identity,omitempty"`
	// At is when the conversation took this state. Frames of one
	// conversation may arrive out of order (pushed by different functions,
	// a push retried): a client keeps the state with the latest At. A
	// frame without it (a queue position update, read from an eventually
	// consistent index) never changes the state a client shows, only the
	// position while it waits.
	At string `json:"at,omitempty"`
}

// HistoryFrame answers resume.
type HistoryFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	State          string `json:"state"`
	// At is when the state was read: it is the latest as of then.
	At       string         `json:"at,omitempty"`
	Messages []MessageFrame `json:"messages"`
	// More says another history frame follows (a long history is split).
	More bool `json:"more,omitempty"`
}

// TypingFrame says someone is typing.
type TypingFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversationId"`
	Role           string `json:"role"`
}

// ErrorFrame reports a refused frame.
type ErrorFrame struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
	// Alternatives are open slots offered instead of one just taken.
	Alternatives []SlotView `json:"alternatives,omitempty"`
}

// NewErrorFrame maps err to its error frame. This is the one place where
// errors become protocol codes; internal errors say only "internal error".
func NewErrorFrame(err error, requestID string) ErrorFrame {
	return ErrorFrame{Type: TypeError, Code: string(fault.CodeOf(err)), Message: fault.MessageOf(err), RequestID: requestID}
}

// Encode marshals a server frame. Server frames are plain structs, so
// marshalling cannot fail; a failure is a programming error worth a panic.
func Encode(frame any) []byte {
	b, err := json.Marshal(frame)
	if err != nil {
		panic("protocol: encoding frame: " + err.Error())
	}
	return b
}

// SignedInFrame answers signIn: the conversation is verified as the
// (masked) email the identity provider proved.
type SignedInFrame struct {
	Type           string `json:"type"` // "signedIn"
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	Email          string `json:"email"`
}

// TranscriptFrame answers transcript: the transcript went to the masked
// address.
type TranscriptFrame struct {
	Type           string `json:"type"` // "transcript"
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	To             string `json:"to"`
}
