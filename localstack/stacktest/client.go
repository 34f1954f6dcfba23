package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Client is a WebSocket client that reads frames in the background, so a
// test can wait for the frame it expects.
type Client struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan map[string]any
	closed chan struct{}
}

// Dial connects to a WebSocket URL; it fails the test when the handshake
// fails. Use DialErr to expect a refusal.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	c, _, err := DialErr(t, url)
	if err != nil {
		t.Fatalf("dialling %s: %v", url, err)
	}
	return c
}

// DialErr connects and returns the handshake's HTTP response on failure.
func DialErr(t testing.TB, url string) (*Client, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	c := &Client{t: t, ws: ws, frames: make(chan map[string]any, 1024), closed: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { c.Close() })
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.closed)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			f = map[string]any{"type": "<unreadable>", "raw": string(b)}
		}
		c.frames <- f
	}
}

// Send writes a frame (any value, marshalled as JSON; a string is sent as is).
func (c *Client) Send(frame any) {
	c.t.Helper()
	var b []byte
	if s, ok := frame.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(frame); err != nil {
			c.t.Fatalf("marshalling frame: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("sending frame: %v", err)
	}
}

// Wait returns the next frame that match accepts, within 15 seconds;
// frames it skips are returned too, in order, so tests can assert on them.
func (c *Client) Wait(match func(map[string]any) bool) (map[string]any, []map[string]any) {
	c.t.Helper()
	var skipped []map[string]any
	timeout := time.After(15 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if match(f) {
				return f, skipped
			}
			skipped = append(skipped, f)
		case <-c.closed:
			c.t.Fatalf("connection closed while waiting; frames seen: %v", skipped)
		case <-timeout:
			c.t.Fatalf("no matching frame within 15s; frames seen: %v", skipped)
		}
	}
}

// WaitType returns the next frame of a type (and any requestId given).
func (c *Client) WaitType(typ string) map[string]any {
	c.t.Helper()
	f, _ := c.Wait(func(f map[string]any) bool { return f["type"] == typ })
	return f
}

// Request sends a frame with a fresh requestId and waits for the answer
// that echoes it.
func (c *Client) Request(frame map[string]any) map[string]any {
	c.t.Helper()
	id := fmt.Sprintf("r%d", time.Now().UnixNano())
	frame["requestId"] = id
	c.Send(frame)
	f, _ := c.Wait(func(f map[string]any) bool { return f["requestId"] == id })
	return f
}

// TryRequest is Request for cleanups: it never fails the test, and gives
// up after timeout (false: no answer, or the connection is gone).
func (c *Client) TryRequest(frame map[string]any, timeout time.Duration) (map[string]any, bool) {
	id := fmt.Sprintf("r%d", time.Now().UnixNano())
	frame["requestId"] = id
	b, err := json.Marshal(frame)
	if err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return nil, false
	}
	for {
		select {
		case f := <-c.frames:
			if f["requestId"] == id {
				return f, true
			}
		case <-c.closed:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// Closed reports whether the server closed the connection.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Close closes the connection and waits for the reader.
func (c *Client) Close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.closed
}

// Eventually polls cond until it holds, failing the test after limit. It
// waits on an observable condition; it is not a sleep standing in for one.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
