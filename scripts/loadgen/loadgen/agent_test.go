package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestAnAgentBackFromADropAnswersOnlyWhatWasWrittenToIt: after a
// reconnect the load agent reads a held conversation's transcript, which
// holds the patient's messages to the bot too. It answers only the one
// written to it: answering the others made it close while the patient
// still had a detail to send, and counted them as duplicated (the issue
// 17 run with more hangs).
func TestAnAgentBackFromADropAnswersOnlyWhatWasWrittenToIt(t *testing.T) {
	sent := make(chan map[string]any, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			_ = json.Unmarshal(b, &f)
			sent <- f
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	k, err := dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	r := &run{cfg: Config{Exchanges: 2}, sentAt: map[string]time.Time{}, recvAt: map[string]time.Time{}, replies: map[string]string{}, got: map[string]int{}, acked: map[string]bool{}, phases: map[string][]time.Duration{}}
	a := &loadAgent{run: r, name: "a", k: k, counts: map[string]int{}, seen: map[string]bool{}, unacked: map[string]map[string]any{}, closing: map[string]bool{}}
	msg := func(id, role, text string) map[string]any {
		return map[string]any{"type": "message", "conversationId": "c1", "messageId": id, "from": map[string]any{"role": role}, "text": text}
	}
	a.handle(ctx, map[string]any{"type": "context", "conversationId": "c1", "transcript": []any{
		msg("m1", "patient", "yes"), msg("m2", "bot", "Hello"), msg("m3", "patient", "What are the visiting hours?"),
		msg("m4", "patient", "I was charged twice for my visit"), msg("m5", "bot", "Connecting you"),
		msg("m6", "patient", toAgent+"1 about the charge"),
	}})
	select {
	case f := <-sent:
		if f["action"] != "send" || f["conversationId"] != "c1" {
			t.Fatalf("the agent sent %v, want a reply in c1", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent answered nothing")
	}
	if a.counts["c1"] != 1 || len(a.unacked) != 1 {
		t.Fatalf("the agent answered %d messages (%d replies in flight), want 1: the patient's messages to the bot are not its to answer", a.counts["c1"], len(a.unacked))
	}
	for key := range r.got {
		if key != "agent|c1|m6" {
			t.Errorf("the run counts %s as received by the agent; only m6 was written to it", key)
		}
	}
}
