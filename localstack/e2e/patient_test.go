// Package e2e tests the patient chat end to end: real WebSocket clients
// against the local stack, which runs the real function binaries from the
// project's template against the AWS emulator.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/session"
)

var env *stacktest.Env

// The center is staffed around the clock in these tests, so handoffs do
// not depend on when they run (after-hours behaviour is unit-tested); agent
// tokens get 1s of clock skew, so the expiry test waits seconds, not 30;
// offers lapse after 3s, so the test of an unaccepted offer is quick.
func TestMain(m *testing.M) {
	// Time runs fast here: offers lapse after 3s, the nurse queue
	// overflows after 3s, and the routing sweep runs every second.
	stacktest.Main(m, &env, &stack.Options{ScheduleEvery: time.Second, Parameters: map[string]string{"BusinessHours": "mon-sun=00:00-24:00", "SmsQuietHours": "", "WaitlistHold": "10s",
		"BusinessClosures": "", "AgentTokenSkew": "1s", "OfferTimeout": "3s", "QueueOverflow": "nurse=3s>scheduling", "UrgentAlertAfter": "4s"}})
}

func awsCfg() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(env.Outputs.Emulator)}
}

// storedItem reads (strongly consistent) the item of a table, named by its
// logical id, whose key attribute is value, and decodes it; ok is false
// when there is none.
func storedItem[T any](t *testing.T, table, key, value string) (it T, ok bool) {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awsCfg()).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Outputs.Tables[table]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{key: &types.AttributeValueMemberS{Value: value}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) == 0 {
		return it, false
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		t.Fatal(err)
	}
	return it, true
}

// started is a patient connection with a conversation.
type started struct {
	c              *stacktest.Client
	session        string
	conversationID string
	patientID      string
}

func start(t *testing.T, name string) started {
	t.Helper()
	c := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	f := c.Request(map[string]any{"action": "start", "name": name, "topic": "billing question", "locale": "en"})
	if f["type"] != "session" {
		t.Fatalf("start answered %v", f)
	}
	s := started{c: c, session: f["session"].(string), conversationID: f["conversationId"].(string), patientID: f["patientId"].(string)}
	if s.session == "" || s.conversationID == "" || s.patientID == "" {
		t.Fatalf("session frame lacks ids: %v", f)
	}
	st := c.WaitType("status")
	if st["state"] != "bot" || st["conversationId"] != s.conversationID {
		t.Fatalf("status after start = %v", st)
	}
	// The tests share one stack: a conversation a test leaves waiting or
	// offered would be offered to a later test's agent first (it is
	// older), who ignores it and is set away. The patient ends it when the
	// test is over (before the connection closes; an ended one answers
	// conflict, which is fine).
	t.Cleanup(func() {
		c.TryRequest(map[string]any{"action": "end", "conversationId": s.conversationID}, 5*time.Second)
	})
	return s
}

func resumeURL(session string) string {
	return env.Outputs.PatientWebSocket + "?session=" + url.QueryEscape(session)
}

// send sends a message and returns its ack and its message frame.
func send(t *testing.T, c *stacktest.Client, conversationID, clientID, text string) (ack, msg map[string]any) {
	t.Helper()
	ack = c.Request(map[string]any{"action": "send", "conversationId": conversationID, "clientMessageId": clientID, "text": text})
	if ack["type"] != "ack" || ack["clientMessageId"] != clientID || ack["messageId"] == "" {
		t.Fatalf("send %s answered %v", clientID, ack)
	}
	msg, _ = c.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["messageId"] == ack["messageId"] })
	return ack, msg
}

// history resumes and returns the state and the messages of one role
// ("" for all), with their ids.
func history(t *testing.T, c *stacktest.Client, after, role string) (state string, texts []string, ids []string) {
	t.Helper()
	f := c.Request(map[string]any{"action": "resume", "after": after})
	if f["type"] != "history" {
		t.Fatalf("resume answered %v", f)
	}
	for _, m := range f["messages"].([]any) {
		mm := m.(map[string]any)
		if from := mm["from"].(map[string]any); role != "" && from["role"] != role {
			continue
		}
		texts = append(texts, mm["text"].(string))
		ids = append(ids, mm["messageId"].(string))
	}
	return f["state"].(string), texts, ids
}

func TestChatStartSendResendResume(t *testing.T) {
	p := start(t, "Ana")
	ack1, msg1 := send(t, p.c, p.conversationID, "cm-1", "Hello, I have a question about my bill")
	if from := msg1["from"].(map[string]any); from["role"] != "patient" || from["name"] != "Ana" {
		t.Fatalf("message from = %v", from)
	}
	if msg1["text"] != "Hello, I have a question about my bill" || msg1["at"] == "" {
		t.Fatalf("message frame = %v", msg1)
	}

	// A resend of the same clientMessageId is acknowledged with the same
	// id and stores nothing new.
	again := p.c.Request(map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "cm-1", "text": "Hello, I have a question about my bill"})
	if again["type"] != "ack" || again["messageId"] != ack1["messageId"] {
		t.Fatalf("resend answered %v, first ack %v", again, ack1)
	}
	ack2, _ := send(t, p.c, p.conversationID, "cm-2", "second")
	if ack2["messageId"].(string) <= ack1["messageId"].(string) {
		t.Fatalf("message ids not increasing: %v then %v", ack1["messageId"], ack2["messageId"])
	}
	p.c.Close()

	// Another connection of the same session sends while the first is away.
	other := stacktest.Dial(t, resumeURL(p.session))
	send(t, other, p.conversationID, "cm-3", "third")
	send(t, other, p.conversationID, "cm-4", "fourth")
	other.Close()

	// The first device comes back and gets exactly what it missed, in order.
	back := stacktest.Dial(t, resumeURL(p.session))
	state, texts, _ := history(t, back, ack2["messageId"].(string), "patient")
	// The bot answers each message meanwhile and may hand off: either state is right.
	if (state != "bot" && state != "waiting") || strings.Join(texts, "|") != "third|fourth" {
		t.Fatalf("resume after %v = %s %q", ack2["messageId"], state, texts)
	}
	_, all, ids := history(t, back, "", "patient")
	if strings.Join(all, "|") != "Hello, I have a question about my bill|second|third|fourth" {
		t.Fatalf("full history = %q", all)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("history out of order: %v", ids)
		}
	}
}

func TestBadInputGetsErrorFrameAndStoresNothing(t *testing.T) {
	p := start(t, "Ben")
	other := start(t, "Cleo")
	send(t, p.c, p.conversationID, "ok-1", "first")

	long := strings.Repeat("a", 2001)
	cases := []struct {
		name  string
		frame any
		code  string
	}{
		{"invalid JSON", `{"action":"send",`, "bad_request"},
		{"not an object", `[1,2,3]`, "bad_request"},
		{"unknown action", map[string]any{"action": "dance", "requestId": "x1"}, "bad_request"},
		{"missing text", map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "b-1", "requestId": "x2"}, "bad_request"},
		{"missing clientMessageId", map[string]any{"action": "send", "conversationId": p.conversationID, "text": "hi", "requestId": "x3"}, "bad_request"},
		{"missing conversationId", map[string]any{"action": "send", "clientMessageId": "b-2", "text": "hi", "requestId": "x4"}, "bad_request"},
		{"text is a number", map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "b-3", "text": 42, "requestId": "x5"}, "bad_request"},
		{"text over the limit", map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "b-4", "text": long, "requestId": "x6"}, "too_large"},
		{"someone else's conversation", map[string]any{"action": "send", "conversationId": other.conversationID, "clientMessageId": "b-5", "text": "hi", "requestId": "x7"}, "forbidden"},
		{"start without a name", map[string]any{"action": "start", "name": " ", "requestId": "x8"}, "bad_request"},
		{"resume after a bad id", map[string]any{"action": "resume", "after": "zzz", "requestId": "x9"}, "bad_request"},
		{"end someone else's conversation", map[string]any{"action": "end", "conversationId": other.conversationID, "requestId": "x10"}, "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p.c.Send(tc.frame)
			f := p.c.WaitType("error")
			if f["code"] != tc.code || f["message"] == "" {
				t.Fatalf("error frame = %v, want code %s", f, tc.code)
			}
			if m, ok := tc.frame.(map[string]any); ok && f["requestId"] != m["requestId"] {
				t.Fatalf("error frame does not echo requestId: %v", f)
			}
		})
	}
	// The connection stayed open and nothing was stored.
	_, texts, _ := history(t, p.c, "", "patient")
	if strings.Join(texts, "|") != "first" {
		t.Fatalf("history after bad input = %q", texts)
	}
	_, otherTexts, _ := history(t, other.c, "", "patient")
	if len(otherTexts) != 0 {
		t.Fatalf("the other patient's conversation got %q", otherTexts)
	}
	// Without a conversation, resume is unauthorized.
	fresh := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	if f := fresh.Request(map[string]any{"action": "resume", "after": ""}); f["type"] != "error" || f["code"] != "unauthorized" {
		t.Fatalf("resume without a session = %v", f)
	}
}

func TestBadSessionTokenFailsHandshake(t *testing.T) {
	p := start(t, "Dana")
	key := sessionKey(t)
	expired, err := session.New(key, time.Minute, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	expiredToken, _, err := expired.Issue(p.patientID, p.conversationID)
	if err != nil {
		t.Fatal(err)
	}
	forger, _ := session.New([]byte(strings.Repeat("k", 64)), time.Hour, time.Now)
	forged, _, _ := forger.Issue(p.patientID, p.conversationID)
	tampered := p.session[:len(p.session)-4] + "AAAA"

	for name, token := range map[string]string{"garbage": "not-a-token", "expired": expiredToken, "forged": forged, "tampered": tampered} {
		t.Run(name, func(t *testing.T) {
			_, resp, err := stacktest.DialErr(t, resumeURL(token))
			if err == nil {
				t.Fatal("handshake succeeded with a bad session token")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("handshake answer = %v, want 401", resp)
			}
		})
	}
	// The real token still works.
	c := stacktest.Dial(t, resumeURL(p.session))
	if state, _, _ := history(t, c, "", ""); state != "bot" {
		t.Fatalf("state = %s", state)
	}
}

// sessionKey reads the session signing key the stack generated.
func sessionKey(t *testing.T) []byte {
	t.Helper()
	sm := secretsmanager.NewFromConfig(awsCfg())
	list, err := sm.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.SecretList {
		if strings.HasSuffix(aws.ToString(s.Name), "SessionSecret") {
			v, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: s.ARN})
			if err != nil {
				t.Fatal(err)
			}
			return []byte(aws.ToString(v.SecretString))
		}
	}
	t.Fatal("no session secret in the emulator")
	return nil
}

func TestTypingReachesOtherConnectionsOnly(t *testing.T) {
	p := start(t, "Eli")
	second := stacktest.Dial(t, resumeURL(p.session))
	history(t, second, "", "") // bound and ready
	p.c.Send(map[string]any{"action": "typing", "conversationId": p.conversationID})
	f := second.WaitType("typing")
	if f["conversationId"] != p.conversationID || f["role"] != "patient" {
		t.Fatalf("typing frame = %v", f)
	}
	// The sender gets no typing frame of its own: the next frame it sees
	// is the answer to its next request.
	ack, _ := send(t, p.c, p.conversationID, "t-1", "after typing")
	_ = ack
}

func TestEndClosesTheConversation(t *testing.T) {
	p := start(t, "Fay")
	// Not "bye": the bot closes a conversation it is told goodbye in,
	// and that could come before the end.
	first, _ := send(t, p.c, p.conversationID, "e-1", "one more thing")
	f := p.c.Request(map[string]any{"action": "end", "conversationId": p.conversationID})
	if f["type"] != "status" || f["state"] != "closed" {
		t.Fatalf("end answered %v", f)
	}
	// The resend of a message stored before the end (its ack lost) is
	// acknowledged again; a new one is refused.
	if f := p.c.Request(map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "e-1", "text": "one more thing"}); f["type"] != "ack" || f["messageId"] != first["messageId"] {
		t.Fatalf("resend after end = %v, first ack %v", f, first)
	}
	if f := p.c.Request(map[string]any{"action": "send", "conversationId": p.conversationID, "clientMessageId": "e-2", "text": "more"}); f["code"] != "conflict" {
		t.Fatalf("send after end = %v", f)
	}
	if f := p.c.Request(map[string]any{"action": "end", "conversationId": p.conversationID}); f["code"] != "conflict" {
		t.Fatalf("second end = %v", f)
	}
	// A new conversation on the same connection keeps the patient.
	f = p.c.Request(map[string]any{"action": "start", "name": "Fay"})
	if f["type"] != "session" || f["patientId"] != p.patientID || f["conversationId"] == p.conversationID {
		t.Fatalf("second start = %v", f)
	}
}

func TestPushToGoneConnectionRemovesIt(t *testing.T) {
	p := start(t, "Gus")
	// A connection record whose socket is gone (its $disconnect was lost an
	// hour ago).
	db := dynamodb.NewFromConfig(awsCfg())
	table := env.Outputs.Tables["ConnectionsTable"]
	stale := fmt.Sprintf("stale%d", time.Now().UnixNano())
	item, _ := attributevalue.MarshalMap(map[string]any{
		"connectionId": stale, "role": "patient", "patientId": p.patientID, "conversationId": p.conversationID,
		"connectedAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano), "expiresAt": time.Now().Add(time.Hour).Unix(),
	})
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
	send(t, p.c, p.conversationID, "g-1", "hello")
	// The broadcast of that message met the stale connection's 410 and
	// deletes its record; wait for that (bounded), don't guess a delay.
	key := map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: stale}}
	stacktest.Eventually(t, 10*time.Second, "the gone connection's record is deleted", func() bool {
		out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item == nil
	})
}

func TestRateLimit(t *testing.T) {
	p := start(t, "Hal")
	// 30 frames per 10 s window per connection (infra/params/dev.json);
	// start used one. 70 frames: even a burst that a busy stack spreads
	// over a window's end (two windows, 60 frames) meets the limit.
	for i := 0; i < 70; i++ {
		p.c.Send(map[string]any{"action": "typing", "conversationId": p.conversationID})
	}
	f := p.c.WaitType("error")
	if f["code"] != "rate_limited" {
		t.Fatalf("error = %v", f)
	}
}

// TestStartFloodOnOneConnectionIsCapped: one connection starts three
// conversations at most; the fourth start is rate_limited and writes no
// conversation (issue 16).
func TestStartFloodOnOneConnectionIsCapped(t *testing.T) {
	c := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	var ids []string
	for i := 0; i < 3; i++ {
		f := c.Request(map[string]any{"action": "start", "name": "Flo", "locale": "en"})
		if f["type"] != "session" {
			t.Fatalf("start %d answered %v", i+1, f)
		}
		ids = append(ids, f["conversationId"].(string))
	}
	f := c.Request(map[string]any{"action": "start", "name": "Flo", "locale": "en"})
	if f["type"] != "error" || f["code"] != "rate_limited" {
		t.Fatalf("a fourth start answered %v, want rate_limited", f)
	}
	out, err := dynamodb.NewFromConfig(awsCfg()).Scan(context.Background(), &dynamodb.ScanInput{
		TableName: aws.String(env.Outputs.Tables["ConversationsTable"]), FilterExpression: aws.String("patientId = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: patientOf(t, ids[0])}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 3 {
		t.Fatalf("%d conversations stored for the flooding connection, want 3", len(out.Items))
	}
}

// patientOf reads a conversation's patient id.
func patientOf(t *testing.T, conversationID string) string {
	t.Helper()
	c, _ := storedItem[struct {
		PatientID *string `dynamodbav:"patientId"`
	}](t, "ConversationsTable", "conversationId", conversationID)
	if c.PatientID == nil {
		t.Fatalf("conversation %s has no patient", conversationID)
	}
	return *c.PatientID
}
