package scheduling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Store keeps appointments and the units their slots hold. Create and
// Update are each one transaction, so a unit is never held twice.
type Store interface {
	// Busy lists the starts (Unix seconds) of the provider's held units in [from, to).
	Busy(ctx context.Context, provider string, from, to time.Time) (map[int64]bool, error)
	// Create stores a new appointment and holds its slot's units:
	// ErrSlotTaken when a unit is held, ErrExists when the id is taken.
	Create(ctx context.Context, a Appointment) error
	// Update stores a changed appointment, on condition that the stored
	// one is at a.Version-1, releasing and holding units in the same
	// transaction: ErrSlotTaken when a unit to hold is held, a
	// fault.Conflict when the appointment changed meanwhile.
	Update(ctx context.Context, a Appointment, release, hold []time.Time) error
	Get(ctx context.Context, id string) (Appointment, error)
	ForPatient(ctx context.Context, patientID string) ([]Appointment, error)
}

// Errors a Store returns.
var (
	ErrSlotTaken = &fault.Error{Code: fault.Conflict, Message: "that time is no longer open"}
	ErrExists    = errors.New("appointment exists")
)

// Taken is the answer to booking a slot someone else got first: a
// conflict, with the next open slots to offer instead.
type Taken struct {
	Alternatives []Slot
}

func (t *Taken) Error() string { return ErrSlotTaken.Error() }

// Unwrap makes a Taken a fault.Conflict.
func (t *Taken) Unwrap() error { return ErrSlotTaken }

// Config holds the service's settings.
type Config struct {
	// Notice is how far ahead a visit must be booked or moved.
	Notice time.Duration
	// TelehealthURL is the base of video visits' join links; the
	// appointment id is appended.
	TelehealthURL string
	// Alternatives is how many open slots a conflict offers.
	Alternatives int
}

// Service books, reschedules and cancels appointments.
type Service struct {
	dir   *Directory
	store Store
	cfg   Config
	now   func() time.Time
}

// NewService returns a Service; now defaults to the clock.
func NewService(d *Directory, s Store, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.Alternatives == 0 {
		cfg.Alternatives = 3
	}
	return &Service{dir: d, store: s, cfg: cfg, now: now}
}

// Directory is the service's directory.
func (s *Service) Directory() *Directory { return s.dir }

// Search lists open slots, soonest first: the directory's candidates
// without the units already held, from the notice period on.
func (s *Service) Search(ctx context.Context, q Query) ([]Slot, error) {
	if err := s.dir.Validate(q); err != nil {
		return nil, fault.Errorf(fault.BadRequest, "%s", err.Error())
	}
	if earliest := s.now().Add(s.cfg.Notice); q.From.Before(earliest) {
		q.From = earliest
	}
	if !q.From.Before(q.To) {
		return []Slot{}, nil
	}
	busy := map[string]map[int64]bool{}
	out := []Slot{}
	for _, slot := range s.dir.Candidates(q) {
		held, ok := busy[slot.Provider]
		if !ok {
			var err error
			if held, err = s.store.Busy(ctx, slot.Provider, q.From, q.To.Add(4*time.Hour)); err != nil {
				return nil, fmt.Errorf("reading %s's bookings: %w", slot.Provider, err)
			}
			busy[slot.Provider] = held
		}
		if slices.ContainsFunc(slot.Units(), func(u time.Time) bool { return held[u.Unix()] }) {
			continue
		}
		out = append(out, slot)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// BookRequest asks for a slot for a patient.
type BookRequest struct {
	// Token makes the request idempotent: the same patient and token
	// always name the same appointment.
	Token        string
	SlotID       string
	PatientID    string
	PatientName  string
	PatientEmail string
	// PatientPhone, when set, is the E.164 mobile number the patient
	// agreed to get text reminders on: the booking records the consent.
	PatientPhone   string
	Locale         string
	ConversationID string
	By             string // "bot", "patient" or the agent's id
}

// Book books a slot. A retry with the same token returns the appointment
// the first request booked; a slot someone else holds is a *Taken with
// the next open slots.
func (s *Service) Book(ctx context.Context, r BookRequest) (Appointment, error) {
	if r.Token == "" || r.PatientID == "" {
		return Appointment{}, fault.Errorf(fault.BadRequest, "a booking needs a request token and a patient")
	}
	slot, err := s.bookable(r.SlotID)
	if err != nil {
		return Appointment{}, err
	}
	a := s.newAppointment(r, slot, Booked)
	switch err := s.store.Create(ctx, a); {
	case err == nil:
		return a, nil
	case errors.Is(err, ErrExists):
		prev, gerr := s.store.Get(ctx, a.ID)
		if gerr != nil {
			return Appointment{}, gerr
		}
		if prev.PatientID != r.PatientID || prev.Slot.ID != slot.ID {
			return Appointment{}, fault.Errorf(fault.Conflict, "this request token was used for another booking")
		}
		return prev, nil
	case errors.Is(err, ErrSlotTaken):
		return Appointment{}, s.taken(ctx, slot)
	default:
		return Appointment{}, fmt.Errorf("booking %s: %w", slot.ID, err)
	}
}

// newAppointment is a request's new appointment in a state: its id from
// the patient and the token, the text opt-in recorded with a mobile
// number, a video visit's join link.
func (s *Service) newAppointment(r BookRequest, slot Slot, state State) Appointment {
	now := s.now().UTC()
	a := Appointment{ID: AppointmentID(r.PatientID, r.Token), PatientID: r.PatientID, PatientName: r.PatientName, PatientEmail: r.PatientEmail,
		PatientPhone: r.PatientPhone, Locale: r.Locale, ConversationID: r.ConversationID, Slot: slot, State: state, Version: 1,
		History: []Change{{At: now, By: r.By, State: state}}}
	if a.PatientPhone != "" {
		a.SMSConsentAt = now
	}
	if slot.Mode == Telehealth && s.cfg.TelehealthURL != "" {
		a.JoinURL = strings.TrimRight(s.cfg.TelehealthURL, "/") + "/" + a.ID
	}
	return a
}

// bookable checks a slot id against the directory and the notice period.
func (s *Service) bookable(id string) (Slot, error) {
	slot, err := s.dir.Slot(id)
	if err != nil {
		return Slot{}, fault.Errorf(fault.BadRequest, "%s", err.Error())
	}
	if slot.Start.Before(s.now().Add(s.cfg.Notice)) {
		return Slot{}, fault.Errorf(fault.BadRequest, "that time is too soon to book")
	}
	return slot, nil
}

// taken builds the conflict for a slot someone else holds: the next open
// slots of the same provider and visit type, then of the specialty.
func (s *Service) taken(ctx context.Context, slot Slot) error {
	p, _ := s.dir.Provider(slot.Provider)
	horizon := slot.Start.Add(28 * 24 * time.Hour)
	alts, err := s.Search(ctx, Query{Provider: slot.Provider, VisitType: slot.VisitType, From: slot.Start, To: horizon, Limit: s.cfg.Alternatives})
	if err != nil {
		return err
	}
	if len(alts) < s.cfg.Alternatives {
		more, err := s.Search(ctx, Query{Specialty: p.Specialty, Mode: slot.Mode, From: slot.Start, To: horizon, Limit: 4 * s.cfg.Alternatives})
		if err != nil {
			return err
		}
		for _, m := range more {
			if len(alts) < s.cfg.Alternatives && !slices.ContainsFunc(alts, func(a Slot) bool { return a.ID == m.ID }) {
				alts = append(alts, m)
			}
		}
	}
	return &Taken{Alternatives: alts}
}

// Get returns the patient's appointment; another patient's is not found.
func (s *Service) Get(ctx context.Context, id, patientID string) (Appointment, error) {
	a, err := s.store.Get(ctx, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.PatientID != patientID {
		return Appointment{}, fault.Errorf(fault.NotFound, "appointment not found")
	}
	return a, nil
}

// Reschedule moves the patient's appointment to another slot, releasing
// the old one, in one transaction.
func (s *Service) Reschedule(ctx context.Context, id, patientID, slotID, by string, changeVisit bool) (Appointment, error) {
	a, err := s.Get(ctx, id, patientID)
	if err != nil {
		return Appointment{}, err
	}
	slot, err := s.bookable(slotID)
	if err != nil {
		return Appointment{}, err
	}
	if slot.ID == a.Slot.ID {
		return Appointment{}, fault.Errorf(fault.BadRequest, "the appointment is already at that time")
	}
	if from, to := s.kindOf(a.Slot), s.kindOf(slot); from != to && !changeVisit {
		return Appointment{}, fault.Errorf(fault.BadRequest, "a move keeps the kind of visit: that time is for %s, the appointment is %s; change the kind of visit deliberately to move it there", to, from)
	}
	moved, err := a.With(Rescheduled, slot, by, s.now())
	if err != nil {
		return Appointment{}, err
	}
	if slot.Mode == Telehealth && s.cfg.TelehealthURL != "" {
		moved.JoinURL = strings.TrimRight(s.cfg.TelehealthURL, "/") + "/" + a.ID
	} else if slot.Mode != Telehealth {
		moved.JoinURL = ""
	}
	release, hold := diff(a.Slot.Units(), slot.Units())
	if slot.Provider != a.Slot.Provider {
		release, hold = a.Slot.Units(), slot.Units()
	}
	switch err := s.store.Update(ctx, moved, release, hold); {
	case err == nil:
		return moved, nil
	case errors.Is(err, ErrSlotTaken):
		return Appointment{}, s.taken(ctx, slot)
	default:
		return Appointment{}, err
	}
}

// kindOf names a slot's kind of visit: its provider's specialty and its
// visit type ("Primary care, Follow-up visit").
func (s *Service) kindOf(slot Slot) string {
	spec := "an unknown specialty"
	if p, ok := s.dir.Provider(slot.Provider); ok {
		spec = p.Specialty
	}
	visit := slot.VisitType
	if v, ok := s.dir.VisitType(slot.VisitType); ok {
		visit = v.Name.In("en") // for staff: the agent console is in English
	}
	return spec + " (" + visit + ")"
}

// Cancel cancels the patient's appointment and opens its slot again.
func (s *Service) Cancel(ctx context.Context, id, patientID, by string) (Appointment, error) {
	a, err := s.Get(ctx, id, patientID)
	if err != nil {
		return Appointment{}, err
	}
	c, err := a.With(Cancelled, a.Slot, by, s.now())
	if err != nil {
		return Appointment{}, err
	}
	if err := s.store.Update(ctx, c, a.Slot.Units(), nil); err != nil {
		return Appointment{}, err
	}
	return c, nil
}

// HoldRequest asks for a freed slot to be held for a waitlisted patient.
type HoldRequest struct {
	BookRequest
	WaitlistID string
	Until      time.Time
}

// Hold holds a slot for a patient until r.Until: the slot's units are
// taken as a booking takes them (so no one else can book or hold it), and
// the patient takes it with Confirm or lets it go with Cancel; ExpireHold
// lets it go after Until. A retry with the same token returns the same
// hold; a slot someone holds is ErrSlotTaken.
func (s *Service) Hold(ctx context.Context, r HoldRequest) (Appointment, error) {
	if r.Token == "" || r.PatientID == "" || !r.Until.After(s.now()) {
		return Appointment{}, fault.Errorf(fault.BadRequest, "a hold needs a request token, a patient and an end ahead")
	}
	slot, err := s.bookable(r.SlotID)
	if err != nil {
		return Appointment{}, err
	}
	a := s.newAppointment(r.BookRequest, slot, Held)
	a.HoldUntil, a.WaitlistID = r.Until.UTC(), r.WaitlistID
	switch err := s.store.Create(ctx, a); {
	case err == nil:
		return a, nil
	case errors.Is(err, ErrExists):
		return s.store.Get(ctx, a.ID)
	case errors.Is(err, ErrSlotTaken):
		return Appointment{}, ErrSlotTaken
	default:
		return Appointment{}, fmt.Errorf("holding %s: %w", slot.ID, err)
	}
}

// ExpireHold lets a lapsed hold go (cancelled, the slot released); a hold
// taken or let go already, or not lapsed yet, is left alone (false).
func (s *Service) ExpireHold(ctx context.Context, id string) (bool, error) {
	a, err := s.store.Get(ctx, id)
	if err != nil {
		return false, err
	}
	if a.State != Held || s.now().Before(a.HoldUntil) {
		return false, nil
	}
	c, err := a.With(Cancelled, a.Slot, "waitlist", s.now())
	if err != nil {
		return false, err
	}
	if err := s.store.Update(ctx, c, a.Slot.Units(), nil); err != nil {
		if fault.Is(err, fault.Conflict) {
			return false, nil // taken or let go meanwhile
		}
		return false, err
	}
	return true, nil
}

// Confirm records that the patient will come to an upcoming visit; for a
// held time, it takes it (booked), if the hold has not lapsed. A second
// confirmation changes nothing.
func (s *Service) Confirm(ctx context.Context, id, patientID, by string) (Appointment, error) {
	a, err := s.Get(ctx, id, patientID)
	if err != nil {
		return Appointment{}, err
	}
	if a.State == Held {
		if !s.now().Before(a.HoldUntil) {
			return Appointment{}, fault.Errorf(fault.Conflict, "the time was held until %s and has been offered to the next patient", a.HoldUntil.Format(time.Kitchen))
		}
		c, err := a.With(Booked, a.Slot, by, s.now())
		if err != nil {
			return Appointment{}, err
		}
		c.Confirmed = true
		if err := s.store.Update(ctx, c, nil, nil); err != nil {
			return Appointment{}, err
		}
		return c, nil
	}
	if !a.State.Active() || !a.Slot.Start.After(s.now()) {
		return Appointment{}, fault.Errorf(fault.Conflict, "only an upcoming appointment can be confirmed")
	}
	if a.Confirmed {
		return a, nil
	}
	c := a
	c.Confirmed = true
	c.Version++
	c.History = append(append([]Change(nil), a.History...), Change{At: s.now().UTC(), By: by, State: a.State, Confirmed: true})
	if err := s.store.Update(ctx, c, nil, nil); err != nil {
		return Appointment{}, err
	}
	return c, nil
}

// Record marks a visit completed or a no-show (staff, after its start).
func (s *Service) Record(ctx context.Context, id string, to State, by string) (Appointment, error) {
	if to != Completed && to != NoShow {
		return Appointment{}, fault.Errorf(fault.BadRequest, "a visit is recorded as completed or no-show")
	}
	a, err := s.store.Get(ctx, id)
	if err != nil {
		return Appointment{}, err
	}
	if s.now().Before(a.Slot.Start) {
		return Appointment{}, fault.Errorf(fault.Conflict, "the visit has not started yet")
	}
	r, err := a.With(to, a.Slot, by, s.now())
	if err != nil {
		return Appointment{}, err
	}
	if err := s.store.Update(ctx, r, nil, nil); err != nil {
		return Appointment{}, err
	}
	return r, nil
}

// Upcoming lists the patient's appointments that still hold their slot
// and have not started, soonest first.
func (s *Service) Upcoming(ctx context.Context, patientID string) ([]Appointment, error) {
	all, err := s.store.ForPatient(ctx, patientID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []Appointment{}
	for _, a := range all {
		if a.State.Active() && a.Slot.Start.After(now) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Appointment) int { return a.Slot.Start.Compare(b.Slot.Start) })
	return out, nil
}

// EmailOnFile is the email on file for a patient: that of their first
// upcoming appointment that has one ("" when none has). A one-time code
// goes to it, and a sign-in must prove it.
func (s *Service) EmailOnFile(ctx context.Context, patientID string) (string, error) {
	appts, err := s.Upcoming(ctx, patientID)
	if err != nil {
		return "", err
	}
	for _, a := range appts {
		if a.PatientEmail != "" {
			return a.PatientEmail, nil
		}
	}
	return "", nil
}

// diff splits two unit lists into the units only the first holds and the
// units only the second holds (a transaction may not touch an item twice).
func diff(old, new []time.Time) (release, hold []time.Time) {
	for _, u := range old {
		if !slices.ContainsFunc(new, u.Equal) {
			release = append(release, u)
		}
	}
	for _, u := range new {
		if !slices.ContainsFunc(old, u.Equal) {
			hold = append(hold, u)
		}
	}
	return release, hold
}
