package bot

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// turnStore is a Store whose answers are set per test.
type turnStore struct {
	conv     chat.Conversation
	answered map[string]chat.Message // the turn's message id → its stored reply
	appended int
}

var _ Store = (*turnStore)(nil)

func (s *turnStore) ForTurn(_ context.Context, _, id string) (chat.Conversation, chat.Message, error) {
	return s.conv, chat.Message{ID: id, Text: "I was charged twice"}, nil
}
func (s *turnStore) AppendTurn(context.Context, chat.Message, chat.Change) (chat.Message, bool, error) {
	s.appended++
	return chat.Message{}, false, fault.Errorf(fault.Conflict, "not with the bot")
}
func (s *turnStore) Answered(_ context.Context, _, messageID string) (chat.Message, bool, error) {
	m, ok := s.answered[messageID]
	return m, ok, nil
}

// frames records what a turn broadcast.
type frames []any

func (f *frames) Broadcast(_ context.Context, _, _ string, frame any) error {
	*f = append(*f, frame)
	return nil
}

// TestARedeliveredHandoffTurnPushesItsReplyAgain (issue 17): the bot-turn
// process died after the turn that handed the patient off was stored and
// before it pushed; SQS delivers the turn again. The conversation is no
// longer with the bot, but the patient has seen neither the reply nor the
// new state: both are pushed. A turn not answered yet is still skipped.
func TestARedeliveredHandoffTurnPushesItsReplyAgain(t *testing.T) {
	reply := chat.Message{ID: "m000000000005", ConversationID: "c1", Role: chat.RoleBot, Text: "I'll connect you with a person."}
	store := &turnStore{conv: chat.Conversation{ID: "c1", State: chat.StateEscalated}, answered: map[string]chat.Message{"m000000000004": reply}}
	var out frames
	turner := NewTurner(nil, store, &out, func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) })
	res, err := turner.Handle(context.Background(), Request{ConversationID: "c1", MessageID: "m000000000004"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate || len(out) != 2 || store.appended != 0 {
		t.Fatalf("outcome %+v, %d frames pushed, %d appends: want the stored reply and the state pushed, nothing stored", res, len(out), store.appended)
	}
	if got := any(reply); !reflect.DeepEqual(out[0], got) {
		t.Fatalf("first frame %+v, want the stored reply %+v", out[0], got)
	}
	if got := any(chat.StatusOf(store.conv)); !reflect.DeepEqual(out[1], got) {
		t.Fatalf("second frame %+v, want the state %+v", out[1], got)
	}

	out = nil
	res, err = turner.Handle(context.Background(), Request{ConversationID: "c1", MessageID: "m000000000006"})
	if err != nil || res.Skipped == "" || len(out) != 0 {
		t.Fatalf("a turn never answered, in an escalated conversation: %+v %v, %d frames", res, err, len(out))
	}
}
