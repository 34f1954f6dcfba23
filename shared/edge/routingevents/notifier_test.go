package routingevents

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/routing"
)

// pushed records each frame as JSON with whom it went to.
type pushed []string

func (p *pushed) add(to string, frame any) {
	b, _ := json.Marshal(frame)
	*p = append(*p, to+" "+string(b))
}
func (p *pushed) Broadcast(_ context.Context, id, _ string, frame any) error {
	p.add(id, frame)
	return nil
}
func (p *pushed) ToAgent(_ context.Context, id string, frame any) error { p.add(id, frame); return nil }
func (p *pushed) Deliver(_ context.Context, id string, frame any) (int, error) {
	p.add(id, frame)
	return 1, nil
}
func (p *pushed) Tell(_ context.Context, frame any) error { p.add("supervisors", frame); return nil }

// TestEachRoutingEventIsTheProtocolsFrame: the frames docs/protocol.md
// names for what routing does, field by field.
func TestEachRoutingEventIsTheProtocolsFrame(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	out := &pushed{}
	n := Notifier{Patients: out, Consoles: out}
	ctx := context.Background()
	if reached, err := n.Offer(ctx, "ana", routing.OfferNote{ConversationID: "c1", Queue: "billing", Priority: "high", Language: "es", Summary: "Topic: billing", ExpiresAt: at}); err != nil || reached != 1 {
		t.Fatal(reached, err)
	}
	for _, err := range []error{
		n.Place(ctx, "c2", 3, 0),
		n.Place(ctx, "c6", 2, 150400*time.Millisecond),
		n.SetAway(ctx, "ana"),
		n.Withdrawn(ctx, "ana", "c3"),
		n.Assignment(ctx, "sue", routing.AssignmentOutcome{ConversationID: "c4", AgentID: "ben", Reason: "the agent is not available with room"}),
		n.Stranded(ctx, routing.StrandedAlert{ConversationID: "c5", Queue: "urgent", Waited: 150 * time.Second, At: at}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`ana {"type":"offer","conversationId":"c1","queue":"billing","priority":"high","language":"es","summary":"Topic: billing","expiresAt":"2026-12-03T15:04:05.000Z"}`,
		`c2 {"type":"status","conversationId":"c2","state":"waiting","queuePosition":3}`,
		`c6 {"type":"status","conversationId":"c6","state":"waiting","queuePosition":2,"recentWaitSeconds":150}`,
		`ana {"type":"presence","status":"away"}`,
		`ana {"type":"status","conversationId":"c3","state":"closed"}`,
		`sue {"type":"assignment","conversationId":"c4","agentId":"ben","ok":false,"reason":"the agent is not available with room"}`,
		`supervisors {"type":"alert","conversationId":"c5","priority":"urgent","state":"waiting","redFlags":[],"summary":"Urgent, waiting 2 min in urgent: no one available can take it","at":"2026-12-03T15:04:05.000Z"}`,
	}
	if len(*out) != len(want) {
		t.Fatalf("pushed %d frames, want %d:\n%v", len(*out), len(want), *out)
	}
	for i := range want {
		if (*out)[i] != want[i] {
			t.Errorf("frame %d:\n got %s\nwant %s", i, (*out)[i], want[i])
		}
	}
}

// TestATransferredOffersSummaryStartsWithWhoAndWhy: the next agent reads
// who handed the conversation on and why before the bot's summary, and
// the offer carries the transfer.
func TestATransferredOffersSummaryStartsWithWhoAndWhy(t *testing.T) {
	out := &pushed{}
	at := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	if _, err := (Notifier{Patients: out, Consoles: out}).Offer(context.Background(), "ben", routing.OfferNote{ConversationID: "c1", Queue: "callback", Priority: "normal",
		Summary: "Topic: billing", ExpiresAt: at, Transfer: &chat.Transfer{By: "Wendy Web", Reason: "Needs a call back", To: "callback", At: at}}); err != nil {
		t.Fatal(err)
	}
	want := `ben {"type":"offer","conversationId":"c1","queue":"callback","priority":"normal","summary":"Transferred by Wendy Web: Needs a call back. Topic: billing","expiresAt":"2026-12-03T15:04:05.000Z","transfer":{"by":"Wendy Web","reason":"Needs a call back","to":"callback","at":"2026-12-03T15:04:05.000Z"}}`
	if len(*out) != 1 || (*out)[0] != want {
		t.Fatalf("pushed %v\nwant %s", *out, want)
	}
}
