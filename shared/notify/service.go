package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Chat posts a system message in a conversation (stored once per client
// message id, pushed to the patient's open connections). A conversation
// that has ended is not an error: the notice goes by email only.
type Chat interface {
	Post(ctx context.Context, conversationID, clientMessageID, text string) error
}

// Mailer sends a MIME message.
type Mailer interface {
	Send(ctx context.Context, to string, raw []byte) error
}

// Reminders keeps the reminders waiting to go out.
type Reminders interface {
	Put(ctx context.Context, rs []Reminder) error
	// Delete removes reminders (those that are not there are no error).
	Delete(ctx context.Context, rs []Reminder) error
	// Due lists reminders due at now or before, back to the last finished
	// sweep, however long ago (a hold's end must come, or the time stays
	// held).
	Due(ctx context.Context, now time.Time) ([]Reminder, error)
	// Swept records that a sweep at now handled every reminder Due gave
	// it (sent, dropped or put back).
	Swept(ctx context.Context, now time.Time) error
	// Claim takes a due reminder for sending; false when another sweep
	// took it first.
	Claim(ctx context.Context, r Reminder) (bool, error)
}

// Sent remembers which emails went out, so a redelivered stream record
// sends none twice.
type Sent interface {
	Sent(ctx context.Context, key string) (bool, error)
	MarkSent(ctx context.Context, key string) error
}

// Appointments reads appointments.
type Appointments interface {
	Get(ctx context.Context, id string) (scheduling.Appointment, error)
}

// Texter sends a text message to a phone number (E.164).
type Texter interface {
	Text(ctx context.Context, phone, body string) error
}

// OptOuts keeps the numbers that replied STOP (until they reply START).
type OptOuts interface {
	OptedOut(ctx context.Context, phone string) (bool, error)
	SetOptedOut(ctx context.Context, phone string, out bool, at time.Time) error
}

// Holds lets a lapsed hold of a freed time go.
type Holds interface {
	ExpireHold(ctx context.Context, id string) (bool, error)
}

// Waitlist is told of the times freed, of the holds settled, and of the
// patients who booked another way; Current says whether a held time is
// still its entry's offer (waitlist.Service.Current).
type Waitlist interface {
	Current(ctx context.Context, a scheduling.Appointment) (bool, error)
	SlotFreed(ctx context.Context, slot scheduling.Slot) error
	Settled(ctx context.Context, a scheduling.Appointment) error
	BookedElsewhere(ctx context.Context, a scheduling.Appointment) error
}

// Linker signs the confirm-or-cancel link of a reminder.
type Linker interface {
	Issue(appointmentID, patientID string, expires time.Time) (string, error)
}

// Config holds the links' page and the text messages' rules.
type Config struct {
	// PageURL is the hosted appointment page; a link is PageURL?t=<token>.
	PageURL string
	// Quiet is when no text message goes out.
	Quiet Quiet
	// HelpContact is how a patient who texts HELP reaches a person (a
	// phone number or a web address).
	HelpContact string
}

// Service sends the notices.
type Service struct {
	texts *Texts
	dir   *scheduling.Directory
	chat  Chat
	mail  Mailer
	rem   Reminders
	sent  Sent
	appts Appointments
	links Linker
	sms   Texter
	opts  OptOuts
	holds Holds
	wl    Waitlist
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// Deps are a Service's content, ports, log and clock.
type Deps struct {
	Texts        *Texts
	Directory    *scheduling.Directory
	Chat         Chat
	Mail         Mailer
	Reminders    Reminders
	Sent         Sent
	Appointments Appointments
	Links        Linker
	// Texter and OptOuts send text reminders and keep STOPs; without
	// them reminders go by chat and email only.
	Texter  Texter
	OptOuts OptOuts
	// Holds lets lapsed holds go, and Waitlist offers freed times to the
	// waitlist; without them there is no waitlist.
	Holds    Holds
	Waitlist Waitlist
	Log      *slog.Logger
	Now      func() time.Time // nil: the clock
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{texts: d.Texts, dir: d.Directory, chat: d.Chat, mail: d.Mail, rem: d.Reminders, sent: d.Sent, appts: d.Appointments, links: d.Links, sms: d.Texter, opts: d.OptOuts, holds: d.Holds, wl: d.Waitlist, cfg: cfg, log: d.Log, now: d.Now}
}

// Changed handles one change of an appointment from the scheduling
// stream: the reminders follow the visit (removed with the old time, set
// for the new one), and the patient hears of a booking, move or
// cancellation in the chat and by email.
//
// A freed time (a cancellation, a move, a hold let go) goes to the
// waitlist, and a held time offered from it is told with its links.
func (s *Service) Changed(ctx context.Context, old, new *scheduling.Appointment) error {
	kind, ok := Detect(old, new)
	if !ok {
		if old != nil && new != nil && old.State == scheduling.Held && new.State == scheduling.Cancelled {
			if err := s.rem.Delete(ctx, Plan(*old, time.Time{}, s.cfg.Quiet)); err != nil {
				return fmt.Errorf("removing the hold's expiry: %w", err)
			}
		}
		return s.follow(ctx, old, new)
	}
	if old != nil {
		if err := s.rem.Delete(ctx, Plan(*old, time.Time{}, s.cfg.Quiet)); err != nil {
			return fmt.Errorf("removing reminders: %w", err)
		}
	}
	if err := s.rem.Put(ctx, Plan(*new, s.now(), s.cfg.Quiet)); err != nil {
		return fmt.Errorf("setting reminders: %w", err)
	}
	s.log.InfoContext(ctx, "appointment notice", "appointment_id", new.ID, "conversation_id", new.ConversationID, "kind", string(kind))
	var f Fill
	if kind == Offered {
		if told, err := s.offerInHand(ctx, *new); err != nil || !told {
			return err
		}
		var err error
		if f, err = s.fill(*new); err != nil {
			return err
		}
	}
	if err := s.tell(ctx, kind, *new, f, "v"+strconv.Itoa(new.Version)); err != nil {
		return err
	}
	return s.follow(ctx, old, new)
}

// offerText texts an offer held back by the quiet hours, if the time is
// still held for the patient.
func (s *Service) offerText(ctx context.Context, r Reminder) error {
	a, err := s.appts.Get(ctx, r.AppointmentID)
	if err != nil || a.State != scheduling.Held || !s.now().Before(a.HoldUntil) {
		return err
	}
	if told, err := s.offerInHand(ctx, a); err != nil || !told {
		return err
	}
	f, err := s.fill(a)
	if err != nil {
		return err
	}
	_, err = s.textOut(ctx, a, s.texts.Text(Offered, a, s.dir, f), a.ID+"#"+string(Offered))
	return err
}

// offerInHand reports whether a held time is to be told: it is still its
// waitlist entry's offer, not a hold let go at once because the entry was
// offered another time at the same moment. An entry not marked yet is an
// error, so the stream tries the record again.
func (s *Service) offerInHand(ctx context.Context, a scheduling.Appointment) (bool, error) {
	if s.wl == nil {
		return true, nil
	}
	ok, err := s.wl.Current(ctx, a)
	if err != nil {
		return false, fmt.Errorf("checking the waitlist offer: %w", err)
	}
	if !ok {
		s.log.InfoContext(ctx, "waitlist offer not told: not the entry's offer", "appointment_id", a.ID, "waitlist_id", a.WaitlistID)
	}
	return ok, nil
}

// follow tells the waitlist of a time freed or a hold settled.
func (s *Service) follow(ctx context.Context, old, new *scheduling.Appointment) error {
	if s.wl != nil && old == nil && new != nil && new.State == scheduling.Booked {
		return s.wl.BookedElsewhere(ctx, *new)
	}
	if s.wl == nil || old == nil || new == nil || old.Version == new.Version {
		return nil
	}
	switch {
	case old.State == scheduling.Held && (new.State == scheduling.Booked || new.State == scheduling.Cancelled):
		return s.wl.Settled(ctx, *new)
	case old.State.Active() && (new.State == scheduling.Cancelled || new.Slot.ID != old.Slot.ID):
		return s.wl.SlotFreed(ctx, old.Slot)
	}
	return nil
}

// fill signs an appointment's links (to its start), in its language.
func (s *Service) fill(a scheduling.Appointment) (Fill, error) {
	if s.links == nil || s.cfg.PageURL == "" {
		return Fill{}, nil
	}
	tok, err := s.links.Issue(a.ID, a.PatientID, a.Slot.Start)
	if err != nil {
		return Fill{}, fmt.Errorf("signing the link: %w", err)
	}
	base := s.cfg.PageURL + "?t=" + tok
	if a.Locale == "es" {
		base += "&lang=es" // the page speaks the appointment's language
	}
	return Fill{Page: base, Confirm: base + "&do=confirm", Cancel: base + "&do=cancel"}, nil
}

// SendDue sends the reminders due now: each one claimed first (so two
// sweeps never send it twice), and only if its appointment still stands
// at the time it reminds of.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.rem.Due(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("reading due reminders: %w", err)
	}
	sent := 0
	var errs []error
	for _, r := range due {
		ok, err := s.rem.Claim(ctx, r)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		if r.Kind == OfferText {
			if err := s.offerText(ctx, r); err != nil {
				errs = append(errs, err, s.putBack(ctx, r))
			}
			continue
		}
		if r.Kind == HoldExpiry {
			if s.holds != nil {
				if _, err := s.holds.ExpireHold(ctx, r.AppointmentID); err != nil {
					errs = append(errs, err, s.putBack(ctx, r))
				}
			}
			continue
		}
		a, err := s.appts.Get(ctx, r.AppointmentID)
		if err != nil {
			errs = append(errs, err, s.putBack(ctx, r))
			continue
		}
		if !a.State.Active() || !a.Slot.Start.Equal(r.Start) || !a.Slot.Start.After(s.now()) {
			s.log.InfoContext(ctx, "stale reminder dropped", "appointment_id", a.ID, "kind", string(r.Kind))
			continue
		}
		f, err := s.fill(a)
		if err != nil {
			errs = append(errs, err, s.putBack(ctx, r))
			continue
		}
		if r.Kind.Texted() {
			ok, err := s.text(ctx, r, a, f)
			if err != nil {
				errs = append(errs, err, s.putBack(ctx, r))
			} else if ok {
				sent++
			}
			continue
		}
		if err := s.tell(ctx, r.Kind, a, f, reminderTag(r)); err != nil {
			errs = append(errs, err, s.putBack(ctx, r))
			continue
		}
		s.log.InfoContext(ctx, "reminder sent", "appointment_id", a.ID, "kind", string(r.Kind))
		sent++
	}
	// Failed ones are back where they were (or unclaimed): the next sweep
	// looks far enough back from here for them.
	errs = append(errs, s.rem.Swept(ctx, now))
	return sent, errors.Join(errs...)
}

// tell posts the notice in the appointment's conversation and emails it.
func (s *Service) tell(ctx context.Context, kind Kind, a scheduling.Appointment, f Fill, tag string) error {
	m := s.texts.Compose(kind, a, s.dir, f)
	var errs []error
	if a.ConversationID != "" {
		errs = append(errs, s.chat.Post(ctx, a.ConversationID, "appt-"+a.ID+"-"+tag, m.Text))
	}
	if a.PatientEmail != "" {
		errs = append(errs, s.email(ctx, kind, a, m, tag))
	}
	if kind == Offered {
		if s.cfg.Quiet.In(s.now()) {
			// Texted when the quiet hours end (the hold runs from then).
			errs = append(errs, s.rem.Put(ctx, []Reminder{{AppointmentID: a.ID, Kind: OfferText, At: s.cfg.Quiet.End(s.now()), Start: a.Slot.Start}}))
		} else {
			_, err := s.textOut(ctx, a, s.texts.Text(kind, a, s.dir, f), a.ID+"#"+string(kind))
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) email(ctx context.Context, kind Kind, a scheduling.Appointment, m Message, tag string) error {
	key := a.ID + "#" + tag
	if done, err := s.sent.Sent(ctx, key); err != nil || done {
		return err
	}
	method := "REQUEST"
	if a.State == scheduling.Cancelled {
		method = "CANCEL"
	}
	var invite []byte
	if kind == Booked || kind == Rescheduled || kind == Cancelled {
		invite = Calendar(a, s.dir, m, fromAddress(s.texts.From), s.now())
	}
	raw, err := Email(s.texts.From, a.PatientEmail, m, invite, method)
	if err != nil {
		return fmt.Errorf("building the email: %w", err)
	}
	if err := s.mail.Send(ctx, a.PatientEmail, raw); err != nil {
		return fmt.Errorf("sending the email: %w", err)
	}
	return s.sent.MarkSent(ctx, key)
}

// fromAddress is the bare address of a "Name <address>" sender.
func fromAddress(from string) string {
	for i := len(from) - 1; i >= 0; i-- {
		if from[i] == '<' {
			return from[i+1 : len(from)-1]
		}
	}
	return from
}
