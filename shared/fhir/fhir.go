// Package fhir renders appointments and slots as HL7 FHIR R4 resources
// (Appointment, Slot) in JSON, and writes them as FHIR Bulk Data NDJSON,
// so an EHR integration can take them in. It has no AWS imports.
package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

// System is the identifier system of the appointments this service books.
const System = "urn:patient-service-center:appointment"

// Reference points at another resource.
type Reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display,omitempty"`
}

// CodeableConcept is a concept with a text (and codes when known).
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Coding is a code in a code system.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Identifier is a business identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Participant is a participant of an appointment.
type Participant struct {
	Actor    Reference `json:"actor"`
	Required string    `json:"required,omitempty"`
	Status   string    `json:"status"`
}

// Appointment is a FHIR R4 Appointment.
type Appointment struct {
	ResourceType       string            `json:"resourceType"`
	ID                 string            `json:"id"`
	Identifier         []Identifier      `json:"identifier"`
	Status             string            `json:"status"`
	CancelationReason  *CodeableConcept  `json:"cancelationReason,omitempty"`
	ServiceType        []CodeableConcept `json:"serviceType,omitempty"`
	Specialty          []CodeableConcept `json:"specialty,omitempty"`
	AppointmentType    *CodeableConcept  `json:"appointmentType,omitempty"`
	Description        string            `json:"description,omitempty"`
	Start              string            `json:"start"`
	End                string            `json:"end"`
	MinutesDuration    int               `json:"minutesDuration"`
	Slot               []Reference       `json:"slot,omitempty"`
	Created            string            `json:"created,omitempty"`
	PatientInstruction string            `json:"patientInstruction,omitempty"`
	Participant        []Participant     `json:"participant"`
}

// Slot is a FHIR R4 Slot.
type Slot struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	ServiceType  []CodeableConcept `json:"serviceType,omitempty"`
	Specialty    []CodeableConcept `json:"specialty,omitempty"`
	Schedule     Reference         `json:"schedule"`
	Status       string            `json:"status"`
	Start        string            `json:"start"`
	End          string            `json:"end"`
	Comment      string            `json:"comment,omitempty"`
}

// ID makes a FHIR id ([A-Za-z0-9\-\.]{1,64}) of one of ours: a slot id's
// separators become dots.
func ID(s string) string { return strings.ReplaceAll(s, "~", ".") }

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// status maps our states to FHIR's AppointmentStatus.
var status = map[scheduling.State]string{
	scheduling.Booked: "booked", scheduling.Rescheduled: "booked", scheduling.Cancelled: "cancelled",
	scheduling.Completed: "fulfilled", scheduling.NoShow: "noshow",
}

// FromAppointment renders an appointment: its patient, practitioner and
// (in person) location as participants, its slot, and its visit's kind.
func FromAppointment(a scheduling.Appointment, d *scheduling.Directory) Appointment {
	p, _ := d.Provider(a.Slot.Provider)
	v, _ := d.VisitType(a.Slot.VisitType)
	out := Appointment{ResourceType: "Appointment", ID: ID(a.ID), Identifier: []Identifier{{System: System, Value: a.ID}},
		Status: status[a.State], ServiceType: []CodeableConcept{{Text: v.Name.EN}}, Specialty: []CodeableConcept{{Text: p.Specialty}},
		AppointmentType: &CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v2-0276", Code: "ROUTINE", Display: "Routine appointment"}}},
		Description:     v.Name.EN + " with " + p.Name, Start: instant(a.Slot.Start), End: instant(a.Slot.End),
		MinutesDuration: int(a.Slot.End.Sub(a.Slot.Start).Minutes()), Slot: []Reference{{Reference: "Slot/" + ID(a.Slot.ID)}},
		Participant: []Participant{
			{Actor: Reference{Reference: "Patient/" + ID(a.PatientID), Display: a.PatientName}, Required: "required", Status: "accepted"},
			{Actor: Reference{Reference: "Practitioner/" + ID(p.ID), Display: p.Name}, Required: "required", Status: "accepted"},
		}}
	if len(a.History) > 0 {
		out.Created = a.History[0].At.UTC().Format(time.RFC3339)
	}
	if a.State == scheduling.Cancelled {
		out.CancelationReason = &CodeableConcept{Text: "Cancelled by " + a.History[len(a.History)-1].By}
	}
	if a.Slot.Mode == scheduling.Telehealth {
		out.PatientInstruction = "Video visit: " + a.JoinURL
	} else if l, ok := d.Location(a.Slot.Location); ok {
		out.Participant = append(out.Participant, Participant{Actor: Reference{Reference: "Location/" + ID(l.ID), Display: l.Name}, Required: "required", Status: "accepted"})
	}
	if a.State == scheduling.Cancelled {
		for i := range out.Participant {
			out.Participant[i].Status = "declined"
		}
	}
	return out
}

// FromSlot renders a slot; busy says whether it is booked.
func FromSlot(s scheduling.Slot, d *scheduling.Directory, busy bool) Slot {
	p, _ := d.Provider(s.Provider)
	v, _ := d.VisitType(s.VisitType)
	st := "free"
	if busy {
		st = "busy"
	}
	out := Slot{ResourceType: "Slot", ID: ID(s.ID), ServiceType: []CodeableConcept{{Text: v.Name.EN}}, Specialty: []CodeableConcept{{Text: p.Specialty}},
		Schedule: Reference{Reference: "Schedule/" + ID(p.ID), Display: p.Name}, Status: st, Start: instant(s.Start), End: instant(s.End)}
	if s.Mode == scheduling.Telehealth {
		out.Comment = "Video visit"
	} else if l, ok := d.Location(s.Location); ok {
		out.Comment = l.Name
	}
	return out
}

// WriteNDJSON writes resources one JSON object per line (FHIR Bulk Data).
func WriteNDJSON[T any](w io.Writer, resources []T) error {
	enc := json.NewEncoder(w)
	for _, r := range resources {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("writing a resource: %w", err)
		}
	}
	return nil
}

// Source is where an export reads appointments and held time.
type Source interface {
	// Between lists the appointments whose visit starts in [from, to).
	Between(ctx context.Context, from, to time.Time) ([]scheduling.Appointment, error)
	Busy(ctx context.Context, provider string, from, to time.Time) (map[int64]bool, error)
}

// Counts says how many resources an export wrote.
type Counts struct {
	Appointments, Slots int
}

// Export writes the appointments of visits in [from, to) as Appointment
// NDJSON, and every slot the directory gives in that range (free, or busy
// when a booking holds any of its time) as Slot NDJSON.
func Export(ctx context.Context, src Source, d *scheduling.Directory, from, to time.Time, appointments, slots io.Writer) (Counts, error) {
	var n Counts
	appts, err := src.Between(ctx, from, to)
	if err != nil {
		return n, fmt.Errorf("reading appointments: %w", err)
	}
	var ar []Appointment
	for _, a := range appts {
		ar = append(ar, FromAppointment(a, d))
	}
	if err := WriteNDJSON(appointments, ar); err != nil {
		return n, err
	}
	n.Appointments = len(ar)
	held := map[string]map[int64]bool{}
	var sr []Slot
	for _, s := range d.Candidates(scheduling.Query{From: from, To: to}) {
		h, ok := held[s.Provider]
		if !ok {
			if h, err = src.Busy(ctx, s.Provider, from, to.Add(24*time.Hour)); err != nil {
				return n, fmt.Errorf("reading %s's held time: %w", s.Provider, err)
			}
			held[s.Provider] = h
		}
		busy := false
		for _, u := range s.Units() {
			busy = busy || h[u.Unix()]
		}
		sr = append(sr, FromSlot(s, d, busy))
	}
	if err := WriteNDJSON(slots, sr); err != nil {
		return n, err
	}
	n.Slots = len(sr)
	return n, nil
}
