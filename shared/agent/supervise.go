package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// Watching stores who supervises a conversation an agent holds.
type Watching interface {
	// Watch adds the supervisor to the conversation's watchers, with
	// barge also to those who joined it; on false it takes them off both.
	// fault.Conflict when no agent holds it.
	Watch(ctx context.Context, conversationID, supervisorID string, on, barge bool) (chat.Conversation, error)
}

// Whisper is a supervisor's word to the agent of a conversation they
// monitor. The patient never sees it: it is pushed to the agent's and the
// watching supervisors' consoles only, and stored nowhere.
type Whisper struct {
	ConversationID string
	From           string // the supervisor's name
	Text           string
	At             time.Time
}

// Supervising answers monitor, unmonitor, whisper and barge.
type Supervising struct {
	RequestID      string
	ConversationID string
	Action         Action
}

// supervise runs a supervisor's actions on a conversation an agent holds:
// monitor (read only, for a reason the audit trail keeps: the patient view
// now, then every frame its agent hears), unmonitor, whisper (to the agent
// only), barge (join it: the patient is told, and the supervisor may
// write).
func (s *Service) supervise(ctx context.Context, c Connection, conv chat.Conversation, f Request, now time.Time) error {
	if !(Identity{Roles: c.Roles}).Has(RoleSupervisor) {
		return fault.Errorf(fault.Forbidden, "only supervisors monitor conversations")
	}
	if s.watching == nil {
		return fmt.Errorf("agent service: %s without watching configured", f.Action)
	}
	watching := slices.Contains(conv.Watchers, c.AgentID)
	switch f.Action {
	case ActionMonitor:
		if utf8.RuneCountInString(strings.TrimSpace(f.Reason)) < MinReasonRunes {
			return fault.Errorf(fault.BadRequest, "give a reason of at least %d characters to monitor a conversation", MinReasonRunes)
		}
		if conv.State != chat.StateAssigned || conv.AgentID == "" {
			return fault.Errorf(fault.Conflict, "no agent holds this conversation: use the floor to assign it")
		}
		if conv.AgentID == c.AgentID {
			return fault.Errorf(fault.BadRequest, "the conversation is yours")
		}
		// The read is audited (with the reason) before anything is shown.
		watched, err := s.watching.Watch(ctx, conv.ID, c.AgentID, true, false)
		if err != nil {
			return err
		}
		if err := s.context(ctx, c, watched, f); err != nil {
			_, undo := s.watching.Watch(ctx, conv.ID, c.AgentID, false, false)
			return errors.Join(err, undo)
		}
		return s.fan.To(ctx, c.ID, Supervising{RequestID: f.RequestID, ConversationID: conv.ID, Action: f.Action})
	case ActionUnmonitor:
		if _, err := s.watching.Watch(ctx, conv.ID, c.AgentID, false, false); err != nil {
			return err
		}
		return s.fan.To(ctx, c.ID, Supervising{RequestID: f.RequestID, ConversationID: conv.ID, Action: f.Action})
	}
	if !watching || conv.State != chat.StateAssigned {
		return fault.Errorf(fault.Conflict, "monitor the conversation first")
	}
	me, err := s.agents.Get(ctx, c.AgentID)
	if err != nil {
		return err
	}
	if f.Action == ActionWhisper {
		w := Whisper{ConversationID: conv.ID, From: me.Name, Text: f.Text, At: now}
		if err := s.toHolders(ctx, conv, "", w); err != nil {
			return err
		}
		return s.fan.To(ctx, c.ID, Supervising{RequestID: f.RequestID, ConversationID: conv.ID, Action: f.Action})
	}
	// barge
	joined, err := s.watching.Watch(ctx, conv.ID, c.AgentID, true, true)
	if err != nil {
		return err
	}
	told, _, err := s.convs.Append(ctx, chat.Message{ConversationID: conv.ID, ClientMessageID: chat.NoticeClientID("barge-" + c.AgentID),
		Role: chat.RoleSystem, Text: bargeText(conv.Locale, me.Name), At: now, ExpiresAt: now.Add(s.cfg.Retention)})
	if err != nil {
		return fmt.Errorf("telling the patient a supervisor joined: %w", err)
	}
	return errors.Join(s.patients.Broadcast(ctx, conv.ID, "", told), s.toHolders(ctx, joined, "", told),
		s.fan.To(ctx, c.ID, Supervising{RequestID: f.RequestID, ConversationID: conv.ID, Action: f.Action}))
}

// bargeText tells the patient a supervisor joined their conversation.
func bargeText(locale, name string) string {
	if locale == "es" {
		return name + ", supervisor/a, se ha unido a la conversación."
	}
	return name + ", a supervisor, has joined the conversation."
}
