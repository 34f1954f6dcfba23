package bot

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/protocol"
)

// memStore keeps conversations and messages in memory, safe for
// concurrent turns.
type memStore struct {
	mu    sync.Mutex
	convs map[string]chat.Conversation
	msgs  map[string][]chat.Message
}

func (s *memStore) Get(_ context.Context, id string) (chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return c, fault.Errorf(fault.NotFound, "conversation not found")
	}
	return c, nil
}

func (s *memStore) Message(_ context.Context, conversationID, messageID string) (chat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs[conversationID] {
		if m.ID == messageID {
			return m, nil
		}
	}
	return chat.Message{}, fault.Errorf(fault.NotFound, "message not found")
}

func (s *memStore) append(m chat.Message) chat.Message {
	m.Seq = int64(len(s.msgs[m.ConversationID]) + 1)
	m.ID = protocol.MessageIDFor(m.Seq)
	s.msgs[m.ConversationID] = append(s.msgs[m.ConversationID], m)
	return m
}

func (s *memStore) AppendTurn(_ context.Context, m chat.Message, ch chat.Change) (chat.Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, prev := range s.msgs[m.ConversationID] {
		if prev.ClientMessageID == m.ClientMessageID {
			return prev, true, nil
		}
	}
	c := s.convs[m.ConversationID]
	if c.State != chat.StateBot {
		return chat.Message{}, false, fault.Errorf(fault.Conflict, "not with the bot")
	}
	c.BotState = ch.BotState
	switch {
	case ch.Handoff != nil:
		c.State, c.Handoff = chat.StateEscalated, ch.Handoff
	case ch.Close:
		c.State = chat.StateClosed
	}
	s.convs[c.ID] = c
	return s.append(m), false, nil
}

type nobody struct{}

func (nobody) Broadcast(context.Context, string, string, any) error { return nil }

// TestTurnsOfManyConversationsAtOnce: the bot-turn handler takes the turns
// of a batch's conversations side by side on one Turner; each
// conversation's dialog comes out as if alone (run with -race).
func TestTurnsOfManyConversationsAtOnce(t *testing.T) {
	e, err := Load(HoursConfig{Timezone: "America/New_York", Weekly: "mon-sun=00:00-24:00"})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{convs: map[string]chat.Conversation{}, msgs: map[string][]chat.Message{}}
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	turner := NewTurner(e, store, nobody{}, func() time.Time { return now })
	const n = 16
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%d", i)
		store.convs[id] = chat.Conversation{ID: id, PatientID: "p" + id, PatientName: "Ana", Locale: "en", State: chat.StateBot, ExpiresAt: now.Add(time.Hour)}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", i)
			if _, err := turner.Handle(ctx, Request{ConversationID: id}); err != nil {
				errs <- err
				return
			}
			for _, text := range []string{"yes", "What are the visiting hours?"} {
				store.mu.Lock()
				m := store.append(chat.Message{ConversationID: id, ClientMessageID: "u-" + text, Role: chat.RolePatient, Text: text, At: now})
				store.mu.Unlock()
				if _, err := turner.Handle(ctx, Request{ConversationID: id, MessageID: m.ID}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		msgs := store.msgs[fmt.Sprintf("c%d", i)]
		var roles string
		for _, m := range msgs {
			roles += m.Role[:1]
		}
		if roles != "bpbpb" {
			t.Fatalf("conversation c%d: roles %q, want greeting, then a reply to each message", i, roles)
		}
		if msgs[0].Text != store.msgs["c0"][0].Text || msgs[4].Text != store.msgs["c0"][4].Text {
			t.Fatalf("conversation c%d's dialog differs from c0's: %q", i, msgs[4].Text)
		}
	}
}
