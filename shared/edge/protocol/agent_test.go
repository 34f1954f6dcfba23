package protocol

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/fault"
)

func TestDecodeAgent(t *testing.T) {
	for _, tc := range []struct {
		body, code, status, requestID string
	}{
		{`{"action":"presence","status":"available","requestId":"r1"}`, "", "available", "r1"},
		{`{"action":"presence","status":"offline"}`, "", "offline", ""},
		{`{"action":"presence","status":"lunch","requestId":"r2"}`, "bad_request", "", "r2"},
		{`{"action":"presence"}`, "bad_request", "", ""},
		{`{"action":"presence","status":3}`, "bad_request", "", ""},
		{`{"action":"take-over","requestId":"r3"}`, "bad_request", "", "r3"},
		{`{"requestId":"r4"}`, "bad_request", "", "r4"},
		{`{"action":7,"requestId":"r5"}`, "bad_request", "", "r5"},
		{`not json`, "bad_request", "", ""},
		{`{"action":"presence","status":"away","requestId":"` + strings.Repeat("x", 65) + `"}`, "bad_request", "", ""},
		{`{"action":"presence","status":"` + strings.Repeat("a", MaxFrameBytes) + `"}`, "too_large", "", ""},
		{`{"action":"accept","conversationId":"c1"}`, "", "", ""},
		{`{"action":"accept"}`, "bad_request", "", ""},
		{`{"action":"send","conversationId":"c1","clientMessageId":"a1","text":"hello"}`, "", "", ""},
		{`{"action":"send","conversationId":"c1","text":"hello"}`, "bad_request", "", ""},
		{`{"action":"send","conversationId":"c1","clientMessageId":"a1","text":"hello","echo":false}`, "", "", ""},
		{`{"action":"send","conversationId":"c1","clientMessageId":"a1","text":"hello","echo":0}`, "bad_request", "", ""},
		{`{"action":"send","conversationId":"c1","clientMessageId":"a1","text":"  "}`, "bad_request", "", ""},
		{`{"action":"close","conversationId":"c1","disposition":"resolved"}`, "", "", ""},
		{`{"action":"close","conversationId":"c1"}`, "bad_request", "", ""},
		{`{"action":"close","conversationId":"c1","disposition":"` + strings.Repeat("x", 101) + `"}`, "bad_request", "", ""},
		{`{"action":"transfer","conversationId":"c1","queue":"billing"}`, "", "", ""},
		{`{"action":"transfer","conversationId":"c1","queue":"no such/queue"}`, "bad_request", "", ""},
		{`{"action":"transfer","conversationId":"c1"}`, "bad_request", "", ""},
		{`{"action":"context","conversationId":"c1","reason":"quality review"}`, "", "", ""},
		{`{"action":"context","conversationId":"c1","reason":"` + strings.Repeat("x", 201) + `"}`, "bad_request", "", ""},
		{`{"action":"note","conversationId":"c1","text":"called back"}`, "", "", ""},
		{`{"action":"note","conversationId":"c1","text":""}`, "bad_request", "", ""},
		{`{"action":"queues","requestId":"q1"}`, "", "", "q1"},
		{`{"action":"conversations","requestId":"c1"}`, "", "", "c1"},
		{`{"action":"tasks"}`, "", "", ""},
		{`{"action":"visit","appointmentId":"ap0123456789abcdef01234567","outcome":"completed"}`, "", "", ""},
		{`{"action":"visit","appointmentId":"ap0123456789abcdef01234567","outcome":"great"}`, "bad_request", "", ""},
		{`{"action":"closeTask","taskId":"tk0123456789abcdef01234567"}`, "", "", ""},
		{`{"action":"closeTask","taskId":"x"}`, "bad_request", "", ""},
		{`{"action":"csat","weeks":4}`, "", "", ""},
		{`{"action":"csat","weeks":52}`, "bad_request", "", ""},
		{`{"action":"slots","specialty":"primary-care","from":"2026-12-01T00:00:00Z","to":"2026-12-08T00:00:00Z"}`, "", "", ""},
		{`{"action":"slots","providerId":"dr-lee","mode":"telehealth","from":"2026-12-01T00:00:00Z","to":"2026-12-08T00:00:00Z"}`, "", "", ""},
		{`{"action":"slots","from":"2026-12-08T00:00:00Z","to":"2026-12-01T00:00:00Z"}`, "bad_request", "", ""},
		{`{"action":"slots","from":"tomorrow","to":"2026-12-01T00:00:00Z"}`, "bad_request", "", ""},
		{`{"action":"slots","specialty":"Primary Care!","from":"2026-12-01T00:00:00Z","to":"2026-12-08T00:00:00Z"}`, "bad_request", "", ""},
		{`{"action":"book","conversationId":"c1","slotId":"dr-lee~follow-up~20261201T1300Z"}`, "", "", ""},
		{`{"action":"book","conversationId":"c1","slotId":"monday at nine"}`, "bad_request", "", ""},
		{`{"action":"book","slotId":"dr-lee~follow-up~20261201T1300Z"}`, "bad_request", "", ""},
		{`{"action":"cancel","appointmentId":"ap0123456789abcdef01234567"}`, "", "", ""},
		{`{"action":"cancel","appointmentId":"../etc"}`, "bad_request", "", ""},
		{`{"action":"reschedule","appointmentId":"ap0123456789abcdef01234567","slotId":"dr-lee~follow-up~20261201T1300Z"}`, "", "", ""},
		{`{"action":"reschedule","appointmentId":"ap0123456789abcdef01234567"}`, "bad_request", "", ""},
		{`{"action":"appointments","conversationId":"c1"}`, "", "", ""},
	} {
		f, err := DecodeAgent([]byte(tc.body))
		if string(fault.CodeOf(err)) != tc.code {
			t.Errorf("%.60s: err %v, want code %q", tc.body, err, tc.code)
		}
		if err == nil && f.Status != tc.status {
			t.Errorf("%.60s: status %q, want %q", tc.body, f.Status, tc.status)
		}
		if f.RequestID != tc.requestID {
			t.Errorf("%.60s: requestId %q, want %q (echoed in the error frame)", tc.body, f.RequestID, tc.requestID)
		}
	}
}

func FuzzDecodeAgent(f *testing.F) {
	for _, s := range []string{`{"action":"presence","status":"available"}`, `{"action":"presence","status":null}`, `{}`, `[]`, `"`,
		`{"action":"send","conversationId":"c","clientMessageId":"a","text":"hi"}`, `{"action":"close","conversationId":"c","disposition":"done"}`,
		`{"action":"slots","from":"2026-12-01T00:00:00Z","to":"2026-12-08T00:00:00Z"}`, `{"action":"book","conversationId":"c","slotId":"a~b~20261201T1300Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := DecodeAgent(body)
		if err != nil {
			if fault.CodeOf(err) == fault.Internal {
				t.Fatalf("decode error without a protocol code: %v", err)
			}
			return
		}
		switch fr.Action {
		case ActionPresence:
			switch fr.Status {
			case PresenceAvailable, PresenceBusy, PresenceAway, PresenceOffline:
			default:
				t.Fatalf("invalid presence accepted: %+v", fr)
			}
		case ActionAccept, ActionDecline, ActionTyping:
			if fr.ConversationID == "" {
				t.Fatalf("%s without a conversation accepted: %+v", fr.Action, fr)
			}
		case ActionSend:
			if fr.ConversationID == "" || fr.ClientMessageID == "" || strings.TrimSpace(fr.Text) == "" || utf8.RuneCountInString(fr.Text) > MaxTextRunes {
				t.Fatalf("invalid send accepted: %+v", fr)
			}
		case ActionClose:
			if fr.ConversationID == "" || fr.Disposition == "" || utf8.RuneCountInString(fr.Disposition) > MaxDispositionRunes {
				t.Fatalf("invalid close accepted: %+v", fr)
			}
		case ActionTransfer, ActionContext, ActionNote:
			if fr.ConversationID == "" {
				t.Fatalf("%s without a conversation accepted: %+v", fr.Action, fr)
			}
		case ActionQueues, ActionConversations, ActionTasks, ActionCSAT:
		case ActionCloseTask:
			if !taskIDPattern.MatchString(fr.TaskID) {
				t.Fatalf("invalid closeTask accepted: %+v", fr)
			}
		case ActionSlots:
			if fr.Slots == nil || !fr.Slots.To.After(fr.Slots.From) {
				t.Fatalf("invalid slots accepted: %+v", fr)
			}
		case ActionBook:
			if !slotIDPattern.MatchString(fr.SlotID) || fr.ConversationID == "" {
				t.Fatalf("invalid book accepted: %+v", fr)
			}
		case ActionReschedule:
			if !slotIDPattern.MatchString(fr.SlotID) || !appointmentIDPattern.MatchString(fr.AppointmentID) {
				t.Fatalf("invalid reschedule accepted: %+v", fr)
			}
		case ActionVisit:
			if !appointmentIDPattern.MatchString(fr.AppointmentID) || (fr.Outcome != "completed" && fr.Outcome != "no-show") {
				t.Fatalf("invalid visit accepted: %+v", fr)
			}
		case ActionCancel:
			if !appointmentIDPattern.MatchString(fr.AppointmentID) {
				t.Fatalf("invalid cancel accepted: %+v", fr)
			}
		case ActionAppointments:
			if fr.ConversationID == "" {
				t.Fatalf("appointments without a conversation accepted: %+v", fr)
			}
		default:
			t.Fatalf("unknown action accepted: %+v", fr)
		}
	})
}

// TestRescheduleReadsADeliberateChangeOfVisit: changeVisit is optional and
// a boolean; without it a reschedule keeps the kind of visit.
func TestRescheduleReadsADeliberateChangeOfVisit(t *testing.T) {
	base := `{"action":"reschedule","appointmentId":"ap0123456789abcdef01234567","slotId":"dr-lee~follow-up~20261204T1400Z"`
	for body, want := range map[string]bool{base + `}`: false, base + `,"changeVisit":false}`: false, base + `,"changeVisit":true}`: true} {
		f, err := DecodeAgent([]byte(body))
		if err != nil || f.ChangeVisit != want {
			t.Errorf("%s: changeVisit %v, %v; want %v", body, f.ChangeVisit, err, want)
		}
	}
	if _, err := DecodeAgent([]byte(base + `,"changeVisit":"yes"}`)); fault.CodeOf(err) != fault.BadRequest {
		t.Errorf("changeVisit \"yes\": %v, want bad_request", err)
	}
}

// TestTransferTakesAQueueOrANamedAgentAndAReason: a queue, or an agent
// with the queue optional; a reason of at most 200 characters.
func TestTransferTakesAQueueOrANamedAgentAndAReason(t *testing.T) {
	ok := []string{
		`{"action":"transfer","conversationId":"c-1","queue":"billing"}`,
		`{"action":"transfer","conversationId":"c-1","queue":"billing","reason":"Needs billing"}`,
		`{"action":"transfer","conversationId":"c-1","agentId":"a-2","reason":"Knows this account"}`,
	}
	for _, body := range ok {
		if _, err := DecodeAgent([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	f, _ := DecodeAgent([]byte(ok[2]))
	if f.AgentID != "a-2" || f.Reason != "Knows this account" || f.Queue != "" {
		t.Errorf("decoded %+v", f)
	}
	bad := []string{
		`{"action":"transfer","conversationId":"c-1"}`,
		`{"action":"transfer","conversationId":"c-1","queue":"billing","reason":"` + strings.Repeat("x", 201) + `"}`,
		`{"action":"transfer","conversationId":"c-1","agentId":"not an id!"}`,
	}
	for _, body := range bad {
		if _, err := DecodeAgent([]byte(body)); fault.CodeOf(err) != fault.BadRequest {
			t.Errorf("%.80s: %v, want bad_request", body, err)
		}
	}
}

// TestCloseTakesTheScriptStepsDone: a close may list the script steps done
// (at most 12, each 1 to 200 characters).
func TestCloseTakesTheScriptStepsDone(t *testing.T) {
	f, err := DecodeAgent([]byte(`{"action":"close","conversationId":"c-1","disposition":"resolved","steps":["Find the charge","Explain it"]}`))
	if err != nil || len(f.Steps) != 2 || f.Steps[1] != "Explain it" {
		t.Fatalf("decoded %+v, %v", f.Steps, err)
	}
	for _, steps := range []string{`"one"`, `[""]`, `[1]`, `["` + strings.Repeat("x", 201) + `"]`, `[` + strings.TrimSuffix(strings.Repeat(`"s",`, 13), ",") + `]`} {
		if _, err := DecodeAgent([]byte(`{"action":"close","conversationId":"c-1","disposition":"resolved","steps":` + steps + `}`)); fault.CodeOf(err) != fault.BadRequest {
			t.Errorf("steps %.40s: %v, want bad_request", steps, err)
		}
	}
}

// TestAgentActionsListsWhatTheDecoderKnows: every listed action is decoded
// (refused for its fields, perhaps, never as unknown), and a few that are
// not listed are unknown.
func TestAgentActionsListsWhatTheDecoderKnows(t *testing.T) {
	for _, a := range AgentActions() {
		if _, err := DecodeAgent([]byte(`{"action":"` + a + `"}`)); err != nil && strings.Contains(fault.MessageOf(err), "unknown action") {
			t.Errorf("%s is listed and unknown to the decoder", a)
		}
	}
	for _, a := range []string{"start", "resume", "survey", "listen", "eavesdrop"} {
		if _, err := DecodeAgent([]byte(`{"action":"` + a + `"}`)); err == nil || !strings.Contains(fault.MessageOf(err), "unknown action") {
			t.Errorf("%s is not listed, and the decoder took it: %v", a, err)
		}
	}
}
