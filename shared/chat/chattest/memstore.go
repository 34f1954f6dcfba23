// Package chattest holds what tests of the chat port share: an in-memory
// chat.Conversations and the contract every implementation keeps
// (ConversationsContract), run against it and against the DynamoDB
// adapter.
package chattest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// MemConversations keeps conversations and their messages in memory, with
// the semantics of the DynamoDB adapter: one gapless sequence per
// conversation, a client message stored once, bot turns answered once and
// in order, nothing appended after the close.
type MemConversations struct {
	mu    sync.Mutex
	convs map[string]*memConv
}

type memConv struct {
	c chat.Conversation
	// msgs are the conversation's messages in sequence order; closed is set
	// once the sequence has ended (a close, or a turn that closed it).
	msgs   []chat.Message
	closed bool
	// answered is the last bot turn's key (the message it answered) and
	// answeredBy its reply's id.
	answered, answeredBy string
}

var _ chat.Conversations = (*MemConversations)(nil)

// NewMemConversations returns an empty store.
func NewMemConversations() *MemConversations {
	return &MemConversations{convs: map[string]*memConv{}}
}

// Create stores a new conversation.
func (m *MemConversations) Create(_ context.Context, c chat.Conversation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.convs[c.ID]; ok {
		return fault.Errorf(fault.Conflict, "the conversation exists")
	}
	m.convs[c.ID] = &memConv{c: c}
	return nil
}

// Get returns a conversation; fault.NotFound for an unknown id.
func (m *MemConversations) Get(_ context.Context, id string) (chat.Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[id]
	if !ok {
		return chat.Conversation{}, fault.Errorf(fault.NotFound, "conversation not found")
	}
	return cv.c, nil
}

// ForTurn returns the conversation and, unless messageID is empty, the
// message a bot turn answers; fault.NotFound when either is missing (with
// the conversation when only the message is).
func (m *MemConversations) ForTurn(ctx context.Context, conversationID, messageID string) (chat.Conversation, chat.Message, error) {
	c, err := m.Get(ctx, conversationID)
	if err != nil || messageID == "" {
		return c, chat.Message{}, err
	}
	msg, err := m.Message(ctx, conversationID, messageID)
	return c, msg, err
}

// Update replaces a stored conversation (what other ports of the same
// table do to it in a test: an offer, an assignment).
func (m *MemConversations) Update(c chat.Conversation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cv, ok := m.convs[c.ID]; ok {
		cv.c = c
		return
	}
	m.convs[c.ID] = &memConv{c: c}
}

// Count is how many conversations are stored.
func (m *MemConversations) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.convs)
}

// Append stores a message with the next sequence number, or returns the
// one stored already under its client message id.
func (m *MemConversations) Append(_ context.Context, msg chat.Message) (chat.Message, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg.Follows = "" // a hint the adapter may use; the sequence here is in memory
	if msg.ClientMessageID == "" {
		// Without it a resend could not be told from a new message.
		return chat.Message{}, false, fmt.Errorf("appending to %s: a message needs a client message id", msg.ConversationID)
	}
	cv, ok := m.convs[msg.ConversationID]
	if !ok {
		return chat.Message{}, false, fault.Errorf(fault.NotFound, "conversation not found")
	}
	if prev, ok := cv.byClientID(msg.ClientMessageID); ok {
		return prev, true, nil
	}
	if cv.closed || cv.c.State == chat.StateClosed {
		return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
	}
	return cv.add(msg), false, nil
}

// AppendTurn stores a bot reply and applies the turn's change, once per
// turn, while the conversation is with the bot.
func (m *MemConversations) AppendTurn(_ context.Context, msg chat.Message, c chat.Change) (chat.Message, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[msg.ConversationID]
	if !ok {
		return chat.Message{}, false, fault.Errorf(fault.NotFound, "conversation not found")
	}
	key := c.Answers
	if key == "" {
		key = chat.MessageID(0) // the greeting
	}
	switch {
	case cv.answered == key && cv.answeredBy != "":
		for _, prev := range cv.msgs {
			if prev.ID == cv.answeredBy {
				return prev, true, nil
			}
		}
	case cv.closed || cv.c.State == chat.StateClosed:
		return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
	case cv.c.State != chat.StateBot:
		return chat.Message{}, false, fault.Errorf(fault.Conflict, "the conversation is no longer with the bot")
	case cv.answered > key:
		return chat.Message{}, false, fault.Errorf(fault.Conflict, "the bot has answered a later message")
	}
	stored := cv.add(msg)
	cv.answered, cv.answeredBy = key, stored.ID
	cv.c.BotReply = stored.ID
	cv.c.BotState, cv.c.UpdatedAt = c.BotState, msg.At
	if c.PatientEmail != "" {
		cv.c.PatientEmail = c.PatientEmail
	}
	if c.Verified != "" {
		cv.c.Identity, cv.c.VerifiedEmail = chat.IdentityVerified, c.Verified
	}
	if c.Handoff != nil {
		h := *c.Handoff
		cv.c.Handoff, cv.c.State = &h, chat.StateEscalated
	}
	if c.Close {
		cv.c.State, cv.closed = chat.StateClosed, true
	}
	return stored, false, nil
}

// Stored returns the message stored under a client message id, if any.
func (m *MemConversations) Stored(_ context.Context, conversationID, clientMessageID string) (chat.Message, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[conversationID]
	if !ok {
		return chat.Message{}, false, nil
	}
	prev, found := cv.byClientID(clientMessageID)
	return prev, found, nil
}

// Message returns one stored message; fault.NotFound if there is none.
func (m *MemConversations) Message(_ context.Context, conversationID, id string) (chat.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cv, ok := m.convs[conversationID]; ok {
		for _, msg := range cv.msgs {
			if msg.ID == id {
				return msg, nil
			}
		}
	}
	return chat.Message{}, fault.Errorf(fault.NotFound, "message not found")
}

// After returns the messages after afterID ("" for all), in order;
// fault.BadRequest when afterID is not a message id.
func (m *MemConversations) After(_ context.Context, conversationID, afterID string) ([]chat.Message, error) {
	var from int64
	if afterID != "" {
		seq, ok := chat.MessageSeq(afterID)
		if !ok {
			return nil, fault.Errorf(fault.BadRequest, "after is not a message id")
		}
		from = seq
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chat.Message
	if cv, ok := m.convs[conversationID]; ok {
		for _, msg := range cv.msgs {
			if msg.Seq > from {
				out = append(out, msg)
			}
		}
	}
	return out, nil
}

// Close ends an open conversation's sequence; fault.Conflict when it has
// ended already, fault.NotFound for an unknown one.
func (m *MemConversations) Close(_ context.Context, id string, at time.Time) (chat.Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[id]
	if !ok {
		return chat.Conversation{}, fault.Errorf(fault.NotFound, "conversation not found")
	}
	if cv.closed || cv.c.State == chat.StateClosed {
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation has already ended")
	}
	cv.c.State, cv.c.UpdatedAt, cv.closed = chat.StateClosed, at, true
	return cv.c, nil
}

// byClientID finds a message by its client id; the caller holds mu.
func (cv *memConv) byClientID(id string) (chat.Message, bool) {
	if id == "" {
		return chat.Message{}, false
	}
	for _, prev := range cv.msgs {
		if prev.ClientMessageID == id {
			return prev, true
		}
	}
	return chat.Message{}, false
}

// add appends msg with the next sequence number; the caller holds mu.
func (cv *memConv) add(msg chat.Message) chat.Message {
	msg.Seq = int64(len(cv.msgs) + 1)
	msg.ID = chat.MessageID(msg.Seq)
	cv.msgs = append(cv.msgs, msg)
	return msg
}

// MarkVerified records the identity a patient proved by signing in.
func (m *MemConversations) MarkVerified(_ context.Context, id, email string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[id]
	if !ok {
		return fault.Errorf(fault.NotFound, "conversation %s not found", id)
	}
	cv.c.Identity, cv.c.VerifiedEmail = chat.IdentityVerified, email
	return nil
}

// MarkTranscriptSent records, once, that the transcript was emailed.
func (m *MemConversations) MarkTranscriptSent(_ context.Context, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cv, ok := m.convs[id]
	if !ok || !cv.c.TranscriptSentAt.IsZero() {
		return false, nil
	}
	cv.c.TranscriptSentAt = at
	return true, nil
}
