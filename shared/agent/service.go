package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fanout"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/routing"
)

// Config holds the service's settings.
type Config struct {
	// ConnectionTTL is how long a connection record outlives its token
	// before DynamoDB's TTL removes a record left by a lost $disconnect.
	ConnectionTTL time.Duration
	// Retention is how long agents' messages are kept (as patients').
	Retention time.Duration
}

// Service serves the agent API: it admits consoles with a verified token
// and handles their actions, each checked against the caller's role.
type Service struct {
	verify   Verifier
	agents   Agents
	conns    Connections
	fan      *fanout.Consoles
	cfg      Config
	now      func() time.Time
	work     Assignments
	convs    Conversations
	patients Patients
	trigger  Trigger
	audit    Audit
	queues   []string
	waiting  QueueReader
	sched    Scheduling
	// followUps serves supervisors' follow-up tasks and CSAT figures.
	followUps FollowUps
	assigner  Assigner
	watching  Watching
	figures   kpi.Store
	zone      *time.Location
}

// QueueReader lists a queue's waiting conversations.
type QueueReader interface {
	Waiting(ctx context.Context, queue string) ([]routing.Waiting, error)
}

// WithAudit records every read of patient context in the trail.
func (s *Service) WithAudit(a Audit) *Service {
	s.audit = a
	return s
}

// WithQueues names the queues a conversation may be transferred to and
// reads their figures for the queues action.
func (s *Service) WithQueues(queues []string, r QueueReader) *Service {
	s.queues, s.waiting = queues, r
	return s
}

// WithConversations lets the service's agents work conversations: accept
// and decline offers, message the patient, close.
func (s *Service) WithConversations(a Assignments, c Conversations, p Patients, t Trigger) *Service {
	s.work, s.convs, s.patients, s.trigger = a, c, p, t
	return s
}

// WithWatching lets supervisors monitor, whisper and barge.
func (s *Service) WithWatching(w Watching) *Service {
	s.watching = w
	return s
}

// WithAssigner lets supervisors assign waiting conversations.
func (s *Service) WithAssigner(a Assigner) *Service {
	s.assigner = a
	return s
}

// NewService returns a Service; enc renders what it pushes as frames
// (frames.Encode); now defaults to time.Now.
func NewService(v Verifier, a Agents, c Connections, p Pusher, enc fanout.Encoder, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.ConnectionTTL == 0 {
		cfg.ConnectionTTL = 2 * time.Hour
	}
	if cfg.Retention == 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	return &Service{verify: v, agents: a, conns: c, fan: fanout.NewConsoles(consoleDirectory{agents: c}, p, enc, now), cfg: cfg, now: now}
}

// StaffConnections lists staff consoles by agent and by role.
type StaffConnections interface {
	ForAgent(ctx context.Context, agentID string) ([]Connection, error)
	WithRole(ctx context.Context, role Role) ([]Connection, error)
}

// ConsoleFanout is the fan-out to the consoles conns lists, for the
// functions that only push to agents and supervisors; enc renders what is
// pushed as frames (frames.Encode).
func ConsoleFanout(conns StaffConnections, p Pusher, enc fanout.Encoder, now func() time.Time) *fanout.Consoles {
	return fanout.NewConsoles(consoleDirectory{agents: conns, roles: conns}, p, enc, now)
}

// consoleDirectory lists consoles for fanout, each until its sign-in ends.
type consoleDirectory struct {
	agents interface {
		ForAgent(ctx context.Context, agentID string) ([]Connection, error)
	}
	roles interface {
		WithRole(ctx context.Context, role Role) ([]Connection, error)
	} // nil: the service's own, which never tells a role
}

func (d consoleDirectory) AgentConns(ctx context.Context, agentID string) ([]fanout.Conn, error) {
	if d.agents == nil {
		return nil, fmt.Errorf("agent service: no connections configured")
	}
	return consoles(d.agents.ForAgent(ctx, agentID))
}

func (d consoleDirectory) RoleConns(ctx context.Context, role string) ([]fanout.Conn, error) {
	if d.roles == nil {
		return nil, fmt.Errorf("agent service: consoles by role are not configured")
	}
	return consoles(d.roles.WithRole(ctx, Role(role)))
}

func consoles(conns []Connection, err error) ([]fanout.Conn, error) {
	if err != nil {
		return nil, err
	}
	out := make([]fanout.Conn, len(conns))
	for i, c := range conns {
		out[i] = fanout.Conn{ID: c.ID, ConnectedAt: c.ConnectedAt, Until: c.TokenExpiresAt}
	}
	return out, nil
}

// Connect admits a console: the token must verify and its holder must be
// in one of the pool's groups. The agent's profile is refreshed from the
// token and the connection recorded with the token's expiry, which every
// later action checks.
func (s *Service) Connect(ctx context.Context, connectionID, token string) (Identity, error) {
	if token == "" {
		return Identity{}, fault.Errorf(fault.Unauthorized, "a token is required")
	}
	id, err := s.verify.Verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if !id.Has(RoleAgent) && !id.Has(RoleSupervisor) && !id.Has(RoleAdmin) {
		return Identity{}, fault.Errorf(fault.Forbidden, "the user is in none of the agent, supervisor or admin groups")
	}
	now := s.now()
	if err := s.agents.SaveProfile(ctx, id, now); err != nil {
		return Identity{}, fmt.Errorf("saving the agent's profile: %w", err)
	}
	c := Connection{ID: connectionID, AgentID: id.AgentID, Roles: id.Roles, ConnectedAt: now,
		TokenExpiresAt: id.ExpiresAt, ExpiresAt: id.ExpiresAt.Add(s.cfg.ConnectionTTL)}
	if err := s.conns.Put(ctx, c); err != nil {
		return Identity{}, fmt.Errorf("recording the connection: %w", err)
	}
	return id, nil
}

// Disconnect forgets a console. When it was the agent's last one, the
// agent goes offline, so routing stops offering them conversations.
func (s *Service) Disconnect(ctx context.Context, connectionID string) error {
	c, ok, err := s.conns.Delete(ctx, connectionID)
	if err != nil || !ok {
		return err
	}
	rest, err := s.conns.ForAgent(ctx, c.AgentID)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return nil
	}
	if _, err := s.agents.SetPresence(ctx, c.AgentID, Offline, s.now()); err != nil {
		return fmt.Errorf("setting the agent offline: %w", err)
	}
	return nil
}

// Handle runs one action of a console: the connection must be known, under
// its rate limit, and its token still valid; the action then checks the
// caller's role.
func (s *Service) Handle(ctx context.Context, connectionID string, f Request) error {
	now := s.now()
	c, err := s.conns.Admit(ctx, connectionID, now)
	if err != nil {
		return err
	}
	if !c.SignedIn(now) {
		return fault.Errorf(fault.Unauthorized, "the sign-in has expired; reconnect with a fresh token")
	}
	switch f.Action {
	case ActionPresence:
		return s.presence(ctx, c, f)
	case ActionQueues:
		return s.queueFigures(ctx, c, f)
	case ActionAgents:
		return s.roster(ctx, c, f)
	case ActionFloor:
		return s.floor(ctx, c, f)
	case ActionKPIs:
		return s.kpis(ctx, c, f)
	case ActionTasks, ActionCloseTask, ActionCSAT:
		return s.followUp(ctx, c, f)
	case ActionSlots, ActionBook, ActionCancel, ActionReschedule, ActionAppointments, ActionVisit:
		if !(Identity{Roles: c.Roles}).CanTakeConversations() {
			return fault.Errorf(fault.Forbidden, "only agents and supervisors book appointments")
		}
		if s.work == nil {
			return fmt.Errorf("agent service: %s without conversations configured", f.Action)
		}
		return s.booking(ctx, c, f)
	case ActionAssign:
		return s.assign(ctx, c, f)
	case ActionAccept, ActionDecline, ActionSend, ActionTyping, ActionClose,
		ActionTransfer, ActionHandBack, ActionContext, ActionNote, ActionConversations, ActionMonitor, ActionUnmonitor, ActionWhisper, ActionBarge:
		if s.work == nil {
			return fmt.Errorf("agent service: %s without conversations configured", f.Action)
		}
		if !(Identity{Roles: c.Roles}).CanTakeConversations() {
			return fault.Errorf(fault.Forbidden, "only agents and supervisors work conversations")
		}
		return s.conversation(ctx, c, f)
	default:
		return fault.Errorf(fault.BadRequest, "unknown action %q", f.Action)
	}
}

// assign lets a supervisor offer a waiting conversation to an agent they
// choose, or to themselves: routing makes the offer (the agent must be
// available with room) and tells the supervisor how it went.
func (s *Service) assign(ctx context.Context, c Connection, f Request) error {
	if !(Identity{Roles: c.Roles}).Has(RoleSupervisor) {
		return fault.Errorf(fault.Forbidden, "only supervisors assign conversations")
	}
	if s.assigner == nil || s.convs == nil {
		return fmt.Errorf("agent service: assign without routing configured")
	}
	conv, err := s.convs.Get(ctx, f.ConversationID)
	if err != nil {
		return err
	}
	if conv.State != chat.StateWaiting && conv.State != chat.StateEscalated {
		return fault.Errorf(fault.Conflict, "this conversation is not waiting for an agent")
	}
	target := f.AgentID
	if target == "" {
		target = c.AgentID
	}
	if err := s.assigner.RequestAssignment(ctx, conv.ID, target, c.AgentID); err != nil {
		return err
	}
	return s.fan.To(ctx, c.ID, Assigning{RequestID: f.RequestID, ConversationID: conv.ID, AgentID: target})
}

// presence sets the caller's presence and tells every console of theirs.
func (s *Service) presence(ctx context.Context, c Connection, f Request) error {
	id := Identity{Roles: c.Roles}
	if !id.CanTakeConversations() {
		return fault.Errorf(fault.Forbidden, "only agents and supervisors have a presence")
	}
	a, err := s.agents.SetPresence(ctx, c.AgentID, Presence(f.Status), s.now())
	if err != nil {
		return fmt.Errorf("setting presence: %w", err)
	}
	return s.ToAgent(ctx, c.AgentID, PresenceSet{RequestID: f.RequestID, Presence: a.Presence})
}

// queueFigures answers the queues action: supervisors and admins see every
// queue, agents the queues they serve.
// roster answers with every agent but those offline for good (offline,
// with nothing held): presence and since when, load against capacity,
// skills. Staff data only, for supervisors (the floor) and agents (a
// colleague to transfer to).
func (s *Service) roster(ctx context.Context, c Connection, f Request) error {
	all, err := s.agents.All(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b Agent) int { return strings.Compare(a.Name, b.Name) })
	roster := Roster{RequestID: f.RequestID, Agents: []Agent{}, At: s.now()}
	for _, a := range all {
		if a.Presence == Offline && a.Active == 0 {
			continue
		}
		roster.Agents = append(roster.Agents, a)
	}
	return s.fan.To(ctx, c.ID, roster)
}

func (s *Service) queueFigures(ctx context.Context, c Connection, f Request) error {
	if s.waiting == nil {
		return fmt.Errorf("agent service: queues without a queue reader configured")
	}
	me := Identity{Roles: c.Roles}
	watch := s.queues
	if !me.Has(RoleSupervisor) && !me.Has(RoleAdmin) {
		a, err := s.agents.Get(ctx, c.AgentID)
		if err != nil {
			return err
		}
		watch = nil
		for _, q := range s.queues {
			if slices.Contains(a.Skills, q) {
				watch = append(watch, q)
			}
		}
	}
	now := s.now()
	frame := QueueFigures{RequestID: f.RequestID, Queues: []QueueStat{}, TransferQueues: s.queues, At: now}
	for _, q := range watch {
		ws, err := s.waiting.Waiting(ctx, q)
		if err != nil {
			return fmt.Errorf("reading queue %s: %w", q, err)
		}
		frame.Queues = append(frame.Queues, Figures(q, ws, now))
	}
	if frame.TransferQueues == nil {
		frame.TransferQueues = []string{}
	}
	return s.fan.To(ctx, c.ID, frame)
}

// Figures sums up a queue: how many wait, how many of them are urgent, and
// how long the one waiting longest has waited.
func Figures(queue string, waiting []routing.Waiting, now time.Time) QueueStat {
	st := QueueStat{Name: queue, Waiting: len(waiting)}
	for _, w := range waiting {
		if w.Priority == routing.Urgent {
			st.Urgent++
		}
		if secs := int(now.Sub(w.EnqueuedAt).Seconds()); secs > st.OldestWaitSeconds {
			st.OldestWaitSeconds = secs
		}
	}
	return st
}

// ToAgent pushes a frame to every open console of the agent.
func (s *Service) ToAgent(ctx context.Context, agentID string, frame any) error {
	return s.fan.ToAgent(ctx, agentID, frame)
}

// Deliver pushes a frame to every open console of the agent and says how
// many took it.
func (s *Service) Deliver(ctx context.Context, agentID string, frame any) (int, error) {
	return s.fan.Deliver(ctx, agentID, frame)
}

// toHolders pushes a frame to the consoles of the agent who holds the
// conversation and of the supervisors watching it, but except (the
// sending console).
func (s *Service) toHolders(ctx context.Context, conv chat.Conversation, except string, frame any) error {
	errs := []error{s.toConsoles(ctx, conv.AgentID, except, frame)}
	for _, w := range conv.Watchers {
		if w != conv.AgentID {
			errs = append(errs, s.toConsoles(ctx, w, except, frame))
		}
	}
	return errors.Join(errs...)
}

// toConsoles pushes a frame to the agent's consoles but except.
func (s *Service) toConsoles(ctx context.Context, agentID, except string, frame any) error {
	_, err := s.fan.ToAgentExcept(ctx, agentID, except, frame)
	return err
}

// conversation runs the actions on one conversation, each checked against
// the caller: offers must be theirs, and only the agent who holds a
// conversation messages its patient or closes it.
func (s *Service) conversation(ctx context.Context, c Connection, f Request) error {
	now := s.now()
	switch f.Action {
	case ActionConversations:
		held, err := s.work.Held(ctx, c.AgentID)
		if err != nil {
			return fmt.Errorf("listing held conversations: %w", err)
		}
		if err := s.fan.To(ctx, c.ID, Held{RequestID: f.RequestID, Conversations: held}); err != nil {
			return err
		}
		// Offers still open go to this console again: one pushed before a
		// reload would otherwise lapse unseen and set the agent away.
		offered, err := s.work.Offered(ctx, c.AgentID)
		if err != nil {
			return fmt.Errorf("listing open offers: %w", err)
		}
		var errs []error
		for _, o := range offered {
			if o.OfferExpiresAt.After(now) {
				errs = append(errs, s.fan.To(ctx, c.ID, PendingOffer{pendingNote(o)}))
			}
		}
		return errors.Join(errs...)
	case ActionAccept:
		me, err := s.agents.Get(ctx, c.AgentID)
		if err != nil {
			return err
		}
		conv, err := s.work.Accept(ctx, f.ConversationID, c.AgentID, me.Name, now)
		if err != nil {
			return err
		}
		return errors.Join(
			s.ToAgent(ctx, c.AgentID, Assigned{RequestID: f.RequestID, ConversationID: conv.ID, PatientName: conv.PatientName}),
			s.patients.Broadcast(ctx, conv.ID, "", chat.Status{ConversationID: conv.ID, State: string(chat.StateAssigned), AgentName: me.Name, At: now}),
		)
	case ActionDecline:
		released, err := s.work.Release(ctx, f.ConversationID, c.AgentID, "", routing.Declined, now)
		if err != nil {
			return err
		}
		if !released {
			return fault.Errorf(fault.Conflict, "this conversation is not offered to you")
		}
		return s.trigger.RequestRouting(ctx, "declined")
	}
	conv, err := s.convs.Get(ctx, f.ConversationID)
	if err != nil {
		return err
	}
	switch f.Action {
	case ActionContext:
		return s.context(ctx, c, conv, f)
	case ActionMonitor, ActionUnmonitor, ActionWhisper, ActionBarge:
		return s.supervise(ctx, c, conv, f, now)
	}
	// A supervisor who joined the conversation writes to the patient too,
	// and any supervisor may reassign one an agent holds (a transfer).
	joined := slices.Contains(conv.Barged, c.AgentID) && conv.State == chat.StateAssigned && (f.Action == ActionSend || f.Action == ActionTyping)
	reassign := f.Action == ActionTransfer && conv.State == chat.StateAssigned && conv.AgentID != c.AgentID && (Identity{Roles: c.Roles}).Has(RoleSupervisor)
	if !joined && !reassign && (conv.AgentID != c.AgentID || (conv.State != chat.StateAssigned && !(f.Action == ActionClose && conv.State == chat.StateClosed))) {
		if f.Action == ActionSend && conv.AgentID == c.AgentID && conv.State == chat.StateClosed {
			// A console that lost a reply's ack and closed the
			// conversation meanwhile sends the reply again: if it was
			// stored, it gets its ack, as a patient's resend does.
			return s.ackStored(ctx, c, conv, f)
		}
		return fault.Errorf(fault.Forbidden, "this conversation is not assigned to you")
	}
	switch f.Action {
	case ActionSend:
		sender := conv.AgentName
		if conv.AgentID != c.AgentID {
			me, err := s.agents.Get(ctx, c.AgentID)
			if err != nil {
				return err
			}
			sender = me.Name
		}
		m, dup, err := s.convs.Append(ctx, chat.Message{ConversationID: conv.ID, ClientMessageID: chat.AgentClientID(f.ClientMessageID), Role: chat.RoleAgent,
			SenderName: sender, Text: f.Text, At: now, ExpiresAt: now.Add(s.cfg.Retention)})
		if err != nil {
			return fmt.Errorf("storing the agent's message: %w", err)
		}
		acked := m
		acked.ClientMessageID = f.ClientMessageID // the console's own id, not the stored one
		if err := s.fan.To(ctx, c.ID, chat.Ack{RequestID: f.RequestID, Message: acked}); err != nil {
			return err
		}
		if dup {
			return nil
		}
		except := ""
		if f.NoEcho {
			except = c.ID // this console has the ack and shows its own message
		}
		return errors.Join(s.patients.Broadcast(ctx, conv.ID, "", m), s.toHolders(ctx, conv, except, m))
	case ActionTyping:
		return s.patients.Broadcast(ctx, conv.ID, "", chat.Typing{ConversationID: conv.ID, Role: chat.RoleAgent})
	case ActionNote:
		n := chat.Note{ConversationID: conv.ID, AgentID: c.AgentID, AgentName: conv.AgentName, Text: f.Text, At: now, ExpiresAt: now.Add(s.cfg.Retention)}
		if err := s.convs.AddNote(ctx, n); err != nil {
			return err
		}
		return s.ToAgent(ctx, c.AgentID, NoteAdded{RequestID: f.RequestID, Note: n})
	case ActionTransfer:
		return s.transfer(ctx, c, conv, f, now)
	case ActionHandBack:
		return s.handBack(ctx, c, conv, f, now)
	default: // close
		closed, err := s.work.Finish(ctx, conv.ID, c.AgentID, f.Disposition, f.Steps, now)
		if err != nil {
			return err
		}
		status := chat.Status{RequestID: f.RequestID, ConversationID: closed.ID, State: string(chat.StateClosed), At: now}
		return errors.Join(s.patients.Broadcast(ctx, closed.ID, "", status), s.ToAgent(ctx, c.AgentID, status))
	}
}

// transfer hands a held conversation on, to a queue or to a named agent,
// with the reason the next agent is told (in the offer's summary and the
// patient view). The patient is told in the chat, with their place in
// line when the queue's index already shows it.
func (s *Service) transfer(ctx context.Context, c Connection, conv chat.Conversation, f Request, now time.Time) error {
	queue, to, by := f.Queue, f.Queue, conv.AgentName
	if conv.AgentID != c.AgentID {
		// A supervisor's reassignment: the holder's hand-on, in their name.
		me, err := s.agents.Get(ctx, c.AgentID)
		if err != nil {
			return err
		}
		by = me.Name + " (supervisor)"
	}
	if f.AgentID != "" {
		if s.assigner == nil {
			return fmt.Errorf("agent service: transfer to an agent without routing configured")
		}
		if f.AgentID == conv.AgentID {
			return fault.Errorf(fault.BadRequest, "the conversation is already theirs")
		}
		target, err := s.agents.Get(ctx, f.AgentID)
		if err != nil {
			return err
		}
		to = target.Name
		if queue == "" {
			queue = conv.Queue
		}
		if queue == "" && len(s.queues) > 0 {
			queue = s.queues[0]
		}
	}
	if !slices.Contains(s.queues, queue) {
		return fault.Errorf(fault.BadRequest, "unknown queue %q", queue)
	}
	w, err := s.work.Transfer(ctx, conv.ID, conv.AgentID, queue, chat.Transfer{By: by, Reason: f.Reason, To: to}, now)
	if err != nil {
		return err
	}
	told, _, err := s.convs.Append(ctx, chat.Message{ConversationID: conv.ID, ClientMessageID: chat.NoticeClientID("transfer-" + noticeTime(now)),
		Role: chat.RoleSystem, Text: transferText(conv.Locale), At: now, ExpiresAt: now.Add(s.cfg.Retention)})
	if err != nil {
		return fmt.Errorf("telling the patient of the transfer: %w", err)
	}
	status := chat.Status{ConversationID: conv.ID, State: string(chat.StateWaiting), At: now}
	agentStatus := status
	agentStatus.RequestID = f.RequestID
	if s.waiting != nil {
		if ws, err := s.waiting.Waiting(ctx, queue); err == nil {
			status.QueuePosition = routing.Position(ws, conv.ID)
		}
	}
	next := s.trigger.RequestRouting(ctx, "transferred to "+w.Queue)
	if f.AgentID != "" {
		next = s.assigner.RequestAssignment(ctx, conv.ID, f.AgentID, c.AgentID)
	}
	toHolder := s.ToAgent(ctx, conv.AgentID, agentStatus)
	if conv.AgentID != c.AgentID {
		// The holder did not ask: their console sees it leave (a status
		// without their request), the supervisor gets the answer.
		toHolder = errors.Join(s.ToAgent(ctx, conv.AgentID, status), s.fan.To(ctx, c.ID, agentStatus))
	}
	return errors.Join(s.patients.Broadcast(ctx, conv.ID, "", told), s.patients.Broadcast(ctx, conv.ID, "", status), toHolder, next)
}

// handBack gives a held conversation back to the bot (after a billing
// answer, say, so the bot can book or close): the bot resumes at its menu,
// which its message to the patient shows, and the agent's capacity is
// freed.
func (s *Service) handBack(ctx context.Context, c Connection, conv chat.Conversation, f Request, now time.Time) error {
	back, err := s.work.HandBack(ctx, conv.ID, c.AgentID, bot.Resumed(conv.Locale), now)
	if err != nil {
		return err
	}
	text, replies := handBackText(back.Locale)
	m, _, err := s.convs.Append(ctx, chat.Message{ConversationID: conv.ID, ClientMessageID: chat.NoticeClientID("handback-" + noticeTime(now)),
		Role: chat.RoleBot, Text: text, QuickReplies: replies, At: now, ExpiresAt: now.Add(s.cfg.Retention)})
	if err != nil {
		return fmt.Errorf("telling the patient the bot is back: %w", err)
	}
	status := chat.Status{ConversationID: conv.ID, State: string(chat.StateBot), At: now}
	agentStatus := status
	agentStatus.RequestID = f.RequestID
	return errors.Join(s.patients.Broadcast(ctx, conv.ID, "", status), s.patients.Broadcast(ctx, conv.ID, "", m),
		s.ToAgent(ctx, c.AgentID, agentStatus))
}

// noticeTime is the time in a notice's client message id: one notice of a
// kind per millisecond.
func noticeTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// handBackText is the bot's word to a patient handed back to it, with its
// menu.
func handBackText(locale string) (string, []string) {
	if locale == "es" {
		return "Vuelve a hablar con el asistente virtual. ¿En qué más puedo ayudarle?", []string{"Hacer una pregunta", "Pedir una cita", "Revisar un síntoma", "Hablar con una persona"}
	}
	return "You're back with the virtual assistant. What else can I help you with?", []string{"Ask a question", "Request an appointment", "Check a symptom", "Talk to a person"}
}

// transferText tells the patient their conversation is handed on.
func transferText(locale string) string {
	if locale == "es" {
		return "Le paso con otra persona de nuestro equipo que puede ayudarle con esto. Por favor, siga en este chat: verá todo lo escrito hasta ahora."
	}
	return "I'm passing your conversation to a colleague who can help with this. Please stay in this chat: they will see everything written so far."
}

// recordRead writes a person's read of a patient's record to the audit
// trail, before it is shown; a read that cannot be recorded is refused.
func (s *Service) recordRead(ctx context.Context, c Connection, e AuditEntry) error {
	if s.audit == nil {
		return fmt.Errorf("agent service: no audit trail configured")
	}
	e.ReaderID, e.At = c.AgentID, s.now()
	if err := s.audit.Record(ctx, e); err != nil {
		return fmt.Errorf("recording the read: %w", err)
	}
	return nil
}

// MinReasonRunes is the shortest reason a supervisor may give for reading
// a conversation they do not hold.
const MinReasonRunes = 10

// maxContextBytes bounds a context frame's transcript.
const maxContextBytes = 96 * 1024

// context sends the unified patient view: to the agent who holds the
// conversation, or to a supervisor who gives a reason. The read is
// recorded in the audit trail first; a read that cannot be recorded is
// refused.
func (s *Service) context(ctx context.Context, c Connection, conv chat.Conversation, f Request) error {
	me := Identity{Roles: c.Roles}
	role, why := string(RoleAgent), f.Reason
	switch {
	case conv.AgentID == c.AgentID && conv.Disposition == "" && (conv.State == chat.StateAssigned || conv.State == chat.StateClosed):
		// Held: assigned, or ended by the patient and not yet wrapped up.
		if why == "" {
			why = "handling the conversation"
		}
	case me.Has(RoleSupervisor):
		// Supervisors may look at any conversation, the bot's included (a
		// red flag may need a person before any handoff), for a reason the
		// audit trail can show someone: "x" is not one.
		role = string(RoleSupervisor)
		if utf8.RuneCountInString(strings.TrimSpace(why)) < MinReasonRunes {
			return fault.Errorf(fault.BadRequest, "give a reason of at least %d characters to view a conversation you do not hold", MinReasonRunes)
		}
	default:
		return fault.Errorf(fault.Forbidden, "this conversation is not assigned to you")
	}
	if err := s.recordRead(ctx, c, AuditEntry{PatientID: conv.PatientID, ConversationID: conv.ID, ReaderRole: role,
		What: "patient context (profile, transcript, triage, notes)", Why: why}); err != nil {
		return err
	}
	msgs, err := s.convs.After(ctx, conv.ID, "")
	if err != nil {
		return err
	}
	notes, err := s.convs.Notes(ctx, conv.ID)
	if err != nil {
		return err
	}
	view := PatientView{RequestID: f.RequestID, Conversation: conv, Notes: notes}
	// The newest messages that fit one WebSocket message (128 KB), however
	// JSON escapes their text.
	budget := maxContextBytes
	for _, n := range notes {
		budget -= chat.EncodedBound(chat.Message{Text: n.Text, SenderName: n.AgentName})
	}
	first := len(msgs)
	for first > 0 && budget-chat.EncodedBound(msgs[first-1]) > 0 {
		budget -= chat.EncodedBound(msgs[first-1])
		first--
	}
	view.Earlier = first > 0
	view.Transcript = msgs[first:]
	if s.sched != nil {
		if view.Appointments, err = s.upcoming(ctx, conv); err != nil {
			return err
		}
		view.TimeZone = s.sched.Directory().Zone().String()
	}
	return s.fan.To(ctx, c.ID, view)
}

// pendingNote is an open offer's note, as routing made it: the queue, the
// handoff's priority, language and summary, the transfer, the expiry.
func pendingNote(c chat.Conversation) routing.OfferNote {
	n := routing.OfferNote{ConversationID: c.ID, Queue: c.Queue, ExpiresAt: c.OfferExpiresAt, Transfer: c.Transfer}
	if h := c.Handoff; h != nil {
		n.Priority, n.Language, n.Summary = h.Priority, h.Language, h.Summary
		if n.Queue == "" {
			n.Queue = h.Queue
		}
	}
	return n
}

// ackStored answers the resend of a reply its agent sent before closing the
// conversation: the stored message's ack when there is one (its own, not
// another's: the id is the console's), else the conversation is not
// theirs to write to any more.
func (s *Service) ackStored(ctx context.Context, c Connection, conv chat.Conversation, f Request) error {
	m, ok, err := s.convs.Stored(ctx, conv.ID, chat.AgentClientID(f.ClientMessageID))
	if err != nil {
		return fmt.Errorf("looking up a resent reply in %s: %w", conv.ID, err)
	}
	if !ok || m.Role != chat.RoleAgent {
		return fault.Errorf(fault.Forbidden, "this conversation is not assigned to you")
	}
	m.ClientMessageID = f.ClientMessageID // the console's own id, not the stored one
	return s.fan.To(ctx, c.ID, chat.Ack{RequestID: f.RequestID, Message: m})
}
