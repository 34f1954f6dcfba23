package protocol

import (
	"encoding/json"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Client actions of the agent API.
const (
	ActionPresence = "presence"
)

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
	Action    string `json:"action"`
	RequestID string `json:"requestId,omitempty"`
	Status    string `json:"status,omitempty"`
}

type rawAgentFrame struct {
	Action    json.RawMessage `json:"action"`
	RequestID json.RawMessage `json:"requestId"`
	Status    json.RawMessage `json:"status"`
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
	case "":
		return f, fault.Errorf(fault.BadRequest, "action is required")
	default:
		return f, fault.Errorf(fault.BadRequest, "unknown action %q", truncate(f.Action, 32))
	}
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
