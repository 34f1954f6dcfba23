package chat

import "time"

// The requests the service serves, one per patient action. The edge
// (shared/edge/patientws) decodes and validates the client's frame, then calls the
// matching method with one of these.

// StartRequest begins a new conversation.
type StartRequest struct {
	RequestID string
	Name      string
	Topic     string
	Locale    string
}

// ResumeRequest asks for the state and every message after After.
type ResumeRequest struct {
	RequestID string
	After     string
}

// SendRequest is a patient's message. Resending the same ClientMessageID
// never stores it twice. NoEcho: the sender shows its own message, so its
// connection gets the ack but not the message.
type SendRequest struct {
	RequestID       string
	ConversationID  string
	ClientMessageID string
	Text            string
	NoEcho          bool
}

// EndRequest ends the patient's conversation.
type EndRequest struct {
	RequestID      string
	ConversationID string
}

// What the service and the other patient-side functions tell clients. The
// fan-out's encoder (shared/edge/frames) renders each as the protocol's frame;
// a stored Message is told as itself.

// Session answers a start: the token that resumes the conversation.
type Session struct {
	RequestID      string
	Token          string
	ConversationID string
	PatientID      string
}

// Ack says a patient's message is stored, with the id it was given.
type Ack struct {
	RequestID string
	Message   Message
}

// Status is a conversation's state as its audience is shown it.
type Status struct {
	RequestID      string
	ConversationID string
	State          string // bot, waiting, assigned or closed
	// QueuePosition is the place in line while waiting (0: not told).
	QueuePosition int
	// AgentName names the agent once assigned ("": not told).
	AgentName string
	// At is when the conversation took the state; zero for a position
	// update, which never changes the state a client shows.
	At time.Time
	// Identity is IdentityVerified once the patient proved who they are
	// ("" otherwise): the page then offers the transcript by email.
	Identity string
}

// StatusOf is a conversation's state as the patient sees it, as of its
// last change (UpdatedAt, which every change of state sets).
func StatusOf(c Conversation) Status {
	return Status{ConversationID: c.ID, State: c.State.PatientState(), At: c.UpdatedAt, Identity: c.Identity}
}

// History answers a resume: the state when read and the messages after
// the one asked for. A long history comes in parts; all but the last say
// More.
type History struct {
	RequestID      string
	ConversationID string
	State          string
	At             time.Time
	Messages       []Message
	More           bool
}

// Typing says someone in the conversation is typing.
type Typing struct {
	ConversationID string
	Role           string
}

// Alert tells the agent who holds a conversation, and every supervisor, of
// a red flag the patient reported after the handoff.
type Alert struct {
	ConversationID string
	Priority       string
	State          string
	RedFlags       []string
	Summary        string
	At             time.Time
}
