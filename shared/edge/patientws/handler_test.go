package patientws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/edgetest"
	"github.com/patientservicecenter/psc/shared/fault"
)

// fakeService records the requests it gets and answers with err.
type fakeService struct {
	err     error
	session string
	frames  []any
}

func (f *fakeService) Connect(_ context.Context, _, token string) error {
	f.session = token
	return f.err
}
func (f *fakeService) Disconnect(context.Context, string) error { return f.err }
func (f *fakeService) first() any {
	if len(f.frames) == 0 {
		return nil
	}
	return f.frames[0]
}
func (f *fakeService) got(r any) error {
	f.frames = append(f.frames, r)
	return f.err
}
func (f *fakeService) Start(_ context.Context, _ string, r chat.StartRequest) error { return f.got(r) }
func (f *fakeService) Resume(_ context.Context, _ string, r chat.ResumeRequest) error {
	return f.got(r)
}
func (f *fakeService) Send(_ context.Context, _ string, r chat.SendRequest) error { return f.got(r) }
func (f *fakeService) Typing(_ context.Context, _, conversationID string) error {
	return f.got(conversationID)
}
func (f *fakeService) End(_ context.Context, _ string, r chat.EndRequest) error { return f.got(r) }
func (f *fakeService) Transcript(_ context.Context, _ string, r chat.TranscriptRequest) error {
	return f.got(r)
}
func (f *fakeService) SignIn(_ context.Context, _ string, r chat.SignInRequest) error {
	return f.got(r)
}

type fakePusher struct{ pushed map[string][]string }

func (p *fakePusher) Push(_ context.Context, id string, frame []byte) error {
	p.pushed[id] = append(p.pushed[id], string(frame))
	return nil
}

func event(t *testing.T, name string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	return edgetest.Event[events.APIGatewayWebsocketProxyRequest](t, name)
}

func setup(err error) (*Handler, *fakeService, *fakePusher, *bytes.Buffer) {
	svc, p := &fakeService{err: err}, &fakePusher{pushed: map[string][]string{}}
	logs := &bytes.Buffer{}
	return NewHandler(svc, p, slog.New(slog.NewJSONHandler(logs, nil))), svc, p, logs
}

func TestConnect(t *testing.T) {
	for _, tc := range []struct {
		file   string
		err    error
		status int
	}{
		{"apigateway-websocket-connect.json", nil, 200},
		{"apigateway-websocket-connect-session.json", fault.Errorf(fault.Unauthorized, "bad"), 401},
		{"apigateway-websocket-connect.json", context.DeadlineExceeded, 500},
	} {
		h, svc, _, logs := setup(tc.err)
		ev := event(t, tc.file)
		resp, err := h.Connect(context.Background(), ev)
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s with %v: status %d err %v, want %d", tc.file, tc.err, resp.StatusCode, err, tc.status)
		}
		if token := ev.QueryStringParameters["session"]; token != svc.session {
			t.Errorf("service got session %q, want %q", svc.session, token)
		}
		if token := ev.QueryStringParameters["session"]; token != "" && strings.Contains(logs.String(), token) {
			t.Errorf("the session token reached the logs: %s", logs)
		}
	}
}

func TestMessageRoutesAndErrors(t *testing.T) {
	h, svc, p, _ := setup(nil)
	ev := event(t, "apigateway-websocket-message-start.json")
	if resp, err := h.Message(context.Background(), ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("start: %v %v", resp, err)
	}
	if start, _ := svc.first().(chat.StartRequest); len(svc.frames) != 1 || start.Name != "Ana" || start.RequestID != "r1" {
		t.Fatalf("service frames = %+v", svc.frames)
	}

	bad := event(t, "apigateway-websocket-message-invalid.json")
	if resp, _ := h.Message(context.Background(), bad); resp.StatusCode != 200 {
		t.Fatalf("invalid frame: status %d (the connection must stay open)", resp.StatusCode)
	}
	got := p.pushed[bad.RequestContext.ConnectionID]
	if len(got) != 1 || !strings.Contains(got[0], `"code":"bad_request"`) {
		t.Fatalf("pushed = %v", got)
	}
	if len(svc.frames) != 1 {
		t.Fatal("an invalid frame reached the service")
	}
}

func TestMessageLogsNoTextAndHidesInternalErrors(t *testing.T) {
	h, _, p, logs := setup(context.DeadlineExceeded)
	ev := event(t, "apigateway-websocket-message-send.json")
	if _, err := h.Message(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	frames := p.pushed[ev.RequestContext.ConnectionID]
	if len(frames) != 1 || !strings.Contains(frames[0], `"code":"internal","message":"internal error","requestId":"r2"`) {
		t.Fatalf("pushed = %v", frames)
	}
	if strings.Contains(logs.String(), "Where can I park?") {
		t.Fatalf("message text reached the logs: %s", logs)
	}
	if !strings.Contains(logs.String(), `"conversation_id":"c-example"`) {
		t.Fatalf("logs lack the conversation id: %s", logs)
	}
}

// TestAFrameWhoseActionIsNotItsRouteRunsNothing: API Gateway chose the
// route by the exact "action" key; a frame that says another action (in
// any spelling) is refused, and client text never reaches the logs as an
// action name.
func TestAFrameWhoseActionIsNotItsRouteRunsNothing(t *testing.T) {
	h, svc, p, logs := setup(nil)
	for _, tc := range []struct{ route, body string }{
		{"survey", `{"action":"start","name":"Ana"}`},
		{"survey", `{"action":"survey","ACTION":"start","name":"Ana"}`},
		{"$default", `{"action":"Ana Ruiz born 1961-04-02 canary-4f1c"}`},
	} {
		ev := event(t, "apigateway-websocket-message-start.json")
		ev.RequestContext.RouteKey, ev.Body = tc.route, tc.body
		if resp, err := h.Message(context.Background(), ev); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", tc.body, resp, err)
		}
	}
	if len(svc.frames) != 0 {
		t.Fatalf("refused frames reached the service: %+v", svc.frames)
	}
	var refused int
	for _, frames := range p.pushed {
		for _, f := range frames {
			if strings.Contains(f, `"code":"bad_request"`) {
				refused++
			}
		}
	}
	if refused != 3 {
		t.Fatalf("%d error frames, want 3: %v", refused, p.pushed)
	}
	if strings.Contains(logs.String(), "canary-4f1c") || strings.Contains(logs.String(), "Ana") {
		t.Fatalf("client text reached the logs: %s", logs)
	}
	if !strings.Contains(logs.String(), `"action":"unknown"`) {
		t.Fatalf("an unknown action is not logged as unknown: %s", logs)
	}
}

// TestConnectOutcomeForBothAPIs: the one $connect mapping both APIs use —
// admitted 200, a bad credential 401, a holder who may not connect 403,
// anything else 500 — logs why without the credential.
func TestConnectOutcomeForBothAPIs(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fault.Errorf(fault.Unauthorized, "the token has expired"), 401},
		{fault.Errorf(fault.Forbidden, "the user is in none of the agent, supervisor or admin groups"), 403},
		{errors.New("dynamodb is down"), 500},
	} {
		var logs bytes.Buffer
		resp := ConnectOutcome(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)), tc.err, "agent_id", "a1")
		if resp.StatusCode != tc.want {
			t.Errorf("%v: status %d, want %d", tc.err, resp.StatusCode, tc.want)
		}
		if tc.err != nil && tc.want != 500 && !strings.Contains(logs.String(), fault.MessageOf(tc.err)) {
			t.Errorf("%v: the refusal's reason is not logged: %s", tc.err, logs.String())
		}
	}
	var logs bytes.Buffer
	if resp, err := DisconnectOutcome(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)), "c1", errors.New("boom")); err == nil || resp.StatusCode != 500 {
		t.Errorf("a failed disconnect: %d %v, want 500 and the error", resp.StatusCode, err)
	}
}

// TestEachActionReachesItsServiceCall: the edge decodes a frame and calls
// the chat service's action with every field the frame carried.
func TestEachActionReachesItsServiceCall(t *testing.T) {
	for _, tc := range []struct {
		body string
		want any
	}{
		{`{"action":"start","requestId":"r","name":"Ana","topic":"billing","locale":"es"}`, chat.StartRequest{RequestID: "r", Name: "Ana", Topic: "billing", Locale: "es"}},
		{`{"action":"resume","requestId":"r","after":"m000000000003"}`, chat.ResumeRequest{RequestID: "r", After: "m000000000003"}},
		{`{"action":"send","requestId":"r","conversationId":"c1","clientMessageId":"u1","text":"hello","echo":false}`,
			chat.SendRequest{RequestID: "r", ConversationID: "c1", ClientMessageID: "u1", Text: "hello", NoEcho: true}},
		{`{"action":"typing","conversationId":"c1"}`, "c1"},
		{`{"action":"end","requestId":"r","conversationId":"c1"}`, chat.EndRequest{RequestID: "r", ConversationID: "c1"}},
	} {
		h, svc, p, _ := setup(nil)
		var action struct{ Action string }
		_ = json.Unmarshal([]byte(tc.body), &action)
		ev := events.APIGatewayWebsocketProxyRequest{Body: tc.body, RequestContext: events.APIGatewayWebsocketProxyRequestContext{ConnectionID: "k1", RouteKey: action.Action}}
		if _, err := h.Message(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if len(svc.frames) != 1 || svc.frames[0] != tc.want {
			t.Errorf("%s: the service got %+v (errors pushed: %v), want %+v", tc.body, svc.frames, p.pushed["k1"], tc.want)
		}
	}
}
