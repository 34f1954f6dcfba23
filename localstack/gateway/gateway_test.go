package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// invokerFunc adapts a function to Invoker.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// echoGateway answers every frame on the "echo" route with its body size,
// through the gateway's own @connections API.
func echoGateway(t *testing.T, idle time.Duration) (*httptest.Server, string) {
	t.Helper()
	var srv *httptest.Server
	echo := invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		var req events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		if req.RequestContext.EventType != "MESSAGE" {
			status := 200
			if req.QueryStringParameters["deny"] != "" {
				status = 401
			}
			return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status})
		}
		body, _ := json.Marshal(map[string]any{"size": len(req.Body), "route": req.RequestContext.RouteKey})
		resp, err := http.Post(srv.URL+"/dev/@connections/"+req.RequestContext.ConnectionID, "application/json", strings.NewReader(string(body)))
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return []byte(`{"statusCode":200}`), nil
	})
	fail := invokerFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("boom") })
	g := New(Config{APIID: "t", Stage: "dev", SelectionField: "action", IdleTimeout: idle,
		Routes: map[string]Invoker{"$connect": echo, "$default": echo, "fail": fail}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv = httptest.NewServer(g)
	t.Cleanup(func() { g.Close(); srv.Close() })
	return srv, "ws" + strings.TrimPrefix(srv.URL, "http") + "/dev"
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *websocket.Conn) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func frameOf(n int) string {
	return `{"action":"x","pad":"` + strings.Repeat("a", n-len(`{"action":"x","pad":""}`)) + `"}`
}

func TestFrameAndMessageLimits(t *testing.T) {
	_, url := echoGateway(t, time.Minute)

	ok := dial(t, url)
	if err := ok.Write(context.Background(), websocket.MessageText, []byte(frameOf(MaxFrameBytes))); err != nil {
		t.Fatal(err)
	}
	if m, err := read(t, ok); err != nil || m["size"] != float64(MaxFrameBytes) {
		t.Fatalf("a frame of exactly 32 KB: %v %v", m, err)
	}

	big := dial(t, url)
	_ = big.Write(context.Background(), websocket.MessageText, []byte(frameOf(MaxFrameBytes+1)))
	// API Gateway closes the connection with 1009 (Message too big):
	// a client must be told why, not see the connection vanish (1006).
	if m, err := read(t, big); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("a frame over 32 KB: %v %v, want close 1009", m, err)
	}

	// A message over 128 KB, sent as frames under 32 KB, closes with 1009.
	huge := dial(t, url)
	w, err := huge.Writer(context.Background(), websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("b", 16*1024))
	for sent := 0; sent <= MaxMessageBytes; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			break
		}
	}
	_ = w.Close()
	_, err = read(t, huge)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("message over 128 KB: %v, want close 1009", err)
	}
}

func TestIdleTimeoutClosesTheConnection(t *testing.T) {
	_, url := echoGateway(t, 300*time.Millisecond)
	c := dial(t, url)
	_, err := read(t, c)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("idle connection: %v, want close 1001", err)
	}
}

func TestConnectRefusalAndIntegrationFailure(t *testing.T) {
	_, url := echoGateway(t, time.Minute)
	_, resp, err := websocket.Dial(context.Background(), url+"?deny=1", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refused $connect: %v %v", resp, err)
	}
	c := dial(t, url)
	_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"fail"}`))
	m, err := read(t, c)
	if err != nil || m["message"] != "Internal server error" {
		t.Fatalf("failing integration answered %v %v", m, err)
	}
	// The connection stays open.
	_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"other"}`))
	if m, err := read(t, c); err != nil || m["route"] != "$default" {
		t.Fatalf("after a failure: %v %v", m, err)
	}
}

func TestManagementAPIOnUnknownConnection(t *testing.T) {
	srv, _ := echoGateway(t, time.Minute)
	resp, err := http.Post(srv.URL+"/dev/@connections/nope", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || resp.Header.Get("X-Amzn-ErrorType") != "GoneException" {
		t.Fatalf("POST to unknown connection: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestFrameGuardFollowsFrameBoundaries(t *testing.T) {
	// Two masked frames: 125 bytes (7-bit length), 300 bytes (16-bit length),
	// delivered one byte at a time, then a 64-bit length over the limit.
	var stream []byte
	stream = append(stream, 0x81, 0x80|125, 1, 2, 3, 4)
	stream = append(stream, make([]byte, 125)...)
	stream = append(stream, 0x81, 0x80|126, 0x01, 0x2c, 1, 2, 3, 4)
	stream = append(stream, make([]byte, 300)...)
	g := &frameGuard{limit: 300}
	for i := range stream {
		if !g.inspect(stream[i : i+1]) {
			t.Fatalf("byte %d: a frame within the limit was refused", i)
		}
	}
	over := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x01, 0x2d, 1, 2, 3, 4}
	if g.inspect(over) {
		t.Fatal("a 301-byte frame passed a 300-byte limit")
	}
}
