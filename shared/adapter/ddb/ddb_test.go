package ddb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/chat/chattest"
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

// TestConversationsKeepTheContract: the DynamoDB store passes the suite
// the in-memory one does (chattest): no lost or duplicated message under
// racing writers and resends, nothing after the close, bot turns answered
// once and in order.
func TestConversationsKeepTheContract(t *testing.T) {
	chattest.ConversationsContract(t, func(*testing.T) chat.Conversations {
		convs, _ := stores()
		return convs
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

// queryCount is the DynamoDB client with its queries counted.
type queryCount struct {
	*dynamodb.Client
	queries int
}

func (q *queryCount) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	q.queries++
	return q.Client.Query(ctx, in, opts...)
}

// TestAPatientsMessageAfterTheBotsReplyReadsNoSequence (issue 21): a
// message whose hint is right (it follows the bot's last reply, which the
// conversation names) is stored without reading the sequence; a stale
// hint costs the read it saves, and still takes the next slot.
func TestAPatientsMessageAfterTheBotsReplyReadsNoSequence(t *testing.T) {
	api := &queryCount{Client: dynamodb.NewFromConfig(env.Stack.AWSConfig())}
	tables := env.Outputs.Tables
	convs := ddb.NewConversations(api, tables["ConversationsTable"], tables["MessagesTable"])
	ctx := context.Background()
	c := newConversation(t, convs)
	if _, _, err := convs.AppendTurn(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "bot-start", Role: chat.RoleBot, Text: "Hello", At: time.Now()}, chat.Change{BotState: "{}"}); err != nil {
		t.Fatal(err)
	}
	read, err := convs.Get(ctx, c.ID)
	if err != nil || read.BotReply == "" {
		t.Fatalf("the conversation names no bot reply: %+v %v", read, err)
	}
	api.queries = 0
	m, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "u1", Role: chat.RolePatient, Text: "hi", At: time.Now(), Follows: read.BotReply})
	if err != nil || m.Seq != 2 || api.queries != 0 {
		t.Fatalf("after the greeting: seq %d (%v), %d queries; want seq 2 and no query", m.Seq, err, api.queries)
	}
	m, _, err = convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "u2", Role: chat.RolePatient, Text: "again", At: time.Now(), Follows: read.BotReply})
	if err != nil || m.Seq != 3 || api.queries != 1 {
		t.Fatalf("with a stale hint: seq %d (%v), %d queries; want seq 3 after one query", m.Seq, err, api.queries)
	}
}
