package scheduling

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// State is an appointment's state.
type State string

// Appointment states. Booked and rescheduled appointments hold their slot;
// so does a held one (a freed time offered to a waitlisted patient until
// HoldUntil), which becomes booked when the patient takes it and cancelled
// when they let it go or the hold lapses. The others hold nothing.
const (
	Held        State = "held"
	Booked      State = "booked"
	Rescheduled State = "rescheduled"
	Cancelled   State = "cancelled"
	Completed   State = "completed"
	NoShow      State = "no-show"
)

// Active reports whether the appointment still holds its slot.
func (s State) Active() bool { return s == Booked || s == Rescheduled }

// Change is one entry of an appointment's history.
type Change struct {
	At    time.Time `json:"at" dynamodbav:"at"`
	By    string    `json:"by" dynamodbav:"by"` // "patient", "bot", or the agent's id
	State State     `json:"state" dynamodbav:"state"`
	// From and To are the slot before and after a reschedule.
	From string `json:"from,omitempty" dynamodbav:"from,omitempty"`
	To   string `json:"to,omitempty" dynamodbav:"to,omitempty"`
	// Confirmed marks the patient confirming they will come.
	Confirmed bool `json:"confirmed,omitempty" dynamodbav:"confirmed,omitempty"`
}

// Appointment is a patient's visit with a provider.
type Appointment struct {
	ID           string
	PatientID    string
	PatientName  string
	PatientEmail string
	// PatientPhone is the mobile number (E.164) the patient gave for text
	// reminders; SMSConsentAt is when they agreed to get them (the opt-in
	// recorded with the booking). Reminders go by text only with both.
	PatientPhone   string
	SMSConsentAt   time.Time
	Locale         string
	ConversationID string
	Slot           Slot
	State          State
	JoinURL        string // telehealth visits
	// Confirmed says the patient confirmed they will come (from a
	// reminder's link).
	Confirmed bool
	// HoldUntil is when a held time stops being the patient's; WaitlistID
	// the waitlist entry it was offered to.
	HoldUntil  time.Time
	WaitlistID string
	History    []Change
	// Version counts changes; every change is conditional on it.
	Version int
}

// AppointmentID derives an appointment's id from the patient and the
// request token, so a retried request names the same appointment and is
// never booked twice.
func AppointmentID(patientID, token string) string {
	sum := sha256.Sum256([]byte(patientID + "\x00" + token))
	return "ap" + hex.EncodeToString(sum[:12])
}

// Reference is an appointment's confirmation number as patients see it:
// the first eight hex digits of its id, upper case.
func Reference(appointmentID string) string {
	ref := strings.ToUpper(strings.TrimPrefix(appointmentID, "ap"))
	if len(ref) > 8 {
		ref = ref[:8]
	}
	return ref
}

// transition checks that the appointment may move to the state.
func (a Appointment) transition(to State) error {
	switch {
	case a.State.Active() && (to == Rescheduled || to == Cancelled || to == Completed || to == NoShow):
		return nil
	case a.State == Held && (to == Booked || to == Cancelled):
		return nil
	case a.State == to:
		return fault.Errorf(fault.Conflict, "the appointment is already %s", to)
	default:
		return fault.Errorf(fault.Conflict, "a %s appointment cannot be %s", a.State, to)
	}
}

// With returns the appointment moved to a state (and slot, for a
// reschedule), with the change in its history.
func (a Appointment) With(to State, slot Slot, by string, at time.Time) (Appointment, error) {
	if err := a.transition(to); err != nil {
		return a, err
	}
	c := Change{At: at.UTC(), By: by, State: to}
	if to == Rescheduled {
		c.From, c.To = a.Slot.ID, slot.ID
		a.Slot = slot
	}
	a.State = to
	a.History = append(append([]Change(nil), a.History...), c)
	a.Version++
	return a, nil
}
