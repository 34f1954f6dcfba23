package ddb_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"pgregory.net/rapid"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

var env *stacktest.Env

// The adapters run against the emulator, on tables made from the
// project's template.
func TestMain(m *testing.M) { stacktest.Main(m, &env, &stack.Options{ResourcesOnly: true}) }

func stores() (*ddb.Conversations, *ddb.Connections) {
	db := dynamodb.NewFromConfig(env.Stack.AWSConfig())
	t := env.Outputs.Tables
	return ddb.NewConversations(db, t["ConversationsTable"], t["MessagesTable"]),
		ddb.NewConnections(db, t["ConnectionsTable"], ddb.RateLimit{Frames: 3, Window: time.Minute})
}

var seq int

func newConversation(t testing.TB, convs *ddb.Conversations) chat.Conversation {
	t.Helper()
	seq++
	now := time.Now()
	c := chat.Conversation{ID: fmt.Sprintf("c-%d-%d", now.UnixNano(), seq), PatientID: "p", PatientName: "Ana", Locale: "en", State: chat.StateBot, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := convs.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConcurrentAppendsNeverLoseOrDuplicate: writers race on one
// conversation, each resending some of its messages; every distinct
// client message is stored exactly once, sequence numbers have no gaps,
// and each writer's messages keep its order.
func TestConcurrentAppendsNeverLoseOrDuplicate(t *testing.T) {
	convs, _ := stores()
	rapid.Check(t, func(rt *rapid.T) {
		c := newConversation(t, convs)
		writers := rapid.IntRange(1, 4).Draw(rt, "writers")
		plans := make([][]string, writers)
		for w := range plans {
			n := rapid.IntRange(1, 6).Draw(rt, fmt.Sprintf("messages%d", w))
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				plans[w] = append(plans[w], id)
				if rapid.Bool().Draw(rt, fmt.Sprintf("resend%d-%d", w, i)) {
					plans[w] = append(plans[w], id) // a resend after a lost ack
				}
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for _, plan := range plans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, id := range plan {
					if _, _, err := convs.Append(context.Background(), chat.Message{ConversationID: c.ID, ClientMessageID: id, Role: chat.RolePatient, Text: "text of " + id, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			rt.Fatalf("append: %v", err)
		}
		msgs, err := convs.After(context.Background(), c.ID, "")
		if err != nil {
			rt.Fatal(err)
		}
		seen := map[string]bool{}
		lastOf := map[byte]int{}
		for i, m := range msgs {
			if m.Seq != int64(i+1) || m.ID != chat.MessageID(m.Seq) {
				rt.Fatalf("message %d has seq %d id %s", i, m.Seq, m.ID)
			}
			if seen[m.ClientMessageID] {
				rt.Fatalf("client message %s stored twice", m.ClientMessageID)
			}
			seen[m.ClientMessageID] = true
			var w, k int
			fmt.Sscanf(m.ClientMessageID, "w%d-%d", &w, &k)
			if prev, ok := lastOf[byte(w)]; ok && k <= prev {
				rt.Fatalf("writer %d's messages out of order: %v", w, msgs)
			}
			lastOf[byte(w)] = k
		}
		for _, plan := range plans {
			for _, id := range plan {
				if !seen[id] {
					rt.Fatalf("client message %s lost", id)
				}
			}
		}
	})
}

// TestCloseRacingAppendsEndsTheSequence: writers append while the patient
// ends the conversation (or the bot closes it). Every append that
// succeeded is stored, in one gapless sequence, and nothing is stored
// after the close: an append that lost the race is refused, and so is any
// append once the close has returned.
func TestCloseRacingAppendsEndsTheSequence(t *testing.T) {
	convs, _ := stores()
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		c := newConversation(t, convs)
		writers := rapid.IntRange(1, 3).Draw(rt, "writers")
		per := rapid.IntRange(1, 5).Draw(rt, "messages")
		byBot := rapid.Bool().Draw(rt, "bot closes")
		var mu sync.Mutex
		stored := map[string]bool{}
		errs := make(chan error, writers*per)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					id := fmt.Sprintf("w%d-%d", w, i)
					_, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: id, Role: chat.RolePatient, Text: id, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
					if err == nil {
						mu.Lock()
						stored[id] = true
						mu.Unlock()
					} else if !fault.Is(err, fault.Conflict) {
						errs <- fmt.Errorf("append %s: %w", id, err)
					}
				}
			}()
		}
		var err error
		if byBot {
			_, _, err = convs.AppendTurn(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "bot-close", Role: chat.RoleBot, Text: "bye", At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
				chat.Change{BotState: "{}", Close: true})
			mu.Lock()
			stored["bot-close"] = err == nil
			mu.Unlock()
		} else {
			_, err = convs.Close(ctx, c.ID, time.Now())
		}
		if err != nil {
			rt.Fatalf("closing: %v", err)
		}
		if _, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "late", Text: "late", At: time.Now()}); !fault.Is(err, fault.Conflict) {
			rt.Fatalf("append after the close: %v", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			rt.Fatal(err)
		}
		msgs, err := convs.After(ctx, c.ID, "")
		if err != nil {
			rt.Fatal(err)
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				rt.Fatalf("message %d has seq %d", i, m.Seq)
			}
			if !stored[m.ClientMessageID] {
				rt.Fatalf("%s is stored but its append was refused", m.ClientMessageID)
			}
			delete(stored, m.ClientMessageID)
		}
		for id, ok := range stored {
			if ok {
				rt.Fatalf("%s was acknowledged but is not stored", id)
			}
		}
		if byBot && (len(msgs) == 0 || msgs[len(msgs)-1].ClientMessageID != "bot-close") {
			rt.Fatalf("the bot's closing reply is not the last message: %+v", msgs)
		}
		if _, err := convs.Close(ctx, c.ID, time.Now()); !fault.Is(err, fault.Conflict) {
			rt.Fatalf("closing twice: %v", err)
		}
	})
}

// TestHistoryHoldsOnlyMessages: a resume, from the start or after a
// message, returns the messages and never an agent's private note or a
// dedupe item kept beside them.
func TestHistoryHoldsOnlyMessages(t *testing.T) {
	convs, _ := stores()
	ctx := context.Background()
	c := newConversation(t, convs)
	var ids []string
	for _, id := range []string{"u1", "u2", "u3"} {
		m, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: id, Role: chat.RolePatient, Text: id, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if err := convs.AddNote(ctx, chat.Note{ConversationID: c.ID, AgentID: "a1", AgentName: "Ana", Text: "private: called the patient back", At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, after := range []string{"", ids[0], ids[2]} {
		msgs, err := convs.After(ctx, c.ID, after)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range msgs {
			texts = append(texts, m.Text)
		}
		want := map[string]string{"": "u1|u2|u3", ids[0]: "u2|u3", ids[2]: ""}[after]
		if strings.Join(texts, "|") != want {
			t.Fatalf("after %q: %q, want %q", after, texts, want)
		}
	}
	if _, err := convs.After(ctx, c.ID, "n#x"); !fault.Is(err, fault.BadRequest) {
		t.Fatalf("after a note's key: %v", err)
	}
}

func TestResendReturnsTheStoredMessage(t *testing.T) {
	convs, _ := stores()
	c := newConversation(t, convs)
	m := chat.Message{ConversationID: c.ID, ClientMessageID: "u1", Role: chat.RolePatient, Text: "hi", At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	first, dup, err := convs.Append(context.Background(), m)
	if err != nil || dup {
		t.Fatalf("first append: %v dup=%v", err, dup)
	}
	again, dup, err := convs.Append(context.Background(), m)
	if err != nil || !dup || again.ID != first.ID || again.Text != "hi" {
		t.Fatalf("resend: %+v dup=%v err=%v", again, dup, err)
	}
	after, err := convs.After(context.Background(), c.ID, first.ID)
	if err != nil || len(after) != 0 {
		t.Fatalf("after the only message: %v %v", after, err)
	}
	if _, err := convs.Close(context.Background(), c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := convs.Append(context.Background(), chat.Message{ConversationID: c.ID, ClientMessageID: "u2", Text: "late", At: time.Now()}); !fault.Is(err, fault.Conflict) {
		t.Fatalf("append to a closed conversation: %v", err)
	}
	if _, err := convs.Get(context.Background(), "nope"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestConnectionsRateLimitAndFanOut(t *testing.T) {
	_, conns := stores()
	ctx := context.Background()
	now := time.Now()
	id := fmt.Sprintf("k%d", now.UnixNano())
	if err := conns.Put(ctx, chat.Connection{ID: id, Role: chat.RolePatient, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := conns.Admit(ctx, id, now); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if _, err := conns.Admit(ctx, id, now); !fault.Is(err, fault.RateLimited) {
		t.Fatalf("4th frame in the window: %v", err)
	}
	if _, err := conns.Admit(ctx, id, now.Add(time.Minute)); err != nil {
		t.Fatalf("first frame of the next window: %v", err)
	}
	if err := conns.Bind(ctx, id, "p1", "conv-"+id); err != nil {
		t.Fatal(err)
	}
	list, err := conns.ForConversation(ctx, "conv-"+id)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].PatientID != "p1" {
		t.Fatalf("fan-out list: %+v %v", list, err)
	}
	if err := conns.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := conns.Admit(ctx, id, now); !fault.Is(err, fault.NotFound) {
		t.Fatalf("admit a deleted connection: %v", err)
	}
	if err := conns.Bind(ctx, id, "p", "c"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("bind a deleted connection: %v", err)
	}
}

// TestTurnsAnswerEachMessageOnce: the greeting and each patient message
// get one reply; a redelivered turn gets its stored reply back, and a turn
// for a message before the last one answered stores nothing.
func TestTurnsAnswerEachMessageOnce(t *testing.T) {
	convs, _ := stores()
	ctx := context.Background()
	c := newConversation(t, convs)
	turn := func(answers, text string) (chat.Message, bool, error) {
		return convs.AppendTurn(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "bot-" + answers, Role: chat.RoleBot, Text: text, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
			chat.Change{BotState: "{}", Answers: answers})
	}
	patient := func(id string) chat.Message {
		m, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: id, Role: chat.RolePatient, Text: id, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	greeting, dup, err := turn("", "Hello")
	if err != nil || dup || greeting.Seq != 1 {
		t.Fatalf("greeting: %+v %v %v", greeting, dup, err)
	}
	if again, dup, err := turn("", "Hello"); err != nil || !dup || again.ID != greeting.ID {
		t.Fatalf("greeting again: %+v %v %v", again, dup, err)
	}
	m1 := patient("u1")
	r1, dup, err := turn(m1.ID, "Answer one")
	if err != nil || dup {
		t.Fatalf("answer one: %v %v", dup, err)
	}
	if again, dup, err := turn(m1.ID, "Answer one"); err != nil || !dup || again.ID != r1.ID || again.Text != "Answer one" {
		t.Fatalf("answer one again: %+v %v %v", again, dup, err)
	}
	m2 := patient("u2")
	if _, _, err := turn(m2.ID, "Answer two"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := turn(m1.ID, "Answer one, late"); !fault.Is(err, fault.Conflict) {
		t.Fatalf("a turn for an earlier message after a later one: %v", err)
	}
	msgs, err := convs.After(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, "|") != "Hello|u1|Answer one|u2|Answer two" {
		t.Fatalf("conversation = %q", texts)
	}
}

func TestAppendTurnStoresReplyStateAndHandoffOnce(t *testing.T) {
	convs, _ := stores()
	ctx := context.Background()
	c := newConversation(t, convs)
	reply := chat.Message{ConversationID: c.ID, ClientMessageID: "bot-m000000000001", Role: chat.RoleBot, Text: "Call 911 now.", At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	handoff := &chat.Handoff{Queue: "urgent", Priority: "urgent", Language: "en", Reason: "red_flag", RedFlags: []string{"chest_pain"}, Summary: "Red flags: chest_pain.", At: time.Now().UTC().Truncate(time.Second)}
	first, dup, err := convs.AppendTurn(ctx, reply, chat.Change{BotState: `{"stage":"handed-off"}`, Handoff: handoff, Answers: "m000000000001"})
	if err != nil || dup {
		t.Fatalf("first turn: %v dup=%v", err, dup)
	}
	got, err := convs.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != chat.StateEscalated || got.BotState != `{"stage":"handed-off"}` || got.Handoff == nil || got.Handoff.Priority != "urgent" ||
		got.Handoff.RedFlags[0] != "chest_pain" || !got.Handoff.At.Equal(handoff.At) || first.Seq != 1 {
		t.Fatalf("after the turn: %+v handoff %+v", got, got.Handoff)
	}
	// The same turn again (a redelivery) finds its reply and changes nothing.
	again, dup, err := convs.AppendTurn(ctx, reply, chat.Change{BotState: `{"stage":"other"}`, Answers: "m000000000001"})
	if err != nil || !dup || again.ID != first.ID {
		t.Fatalf("redelivered turn: %+v dup=%v err=%v", again, dup, err)
	}
	// Another turn once the conversation left the bot is refused.
	other := reply
	other.ClientMessageID = "bot-m000000000002"
	if _, _, err := convs.AppendTurn(ctx, other, chat.Change{BotState: "{}", Answers: "m000000000002"}); !fault.Is(err, fault.Conflict) {
		t.Fatalf("turn after escalation: %v", err)
	}
	if m, err := convs.Message(ctx, c.ID, first.ID); err != nil || m.Text != "Call 911 now." || m.Role != chat.RoleBot {
		t.Fatalf("stored reply: %+v %v", m, err)
	}
	if after, _ := convs.Get(ctx, c.ID); after.BotState != `{"stage":"handed-off"}` {
		t.Fatalf("state changed by refused turns: %+v", after)
	}
	if msgs, err := convs.After(ctx, c.ID, ""); err != nil || len(msgs) != 1 {
		t.Fatalf("messages after refused turns: %+v %v", msgs, err)
	}
}

// TestAuditEntriesAtTheSameInstantAreKeptApart: two reads of one patient's
// record by one reader at the same instant are two entries (issue 16: an
// unconditional write let the second overwrite the first).
func TestAuditEntriesAtTheSameInstantAreKeptApart(t *testing.T) {
	db := dynamodb.NewFromConfig(env.Stack.AWSConfig())
	table := env.Outputs.Tables["AuditTable"]
	a := ddb.NewAudit(db, table, time.Hour)
	patient := fmt.Sprintf("p-audit-%d", time.Now().UnixNano())
	at := time.Now()
	for _, what := range []string{"context", "appointments"} {
		if err := a.Record(context.Background(), agent.AuditEntry{PatientID: patient, ReaderID: "sup-1", ReaderRole: "supervisor", ConversationID: "c-1", What: what, Why: "qa", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("patientId = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: patient}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 2 {
		t.Fatalf("%d audit entries for two reads at the same instant, want 2", len(out.Items))
	}
}

// TestStartsAreCountedAgainstTheirCaps: the connection's and the
// patient's daily counters refuse a start over their caps (rate_limited).
func TestStartsAreCountedAgainstTheirCaps(t *testing.T) {
	ctx := context.Background()
	_, conns := stores()
	now := time.Now()
	id := fmt.Sprintf("cap-%d", now.UnixNano())
	if err := conns.Put(ctx, chat.Connection{ID: id, Role: chat.RolePatient, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	patient := "p-" + id
	for i := 0; i < 2; i++ {
		if err := conns.CountStart(ctx, id, patient, now, 2, 3); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	if err := conns.CountStart(ctx, id, patient, now, 2, 3); !fault.Is(err, fault.RateLimited) {
		t.Fatalf("a third start on the connection: %v, want rate_limited", err)
	}
	other := id + "-b"
	if err := conns.Put(ctx, chat.Connection{ID: other, Role: chat.RolePatient, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := conns.CountStart(ctx, other, patient, now, 2, 3); err != nil {
		t.Fatalf("the patient's third start, on another connection: %v", err)
	}
	if err := conns.CountStart(ctx, other, patient, now, 2, 3); !fault.Is(err, fault.RateLimited) {
		t.Fatalf("the patient's fourth start: %v, want rate_limited", err)
	}
}
