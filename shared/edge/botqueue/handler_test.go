package botqueue

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/edgetest"
)

type fakeTurns struct {
	fail map[string]bool
	seen []bot.Request
}

func (f *fakeTurns) Handle(_ context.Context, r bot.Request) (bot.Outcome, error) {
	f.seen = append(f.seen, r)
	if f.fail[r.MessageID] {
		return bot.Outcome{}, errors.New("store unavailable")
	}
	return bot.Outcome{Replied: true, Handoff: &chat.Handoff{Queue: "crisis", Priority: "urgent", Reason: "red_flag", RedFlags: []string{"suicide_crisis"}, Summary: "Last message: secret words"}}, nil
}

func load(t *testing.T, name string) events.SQSEvent {
	t.Helper()
	return edgetest.Event[events.SQSEvent](t, name)
}

func TestBatchSucceeds(t *testing.T) {
	turns := &fakeTurns{}
	logs := &bytes.Buffer{}
	resp, err := NewHandler(turns, slog.New(slog.NewJSONHandler(logs, nil))).Handle(context.Background(), load(t, "sqs-bot-turn-batch.json"))
	if err != nil || len(resp.BatchItemFailures) != 0 || len(turns.seen) != 3 {
		t.Fatalf("resp %+v err %v seen %v", resp, err, turns.seen)
	}
	if turns.seen[0].MessageID != "m000000000002" || turns.seen[1].MessageID != "m000000000004" {
		t.Fatalf("order = %v", turns.seen)
	}
	for _, phi := range []string{"secret words", "suicide_crisis", "red_flag\"", "crisis\""} {
		if bytes.Contains(logs.Bytes(), []byte(phi)) {
			t.Fatalf("%s reached the logs: %s", phi, logs)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"red_flag_count":1`)) {
		t.Fatalf("the handoff's urgency is not logged: %s", logs)
	}
}

// After a failure every later record is reported failed, so no turn of a
// conversation overtakes an earlier one.
func TestFailureStopsTheRestOfTheBatch(t *testing.T) {
	turns := &fakeTurns{fail: map[string]bool{"m000000000002": true}}
	ev := load(t, "sqs-bot-turn-batch.json")
	resp, _ := NewHandler(turns, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))).Handle(context.Background(), ev)
	if len(turns.seen) != 1 || len(resp.BatchItemFailures) != 3 {
		t.Fatalf("seen %v failures %v", turns.seen, resp.BatchItemFailures)
	}
	for i, f := range resp.BatchItemFailures {
		if f.ItemIdentifier != ev.Records[i].MessageId {
			t.Fatalf("failure %d = %s", i, f.ItemIdentifier)
		}
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
