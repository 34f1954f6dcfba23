package ddb_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/routing"
	"github.com/patientservicecenter/psc/shared/routing/routingtest"
)

func routingStore() (*ddb.Routing, *ddb.Conversations, *ddb.Agents, *dynamodb.Client) {
	db := dynamodb.NewFromConfig(env.Stack.AWSConfig())
	t := env.Outputs.Tables
	return ddb.NewRouting(db, t["ConversationsTable"], t["MessagesTable"], t["AgentsTable"]), ddb.NewConversations(db, t["ConversationsTable"], t["MessagesTable"]),
		ddb.NewAgents(db, t["AgentsTable"]), db
}

// escalated creates a conversation the bot has handed off.
func escalated(t *testing.T, convs *ddb.Conversations, db *dynamodb.Client, id string) {
	t.Helper()
	now := time.Now()
	c := chat.Conversation{ID: id, PatientID: "p-" + id, PatientName: "Pat", Locale: "en", State: chat.StateEscalated, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := convs.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

type routedConv struct {
	State      string `dynamodbav:"state"`
	OfferAgent string `dynamodbav:"offerAgent"`
	WaitQueue  string `dynamodbav:"waitQueue"`
}

// TestConcurrentRoutersNeverDoubleAssignOrOverbook: thirty conversations
// (a third urgent) wait in one queue; four agents with capacities 1, 2, 2
// and 3 are available; four routers plan and offer at the same time until
// none can. Every conversation is offered at most once, no agent holds
// more than their capacity, every unit of capacity is used, and the
// urgent conversations are the ones served.
//
// The whole scenario runs three times (fresh queue and agents each time),
// so that different interleavings of the routers are exercised; make test
// runs it under -race.
func TestConcurrentRoutersNeverDoubleAssignOrOverbook(t *testing.T) {
	for rep := range 3 {
		t.Run(fmt.Sprint("run", rep), concurrentRouting)
	}
}

func concurrentRouting(t *testing.T) {
	store, convs, agents, db := routingStore()
	ctx := context.Background()
	run := time.Now().UnixNano()
	queue := fmt.Sprintf("q%d", run)
	base := time.Now().Add(-time.Hour)
	var waiting []routing.Waiting
	for i := range 30 {
		id := fmt.Sprintf("r%d-%02d", run, i)
		escalated(t, convs, db, id)
		w := routing.Waiting{ConversationID: id, Queue: queue, Priority: routing.Normal, Language: "en", EnqueuedAt: base.Add(time.Duration(i) * time.Second)}
		if i%3 == 2 {
			w.Priority = routing.Urgent
		}
		if err := store.Enqueue(ctx, w, time.Now()); err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, w)
	}
	if err := store.Enqueue(ctx, waiting[0], time.Now()); err != nil {
		t.Fatalf("enqueueing the same conversation again (a redelivered stream record): %v", err)
	}
	moved := waiting[0]
	moved.Queue = "elsewhere"
	if err := store.Enqueue(ctx, moved, time.Now()); !fault.Is(err, fault.Conflict) {
		t.Fatalf("enqueueing a waiting conversation elsewhere: %v, want conflict", err)
	}
	capacities := []int{1, 2, 2, 3}
	var agentIDs []string
	for i, c := range capacities {
		id := fmt.Sprintf("ag%d-%d", run, i)
		agentIDs = append(agentIDs, id)
		if err := agents.SaveProfile(ctx, agent.Identity{AgentID: id, Name: id, Roles: []agent.Role{agent.RoleAgent}, Skills: []string{queue}, Languages: []string{"en"}, Capacity: c}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := agents.SetPresence(ctx, id, agent.Available, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := store.Waiting(ctx, queue)
	if err != nil || len(listed) != 30 || listed[0].Priority != routing.Urgent || listed[0].ConversationID != waiting[2].ConversationID {
		t.Fatalf("the queue lists %d, first %+v (%v); want 30, the first urgent first", len(listed), listed[0], err)
	}

	// route runs four routers at once until none makes progress.
	route := func(round int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for r := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pass := 0; pass < 50; pass++ {
					w, err := store.Waiting(ctx, queue)
					if err != nil {
						errs <- err
						return
					}
					all, err := store.AvailableAgents(ctx)
					if err != nil {
						errs <- err
						return
					}
					byID := map[string]routing.Waiting{}
					for _, x := range w {
						byID[x.ConversationID] = x
					}
					progress := false
					for _, o := range routing.Plan(w, all) {
						res, err := store.Offer(ctx, byID[o.ConversationID], o.AgentID, fmt.Sprintf("o%d-%d-%d", round, r, pass), time.Now().Add(time.Minute), time.Now())
						if err != nil {
							errs <- err
							return
						}
						if res != routing.Stale {
							progress = true
						}
					}
					if !progress {
						return
					}
				}
				errs <- fmt.Errorf("router %d still making progress after 50 passes", r)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	route(1)

	offeredTo := map[string]int{}
	offered := 0
	for _, w := range waiting {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.Outputs.Tables["ConversationsTable"]), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"conversationId": &types.AttributeValueMemberS{Value: w.ConversationID}}})
		if err != nil {
			t.Fatal(err)
		}
		var c routedConv
		if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
			t.Fatal(err)
		}
		switch c.State {
		case string(chat.StateOffered):
			offered++
			offeredTo[c.OfferAgent]++
			if c.WaitQueue != "" {
				t.Errorf("%s is offered but still in its queue", w.ConversationID)
			}
			if w.Priority != routing.Urgent {
				t.Errorf("%s (normal) was served while urgent conversations waited", w.ConversationID)
			}
		case string(chat.StateWaiting):
		default:
			t.Errorf("%s is %q", w.ConversationID, c.State)
		}
	}
	if offered != 8 {
		t.Errorf("%d conversations offered, want 8 (the agents' total capacity)", offered)
	}
	for i, id := range agentIDs {
		a, err := agents.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		active := activeOf(t, db, id)
		if active != capacities[i] || offeredTo[id] != capacities[i] {
			t.Errorf("agent %s (capacity %d): active %d, offered %d conversations", a.ID, capacities[i], active, offeredTo[id])
		}
	}
	if left, _ := store.Waiting(ctx, queue); len(left) != 22 {
		t.Errorf("%d still waiting, want 22", len(left))
	}

	// Then, round after round, the agents wrap up what they were offered
	// and the routers run again: every conversation is served exactly
	// once as capacity comes back, the urgent ones first, the normal ones
	// in order of arrival.
	servedIn := map[string]int{}
	state := func(id string) routedConv {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.Outputs.Tables["ConversationsTable"]), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"conversationId": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
		var c routedConv
		if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for round := 1; len(servedIn) < len(waiting); round++ {
		if round > 1 {
			route(round)
		}
		fresh := 0
		for _, w := range waiting {
			c := state(w.ConversationID)
			if c.State != string(chat.StateOffered) {
				continue
			}
			if prev, ok := servedIn[w.ConversationID]; ok {
				t.Fatalf("%s offered again in round %d (first in round %d)", w.ConversationID, round, prev)
			}
			servedIn[w.ConversationID] = round
			fresh++
			if _, err := store.Accept(ctx, w.ConversationID, c.OfferAgent, "Agent", time.Now()); err != nil {
				t.Fatalf("round %d: accept %s: %v", round, w.ConversationID, err)
			}
			if _, err := store.Finish(ctx, w.ConversationID, c.OfferAgent, "resolved", nil, time.Now()); err != nil {
				t.Fatalf("round %d: finish %s: %v", round, w.ConversationID, err)
			}
		}
		if fresh == 0 || fresh > 8 || round > 6 {
			t.Fatalf("round %d served %d conversations (capacity 8); %d of %d served so far", round, fresh, len(servedIn), len(waiting))
		}
		for _, id := range agentIDs {
			if a := activeOf(t, db, id); a != 0 {
				t.Fatalf("round %d: agent %s holds %d after wrapping up", round, id, a)
			}
		}
	}
	lastNormal := 0
	for _, w := range waiting {
		r := servedIn[w.ConversationID]
		if w.Priority == routing.Urgent && r > 2 {
			t.Errorf("urgent %s served in round %d, want the first two (10 urgent, capacity 8)", w.ConversationID, r)
		}
		if w.Priority == routing.Normal {
			if r < lastNormal {
				t.Errorf("normal %s served in round %d, before one that arrived earlier (round %d)", w.ConversationID, r, lastNormal)
			}
			lastNormal = r
		}
	}
}

func activeOf(t *testing.T, db *dynamodb.Client, agentID string) int {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(env.Outputs.Tables["AgentsTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"agentId": &types.AttributeValueMemberS{Value: agentID}}})
	if err != nil {
		t.Fatal(err)
	}
	var it struct {
		Active int `dynamodbav:"active"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		t.Fatal(err)
	}
	return it.Active
}

// TestOfferLifecycle: an offer is accepted only by its agent and before it
// lapses; a declined offer waits again at its place and is not offered to
// that agent again; closing frees the capacity; an offer whose patient
// left frees the capacity when it lapses.
func TestOfferLifecycle(t *testing.T) {
	store, convs, agents, db := routingStore()
	ctx := context.Background()
	run := time.Now().UnixNano()
	queue := fmt.Sprintf("life%d", run)
	agentID := fmt.Sprintf("life-ag%d", run)
	if err := agents.SaveProfile(ctx, agent.Identity{AgentID: agentID, Name: "Ana", Roles: []agent.Role{agent.RoleAgent}, Skills: []string{queue}, Capacity: 2}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := agents.SetPresence(ctx, agentID, agent.Available, time.Now()); err != nil {
		t.Fatal(err)
	}
	offer := func(id string) routing.Waiting {
		t.Helper()
		escalated(t, convs, db, id)
		w := routing.Waiting{ConversationID: id, Queue: queue, Priority: routing.Normal, EnqueuedAt: time.Now()}
		if err := store.Enqueue(ctx, w, time.Now()); err != nil {
			t.Fatal(err)
		}
		if res, err := store.Offer(ctx, w, agentID, "o-"+id, time.Now().Add(time.Minute), time.Now()); err != nil || res != routing.Offered {
			t.Fatalf("offer %s: %v %v", id, res, err)
		}
		return w
	}

	a := offer(fmt.Sprintf("life-a%d", run))
	// An open offer is listed for its agent (a console that reloads gets
	// it back), with its expiry, and is not held yet.
	if open, err := store.Offered(ctx, agentID); err != nil || len(open) != 1 || open[0].ID != a.ConversationID || open[0].OfferedTo != agentID ||
		open[0].OfferExpiresAt.Before(time.Now()) {
		t.Fatalf("offered = %+v (%v), want the open offer", open, err)
	}
	if held, err := store.Held(ctx, agentID); err != nil || len(held) != 0 {
		t.Fatalf("held while only offered = %+v (%v), want none", held, err)
	}
	if _, err := store.Accept(ctx, a.ConversationID, "someone-else", "Eve", time.Now()); !fault.Is(err, fault.Conflict) {
		t.Fatalf("another agent accepting: %v", err)
	}
	if _, err := store.Accept(ctx, a.ConversationID, agentID, "Ana", time.Now().Add(2*time.Minute)); !fault.Is(err, fault.Conflict) {
		t.Fatalf("accepting a lapsed offer: %v", err)
	}
	c, err := store.Accept(ctx, a.ConversationID, agentID, "Ana", time.Now())
	if err != nil || c.State != chat.StateAssigned || c.AgentID != agentID || c.AgentName != "Ana" {
		t.Fatalf("accept: %+v %v", c, err)
	}
	if _, err := store.Accept(ctx, a.ConversationID, agentID, "Ana", time.Now()); err != nil {
		t.Fatalf("accepting again (a retry): %v", err)
	}
	if held, err := store.Held(ctx, agentID); err != nil || len(held) != 1 || held[0].ID != a.ConversationID {
		t.Fatalf("held after accepting = %+v (%v), want the accepted conversation", held, err)
	}
	if open, err := store.Offered(ctx, agentID); err != nil || len(open) != 0 {
		t.Fatalf("offered after accepting = %+v (%v), want none", open, err)
	}

	b := offer(fmt.Sprintf("life-b%d", run))
	if ok, err := store.Release(ctx, b.ConversationID, agentID, "", routing.Declined, time.Now()); err != nil || !ok {
		t.Fatalf("decline: %v %v", ok, err)
	}
	w, err := store.Waiting(ctx, queue)
	if err != nil || len(w) != 1 || w[0].ConversationID != b.ConversationID || w[0].EnqueuedAt.Sub(b.EnqueuedAt).Abs() > time.Millisecond || w[0].Refused[0] != agentID {
		t.Fatalf("after the decline the queue is %+v (%v), want b back at its place, refused by the agent", w, err)
	}
	if active := activeOf(t, db, agentID); active != 1 {
		t.Fatalf("active after a decline = %d, want 1", active)
	}
	if open, err := store.Offered(ctx, agentID); err != nil || len(open) != 0 {
		t.Fatalf("offered after the decline = %+v (%v), want none", open, err)
	}

	// An offer no console of the agent took comes back with their capacity,
	// not refused by them, and leaves them available.
	u := offer(fmt.Sprintf("life-u%d", run))
	if ok, err := store.Release(ctx, u.ConversationID, agentID, "o-"+u.ConversationID, routing.Undelivered, time.Now()); err != nil || !ok {
		t.Fatalf("taking back an undelivered offer: %v %v", ok, err)
	}
	w, err = store.Waiting(ctx, queue)
	if err != nil || len(w) != 2 || w[1].ConversationID != u.ConversationID || len(w[1].Refused) != 0 {
		t.Fatalf("after the undelivered offer the queue is %+v (%v), want u back, refused by no one", w, err)
	}
	if active := activeOf(t, db, agentID); active != 1 {
		t.Fatalf("active after an undelivered offer = %d, want 1", active)
	}
	avail, err := store.AvailableAgents(ctx)
	if err != nil || !slices.ContainsFunc(avail, func(a routing.Agent) bool { return a.ID == agentID }) {
		t.Fatalf("after an undelivered offer the agent is not available: %v", err)
	}
	if ok, err := store.Release(ctx, u.ConversationID, agentID, "", routing.Declined, time.Now()); err != nil || ok {
		t.Fatalf("releasing u again: %v %v, want nothing to release", ok, err)
	}

	closed, err := store.Finish(ctx, a.ConversationID, agentID, "resolved", nil, time.Now())
	if err != nil || closed.State != chat.StateClosed || closed.Disposition != "resolved" {
		t.Fatalf("finish: %+v %v", closed, err)
	}
	if held, err := store.Held(ctx, agentID); err != nil || len(held) != 0 {
		t.Fatalf("held after wrap-up = %+v (%v), want none", held, err)
	}
	// The close ended the message sequence: nothing lands after it.
	if _, _, err := convs.Append(ctx, chat.Message{ConversationID: a.ConversationID, ClientMessageID: "after-wrap-up", Role: chat.RolePatient, Text: "late", At: time.Now()}); !fault.Is(err, fault.Conflict) {
		t.Fatalf("append after the agent closed: %v", err)
	}
	if _, err := store.Finish(ctx, a.ConversationID, agentID, "resolved", nil, time.Now()); err != nil {
		t.Fatalf("finishing again (a retry): %v", err)
	}
	if active := activeOf(t, db, agentID); active != 0 {
		t.Fatalf("active after closing = %d, want 0", active)
	}

	// The patient ends an assigned conversation; the agent wraps it up
	// afterwards (the sequence is already closed: no second marker).
	e := offer(fmt.Sprintf("life-e%d", run))
	if _, err := store.Accept(ctx, e.ConversationID, agentID, "Ana", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := convs.Close(ctx, e.ConversationID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if closed, err := store.Finish(ctx, e.ConversationID, agentID, "no-show", nil, time.Now()); err != nil || closed.Disposition != "no-show" {
		t.Fatalf("wrap-up after the patient ended: %+v %v", closed, err)
	}
	if active := activeOf(t, db, agentID); active != 0 {
		t.Fatalf("active after the wrap-up = %d, want 0", active)
	}

	// The patient leaves while the offer is pending: the lapse frees the
	// capacity and does not queue the conversation again.
	d := routing.Waiting{ConversationID: fmt.Sprintf("life-d%d", run), Queue: queue, Priority: routing.Normal, EnqueuedAt: time.Now()}
	escalated(t, convs, db, d.ConversationID)
	if err := store.Enqueue(ctx, d, time.Now()); err != nil {
		t.Fatal(err)
	}
	// b is ahead in the queue but refused by this agent; d is offered.
	if res, err := store.Offer(ctx, d, agentID, "o-d", time.Now().Add(time.Minute), time.Now()); err != nil || res != routing.Offered {
		t.Fatalf("offer d: %v %v", res, err)
	}
	if _, err := convs.Close(ctx, d.ConversationID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Release(ctx, d.ConversationID, agentID, "o-d", routing.Lapsed, time.Now()); err != nil || !ok {
		t.Fatalf("lapse of an ended conversation's offer: %v %v", ok, err)
	}
	if active := activeOf(t, db, agentID); active != 0 {
		t.Fatalf("active after the ended conversation's offer lapsed = %d, want 0", active)
	}
	if w, _ := store.Waiting(ctx, queue); slices.ContainsFunc(w, func(x routing.Waiting) bool { return x.ConversationID == d.ConversationID }) {
		t.Fatalf("the ended conversation was queued again: %+v", w)
	}
}

// TestMoveOverflowsOnlyFromWhereItWaits: Move takes a waiting conversation
// to another queue with its place by arrival and a fresh QueuedAt; a
// second Move from the old place (another router's stale read) is refused.
func TestMoveOverflowsOnlyFromWhereItWaits(t *testing.T) {
	store, convs, _, db := routingStore()
	ctx := context.Background()
	run := time.Now().UnixNano()
	from, to := fmt.Sprintf("from%d", run), fmt.Sprintf("to%d", run)
	id := fmt.Sprintf("move%d", run)
	escalated(t, convs, db, id)
	arrived := time.Now().Add(-time.Hour)
	w := routing.Waiting{ConversationID: id, Queue: from, Priority: routing.High, EnqueuedAt: arrived}
	if err := store.Enqueue(ctx, w, arrived); err != nil {
		t.Fatal(err)
	}
	moveAt := time.Now()
	if ok, err := store.Move(ctx, w, to, moveAt); err != nil || !ok {
		t.Fatalf("move: %v %v", ok, err)
	}
	if ok, err := store.Move(ctx, w, "elsewhere", moveAt); err != nil || ok {
		t.Fatalf("a second move from the old queue: %v %v, want refused", ok, err)
	}
	old, err := store.Waiting(ctx, from)
	if err != nil || len(old) != 0 {
		t.Fatalf("the old queue still lists %+v (%v)", old, err)
	}
	got, err := store.Waiting(ctx, to)
	if err != nil || len(got) != 1 || got[0].Priority != routing.High || got[0].EnqueuedAt.Sub(arrived).Abs() > time.Millisecond || got[0].QueuedAt.Sub(moveAt).Abs() > time.Millisecond {
		t.Fatalf("the new queue lists %+v (%v), want the conversation with its priority, arrival and a new QueuedAt", got, err)
	}
}

// conflictOnce is the emulator, except that its first transaction is
// cancelled by a conflict, as DynamoDB cancels one of two transactions
// writing one item at the same time.
type conflictOnce struct {
	*dynamodb.Client
	done bool
}

func (c *conflictOnce) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if !c.done {
		c.done = true
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]"),
			CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")}}}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// TestALapseCancelledByAConflictIsTriedAgain (issue 17): two offers to one
// agent lapse at the same moment, so the two releases write the agent's
// item at once and DynamoDB cancels one with TransactionConflict. That
// release is tried again: the conversation waits again and the agent's
// capacity comes back. It was taken for "released meanwhile": the
// conversation stayed offered to an agent set away.
func TestALapseCancelledByAConflictIsTriedAgain(t *testing.T) {
	store, convs, agents, db := routingStore()
	ctx := context.Background()
	run := time.Now().UnixNano()
	queue, agentID, id := fmt.Sprintf("conf%d", run), fmt.Sprintf("conf-ag%d", run), fmt.Sprintf("conf-c%d", run)
	if err := agents.SaveProfile(ctx, agent.Identity{AgentID: agentID, Name: "Ana", Roles: []agent.Role{agent.RoleAgent}, Skills: []string{queue}, Capacity: 2}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := agents.SetPresence(ctx, agentID, agent.Available, time.Now()); err != nil {
		t.Fatal(err)
	}
	escalated(t, convs, db, id)
	w := routing.Waiting{ConversationID: id, Queue: queue, Priority: routing.Urgent, EnqueuedAt: time.Now()}
	if err := store.Enqueue(ctx, w, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, err := store.Offer(ctx, w, agentID, "o-"+id, time.Now().Add(time.Minute), time.Now()); err != nil || res != routing.Offered {
		t.Fatalf("offer: %v %v", res, err)
	}
	t2 := env.Outputs.Tables
	conflicted := ddb.NewRouting(&conflictOnce{Client: db}, t2["ConversationsTable"], t2["MessagesTable"], t2["AgentsTable"])
	if ok, err := conflicted.Release(ctx, id, agentID, "o-"+id, routing.Lapsed, time.Now()); err != nil || !ok {
		t.Fatalf("release after a conflict: %v %v, want it released", ok, err)
	}
	if waiting, err := store.Waiting(ctx, queue); err != nil || len(waiting) != 1 || waiting[0].ConversationID != id {
		t.Fatalf("after the lapse the queue is %+v (%v), want the conversation waiting again", waiting, err)
	}
	if active := activeOf(t, db, agentID); active != 0 {
		t.Fatalf("active after the lapse = %d, want 0", active)
	}
}

// routingFixture is ddb.Routing on the emulator's tables, with what the
// routing.Store contract needs to set its scene.
type routingFixture struct {
	*ddb.Routing
	convs  *ddb.Conversations
	agents *ddb.Agents
	db     *dynamodb.Client
}

func (f routingFixture) AddAgent(t *testing.T, id, queue string, capacity int) {
	t.Helper()
	ctx := context.Background()
	if err := f.agents.SaveProfile(ctx, agent.Identity{AgentID: id, Name: id, Roles: []agent.Role{agent.RoleAgent}, Skills: []string{queue}, Capacity: capacity}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.agents.SetPresence(ctx, id, agent.Available, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func (f routingFixture) AddEscalated(t *testing.T, id string) { escalated(t, f.convs, f.db, id) }

func (f routingFixture) EndConversation(t *testing.T, id string) {
	t.Helper()
	if _, err := f.convs.Close(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func (f routingFixture) Active(t *testing.T, agentID string) int { return activeOf(t, f.db, agentID) }

// TestRoutingKeepsTheStoreContract: the DynamoDB store passes the suite
// the routing service's in-memory store passes (routingtest).
func TestRoutingKeepsTheStoreContract(t *testing.T) {
	routingtest.StoreContract(t, func(*testing.T) routingtest.Store {
		store, convs, agents, db := routingStore()
		return routingFixture{Routing: store, convs: convs, agents: agents, db: db}
	})
}
