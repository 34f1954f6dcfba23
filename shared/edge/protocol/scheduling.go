package protocol

import (
	"encoding/json"
	"regexp"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Scheduling actions of the agent API.
const (
	ActionSlots        = "slots"
	ActionBook         = "book"
	ActionCancel       = "cancel"
	ActionReschedule   = "reschedule"
	ActionAppointments = "appointments"
	// ActionVisit records how a visit went: completed or no-show
	// (supervisors and admins, after its start).
	ActionVisit = "visit"
)

// SlotQuery is a slots frame's search.
type SlotQuery struct {
	ProviderID string
	Specialty  string
	Location   string
	Language   string
	Mode       string
	VisitType  string
	From, To   time.Time
}

type rawScheduling struct {
	ProviderID    json.RawMessage `json:"providerId"`
	Specialty     json.RawMessage `json:"specialty"`
	Location      json.RawMessage `json:"location"`
	Language      json.RawMessage `json:"language"`
	Mode          json.RawMessage `json:"mode"`
	VisitType     json.RawMessage `json:"visitType"`
	From          json.RawMessage `json:"from"`
	To            json.RawMessage `json:"to"`
	SlotID        json.RawMessage `json:"slotId"`
	AppointmentID json.RawMessage `json:"appointmentId"`
	ChangeVisit   json.RawMessage `json:"changeVisit"`
}

// slotIDPattern is provider~visit-type~YYYYMMDDTHHMMZ.
var slotIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,40}~[a-z0-9-]{1,40}~[0-9]{8}T[0-9]{4}Z$`)

// appointmentIDPattern is "ap" and 24 hex digits.
var appointmentIDPattern = regexp.MustCompile(`^ap[0-9a-f]{24}$`)

var filterPattern = regexp.MustCompile(`^[a-z0-9-]{0,40}$`)

// decodeScheduling reads the scheduling actions' fields into f.
func decodeScheduling(f *AgentFrame, body []byte) error {
	var raw rawScheduling
	if err := json.Unmarshal(body, &raw); err != nil {
		return fault.Errorf(fault.BadRequest, "the frame's fields have the wrong types")
	}
	var err error
	switch f.Action {
	case ActionSlots:
		q := &SlotQuery{}
		for _, fld := range []struct {
			raw  json.RawMessage
			name string
			dst  *string
		}{{raw.ProviderID, "providerId", &q.ProviderID}, {raw.Specialty, "specialty", &q.Specialty}, {raw.Location, "location", &q.Location},
			{raw.Language, "language", &q.Language}, {raw.Mode, "mode", &q.Mode}, {raw.VisitType, "visitType", &q.VisitType}} {
			if *fld.dst, err = optional(fld.raw, fld.name); err != nil {
				return err
			}
			if !filterPattern.MatchString(*fld.dst) {
				return fault.Errorf(fault.BadRequest, "%s is not a known id", fld.name)
			}
		}
		if q.From, err = timeField(raw.From, "from"); err != nil {
			return err
		}
		if q.To, err = timeField(raw.To, "to"); err != nil {
			return err
		}
		if !q.To.After(q.From) {
			return fault.Errorf(fault.BadRequest, "to must be after from")
		}
		f.Slots = q
		return nil
	case ActionBook:
		if f.ConversationID, err = conversationID(jsonField(body, "conversationId")); err != nil {
			return err
		}
		return slotField(f, raw.SlotID)
	case ActionCancel:
		return appointmentField(f, raw.AppointmentID)
	case ActionReschedule:
		if err := appointmentField(f, raw.AppointmentID); err != nil {
			return err
		}
		if len(raw.ChangeVisit) > 0 && string(raw.ChangeVisit) != "null" {
			if err := json.Unmarshal(raw.ChangeVisit, &f.ChangeVisit); err != nil {
				return fault.Errorf(fault.BadRequest, "changeVisit must be true or false")
			}
		}
		return slotField(f, raw.SlotID)
	case ActionVisit:
		if err := appointmentField(f, raw.AppointmentID); err != nil {
			return err
		}
		var outcome string
		if err := json.Unmarshal(jsonField(body, "outcome"), &outcome); err != nil || (outcome != "completed" && outcome != "no-show") {
			return fault.Errorf(fault.BadRequest, "outcome must be completed or no-show")
		}
		f.Outcome = outcome
		return nil
	default: // appointments
		f.ConversationID, err = conversationID(jsonField(body, "conversationId"))
		return err
	}
}

func jsonField(body []byte, name string) json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	return m[name]
}

func optional(raw json.RawMessage, name string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	return str(raw, name)
}

func timeField(raw json.RawMessage, name string) (time.Time, error) {
	s, err := str(raw, name)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fault.Errorf(fault.BadRequest, "%s must be an RFC 3339 time", name)
	}
	return t, nil
}

func slotField(f *AgentFrame, raw json.RawMessage) error {
	s, err := str(raw, "slotId")
	if err != nil {
		return err
	}
	if !slotIDPattern.MatchString(s) {
		return fault.Errorf(fault.BadRequest, "slotId is not a slot id")
	}
	f.SlotID = s
	return nil
}

func appointmentField(f *AgentFrame, raw json.RawMessage) error {
	s, err := str(raw, "appointmentId")
	if err != nil {
		return err
	}
	if !appointmentIDPattern.MatchString(s) {
		return fault.Errorf(fault.BadRequest, "appointmentId is not an appointment id")
	}
	f.AppointmentID = s
	return nil
}

// SlotView is an open slot as clients see it.
type SlotView struct {
	SlotID    string `json:"slotId"`
	Provider  Named  `json:"provider"`
	Specialty string `json:"specialty"`
	VisitType Named  `json:"visitType"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Location  Place  `json:"location"`
	Mode      string `json:"mode"`
	// TimeZone is the location's IANA zone: clients show the time in it,
	// labelled, as the patient is told it.
	TimeZone string `json:"timeZone"`
}

// Named is an id with a display name.
type Named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Place is a location.
type Place struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

// SlotsFrame answers a slots frame.
type SlotsFrame struct {
	Type      string     `json:"type"` // "slots"
	RequestID string     `json:"requestId,omitempty"`
	Slots     []SlotView `json:"slots"`
}

// AppointmentView is an appointment as clients see it.
type AppointmentView struct {
	AppointmentID string   `json:"appointmentId"`
	State         string   `json:"state"`
	Slot          SlotView `json:"slot"`
	JoinURL       string   `json:"joinUrl,omitempty"`
}

// BookedFrame answers book and reschedule (the base protocol's fields,
// then the whole appointment).
type BookedFrame struct {
	Type          string          `json:"type"` // "booked"
	RequestID     string          `json:"requestId,omitempty"`
	AppointmentID string          `json:"appointmentId"`
	Start         string          `json:"start"`
	Provider      string          `json:"provider"`
	Appointment   AppointmentView `json:"appointment"`
}

// VisitFrame answers visit: the appointment with its recorded outcome.
type VisitFrame struct {
	Type        string          `json:"type"` // "visit"
	RequestID   string          `json:"requestId,omitempty"`
	Appointment AppointmentView `json:"appointment"`
}

// CancelledFrame answers cancel.
type CancelledFrame struct {
	Type          string `json:"type"` // "cancelled"
	RequestID     string `json:"requestId,omitempty"`
	AppointmentID string `json:"appointmentId"`
}

// AppointmentsFrame lists a patient's upcoming appointments.
type AppointmentsFrame struct {
	Type           string            `json:"type"` // "appointments"
	RequestID      string            `json:"requestId,omitempty"`
	ConversationID string            `json:"conversationId"`
	Appointments   []AppointmentView `json:"appointments"`
}

// AppointmentFrame answers a patient's appointment frame (a reminder's
// link): the appointment as it now stands.
type AppointmentFrame struct {
	Type        string          `json:"type"` // "appointment"
	RequestID   string          `json:"requestId,omitempty"`
	Appointment AppointmentView `json:"appointment"`
	Confirmed   bool            `json:"confirmed"`
	When        string          `json:"when"` // the start, written for the patient
	// HoldUntil, for a time held from the waitlist (state "held"), is
	// when the hold ends, written for the patient.
	HoldUntil string `json:"holdUntil,omitempty"`
}
