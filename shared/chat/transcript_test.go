package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// mailbox is a Mailer keeping what it sent.
type mailbox struct{ sent map[string][]string }

func (m *mailbox) Send(_ context.Context, to string, raw []byte) error {
	if m.sent == nil {
		m.sent = map[string][]string{}
	}
	m.sent[to] = append(m.sent[to], string(raw))
	return nil
}

// TestAVerifiedPatientGetsTheTranscriptByEmailOnce: the transcript of an
// ended conversation goes, once, to the address the patient verified —
// the messages they saw, in their language, never an agent's note; an
// anonymous patient, an open conversation and a second ask are refused.
func TestAVerifiedPatientGetsTheTranscriptByEmailOnce(t *testing.T) {
	f := newFixture(t)
	box := &mailbox{}
	f.svc.WithTranscripts(chat.TranscriptMail{Mail: box, From: "PSC <no-reply@example.org>", Zone: time.UTC, Marks: f.m.MemConversations})
	_, conv := f.startOn(t, "a", "Ana")
	ctx := context.Background()
	if _, _, err := f.m.Append(ctx, chat.Message{ConversationID: conv, ClientMessageID: "u1", Role: chat.RolePatient, Text: "I was charged twice", At: f.now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.m.Append(ctx, chat.Message{ConversationID: conv, ClientMessageID: "agent#1", Role: chat.RoleAgent, SenderName: "Paul", Text: "I see it, refunding now", At: f.now}); err != nil {
		t.Fatal(err)
	}
	ask := `{"action":"transcript","conversationId":"` + conv + `","requestId":"t1"}`
	// Anonymous: refused, nothing sent.
	if err := f.do(t, "a", ask); fault.CodeOf(err) != fault.Forbidden || len(box.sent) != 0 {
		t.Fatalf("an anonymous patient: %v, sent %v", err, box.sent)
	}
	c := f.m.conv(conv)
	c.Identity, c.VerifiedEmail = chat.IdentityVerified, "ana@example.org"
	f.m.Update(c)
	// Still open: refused.
	if err := f.do(t, "a", ask); fault.CodeOf(err) != fault.Conflict || len(box.sent) != 0 {
		t.Fatalf("an open conversation: %v", err)
	}
	if err := f.do(t, "a", `{"action":"end","conversationId":"`+conv+`"}`); err != nil {
		t.Fatal(err)
	}
	if ended := f.m.frames("a", "status"); ended[len(ended)-1]["identity"] != "verified" {
		t.Fatalf("the closing status does not say verified: %v", ended[len(ended)-1])
	}
	if err := f.do(t, "a", ask); err != nil {
		t.Fatal(err)
	}
	mails := box.sent["ana@example.org"]
	if len(mails) != 1 || !strings.Contains(mails[0], "] You: I was charged twice") || !strings.Contains(mails[0], "] Paul: I see it, refunding now") ||
		!strings.Contains(mails[0], "Subject: Your conversation transcript") {
		t.Fatalf("the transcript: %q", mails)
	}
	answer := f.m.frames("a", "transcript")
	if len(answer) != 1 || answer[0]["to"] != "a•••@example.org" || answer[0]["requestId"] != "t1" {
		t.Fatalf("the answer: %v", answer)
	}
	if err := f.do(t, "a", ask); fault.CodeOf(err) != fault.Conflict || len(box.sent["ana@example.org"]) != 1 {
		t.Fatalf("a second ask: %v, %d sent", err, len(box.sent["ana@example.org"]))
	}
}
