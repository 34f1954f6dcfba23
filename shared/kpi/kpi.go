// Package kpi turns the changes of conversations into the service
// center's figures — offered, handled, abandoned while waiting, waits,
// handle times, service level, bot containment, transfers, satisfaction — counted once
// per change, by queue, agent, day and hour (in the clinic's zone), and
// reads them back as rows a supervisor sees. Counting happens on the
// conversations stream (the escalation function) and where surveys are
// answered (the follow-up function); storage is a port.
package kpi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
)

// Event kinds.
const (
	Escalated   = "escalated"   // the bot handed it to a person
	Offered     = "offered"     // offered to an agent
	Handled     = "handled"     // an agent accepted it (its wait ends)
	Abandoned   = "abandoned"   // the patient left before anyone took it
	WrappedUp   = "wrapped"     // the agent closed it (its handle time ends)
	Contained   = "contained"   // the bot resolved it, no person needed
	Transferred = "transferred" // its agent handed it on
	Rated       = "rated"       // the patient answered its satisfaction survey
)

// Satisfied is the lowest score (of 1 to 5) that counts as satisfied.
const Satisfied = 4

// Event is one counted change of a conversation. Key makes it count once
// (a redelivered stream record carries the same).
type Event struct {
	Kind           string
	ConversationID string
	Key            string
	Queue          string
	AgentID        string
	At             time.Time
	Wait           time.Duration // Handled: from the handoff
	WithinTarget   bool          // Handled: answered within the queue's target
	Handle         time.Duration // WrappedUp: from the acceptance
	Score          int           // Rated: the survey's satisfaction score, 1 to 5
}

// Rating is the event of a satisfaction survey answered: it counts under
// the day it was answered, the queue and agent of the conversation asked
// about (none for a visit's survey), once per survey.
func Rating(surveyID, sourceID, queue, agentID string, score int, at time.Time) Event {
	return Event{Kind: Rated, ConversationID: sourceID, Key: Rated + "#" + surveyID, Queue: queue, AgentID: agentID, At: at, Score: score}
}

// Targets are the queues' service-level targets: the share of
// conversations answered within a queue's target is its service level.
type Targets struct {
	ByQueue map[string]time.Duration
	Default time.Duration
}

// For is a queue's target.
func (t Targets) For(queue string) time.Duration {
	if d, ok := t.ByQueue[queue]; ok {
		return d
	}
	if t.Default > 0 {
		return t.Default
	}
	return time.Minute
}

// ParseTargets reads "60s" (every queue) or "billing=2m,urgent=30s,60s".
func ParseTargets(s string) (Targets, error) {
	t := Targets{ByQueue: map[string]time.Duration{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		queue, d, named := strings.Cut(part, "=")
		if !named {
			d, queue = queue, ""
		}
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || v <= 0 {
			return Targets{}, fmt.Errorf("service level target %q: want a duration such as 60s", part)
		}
		if queue == "" {
			t.Default = v
		} else {
			t.ByQueue[strings.TrimSpace(queue)] = v
		}
	}
	return t, nil
}

// Events are the counted changes between two versions of a conversation
// (old is zero for a new one).
func Events(old, new chat.Conversation, targets Targets) []Event {
	if old.State == new.State {
		return nil
	}
	queue := new.Queue
	if queue == "" && new.Handoff != nil {
		queue = new.Handoff.Queue
	}
	ev := func(kind string, at time.Time) Event {
		return Event{Kind: kind, ConversationID: new.ID, Key: kind + "#" + at.UTC().Format(time.RFC3339Nano), Queue: queue, At: at}
	}
	waits := func(s chat.State) bool {
		return s == chat.StateEscalated || s == chat.StateWaiting || s == chat.StateOffered
	}
	var out []Event
	switch {
	case new.State == chat.StateEscalated && new.Handoff != nil:
		out = append(out, ev(Escalated, new.Handoff.At))
	case new.State == chat.StateOffered:
		e := ev(Offered, new.UpdatedAt)
		e.AgentID = new.OfferedTo // by agent: the offers each received
		out = append(out, e)
	case new.State == chat.StateAssigned && old.State == chat.StateOffered:
		e := ev(Handled, new.AssignedAt)
		e.AgentID = new.AgentID
		if new.Handoff != nil && !new.AssignedAt.IsZero() {
			e.Wait = new.AssignedAt.Sub(new.Handoff.At)
			e.WithinTarget = e.Wait <= targets.For(queue)
		}
		out = append(out, e)
	case new.State == chat.StateWaiting && old.State == chat.StateAssigned && new.Transfer != nil:
		e := ev(Transferred, new.UpdatedAt)
		e.AgentID, e.Queue = old.AgentID, old.Queue
		if e.Queue == "" {
			e.Queue = queue
		}
		out = append(out, e)
	case new.State == chat.StateClosed && waits(old.State):
		out = append(out, ev(Abandoned, new.UpdatedAt))
	case new.State == chat.StateClosed && old.State == chat.StateBot && new.Handoff == nil:
		e := ev(Contained, new.UpdatedAt)
		e.Queue = ""
		out = append(out, e)
	}
	return out
}

// WrapUp is the event of an agent closing a conversation they held: the
// version where its disposition was set (a change of disposition, not of
// state, when the patient ended it first).
func WrapUp(old, new chat.Conversation) (Event, bool) {
	if new.Disposition == "" || old.Disposition != "" || new.AgentID == "" || new.AssignedAt.IsZero() {
		return Event{}, false
	}
	queue := new.Queue
	if queue == "" && new.Handoff != nil {
		queue = new.Handoff.Queue
	}
	return Event{Kind: WrappedUp, ConversationID: new.ID, Key: WrappedUp + "#" + new.UpdatedAt.UTC().Format(time.RFC3339Nano), Queue: queue,
		AgentID: new.AgentID, At: new.UpdatedAt, Handle: new.UpdatedAt.Sub(new.AssignedAt)}, true
}

// WaitBounds are the upper bounds of the wait histogram's buckets, in
// seconds; the last bucket holds every longer wait.
var WaitBounds = []int{5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600}

// Bucket is the histogram bucket of a wait.
func Bucket(wait time.Duration) int {
	secs := wait.Seconds()
	for i, b := range WaitBounds {
		if secs <= float64(b) {
			return i
		}
	}
	return len(WaitBounds)
}

// Counters are the sums a row is made of.
type Counters struct {
	Escalated, Offered, Handled, Abandoned, Contained, Transferred int64
	WaitCount, WithinTarget, HandleCount                           int64
	WaitSumMs, HandleSumMs                                         int64
	WaitBuckets                                                    []int64 // len(WaitBounds)+1
	// Rated surveys, their scores' sum, and those scored Satisfied or more.
	Rated, ScoreSum, SatisfiedCount int64
}

// Add sums c and o into c.
func (c *Counters) Add(o Counters) {
	c.Escalated += o.Escalated
	c.Offered += o.Offered
	c.Handled += o.Handled
	c.Abandoned += o.Abandoned
	c.Contained += o.Contained
	c.Transferred += o.Transferred
	c.WaitCount += o.WaitCount
	c.WithinTarget += o.WithinTarget
	c.HandleCount += o.HandleCount
	c.WaitSumMs += o.WaitSumMs
	c.HandleSumMs += o.HandleSumMs
	c.Rated += o.Rated
	c.ScoreSum += o.ScoreSum
	c.SatisfiedCount += o.SatisfiedCount
	if len(c.WaitBuckets) < len(o.WaitBuckets) {
		c.WaitBuckets = append(c.WaitBuckets, make([]int64, len(o.WaitBuckets)-len(c.WaitBuckets))...)
	}
	for i, n := range o.WaitBuckets {
		c.WaitBuckets[i] += n
	}
}

// Row is one line of the figures: a queue, an agent, a day or an hour.
type Row struct {
	Key string
	Counters
}

// AverageWait is the mean wait of the handled conversations.
func (r Row) AverageWait() time.Duration {
	if r.WaitCount == 0 {
		return 0
	}
	return time.Duration(r.WaitSumMs/r.WaitCount) * time.Millisecond
}

// P90Wait is the 90th-percentile wait, to the upper bound of its
// histogram bucket (over an hour: more than an hour).
func (r Row) P90Wait() time.Duration {
	var total int64
	for _, n := range r.WaitBuckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	need, seen := (total*9+9)/10, int64(0)
	for i, n := range r.WaitBuckets {
		seen += n
		if seen >= need {
			if i < len(WaitBounds) {
				return time.Duration(WaitBounds[i]) * time.Second
			}
			break
		}
	}
	return time.Duration(WaitBounds[len(WaitBounds)-1]+1) * time.Second
}

// AverageHandle is the mean time from acceptance to wrap-up.
func (r Row) AverageHandle() time.Duration {
	if r.HandleCount == 0 {
		return 0
	}
	return time.Duration(r.HandleSumMs/r.HandleCount) * time.Millisecond
}

// ServiceLevel is the share of handled conversations answered within
// their queue's target (0 when none was handled).
func (r Row) ServiceLevel() float64 { return ratio(r.WithinTarget, r.WaitCount) }

// TransferRate is the share of handled conversations handed on.
func (r Row) TransferRate() float64 { return ratio(r.Transferred, r.Handled) }

// CSAT is the mean satisfaction score (1 to 5) of the surveys answered (0
// when none was).
func (r Row) CSAT() float64 { return ratio(r.ScoreSum, r.Rated) }

// SatisfiedShare is the share of answered surveys scored Satisfied or
// more.
func (r Row) SatisfiedShare() float64 { return ratio(r.SatisfiedCount, r.Rated) }

// Containment is the share of the bot's conversations it resolved without
// a person.
func (r Row) Containment() float64 { return ratio(r.Contained, r.Contained+r.Escalated) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Dimensions a figure is counted under: every conversation ("all"), its
// queue, its agent.
const (
	ByAll   = "all"
	ByQueue = "queue"
	ByAgent = "agent"
	ByDay   = "day"
	ByHour  = "hour"
)

// Store records events once each and reads a day's counters.
type Store interface {
	// Record adds the event to its day's and hour's counters under each
	// dimension, once per event key: false when it was recorded already.
	Record(ctx context.Context, e Event, day, hour string) (bool, error)
	// Day returns a day's counters: dimension ("all", "queue#billing",
	// "agent#<id>") → hour ("00".."23") → counters.
	Day(ctx context.Context, day string) (map[string]map[string]Counters, error)
}

// Recorder counts events in the clinic's zone.
type Recorder struct {
	Store Store
	Zone  *time.Location
}

// Record counts an event under its day and hour in the clinic's zone.
func (r Recorder) Record(ctx context.Context, e Event) (bool, error) {
	at := e.At.In(r.Zone)
	return r.Store.Record(ctx, e, at.Format("2006-01-02"), at.Format("15"))
}

// Report reads days (in the clinic's zone, oldest first) and groups them
// by: queue, agent, day or hour (of day, over the days).
func Report(ctx context.Context, s Store, days []string, by string) ([]Row, error) {
	rows := map[string]*Row{}
	add := func(key string, c Counters) {
		if rows[key] == nil {
			rows[key] = &Row{Key: key}
		}
		rows[key].Add(c)
	}
	for _, day := range days {
		dims, err := s.Day(ctx, day)
		if err != nil {
			return nil, fmt.Errorf("reading the figures of %s: %w", day, err)
		}
		for dim, hours := range dims {
			for hour, c := range hours {
				switch {
				case by == ByQueue && strings.HasPrefix(dim, ByQueue+"#"):
					add(strings.TrimPrefix(dim, ByQueue+"#"), c)
				case by == ByAgent && strings.HasPrefix(dim, ByAgent+"#"):
					add(strings.TrimPrefix(dim, ByAgent+"#"), c)
				case by == ByDay && dim == ByAll:
					add(day, c)
				case by == ByHour && dim == ByAll:
					add(hour, c)
				}
			}
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Dimensions are the counters an event adds to: every conversation, its
// queue (when it has one), its agent (when it has one).
func Dimensions(e Event) []string {
	dims := []string{ByAll}
	if e.Queue != "" {
		dims = append(dims, ByQueue+"#"+e.Queue)
	}
	if e.AgentID != "" {
		dims = append(dims, ByAgent+"#"+e.AgentID)
	}
	return dims
}

// Increments are the counters an event adds, one each: the field names a
// store keeps.
func Increments(e Event) map[string]int64 {
	inc := map[string]int64{}
	switch e.Kind {
	case Escalated, Offered, Abandoned, Contained, Transferred:
		inc[string(e.Kind)] = 1 // each counted under its own name
	case Handled:
		inc["handled"] = 1
		inc["waitCount"] = 1
		inc["waitSumMs"] = e.Wait.Milliseconds()
		inc[fmt.Sprintf("w%02d", Bucket(e.Wait))] = 1
		if e.WithinTarget {
			inc["withinTarget"] = 1
		}
	case WrappedUp:
		inc["handleCount"] = 1
		inc["handleSumMs"] = e.Handle.Milliseconds()
	case Rated:
		inc["rated"] = 1
		inc["scoreSum"] = int64(e.Score)
		if e.Score >= Satisfied {
			inc["satisfied"] = 1
		}
	}
	return inc
}

// FromFields rebuilds counters from a store's field names (Increments').
func FromFields(f map[string]int64) Counters {
	c := Counters{Escalated: f["escalated"], Offered: f["offered"], Handled: f["handled"], Abandoned: f["abandoned"], Contained: f["contained"],
		Transferred: f["transferred"], WaitCount: f["waitCount"], WithinTarget: f["withinTarget"], HandleCount: f["handleCount"],
		WaitSumMs: f["waitSumMs"], HandleSumMs: f["handleSumMs"], WaitBuckets: make([]int64, len(WaitBounds)+1),
		Rated: f["rated"], ScoreSum: f["scoreSum"], SatisfiedCount: f["satisfied"]}
	for i := range c.WaitBuckets {
		c.WaitBuckets[i] = f[fmt.Sprintf("w%02d", i)]
	}
	return c
}
