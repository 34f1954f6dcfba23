package ddb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/routing"
)

// ByQueueIndex is the conversations table's sparse index of waiting
// conversations: waitQueue, then waitKey (priority rank, arrival, id), so
// a query reads a queue in the order routing serves it.
const ByQueueIndex = "byQueue"

// Routing is the routing functions' view of the conversations and agents
// tables: who waits, who can take them, and the transaction that offers
// one to the other.
type Routing struct {
	api      API
	convs    string
	messages string
	agents   string
}

// NewRouting returns the routing store. It writes the messages table only
// to end a conversation's message sequence when an agent closes it.
func NewRouting(api API, conversationsTable, messagesTable, agentsTable string) *Routing {
	return &Routing{api: api, convs: conversationsTable, messages: messagesTable, agents: agentsTable}
}

// waitKey sorts a queue: rank, arrival (fixed-width UTC), conversation id.
func waitKey(w routing.Waiting) string {
	return strconv.Itoa(routing.Rank(w.Priority)) + "#" + sortable(w.EnqueuedAt) + "#" + w.ConversationID
}

// sortable formats a time with a fixed width, so that string order is
// time order in keys and conditions (RFC 3339 with trimmed fractions is
// not).
// freeOne gives an agent back one conversation's capacity, never below
// zero.
var freeOne = must(expression.NewBuilder().WithUpdate(expression.Add(expression.Name("active"), expression.Value(-1))).
	WithCondition(expression.Name("active").GreaterThan(expression.Value(0))).Build())

// updateItem is one conditional update of a transaction.
func updateItem(table string, key map[string]types.AttributeValue, e expression.Expression) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &table, Key: key, UpdateExpression: e.Update(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}}
}

func sortable(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

type waitingItem struct {
	ConversationID string   `dynamodbav:"conversationId"`
	Queue          string   `dynamodbav:"waitQueue"`
	Key            string   `dynamodbav:"waitKey"`
	Priority       string   `dynamodbav:"waitPriority"`
	Language       string   `dynamodbav:"waitLanguage"`
	EnqueuedAt     string   `dynamodbav:"enqueuedAt"`
	QueuedAt       string   `dynamodbav:"queuedAt,omitempty"`
	Refused        []string `dynamodbav:"refused,omitempty,stringset"`
}

func (it waitingItem) domain() routing.Waiting {
	at, _ := time.Parse(timeLayout, it.EnqueuedAt)
	queued, _ := time.Parse(timeLayout, it.QueuedAt)
	return routing.Waiting{ConversationID: it.ConversationID, Queue: it.Queue, Priority: it.Priority, Language: it.Language, EnqueuedAt: at, QueuedAt: queued, Refused: it.Refused}
}

// Enqueue moves an escalated conversation to waiting in its queue, once: a
// conversation no longer escalated (nor waiting at this very place) is a
// fault.Conflict (a handoff already routed and offered).
func (r *Routing) Enqueue(ctx context.Context, w routing.Waiting, now time.Time) error {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("state"), expression.Value(string(chat.StateWaiting))).
			Set(expression.Name("waitQueue"), expression.Value(w.Queue)).
			Set(expression.Name("routedQueue"), expression.Value(w.Queue)).
			Set(expression.Name("waitKey"), expression.Value(waitKey(w))).
			Set(expression.Name("waitPriority"), expression.Value(w.Priority)).
			Set(expression.Name("waitLanguage"), expression.Value(w.Language)).
			Set(expression.Name("enqueuedAt"), expression.Value(w.EnqueuedAt.UTC().Format(timeLayout))).
			Set(expression.Name("queuedAt"), expression.Value(now.UTC().Format(timeLayout))).
			Set(expression.Name("updatedAt"), expression.Value(now.UTC().Format(timeLayout)))).
		// Waiting at the same place already: a retry of this very write,
		// whose answer was lost, succeeds again rather than conflicting.
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateEscalated))).
			Or(expression.Name("state").Equal(expression.Value(string(chat.StateWaiting))).
				And(expression.Name("waitQueue").Equal(expression.Value(w.Queue))).
				And(expression.Name("waitKey").Equal(expression.Value(waitKey(w)))))).
		Build())
	queued, err := updateIf(ctx, r.api, r.convs, convKey(w.ConversationID), expr, "enqueueing conversation")
	if err == nil && !queued {
		err = fault.Errorf(fault.Conflict, "the conversation is not escalated")
	}
	return err
}

// Waiting lists a queue's waiting conversations in serving order. The
// index is eventually consistent: a conversation offered a moment ago may
// still be listed, and the offer's transaction refuses it.
func (r *Routing) Waiting(ctx context.Context, queue string) ([]routing.Waiting, error) {
	return queryEqual[waitingItem, routing.Waiting](ctx, r.api, r.convs, ByQueueIndex, "waitQueue", queue)
}

// AllWaiting returns every queue's waiting conversations, by queue name,
// each queue's in serving order: one scan of the sparse byQueue index,
// which holds only the waiting conversations (a page or two at most),
// rather than a query per queue (DynamoDB developer guide, "Take
// advantage of sparse indexes").
func (r *Routing) AllWaiting(ctx context.Context) ([]routing.Waiting, error) {
	index := ByQueueIndex
	items, err := scanAll[waitingItem](ctx, r.api, &dynamodb.ScanInput{TableName: &r.convs, IndexName: &index})
	if err != nil {
		return nil, fmt.Errorf("listing the waiting conversations: %w", err)
	}
	slices.SortFunc(items, func(a, b waitingItem) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return domains[waitingItem, routing.Waiting](items), nil
}

// routableItem is what routing reads of an agent.
type routableItem struct {
	AgentID   string   `dynamodbav:"agentId"`
	Presence  string   `dynamodbav:"presence"`
	Skills    []string `dynamodbav:"skills"`
	Languages []string `dynamodbav:"languages"`
	Capacity  int      `dynamodbav:"capacity"`
	Active    int      `dynamodbav:"active"`
	IdleSince string   `dynamodbav:"idleSince"`
}

// AvailableAgents lists the agents whose presence is available (a
// strongly consistent scan: a center has tens to hundreds of agents).
func (r *Routing) AvailableAgents(ctx context.Context) ([]routing.Agent, error) {
	expr := must(expression.NewBuilder().WithFilter(expression.Name("presence").Equal(expression.Value(string(agent.Available)))).Build())
	items, err := scanAll[routableItem](ctx, r.api, &dynamodb.ScanInput{TableName: &r.agents, ConsistentRead: boolPtr(true), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	out := make([]routing.Agent, 0, len(items))
	for _, it := range items {
		idle, _ := time.Parse(timeLayout, it.IdleSince)
		out = append(out, routing.Agent{ID: it.AgentID, Available: it.Presence == string(agent.Available), Skills: it.Skills,
			Languages: it.Languages, Capacity: it.Capacity, Active: it.Active, IdleSince: idle})
	}
	return out, nil
}

// Offer makes an offer stick, in one transaction: the conversation is
// still waiting in the same place (so no other router offered it), and the
// agent is still available and below capacity (so no other router filled
// them). The conversation leaves its queue and records the offer; the
// agent's active count grows by one.
func (r *Routing) Offer(ctx context.Context, w routing.Waiting, agentID, offerID string, expiresAt, now time.Time) (routing.OfferResult, error) {
	at := now.UTC().Format(timeLayout)
	conv := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("state"), expression.Value(string(chat.StateOffered))).
			Set(expression.Name("offerAgent"), expression.Value(agentID)).
			Set(expression.Name("offerId"), expression.Value(offerID)).
			Set(expression.Name("offerExpiresAt"), expression.Value(sortable(expiresAt))).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			// In the agent's index while offered too (Offered), so a
			// console that reloads gets its offer back.
			Set(expression.Name("heldBy"), expression.Value(agentID)).
			Set(expression.Name("heldSince"), expression.Value(sortable(now)+"#"+w.ConversationID)).
			Remove(expression.Name("waitQueue")).
			Remove(expression.Name("waitKey"))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateWaiting))).
			And(expression.Name("waitQueue").Equal(expression.Value(w.Queue))).
			And(expression.Name("waitKey").Equal(expression.Value(waitKey(w))))).
		Build())
	ag := must(expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("active"), expression.Value(1)).
			Set(expression.Name("idleSince"), expression.Value(at))).
		WithCondition(expression.Name("presence").Equal(expression.Value(string(agent.Available))).
			And(expression.Name("active").LessThan(expression.Name("capacity")))).
		Build())
	_, err := r.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &r.convs, Key: convKey(w.ConversationID), UpdateExpression: conv.Update(),
			ConditionExpression: conv.Condition(), ExpressionAttributeNames: conv.Names(), ExpressionAttributeValues: conv.Values()}},
		{Update: &types.Update{TableName: &r.agents, Key: agentKey(agentID), UpdateExpression: ag.Update(),
			ConditionExpression: ag.Condition(), ExpressionAttributeNames: ag.Names(), ExpressionAttributeValues: ag.Values()}},
	}})
	if err == nil {
		return routing.Offered, nil
	}
	reasons := cancelReasons(err)
	if reasons == nil {
		return routing.Stale, fmt.Errorf("offering conversation: %w", err)
	}
	result := routing.Stale
	for _, code := range reasons {
		switch code {
		case "", "None", "ConditionalCheckFailed":
		case "TransactionConflict":
			result = routing.Contended
		default:
			return routing.Stale, fmt.Errorf("offering conversation: cancelled (%v): %w", reasons, err)
		}
	}
	if result == routing.Stale && !slices.Contains(reasons, "ConditionalCheckFailed") {
		return routing.Stale, fmt.Errorf("offering conversation: cancelled (%v): %w", reasons, err)
	}
	return result, nil
}

// offerItem is a conversation as offer transitions read it.
type offerItem struct {
	ConversationID string   `dynamodbav:"conversationId"`
	State          string   `dynamodbav:"state"`
	Queue          string   `dynamodbav:"routedQueue"`
	Priority       string   `dynamodbav:"waitPriority"`
	Language       string   `dynamodbav:"waitLanguage"`
	EnqueuedAt     string   `dynamodbav:"enqueuedAt"`
	Refused        []string `dynamodbav:"refused,omitempty,stringset"`
	OfferAgent     string   `dynamodbav:"offerAgent"`
	OfferID        string   `dynamodbav:"offerId"`
	OfferExpiresAt string   `dynamodbav:"offerExpiresAt"`
	AgentID        string   `dynamodbav:"agentId"`
}

// domain is the pending offer the item carries, if any.
func (it offerItem) domain() routing.OfferCheck {
	return routing.OfferCheck{ConversationID: it.ConversationID, AgentID: it.OfferAgent, OfferID: it.OfferID}
}

// leave is the transaction in which an agent lets go of a conversation
// they hold: upd applied to it, the agent's fields removed, on condition
// that they hold it, and their capacity freed.
func (r *Routing) leave(conversationID, agentID string, upd expression.UpdateBuilder) []types.TransactWriteItem {
	conv := must(expression.NewBuilder().
		WithUpdate(upd.
			Remove(expression.Name("agentId")).
			Remove(expression.Name("agentName")).
			Remove(expression.Name("heldBy")).
			Remove(expression.Name("heldSince"))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateAssigned))).
			And(expression.Name("agentId").Equal(expression.Value(agentID)))).
		Build())
	return []types.TransactWriteItem{
		updateItem(r.convs, convKey(conversationID), conv),
		updateItem(r.agents, agentKey(agentID), freeOne), // freeOne: shared, read-only
	}
}

func (r *Routing) offerOf(ctx context.Context, id string) (offerItem, error) {
	return getItem[offerItem](ctx, r.api, r.convs, convKey(id), "conversation")
}

// Accept makes an agent's offer an assignment: the conversation must be
// offered to them and the offer not expired. Accepting twice (a retry) is
// not an error.
func (r *Routing) Accept(ctx context.Context, conversationID, agentID, agentName string, now time.Time) (chat.Conversation, error) {
	at := now.UTC().Format(timeLayout)
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("state"), expression.Value(string(chat.StateAssigned))).
			Set(expression.Name("agentId"), expression.Value(agentID)).
			Set(expression.Name("agentName"), expression.Value(agentName)).
			Set(expression.Name("assignedAt"), expression.Value(at)).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			// In the agent's held conversations (byAgent) until wrap-up.
			Set(expression.Name("heldBy"), expression.Value(agentID)).
			Set(expression.Name("heldSince"), expression.Value(sortable(now)+"#"+conversationID)).
			Remove(expression.Name("offerAgent")).
			Remove(expression.Name("offerId")).
			Remove(expression.Name("offerExpiresAt"))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateOffered))).
			And(expression.Name("offerAgent").Equal(expression.Value(agentID))).
			And(expression.Name("offerExpiresAt").GreaterThan(expression.Value(sortable(now))))).
		Build())
	c, failed, err := updateNew[conversationItem, chat.Conversation](ctx, r.api, r.convs, convKey(conversationID), expr)
	if failed {
		it, rerr := r.offerOf(ctx, conversationID)
		if rerr != nil {
			return chat.Conversation{}, rerr
		}
		if it.State == string(chat.StateAssigned) && it.AgentID == agentID {
			return NewConversations(r.api, r.convs, r.messages).Get(ctx, conversationID)
		}
		if it.State == string(chat.StateOffered) && it.OfferAgent == agentID {
			return chat.Conversation{}, fault.Errorf(fault.Conflict, "the offer has expired")
		}
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation is not offered to you")
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("accepting offer: %w", err)
	}
	return c, nil
}

// HandBack gives an agent's conversation back to the bot: on condition
// that the agent holds it, the conversation returns to bot state with the
// dialog state it resumes in, and the agent's capacity is freed, in one
// transaction.
func (r *Routing) HandBack(ctx context.Context, conversationID, agentID, botState string, now time.Time) (chat.Conversation, error) {
	at := now.UTC().Format(timeLayout)
	_, err := r.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: r.leave(conversationID, agentID,
		expression.Set(expression.Name("state"), expression.Value(string(chat.StateBot))).
			Set(expression.Name("botState"), expression.Value(botState)).
			Set(expression.Name("updatedAt"), expression.Value(at)))})
	if cancelReasons(err) != nil {
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation is not yours to hand back")
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("handing the conversation back to the bot: %w", err)
	}
	return NewConversations(r.api, r.convs, r.messages).Get(ctx, conversationID)
}

// Release takes back an offer: the conversation waits again at its old
// place and the agent's capacity is freed. One declined or let lapse is
// never offered to that agent again (the conversation's refused set), and a
// lapsed one also sets the silent agent away; one no console took is
// neither. offerID, when set, must be the current
// offer's (an expiry check of an older offer does nothing). It reports
// whether there was such an offer to release.
func (r *Routing) Release(ctx context.Context, conversationID, agentID, offerID string, why routing.ReleaseReason, now time.Time) (bool, error) {
	// Two offers to one agent lapsing at once both write the agent's item:
	// DynamoDB cancels one with TransactionConflict. That one is tried
	// again; taking it for "released meanwhile" left the conversation
	// offered to an agent set away, and the agent's capacity held.
	for attempt := 0; ; attempt++ {
		released, conflict, err := r.release(ctx, conversationID, agentID, offerID, why, now)
		if !conflict || attempt == 4 {
			if conflict {
				return false, fmt.Errorf("releasing offer: the agent's item kept conflicting")
			}
			return released, err
		}
		time.Sleep(time.Duration(rand.IntN(10*(attempt+1))) * time.Millisecond)
	}
}

// release tries the release once; conflict says another transaction on
// the same items won, and it is worth trying again.
func (r *Routing) release(ctx context.Context, conversationID, agentID, offerID string, why routing.ReleaseReason, now time.Time) (released, conflict bool, err error) {
	it, err := r.offerOf(ctx, conversationID)
	if err != nil {
		return false, false, err
	}
	closed := it.State == string(chat.StateClosed)
	if (it.State != string(chat.StateOffered) && !closed) || it.OfferAgent != agentID || (offerID != "" && it.OfferID != offerID) {
		return false, false, nil
	}
	enq, _ := time.Parse(timeLayout, it.EnqueuedAt)
	w := routing.Waiting{ConversationID: conversationID, Queue: it.Queue, Priority: it.Priority, Language: it.Language, EnqueuedAt: enq}
	at := now.UTC().Format(timeLayout)
	// The patient may have ended the conversation while it was offered:
	// then only the agent's capacity comes back.
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(at)).
		Remove(expression.Name("offerAgent")).
		Remove(expression.Name("offerId")).
		Remove(expression.Name("offerExpiresAt")).
		Remove(expression.Name("heldBy")).
		Remove(expression.Name("heldSince"))
	if !closed {
		upd = upd.Set(expression.Name("state"), expression.Value(string(chat.StateWaiting))).
			Set(expression.Name("waitQueue"), expression.Value(w.Queue)).
			Set(expression.Name("waitKey"), expression.Value(waitKey(w)))
		if why == routing.Declined || why == routing.Lapsed {
			upd = upd.Add(expression.Name("refused"), expression.Value(&types.AttributeValueMemberSS{Value: []string{agentID}}))
		}
	}
	conv := must(expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.Name("state").Equal(expression.Value(it.State)).
			And(expression.Name("offerAgent").Equal(expression.Value(agentID))).
			And(expression.Name("offerId").Equal(expression.Value(it.OfferID)))).
		Build())
	agUpd := expression.Add(expression.Name("active"), expression.Value(-1))
	if why == routing.Lapsed {
		agUpd = agUpd.Set(expression.Name("presence"), expression.Value(string(agent.Away))).
			Set(expression.Name("presenceSince"), expression.Value(at))
	}
	ag := must(expression.NewBuilder().WithUpdate(agUpd).
		WithCondition(expression.Name("active").GreaterThan(expression.Value(0))).Build())
	_, err = r.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		updateItem(r.convs, convKey(conversationID), conv),
		updateItem(r.agents, agentKey(agentID), ag),
	}})
	if reasons := cancelReasons(err); reasons != nil {
		// The offer changed (accepted, released or expired meanwhile, or
		// a retry of ours), unless only a conflict cancelled it.
		return false, !failedAt(reasons, 0) && !failedAt(reasons, 1) && slices.Contains(reasons, "TransactionConflict"), nil
	}
	if err != nil {
		return false, false, fmt.Errorf("releasing offer: %w", err)
	}
	return true, false, nil
}

// Finish closes a conversation the agent holds and frees their capacity,
// in one transaction. Closing twice (a retry) is not an error.
func (r *Routing) Finish(ctx context.Context, conversationID, agentID, disposition string, steps []string, now time.Time) (chat.Conversation, error) {
	at := now.UTC().Format(timeLayout)
	wrapUp := expression.Set(expression.Name("state"), expression.Value(string(chat.StateClosed)))
	if len(steps) > 0 {
		wrapUp = wrapUp.Set(expression.Name("scriptSteps"), expression.Value(steps))
	}
	conv := must(expression.NewBuilder().
		WithUpdate(wrapUp.
			Set(expression.Name("disposition"), expression.Value(disposition)).
			Set(expression.Name("closedAt"), expression.Value(at)).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			Remove(expression.Name("heldBy")).
			Remove(expression.Name("heldSince"))).
		// Assigned, or ended by the patient and not yet wrapped up.
		WithCondition(expression.Name("agentId").Equal(expression.Value(agentID)).
			And(expression.AttributeNotExists(expression.Name("disposition"))).
			And(expression.Name("state").Equal(expression.Value(string(chat.StateAssigned))).
				Or(expression.Name("state").Equal(expression.Value(string(chat.StateClosed)))))).
		Build())
	ag := freeOne // a shared, read-only expression
	convs := NewConversations(r.api, r.convs, r.messages)
	var err error
	for attempt := 0; attempt < maxAppendAttempts; attempt++ {
		// Unless the patient ended it first, the close also ends the
		// message sequence, so no message lands after it.
		marker, merr := convs.endOfSequence(ctx, conversationID, now)
		if merr != nil {
			return chat.Conversation{}, merr
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: &r.convs, Key: convKey(conversationID), UpdateExpression: conv.Update(),
				ConditionExpression: conv.Condition(), ExpressionAttributeNames: conv.Names(), ExpressionAttributeValues: conv.Values()}},
			{Update: &types.Update{TableName: &r.agents, Key: agentKey(agentID), UpdateExpression: ag.Update(),
				ConditionExpression: ag.Condition(), ExpressionAttributeNames: ag.Names(), ExpressionAttributeValues: ag.Values()}},
		}
		if marker != nil {
			items = append(items, *marker)
		}
		_, err = r.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons := cancelReasons(err)
		if reasons == nil || failedAt(reasons, 0) || failedAt(reasons, 1) {
			break // done, or not the caller's to close (decided below)
		}
		// A message took the marker's slot, or another transaction was on
		// one of the items: read again and retry.
		time.Sleep(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
	reasons := cancelReasons(err)
	switch {
	case err != nil && reasons == nil:
		return chat.Conversation{}, fmt.Errorf("closing conversation: %w", err)
	case reasons != nil && !failedAt(reasons, 0) && !failedAt(reasons, 1):
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "too many concurrent changes; try again")
	}
	c, err := convs.Get(ctx, conversationID)
	if err != nil {
		return chat.Conversation{}, err
	}
	if reasons != nil && (c.State != chat.StateClosed || c.AgentID != agentID || c.Disposition == "") {
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation is not yours to close")
	}
	// Closed now, or already by this agent (a retry of ours).
	return c, nil
}

// Transfer moves a conversation the agent holds back to waiting, in
// another queue (keeping its priority and arrival, so it does not lose its
// turn), and frees the agent's capacity, in one transaction.
func (r *Routing) Transfer(ctx context.Context, conversationID, agentID, queue string, note chat.Transfer, now time.Time) (routing.Waiting, error) {
	it, err := r.offerOf(ctx, conversationID)
	if err != nil {
		return routing.Waiting{}, err
	}
	if it.State != string(chat.StateAssigned) || it.AgentID != agentID {
		return routing.Waiting{}, fault.Errorf(fault.Forbidden, "this conversation is not assigned to you")
	}
	enq, _ := time.Parse(timeLayout, it.EnqueuedAt)
	if enq.IsZero() {
		enq = now
	}
	w := routing.Waiting{ConversationID: conversationID, Queue: queue, Priority: it.Priority, Language: it.Language, EnqueuedAt: enq}
	if w.Priority == "" {
		w.Priority = routing.Normal
	}
	at := now.UTC().Format(timeLayout)
	// The transfer's note replaces an earlier one whole.
	transfer := expression.Set(expression.Name("transferBy"), expression.Value(note.By)).
		Set(expression.Name("transferTo"), expression.Value(note.To)).
		Set(expression.Name("transferAt"), expression.Value(at))
	if note.Reason != "" {
		transfer = transfer.Set(expression.Name("transferReason"), expression.Value(note.Reason))
	} else {
		transfer = transfer.Remove(expression.Name("transferReason"))
	}
	_, err = r.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: r.leave(conversationID, agentID,
		transfer.Set(expression.Name("state"), expression.Value(string(chat.StateWaiting))).
			Set(expression.Name("waitQueue"), expression.Value(queue)).
			Set(expression.Name("routedQueue"), expression.Value(queue)).
			Set(expression.Name("waitKey"), expression.Value(waitKey(w))).
			Set(expression.Name("waitPriority"), expression.Value(w.Priority)).
			Set(expression.Name("enqueuedAt"), expression.Value(enq.UTC().Format(timeLayout))).
			Set(expression.Name("queuedAt"), expression.Value(at)).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			Add(expression.Name("refused"), expression.Value(&types.AttributeValueMemberSS{Value: []string{agentID}})))})
	if cancelReasons(err) != nil {
		return routing.Waiting{}, fault.Errorf(fault.Conflict, "the conversation changed; try again")
	}
	if err != nil {
		return routing.Waiting{}, fmt.Errorf("transferring conversation: %w", err)
	}
	return w, nil
}

// Move puts a waiting conversation in another queue (an overflow), keeping
// its priority and arrival, on condition that it still waits at the same
// place: an offer or another router's move since it was read wins, and
// Move reports false.
func (r *Routing) Move(ctx context.Context, w routing.Waiting, queue string, now time.Time) (bool, error) {
	at := now.UTC().Format(timeLayout)
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("waitQueue"), expression.Value(queue)).
			Set(expression.Name("routedQueue"), expression.Value(queue)).
			Set(expression.Name("overflowedFrom"), expression.Value(w.Queue)).
			Set(expression.Name("queuedAt"), expression.Value(at)).
			Set(expression.Name("updatedAt"), expression.Value(at))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateWaiting))).
			And(expression.Name("waitQueue").Equal(expression.Value(w.Queue))).
			And(expression.Name("waitKey").Equal(expression.Value(waitKey(w))))).
		Build())
	return updateIf(ctx, r.api, r.convs, convKey(w.ConversationID), expr, "moving conversation to queue "+queue)
}

// HeldIndex is the conversations table's sparse index of held
// conversations: heldBy (the agent), heldSince.
const HeldIndex = "byAgent"

// Held lists the conversations the agent holds (accepted and not yet
// wrapped up, including those the patient ended), oldest first. The index
// is eventually consistent, so each is read again and one no longer held
// is left out.
func (r *Routing) Held(ctx context.Context, agentID string) ([]chat.Conversation, error) {
	return r.byAgent(ctx, agentID, func(c chat.Conversation) bool {
		return c.AgentID == agentID && c.Disposition == "" && (c.State == chat.StateAssigned || c.State == chat.StateClosed)
	})
}

// Offered lists the conversations offered to the agent and not yet
// accepted, released or lapsed, oldest first.
func (r *Routing) Offered(ctx context.Context, agentID string) ([]chat.Conversation, error) {
	return r.byAgent(ctx, agentID, func(c chat.Conversation) bool { return c.State == chat.StateOffered && c.OfferedTo == agentID })
}

// byAgent reads the conversations the agent's index lists, each again
// (the index is eventually consistent), keeping those that still are.
func (r *Routing) byAgent(ctx context.Context, agentID string, keep func(chat.Conversation) bool) ([]chat.Conversation, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("heldBy").Equal(expression.Value(agentID))).Build())
	keys, err := queryAll[struct {
		ID string `dynamodbav:"conversationId"`
	}](ctx, r.api, &dynamodb.QueryInput{
		TableName: &r.convs, IndexName: stringPtr(HeldIndex), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, err
	}
	convs := NewConversations(r.api, r.convs, r.messages)
	out := make([]chat.Conversation, 0, len(keys))
	for _, k := range keys {
		c, err := convs.Get(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		if keep(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// MarkAlerted records, once, that supervisors were alerted about a
// conversation still waiting: true the first time, false after (or when
// it no longer waits).
func (r *Routing) MarkAlerted(ctx context.Context, conversationID string, now time.Time) (bool, error) {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("waitAlertedAt"), expression.Value(now.UTC().Format(timeLayout)))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateWaiting))).
			And(expression.AttributeNotExists(expression.Name("waitAlertedAt")))).
		Build())
	return updateIf(ctx, r.api, r.convs, convKey(conversationID), expr, "marking the waiting alert of "+conversationID)
}
