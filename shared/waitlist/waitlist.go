// Package waitlist turns cancellations into visits: a patient who finds
// no suitable time joins the waitlist for a specialty (a provider, a
// window of dates, if they want); when a time of that kind is freed (a
// cancellation, a move, a hold let go), the first matching patient in the
// order they joined gets it held for a few minutes, then the next, until
// someone takes it or no one is left.
//
// A hold is an appointment in the held state (scheduling.Service.Hold): it
// takes the slot's units as a booking does, so a slot is never held or
// booked twice, and a lapsed hold is cancelled (scheduling.ExpireHold),
// which frees the slot again for the next patient: a slot is never lost to
// an expired hold.
package waitlist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// State is where a waitlist entry stands.
type State string

// Entry states.
const (
	Waiting State = "waiting" // waiting for a time
	Offered State = "offered" // a time is held for the patient (Hold)
	Booked  State = "booked"  // the patient took a time
	Left    State = "left"    // the patient left the waitlist
)

// Entry is one patient waiting for a kind of visit.
type Entry struct {
	ID             string
	PatientID      string
	PatientName    string
	PatientEmail   string
	PatientPhone   string // E.164, given for texts (the opt-in)
	Locale         string
	ConversationID string
	Specialty      string
	Provider       string    // "" for any
	From, To       time.Time // the visit's start within [From, To); zero for any
	JoinedAt       time.Time
	State          State
	Hold           string   // the held appointment, while offered
	Passed         []string // the slots offered before (not offered again)
	Version        int
}

// EntryID names a patient's entry for a request, so joining twice is one
// entry.
func EntryID(patientID, specialty, provider string) string {
	sum := sha256.Sum256([]byte(patientID + "\x00" + specialty + "\x00" + provider))
	return "wl" + hex.EncodeToString(sum[:12])
}

// Store keeps the entries.
type Store interface {
	// Add stores a new entry; ErrExists if the id is taken.
	Add(ctx context.Context, e Entry) error
	Get(ctx context.Context, id string) (Entry, error)
	// Waiting lists a specialty's entries in the order they joined.
	Waiting(ctx context.Context, specialty string) ([]Entry, error)
	// Update stores e on condition that the stored entry is at
	// e.Version-1 (a fault.Conflict otherwise).
	Update(ctx context.Context, e Entry) error
	// ForPatient lists a patient's entries.
	ForPatient(ctx context.Context, patientID string) ([]Entry, error)
}

// ErrExists is an entry already there.
var ErrExists = errors.New("waitlist entry exists")

// Holder holds a freed slot for a patient and lets it go.
type Holder interface {
	Hold(ctx context.Context, r scheduling.HoldRequest) (scheduling.Appointment, error)
	Cancel(ctx context.Context, id, patientID, by string) (scheduling.Appointment, error)
	Directory() *scheduling.Directory
}

// Service runs the waitlist.
type Service struct {
	store   Store
	sched   Holder
	holdFor time.Duration
	log     *slog.Logger
	now     func() time.Time
	opens   func(time.Time) time.Time // when patients can be told (quiet hours end)
}

// WithQuietHours makes a time freed in the quiet hours held from their
// end (opens gives it), so the patient has the whole hold awake.
func (s *Service) WithQuietHours(opens func(time.Time) time.Time) *Service {
	s.opens = opens
	return s
}

// NewService returns a Service; holdFor is how long a freed time is held
// for each patient in turn.
func NewService(store Store, sched Holder, holdFor time.Duration, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, sched: sched, holdFor: holdFor, log: log, now: now}
}

// HoldFor is how long each patient has to take a freed time.
func (s *Service) HoldFor() time.Duration { return s.holdFor }

// Join puts a patient on the waitlist (a second join of the same request
// returns the first entry while it waits; after they left or took a time,
// it waits again, at the end of the line).
func (s *Service) Join(ctx context.Context, e Entry) (Entry, error) {
	if e.PatientID == "" || e.Specialty == "" {
		return Entry{}, fault.Errorf(fault.BadRequest, "the waitlist needs a patient and a specialty")
	}
	if !slices.Contains(s.sched.Directory().Specialties(), e.Specialty) {
		return Entry{}, fault.Errorf(fault.BadRequest, "no provider has the specialty %q", e.Specialty)
	}
	e.ID = EntryID(e.PatientID, e.Specialty, e.Provider)
	e.JoinedAt, e.State, e.Version, e.Hold, e.Passed = s.now().UTC(), Waiting, 1, "", nil
	switch err := s.store.Add(ctx, e); {
	case err == nil:
		s.log.InfoContext(ctx, "waitlist joined", "waitlist_id", e.ID, "specialty", e.Specialty)
		return e, nil
	case errors.Is(err, ErrExists):
		prev, err := s.store.Get(ctx, e.ID)
		if err != nil || prev.State == Waiting || prev.State == Offered {
			return prev, err
		}
		// Back after leaving, or after a time they took: waiting again,
		// joined now, with the contacts given now.
		prev.State, prev.Version, prev.JoinedAt = Waiting, prev.Version+1, s.now().UTC()
		prev.PatientEmail, prev.PatientPhone, prev.ConversationID, prev.Locale = e.PatientEmail, e.PatientPhone, e.ConversationID, e.Locale
		return prev, s.store.Update(ctx, prev)
	default:
		return Entry{}, fmt.Errorf("joining the waitlist: %w", err)
	}
}

// matches says whether a slot suits an entry.
func (s *Service) matches(e Entry, slot scheduling.Slot) bool {
	switch {
	case s.specialty(slot) != e.Specialty:
		return false
	case e.Provider != "" && e.Provider != slot.Provider:
		return false
	case !e.From.IsZero() && slot.Start.Before(e.From), !e.To.IsZero() && !slot.Start.Before(e.To):
		return false
	}
	return !slices.Contains(e.Passed, slot.ID)
}

// specialty is the specialty of a slot's provider ("" for none).
func (s *Service) specialty(slot scheduling.Slot) string {
	p, _ := s.sched.Directory().Provider(slot.Provider)
	return p.Specialty
}

// Freed offers a freed slot to the first waiting patient it suits: it is
// held for them (scheduling.Service.Hold) and their entry marked offered,
// in that order; an entry changed meanwhile (offered another time at the
// same moment) has this hold let go and the next patient is tried. A slot someone booked or holds already is
// left alone. It returns the entry offered, if any.
func (s *Service) Freed(ctx context.Context, slot scheduling.Slot) (Entry, bool, error) {
	specialty := s.specialty(slot)
	if specialty == "" || !slot.Start.After(s.now()) {
		return Entry{}, false, nil
	}
	entries, err := s.store.Waiting(ctx, specialty)
	if err != nil {
		return Entry{}, false, fmt.Errorf("reading the waitlist: %w", err)
	}
	for _, e := range entries {
		if e.State != Waiting || !s.matches(e, slot) {
			continue
		}
		from := s.now()
		if s.opens != nil {
			from = s.opens(from)
		}
		a, err := s.sched.Hold(ctx, scheduling.HoldRequest{WaitlistID: e.ID, Until: from.Add(s.holdFor),
			BookRequest: scheduling.BookRequest{Token: "waitlist:" + e.ID + ":" + slot.ID, SlotID: slot.ID, PatientID: e.PatientID, PatientName: e.PatientName,
				PatientEmail: e.PatientEmail, PatientPhone: e.PatientPhone, Locale: e.Locale, ConversationID: e.ConversationID, By: "waitlist"}})
		if errors.Is(err, scheduling.ErrSlotTaken) {
			return Entry{}, false, nil // booked or held by someone else first
		}
		if err != nil {
			var f *fault.Error
			if errors.As(err, &f) && f.Code == fault.BadRequest {
				return Entry{}, false, nil // too soon to book now
			}
			return Entry{}, false, fmt.Errorf("holding the slot: %w", err)
		}
		if a.State != scheduling.Held {
			continue // this patient's earlier hold of this time, let go
		}
		next := e
		next.State, next.Hold, next.Passed, next.Version = Offered, a.ID, append(slices.Clone(e.Passed), slot.ID), e.Version+1
		if err := s.store.Update(ctx, next); err != nil {
			// The entry changed (another slot was offered to it at the same
			// time): let this hold go, and try the next patient.
			if _, cerr := s.sched.Cancel(ctx, a.ID, a.PatientID, "waitlist"); cerr != nil && !fault.Is(cerr, fault.Conflict) {
				return Entry{}, false, errors.Join(err, cerr)
			}
			if fault.Is(err, fault.Conflict) {
				continue
			}
			return Entry{}, false, err
		}
		s.log.InfoContext(ctx, "waitlist offer", "waitlist_id", e.ID, "appointment_id", a.ID, "slot_id", slot.ID)
		return next, true, nil
	}
	return Entry{}, false, nil
}

// SlotFreed is Freed for the scheduling stream's consumer.
func (s *Service) SlotFreed(ctx context.Context, slot scheduling.Slot) error {
	_, _, err := s.Freed(ctx, slot)
	return err
}

// Settled follows a held time to its end: taken, the entry is booked;
// let go (or lapsed), the entry waits again, and the slot is offered to
// the next patient.
func (s *Service) Settled(ctx context.Context, a scheduling.Appointment) error {
	if a.WaitlistID == "" {
		return nil
	}
	e, err := s.store.Get(ctx, a.WaitlistID)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the waitlist entry: %w", err)
	}
	if e.State == Offered && e.Hold == a.ID {
		next := e
		next.Hold, next.Version = "", e.Version+1
		next.State = Waiting
		if a.State == scheduling.Booked {
			next.State = Booked
		}
		if err := s.store.Update(ctx, next); err != nil && !fault.Is(err, fault.Conflict) {
			return err
		}
	}
	if a.State == scheduling.Cancelled {
		_, _, err := s.Freed(ctx, a.Slot)
		return err
	}
	return nil
}

// ErrNotMarked is a held time whose entry Freed has not marked offered
// yet (it does just after the hold): ask again in a moment.
var ErrNotMarked = errors.New("the waitlist entry is not marked for this hold yet")

// MarkGrace is how long after a hold its entry may still be unmarked.
// Past it, Freed stopped in between (a crash, a timeout): the hold is not
// the entry's offer, and lapses to the next patient untold.
const MarkGrace = 30 * time.Second

// Current reports whether a held time is its entry's offer in hand, so
// that only that one is told. A hold Freed let go at once (the entry was
// offered another time at the same moment) is not; a hold whose entry is
// not marked yet is ErrNotMarked for MarkGrace after the hold.
func (s *Service) Current(ctx context.Context, a scheduling.Appointment) (bool, error) {
	if a.WaitlistID == "" || a.State != scheduling.Held {
		return false, nil
	}
	e, err := s.store.Get(ctx, a.WaitlistID)
	if fault.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the waitlist entry: %w", err)
	}
	switch {
	case e.State == Offered && e.Hold == a.ID:
		return true, nil
	case e.State == Waiting && !slices.Contains(e.Passed, a.Slot.ID) && len(a.History) > 0 && s.now().Sub(a.History[0].At) < MarkGrace:
		return false, ErrNotMarked
	}
	return false, nil
}

// BookedElsewhere takes a patient who booked a time some other way (the
// bot, an agent) off the waitlist for that specialty (any provider, or
// the one they booked with): they no longer wait, and no freed time is
// held for them in vain.
func (s *Service) BookedElsewhere(ctx context.Context, a scheduling.Appointment) error {
	specialty := s.specialty(a.Slot)
	if specialty == "" || a.WaitlistID != "" {
		return nil
	}
	for _, id := range []string{EntryID(a.PatientID, specialty, ""), EntryID(a.PatientID, specialty, a.Slot.Provider)} {
		e, err := s.store.Get(ctx, id)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the waitlist entry: %w", err)
		}
		if e.State != Waiting {
			continue // an offer in hand settles by itself; left or booked already
		}
		e.State, e.Version = Booked, e.Version+1
		if err := s.store.Update(ctx, e); err != nil && !fault.Is(err, fault.Conflict) {
			return err
		}
		s.log.InfoContext(ctx, "waitlist left: booked elsewhere", "waitlist_id", e.ID, "appointment_id", a.ID)
	}
	return nil
}

// LeaveAll takes a patient off the waitlist, every entry that waits (an
// offer in hand is taken or let go on its page), and says how many.
func (s *Service) LeaveAll(ctx context.Context, patientID string) (int, error) {
	entries, err := s.store.ForPatient(ctx, patientID)
	if err != nil {
		return 0, fmt.Errorf("reading the patient's waitlist: %w", err)
	}
	left := 0
	for _, e := range entries {
		if e.State != Waiting {
			continue
		}
		e.State, e.Version = Left, e.Version+1
		if err := s.store.Update(ctx, e); err != nil && !fault.Is(err, fault.Conflict) {
			return left, err
		}
		left++
	}
	return left, nil
}

// Leave takes a patient off the waitlist.
func (s *Service) Leave(ctx context.Context, id string) error {
	e, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if e.State == Left || e.State == Booked {
		return nil
	}
	e.State, e.Version = Left, e.Version+1
	return s.store.Update(ctx, e)
}
