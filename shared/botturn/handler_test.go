package botturn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/chat"
)

type fakeTurns struct {
	fail map[string]bool
	mu   sync.Mutex
	seen []bot.Request
	// wait, when set, is called before a turn is taken.
	wait func(r bot.Request) error
}

func (f *fakeTurns) Handle(_ context.Context, r bot.Request) (bot.Outcome, error) {
	if f.wait != nil {
		if err := f.wait(r); err != nil {
			return bot.Outcome{}, err
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.mu.Unlock()
	if f.fail[r.MessageID] {
		return bot.Outcome{}, errors.New("store unavailable")
	}
	return bot.Outcome{Replied: true, Handoff: &chat.Handoff{Queue: "urgent", Priority: "urgent", Reason: "red_flag", Summary: "Last message: secret words"}}, nil
}

// of lists the turns taken for a conversation, in order.
func (f *fakeTurns) of(conversationID string) string {
	var ids []string
	for _, r := range f.seen {
		if r.ConversationID == conversationID {
			ids = append(ids, r.MessageID)
		}
	}
	return strings.Join(ids, ",")
}

func load(t *testing.T, name string) events.SQSEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestBatchSucceeds(t *testing.T) {
	turns := &fakeTurns{}
	logs := &bytes.Buffer{}
	resp, err := NewHandler(turns, slog.New(slog.NewJSONHandler(logs, nil))).Handle(context.Background(), load(t, "sqs-bot-turn-batch.json"))
	if err != nil || len(resp.BatchItemFailures) != 0 || len(turns.seen) != 3 {
		t.Fatalf("resp %+v err %v seen %v", resp, err, turns.seen)
	}
	if got := turns.of("c-example"); got != "m000000000002,m000000000004" {
		t.Fatalf("c-example's turns in order %v", got)
	}
	if bytes.Contains(logs.Bytes(), []byte("secret words")) {
		t.Fatalf("the handoff summary reached the logs: %s", logs)
	}
}

// After a failure every later record of that conversation is reported
// failed, so none of its turns overtakes an earlier one; the other
// conversation of the batch goes on.
func TestFailureStopsTheRestOfItsConversation(t *testing.T) {
	turns := &fakeTurns{fail: map[string]bool{"m000000000002": true}}
	ev := load(t, "sqs-bot-turn-batch.json") // c-example m2, m4; c-other m1
	resp, _ := NewHandler(turns, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))).Handle(context.Background(), ev)
	var seen []string
	for _, r := range turns.seen {
		seen = append(seen, r.ConversationID+"/"+r.MessageID)
	}
	slices.Sort(seen)
	if strings.Join(seen, ",") != "c-example/m000000000002,c-other/m000000000001" {
		t.Fatalf("turns taken: %v", seen)
	}
	if len(resp.BatchItemFailures) != 2 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId ||
		resp.BatchItemFailures[1].ItemIdentifier != ev.Records[1].MessageId {
		t.Fatalf("failures %v, want c-example's two records", resp.BatchItemFailures)
	}
}

// TestConversationsOfABatchRunSideBySide: the first turn of one
// conversation waits for a turn of the other to start; taken one after the
// other, it would wait in vain.
func TestConversationsOfABatchRunSideBySide(t *testing.T) {
	otherStarted := make(chan struct{})
	turns := &fakeTurns{wait: func(r bot.Request) error {
		switch r.ConversationID {
		case "c-other":
			close(otherStarted)
		case "c-example":
			select {
			case <-otherStarted:
			case <-time.After(10 * time.Second):
				return errors.New("the other conversation's turn never started while this one waited")
			}
		}
		return nil
	}}
	resp, err := NewHandler(turns, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))).Handle(context.Background(), load(t, "sqs-bot-turn-batch.json"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if got := turns.of("c-example"); got != "m000000000002,m000000000004" {
		t.Fatalf("c-example's turns in order %v", got)
	}
}

func TestUnreadableRequestFails(t *testing.T) {
	ev := load(t, "sqs-bot-turn-start.json")
	ev.Records[0].Body = "{not json"
	resp, _ := NewHandler(&fakeTurns{}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))).Handle(context.Background(), ev)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures = %v", resp.BatchItemFailures)
	}
}
