package chattest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// ConversationsContract runs the chat.Conversations contract — never a
// lost or duplicated message under racing writers and resends, nothing
// after the close, each bot turn answered once and in order, a turn's
// change applied with its reply — against stores open makes.
// Conversation ids are unique per run, so a shared store (an emulator's
// tables) serves many.
func ConversationsContract(t *testing.T, open func(t *testing.T) chat.Conversations) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	n := 0
	var mu sync.Mutex
	fresh := func(t testing.TB, s chat.Conversations) chat.Conversation {
		t.Helper()
		mu.Lock()
		n++
		id := fmt.Sprintf("c-ct%d-%d", run, n)
		mu.Unlock()
		now := time.Now()
		c := chat.Conversation{ID: id, PatientID: "p", PatientName: "Ana", Locale: "en", State: chat.StateBot, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	msg := func(conv, clientID string, role, text string) chat.Message {
		return chat.Message{ConversationID: conv, ClientMessageID: clientID, Role: role, Text: text, At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	}
	texts := func(t *testing.T, s chat.Conversations, conv string) string {
		t.Helper()
		msgs, err := s.After(ctx, conv, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return strings.Join(out, "|")
	}

	// Writers race on one conversation, each resending some of its
	// messages: every distinct client message is stored exactly once,
	// sequence numbers have no gaps, each writer's messages keep its order.
	t.Run("concurrent appends never lose or duplicate", func(t *testing.T) {
		s := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			c := fresh(t, s)
			writers := rapid.IntRange(1, 4).Draw(rt, "writers")
			plans := make([][]string, writers)
			for w := range plans {
				for i := range rapid.IntRange(1, 6).Draw(rt, fmt.Sprintf("messages%d", w)) {
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
						if _, _, err := s.Append(ctx, msg(c.ID, id, chat.RolePatient, "text of "+id)); err != nil {
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
			msgs, err := s.After(ctx, c.ID, "")
			if err != nil {
				rt.Fatal(err)
			}
			seen := map[string]bool{}
			lastOf := map[int]int{}
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
				if prev, ok := lastOf[w]; ok && k <= prev {
					rt.Fatalf("writer %d's messages out of order: %v", w, msgs)
				}
				lastOf[w] = k
			}
			for _, plan := range plans {
				for _, id := range plan {
					if !seen[id] {
						rt.Fatalf("client message %s lost", id)
					}
				}
			}
		})
	})

	// Writers append while the patient ends the conversation (or the bot
	// closes it): every append that succeeded is stored, in one gapless
	// sequence, and nothing after the close.
	t.Run("a close racing appends ends the sequence", func(t *testing.T) {
		s := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			c := fresh(t, s)
			writers := rapid.IntRange(1, 3).Draw(rt, "writers")
			per := rapid.IntRange(1, 5).Draw(rt, "messages")
			byBot := rapid.Bool().Draw(rt, "bot closes")
			var mu sync.Mutex
			stored := map[string]bool{}
			errs := make(chan error, writers*per)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						id := fmt.Sprintf("w%d-%d", w, i)
						_, _, err := s.Append(ctx, msg(c.ID, id, chat.RolePatient, id))
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
				_, _, err = s.AppendTurn(ctx, msg(c.ID, "bot-close", chat.RoleBot, "bye"), chat.Change{BotState: "{}", Close: true})
				mu.Lock()
				stored["bot-close"] = err == nil
				mu.Unlock()
			} else {
				_, err = s.Close(ctx, c.ID, time.Now())
			}
			if err != nil {
				rt.Fatalf("closing: %v", err)
			}
			if _, _, err := s.Append(ctx, msg(c.ID, "late", chat.RolePatient, "late")); !fault.Is(err, fault.Conflict) {
				rt.Fatalf("append after the close: %v", err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				rt.Fatal(err)
			}
			msgs, err := s.After(ctx, c.ID, "")
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
			if _, err := s.Close(ctx, c.ID, time.Now()); !fault.Is(err, fault.Conflict) {
				rt.Fatalf("closing twice: %v", err)
			}
		})
	})

	// A resend returns the stored message, even after the close; a new
	// message after it is refused; an unknown conversation is not found.
	t.Run("a resend returns the stored message", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		m := msg(c.ID, "u1", chat.RolePatient, "hi")
		first, dup, err := s.Append(ctx, m)
		if err != nil || dup {
			t.Fatalf("first append: %v dup=%v", err, dup)
		}
		again, dup, err := s.Append(ctx, m)
		if err != nil || !dup || again.ID != first.ID || again.Text != "hi" {
			t.Fatalf("resend: %+v dup=%v err=%v", again, dup, err)
		}
		if got, ok, err := s.Stored(ctx, c.ID, "u1"); err != nil || !ok || got.ID != first.ID {
			t.Fatalf("stored: %+v %v %v", got, ok, err)
		}
		if after, err := s.After(ctx, c.ID, first.ID); err != nil || len(after) != 0 {
			t.Fatalf("after the only message: %v %v", after, err)
		}
		if _, err := s.After(ctx, c.ID, "n#x"); !fault.Is(err, fault.BadRequest) {
			t.Fatalf("after what is not a message id: %v", err)
		}
		if _, err := s.Close(ctx, c.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if again, dup, err := s.Append(ctx, m); err != nil || !dup || again.ID != first.ID {
			t.Fatalf("a resend after the close: %+v dup=%v err=%v", again, dup, err)
		}
		if _, _, err := s.Append(ctx, msg(c.ID, "u2", chat.RolePatient, "late")); !fault.Is(err, fault.Conflict) {
			t.Fatalf("append to a closed conversation: %v", err)
		}
		if _, err := s.Get(ctx, c.ID+"-nope"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("get unknown: %v", err)
		}
		if _, err := s.Message(ctx, c.ID, chat.MessageID(9)); !fault.Is(err, fault.NotFound) {
			t.Fatalf("an unknown message: %v", err)
		}
	})

	// The greeting and each patient message get one reply; a redelivered
	// turn gets its stored reply back; a turn for a message before the
	// last one answered stores nothing.
	t.Run("turns answer each message once, in order", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		turn := func(answers, text string) (chat.Message, bool, error) {
			return s.AppendTurn(ctx, msg(c.ID, "bot-"+answers, chat.RoleBot, text), chat.Change{BotState: "{}", Answers: answers})
		}
		patient := func(id string) chat.Message {
			m, _, err := s.Append(ctx, msg(c.ID, id, chat.RolePatient, id))
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
		if got := texts(t, s, c.ID); got != "Hello|u1|Answer one|u2|Answer two" {
			t.Fatalf("conversation = %q", got)
		}
	})

	// A patient's message may carry a hint of the message it follows (the
	// bot's last reply): right or stale, it takes the next free slot, a
	// resend is still found, and the hint is not kept.
	t.Run("a hinted message takes the next free slot whatever the hint", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		greeting, _, err := s.AppendTurn(ctx, msg(c.ID, "bot-start", chat.RoleBot, "Hello"), chat.Change{BotState: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		send := func(id, follows string) (chat.Message, bool) {
			t.Helper()
			m := msg(c.ID, id, chat.RolePatient, id)
			m.Follows = follows
			got, dup, err := s.Append(ctx, m)
			if err != nil {
				t.Fatalf("append %s after %s: %v", id, follows, err)
			}
			if got.Follows != "" {
				t.Fatalf("append %s kept its hint %q", id, got.Follows)
			}
			return got, dup
		}
		p1, _ := send("u1", greeting.ID) // right
		reply, _, err := s.AppendTurn(ctx, msg(c.ID, "bot-"+p1.ID, chat.RoleBot, "Answer one"), chat.Change{BotState: "{}", Answers: p1.ID})
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := send("u2", greeting.ID) // stale: two messages came since
		again, dup := send("u2", reply.ID)
		p3, _ := send("u3", reply.ID) // stale: u2 came since
		if p1.Seq != 2 || reply.Seq != 3 || p2.Seq != 4 || p3.Seq != 5 {
			t.Fatalf("sequence %d %d %d %d, want 2 3 4 5", p1.Seq, reply.Seq, p2.Seq, p3.Seq)
		}
		if !dup || again.ID != p2.ID {
			t.Fatalf("the resend of u2: %+v duplicate=%v, want %s", again, dup, p2.ID)
		}
		if got := texts(t, s, c.ID); got != "Hello|u1|Answer one|u2|u3" {
			t.Fatalf("conversation = %q", got)
		}
	})

	// The patient wrote again before the bot answered: the reply to the
	// earlier message takes the slot after the last one, reads the same
	// through ForTurn, and the sequence has no gap.
	t.Run("a turn behind a newer message takes the next free slot", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		m1, _, err := s.Append(ctx, msg(c.ID, "u1", chat.RolePatient, "first"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Append(ctx, msg(c.ID, "u2", chat.RolePatient, "second")); err != nil {
			t.Fatal(err)
		}
		conv, read, err := s.ForTurn(ctx, c.ID, m1.ID)
		if err != nil || conv.ID != c.ID || read.Text != "first" {
			t.Fatalf("ForTurn: %+v %+v %v", conv, read, err)
		}
		r, dup, err := s.AppendTurn(ctx, msg(c.ID, "bot-"+m1.ID, chat.RoleBot, "Answer one"), chat.Change{BotState: "{}", Answers: m1.ID})
		if err != nil || dup || r.Seq != 3 {
			t.Fatalf("reply: %+v dup=%v err=%v, want slot 3", r, dup, err)
		}
		if got := texts(t, s, c.ID); got != "first|second|Answer one" {
			t.Fatalf("conversation = %q", got)
		}
		if _, _, err := s.ForTurn(ctx, c.ID, chat.MessageID(9)); !fault.Is(err, fault.NotFound) {
			t.Fatalf("ForTurn of a missing message: %v, want not found", err)
		}
		if _, _, err := s.ForTurn(ctx, c.ID+"-missing", ""); !fault.Is(err, fault.NotFound) {
			t.Fatalf("ForTurn of a missing conversation: %v, want not found", err)
		}
	})

	// A turn in which the patient proved who they are sets the
	// conversation's identity level, with the address; it stays.
	t.Run("a verifying turn sets the identity level", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		if _, _, err := s.AppendTurn(ctx, msg(c.ID, "bot-", chat.RoleBot, "Hello"), chat.Change{BotState: "{}"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, c.ID); got.Identity != "" {
			t.Fatalf("a new conversation's identity %q, want anonymous", got.Identity)
		}
		m1, _, err := s.Append(ctx, msg(c.ID, "u1", chat.RolePatient, "123456"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AppendTurn(ctx, msg(c.ID, "bot-"+m1.ID, chat.RoleBot, "Thank you"), chat.Change{BotState: "{}", Answers: m1.ID, Verified: "ana@example.org"}); err != nil {
			t.Fatal(err)
		}
		m2, _, _ := s.Append(ctx, msg(c.ID, "u2", chat.RolePatient, "thanks"))
		if _, _, err := s.AppendTurn(ctx, msg(c.ID, "bot-"+m2.ID, chat.RoleBot, "Anything else?"), chat.Change{BotState: "{}", Answers: m2.ID}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, c.ID); got.Identity != chat.IdentityVerified || got.VerifiedEmail != "ana@example.org" {
			t.Fatalf("after the verifying turn: identity %q, %q", got.Identity, got.VerifiedEmail)
		}
	})

	// A turn stores its reply, its dialog state and its handoff together,
	// once; the conversation then waits for a person and the bot's turns
	// are refused, changing nothing.
	t.Run("a turn's reply, state and handoff are stored once", func(t *testing.T) {
		s := open(t)
		c := fresh(t, s)
		said, _, err := s.Append(ctx, msg(c.ID, "u1", chat.RolePatient, "crushing chest pain"))
		if err != nil {
			t.Fatal(err)
		}
		reply := msg(c.ID, "bot-"+said.ID, chat.RoleBot, "Call 911 now.")
		handoff := &chat.Handoff{Queue: "urgent", Priority: "urgent", Language: "en", Reason: "red_flag", RedFlags: []string{"chest_pain"}, Summary: "Red flags: chest_pain.", At: time.Now().UTC().Truncate(time.Second)}
		first, dup, err := s.AppendTurn(ctx, reply, chat.Change{BotState: `{"stage":"handed-off"}`, Handoff: handoff, Answers: said.ID})
		if err != nil || dup {
			t.Fatalf("first turn: %v dup=%v", err, dup)
		}
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != chat.StateEscalated || got.BotState != `{"stage":"handed-off"}` || got.Handoff == nil || got.Handoff.Priority != "urgent" ||
			got.Handoff.RedFlags[0] != "chest_pain" || !got.Handoff.At.Equal(handoff.At) || first.Seq != 2 {
			t.Fatalf("after the turn: %+v handoff %+v", got, got.Handoff)
		}
		again, dup, err := s.AppendTurn(ctx, reply, chat.Change{BotState: `{"stage":"other"}`, Answers: said.ID})
		if err != nil || !dup || again.ID != first.ID {
			t.Fatalf("redelivered turn: %+v dup=%v err=%v", again, dup, err)
		}
		other := reply
		later, _, err := s.Append(ctx, msg(c.ID, "u2", chat.RolePatient, "hello?"))
		if err != nil {
			t.Fatal(err)
		}
		other.ClientMessageID = "bot-" + later.ID
		if _, _, err := s.AppendTurn(ctx, other, chat.Change{BotState: "{}", Answers: later.ID}); !fault.Is(err, fault.Conflict) {
			t.Fatalf("turn after escalation: %v", err)
		}
		if m, err := s.Message(ctx, c.ID, first.ID); err != nil || m.Text != "Call 911 now." || m.Role != chat.RoleBot {
			t.Fatalf("stored reply: %+v %v", m, err)
		}
		if after, _ := s.Get(ctx, c.ID); after.BotState != `{"stage":"handed-off"}` {
			t.Fatalf("state changed by refused turns: %+v", after)
		}
		if msgs, err := s.After(ctx, c.ID, ""); err != nil || len(msgs) != 3 {
			t.Fatalf("messages after refused turns: %+v %v", msgs, err)
		}
	})
}
