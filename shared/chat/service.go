package chat

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fanout"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/triage"
)

// Config holds the service's settings.
type Config struct {
	// ConnectionTTL is how long a connection record lives; API Gateway
	// closes a connection after two hours at the latest.
	ConnectionTTL time.Duration
	// Retention is how long conversations and messages are kept (TTL).
	Retention time.Duration
	// ResumeGrace is how long after a conversation closed its session may
	// still resume it (to read the last messages, answer the survey);
	// after it, resume is refused, so a shared device does not show
	// yesterday's chat to whoever holds the token. Default 10 minutes.
	ResumeGrace time.Duration
	// MaxStartsPerConnection and MaxStartsPerPatient cap the conversations
	// one connection, and one patient (a session) in a UTC day, may start:
	// each start writes a conversation and asks the bot for a turn, so an
	// unauthenticated client must not start them without end. Defaults 3
	// and 20.
	MaxStartsPerConnection, MaxStartsPerPatient int
}

// DefaultResumeGrace is ResumeGrace when none is set.
const DefaultResumeGrace = 10 * time.Minute

// BotTurns asks the bot to take a turn: to greet a new conversation
// (messageID "") or to answer a patient message.
type BotTurns interface {
	Request(ctx context.Context, conversationID, messageID string) error
}

// Service runs the patient side of conversations.
type Service struct {
	conversations Conversations
	connections   Connections
	fan           *fanout.Patients
	sessions      Sessions
	bot           BotTurns
	agents        AgentFanout
	watch         RedFlagWatch
	supervisors   Supervisors
	cfg           Config
	now           func() time.Time
	newID         func() string
	transcripts   *TranscriptMail
	signIns       *SignIns
}

// NewService wires a Service; fan is the fan-out to conns (PatientFanout).
// now and newID may be nil for the real clock and random ids.
func NewService(conv Conversations, conns Connections, fan *fanout.Patients, s Sessions, cfg Config, now func() time.Time, newID func() string) *Service {
	if now == nil {
		now = time.Now
	}
	if newID == nil {
		newID = NewID
	}
	return &Service{conversations: conv, connections: conns, fan: fan, sessions: s, cfg: cfg, now: now, newID: newID}
}

// PatientFanout is the fan-out to the patient connections conns lists;
// enc renders what is pushed as frames (frames.Encode).
func PatientFanout(conns Connections, p Pusher, enc fanout.Encoder, now func() time.Time) *fanout.Patients {
	return fanout.NewPatients(patientDirectory{conns}, p, enc, now)
}

// patientDirectory lists a conversation's connections for fanout.
type patientDirectory struct{ Connections }

func (d patientDirectory) PatientConns(ctx context.Context, conversationID string) ([]fanout.Conn, error) {
	conns, err := d.ForConversation(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	out := make([]fanout.Conn, len(conns))
	for i, c := range conns {
		out[i] = fanout.Conn{ID: c.ID, ConnectedAt: c.ConnectedAt}
	}
	return out, nil
}

// AgentFanout tells an agent's consoles a frame.
type AgentFanout interface {
	ToAgent(ctx context.Context, agentID string, frame any) error
}

// WithAgents makes the service tell the agent who holds a conversation
// what its patient sends, types, and when they end it.
func (s *Service) WithAgents(a AgentFanout) *Service {
	s.agents = a
	return s
}

// toAgent tells the conversation's agent a frame, when it has one.
func (s *Service) toAgent(ctx context.Context, c Conversation, frame any) error {
	if s.agents == nil || c.AgentID == "" || c.State != StateAssigned {
		return nil
	}
	errs := []error{s.agents.ToAgent(ctx, c.AgentID, frame)}
	for _, w := range c.Watchers {
		if w != c.AgentID {
			errs = append(errs, s.agents.ToAgent(ctx, w, frame))
		}
	}
	return errors.Join(errs...)
}

// RedFlagWatch reads a patient's message once the bot has handed the
// conversation on.
type RedFlagWatch interface {
	// Watch returns, for a red flag reported in text, the emergency
	// guidance in locale and the red flags (ids and names); ok is false
	// without one.
	Watch(text, locale string) (guidance string, flags []Flag, ok bool)
}

// Flag is a red flag the watch found.
type Flag struct{ ID, Name string }

// Supervisors tells every signed-in supervisor a frame.
type Supervisors interface {
	Tell(ctx context.Context, frame any) error
}

// WithWatch keeps the red-flag watch over the whole conversation: a red
// flag in a patient's message after the handoff (waiting or with an
// agent) gets the patient the emergency guidance at once, and an urgent
// alert to the agent who holds it and to every supervisor.
func (s *Service) WithWatch(w RedFlagWatch, sup Supervisors) *Service {
	s.watch, s.supervisors = w, sup
	return s
}

// WithBot makes the service hand conversations in bot state to the bot.
func (s *Service) WithBot(b BotTurns) *Service {
	s.bot = b
	return s
}

// NewID returns a random 128-bit id in lower-case base32.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Connect admits a patient connection. With a session token the
// connection is bound to the token's conversation; an invalid or expired
// token is fault.Unauthorized and the handshake must fail.
func (s *Service) Connect(ctx context.Context, connectionID, sessionToken string) error {
	now := s.now()
	c := Connection{ID: connectionID, Role: RolePatient, ConnectedAt: now, ExpiresAt: now.Add(s.cfg.ConnectionTTL)}
	if sessionToken != "" {
		claims, err := s.sessions.Verify(sessionToken)
		if err != nil {
			return fault.Errorf(fault.Unauthorized, "session is invalid or expired")
		}
		c.PatientID, c.ConversationID = claims.PatientID, claims.ConversationID
	}
	if err := s.connections.Put(ctx, c); err != nil {
		return fmt.Errorf("storing connection: %w", err)
	}
	return nil
}

// Disconnect forgets a connection.
func (s *Service) Disconnect(ctx context.Context, connectionID string) error {
	if err := s.connections.Delete(ctx, connectionID); err != nil {
		return fmt.Errorf("deleting connection: %w", err)
	}
	return nil
}

// Every action admits the caller's frame first (Connections.Admit: the
// connection exists, and its rate and size limits hold). Answers go to the
// caller through the fan-out; a returned error is for the caller's error
// frame.

// Start begins a new conversation and answers with its session.
func (s *Service) Start(ctx context.Context, connectionID string, f StartRequest) error {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return err
	}
	now := s.now()
	patientID := conn.PatientID
	if patientID == "" {
		patientID = "p-" + s.newID()
	}
	perConn, perPatient := s.cfg.MaxStartsPerConnection, s.cfg.MaxStartsPerPatient
	if perConn <= 0 {
		perConn = 3
	}
	if perPatient <= 0 {
		perPatient = 20
	}
	if err := s.connections.CountStart(ctx, conn.ID, patientID, now, perConn, perPatient); err != nil {
		return err
	}
	c := Conversation{
		ID: "c-" + s.newID(), PatientID: patientID, PatientName: f.Name, Topic: f.Topic, Locale: f.Locale,
		State: StateBot, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.Retention),
	}
	if err := s.conversations.Create(ctx, c); err != nil {
		return fmt.Errorf("creating conversation: %w", err)
	}
	if err := s.connections.Bind(ctx, conn.ID, patientID, c.ID); err != nil {
		return fmt.Errorf("binding connection to conversation %s: %w", c.ID, err)
	}
	token, _, err := s.sessions.Issue(patientID, c.ID)
	if err != nil {
		return err
	}
	if err := s.pushTo(ctx, conn.ID, Session{RequestID: f.RequestID, Token: token, ConversationID: c.ID, PatientID: patientID}); err != nil {
		return err
	}
	if err := s.pushTo(ctx, conn.ID, StatusOf(c)); err != nil {
		return err
	}
	if s.bot != nil {
		if err := s.bot.Request(ctx, c.ID, ""); err != nil {
			return fmt.Errorf("asking the bot to greet %s: %w", c.ID, err)
		}
	}
	return nil
}

// owned returns the caller's conversation, refusing any other one.
// admitOwned admits a frame of the connection (its rate limit) and reads
// its conversation, which must be the one named.
func (s *Service) admitOwned(ctx context.Context, connectionID, conversationID string) (Connection, Conversation, error) {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return Connection{}, Conversation{}, err
	}
	c, err := s.owned(ctx, conn, conversationID)
	return conn, c, err
}

func (s *Service) owned(ctx context.Context, conn Connection, conversationID string) (Conversation, error) {
	if conn.ConversationID == "" {
		return Conversation{}, fault.Errorf(fault.Unauthorized, "start a conversation or reconnect with your session first")
	}
	if conversationID != "" && conversationID != conn.ConversationID {
		return Conversation{}, fault.Errorf(fault.Forbidden, "that conversation is not yours")
	}
	c, err := s.conversations.Get(ctx, conn.ConversationID)
	if err != nil {
		return Conversation{}, err
	}
	if c.PatientID != conn.PatientID {
		return Conversation{}, fault.Errorf(fault.Forbidden, "that conversation is not yours")
	}
	return c, nil
}

// Resume answers with the conversation's state and the messages after
// f.After, for a connection that came back with its session.
func (s *Service) Resume(ctx context.Context, connectionID string, f ResumeRequest) error {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return err
	}
	c, err := s.owned(ctx, conn, "")
	if err != nil {
		return err
	}
	grace := s.cfg.ResumeGrace
	if grace <= 0 {
		grace = DefaultResumeGrace
	}
	if c.State == StateClosed && s.now().Sub(c.UpdatedAt) > grace {
		return fault.Errorf(fault.Unauthorized, "this conversation has ended; start a new one")
	}
	msgs, err := s.conversations.After(ctx, c.ID, f.After)
	if err != nil {
		return fmt.Errorf("reading messages of %s: %w", c.ID, err)
	}
	for _, h := range historyParts(c, msgs, f.RequestID, s.now()) {
		if err := s.pushTo(ctx, conn.ID, h); err != nil {
			return err
		}
	}
	return nil
}

// maxHistoryBytes keeps each part of a history under the 128 KB that one
// @connections post may carry.
const maxHistoryBytes = 96 * 1024

// EncodedBound is the most bytes a message can take in a frame: JSON
// escapes a character as at most six bytes ("\u001f"), and the frame's
// keys, ids and time take less than 300.
func EncodedBound(m Message) int {
	n := 300 + 6*(len(m.Text)+len(m.SenderName)+len(m.ConversationID)+len(m.ID))
	for _, q := range m.QuickReplies {
		n += 6*len(q) + 3
	}
	return n
}

// historyParts splits the messages into parts under maxHistoryBytes once
// encoded; all but the last say More. There is always at least one part.
func historyParts(c Conversation, msgs []Message, requestID string, readAt time.Time) []History {
	var parts []History
	cur := History{RequestID: requestID, ConversationID: c.ID, State: c.State.PatientState(), At: readAt, Messages: []Message{}}
	size := 0
	for _, m := range msgs {
		n := EncodedBound(m)
		if size+n > maxHistoryBytes && len(cur.Messages) > 0 {
			cur.More = true
			parts = append(parts, cur)
			cur.Messages, cur.More, size = []Message{}, false, 0
		}
		cur.Messages = append(cur.Messages, m)
		size += n
	}
	return append(parts, cur)
}

// Send stores a patient's message once, asks the bot to answer it while
// the bot has the conversation, acks it, and tells it to the
// conversation's other connections and its agent.
func (s *Service) Send(ctx context.Context, connectionID string, f SendRequest) error {
	conn, c, err := s.admitOwned(ctx, connectionID, f.ConversationID)
	if err != nil {
		return err
	}
	if c.State == StateClosed {
		// A resend of a message stored before the end (its ack was lost)
		// still gets its ack; anything new is refused.
		m, ok, err := s.conversations.Stored(ctx, c.ID, f.ClientMessageID)
		if err != nil {
			return fmt.Errorf("looking up %s in %s: %w", f.ClientMessageID, c.ID, err)
		}
		if !ok {
			return fault.Errorf(fault.Conflict, "this conversation has ended")
		}
		return s.pushTo(ctx, conn.ID, Ack{RequestID: f.RequestID, Message: m})
	}
	now := s.now()
	m := Message{
		ConversationID: c.ID, ClientMessageID: f.ClientMessageID, Role: RolePatient, SenderName: c.PatientName,
		Text: f.Text, At: now, ExpiresAt: now.Add(s.cfg.Retention),
	}
	if c.State == StateBot {
		// A patient talking with the bot nearly always writes after its
		// last reply: the store can take the next slot without reading.
		m.Follows = c.BotReply
	}
	m, dup, err := s.conversations.Append(ctx, m)
	if err != nil {
		return fmt.Errorf("storing message in %s: %w", c.ID, err)
	}
	// The bot is asked before the ack: a patient who sees the ack can rely
	// on an answer. A resend asks again (the queue and the bot both
	// deduplicate), in case the first request was lost.
	if s.bot != nil && c.State == StateBot {
		if err := s.bot.Request(ctx, c.ID, m.ID); err != nil {
			return fmt.Errorf("asking the bot to answer %s: %w", m.ID, err)
		}
	}
	if err := s.pushTo(ctx, conn.ID, Ack{RequestID: f.RequestID, Message: m}); err != nil {
		return err
	}
	if dup {
		// A resend watches again: the first attempt may have stored the
		// message and failed before the alert (the guidance is stored once).
		return s.redFlagWatch(ctx, c, m)
	}
	except := ""
	if f.NoEcho {
		except = conn.ID // it has the ack and shows its own message
	}
	// The patient's message first, then the guidance for a red flag in it.
	return errors.Join(s.Broadcast(ctx, c.ID, except, m), s.toAgent(ctx, c, m), s.redFlagWatch(ctx, c, m))
}

// watchClientID is the client message id of the guidance the watch gives
// for a patient's message: server-made ('#'), one per message.
func watchClientID(m Message) string { return "watch#" + m.ID }

// redFlagWatch gives the emergency guidance and raises the alert when a
// message sent after the handoff reports a red flag.
func (s *Service) redFlagWatch(ctx context.Context, c Conversation, m Message) error {
	if s.watch == nil || c.State == StateBot || c.State == StateClosed {
		return nil
	}
	if c.Handoff != nil && !m.At.After(c.Handoff.At) {
		return nil // sent to the bot before the handoff (a resend): the bot answered it
	}
	guidance, flags, ok := s.watch.Watch(m.Text, c.Locale)
	if !ok {
		return nil
	}
	now := s.now()
	g, again, err := s.conversations.Append(ctx, Message{
		ConversationID: c.ID, ClientMessageID: watchClientID(m), Role: RoleSystem,
		Text: guidance, At: now, ExpiresAt: now.Add(s.cfg.Retention),
	})
	if err != nil {
		return fmt.Errorf("storing the emergency guidance in %s: %w", c.ID, err)
	}
	if again {
		// A resend: the guidance is pushed again (clients drop a message id
		// they have), the alert was raised once.
		return s.Broadcast(ctx, c.ID, "", g)
	}
	alert := Alert{ConversationID: c.ID, Priority: "urgent", State: string(c.State), At: now}
	var names []string
	for _, f := range flags {
		alert.RedFlags = append(alert.RedFlags, f.ID)
		names = append(names, f.Name)
	}
	alert.Summary = "Red flag reported after the handoff: " + strings.Join(names, "; ") + ". The patient was given the emergency guidance."
	errs := []error{s.Broadcast(ctx, c.ID, "", g), s.toAgent(ctx, c, g), s.toAgent(ctx, c, alert)}
	if s.supervisors != nil {
		errs = append(errs, s.supervisors.Tell(ctx, alert))
	}
	return errors.Join(errs...)
}

// Typing tells the conversation's other connections and its agent that the
// patient is typing, while the conversation is open.
func (s *Service) Typing(ctx context.Context, connectionID, conversationID string) error {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return err
	}
	c, err := s.owned(ctx, conn, conversationID)
	if err != nil {
		return err
	}
	if c.State == StateClosed {
		return nil // nobody is waiting for an answer any more; typing has none
	}
	frame := Typing{ConversationID: c.ID, Role: RolePatient}
	return errors.Join(s.Broadcast(ctx, c.ID, conn.ID, frame), s.toAgent(ctx, c, frame))
}

// End closes the patient's conversation. The agent who holds it keeps it
// until they wrap up.
func (s *Service) End(ctx context.Context, connectionID string, f EndRequest) error {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return err
	}
	if _, err := s.owned(ctx, conn, f.ConversationID); err != nil {
		return err
	}
	c, err := s.conversations.Close(ctx, f.ConversationID, s.now())
	if err != nil {
		return err
	}
	// The agent still holds it until they wrap up (close with a
	// disposition), which frees their capacity.
	agentView := c
	agentView.State = StateAssigned
	closed := StatusOf(c)
	closed.RequestID = f.RequestID
	return errors.Join(s.Broadcast(ctx, c.ID, "", closed),
		s.toAgent(ctx, agentView, Status{ConversationID: c.ID, State: string(StateClosed)}))
}

// Broadcast pushes a frame to every connection of a conversation but
// except (fanout.Patients: a gone connection is removed; other push
// failures are returned after every connection was tried).
func (s *Service) Broadcast(ctx context.Context, conversationID, except string, frame any) error {
	return s.fan.Broadcast(ctx, conversationID, except, frame)
}

// pushTo sends a frame to the caller; a gone caller is removed.
func (s *Service) pushTo(ctx context.Context, connectionID string, frame any) error {
	return s.fan.To(ctx, connectionID, frame)
}

// TriageWatch is the RedFlagWatch of the triage rules.
type TriageWatch struct{ Engine *triage.Engine }

// Watch returns the guidance and red flags of a red flag reported in text.
func (w TriageWatch) Watch(text, locale string) (string, []Flag, bool) {
	guidance, flags, ok := w.Engine.Watch(text, locale)
	out := make([]Flag, 0, len(flags))
	for _, f := range flags {
		out = append(out, Flag{ID: f.ID, Name: f.Name})
	}
	return guidance, out, ok
}
