// Package appointmentlink is the edge of the appointment links in reminders: the
// hosted appointment page sends the link's token over the patient
// WebSocket API (the appointment route), and the holder of a valid link
// may view, confirm or cancel that one appointment, and nothing else.
package appointmentlink

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/session"
)

// Links verifies link tokens.
type Links interface {
	Verify(token string) (session.Link, error)
}

// Appointments is what a link may do.
type Appointments interface {
	Directory() *scheduling.Directory
	Get(ctx context.Context, id, patientID string) (scheduling.Appointment, error)
	Confirm(ctx context.Context, id, patientID, by string) (scheduling.Appointment, error)
	Cancel(ctx context.Context, id, patientID, by string) (scheduling.Appointment, error)
}

// Connections admits a frame of a patient connection (its rate limit).
type Connections interface {
	Admit(ctx context.Context, id string, now time.Time) (chat.Connection, error)
}

// Pusher delivers a frame to a connection.
type Pusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// Handler serves the appointment route.
type Handler struct {
	links Links
	appts Appointments
	conns Connections
	push  Pusher
	log   *slog.Logger
	now   func() time.Time
}

// NewHandler returns a Handler.
func NewHandler(l Links, a Appointments, c Connections, p Pusher, log *slog.Logger) *Handler {
	return &Handler{links: l, appts: a, conns: c, push: p, log: log, now: time.Now}
}

// Or serves the appointment route and hands every other route to other:
// the booking function serves both APIs' booking routes, this one of the
// patient API and the agent API's booking actions.
func (h *Handler) Or(other func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)) func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if req.RequestContext.RouteKey == protocol.ActionAppointment {
			return h.Message(ctx, req)
		}
		return other(ctx, req)
	}
}

// Message serves a frame of the appointment route: the answer is the
// appointment as it now stands, or an error frame.
func (h *Handler) Message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	f, err := protocol.DecodeOnRoute(req.RequestContext.RouteKey, []byte(req.Body), protocol.ActionAppointment)
	log := h.log.With("connection_id", connID, "route", req.RequestContext.RouteKey, "action", protocol.Loggable(f.Action), "request_id", req.RequestContext.RequestID)
	if err == nil {
		var a scheduling.Appointment
		a, err = h.act(ctx, connID, f)
		if err == nil {
			log = log.With("appointment_id", a.ID, "decision", f.Decision)
			frame := protocol.AppointmentFrame{Type: "appointment", RequestID: f.RequestID, Appointment: frames.Appointment(h.appts.Directory().DescribeAppointment(a, a.Locale)),
				Confirmed: a.Confirmed, When: notify.When(a.Slot.Start, h.appts.Directory().Zone(), a.Locale)}
			if a.State == scheduling.Held {
				frame.HoldUntil = notify.Until(a.HoldUntil, h.appts.Directory().Zone(), a.Locale)
			}
			err = h.push.Push(ctx, connID, protocol.Encode(frame))
		}
	}
	return patientws.FrameOutcome(ctx, log, h.push, connID, f.RequestID, err), nil
}

func (h *Handler) act(ctx context.Context, connID string, f protocol.ClientFrame) (scheduling.Appointment, error) {
	if _, err := h.conns.Admit(ctx, connID, h.now()); err != nil {
		return scheduling.Appointment{}, err
	}
	link, err := h.links.Verify(f.Token)
	if errors.Is(err, session.ErrBadLink) {
		return scheduling.Appointment{}, fault.Errorf(fault.Unauthorized, "this link is not valid or has expired")
	}
	if err != nil {
		return scheduling.Appointment{}, err
	}
	// The link acts on the appointment it was sent for: at the time it
	// named, before that time. A moved appointment's old links do nothing
	// (its newest reminder has a link of its own).
	a, err := h.appts.Get(ctx, link.AppointmentID, link.PatientID)
	if err != nil {
		return scheduling.Appointment{}, err
	}
	if !a.Slot.Start.Equal(link.Start) {
		return scheduling.Appointment{}, fault.Errorf(fault.Unauthorized, "this link is for an earlier time of this appointment; use the newest reminder")
	}
	if !a.Slot.Start.After(h.now()) {
		return scheduling.Appointment{}, fault.Errorf(fault.Unauthorized, "this appointment has started; call us to change it")
	}
	switch f.Decision {
	case protocol.DecisionConfirm:
		return h.appts.Confirm(ctx, link.AppointmentID, link.PatientID, "patient")
	case protocol.DecisionCancel:
		return h.appts.Cancel(ctx, link.AppointmentID, link.PatientID, "patient")
	default:
		return a, nil
	}
}
