package ddb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// Conversations stores conversations (one item each, keyed by
// conversationId) and their messages (keyed by conversationId and sk, where
// sk is the message id, or "c#"+clientMessageId for the item that makes a
// resend idempotent).
//
// The message items are their own sequence: a message is put at the slot
// after the last one only if that slot is empty, so two writers never take
// one number, numbers have no gaps, and a message is never stored behind
// one a reader has already seen. A closed conversation's sequence ends
// with a closing marker in the next slot, so nothing can be appended after
// it. Storing a message thus writes nothing to the conversation item (and
// wakes none of its stream's consumers).
type Conversations struct {
	api      API
	convs    string
	messages string
}

var _ chat.Conversations = (*Conversations)(nil)

// NewConversations returns a store on the two tables.
func NewConversations(api API, conversationsTable, messagesTable string) *Conversations {
	return &Conversations{api: api, convs: conversationsTable, messages: messagesTable}
}

type conversationItem struct {
	ConversationID string        `dynamodbav:"conversationId"`
	PatientID      string        `dynamodbav:"patientId"`
	PatientName    string        `dynamodbav:"patientName"`
	Topic          string        `dynamodbav:"topic,omitempty"`
	Locale         string        `dynamodbav:"locale"`
	State          string        `dynamodbav:"state"`
	BotState       string        `dynamodbav:"botState,omitempty"`
	Handoff        *chat.Handoff `dynamodbav:"handoff,omitempty"`
	AgentID        string        `dynamodbav:"agentId,omitempty"`
	AgentName      string        `dynamodbav:"agentName,omitempty"`
	OfferAgent     string        `dynamodbav:"offerAgent,omitempty"`     // written by routing's offer
	OfferExpiresAt string        `dynamodbav:"offerExpiresAt,omitempty"` // sortable (routing.go)
	Disposition    string        `dynamodbav:"disposition,omitempty"`
	PatientEmail   string        `dynamodbav:"patientEmail,omitempty"`
	Identity       string        `dynamodbav:"identity,omitempty"`
	VerifiedEmail  string        `dynamodbav:"verifiedEmail,omitempty"`
	VerifiedAt     string        `dynamodbav:"verifiedAt,omitempty"`
	TranscriptAt   string        `dynamodbav:"transcriptSentAt,omitempty"`
	RoutedQueue    string        `dynamodbav:"routedQueue,omitempty"`
	// The last transfer: who handed it on, why, to which queue or agent.
	TransferBy     string `dynamodbav:"transferBy,omitempty"`
	TransferReason string `dynamodbav:"transferReason,omitempty"`
	TransferTo     string `dynamodbav:"transferTo,omitempty"`
	TransferAt     string `dynamodbav:"transferAt,omitempty"`
	// Supervisors monitoring it, and those of them who joined it.
	Watchers   []string `dynamodbav:"watchers,omitempty,stringset"`
	AssignedAt string   `dynamodbav:"assignedAt,omitempty"`
	Barged     []string `dynamodbav:"barged,omitempty,stringset"`
	// Answered is the patient message id the bot's last turn answered
	// (turnKey), AnsweredBy its reply: a turn's idempotency.
	Answered   string `dynamodbav:"answered,omitempty"`
	AnsweredBy string `dynamodbav:"answeredBy,omitempty"`
	CreatedAt  string `dynamodbav:"createdAt"`
	UpdatedAt  string `dynamodbav:"updatedAt"`
	ExpiresAt  int64  `dynamodbav:"expiresAt"`
}

type messageItem struct {
	ConversationID  string   `dynamodbav:"conversationId"`
	SK              string   `dynamodbav:"sk"`
	Seq             int64    `dynamodbav:"seq"`
	ClientMessageID string   `dynamodbav:"clientMessageId,omitempty"`
	Role            string   `dynamodbav:"role"`
	SenderName      string   `dynamodbav:"senderName,omitempty"`
	Text            string   `dynamodbav:"text"`
	QuickReplies    []string `dynamodbav:"quickReplies,omitempty"`
	At              string   `dynamodbav:"at"`
	ExpiresAt       int64    `dynamodbav:"expiresAt"`
	// Closed marks the closing marker: the slot after a closed
	// conversation's last message, never shown as a message.
	Closed bool `dynamodbav:"closed,omitempty"`
}

// dedupeItem maps a client message id to the stored message.
type dedupeItem struct {
	ConversationID string `dynamodbav:"conversationId"`
	SK             string `dynamodbav:"sk"`
	MessageID      string `dynamodbav:"messageId"`
	ExpiresAt      int64  `dynamodbav:"expiresAt"`
}

const timeLayout = time.RFC3339Nano

func toConversationItem(c chat.Conversation) conversationItem {
	return conversationItem{
		ConversationID: c.ID, PatientID: c.PatientID, PatientName: c.PatientName, Topic: c.Topic, Locale: c.Locale,
		State: string(c.State), BotState: c.BotState, Handoff: c.Handoff, CreatedAt: c.CreatedAt.UTC().Format(timeLayout),
		UpdatedAt: c.UpdatedAt.UTC().Format(timeLayout), ExpiresAt: c.ExpiresAt.Unix(),
	}
}

func (it conversationItem) domain() chat.Conversation {
	created, _ := time.Parse(timeLayout, it.CreatedAt)
	updated, _ := time.Parse(timeLayout, it.UpdatedAt)
	var transfer *chat.Transfer
	if it.TransferBy != "" {
		at, _ := time.Parse(timeLayout, it.TransferAt)
		transfer = &chat.Transfer{By: it.TransferBy, Reason: it.TransferReason, To: it.TransferTo, At: at}
	}
	return chat.Conversation{Transfer: transfer,
		ID: it.ConversationID, PatientID: it.PatientID, PatientName: it.PatientName, Topic: it.Topic, Locale: it.Locale,
		State: chat.State(it.State), BotState: it.BotState, Handoff: it.Handoff, AgentID: it.AgentID, AgentName: it.AgentName, OfferedTo: it.OfferAgent, OfferExpiresAt: parseTime(it.OfferExpiresAt), Disposition: it.Disposition,
		PatientEmail: it.PatientEmail, Identity: it.Identity, VerifiedEmail: it.VerifiedEmail, TranscriptSentAt: parseTime(it.TranscriptAt), Queue: it.RoutedQueue, CreatedAt: created, UpdatedAt: updated, ExpiresAt: time.Unix(it.ExpiresAt, 0),
		Watchers: it.Watchers, Barged: it.Barged, AssignedAt: parseTime(it.AssignedAt), BotReply: it.AnsweredBy,
	}
}

// parseTime reads a stored time; the zero time when there is none.
func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}

// Watch adds a supervisor to a held conversation's watchers (monitoring
// it), or with barge also to those who joined it; on false it takes them
// off both. Only while an agent holds it (fault.Conflict otherwise).
func (s *Conversations) Watch(ctx context.Context, conversationID, supervisorID string, on, barge bool) (chat.Conversation, error) {
	set := &types.AttributeValueMemberSS{Value: []string{supervisorID}}
	var upd expression.UpdateBuilder
	switch {
	case !on:
		upd = expression.Delete(expression.Name("watchers"), expression.Value(set)).Delete(expression.Name("barged"), expression.Value(set))
	case barge:
		upd = expression.Add(expression.Name("watchers"), expression.Value(set)).Add(expression.Name("barged"), expression.Value(set))
	default:
		upd = expression.Add(expression.Name("watchers"), expression.Value(set))
	}
	cond := expression.Name("state").Equal(expression.Value(string(chat.StateAssigned)))
	if !on {
		cond = expression.AttributeExists(expression.Name("conversationId"))
	}
	c, failed, err := updateNew[conversationItem](ctx, s.api, s.convs, convKey(conversationID), must(expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()))
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("watching conversation %s: %w", conversationID, err)
	}
	if failed {
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "no agent holds this conversation")
	}
	return c, nil
}

func (it messageItem) domain() chat.Message {
	at, _ := time.Parse(timeLayout, it.At)
	return chat.Message{
		ConversationID: it.ConversationID, ID: it.SK, Seq: it.Seq, ClientMessageID: it.ClientMessageID, Role: it.Role,
		SenderName: it.SenderName, Text: it.Text, QuickReplies: it.QuickReplies, At: at, ExpiresAt: time.Unix(it.ExpiresAt, 0),
	}
}

func convKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"conversationId": &types.AttributeValueMemberS{Value: id}}
}

func messageKey(conversationID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"conversationId": &types.AttributeValueMemberS{Value: conversationID},
		"sk":             &types.AttributeValueMemberS{Value: sk},
	}
}

// Create stores a new conversation; an existing id is a conflict.
func (s *Conversations) Create(ctx context.Context, c chat.Conversation) error {
	item, err := attributevalue.MarshalMap(toConversationItem(c))
	if err != nil {
		return fmt.Errorf("marshalling conversation: %w", err)
	}
	cond := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("conversationId"))).Build())
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.convs, Item: item, ConditionExpression: cond.Condition(),
		ExpressionAttributeNames: cond.Names(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if isConditionFailed(err) {
		// The SDK retries a put whose answer was lost; finding our own
		// item then is success, anyone else's is a conflict.
		var ccf *types.ConditionalCheckFailedException
		var old conversationItem
		if errors.As(err, &ccf) && attributevalue.UnmarshalMap(ccf.Item, &old) == nil &&
			old.PatientID == c.PatientID && old.CreatedAt == c.CreatedAt.UTC().Format(timeLayout) {
			return nil
		}
		return fault.Errorf(fault.Conflict, "conversation exists")
	}
	if err != nil {
		return fmt.Errorf("putting conversation: %w", err)
	}
	return nil
}

// Get reads a conversation, strongly consistent: callers decide on its state.
func (s *Conversations) Get(ctx context.Context, id string) (chat.Conversation, error) {
	it, err := getItem[conversationItem](ctx, s.api, s.convs, convKey(id), "conversation")
	if err != nil {
		return chat.Conversation{}, err
	}
	return it.domain(), nil
}

// maxSeq is the highest sequence number a message id can carry.
const maxSeq = 999_999_999_999

// maxAppendAttempts bounds the optimistic retries when writers race for
// the next slot of one conversation.
const maxAppendAttempts = 20

// Append stores a message in the slot after the conversation's last one,
// and the item that maps its clientMessageId (required) to it, both only
// if absent, in one transaction: two writers never take the same slot and
// a resend never stores a second copy. Callers check the conversation's
// state first (an ended conversation takes no message); the closing
// marker settles a close that races the append.
func (s *Conversations) Append(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	return s.appendWith(ctx, m, nil)
}

// AppendTurn stores a bot reply and applies the turn's change (the bot
// state, and the escalation or the close when there is one) in the same
// transaction, on condition that the conversation is still with the bot.
func (s *Conversations) AppendTurn(ctx context.Context, m chat.Message, c chat.Change) (chat.Message, bool, error) {
	return s.appendWith(ctx, m, &c)
}

func (s *Conversations) appendWith(ctx context.Context, m chat.Message, change *chat.Change) (chat.Message, bool, error) {
	if change == nil && m.ClientMessageID == "" {
		// Without it a resend could not be told from a new message.
		return chat.Message{}, false, fmt.Errorf("appending to %s: a message needs a client message id", m.ConversationID)
	}
	// A turn's reply nearly always takes the slot right after the message
	// it answers, and a patient writing to the bot the slot right after
	// its last reply (m.Follows): the first attempt tries that slot
	// without reading the sequence. The conversation's condition still
	// guards a turn's state, and since every writer takes the slot after
	// an existing one there are no gaps: a free slot after a stored
	// message means it was the last. A taken slot cancels the transaction
	// and the loop reads the sequence.
	guessed := false
	var guess messageItem
	switch {
	case change != nil:
		guess.Seq, guessed = chat.MessageSeq(turnKey(change))
	case m.Follows != "":
		guess.Seq, guessed = chat.MessageSeq(m.Follows)
		guessed = guessed && guess.Seq > 0
	}
	m.Follows = ""
	for attempt := 0; attempt < maxAppendAttempts; attempt++ {
		last, ok := guess, true
		if attempt > 0 || !guessed {
			var err error
			if last, ok, err = lastInSequence(ctx, s.api, s.messages, m.ConversationID); err != nil {
				return chat.Message{}, false, err
			}
		}
		// A first message needs its conversation to exist (a turn's update
		// checks that itself); after the close only the resend of an
		// earlier message is answered.
		if last.Closed || (!ok && change == nil) {
			if prev, found, err := s.stored(ctx, m, change); err != nil || found {
				return prev, found, err
			}
			if last.Closed {
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
			}
			c, err := s.Get(ctx, m.ConversationID)
			if err != nil {
				return chat.Message{}, false, err
			}
			if c.State == chat.StateClosed {
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
			}
		}
		m.Seq = last.Seq + 1
		m.ID = chat.MessageID(m.Seq)
		items, err := s.appendItems(m, change)
		if err != nil {
			return chat.Message{}, false, err
		}
		// Always a transaction, even of one item: its idempotency token
		// makes the SDK's retry of a write whose answer was lost harmless.
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons := cancelReasons(err)
		switch {
		case err == nil:
			return m, false, nil
		case reasons == nil:
			return chat.Message{}, false, fmt.Errorf("appending message: %w", err)
		case change == nil && failedAt(reasons, 1):
			// The client id is taken: a resend.
			if prev, found, err := s.byClientID(ctx, m.ConversationID, m.ClientMessageID); err != nil || found {
				return prev, found, err
			}
		case change != nil && failedAt(reasons, 0):
			// Answered already (a redelivery), no longer with the bot
			// (escalated, closed), or gone.
			it, err := getItem[conversationItem](ctx, s.api, s.convs, convKey(m.ConversationID), "conversation")
			if err != nil {
				return chat.Message{}, false, err
			}
			if prev, found, err := s.answered(ctx, it, change); err != nil || found {
				return prev, found, err
			}
			switch {
			case it.State == string(chat.StateClosed):
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
			case it.State != string(chat.StateBot):
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "the conversation is no longer with the bot")
			case it.Answered > turnKey(change):
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "the bot has answered a later message")
			}
		}
		// Another writer took the slot (or the transaction met another):
		// read the sequence again and retry, after a short random pause so
		// racing writers spread out (none after a wrong guess: no one raced).
		if attempt > 0 || !guessed {
			time.Sleep(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond)
		}
	}
	return chat.Message{}, false, fault.Errorf(fault.Conflict, "too many concurrent messages; try again")
}

// turnKey is what a turn answers, as it sorts: the patient's message id,
// or for the greeting one below every message id.
func turnKey(c *chat.Change) string {
	if c.Answers == "" {
		return chat.MessageID(0)
	}
	return c.Answers
}

// stored finds what an append already stored: a bot turn's reply through
// the conversation's last answered turn, a client message through its
// dedupe item.
func (s *Conversations) stored(ctx context.Context, m chat.Message, change *chat.Change) (chat.Message, bool, error) {
	if change == nil {
		return s.byClientID(ctx, m.ConversationID, m.ClientMessageID)
	}
	it, err := getItem[conversationItem](ctx, s.api, s.convs, convKey(m.ConversationID), "conversation")
	if err != nil {
		return chat.Message{}, false, err
	}
	return s.answered(ctx, it, change)
}

// Answered returns the reply the conversation's last bot turn stored, if
// that turn answered messageID ("" for the greeting).
func (s *Conversations) Answered(ctx context.Context, conversationID, messageID string) (chat.Message, bool, error) {
	it, err := getItem[conversationItem](ctx, s.api, s.convs, convKey(conversationID), "conversation")
	if err != nil {
		return chat.Message{}, false, err
	}
	return s.answered(ctx, it, &chat.Change{Answers: messageID})
}

// answered returns the reply the conversation's last turn stored, when
// that turn is this one.
func (s *Conversations) answered(ctx context.Context, it conversationItem, change *chat.Change) (chat.Message, bool, error) {
	if it.Answered != turnKey(change) || it.AnsweredBy == "" {
		return chat.Message{}, false, nil
	}
	prev, err := s.Message(ctx, it.ConversationID, it.AnsweredBy)
	if err != nil {
		return chat.Message{}, false, err
	}
	return prev, true, nil
}

// appendItems are the writes of one append: the conversation's change (a
// bot turn's, which also records what it answered: the turn's idempotency),
// the message, a client message's dedupe item, and the closing marker
// after the message when the turn closes the conversation.
func (s *Conversations) appendItems(m chat.Message, change *chat.Change) ([]types.TransactWriteItem, error) {
	var items []types.TransactWriteItem
	if change != nil {
		set := expression.Set(expression.Name("botState"), expression.Value(change.BotState)).
			Set(expression.Name("updatedAt"), expression.Value(m.At.UTC().Format(timeLayout)))
		if change.PatientEmail != "" {
			set = set.Set(expression.Name("patientEmail"), expression.Value(change.PatientEmail))
		}
		if change.Verified != "" {
			set = set.Set(expression.Name("identity"), expression.Value(chat.IdentityVerified)).
				Set(expression.Name("verifiedEmail"), expression.Value(change.Verified)).
				Set(expression.Name("verifiedAt"), expression.Value(m.At.UTC().Format(timeLayout)))
		}
		if change.Handoff != nil {
			set = set.Set(expression.Name("state"), expression.Value(string(chat.StateEscalated))).
				Set(expression.Name("handoff"), expression.Value(change.Handoff))
		} else if change.Close {
			set = set.Set(expression.Name("state"), expression.Value(string(chat.StateClosed)))
		}
		key := turnKey(change)
		set = set.Set(expression.Name("answered"), expression.Value(key)).
			Set(expression.Name("answeredBy"), expression.Value(m.ID))
		update := must(expression.NewBuilder().WithUpdate(set).
			WithCondition(expression.Name("state").Equal(expression.Value(string(chat.StateBot))).
				And(expression.AttributeNotExists(expression.Name("answered")).
					Or(expression.Name("answered").LessThan(expression.Value(key))))).Build())
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: &s.convs, Key: convKey(m.ConversationID), UpdateExpression: update.Update(),
			ConditionExpression: update.Condition(), ExpressionAttributeNames: update.Names(), ExpressionAttributeValues: update.Values(),
		}})
	}
	msg, err := attributevalue.MarshalMap(messageItem{
		ConversationID: m.ConversationID, SK: m.ID, Seq: m.Seq, ClientMessageID: m.ClientMessageID, Role: m.Role,
		SenderName: m.SenderName, Text: m.Text, QuickReplies: m.QuickReplies, At: m.At.UTC().Format(timeLayout), ExpiresAt: m.ExpiresAt.Unix(),
	})
	if err != nil {
		return nil, fmt.Errorf("marshalling message: %w", err)
	}
	items = append(items, putIfAbsent(s.messages, msg))
	if change == nil && m.ClientMessageID != "" {
		dd, err := attributevalue.MarshalMap(dedupeItem{ConversationID: m.ConversationID, SK: "c#" + m.ClientMessageID, MessageID: m.ID, ExpiresAt: m.ExpiresAt.Unix()})
		if err != nil {
			return nil, fmt.Errorf("marshalling dedupe item: %w", err)
		}
		items = append(items, putIfAbsent(s.messages, dd))
	}
	if change != nil && change.Close && change.Handoff == nil { // a handoff wins: the conversation goes on
		items = append(items, closingMarker(s.messages, m.ConversationID, m.Seq+1, m.At, m.ExpiresAt))
	}
	return items, nil
}

// putIfAbsent puts an item of the messages table unless its key is taken.
func putIfAbsent(table string, item map[string]types.AttributeValue) types.TransactWriteItem {
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("sk"))).Build())
	return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: item, ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}}
}

// closingMarker ends a conversation's sequence at slot seq.
func closingMarker(table, conversationID string, seq int64, at, expires time.Time) types.TransactWriteItem {
	item, _ := attributevalue.MarshalMap(messageItem{
		ConversationID: conversationID, SK: chat.MessageID(seq), Seq: seq, Role: chat.RoleSystem,
		At: at.UTC().Format(timeLayout), ExpiresAt: expires.Unix(), Closed: true,
	})
	return putIfAbsent(table, item)
}

// lastInSequence reads a conversation's last message slot (a message or
// the closing marker): one consistent read of one item. ok is false when
// the conversation has no message yet.
func lastInSequence(ctx context.Context, api API, table, conversationID string) (messageItem, bool, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("conversationId").Equal(expression.Value(conversationID)).
		And(expression.Key("sk").BeginsWith("m"))).Build())
	out, err := api.Query(ctx, &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return messageItem{}, false, fmt.Errorf("reading the last message: %w", err)
	}
	if len(out.Items) == 0 {
		return messageItem{}, false, nil
	}
	var it messageItem
	if err := attributevalue.UnmarshalMap(out.Items[0], &it); err != nil {
		return messageItem{}, false, fmt.Errorf("unmarshalling the last message: %w", err)
	}
	return it, true, nil
}

// Stored returns the message stored for a client message id, if any.
func (s *Conversations) Stored(ctx context.Context, conversationID, clientMessageID string) (chat.Message, bool, error) {
	return s.byClientID(ctx, conversationID, clientMessageID)
}

// byClientID returns the message stored for a client message id, if any.
func (s *Conversations) byClientID(ctx context.Context, conversationID, clientMessageID string) (chat.Message, bool, error) {
	if clientMessageID == "" {
		return chat.Message{}, false, nil
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.messages, Key: messageKey(conversationID, "c#"+clientMessageID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("getting dedupe item: %w", err)
	}
	if out.Item == nil {
		return chat.Message{}, false, nil
	}
	var dd dedupeItem
	if err := attributevalue.UnmarshalMap(out.Item, &dd); err != nil {
		return chat.Message{}, false, fmt.Errorf("unmarshalling dedupe item: %w", err)
	}
	mo, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.messages, Key: messageKey(conversationID, dd.MessageID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("getting message: %w", err)
	}
	if mo.Item == nil {
		return chat.Message{}, false, fmt.Errorf("message %s of a dedupe item is missing", dd.MessageID)
	}
	var it messageItem
	if err := attributevalue.UnmarshalMap(mo.Item, &it); err != nil {
		return chat.Message{}, false, fmt.Errorf("unmarshalling message: %w", err)
	}
	return it.domain(), true, nil
}

// After returns the messages after afterID, in order, reading every page.
func (s *Conversations) After(ctx context.Context, conversationID, afterID string) ([]chat.Message, error) {
	// Only the message slots: the table also holds dedupe items ("c#…")
	// and agents' private notes ("n#…"), which sort after every message id.
	from := chat.MessageID(0)
	if afterID != "" {
		seq, ok := chat.MessageSeq(afterID)
		if !ok {
			return nil, fault.Errorf(fault.BadRequest, "after is not a message id")
		}
		from = chat.MessageID(seq + 1)
	}
	key := expression.Key("conversationId").Equal(expression.Value(conversationID)).
		And(expression.Key("sk").Between(expression.Value(from), expression.Value(chat.MessageID(maxSeq))))
	expr := must(expression.NewBuilder().WithKeyCondition(key).
		WithFilter(expression.AttributeNotExists(expression.Name("closed"))).Build())
	in := &dynamodb.QueryInput{
		TableName: &s.messages, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	items, err := queryAll[messageItem](ctx, s.api, in)
	if err != nil {
		return nil, err
	}
	return domains[messageItem, chat.Message](items), nil
}

// Close moves an open conversation to closed, once, and ends its message
// sequence with the closing marker in the same transaction.
func (s *Conversations) Close(ctx context.Context, id string, at time.Time) (chat.Conversation, error) {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("state"), expression.Value(string(chat.StateClosed))).
			Set(expression.Name("updatedAt"), expression.Value(at.UTC().Format(timeLayout))).
			// Out of its queue, if it was waiting.
			Remove(expression.Name("waitQueue")).
			Remove(expression.Name("waitKey"))).
		WithCondition(expression.AttributeExists(expression.Name("conversationId")).
			And(expression.Name("state").NotEqual(expression.Value(string(chat.StateClosed))))).
		Build())
	update := types.TransactWriteItem{Update: &types.Update{
		TableName: &s.convs, Key: convKey(id), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}
	for attempt := 0; attempt < maxAppendAttempts; attempt++ {
		marker, err := s.endOfSequence(ctx, id, at)
		if err != nil {
			return chat.Conversation{}, err
		}
		if marker == nil {
			return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation has already ended")
		}
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{update, *marker}})
		reasons := cancelReasons(err)
		if reasons == nil && err != nil {
			return chat.Conversation{}, fmt.Errorf("closing conversation: %w", err)
		}
		if reasons == nil {
			return s.Get(ctx, id)
		}
		if failedAt(reasons, 0) {
			return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation has already ended")
		}
		// A message took the slot: end the sequence after it.
		time.Sleep(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
	return chat.Conversation{}, fault.Errorf(fault.Conflict, "too many concurrent messages; try again")
}

// endOfSequence returns the closing marker for the slot after the
// conversation's last message, or nil when the sequence is already closed.
func (s *Conversations) endOfSequence(ctx context.Context, id string, at time.Time) (*types.TransactWriteItem, error) {
	last, ok, err := lastInSequence(ctx, s.api, s.messages, id)
	if err != nil {
		return nil, err
	}
	if last.Closed {
		return nil, nil
	}
	// With no message yet, Append reads the conversation's state anyway;
	// the marker only settles a race, and need not outlive a day.
	expires := at.Add(24 * time.Hour)
	if ok {
		expires = time.Unix(last.ExpiresAt, 0)
	}
	marker := closingMarker(s.messages, id, last.Seq+1, at, expires)
	return &marker, nil
}

// ForTurn reads what a bot turn starts from in one request: the
// conversation and, unless messageID is empty (the greeting), the message
// it answers; both strongly consistent. fault.NotFound when either is
// missing.
func (s *Conversations) ForTurn(ctx context.Context, conversationID, messageID string) (chat.Conversation, chat.Message, error) {
	want := map[string]types.KeysAndAttributes{s.convs: {Keys: []map[string]types.AttributeValue{convKey(conversationID)}, ConsistentRead: aws.Bool(true)}}
	if messageID != "" {
		want[s.messages] = types.KeysAndAttributes{Keys: []map[string]types.AttributeValue{messageKey(conversationID, messageID)}, ConsistentRead: aws.Bool(true)}
	}
	got := map[string][]map[string]types.AttributeValue{}
	for attempt := 0; len(want) > 0; attempt++ {
		if attempt == maxBatchAttempts {
			return chat.Conversation{}, chat.Message{}, fmt.Errorf("reading the turn of %s: keys still unprocessed after %d attempts", conversationID, attempt)
		}
		if attempt > 0 {
			// Unprocessed keys mean the table is throttled: back off, as
			// DynamoDB asks, before asking for the rest.
			time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
		}
		out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: want})
		if err != nil {
			return chat.Conversation{}, chat.Message{}, fmt.Errorf("reading the turn of %s: %w", conversationID, err)
		}
		for table, items := range out.Responses {
			got[table] = append(got[table], items...)
		}
		want = out.UnprocessedKeys
	}
	if len(got[s.convs]) == 0 {
		return chat.Conversation{}, chat.Message{}, fault.Errorf(fault.NotFound, "conversation not found")
	}
	var c conversationItem
	if err := attributevalue.UnmarshalMap(got[s.convs][0], &c); err != nil {
		return chat.Conversation{}, chat.Message{}, fmt.Errorf("unmarshalling conversation: %w", err)
	}
	if messageID == "" {
		return c.domain(), chat.Message{}, nil
	}
	if len(got[s.messages]) == 0 {
		return c.domain(), chat.Message{}, fault.Errorf(fault.NotFound, "message not found")
	}
	var m messageItem
	if err := attributevalue.UnmarshalMap(got[s.messages][0], &m); err != nil {
		return chat.Conversation{}, chat.Message{}, fmt.Errorf("unmarshalling message: %w", err)
	}
	return c.domain(), m.domain(), nil
}

// maxBatchAttempts bounds the requests of one batch read whose keys come
// back unprocessed.
const maxBatchAttempts = 5

// Message returns one stored message; fault.NotFound when there is none.
func (s *Conversations) Message(ctx context.Context, conversationID, messageID string) (chat.Message, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.messages, Key: messageKey(conversationID, messageID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Message{}, fmt.Errorf("getting message: %w", err)
	}
	if out.Item == nil {
		return chat.Message{}, fault.Errorf(fault.NotFound, "message not found")
	}
	var it messageItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return chat.Message{}, fmt.Errorf("unmarshalling message: %w", err)
	}
	return it.domain(), nil
}

// noteItem is an agent's private note on a conversation: kept beside its
// messages (sk "n#…") so a patient's history, which reads only "m…", never
// includes it.
type noteItem struct {
	ConversationID string `dynamodbav:"conversationId"`
	SK             string `dynamodbav:"sk"`
	AgentID        string `dynamodbav:"agentId"`
	AgentName      string `dynamodbav:"agentName"`
	Text           string `dynamodbav:"text"`
	At             string `dynamodbav:"at"`
	ExpiresAt      int64  `dynamodbav:"expiresAt"`
}

// AddNote stores a private note.
func (s *Conversations) AddNote(ctx context.Context, n chat.Note) error {
	item, err := attributevalue.MarshalMap(noteItem{ConversationID: n.ConversationID, SK: "n#" + sortable(n.At) + "#" + n.AgentID,
		AgentID: n.AgentID, AgentName: n.AgentName, Text: n.Text, At: n.At.UTC().Format(timeLayout), ExpiresAt: n.ExpiresAt.Unix()})
	if err != nil {
		return fmt.Errorf("marshalling note: %w", err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.messages, Item: item}); err != nil {
		return fmt.Errorf("storing note: %w", err)
	}
	return nil
}

// Notes lists a conversation's private notes, oldest first.
func (s *Conversations) Notes(ctx context.Context, conversationID string) ([]chat.Note, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("conversationId").Equal(expression.Value(conversationID)).
		And(expression.Key("sk").BeginsWith("n#"))).Build())
	items, err := queryAll[noteItem](ctx, s.api, &dynamodb.QueryInput{
		TableName: &s.messages, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, err
	}
	notes := make([]chat.Note, 0, len(items))
	for _, it := range items {
		at, _ := time.Parse(timeLayout, it.At)
		notes = append(notes, chat.Note{ConversationID: it.ConversationID, AgentID: it.AgentID, AgentName: it.AgentName, Text: it.Text, At: at})
	}
	return notes, nil
}

// MarkTranscriptSent records, once, that the conversation's transcript
// was emailed: false when it was already.
func (s *Conversations) MarkTranscriptSent(ctx context.Context, conversationID string, at time.Time) (bool, error) {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("transcriptSentAt"), expression.Value(at.UTC().Format(timeLayout)))).
		WithCondition(expression.AttributeExists(expression.Name("conversationId")).
			And(expression.AttributeNotExists(expression.Name("transcriptSentAt")))).
		Build())
	return updateIf(ctx, s.api, s.convs, convKey(conversationID), expr, "marking the transcript of "+conversationID)
}

// MarkVerified records the identity a patient proved by signing in:
// the same attributes a code's turn sets.
func (s *Conversations) MarkVerified(ctx context.Context, conversationID, email string, at time.Time) error {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("identity"), expression.Value(chat.IdentityVerified)).
			Set(expression.Name("verifiedEmail"), expression.Value(email)).
			Set(expression.Name("verifiedAt"), expression.Value(at.UTC().Format(timeLayout)))).
		WithCondition(expression.AttributeExists(expression.Name("conversationId"))).
		Build())
	ok, err := updateIf(ctx, s.api, s.convs, convKey(conversationID), expr, "marking "+conversationID+" verified")
	if err == nil && !ok {
		return fault.Errorf(fault.NotFound, "conversation %s not found", conversationID)
	}
	return err
}

// optionalTime is a time as stored, or "" for the zero time (omitted).
func optionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}
