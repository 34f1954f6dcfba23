package protocol

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Client actions of the agent API.
const (
	ActionPresence = "presence"
	ActionAccept   = "accept"
	ActionDecline  = "decline"
	ActionClose    = "close"
	// ActionSend and ActionTyping are shared with the patient API.
)

// MaxDispositionRunes bounds a close's disposition.
const MaxDispositionRunes = 100

// Agent presence states.
const (
	PresenceAvailable = "available"
	PresenceBusy      = "busy"
	PresenceAway      = "away"
	PresenceOffline   = "offline"
)

// AgentFrame is a decoded, validated frame of the agent API. Only the
// fields of its action are set.
type AgentFrame struct {
	Action          string `json:"action"`
	RequestID       string `json:"requestId,omitempty"`
	Status          string `json:"status,omitempty"`
	ConversationID  string `json:"conversationId,omitempty"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
	Text            string `json:"text,omitempty"`
	Disposition     string `json:"disposition,omitempty"`
}

type rawAgentFrame struct {
	Action          json.RawMessage `json:"action"`
	RequestID       json.RawMessage `json:"requestId"`
	Status          json.RawMessage `json:"status"`
	ConversationID  json.RawMessage `json:"conversationId"`
	ClientMessageID json.RawMessage `json:"clientMessageId"`
	Text            json.RawMessage `json:"text"`
	Disposition     json.RawMessage `json:"disposition"`
}

// DecodeAgent decodes and validates a frame of the agent API. On error the
// returned frame still carries the requestId when one could be read.
func DecodeAgent(body []byte) (AgentFrame, error) {
	var f AgentFrame
	var raw rawAgentFrame
	var err error
	if f.RequestID, f.Action, err = envelope(body, &raw, &raw.RequestID, &raw.Action); err != nil {
		return f, err
	}
	switch f.Action {
	case ActionPresence:
		if f.Status, err = str(raw.Status, "status"); err != nil {
			return f, err
		}
		switch f.Status {
		case PresenceAvailable, PresenceBusy, PresenceAway, PresenceOffline:
			return f, nil
		}
		return f, fault.Errorf(fault.BadRequest, "status must be available, busy, away or offline")
	case ActionAccept, ActionDecline, ActionTyping:
		return f, agentConversationRef(&f, raw)
	case ActionSend:
		f.ConversationID, f.ClientMessageID, f.Text, err = sendFields(raw.ConversationID, raw.ClientMessageID, raw.Text)
		return f, err
	case ActionClose:
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Disposition, err = str(raw.Disposition, "disposition"); err != nil {
			return f, err
		}
		f.Disposition = strings.TrimSpace(f.Disposition)
		if f.Disposition == "" || !utf8.ValidString(f.Disposition) || utf8.RuneCountInString(f.Disposition) > MaxDispositionRunes {
			return f, fault.Errorf(fault.BadRequest, "disposition is required, at most %d characters", MaxDispositionRunes)
		}
		return f, nil
	case "":
		return f, fault.Errorf(fault.BadRequest, "action is required")
	default:
		return f, fault.Errorf(fault.BadRequest, "unknown action %q", truncate(f.Action, 32))
	}
}

func agentConversationRef(f *AgentFrame, raw rawAgentFrame) error {
	var err error
	f.ConversationID, err = conversationID(raw.ConversationID)
	return err
}

// AssignedFrame tells an agent a conversation is now theirs.
type AssignedFrame struct {
	Type           string  `json:"type"` // "assigned"
	RequestID      string  `json:"requestId,omitempty"`
	ConversationID string  `json:"conversationId"`
	Patient        Patient `json:"patient"`
}

// Patient names a conversation's patient to its agent.
type Patient struct {
	Name string `json:"name"`
}

// PresenceFrame tells an agent's consoles their presence.
type PresenceFrame struct {
	Type      string `json:"type"` // "presence"
	Status    string `json:"status"`
	RequestID string `json:"requestId,omitempty"`
}

// OfferFrame offers a waiting conversation to an agent.
type OfferFrame struct {
	Type           string `json:"type"` // "offer"
	ConversationID string `json:"conversationId"`
	Queue          string `json:"queue"`
	Priority       string `json:"priority"`
	Language       string `json:"language,omitempty"`
	Summary        string `json:"summary"`
	ExpiresAt      string `json:"expiresAt"`
}
