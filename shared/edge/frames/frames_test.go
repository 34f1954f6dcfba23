package frames

import (
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/survey"
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

// TestConsoleValuesAreRenderedAsTheirFrames: the agent service's answers,
// as consoles read them.
func TestConsoleValuesAreRenderedAsTheirFrames(t *testing.T) {
	at := time.Date(2026, 12, 3, 14, 30, 0, 0, time.UTC)
	slot := scheduling.SlotInfo{SlotID: "s1", ProviderID: "p1", ProviderName: "Dr. Rivera", Specialty: "cardiology", VisitTypeID: "new",
		VisitTypeName: "New patient", Start: at, End: at.Add(30 * time.Minute), LocationID: "north", LocationName: "North Clinic",
		Address: "1 Main St", Mode: "in-person", TimeZone: "America/New_York"}
	const slotJSON = `{"slotId":"s1","provider":{"id":"p1","name":"Dr. Rivera"},"specialty":"cardiology","visitType":{"id":"new","name":"New patient"},` +
		`"start":"2026-12-03T14:30:00.000Z","end":"2026-12-03T15:00:00.000Z","location":{"id":"north","name":"North Clinic","address":"1 Main St"},"mode":"in-person","timeZone":"America/New_York"}`
	appt := scheduling.AppointmentInfo{ID: "ap1", State: scheduling.Booked, Slot: slot}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"roster: skills a list, supervisors marked", agent.Roster{RequestID: "r", At: at, Agents: []agent.Agent{
			{ID: "a1", Name: "Ana", Presence: agent.Available, Since: at, Active: 1, Capacity: 3, Roles: []agent.Role{agent.RoleAgent, agent.RoleSupervisor}},
		}}, `{"type":"agents","requestId":"r","agents":[{"agentId":"a1","name":"Ana","presence":"available","since":"2026-12-03T14:30:00.000Z","active":1,"capacity":3,"skills":[],"supervisor":true}],"at":"2026-12-03T14:30:00.000Z"}`},
		{"booked", agent.Booked{RequestID: "r", Appointment: appt},
			`{"type":"booked","requestId":"r","appointmentId":"ap1","start":"2026-12-03T14:30:00.000Z","provider":"Dr. Rivera","appointment":{"appointmentId":"ap1","state":"booked","slot":` + slotJSON + `}}`},
		{"survey", survey.Prompt{SurveyID: "sv1", Question: "How satisfied?", Min: 1, Max: 5, Comment: "Anything else?"},
			`{"type":"survey","surveyId":"sv1","question":"How satisfied?","scale":[1,5],"comment":"Anything else?"}`},
		{"task", survey.TaskOpened{Task: survey.Task{ID: "t1", SurveyID: "sv1", Reason: "low score", CSAT: 1, Queue: "billing", AgentName: "Lee", Kind: "conversation", CreatedAt: at}},
			`{"type":"task","task":{"taskId":"t1","surveyId":"sv1","reason":"low score","csat":1,"queue":"billing","agent":"Lee","kind":"conversation","createdAt":"2026-12-03T14:30:00Z"}}`},
		{"whisper: from a supervisor", agent.Whisper{ConversationID: "c1", From: "Sam", Text: "Offer the plan", At: at},
			`{"type":"whisper","conversationId":"c1","from":{"role":"supervisor","name":"Sam"},"text":"Offer the plan","at":"2026-12-03T14:30:00.000Z"}`},
		{"supervising", agent.Supervising{RequestID: "r", ConversationID: "c1", Action: agent.ActionBarge},
			`{"type":"supervising","requestId":"r","conversationId":"c1","action":"barge"}`},
		{"held", agent.Held{RequestID: "r", Conversations: []chat.Conversation{{ID: "c1", PatientName: "Ana", State: chat.StateClosed}}},
			`{"type":"conversations","requestId":"r","conversations":[{"conversationId":"c1","patient":{"name":"Ana"},"state":"closed"}]}`},
		{"patient view: handoff, transfer, notes; no appointments without scheduling", agent.PatientView{RequestID: "r",
			Conversation: chat.Conversation{ID: "c1", PatientName: "Ana", Locale: "es", Handoff: &chat.Handoff{Queue: "billing", Priority: "normal", Reason: "asked", Summary: "s"},
				Transfer: &chat.Transfer{By: "Lee", Reason: "needs a nurse", To: "nurse", At: at}},
			Notes: []chat.Note{{AgentName: "Lee", Text: "called back", At: at}}},
			`{"type":"context","requestId":"r","conversationId":"c1","patient":{"name":"Ana"},"locale":"es","identity":"anonymous","handoff":{"queue":"billing","priority":"normal","reason":"asked","summary":"s",` +
				`"transfer":{"by":"Lee","reason":"needs a nurse","to":"nurse","at":"2026-12-03T14:30:00.000Z"}},"transcript":[],"notes":[{"agent":"Lee","text":"called back","at":"2026-12-03T14:30:00.000Z"}]}`},
	} {
		b, err := Encode(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.name, b, err, tc.want)
		}
	}
}

// TestATakenSlotsErrorFrameOffersTheAlternatives: a conflict whose slot was
// taken carries the open slots instead; any other error carries none.
func TestATakenSlotsErrorFrameOffersTheAlternatives(t *testing.T) {
	alt := scheduling.SlotInfo{SlotID: "s2", ProviderName: "Dr. Rivera", Start: time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)}
	f := Error(&scheduling.Unavailable{Err: scheduling.ErrSlotTaken, Alternatives: []scheduling.SlotInfo{alt}}, "r")
	if f.Code != "conflict" || f.RequestID != "r" || len(f.Alternatives) != 1 || f.Alternatives[0].SlotID != "s2" || f.Alternatives[0].Start != "2026-12-04T15:00:00.000Z" {
		t.Fatalf("error frame %+v", f)
	}
	if f := Error(scheduling.ErrSlotTaken, "r"); f.Code != "conflict" || f.Alternatives != nil {
		t.Fatalf("a conflict without alternatives: %+v", f)
	}
}
