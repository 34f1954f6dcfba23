package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/fault"
)

func TestDecodePatient(t *testing.T) {
	cases := []struct {
		name string
		body string
		code fault.Code // "" for a valid frame
		want ClientFrame
	}{
		{"start", `{"action":"start","name":" Ana ","topic":"billing","locale":"es-MX","requestId":"r1"}`, "", ClientFrame{Action: "start", Name: "Ana", Topic: "billing", Locale: "es", RequestID: "r1"}},
		{"start default locale", `{"action":"start","name":"Ana"}`, "", ClientFrame{Action: "start", Name: "Ana", Locale: "en"}},
		{"start unsupported locale", `{"action":"start","name":"Ana","locale":"fr"}`, fault.BadRequest, ClientFrame{}},
		{"start no name", `{"action":"start"}`, fault.BadRequest, ClientFrame{}},
		{"start long name", `{"action":"start","name":"` + strings.Repeat("x", 101) + `"}`, fault.TooLarge, ClientFrame{}},
		{"start long topic", `{"action":"start","name":"a","topic":"` + strings.Repeat("x", 501) + `"}`, fault.TooLarge, ClientFrame{}},
		{"resume empty", `{"action":"resume","after":""}`, "", ClientFrame{Action: "resume"}},
		{"resume after", `{"action":"resume","after":"m000000000012"}`, "", ClientFrame{Action: "resume", After: "m000000000012"}},
		{"resume bad after", `{"action":"resume","after":"m12"}`, fault.BadRequest, ClientFrame{}},
		{"send", `{"action":"send","conversationId":"c-1","clientMessageId":"u-1","text":"hi"}`, "", ClientFrame{Action: "send", ConversationID: "c-1", ClientMessageID: "u-1", Text: "hi"}},
		{"send without echo", `{"action":"send","conversationId":"c-1","clientMessageId":"u-1","text":"hi","echo":false}`, "", ClientFrame{Action: "send", ConversationID: "c-1", ClientMessageID: "u-1", Text: "hi", NoEcho: true}},
		{"send with echo", `{"action":"send","conversationId":"c-1","clientMessageId":"u-1","text":"hi","echo":true}`, "", ClientFrame{Action: "send", ConversationID: "c-1", ClientMessageID: "u-1", Text: "hi"}},
		{"send echo not a bool", `{"action":"send","conversationId":"c-1","clientMessageId":"u-1","text":"hi","echo":"no"}`, fault.BadRequest, ClientFrame{}},
		{"send 2000 runes", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"` + strings.Repeat("é", 2000) + `"}`, "", ClientFrame{Action: "send", ConversationID: "c", ClientMessageID: "u", Text: strings.Repeat("é", 2000)}},
		{"send 2001 runes", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"` + strings.Repeat("é", 2001) + `"}`, fault.TooLarge, ClientFrame{}},
		{"send blank", `{"action":"send","conversationId":"c","clientMessageId":"u","text":"  \n"}`, fault.BadRequest, ClientFrame{}},
		{"send bad client id", `{"action":"send","conversationId":"c","clientMessageId":"a b","text":"x"}`, fault.BadRequest, ClientFrame{}},
		{"send a server-made client id", `{"action":"send","conversationId":"c","clientMessageId":"agent#a1.1","text":"x"}`, fault.BadRequest, ClientFrame{}},
		{"send text not string", `{"action":"send","conversationId":"c","clientMessageId":"u","text":{"a":1}}`, fault.BadRequest, ClientFrame{}},
		{"typing", `{"action":"typing","conversationId":"c"}`, "", ClientFrame{Action: "typing", ConversationID: "c"}},
		{"end without id", `{"action":"end"}`, fault.BadRequest, ClientFrame{}},
		{"survey in chat", `{"action":"survey","surveyId":"sv0123456789abcdef01234567","score":4,"comment":" fine "}`, "", ClientFrame{Action: "survey", SurveyID: "sv0123456789abcdef01234567", Decision: "answer", Score: 4, Comment: "fine"}},
		{"survey by link", `{"action":"survey","token":"aa.bb.cc","decision":"view"}`, "", ClientFrame{Action: "survey", Token: "aa.bb.cc", Decision: "view"}},
		{"survey by link answer", `{"action":"survey","token":"aa.bb.cc","decision":"answer","score":2,"nps":7}`, "", ClientFrame{Action: "survey", Token: "aa.bb.cc", Decision: "answer", Score: 2, NPS: intp(7)}},
		{"survey no score", `{"action":"survey","surveyId":"sv0123456789abcdef01234567"}`, fault.BadRequest, ClientFrame{}},
		{"survey score text", `{"action":"survey","surveyId":"sv0123456789abcdef01234567","score":"five"}`, fault.BadRequest, ClientFrame{}},
		{"survey bad id", `{"action":"survey","surveyId":"../x","score":3}`, fault.BadRequest, ClientFrame{}},
		{"survey long comment", `{"action":"survey","surveyId":"sv0123456789abcdef01234567","score":3,"comment":"` + strings.Repeat("x", 1001) + `"}`, fault.TooLarge, ClientFrame{}},
		{"survey bad decision", `{"action":"survey","token":"aa.bb.cc","decision":"maybe"}`, fault.BadRequest, ClientFrame{}},
		{"appointment", `{"action":"appointment","token":"aa.bb.cc","decision":"confirm"}`, "", ClientFrame{Action: "appointment", Token: "aa.bb.cc", Decision: "confirm"}},
		{"appointment bad decision", `{"action":"appointment","token":"aa.bb.cc","decision":"maybe"}`, fault.BadRequest, ClientFrame{}},
		{"appointment bad token", `{"action":"appointment","token":"<script>","decision":"view"}`, fault.BadRequest, ClientFrame{}},
		{"appointment long token", `{"action":"appointment","token":"a.b.` + strings.Repeat("c", MaxLinkTokenBytes) + `","decision":"view"}`, fault.BadRequest, ClientFrame{}},
		{"sign in", `{"action":"signIn","conversationId":"c-1","idToken":"aa.bb.cc"}`, "", ClientFrame{Action: "signIn", ConversationID: "c-1", Token: "aa.bb.cc"}},
		{"sign in without token", `{"action":"signIn","conversationId":"c-1"}`, fault.BadRequest, ClientFrame{}},
		{"sign in without conversation", `{"action":"signIn","idToken":"aa.bb.cc"}`, fault.BadRequest, ClientFrame{}},
		{"sign in not a JWT", `{"action":"signIn","conversationId":"c-1","idToken":"<script>"}`, fault.BadRequest, ClientFrame{}},
		{"sign in long token", `{"action":"signIn","conversationId":"c-1","idToken":"a.b.` + strings.Repeat("c", MaxIDTokenBytes) + `"}`, fault.BadRequest, ClientFrame{}},
		{"no action", `{}`, fault.BadRequest, ClientFrame{}},
		{"unknown", `{"action":"dance"}`, fault.BadRequest, ClientFrame{}},
		{"not json", `hello`, fault.BadRequest, ClientFrame{}},
		{"array", `[1]`, fault.BadRequest, ClientFrame{}},
		{"too big", `{"action":"send","text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, fault.TooLarge, ClientFrame{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodePatient([]byte(tc.body))
			if got := fault.CodeOf(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if tc.code == "" && !reflect.DeepEqual(f, tc.want) {
				t.Fatalf("frame = %+v, want %+v", f, tc.want)
			}
		})
	}
}

func TestErrorFrameEchoesRequestIDAndHidesInternals(t *testing.T) {
	f, err := DecodePatient([]byte(`{"action":"send","requestId":"abc"}`))
	ef := NewErrorFrame(err, f.RequestID)
	if ef.Type != "error" || ef.Code != "bad_request" || ef.RequestID != "abc" || ef.Message == "" {
		t.Fatalf("error frame = %+v", ef)
	}
	internal := NewErrorFrame(json.Unmarshal([]byte("{"), &struct{}{}), "")
	if internal.Code != "internal" || internal.Message != "internal error" {
		t.Fatalf("internal error frame = %+v", internal)
	}
}

// TestFramesRefusedBeforeReadingStillEchoTheirRequestID: a frame with a
// key twice, a key in another case or over the size limit is refused
// before it is read, and its error still echoes the requestId (the exact
// key, on both APIs); a requestId too long to be one is not echoed.
func TestFramesRefusedBeforeReadingStillEchoTheirRequestID(t *testing.T) {
	big := `{"action":"send","conversationId":"c","clientMessageId":"u","requestId":"big","text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`
	for _, tc := range []struct{ body, code, want string }{
		{`{"action":"send","action":"send","conversationId":"c","clientMessageId":"u","text":"hi","requestId":"dupkey"}`, "bad_request", "dupkey"},
		{`{"action":"send","requestId":"k1","requestId":"k1"}`, "bad_request", "k1"},
		{`{"ACTION":"send","requestId":"e14"}`, "bad_request", "e14"},
		{`{"action":"send","Text":"hi","requestId":"case1"}`, "bad_request", "case1"},
		{`{"action":"send","Text":"hi","RequestId":"wrongcase"}`, "bad_request", ""},
		{`{"action":"send","Text":"hi","requestId":"` + strings.Repeat("r", MaxRequestIDRune+1) + `"}`, "bad_request", ""},
		{big, "too_large", "big"},
	} {
		for api, decode := range map[string]func([]byte) (string, error){
			"patient": func(b []byte) (string, error) { f, err := DecodePatient(b); return f.RequestID, err },
			"agent":   func(b []byte) (string, error) { f, err := DecodeAgent(b); return f.RequestID, err },
		} {
			id, err := decode([]byte(tc.body))
			if ef := NewErrorFrame(err, id); ef.Code != tc.code || ef.RequestID != tc.want {
				t.Errorf("%s %.60s: error frame %+v, want code %s echoing %q", api, tc.body, ef, tc.code, tc.want)
			}
		}
	}
}

// FuzzDecodePatient: any input decodes to a valid frame or a coded error,
// never a panic, and a valid frame respects every limit.
func FuzzDecodePatient(f *testing.F) {
	for _, s := range []string{
		`{"action":"start","name":"Ana","locale":"en"}`, `{"action":"send","conversationId":"c","clientMessageId":"u","text":"hi"}`,
		`{"action":"resume","after":"m000000000001"}`, `{"action":"end","conversationId":"c"}`, `{"action":null}`, `[]`, `"`, `{"text":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := DecodePatient(body)
		if err != nil {
			if fault.CodeOf(err) == fault.Internal {
				t.Fatalf("decode error without a protocol code: %v", err)
			}
			return
		}
		switch fr.Action {
		case ActionStart:
			if fr.Name == "" || utf8.RuneCountInString(fr.Name) > MaxNameRunes || (fr.Locale != "en" && fr.Locale != "es") {
				t.Fatalf("invalid start accepted: %+v", fr)
			}
		case ActionSend:
			if fr.ConversationID == "" || fr.ClientMessageID == "" || strings.TrimSpace(fr.Text) == "" || utf8.RuneCountInString(fr.Text) > MaxTextRunes {
				t.Fatalf("invalid send accepted: %+v", fr)
			}
		case ActionResume:
			if fr.After != "" && !IsMessageID(fr.After) {
				t.Fatalf("invalid resume accepted: %+v", fr)
			}
		case ActionTyping, ActionEnd:
			if fr.ConversationID == "" {
				t.Fatalf("invalid %s accepted: %+v", fr.Action, fr)
			}
		case ActionSurvey:
			if fr.Token == "" && !surveyIDPattern.MatchString(fr.SurveyID) || utf8.RuneCountInString(fr.Comment) > MaxCommentRunes {
				t.Fatalf("invalid survey frame accepted: %+v", fr)
			}
		case ActionAppointment:
			if !linkTokenPattern.MatchString(fr.Token) || len(fr.Token) > MaxLinkTokenBytes ||
				(fr.Decision != DecisionView && fr.Decision != DecisionConfirm && fr.Decision != DecisionCancel) {
				t.Fatalf("invalid appointment frame accepted: %+v", fr)
			}
		default:
			t.Fatalf("unknown action accepted: %+v", fr)
		}
	})
}

func BenchmarkDecodePatientSend(b *testing.B) {
	body := []byte(`{"action":"send","conversationId":"c-abcdefghijklmnop","clientMessageId":"0b6e2a8c-6d7e-4f1a-9c1e-2f0a4b5c6d7e","text":"I need to refill my blood pressure prescription, can you help?","requestId":"r-42"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePatient(body); err != nil {
			b.Fatal(err)
		}
	}
}

func intp(i int) *int { return &i }
