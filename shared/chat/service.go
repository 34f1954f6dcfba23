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
	"github.com/patientservicecenter/psc/shared/protocol"
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
}

// NewService wires a Service. now and newID may be nil for the real clock
// and random ids.
func NewService(conv Conversations, conns Connections, p Pusher, s Sessions, cfg Config, now func() time.Time, newID func() string) *Service {
	if now == nil {
		now = time.Now
	}
	if newID == nil {
		newID = NewID
	}
	return &Service{conversations: conv, connections: conns, fan: PatientFanout(conns, p, now), sessions: s, cfg: cfg, now: now, newID: newID}
}

// PatientFanout is the fan-out to the patient connections conns lists, for
// the functions that only push to patients.
func PatientFanout(conns Connections, p Pusher, now func() time.Time) *fanout.Patients {
	return fanout.NewPatients(patientDirectory{conns}, p, now)
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
	return s.agents.ToAgent(ctx, c.AgentID, frame)
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

// Handle runs one validated client frame from a connection. Answers go to
// the caller through the Pusher; a returned error is for the caller's
// error frame.
func (s *Service) Handle(ctx context.Context, connectionID string, f protocol.ClientFrame) error {
	conn, err := s.connections.Admit(ctx, connectionID, s.now())
	if err != nil {
		return err
	}
	switch f.Action {
	case protocol.ActionStart:
		return s.start(ctx, conn, f)
	case protocol.ActionResume:
		return s.resume(ctx, conn, f)
	case protocol.ActionSend:
		return s.send(ctx, conn, f)
	case protocol.ActionTyping:
		return s.typing(ctx, conn, f)
	case protocol.ActionEnd:
		return s.end(ctx, conn, f)
	}
	return fault.Errorf(fault.BadRequest, "unknown action")
}

func (s *Service) start(ctx context.Context, conn Connection, f protocol.ClientFrame) error {
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
	if err := s.pushTo(ctx, conn.ID, protocol.SessionFrame{Type: protocol.TypeSession, RequestID: f.RequestID, Session: token, ConversationID: c.ID, PatientID: patientID}); err != nil {
		return err
	}
	if err := s.pushTo(ctx, conn.ID, statusFrame(c, "")); err != nil {
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

func (s *Service) resume(ctx context.Context, conn Connection, f protocol.ClientFrame) error {
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
	for _, h := range historyFrames(c, msgs, f.RequestID, s.now()) {
		if err := s.pushTo(ctx, conn.ID, h); err != nil {
			return err
		}
	}
	return nil
}

// maxHistoryBytes keeps each history frame under the 128 KB that one
// @connections post may carry.
const maxHistoryBytes = 96 * 1024

// historyFrames splits the messages into frames under maxHistoryBytes; all
// but the last say more=true. There is always at least one frame.
func historyFrames(c Conversation, msgs []Message, requestID string, readAt time.Time) []protocol.HistoryFrame {
	var frames []protocol.HistoryFrame
	cur := protocol.HistoryFrame{Type: protocol.TypeHistory, RequestID: requestID, ConversationID: c.ID, State: c.State.PatientState(),
		At: protocol.FormatTime(readAt), Messages: []protocol.MessageFrame{}}
	size := 0
	for _, m := range msgs {
		mf := MessageFrame(m)
		n := len(protocol.Encode(mf))
		if size+n > maxHistoryBytes && len(cur.Messages) > 0 {
			cur.More = true
			frames = append(frames, cur)
			cur.Messages, cur.More, size = []protocol.MessageFrame{}, false, 0
		}
		cur.Messages = append(cur.Messages, mf)
		size += n
	}
	return append(frames, cur)
}

func (s *Service) send(ctx context.Context, conn Connection, f protocol.ClientFrame) error {
	c, err := s.owned(ctx, conn, f.ConversationID)
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
		return s.pushTo(ctx, conn.ID, ackFrame(f.RequestID, m))
	}
	now := s.now()
	m, dup, err := s.conversations.Append(ctx, Message{
		ConversationID: c.ID, ClientMessageID: f.ClientMessageID, Role: RolePatient, SenderName: c.PatientName,
		Text: f.Text, At: now, ExpiresAt: now.Add(s.cfg.Retention),
	})
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
	if err := s.pushTo(ctx, conn.ID, ackFrame(f.RequestID, m)); err != nil {
		return err
	}
	if dup {
		// A resend watches again: the first attempt may have stored the
		// message and failed before the alert (the guidance is stored once).
		return s.redFlagWatch(ctx, c, m)
	}
	frame := MessageFrame(m)
	except := ""
	if f.NoEcho {
		except = conn.ID // it has the ack and shows its own message
	}
	// The patient's message first, then the guidance for a red flag in it.
	return errors.Join(s.Broadcast(ctx, c.ID, except, frame), s.toAgent(ctx, c, frame), s.redFlagWatch(ctx, c, m))
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
		return s.Broadcast(ctx, c.ID, "", MessageFrame(g))
	}
	alert := protocol.AlertFrame{Type: protocol.TypeAlert, ConversationID: c.ID, Priority: "urgent",
		State: string(c.State), At: now.UTC().Format(time.RFC3339)}
	var names []string
	for _, f := range flags {
		alert.RedFlags = append(alert.RedFlags, f.ID)
		names = append(names, f.Name)
	}
	alert.Summary = "Red flag reported after the handoff: " + strings.Join(names, "; ") + ". The patient was given the emergency guidance."
	frame := MessageFrame(g)
	errs := []error{s.Broadcast(ctx, c.ID, "", frame), s.toAgent(ctx, c, frame), s.toAgent(ctx, c, alert)}
	if s.supervisors != nil {
		errs = append(errs, s.supervisors.Tell(ctx, alert))
	}
	return errors.Join(errs...)
}

func (s *Service) typing(ctx context.Context, conn Connection, f protocol.ClientFrame) error {
	c, err := s.owned(ctx, conn, f.ConversationID)
	if err != nil {
		return err
	}
	frame := protocol.TypingFrame{Type: protocol.TypeTyping, ConversationID: c.ID, Role: RolePatient}
	return errors.Join(s.Broadcast(ctx, c.ID, conn.ID, frame), s.toAgent(ctx, c, frame))
}

func (s *Service) end(ctx context.Context, conn Connection, f protocol.ClientFrame) error {
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
	return errors.Join(s.Broadcast(ctx, c.ID, "", statusFrame(c, f.RequestID)),
		s.toAgent(ctx, agentView, protocol.StatusFrame{Type: protocol.TypeStatus, ConversationID: c.ID, State: string(StateClosed)}))
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

// ackFrame answers a send with the stored message's id.
func ackFrame(requestID string, m Message) protocol.AckFrame {
	return protocol.AckFrame{Type: protocol.TypeAck, RequestID: requestID, ClientMessageID: m.ClientMessageID, MessageID: m.ID, At: protocol.FormatTime(m.At)}
}

// StatusFrame renders a conversation's state as the patient sees it.
func StatusFrame(c Conversation) protocol.StatusFrame { return statusFrame(c, "") }

// MessageFrame renders a stored message as the protocol's message frame.
func MessageFrame(m Message) protocol.MessageFrame {
	return protocol.MessageFrame{
		Type: protocol.TypeMessage, ConversationID: m.ConversationID, MessageID: m.ID,
		From: protocol.Sender{Role: m.Role, Name: m.SenderName}, Text: m.Text, At: protocol.FormatTime(m.At), QuickReplies: m.QuickReplies,
	}
}

// statusFrame says the conversation's state as of its last change (c's
// UpdatedAt, which every change of state sets).
func statusFrame(c Conversation, requestID string) protocol.StatusFrame {
	f := protocol.StatusFrame{Type: protocol.TypeStatus, RequestID: requestID, ConversationID: c.ID, State: c.State.PatientState()}
	if !c.UpdatedAt.IsZero() {
		f.At = protocol.FormatTime(c.UpdatedAt)
	}
	return f
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
