package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// Store is what routing reads and the transaction it writes.
type Store interface {
	Enqueue(ctx context.Context, w Waiting, now time.Time) error
	Waiting(ctx context.Context, queue string) ([]Waiting, error)
	// AllWaiting returns the conversations waiting in every queue, each
	// queue's in serving order: one read where the store can, rather
	// than one per queue.
	AllWaiting(ctx context.Context) ([]Waiting, error)
	AvailableAgents(ctx context.Context) ([]Agent, error)
	Offer(ctx context.Context, w Waiting, agentID, offerID string, expiresAt, now time.Time) (OfferResult, error)
	Release(ctx context.Context, conversationID, agentID, offerID string, why ReleaseReason, now time.Time) (bool, error)
	// Move puts a waiting conversation in another queue, keeping its
	// priority and arrival, if it still waits where w says (false if not).
	Move(ctx context.Context, w Waiting, queue string, now time.Time) (bool, error)
}

// ReleaseReason is why an offer is taken back, which decides whether the
// agent may be offered the conversation again and whether they are set away.
type ReleaseReason int

const (
	// Declined: the agent turned the offer down; the conversation is not
	// offered to them again (unless it is urgent and no one else can take
	// it).
	Declined ReleaseReason = iota
	// Lapsed: the agent let the offer run out; as Declined, and the silent
	// agent is set away.
	Lapsed
	// Undelivered: no console of the agent took the offer (its connection
	// was gone); the agent never saw it, so it is neither a refusal nor a
	// reason to set them away. The patient's wait goes on with someone else
	// rather than through the offer's timeout.
	Undelivered
	// Withdrawn: the patient ended the conversation while it was offered;
	// only the agent's capacity comes back.
	Withdrawn
)

// AlertMarks records that supervisors were alerted about a waiting
// conversation, once: true the first time.
type AlertMarks interface {
	MarkAlerted(ctx context.Context, conversationID string, now time.Time) (bool, error)
}

// Conversations reads a conversation (for its handoff context).
type Conversations interface {
	Get(ctx context.Context, id string) (chat.Conversation, error)
}

// Notifier tells the people concerned what routing did. An edge turns
// each event into the frames its clients know (routingevents.Notifier).
type Notifier interface {
	// Offer tells the agent's consoles of an offer and says how many took
	// it (none when the agent has none left open, or every one was gone).
	Offer(ctx context.Context, agentID string, o OfferNote) (reached int, err error)
	// Place tells a waiting conversation's patient their place in line and,
	// when known (not zero), how long patients waited in that queue lately.
	Place(ctx context.Context, conversationID string, position int, recentWait time.Duration) error
	// SetAway tells the agent's consoles a lapsed offer set them away.
	SetAway(ctx context.Context, agentID string) error
	// Withdrawn tells the agent's consoles that an offered conversation's
	// patient left.
	Withdrawn(ctx context.Context, agentID, conversationID string) error
	// Assignment tells the supervisor who assigned a conversation how it
	// went.
	Assignment(ctx context.Context, supervisorID string, o AssignmentOutcome) error
	// Stranded alerts every supervisor to an urgent conversation no one
	// available can take.
	Stranded(ctx context.Context, a StrandedAlert) error
}

// OfferNote is what an agent is told of an offer.
type OfferNote struct {
	ConversationID, Queue, Priority, Language string
	Summary                                   string // the bot's handoff summary
	ExpiresAt                                 time.Time
	// Transfer is the previous agent's handing on, when it was transferred.
	Transfer *chat.Transfer
}

// AssignmentOutcome is how a supervisor's assignment went: offered to the
// agent, or why not.
type AssignmentOutcome struct {
	ConversationID, AgentID string
	OK                      bool
	Reason                  string
}

// StrandedAlert is an urgent conversation that waited past the limit.
type StrandedAlert struct {
	ConversationID, Queue string
	Waited                time.Duration
	RedFlags              []string
	At                    time.Time
}

// Trigger asks for a routing run (the routing queue), now or, to check an
// offer's expiry, later.
type Trigger interface {
	RequestRouting(ctx context.Context, reason string) error
	CheckOfferLater(ctx context.Context, check OfferCheck, after time.Duration) error
}

// OfferCheck names an offer whose expiry is to be checked.
type OfferCheck struct {
	ConversationID string `json:"conversationId"`
	AgentID        string `json:"agentId"`
	OfferID        string `json:"offerId"`
	// Withdraw: the patient ended the conversation; take the offer back
	// now, without setting the agent away.
	Withdraw bool `json:"withdraw,omitempty"`
}

// Config is routing's configuration.
type Config struct {
	// Queues are the queues agents serve; a handoff to another queue goes
	// to Fallback.
	Queues   []string
	Fallback string
	// OfferTimeout is how long an agent has to accept an offer.
	OfferTimeout time.Duration
	// Overflow maps a queue to its maximum wait and the queue its
	// conversations move to after it (see ParseOverflow).
	Overflow map[string]Overflow
}

// Service escalates handed-off conversations and routes waiting ones.
type Service struct {
	// Urgent waits past urgentAfter alert the supervisors (WithUrgentAlerts).
	marks       AlertMarks
	urgentAfter time.Duration

	store   Store
	convs   Conversations
	waits   Waits
	notify  Notifier
	trigger Trigger
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
}

// Deps are a Service's ports, its log and its clock.
type Deps struct {
	Store         Store
	Conversations Conversations
	Notify        Notifier
	Trigger       Trigger
	// Waits, optional, says how long a queue's patients waited lately
	// (kpi.RecentWaits), told to patients with their place.
	Waits Waits
	Log   *slog.Logger
	Now   func() time.Time // nil: the clock
	NewID func() string    // nil: a time-based offer id
}

// Waits estimates a queue's wait from its recent ones (false: too few to
// say).
type Waits interface {
	Expected(ctx context.Context, queue string) (time.Duration, bool, error)
}

// NewService returns a Service.
func NewService(d Deps, cfg Config) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewID == nil {
		d.NewID = func() string { return "o" + strconv.FormatInt(time.Now().UnixNano(), 36) }
	}
	if cfg.Fallback == "" {
		cfg.Fallback = "general"
	}
	if cfg.OfferTimeout == 0 {
		cfg.OfferTimeout = 45 * time.Second
	}
	return &Service{store: d.Store, convs: d.Conversations, waits: d.Waits, notify: d.Notify, trigger: d.Trigger, cfg: cfg, log: d.Log, now: d.Now, newID: d.NewID}
}

// WithUrgentAlerts has every routing run alert all supervisors, once per
// conversation, about an urgent conversation that has waited longer than
// after with no one to take it.
func (s *Service) WithUrgentAlerts(marks AlertMarks, after time.Duration) *Service {
	s.marks, s.urgentAfter = marks, after
	return s
}

// Escalate puts a handed-off conversation in its queue: the queue the
// handoff names if agents serve it (else the fallback), its priority
// (urgent for red flags), its language as a required skill. The patient
// hears they are waiting and where; routing is asked to run. A
// conversation already routed is left alone (a redelivered stream record).
func (s *Service) Escalate(ctx context.Context, c chat.Conversation) error {
	if c.State != chat.StateEscalated || c.Handoff == nil {
		return nil
	}
	h := c.Handoff
	w := Waiting{ConversationID: c.ID, Queue: h.Queue, Priority: h.Priority, Language: first(h.Language, c.Locale), EnqueuedAt: h.At}
	if !slices.Contains(s.cfg.Queues, w.Queue) {
		s.log.WarnContext(ctx, "handoff to a queue no agent serves; using the fallback", "conversation_id", c.ID, "queue", w.Queue, "fallback", s.cfg.Fallback)
		w.Queue = s.cfg.Fallback
	}
	if Rank(w.Priority) == Rank(Normal) {
		w.Priority = Normal
	}
	if w.EnqueuedAt.IsZero() {
		w.EnqueuedAt = s.now()
	}
	err := s.store.Enqueue(ctx, w, s.now())
	if fault.CodeOf(err) == fault.Conflict {
		s.log.InfoContext(ctx, "already routed", "conversation_id", c.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueueing %s: %w", c.ID, err)
	}
	s.log.InfoContext(ctx, "escalated", "conversation_id", c.ID, "queue", w.Queue, "priority", w.Priority, "language", w.Language)
	if err := s.tellPositions(ctx, w.Queue, c.ID); err != nil {
		s.log.WarnContext(ctx, "queue position not delivered", "conversation_id", c.ID, "error", err)
	}
	return s.trigger.RequestRouting(ctx, "escalated")
}

// Route offers waiting conversations to agents until no offer sticks: it
// plans over every queue, makes each offer one transaction, and plans
// again when another router changed things under it. Agents get their
// offers; patients still waiting in a queue that moved get their position.
func (s *Service) Route(ctx context.Context) error {
	left, known, err := s.route(ctx)
	if err != nil {
		return err
	}
	return s.alertStranded(ctx, left, known)
}

// Assignment is a supervisor's choice of agent (themselves included) for
// a waiting conversation.
type Assignment struct {
	ConversationID string `json:"conversationId"`
	AgentID        string `json:"agentId"`
	By             string `json:"by"` // the supervisor's agent id
}

// Assign offers a waiting conversation to the agent a supervisor chose,
// whatever their skills and languages (the supervisor decides), as any
// offer: the agent must be available with room, and has the offer's time
// to accept. The supervisor's consoles hear how it went.
func (s *Service) Assign(ctx context.Context, a Assignment) error {
	outcome := AssignmentOutcome{ConversationID: a.ConversationID, AgentID: a.AgentID}
	tell := func() error { return s.notify.Assignment(ctx, a.By, outcome) }
	var w *Waiting
	for _, q := range s.cfg.Queues {
		ws, err := s.store.Waiting(ctx, q)
		if err != nil {
			return err
		}
		for i := range ws {
			if ws[i].ConversationID == a.ConversationID {
				w = &ws[i]
			}
		}
	}
	if w == nil {
		outcome.Reason = "the conversation no longer waits"
		return tell()
	}
	now := s.now()
	expires, offerID := now.Add(s.cfg.OfferTimeout), s.newID()
	res, err := s.store.Offer(ctx, *w, a.AgentID, offerID, expires, now)
	if err != nil {
		return err
	}
	if res != Offered {
		outcome.Reason = "the agent is not available with room, or the conversation was just offered"
		return tell()
	}
	s.log.InfoContext(ctx, "assigned by a supervisor", "conversation_id", w.ConversationID, "agent_id", a.AgentID, "by", a.By)
	if err := s.trigger.CheckOfferLater(ctx, OfferCheck{ConversationID: w.ConversationID, AgentID: a.AgentID, OfferID: offerID}, s.cfg.OfferTimeout); err != nil {
		s.log.ErrorContext(ctx, "offer expiry not scheduled", "conversation_id", w.ConversationID, "agent_id", a.AgentID, "error", err)
	}
	outcome.OK = true
	_, err = s.tellOffer(ctx, *w, a.AgentID, expires)
	return errors.Join(err, tell(), s.tellPositions(ctx, w.Queue, ""))
}

// waitingIn reads every queue's waiting conversations (one read), in the
// order of the configured queues, each in serving order.
func (s *Service) waitingIn(ctx context.Context) ([]Waiting, error) {
	all, err := s.store.AllWaiting(ctx)
	if err != nil {
		return nil, err
	}
	var waiting []Waiting
	for _, q := range s.cfg.Queues {
		for _, w := range all {
			if w.Queue == q {
				waiting = append(waiting, w)
			}
		}
	}
	return waiting, nil
}

// alertStranded tells every supervisor, once, of each urgent conversation
// still waiting past urgentAfter: no agent who could take it had room, or
// none is online. A supervisor can take it or find someone. waiting is
// what the routing run left waiting, when known (else it is read).
func (s *Service) alertStranded(ctx context.Context, waiting []Waiting, known bool) error {
	if s.marks == nil || s.urgentAfter <= 0 {
		return nil
	}
	if !known {
		var err error
		if waiting, err = s.waitingIn(ctx); err != nil {
			return err
		}
	}
	var errs []error
	for _, w := range waiting {
		waited := s.now().Sub(w.EnqueuedAt)
		if w.Priority != Urgent || waited < s.urgentAfter {
			continue
		}
		first, err := s.marks.MarkAlerted(ctx, w.ConversationID, s.now())
		if err != nil || !first {
			errs = append(errs, err)
			continue
		}
		alert := StrandedAlert{ConversationID: w.ConversationID, Queue: w.Queue, Waited: waited, At: s.now()}
		if c, err := s.convs.Get(ctx, w.ConversationID); err == nil && c.Handoff != nil {
			alert.RedFlags = c.Handoff.RedFlags
		}
		s.log.WarnContext(ctx, "urgent conversation waiting; supervisors alerted", "conversation_id", w.ConversationID, "queue", w.Queue, "waited_s", int(waited.Seconds()))
		errs = append(errs, s.notify.Stranded(ctx, alert))
	}
	return errors.Join(errs...)
}

// route makes the offers of one routing run (Route). It returns what it
// left waiting, when it knows it without reading the
// queues again (known): the last pass's lists less what that pass offered.
// Each pass reads every queue (one query each), so this spares the
// stranded-patient check and the positions as many queries a run.
func (s *Service) route(ctx context.Context) (left []Waiting, known bool, err error) {
	moved := map[string]bool{}
	// unreachable are the agents an offer of this run found with no console
	// (their disconnect is on its way): not offered again in this run.
	unreachable := map[string]bool{}
	for pass := 0; pass < 20; pass++ {
		waiting, err := s.waitingIn(ctx)
		if err != nil {
			return nil, false, err
		}
		if len(waiting) == 0 {
			left, known = nil, true
			break
		}
		// stale: an overflow found its conversation offered or moved by
		// someone else; this pass's list is not what is left.
		stale := false
		if pass == 0 {
			if stale, err = s.overflow(ctx, waiting, moved); err != nil {
				return nil, false, err
			}
		}
		agents, err := s.store.AvailableAgents(ctx)
		if err != nil {
			return nil, false, err
		}
		agents = slices.DeleteFunc(agents, func(a Agent) bool { return unreachable[a.ID] })
		byID := map[string]Waiting{}
		for _, w := range waiting {
			byID[w.ConversationID] = w
		}
		again := false
		offered := map[string]bool{}
		for _, o := range Plan(waiting, agents) {
			w := byID[o.ConversationID]
			now := s.now()
			expires := now.Add(s.cfg.OfferTimeout)
			offerID := s.newID()
			res, err := s.store.Offer(ctx, w, o.AgentID, offerID, expires, now)
			if err != nil {
				return nil, false, err
			}
			switch res {
			case Offered:
				moved[w.Queue], offered[w.ConversationID] = true, true
				if err := s.trigger.CheckOfferLater(ctx, OfferCheck{ConversationID: w.ConversationID, AgentID: o.AgentID, OfferID: offerID}, s.cfg.OfferTimeout); err != nil {
					// The offer stands; without its check it lapses only
					// when the agent declines or signs out.
					s.log.ErrorContext(ctx, "offer expiry not scheduled", "conversation_id", w.ConversationID, "agent_id", o.AgentID, "error", err)
				}
				s.log.InfoContext(ctx, "offered", "conversation_id", w.ConversationID, "agent_id", o.AgentID, "queue", w.Queue, "priority", w.Priority)
				reached, err := s.tellOffer(ctx, w, o.AgentID, expires)
				if err != nil {
					s.log.WarnContext(ctx, "offer not delivered to every console", "conversation_id", w.ConversationID, "agent_id", o.AgentID, "consoles", reached, "error", err)
				}
				if reached == 0 {
					// No console saw it: take it back now, rather than keep
					// the patient waiting for the offer's lapse.
					released, err := s.store.Release(ctx, w.ConversationID, o.AgentID, offerID, Undelivered, s.now())
					if err != nil {
						return nil, false, err
					}
					if released {
						s.log.InfoContext(ctx, "offer taken back: no console of the agent took it", "conversation_id", w.ConversationID, "agent_id", o.AgentID)
						unreachable[o.AgentID], again = true, true
					}
				}
			case Contended, Stale:
				again = true
			}
		}
		if !again {
			left = slices.DeleteFunc(waiting, func(w Waiting) bool { return offered[w.ConversationID] })
			known = !stale
			break
		}
	}
	var errs []error
	for _, q := range s.cfg.Queues {
		if !moved[q] {
			continue
		}
		if known {
			errs = append(errs, s.tellPlaces(ctx, q, left, ""))
		} else {
			errs = append(errs, s.tellPositions(ctx, q, ""))
		}
	}
	return left, known, errors.Join(errs...)
}

// overflow moves the conversations that waited past their queue's maximum
// wait to its fallback queue, in place in the list routing plans over.
// stale reports a move someone else's change prevented.
func (s *Service) overflow(ctx context.Context, waiting []Waiting, moved map[string]bool) (stale bool, err error) {
	overdue := Overdue(waiting, s.cfg.Overflow, s.now())
	if len(overdue) == 0 {
		return false, nil
	}
	for i, w := range waiting {
		to, ok := overdue[w.ConversationID]
		if !ok {
			continue
		}
		done, err := s.store.Move(ctx, w, to, s.now())
		if err != nil {
			return false, fmt.Errorf("overflowing %s: %w", w.ConversationID, err)
		}
		if !done {
			stale = true
			continue // offered or moved meanwhile; the next pass sees it
		}
		s.log.InfoContext(ctx, "overflowed", "conversation_id", w.ConversationID, "from", w.Queue, "to", to)
		moved[w.Queue], moved[to] = true, true
		waiting[i].Queue, waiting[i].QueuedAt = to, s.now()
	}
	return stale, nil
}

// Expire takes back an offer that is still pending past its time: the
// conversation waits again at its place (not to be offered to that agent
// again) and the silent agent is set away, which their consoles hear.
// An offer accepted, declined or replaced meanwhile is left alone.
func (s *Service) Expire(ctx context.Context, check OfferCheck) error {
	released, err := s.store.Release(ctx, check.ConversationID, check.AgentID, check.OfferID, Lapsed, s.now())
	if err != nil || !released {
		return err
	}
	s.log.InfoContext(ctx, "offer lapsed; agent set away", "conversation_id", check.ConversationID, "agent_id", check.AgentID)
	if err := s.notify.SetAway(ctx, check.AgentID); err != nil {
		s.log.WarnContext(ctx, "presence not delivered", "agent_id", check.AgentID, "error", err)
	}
	return nil
}

// EndedWhileOffered asks the routing function (through the routing queue,
// which it reads with the rights to change agents) to withdraw the offer
// of a conversation its patient ended while it was offered.
func (s *Service) EndedWhileOffered(ctx context.Context, offer OfferCheck) error {
	offer.Withdraw = true
	return s.trigger.CheckOfferLater(ctx, offer, 0)
}

// Withdraw takes back the offer of a conversation its patient ended while
// it was offered: the agent's capacity comes back at once (not at the
// offer's lapse, and without setting them away), and their consoles drop
// the offer.
func (s *Service) Withdraw(ctx context.Context, offer OfferCheck) error {
	released, err := s.store.Release(ctx, offer.ConversationID, offer.AgentID, offer.OfferID, Withdrawn, s.now())
	if err != nil || !released {
		return err
	}
	s.log.InfoContext(ctx, "offer withdrawn; the patient ended the conversation", "conversation_id", offer.ConversationID, "agent_id", offer.AgentID)
	if err := s.notify.Withdrawn(ctx, offer.AgentID, offer.ConversationID); err != nil {
		s.log.WarnContext(ctx, "withdrawal not delivered", "agent_id", offer.AgentID, "error", err)
	}
	return nil
}

// tellOffer sends the agent's consoles the offer with its context and says
// how many took it.
func (s *Service) tellOffer(ctx context.Context, w Waiting, agentID string, expires time.Time) (int, error) {
	note := OfferNote{ConversationID: w.ConversationID, Queue: w.Queue, Priority: w.Priority, Language: w.Language, ExpiresAt: expires}
	if c, err := s.convs.Get(ctx, w.ConversationID); err == nil {
		if c.Handoff != nil {
			note.Summary = c.Handoff.Summary
		}
		note.Transfer = c.Transfer
	}
	return s.notify.Offer(ctx, agentID, note)
}

// tellPositions tells the patients waiting in a queue their place (only
// one of them when only is set).
func (s *Service) tellPositions(ctx context.Context, queue, only string) error {
	ws, err := s.store.Waiting(ctx, queue)
	if err != nil {
		return err
	}
	return s.tellPlaces(ctx, queue, ws, only)
}

// tellPlaces tells the patients of a queue their place in waiting (which
// may hold other queues' conversations too).
func (s *Service) tellPlaces(ctx context.Context, queue string, waiting []Waiting, only string) error {
	ws := slices.DeleteFunc(slices.Clone(waiting), func(w Waiting) bool { return w.Queue != queue })
	var recent time.Duration
	if s.waits != nil {
		// An estimate is a courtesy: without it the place is still told.
		if d, ok, err := s.waits.Expected(ctx, queue); err != nil {
			s.log.WarnContext(ctx, "recent waits not read", "queue", queue, "error", err)
		} else if ok {
			recent = max(d, time.Second)
		}
	}
	tell := func(id string, pos int) error {
		return s.notify.Place(ctx, id, pos, recent)
	}
	var errs []error
	found := false
	for _, w := range ws {
		if only != "" && w.ConversationID != only {
			continue
		}
		found = true
		errs = append(errs, tell(w.ConversationID, Position(ws, w.ConversationID)))
	}
	if only != "" && !found {
		// The queue's index has not caught up with the enqueue yet: the
		// conversation is behind every one it lists.
		errs = append(errs, tell(only, len(ws)+1))
	}
	return errors.Join(errs...)
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
