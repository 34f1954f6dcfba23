// Package frames renders what the services tell clients as the protocol's
// frames (docs/protocol.md). The services (chat, agent, bot ...) push their
// own values — a stored message, a state change, an alert — and never the
// wire format; the fan-out encodes each with Encode, the one place where a
// domain value becomes a frame. Values that are frames already (built by
// an edge) are encoded as they are.
package frames

import (
	"encoding/json"
	"fmt"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/protocol"
)

// Encode renders v as its frame and marshals it.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(Frame(v))
	if err != nil {
		return nil, fmt.Errorf("encoding a %T frame: %w", v, err)
	}
	return b, nil
}

// Frame is v as the protocol's frame: a domain value rendered, anything
// else (a frame already) as it is.
func Frame(v any) any {
	switch v := v.(type) {
	case chat.Message:
		return Message(v)
	case chat.Session:
		return protocol.SessionFrame{Type: protocol.TypeSession, RequestID: v.RequestID, Session: v.Token, ConversationID: v.ConversationID, PatientID: v.PatientID}
	case chat.Ack:
		return protocol.AckFrame{Type: protocol.TypeAck, RequestID: v.RequestID, ClientMessageID: v.Message.ClientMessageID, MessageID: v.Message.ID, At: protocol.FormatTime(v.Message.At)}
	case chat.Status:
		return Status(v)
	case chat.History:
		h := protocol.HistoryFrame{Type: protocol.TypeHistory, RequestID: v.RequestID, ConversationID: v.ConversationID, State: v.State,
			At: timeOrEmpty(v), Messages: make([]protocol.MessageFrame, 0, len(v.Messages)), More: v.More}
		for _, m := range v.Messages {
			h.Messages = append(h.Messages, Message(m))
		}
		return h
	case chat.Typing:
		return protocol.TypingFrame{Type: protocol.TypeTyping, ConversationID: v.ConversationID, Role: v.Role}
	case chat.Alert:
		return protocol.AlertFrame{Type: protocol.TypeAlert, ConversationID: v.ConversationID, Priority: v.Priority, State: v.State,
			RedFlags: v.RedFlags, Summary: v.Summary, At: protocol.FormatTime(v.At)}
	}
	return v
}

// Message renders a stored message as the protocol's message frame.
func Message(m chat.Message) protocol.MessageFrame {
	return protocol.MessageFrame{
		Type: protocol.TypeMessage, ConversationID: m.ConversationID, MessageID: m.ID,
		From: protocol.Sender{Role: m.Role, Name: m.SenderName}, Text: m.Text, At: protocol.FormatTime(m.At), QuickReplies: m.QuickReplies,
	}
}

// Status renders a state change; a zero At (a position update) is left out.
func Status(s chat.Status) protocol.StatusFrame {
	f := protocol.StatusFrame{Type: protocol.TypeStatus, RequestID: s.RequestID, ConversationID: s.ConversationID, State: s.State, QueuePosition: s.QueuePosition}
	if s.AgentName != "" {
		f.Agent = &protocol.Agent{Name: s.AgentName}
	}
	if !s.At.IsZero() {
		f.At = protocol.FormatTime(s.At)
	}
	return f
}

func timeOrEmpty(h chat.History) string {
	if h.At.IsZero() {
		return ""
	}
	return protocol.FormatTime(h.At)
}
