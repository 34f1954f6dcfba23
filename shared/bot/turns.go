package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

// Request asks the bot for one turn: the message contract of the bot-turn
// queue (events/sqs-bot-turn-*.json). Only ids travel; the text stays in
// the conversation's table.
type Request struct {
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId,omitempty"` // empty: greet the new conversation
}

// Store is what a turn needs of the conversations.
type Store interface {
	// ForTurn returns the conversation and, unless messageID is empty (the
	// greeting), the message the turn answers: one read where the store
	// can (fault.NotFound when either is missing).
	ForTurn(ctx context.Context, conversationID, messageID string) (chat.Conversation, chat.Message, error)
	AppendTurn(ctx context.Context, m chat.Message, c chat.Change) (chat.Message, bool, error)
	// Answered returns the reply the conversation's last bot turn stored,
	// if that turn answered messageID ("" for the greeting).
	Answered(ctx context.Context, conversationID, messageID string) (chat.Message, bool, error)
}

// Broadcaster pushes frames to a conversation's connections.
type Broadcaster interface {
	Broadcast(ctx context.Context, conversationID, except string, frame any) error
}

// manyFrames is a Broadcaster that pushes several frames after one look-up
// of the conversation's connections (fanout.Patients): a turn that hands
// off or closes pushes its reply and the new state with one read.
type manyFrames interface {
	BroadcastAll(ctx context.Context, conversationID, except string, frames ...any) error
}

// broadcast pushes frames in order to the conversation's connections.
func (t *Turner) broadcast(ctx context.Context, conversationID string, frames ...any) error {
	if m, ok := t.out.(manyFrames); ok {
		return m.BroadcastAll(ctx, conversationID, "", frames...)
	}
	var errs []error
	for _, f := range frames {
		errs = append(errs, t.out.Broadcast(ctx, conversationID, "", f))
	}
	return errors.Join(errs...)
}

// Staffing tells whether someone who serves a queue is online.
type Staffing interface {
	Staffed(ctx context.Context, queue string) (bool, error)
}

// Scheduler is the scheduling service the bot books with.
type Scheduler interface {
	Directory() *scheduling.Directory
	Search(ctx context.Context, q scheduling.Query) ([]scheduling.Slot, error)
	Book(ctx context.Context, r scheduling.BookRequest) (scheduling.Appointment, error)
	Upcoming(ctx context.Context, patientID string) ([]scheduling.Appointment, error)
	Reschedule(ctx context.Context, id, patientID, slotID, by string, changeVisit bool) (scheduling.Appointment, error)
	Cancel(ctx context.Context, id, patientID, by string) (scheduling.Appointment, error)
}

// boundBooking is a Scheduler bound to one turn: its context, the
// conversation's patient, and the message it answers (the booking's
// request token, so a redelivered turn books nothing twice).
type boundBooking struct {
	ctx   context.Context
	s     Scheduler
	conv  chat.Conversation
	token string
	codes *codeMail // nil: no codes can be sent
	e     *Engine
	wl    Waitlist // nil: no waitlist
}

// WaitlistWeeks is how far ahead a patient who joins the waitlist in the
// chat waits for a time; the entry lapses after that.
const WaitlistWeeks = 8

// Waitlist puts patients on the waitlist and takes them off.
type Waitlist interface {
	Join(ctx context.Context, e waitlist.Entry) (waitlist.Entry, error)
	LeaveAll(ctx context.Context, patientID string) (int, error)
	HoldFor() time.Duration
}

func (b boundBooking) LeaveWaitlist() (int, error) {
	if b.wl == nil {
		return 0, fmt.Errorf("no waitlist")
	}
	return b.wl.LeaveAll(b.ctx, b.conv.PatientID)
}

func (b boundBooking) HoldMinutes() int {
	if b.wl == nil {
		return 0
	}
	return int((b.wl.HoldFor() + time.Minute - 1) / time.Minute) // whole minutes, rounded up
}

func (b boundBooking) JoinWaitlist(specialty, provider, email, phone string) error {
	if b.wl == nil {
		return fmt.Errorf("no waitlist")
	}
	// Times in the next eight weeks: the entry lapses after that.
	now := time.Now()
	_, err := b.wl.Join(b.ctx, waitlist.Entry{PatientID: b.conv.PatientID, PatientName: b.conv.PatientName, PatientEmail: email, PatientPhone: phone,
		Locale: b.conv.Locale, ConversationID: b.conv.ID, Specialty: specialty, Provider: provider, From: now, To: now.AddDate(0, 0, WaitlistWeeks*7)})
	return err
}

// Mailer sends a raw email.
type Mailer interface {
	Send(ctx context.Context, to string, raw []byte) error
}

// codeMail is how one-time codes reach patients: the mailer and the
// sender's address line.
type codeMail struct {
	mail    Mailer
	from    string
	guard   Guard   // nil: wrong codes count per conversation only
	texts   Texter  // nil: codes go by email only
	optOuts OptOuts // the numbers that replied STOP
}

// OptOuts says whether a number replied STOP.
type OptOuts interface {
	OptedOut(ctx context.Context, phone string) (bool, error)
}

// ErrTextsStopped is a code not texted: the number replied STOP;
// ErrTooManyCodes a code not sent: the patient's codes of the day are
// used up.
var (
	ErrTextsStopped = errors.New("the number replied STOP")
	ErrTooManyCodes = errors.New("the day's codes are used up")
)

// Texter sends a text message to a mobile number.
type Texter interface {
	Text(ctx context.Context, phone, body string) error
}

// WithCodeTexts lets codes go by text to a patient whose appointments have
// a mobile number given for texts and no email (after WithCodes).
func (t *Turner) WithCodeTexts(x Texter, o OptOuts) *Turner {
	if t.codes != nil {
		t.codes.texts, t.codes.optOuts = x, o
	}
	return t
}

func (b boundBooking) CodesLocked(now time.Time) (time.Time, error) {
	if b.codes == nil || b.codes.guard == nil {
		return time.Time{}, nil
	}
	tries, err := b.codes.guard.Tries(b.ctx, b.conv.PatientID)
	return tries.LockedUntil, err
}

func (b boundBooking) WrongCode(now time.Time) (time.Time, error) {
	if b.codes == nil || b.codes.guard == nil {
		return time.Time{}, nil
	}
	return countWrong(b.ctx, b.codes.guard, b.conv.PatientID, now)
}

// countWrong counts a wrong code in the patient's tries.
func countWrong(ctx context.Context, g Guard, patientID string, now time.Time) (time.Time, error) {
	var until time.Time
	err := updateTries(ctx, g, patientID, func(t CodeTries) (CodeTries, error) {
		next := t.Add(now)
		until = next.LockedUntil
		return next, nil
	})
	return until, err
}

// countSent counts a code about to be sent; ErrTooManyCodes when the
// patient's codes of the day are used up.
func countSent(ctx context.Context, g Guard, patientID string, now time.Time) error {
	return updateTries(ctx, g, patientID, func(t CodeTries) (CodeTries, error) {
		next, ok := t.AddSent(now)
		if !ok {
			return t, ErrTooManyCodes
		}
		return next, nil
	})
}

// updateTries reads, changes and writes a patient's tries (again, if
// another conversation wrote them at the same moment).
func updateTries(ctx context.Context, g Guard, patientID string, change func(CodeTries) (CodeTries, error)) error {
	for range 3 {
		tries, err := g.Tries(ctx, patientID)
		if err != nil {
			return err
		}
		next, err := change(tries)
		if err != nil {
			return err
		}
		err = g.SaveTries(ctx, patientID, next)
		if err == nil || !fault.Is(err, fault.Conflict) {
			return err
		}
	}
	return fault.Errorf(fault.Conflict, "code tries kept changing")
}

// SendCode emails (or, to a mobile number, texts) a new six-digit code,
// in the conversation's language, and returns how it is kept (a salt and
// CodeHash), never the code.
func (b boundBooking) SendCode(email string) (salt, hash string, err error) {
	if b.codes == nil {
		return "", "", errors.New("no mailer for codes")
	}
	if b.codes.guard != nil {
		if err := countSent(b.ctx, b.codes.guard, b.conv.PatientID, time.Now()); err != nil {
			return "", "", err
		}
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", "", fmt.Errorf("drawing a code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("drawing a salt: %w", err)
	}
	salt = hex.EncodeToString(raw)
	if isPhone(email) {
		if b.codes.texts == nil {
			return "", "", errors.New("no texts for codes")
		}
		if b.codes.optOuts != nil {
			if out, err := b.codes.optOuts.OptedOut(b.ctx, email); err != nil || out {
				return "", "", errors.Join(ErrTextsStopped, err) // the number replied STOP
			}
		}
		if err := b.codes.texts.Text(b.ctx, email, b.e.codeText(b.conv.Locale, code)); err != nil {
			return "", "", fmt.Errorf("texting the code: %w", err)
		}
		return salt, CodeHash(salt, code), nil
	}
	msg, err := b.e.codeEmail(b.codes.from, email, b.conv.Locale, code)
	if err != nil {
		return "", "", err
	}
	if err := b.codes.mail.Send(b.ctx, email, msg); err != nil {
		return "", "", fmt.Errorf("sending the code: %w", err)
	}
	return salt, CodeHash(salt, code), nil
}

func (b boundBooking) Directory() *scheduling.Directory { return b.s.Directory() }
func (b boundBooking) Search(q scheduling.Query) ([]scheduling.Slot, error) {
	return b.s.Search(b.ctx, q)
}
func (b boundBooking) Book(slotID, email, phone string) (scheduling.Appointment, error) {
	return b.s.Book(b.ctx, scheduling.BookRequest{Token: b.token, SlotID: slotID, PatientID: b.conv.PatientID, PatientName: b.conv.PatientName,
		PatientEmail: email, PatientPhone: phone, Locale: b.conv.Locale, ConversationID: b.conv.ID, By: "bot"})
}
func (b boundBooking) Upcoming() ([]scheduling.Appointment, error) {
	return b.s.Upcoming(b.ctx, b.conv.PatientID)
}
func (b boundBooking) Reschedule(id, slotID string) (scheduling.Appointment, error) {
	return b.s.Reschedule(b.ctx, id, b.conv.PatientID, slotID, "bot", false) // the bot moves a visit to the same provider and visit type
}
func (b boundBooking) Cancel(id string) (scheduling.Appointment, error) {
	return b.s.Cancel(b.ctx, id, b.conv.PatientID, "bot")
}

// SenderName is how the bot signs its messages, in the conversation's
// language.
func SenderName(locale string) string {
	if locale == "es" {
		return "Asistente virtual"
	}
	return "Virtual assistant"
}

// Turner runs bot turns: read, decide, store once, push.
type Turner struct {
	engine *Engine
	store  Store
	out    Broadcaster
	now    func() time.Time
	staff  Staffing
	sched  Scheduler
	codes  *codeMail
	wl     Waitlist
}

// WithWaitlist lets a patient no open time suits join the waitlist.
func (t *Turner) WithWaitlist(w Waitlist) *Turner {
	t.wl = w
	return t
}

// WithScheduling lets the bot book, reschedule and cancel appointments
// itself rather than hand requests to the scheduling team.
func (t *Turner) WithScheduling(s Scheduler) *Turner {
	t.sched = s
	return t
}

// WithCodes lets the bot send one-time codes by email (from the address
// line from), so a patient can prove who they are before it shows or
// changes their appointments.
func (t *Turner) WithCodes(m Mailer, from string) *Turner {
	t.codes = &codeMail{mail: m, from: from}
	return t
}

// WithCodeGuard counts wrong codes per patient across conversations
// (after WithCodes).
func (t *Turner) WithCodeGuard(g Guard) *Turner {
	if t.codes != nil {
		t.codes.guard = g
	}
	return t
}

// WithStaffing makes handoffs to a person depend on someone who serves
// the queue being online.
func (t *Turner) WithStaffing(s Staffing) *Turner {
	t.staff = s
	return t
}

// NewTurner wires a Turner; now may be nil for the real clock.
func NewTurner(e *Engine, s Store, out Broadcaster, now func() time.Time) *Turner {
	if now == nil {
		now = time.Now
	}
	return &Turner{engine: e, store: s, out: out, now: now}
}

// Outcome says what a turn did, for the log.
type Outcome struct {
	Replied   bool
	Duplicate bool
	Handoff   *chat.Handoff
	Skipped   string // why no turn was taken
}

// Handle takes one turn. Redelivery of the same request stores no second
// reply: the reply's client message id is derived from the request.
func (t *Turner) Handle(ctx context.Context, r Request) (Outcome, error) {
	c, m, err := t.store.ForTurn(ctx, r.ConversationID, r.MessageID)
	switch {
	case err == nil:
	case c.ID == "" && fault.Is(err, fault.NotFound):
		return Outcome{Skipped: "conversation not found"}, nil
	case c.ID == "" || c.State == chat.StateBot:
		return Outcome{}, fmt.Errorf("reading the turn of message %q: %w", r.MessageID, err)
	}
	// A conversation no longer with the bot needs no message (below).
	if c.State != chat.StateBot {
		// A redelivery of the turn that handed the conversation off or
		// closed it (its first run stored the reply, then died before it
		// pushed): push the reply and the state again, or the patient
		// never sees them until they reconnect.
		prev, answered, err := t.store.Answered(ctx, c.ID, r.MessageID)
		if err != nil {
			return Outcome{}, err
		}
		if !answered {
			return Outcome{Skipped: "conversation is " + string(c.State)}, nil
		}
		return Outcome{Duplicate: true}, t.broadcast(ctx, c.ID, prev, chat.StatusOf(c))
	}
	st, err := DecodeState(c.BotState)
	if err != nil {
		return Outcome{}, err
	}
	if c.Identity == chat.IdentityVerified && !st.Verified {
		// Proved outside the bot: a sign-in with the identity provider.
		st.Verified, st.VerifiedEmail = true, c.VerifiedEmail
	}
	now := t.now()
	in := Input{Start: r.MessageID == "", Text: c.Topic, Locale: c.Locale, Topic: c.Topic, Now: now}
	clientID := "bot-start"
	if !in.Start {
		in.Text, clientID = m.Text, "bot-"+m.ID
	}
	if t.staff != nil {
		// A failed lookup counts as staffed: better to queue the patient
		// than to turn them away for a read error.
		in.Staffed = func(queue string) bool {
			ok, err := t.staff.Staffed(ctx, queue)
			return ok || err != nil
		}
	}
	if t.sched != nil {
		in.Booking = boundBooking{ctx: ctx, s: t.sched, conv: c, token: c.ID + ":" + clientID, codes: t.codes, e: t.engine, wl: t.wl}
	}
	out := t.engine.Turn(st, in)
	if out.Text == "" {
		return Outcome{Skipped: "nothing to say"}, nil
	}
	reply := chat.Message{
		ConversationID: c.ID, ClientMessageID: clientID, Role: chat.RoleBot, SenderName: SenderName(c.Locale),
		Text: out.Text, QuickReplies: out.QuickReplies, At: now, ExpiresAt: c.ExpiresAt,
	}
	change := chat.Change{BotState: out.State.Encode(), Handoff: out.Handoff, Close: out.Close, Answers: r.MessageID}
	if out.State.Email != st.Email {
		change.PatientEmail = out.State.Email
	}
	if out.State.Verified && !st.Verified {
		change.Verified = out.State.VerifiedEmail // the identity level travels with the conversation
	}
	stored, dup, err := t.store.AppendTurn(ctx, reply, change)
	if fault.Is(err, fault.Conflict) {
		return Outcome{Skipped: "conversation left the bot"}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("storing the bot's reply: %w", err)
	}
	if !dup {
		c.UpdatedAt = now // when the turn changed the state, for its status frames
	}
	// A redelivered turn pushes its stored reply again: clients drop a
	// message id they have, and the first push may not have happened.
	pushed := []any{stored}
	if out.Handoff != nil && !dup {
		c.State = chat.StateEscalated
		pushed = append(pushed, chat.StatusOf(c))
	}
	if out.Close && !dup {
		c.State = chat.StateClosed
		pushed = append(pushed, chat.StatusOf(c))
	}
	res := Outcome{Replied: !dup, Duplicate: dup}
	if !dup {
		res.Handoff = out.Handoff
	}
	return res, t.broadcast(ctx, c.ID, pushed...)
}
