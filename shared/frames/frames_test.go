package frames

import (
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/protocol"
)

// TestEachValueIsRenderedAsItsFrame: what the services push becomes the
// frame docs/protocol.md describes, field for field; a frame built by an
// edge passes as it is.
func TestEachValueIsRenderedAsItsFrame(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 30, 0, 5e6, time.FixedZone("EST", -5*3600))
	m := chat.Message{ConversationID: "c1", ID: "m000000000007", ClientMessageID: "u7", Role: chat.RoleAgent, SenderName: "Lee", Text: "Hi <there>", At: at, QuickReplies: []string{"Yes"}}
	const msg = `{"type":"message","conversationId":"c1","messageId":"m000000000007","from":{"role":"agent","name":"Lee"},"text":"Hi \u003cthere\u003e","at":"2026-12-03T14:30:00.005Z","quickReplies":["Yes"]}`
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"message", m, msg},
		{"session", chat.Session{RequestID: "r", Token: "t", ConversationID: "c1", PatientID: "p1"},
			`{"type":"session","requestId":"r","session":"t","conversationId":"c1","patientId":"p1"}`},
		{"ack", chat.Ack{RequestID: "r", Message: m}, `{"type":"ack","requestId":"r","clientMessageId":"u7","messageId":"m000000000007","at":"2026-12-03T14:30:00.005Z"}`},
		{"status", chat.Status{ConversationID: "c1", State: "assigned", AgentName: "Lee", At: at},
			`{"type":"status","conversationId":"c1","state":"assigned","agent":{"name":"Lee"},"at":"2026-12-03T14:30:00.005Z"}`},
		{"position update: no time, so it never changes the state shown", chat.Status{ConversationID: "c1", State: "waiting", QueuePosition: 3},
			`{"type":"status","conversationId":"c1","state":"waiting","queuePosition":3}`},
		{"history", chat.History{RequestID: "r", ConversationID: "c1", State: "bot", At: at, Messages: []chat.Message{m}, More: true},
			`{"type":"history","requestId":"r","conversationId":"c1","state":"bot","at":"2026-12-03T14:30:00.005Z","messages":[` + msg + `],"more":true}`},
		{"empty history: a list, never null", chat.History{ConversationID: "c1", State: "closed"},
			`{"type":"history","conversationId":"c1","state":"closed","messages":[]}`},
		{"typing", chat.Typing{ConversationID: "c1", Role: "patient"}, `{"type":"typing","conversationId":"c1","role":"patient"}`},
		{"alert", chat.Alert{ConversationID: "c1", Priority: "urgent", State: "waiting", RedFlags: []string{"chest_pain"}, Summary: "Chest pain", At: at},
			`{"type":"alert","conversationId":"c1","priority":"urgent","state":"waiting","redFlags":["chest_pain"],"summary":"Chest pain","at":"2026-12-03T14:30:00.005Z"}`},
		{"a frame already", protocol.TypingFrame{Type: "typing", ConversationID: "c1", Role: "agent"}, `{"type":"typing","conversationId":"c1","role":"agent"}`},
	} {
		b, err := Encode(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.name, b, err, tc.want)
		}
	}
}

// TestAValueThatCannotBeEncodedIsAnError: an error, not a panic.
func TestAValueThatCannotBeEncodedIsAnError(t *testing.T) {
	if _, err := Encode(map[string]any{"x": make(chan int)}); err == nil {
		t.Fatal("encoding a channel succeeded")
	}
}
