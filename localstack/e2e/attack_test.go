package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/localstack/stacktest"
)

// TestAttackSuite probes the running system as an attacker would, with
// real WebSocket clients: forged and borrowed tokens, other people's ids,
// case-variant and duplicate keys, malformed, oversized and nested frames,
// control characters, floods, tampered links. Every probe carries a canary
// string; each must be refused, and afterwards no table holds the canary
// and no line the stack wrote (functions, emulator, gateway) does.
func TestAttackSuite(t *testing.T) {
	if env.Logs == nil {
		t.Skip("the stack runs in another process: its logs cannot be watched")
	}
	canary := fmt.Sprintf("canary%x", time.Now().UnixNano())
	env.Logs.Add(canary)
	var probes, refusals int
	// probe runs one attack: refused says whether it was refused as it must.
	probe := func(name string, refused bool, got any) {
		t.Helper()
		probes++
		if refused {
			refusals++
		} else {
			t.Errorf("probe %q was not refused: %v", name, got)
		}
	}
	// frame sends a raw frame on a fresh connection (after start, when
	// started) and returns the error code it got.
	errorOf := func(c *stacktest.Client, raw string) string {
		t.Helper()
		c.Send(raw)
		f, _ := c.Wait(func(f map[string]any) bool { return f["type"] == "error" || f["message"] != nil })
		if code, ok := f["code"].(string); ok {
			return code
		}
		return fmt.Sprint(f["message"])
	}
	patient := start(t, "Pat Probe")
	other := start(t, "Olga Other")

	// Patient frames: each must be refused with the right code.
	for _, p := range []struct{ name, raw, code string }{
		{"unknown action carrying client text", `{"action":"` + canary + `"}`, "bad_request"},
		{"case-variant action key", `{"action":"resume","ACTION":"start","name":"` + canary + `"}`, "bad_request"},
		{"case-variant field key", `{"action":"start","NAME":"` + canary + `"}`, "bad_request"},
		{"duplicate keys", `{"action":"start","name":"` + canary + `","name":"Ana"}`, "bad_request"},
		{"malformed JSON", `{"action":"start","name":"` + canary + `"`, "bad_request"},
		{"a second JSON value", `{"action":"typing","conversationId":"c"} {"name":"` + canary + `"}`, "bad_request"},
		{"deeply nested value", `{"action":"start","name":` + strings.Repeat("[", 2000) + `"` + canary + `"` + strings.Repeat("]", 2000) + `}`, "bad_request"},
		{"control character in a name", `{"action":"start","name":"` + canary + `\u0007"}`, "bad_request"},
		{"right-to-left override in a name", "{\"action\":\"start\",\"name\":\"\u202e" + canary + "\"}", "bad_request"},
		{"escape sequence in a message", `{"action":"send","conversationId":"` + patient.conversationID + `","clientMessageId":"x1","text":"` + canary + `\u001b[2J"}`, "bad_request"},
		{"message over the limit", `{"action":"send","conversationId":"` + patient.conversationID + `","clientMessageId":"x2","text":"` + canary + strings.Repeat("x", 2100) + `"}`, "too_large"},
		{"another patient's conversation", `{"action":"send","conversationId":"` + other.conversationID + `","clientMessageId":"x3","text":"` + canary + `"}`, "forbidden"},
		{"ending another patient's conversation", `{"action":"end","conversationId":"` + other.conversationID + `","requestId":"` + canary + `"}`, "forbidden"},
		{"a made-up survey", `{"action":"survey","surveyId":"sv0123456789abcdef01234567","score":1,"comment":"` + canary + `"}`, "not_found"},
	} {
		code := errorOf(patient.c, p.raw)
		probe(p.name, code == p.code, code)
	}
	// Frames on a connection with no conversation.
	bare := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	code := errorOf(bare, `{"action":"send","conversationId":"`+patient.conversationID+`","clientMessageId":"x4","text":"`+canary+`"}`)
	probe("sending without a session", code == "unauthorized", code)
	code = errorOf(bare, `{"action":"resume","after":""}`)
	probe("resuming without a session", code == "unauthorized", code)

	// Handshakes with bad session tokens: refused before a connection exists.
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+canary+`","cid":"`+patient.conversationID+`"}`)) + "."
	tampered := patient.session[:len(patient.session)-4] + "AAAA"
	for name, tok := range map[string]string{"alg none session": forged, "tampered session": tampered, "garbage session": canary} {
		_, resp, err := stacktest.DialErr(t, env.Outputs.PatientWebSocket+"?session="+url.QueryEscape(tok))
		probe(name, err != nil && resp != nil && resp.StatusCode == http.StatusUnauthorized, resp)
	}
	// Agent API: no token, a patient's token, client text as a token.
	for name, tok := range map[string]string{"patient token on the agent API": patient.session, "garbage agent token": canary, "alg none agent token": forged} {
		_, resp, err := stacktest.DialErr(t, env.Outputs.AgentWebSocket+"?token="+url.QueryEscape(tok))
		probe(name, err != nil && resp != nil && resp.StatusCode == http.StatusUnauthorized, resp)
	}
	// An agent acting on conversations that are not theirs, and agent
	// frames with the same tricks.
	console, _ := poolAgent(t, fmt.Sprintf("probe%d", time.Now().UnixNano()), "billing", "en", 2)
	for _, p := range []struct{ name, raw, code string }{
		{"accepting a conversation not offered", `{"action":"accept","conversationId":"` + other.conversationID + `"}`, "conflict"},
		{"reading a patient view not held", `{"action":"context","conversationId":"` + other.conversationID + `"}`, "forbidden"},
		{"writing into a conversation not held", `{"action":"send","conversationId":"` + other.conversationID + `","clientMessageId":"a1","text":"` + canary + `"}`, "forbidden"},
		{"a note on a conversation not held", `{"action":"note","conversationId":"` + other.conversationID + `","text":"` + canary + `"}`, "forbidden"},
		{"case-variant agent action", `{"action":"queues","Action":"close","conversationId":"` + canary + `"}`, "bad_request"},
		{"unknown agent action", `{"action":"` + canary + `"}`, "bad_request"},
		{"control character in a note", `{"action":"note","conversationId":"` + other.conversationID + `","text":"` + canary + `\u0000"}`, "bad_request"},
	} {
		code := errorOf(console, p.raw)
		probe(p.name, code == p.code, code)
	}
	// Links: tampered and made up.
	link := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	for name, tok := range map[string]string{
		"made-up appointment link":  "a." + canary + ".b",
		"alg none appointment link": strings.TrimSuffix(forged, ".") + ".x",
	} {
		code := errorOf(link, `{"action":"appointment","token":"`+tok+`","decision":"cancel"}`)
		probe(name, code == "unauthorized" || code == "bad_request", code)
	}
	code = errorOf(link, `{"action":"survey","token":"a.`+canary+`.b","decision":"answer","score":1,"comment":"`+canary+`"}`)
	probe("made-up survey link", code == "unauthorized", code)
	// A flood of starts on one connection (its refusal's log line, which
	// names the code, is also how the end of the suite knows the stack has
	// written its logs this far).
	refusedLine := `"code":"rate_limited"`
	env.Logs.Add(refusedLine)
	flood := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	var last map[string]any
	for i := 0; i < 4; i++ {
		last = flood.Request(map[string]any{"action": "start", "name": "Flo " + fmt.Sprint(i), "topic": canary})
	}
	probe("a fourth start on one connection", last["code"] == "rate_limited", last)

	// Nothing stored holds the canary, except what a patient may legitimately
	// send: the three conversations the flood was allowed (their topic).
	allowed := 3
	for logical, table := range env.Outputs.Tables {
		p := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(awsCfg()), &dynamodb.ScanInput{TableName: &table})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, item := range page.Items {
				var m map[string]any
				if err := attributevalue.UnmarshalMap(item, &m); err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(m)
				if strings.Contains(string(b), canary) {
					if logical == "ConversationsTable" && m["topic"] == canary && allowed > 0 {
						allowed--
						continue
					}
					t.Errorf("a refused probe left the canary in %s: %s", logical, b)
				}
			}
		}
	}
	stacktest.Eventually(t, 10*time.Second, "the flood's refusal in the logs", func() bool { return env.Logs.Seen(refusedLine) })
	if env.Logs.Seen(canary) {
		t.Errorf("client text (the canary %s) reached a log line the stack wrote", canary)
	}
	t.Logf("attack suite: %d probes, %d refused as they must be; canary in a log: %v", probes, refusals, env.Logs.Seen(canary))
	if refusals != probes {
		t.Fatalf("%d of %d probes were not refused", probes-refusals, probes)
	}
}
