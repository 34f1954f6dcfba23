package agent

import (
	"context"
	"fmt"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Scheduling is what agents' booking actions need of the scheduling
// service.
type Scheduling interface {
	Directory() *scheduling.Directory
	Search(ctx context.Context, q scheduling.Query) ([]scheduling.Slot, error)
	Book(ctx context.Context, r scheduling.BookRequest) (scheduling.Appointment, error)
	Reschedule(ctx context.Context, id, patientID, slotID, by string, changeVisit bool) (scheduling.Appointment, error)
	Cancel(ctx context.Context, id, patientID, by string) (scheduling.Appointment, error)
	Get(ctx context.Context, id, patientID string) (scheduling.Appointment, error)
	Upcoming(ctx context.Context, patientID string) ([]scheduling.Appointment, error)
	Record(ctx context.Context, id string, to scheduling.State, by string) (scheduling.Appointment, error)
}

// WithScheduling lets agents search slots and book, reschedule and cancel
// for the patients of the conversations they hold.
func (s *Service) WithScheduling(sc Scheduling) *Service {
	s.sched = sc
	return s
}

// maxSlots bounds a slots answer.
const maxSlots = 30

// booking runs the scheduling actions. Booking, rescheduling, cancelling
// and listing are for the patient of a conversation the caller holds.
func (s *Service) booking(ctx context.Context, c Connection, f Request) error {
	if s.sched == nil {
		return fmt.Errorf("agent service: %s without scheduling configured", f.Action)
	}
	switch f.Action {
	case ActionSlots:
		if f.Slots == nil {
			return fault.Errorf(fault.BadRequest, "a slots search is required")
		}
		q := *f.Slots
		q.Limit = maxSlots
		slots, err := s.sched.Search(ctx, q)
		if err != nil {
			return err
		}
		return s.fan.To(ctx, c.ID, Slots{RequestID: f.RequestID, Slots: s.sched.Directory().Describe(slots, "en")})
	case ActionBook:
		conv, err := s.held(ctx, c, f.ConversationID)
		if err != nil {
			return err
		}
		// The conversation and slot make the request token: booking the
		// same slot again for the conversation is the same booking.
		a, err := s.sched.Book(ctx, scheduling.BookRequest{Token: "conv:" + conv.ID + ":" + f.SlotID, SlotID: f.SlotID, PatientID: conv.PatientID,
			PatientName: conv.PatientName, Locale: conv.Locale, ConversationID: conv.ID, By: c.AgentID})
		if err != nil {
			return s.sched.Directory().Offered(err, conv.Locale)
		}
		return s.fan.To(ctx, c.ID, Booked{RequestID: f.RequestID, Appointment: s.describe(a)})
	case ActionVisit:
		me := Identity{Roles: c.Roles}
		if !me.Has(RoleSupervisor) && !me.Has(RoleAdmin) {
			return fault.Errorf(fault.Forbidden, "only supervisors record how a visit went")
		}
		a, err := s.sched.Record(ctx, f.AppointmentID, scheduling.State(f.Outcome), c.AgentID)
		if err != nil {
			return err
		}
		role := string(RoleSupervisor)
		if !me.Has(RoleSupervisor) {
			role = string(RoleAdmin)
		}
		if err := s.recordRead(ctx, c, AuditEntry{PatientID: a.PatientID, ConversationID: a.ConversationID, ReaderRole: role,
			What: "appointment " + a.ID, Why: "recording the visit as " + f.Outcome}); err != nil {
			return err
		}
		return s.fan.To(ctx, c.ID, VisitRecorded{RequestID: f.RequestID, Appointment: s.describe(a)})
	case ActionReschedule, ActionCancel:
		conv, err := s.holderOfPatient(ctx, c, f.AppointmentID)
		if err != nil {
			return err
		}
		if f.Action == ActionCancel {
			if _, err := s.sched.Cancel(ctx, f.AppointmentID, conv.PatientID, c.AgentID); err != nil {
				return err
			}
			return s.fan.To(ctx, c.ID, Cancelled{RequestID: f.RequestID, AppointmentID: f.AppointmentID})
		}
		a, err := s.sched.Reschedule(ctx, f.AppointmentID, conv.PatientID, f.SlotID, c.AgentID, f.ChangeVisit)
		if err != nil {
			return s.sched.Directory().Offered(err, conv.Locale)
		}
		return s.fan.To(ctx, c.ID, Booked{RequestID: f.RequestID, Appointment: s.describe(a)})
	default: // appointments
		conv, err := s.held(ctx, c, f.ConversationID)
		if err != nil {
			return err
		}
		if err := s.recordRead(ctx, c, AuditEntry{PatientID: conv.PatientID, ConversationID: conv.ID, ReaderRole: string(RoleAgent),
			What: "upcoming appointments", Why: "handling the conversation"}); err != nil {
			return err
		}
		upcoming, err := s.upcoming(ctx, conv)
		if err != nil {
			return err
		}
		return s.fan.To(ctx, c.ID, Appointments{RequestID: f.RequestID, ConversationID: conv.ID, Appointments: upcoming})
	}
}

// held returns a conversation the caller holds (assigned to them).
func (s *Service) held(ctx context.Context, c Connection, id string) (chat.Conversation, error) {
	conv, err := s.convs.Get(ctx, id)
	if err != nil {
		return chat.Conversation{}, err
	}
	if conv.AgentID != c.AgentID || conv.State != chat.StateAssigned {
		return chat.Conversation{}, fault.Errorf(fault.Forbidden, "this conversation is not assigned to you")
	}
	return conv, nil
}

// holderOfPatient finds a conversation the caller holds with the
// appointment's patient: an agent changes only their own patients'
// appointments. Another patient's appointment is not found.
func (s *Service) holderOfPatient(ctx context.Context, c Connection, appointmentID string) (chat.Conversation, error) {
	held, err := s.work.Held(ctx, c.AgentID)
	if err != nil {
		return chat.Conversation{}, err
	}
	for _, conv := range held {
		if conv.State != chat.StateAssigned {
			continue
		}
		if _, err := s.sched.Get(ctx, appointmentID, conv.PatientID); err == nil {
			return conv, nil
		}
	}
	return chat.Conversation{}, fault.Errorf(fault.NotFound, "no appointment of a patient you are helping has that id")
}

// upcoming lists the conversation's patient's upcoming appointments.
func (s *Service) upcoming(ctx context.Context, conv chat.Conversation) ([]scheduling.AppointmentInfo, error) {
	appts, err := s.sched.Upcoming(ctx, conv.PatientID)
	if err != nil {
		return nil, fmt.Errorf("listing appointments: %w", err)
	}
	out := []scheduling.AppointmentInfo{}
	for _, a := range appts {
		out = append(out, s.sched.Directory().DescribeAppointment(a, conv.Locale))
	}
	return out, nil
}

// describe is an appointment as its patient's agent is shown it, in the
// patient's language.
func (s *Service) describe(a scheduling.Appointment) scheduling.AppointmentInfo {
	return s.sched.Directory().DescribeAppointment(a, a.Locale)
}
