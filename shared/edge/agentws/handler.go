// Package agentws is the edge between the agent WebSocket API's events and
// the agent service: it reads the token on $connect, decodes frames, calls
// the service, and turns errors into error frames (through
// frames.Error, the one mapping) or into a refused handshake.
package agentws

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Service is what the handlers need of the agent service.
type Service interface {
	Connect(ctx context.Context, connectionID, token string) (agent.Identity, error)
	Disconnect(ctx context.Context, connectionID string) error
	Handle(ctx context.Context, connectionID string, r agent.Request) error
}

var _ Service = (*agent.Service)(nil)

// Handler serves the agent API's routes.
type Handler struct {
	svc    Service
	pusher agent.Pusher
	log    *slog.Logger
}

// NewHandler returns a Handler; pusher delivers error frames to the caller.
func NewHandler(svc Service, pusher agent.Pusher, log *slog.Logger) *Handler {
	return &Handler{svc: svc, pusher: pusher, log: log}
}

// Connect serves $connect: 200 admits the console, 401 refuses a missing or
// invalid token, 403 a user in none of the pool's groups, 500 anything
// else. The token itself is never logged.
func (h *Handler) Connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	log := h.log.With("connection_id", req.RequestContext.ConnectionID, "request_id", req.RequestContext.RequestID)
	id, err := h.svc.Connect(ctx, req.RequestContext.ConnectionID, req.QueryStringParameters["token"])
	return patientws.ConnectOutcome(ctx, log, err, "agent_id", id.AgentID, "roles", id.Roles), nil
}

// Route serves $disconnect and every other route of the agent API (one
// function: the agent's connection lifecycle and actions share the service).
func (h *Handler) Route(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	switch req.RequestContext.RouteKey {
	case "$connect":
		return h.Connect(ctx, req)
	case "$disconnect":
		return h.Disconnect(ctx, req)
	default:
		return h.Message(ctx, req)
	}
}

// Disconnect serves $disconnect.
func (h *Handler) Disconnect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return patientws.DisconnectOutcome(ctx, h.log, req.RequestContext.ConnectionID, h.svc.Disconnect(ctx, req.RequestContext.ConnectionID))
}

// Message serves the actions: a refused frame gets an error frame and the
// connection stays open.
func (h *Handler) Message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	f, err := protocol.DecodeAgent([]byte(req.Body))
	if err == nil {
		err = protocol.CheckRoute(req.RequestContext.RouteKey, f.Action)
	}
	log := h.log.With("connection_id", connID, "request_id", req.RequestContext.RequestID, "route", req.RequestContext.RouteKey, "action", protocol.Loggable(f.Action))
	if err == nil {
		err = h.svc.Handle(ctx, connID, RequestOf(f))
	}
	return patientws.FrameOutcome(ctx, log, h.pusher, connID, f.RequestID, err), nil
}

// RequestOf is a decoded, validated frame as the service's request.
func RequestOf(f protocol.AgentFrame) agent.Request {
	r := agent.Request{Action: agent.Action(f.Action), RequestID: f.RequestID, Status: f.Status, ConversationID: f.ConversationID,
		ClientMessageID: f.ClientMessageID, Text: f.Text, NoEcho: f.NoEcho, Disposition: f.Disposition, Steps: f.Steps, Queue: f.Queue,
		Reason: f.Reason, AgentID: f.AgentID, SlotID: f.SlotID, AppointmentID: f.AppointmentID, ChangeVisit: f.ChangeVisit,
		TaskID: f.TaskID, Outcome: f.Outcome, Weeks: f.Weeks, Days: f.Days, By: f.By}
	if q := f.Slots; q != nil {
		r.Slots = &scheduling.Query{Provider: q.ProviderID, Specialty: q.Specialty, Location: q.Location, Language: q.Language,
			Mode: q.Mode, VisitType: q.VisitType, From: q.From, To: q.To}
	}
	return r
}
