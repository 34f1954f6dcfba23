package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// FloorRow is one conversation in progress as the supervisors' floor shows
// it: where it is, how urgent, who has it and since when. No message
// text and no patient name: the floor is for managing the work.
type FloorRow struct {
	ConversationID string
	// State is the conversation's: escalated, waiting, offered, assigned,
	// or closed (ended by the patient, or wrapped up), or bot (handed back).
	State     string
	Queue     string
	Priority  string
	Language  string
	RedFlags  []string
	AgentID   string // the agent who holds it or was last offered it
	AgentName string
	// HandedOffAt is when the bot handed it to a person (its wait counts
	// from then); Since is when it took its state.
	HandedOffAt time.Time
	Since       time.Time
	// Done says it has left the floor: wrapped up, ended before anyone
	// took it, or back with the bot.
	Done bool
}

// FloorRowOf is a conversation's row on the floor.
func FloorRowOf(c chat.Conversation) FloorRow {
	r := FloorRow{ConversationID: c.ID, State: string(c.State), Queue: c.Queue, AgentID: c.AgentID, AgentName: c.AgentName, Since: c.UpdatedAt}
	if h := c.Handoff; h != nil {
		r.Priority, r.Language, r.RedFlags, r.HandedOffAt = h.Priority, h.Language, h.RedFlags, h.At
		if r.Queue == "" {
			r.Queue = h.Queue
		}
	}
	held := c.State == chat.StateClosed && c.AgentID != "" && c.Disposition == "" && c.Handoff != nil
	r.Done = c.State == chat.StateBot || (c.State == chat.StateClosed && !held)
	return r
}

// FloorChanged reports whether the floor shows a change between two
// versions of a conversation: its state, queue, agent or wrap-up.
func FloorChanged(old, new chat.Conversation) bool {
	if new.Handoff == nil && old.Handoff == nil {
		return false // never left the bot
	}
	return old.State != new.State || old.Queue != new.Queue || old.AgentID != new.AgentID || old.Disposition != new.Disposition
}

// Floor is the supervisors' floor: every conversation in progress. Pushed
// with Changes set, it carries only the conversations that changed.
type Floor struct {
	RequestID     string
	Conversations []FloorRow
	Changes       bool
	At            time.Time
}

// floor answers the floor action: every conversation waiting in a queue
// and every one an agent holds, most urgent and longest waiting first.
// Supervisors and admins only.
func (s *Service) floor(ctx context.Context, c Connection, f Request) error {
	me := Identity{Roles: c.Roles}
	if !me.Has(RoleSupervisor) && !me.Has(RoleAdmin) {
		return fault.Errorf(fault.Forbidden, "only supervisors see the floor")
	}
	if s.waiting == nil || s.work == nil || s.convs == nil {
		return fmt.Errorf("agent service: floor without queues and conversations configured")
	}
	rows := []FloorRow{}
	seen := map[string]bool{}
	add := func(conv chat.Conversation) {
		if !seen[conv.ID] {
			seen[conv.ID] = true
			if r := FloorRowOf(conv); !r.Done {
				rows = append(rows, r)
			}
		}
	}
	for _, q := range s.queues {
		ws, err := s.waiting.Waiting(ctx, q)
		if err != nil {
			return fmt.Errorf("reading queue %s: %w", q, err)
		}
		for _, w := range ws {
			conv, err := s.convs.Get(ctx, w.ConversationID)
			if err != nil {
				return err
			}
			add(conv)
		}
	}
	agents, err := s.agents.All(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.Active == 0 {
			continue
		}
		held, err := s.work.Held(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("listing held conversations: %w", err)
		}
		for _, conv := range held {
			add(conv)
		}
	}
	SortFloor(rows)
	return s.fan.To(ctx, c.ID, Floor{RequestID: f.RequestID, Conversations: rows, At: s.now()})
}

// SortFloor puts waiting conversations first, urgent before high before
// normal, then the longest waiting.
func SortFloor(rows []FloorRow) {
	rank := map[string]int{"urgent": 0, "high": 1, "normal": 2}
	waiting := func(r FloorRow) int {
		if r.State == string(chat.StateWaiting) || r.State == string(chat.StateEscalated) || r.State == string(chat.StateOffered) {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(rows, func(a, b FloorRow) int {
		if d := waiting(a) - waiting(b); d != 0 {
			return d
		}
		if d := rank[a.Priority] - rank[b.Priority]; d != 0 {
			return d
		}
		if d := a.HandedOffAt.Compare(b.HandedOffAt); d != 0 {
			return d
		}
		return strings.Compare(a.ConversationID, b.ConversationID)
	})
}
