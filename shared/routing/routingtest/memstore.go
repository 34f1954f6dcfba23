// Package routingtest holds what tests of routing share: MemStore, the
// in-memory routing.Store, and StoreContract, the suite it and the
// DynamoDB adapter (ddb.Routing) both pass.
package routingtest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Offer is a conversation on offer: to whom, under which id, and where it
// waited before.
type Offer struct {
	AgentID string
	OfferID string
	From    routing.Waiting
}

// MemStore is a routing.Store in memory with the DynamoDB store's
// conditions: a conversation is queued once, from escalated; an offer
// sticks only while the conversation waits at the same place and the agent
// is available with room; a release needs the offer's agent and id. Tests
// read and set its maps directly; LoseNext makes the next offers lose, as
// to another router.
type MemStore struct {
	mu        sync.Mutex
	Queued    map[string]routing.Waiting
	Offers    map[string]Offer
	Agents    map[string]*routing.Agent
	Escalated map[string]bool
	Ended     map[string]bool // closed by the patient
	LoseNext  int
}

var _ routing.Store = (*MemStore)(nil)

// NewMemStore returns a store with the agents.
func NewMemStore(agents ...routing.Agent) *MemStore {
	m := &MemStore{Queued: map[string]routing.Waiting{}, Offers: map[string]Offer{}, Agents: map[string]*routing.Agent{},
		Escalated: map[string]bool{}, Ended: map[string]bool{}}
	for _, a := range agents {
		m.Agents[a.ID] = &a
	}
	return m
}

// sameWait says w is where the conversation waits (queue, priority,
// arrival): a router's view that is not stale.
func sameWait(a, b routing.Waiting) bool {
	return a.Queue == b.Queue && a.Priority == b.Priority && a.EnqueuedAt.Truncate(time.Millisecond).Equal(b.EnqueuedAt.Truncate(time.Millisecond))
}

// Enqueue queues an escalated conversation; queueing it again where it
// waits is a retry and harmless; anything else is a conflict.
func (m *MemStore) Enqueue(_ context.Context, w routing.Waiting, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.Queued[w.ConversationID]; ok && sameWait(cur, w) {
		return nil
	}
	if !m.Escalated[w.ConversationID] {
		return fault.Errorf(fault.Conflict, "the conversation is not escalated")
	}
	delete(m.Escalated, w.ConversationID)
	w.QueuedAt = now
	m.Queued[w.ConversationID] = w
	return nil
}

// Waiting lists a queue in serving order (routing.Less).
func (m *MemStore) Waiting(_ context.Context, queue string) ([]routing.Waiting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []routing.Waiting
	for _, w := range m.Queued {
		if w.Queue == queue {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, routing.Less)
	return out, nil
}

// AllWaiting returns every queue's waiting conversations, by queue name,
// each queue's in serving order.
func (m *MemStore) AllWaiting(context.Context) ([]routing.Waiting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []routing.Waiting
	for _, w := range m.Queued {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b routing.Waiting) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return routing.Less(a, b)
	})
	return out, nil
}

// AvailableAgents lists the agents whose presence is available, by id.
func (m *MemStore) AvailableAgents(context.Context) ([]routing.Agent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []routing.Agent
	for _, a := range m.Agents {
		if a.Available {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b routing.Agent) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Offer makes the offer if the conversation still waits where w says and
// the agent is available below capacity; Stale otherwise.
func (m *MemStore) Offer(_ context.Context, w routing.Waiting, agentID, offerID string, _, now time.Time) (routing.OfferResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.LoseNext > 0 {
		m.LoseNext--
		return routing.Stale, nil
	}
	cur, waits := m.Queued[w.ConversationID]
	a := m.Agents[agentID]
	if !waits || !sameWait(cur, w) || a == nil || !a.Available || a.Active >= a.Capacity {
		return routing.Stale, nil
	}
	delete(m.Queued, w.ConversationID)
	m.Offers[w.ConversationID] = Offer{AgentID: agentID, OfferID: offerID, From: cur}
	a.Active++
	a.IdleSince = now
	return routing.Offered, nil
}

// Release takes back the agent's offer (offerID "" matches any of theirs):
// the conversation waits again at its place (refused by the agent after a
// decline or a lapse), unless its patient ended it; the agent's capacity
// comes back; a lapse sets them away.
func (m *MemStore) Release(_ context.Context, id, agentID, offerID string, why routing.ReleaseReason, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.Offers[id]
	if !ok || o.AgentID != agentID || (offerID != "" && o.OfferID != offerID) {
		return false, nil
	}
	delete(m.Offers, id)
	if a := m.Agents[agentID]; a != nil {
		a.Active--
		if why == routing.Lapsed {
			a.Available = false
		}
	}
	if m.Ended[id] {
		return true, nil
	}
	w := o.From
	w.ConversationID = id
	if why == routing.Declined || why == routing.Lapsed {
		w.Refused = append(slices.Clone(w.Refused), agentID)
	}
	m.Queued[id] = w
	return true, nil
}

// Move puts a conversation waiting where w says in another queue.
func (m *MemStore) Move(_ context.Context, w routing.Waiting, queue string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.Queued[w.ConversationID]
	if !ok || cur.Queue != w.Queue {
		return false, nil
	}
	cur.Queue, cur.QueuedAt = queue, now
	m.Queued[w.ConversationID] = cur
	return true, nil
}

// AddAgent makes an agent available, serving queue, with capacity.
func (m *MemStore) AddAgent(_ *testing.T, id, queue string, capacity int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Agents[id] = &routing.Agent{ID: id, Available: true, Skills: []string{queue}, Capacity: capacity}
}

// AddEscalated stores a conversation the bot has just handed off.
func (m *MemStore) AddEscalated(_ *testing.T, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Escalated[id] = true
}

// EndConversation closes a conversation as its patient does.
func (m *MemStore) EndConversation(_ *testing.T, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Ended[id] = true
	delete(m.Queued, id)
}

// Active is the agent's count of conversations offered or held.
func (m *MemStore) Active(_ *testing.T, agentID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.Agents[agentID]; a != nil {
		return a.Active
	}
	return 0
}
