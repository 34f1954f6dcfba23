package agentws

import (
	"reflect"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
)

// TestEveryFieldOfAFrameReachesTheRequest: a frame with every field set
// becomes a request with every field set, each to the frame's value; a
// field added to one and not carried over fails here.
func TestEveryFieldOfAFrameReachesTheRequest(t *testing.T) {
	from, to := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)
	f := protocol.AgentFrame{Action: "transfer", RequestID: "r", Status: "away", ConversationID: "c1", ClientMessageID: "u1", Text: "t",
		Disposition: "resolved", Queue: "billing", Reason: "why", AgentID: "a2", SlotID: "s1", AppointmentID: "ap1", ChangeVisit: true,
		TaskID: "k1", Outcome: "done", Weeks: 4, Days: 7, By: "agent", Steps: []string{"one"}, NoEcho: true,
		Slots: &protocol.SlotQuery{ProviderID: "pr1", Specialty: "cardiology", Location: "north", Language: "es", Mode: "video", VisitType: "new", From: from, To: to}}
	for i, v := 0, reflect.ValueOf(f); i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("the test leaves the frame's %s unset: set it", v.Type().Field(i).Name)
		}
	}
	r := RequestOf(f)
	for i, v := 0, reflect.ValueOf(r); i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Errorf("the request's %s is not carried from the frame", v.Type().Field(i).Name)
		}
	}
	if r.Action != agent.ActionTransfer || r.Queue != "billing" || r.AgentID != "a2" || !r.NoEcho || r.Weeks != 4 || r.Steps[0] != "one" {
		t.Errorf("request %+v", r)
	}
	q := r.Slots
	if q.Provider != "pr1" || q.Specialty != "cardiology" || q.Location != "north" || q.Language != "es" || q.Mode != "video" ||
		q.VisitType != "new" || !q.From.Equal(from) || !q.To.Equal(to) {
		t.Errorf("slots search %+v", q)
	}
}

// TestTheServiceServesEveryAgentActionTheProtocolKnows: each action the
// service serves is one the protocol decodes, and back.
func TestTheServiceServesEveryAgentActionTheProtocolKnows(t *testing.T) {
	served := map[string]bool{}
	for _, a := range agent.Actions {
		served[string(a)] = true
		if protocol.Loggable(string(a)) != string(a) {
			t.Errorf("the service serves %q, which the protocol does not know", a)
		}
	}
	for _, a := range protocol.AgentActions() {
		if !served[a] {
			t.Errorf("the protocol decodes %q for the agent API, which the service does not serve", a)
		}
	}
}
