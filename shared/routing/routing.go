// Package routing decides which agent is offered which waiting
// conversation. It is pure: the stores and the transaction that makes an
// offer stick live in adapters; Plan only proposes.
//
// The rules, in order:
//   - urgent before high before normal, then first come, first served;
//   - an agent qualifies when available, below capacity, serving the
//     conversation's queue (skill) and speaking its language, and has not
//     declined or let this conversation's offer lapse — except that an
//     urgent conversation no one else can take is offered again to one who
//     did: an urgent patient is never stranded;
//   - among qualifying agents, the one idle longest (no offer or
//     conversation since the earliest time), then the least loaded.
//
// Plan is greedy over that order, so a conversation is never skipped for
// a later one that the same agent could take instead, and every
// conversation that some agent could take gets one while capacity lasts.
package routing

import (
	"cmp"
	"slices"
	"time"
)

// Priority ranks; lower is served first.
const (
	Urgent = "urgent"
	High   = "high"
	Normal = "normal"
)

// Rank orders priorities: urgent 0, high 1, normal (and anything else) 2.
func Rank(priority string) int {
	switch priority {
	case Urgent:
		return 0
	case High:
		return 1
	default:
		return 2
	}
}

// Waiting is a conversation waiting for an agent.
type Waiting struct {
	ConversationID string
	Queue          string
	Priority       string
	Language       string
	EnqueuedAt     time.Time
	// QueuedAt is when it entered its current queue (escalation, transfer
	// or overflow); a queue's maximum wait counts from then.
	QueuedAt time.Time
	// Refused lists agents who declined or let an offer of this
	// conversation lapse; it is not offered to them again.
	Refused []string
}

// Agent is what routing needs to know of an agent.
type Agent struct {
	ID        string
	Available bool
	Skills    []string
	Languages []string
	Capacity  int
	Active    int // conversations held or offered
	// IdleSince is when the agent last had a conversation offered, or
	// became available, whichever is later.
	IdleSince time.Time
}

// OfferResult is how an attempt to make an offer stick ended.
type OfferResult int

// Offer results.
const (
	// Offered: the conversation is offered to the agent.
	Offered OfferResult = iota
	// Stale: the conversation is no longer waiting where it was, or the
	// agent is no longer available with room; plan again.
	Stale
	// Contended: another transaction held one of the items; plan again.
	Contended
)

// Offer is a proposed assignment.
type Offer struct {
	ConversationID string
	AgentID        string
}

// Less orders waiting conversations: priority, then arrival, then id.
func Less(a, b Waiting) int {
	return cmp.Or(
		cmp.Compare(Rank(a.Priority), Rank(b.Priority)),
		a.EnqueuedAt.Compare(b.EnqueuedAt),
		cmp.Compare(a.ConversationID, b.ConversationID),
	)
}

// Qualifies reports whether the agent may be offered the conversation,
// capacity aside.
func Qualifies(a Agent, w Waiting) bool {
	return a.Available && slices.Contains(a.Skills, w.Queue) &&
		(w.Language == "" || slices.Contains(a.Languages, w.Language)) &&
		!slices.Contains(w.Refused, a.ID)
}

// Plan proposes offers for the waiting conversations, best first. It does
// not change its arguments.
func Plan(waiting []Waiting, agents []Agent) []Offer {
	order := slices.Clone(waiting)
	slices.SortFunc(order, Less)
	free := make([]Agent, len(agents))
	copy(free, agents)
	var offers []Offer
	for _, w := range order {
		best := pick(free, w, Qualifies)
		if best < 0 && w.Priority == Urgent {
			best = pick(free, w, func(a Agent, w Waiting) bool {
				return Qualifies(a, Waiting{Queue: w.Queue, Language: w.Language})
			})
		}
		if best < 0 {
			continue
		}
		offers = append(offers, Offer{ConversationID: w.ConversationID, AgentID: free[best].ID})
		free[best].Active++
		// The offer makes the agent busy from now on: among agents who
		// were equally idle, the next conversation goes to another.
		free[best].IdleSince = maxTime(free)
	}
	return offers
}

// pick returns the index of the best agent with room that ok accepts for
// w, or -1.
func pick(free []Agent, w Waiting, ok func(Agent, Waiting) bool) int {
	best := -1
	for i, a := range free {
		if a.Active >= a.Capacity || !ok(a, w) {
			continue
		}
		if best < 0 || better(a, free[best]) {
			best = i
		}
	}
	return best
}

// better reports whether a should be preferred to b: idle longer, then
// less loaded (by share of capacity), then by id for determinism.
func better(a, b Agent) bool {
	if c := a.IdleSince.Compare(b.IdleSince); c != 0 {
		return c < 0
	}
	if la, lb := a.Active*b.Capacity, b.Active*a.Capacity; la != lb {
		return la < lb
	}
	return a.ID < b.ID
}

// maxTime is just after the latest IdleSince of the agents, so an agent
// who gets an offer goes to the back of the idle order.
func maxTime(agents []Agent) time.Time {
	var t time.Time
	for _, a := range agents {
		if a.IdleSince.After(t) {
			t = a.IdleSince
		}
	}
	return t.Add(time.Nanosecond)
}

// Position returns the 1-based place of the conversation among those
// waiting in its queue (the order Plan serves them), or 0 if it is not
// waiting.
func Position(waiting []Waiting, conversationID string) int {
	var me *Waiting
	for i := range waiting {
		if waiting[i].ConversationID == conversationID {
			me = &waiting[i]
		}
	}
	if me == nil {
		return 0
	}
	pos := 1
	for _, w := range waiting {
		if w.Queue == me.Queue && w.ConversationID != me.ConversationID && Less(w, *me) < 0 {
			pos++
		}
	}
	return pos
}
