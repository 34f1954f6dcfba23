// Package patientws is the edge between API Gateway WebSocket events and the
// chat service: it decodes frames, calls the service, and turns errors into
// error frames (through frames.Error, the one mapping) or into a
// refused handshake.
package patientws

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/fault"
)

// Service is what the handlers need of the chat service.
type Service interface {
	Connect(ctx context.Context, connectionID, sessionToken string) error
	Disconnect(ctx context.Context, connectionID string) error
	Start(ctx context.Context, connectionID string, r chat.StartRequest) error
	Resume(ctx context.Context, connectionID string, r chat.ResumeRequest) error
	Send(ctx context.Context, connectionID string, r chat.SendRequest) error
	Typing(ctx context.Context, connectionID, conversationID string) error
	End(ctx context.Context, connectionID string, r chat.EndRequest) error
	Transcript(ctx context.Context, connectionID string, r chat.TranscriptRequest) error
	SignIn(ctx context.Context, connectionID string, r chat.SignInRequest) error
}

var _ Service = (*chat.Service)(nil)

// Handler serves the patient API's routes.
type Handler struct {
	svc    Service
	pusher chat.Pusher
	log    *slog.Logger
}

// NewHandler returns a Handler. pusher delivers error frames to the caller.
func NewHandler(svc Service, pusher chat.Pusher, log *slog.Logger) *Handler {
	return &Handler{svc: svc, pusher: pusher, log: log}
}

func response(status int) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status}
}

// Connect serves $connect: 200 admits the connection, 401 refuses a bad
// session token (ConnectOutcome).
func (h *Handler) Connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	log := h.log.With("connection_id", req.RequestContext.ConnectionID)
	err := h.svc.Connect(ctx, req.RequestContext.ConnectionID, req.QueryStringParameters["session"])
	return ConnectOutcome(ctx, log, err, "resumed", req.QueryStringParameters["session"] != ""), nil
}

// Disconnect serves $disconnect.
func (h *Handler) Disconnect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return DisconnectOutcome(ctx, h.log, req.RequestContext.ConnectionID, h.svc.Disconnect(ctx, req.RequestContext.ConnectionID))
}

// ConnectOutcome answers $connect, for both APIs, from how admitting the
// connection went: 200 admits it, 401 refuses a missing, invalid or
// expired credential, 403 one whose holder may not connect, 500 anything
// else (API Gateway fails the handshake on any non-2xx answer). The
// credential itself is never logged; admitted are log attributes of an
// admitted connection.
func ConnectOutcome(ctx context.Context, log *slog.Logger, err error, admitted ...any) events.APIGatewayProxyResponse {
	switch code := fault.CodeOf(err); code {
	case "":
		log.InfoContext(ctx, "connected", admitted...)
		return response(http.StatusOK)
	case fault.Unauthorized, fault.Forbidden:
		log.InfoContext(ctx, "connect refused", "code", code, "reason", fault.MessageOf(err))
		if code == fault.Forbidden {
			return response(http.StatusForbidden)
		}
		return response(http.StatusUnauthorized)
	default:
		log.ErrorContext(ctx, "connect failed", "error", err)
		return response(http.StatusInternalServerError)
	}
}

// DisconnectOutcome answers $disconnect, for both APIs, from how forgetting
// the connection went; a failure is returned so Lambda records it.
func DisconnectOutcome(ctx context.Context, log *slog.Logger, connID string, err error) (events.APIGatewayProxyResponse, error) {
	if err != nil {
		log.ErrorContext(ctx, "disconnect failed", "connection_id", connID, "error", err)
		return response(http.StatusInternalServerError), err
	}
	log.InfoContext(ctx, "disconnected", "connection_id", connID)
	return response(http.StatusOK), nil
}

// Message serves every other route, $default included: a refused frame
// gets an error frame and the connection stays open.
func (h *Handler) Message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	connID := req.RequestContext.ConnectionID
	f, err := protocol.DecodePatient([]byte(req.Body))
	if err == nil {
		err = protocol.CheckRoute(req.RequestContext.RouteKey, f.Action)
	}
	log := h.log.With("connection_id", connID, "route", req.RequestContext.RouteKey, "action", protocol.Loggable(f.Action))
	if f.ConversationID != "" {
		log = log.With("conversation_id", f.ConversationID)
	}
	if err == nil {
		err = Dispatch(ctx, h.svc, connID, f)
	}
	return FrameOutcome(ctx, log, h.pusher, connID, f.RequestID, err), nil
}

// Dispatch calls the chat service's action for a decoded, validated frame.
func Dispatch(ctx context.Context, svc Service, connID string, f protocol.ClientFrame) error {
	switch f.Action {
	case protocol.ActionStart:
		return svc.Start(ctx, connID, chat.StartRequest{RequestID: f.RequestID, Name: f.Name, Topic: f.Topic, Locale: f.Locale})
	case protocol.ActionResume:
		return svc.Resume(ctx, connID, chat.ResumeRequest{RequestID: f.RequestID, After: f.After})
	case protocol.ActionSend:
		return svc.Send(ctx, connID, chat.SendRequest{RequestID: f.RequestID, ConversationID: f.ConversationID,
			ClientMessageID: f.ClientMessageID, Text: f.Text, NoEcho: f.NoEcho})
	case protocol.ActionTyping:
		return svc.Typing(ctx, connID, f.ConversationID)
	case protocol.ActionEnd:
		return svc.End(ctx, connID, chat.EndRequest{RequestID: f.RequestID, ConversationID: f.ConversationID})
	case protocol.ActionTranscript:
		return svc.Transcript(ctx, connID, chat.TranscriptRequest{RequestID: f.RequestID, ConversationID: f.ConversationID})
	case protocol.ActionSignIn:
		return svc.SignIn(ctx, connID, chat.SignInRequest{RequestID: f.RequestID, ConversationID: f.ConversationID, IDToken: f.Token})
	}
	return fault.Errorf(fault.BadRequest, "unknown action")
}

// ErrorPusher delivers an encoded error frame to a connection.
type ErrorPusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// FrameOutcome logs how a frame ended and, when it was refused or failed,
// pushes the caller its error frame (the connection stays open). A frame
// route always answers 200: API Gateway has no use for another status.
func FrameOutcome(ctx context.Context, log *slog.Logger, pusher ErrorPusher, connID, requestID string, err error) events.APIGatewayProxyResponse {
	switch code := fault.CodeOf(err); code {
	case "":
		log.InfoContext(ctx, "frame handled")
		return response(http.StatusOK)
	case fault.Internal:
		log.ErrorContext(ctx, "frame failed", "error", err)
	default:
		log.InfoContext(ctx, "frame refused", "code", code)
	}
	if perr := pusher.Push(ctx, connID, protocol.Encode(frames.Error(err, requestID))); perr != nil {
		log.WarnContext(ctx, "error frame not delivered", "error", perr)
	}
	return response(http.StatusOK)
}
