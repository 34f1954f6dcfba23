package ddb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/protocol"
)

// Conversations stores conversations (one item each, keyed by
// conversationId) and their messages (keyed by conversationId and sk, where
// sk is the message id, or "c#"+clientMessageId for the item that makes a
// resend idempotent).
type Conversations struct {
	api      API
	convs    string
	messages string
	// recent holds the conversations this process read or wrote a moment
	// ago: an append right after a read (a send checks the conversation,
	// then appends) starts from it instead of reading again. It is only a
	// guess — the append's conditions (lastSeq unchanged, state) refuse a
	// stale one, and the retry reads afresh.
	mu     sync.Mutex
	recent map[string]seenConversation
}

type seenConversation struct {
	c  chat.Conversation
	at time.Time
}

// recentFor is how long a read conversation is a good first guess.
const recentFor = 2 * time.Second

func (s *Conversations) remember(c chat.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recent == nil || len(s.recent) > 4096 {
		s.recent = map[string]seenConversation{}
	}
	s.recent[c.ID] = seenConversation{c: c, at: time.Now()}
}

func (s *Conversations) recall(id string) (chat.Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recent[id]
	if !ok || time.Since(r.at) > recentFor {
		return chat.Conversation{}, false
	}
	delete(s.recent, id) // one guess per read
	return r.c, true
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
	LastSeq        int64         `dynamodbav:"lastSeq"`
	BotState       string        `dynamodbav:"botState,omitempty"`
	Handoff        *chat.Handoff `dynamodbav:"handoff,omitempty"`
	AgentID        string        `dynamodbav:"agentId,omitempty"`
	AgentName      string        `dynamodbav:"agentName,omitempty"`
	Disposition    string        `dynamodbav:"disposition,omitempty"`
	PatientEmail   string        `dynamodbav:"patientEmail,omitempty"`
	RoutedQueue    string        `dynamodbav:"routedQueue,omitempty"`
	CreatedAt      string        `dynamodbav:"createdAt"`
	UpdatedAt      string        `dynamodbav:"updatedAt"`
	ExpiresAt      int64         `dynamodbav:"expiresAt"`
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
		State: string(c.State), LastSeq: c.LastSeq, BotState: c.BotState, Handoff: c.Handoff, CreatedAt: c.CreatedAt.UTC().Format(timeLayout),
		UpdatedAt: c.UpdatedAt.UTC().Format(timeLayout), ExpiresAt: c.ExpiresAt.Unix(),
	}
}

func (it conversationItem) domain() chat.Conversation {
	created, _ := time.Parse(timeLayout, it.CreatedAt)
	updated, _ := time.Parse(timeLayout, it.UpdatedAt)
	return chat.Conversation{
		ID: it.ConversationID, PatientID: it.PatientID, PatientName: it.PatientName, Topic: it.Topic, Locale: it.Locale,
		State: chat.State(it.State), LastSeq: it.LastSeq, BotState: it.BotState, Handoff: it.Handoff, AgentID: it.AgentID, AgentName: it.AgentName, Disposition: it.Disposition,
		PatientEmail: it.PatientEmail, Queue: it.RoutedQueue, CreatedAt: created, UpdatedAt: updated, ExpiresAt: time.Unix(it.ExpiresAt, 0),
	}
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

// Get reads a conversation (strongly consistent: the message path relies on lastSeq).
func (s *Conversations) Get(ctx context.Context, id string) (chat.Conversation, error) {
	it, err := getItem[conversationItem](ctx, s.api, s.convs, convKey(id), "conversation")
	if err != nil {
		return chat.Conversation{}, err
	}
	c := it.domain()
	s.remember(c)
	return c, nil
}

// maxAppendAttempts bounds the optimistic retries when writers race for
// the next sequence number of one conversation.
const maxAppendAttempts = 20

// Append stores a message with the next sequence number in one
// transaction: the conversation's lastSeq moves from n to n+1 (so two
// writers never take the same number), the message is put, and the
// clientMessageId item is put only if absent (so a resend never stores a
// second copy).
func (s *Conversations) Append(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	return s.appendWith(ctx, m, nil)
}

// AppendTurn stores a bot reply and applies the turn's change (the bot
// state, and the escalation when there is one) in the same transaction,
// on condition that the conversation is still with the bot.
func (s *Conversations) AppendTurn(ctx context.Context, m chat.Message, c chat.Change) (chat.Message, bool, error) {
	return s.appendWith(ctx, m, &c)
}

func (s *Conversations) appendWith(ctx context.Context, m chat.Message, change *chat.Change) (chat.Message, bool, error) {
	for attempt := 0; attempt < maxAppendAttempts; attempt++ {
		// A guess decides nothing on its own: a refusal (ended, not with
		// the bot) is read afresh.
		c, guessed := s.recall(m.ConversationID)
		if attempt > 0 || !guessed || c.State == chat.StateClosed || (change != nil && c.State != chat.StateBot) {
			var err error
			if c, err = s.Get(ctx, m.ConversationID); err != nil {
				return chat.Message{}, false, err
			}
			s.recall(m.ConversationID) // this read is used now, not remembered
		}
		if c.State == chat.StateClosed || (change != nil && c.State != chat.StateBot) {
			if prev, ok, err := s.byClientID(ctx, m.ConversationID, m.ClientMessageID); err != nil || ok {
				return prev, ok, err
			}
			if c.State == chat.StateClosed {
				return chat.Message{}, false, fault.Errorf(fault.Conflict, "this conversation has ended")
			}
			return chat.Message{}, false, fault.Errorf(fault.Conflict, "the conversation is no longer with the bot")
		}
		m.Seq = c.LastSeq + 1
		m.ID = protocol.MessageIDFor(m.Seq)
		items, err := s.appendItems(m, c.LastSeq, change)
		if err != nil {
			return chat.Message{}, false, err
		}
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return m, false, nil
		}
		reasons := cancelReasons(err)
		if reasons == nil {
			return chat.Message{}, false, fmt.Errorf("appending message: %w", err)
		}
		if len(reasons) == 3 && reasons[2] == "ConditionalCheckFailed" {
			prev, ok, err := s.byClientID(ctx, m.ConversationID, m.ClientMessageID)
			if err != nil || ok {
				return prev, ok, err
			}
		}
		// Another writer took this sequence number or changed the
		// conversation's state: read again and retry, after a short random
		// pause so racing writers spread out.
		time.Sleep(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
	return chat.Message{}, false, fault.Errorf(fault.Conflict, "too many concurrent messages; try again")
}

func (s *Conversations) appendItems(m chat.Message, lastSeq int64, change *chat.Change) ([]types.TransactWriteItem, error) {
	set := expression.Set(expression.Name("lastSeq"), expression.Value(m.Seq)).
		Set(expression.Name("updatedAt"), expression.Value(m.At.UTC().Format(timeLayout)))
	cond := expression.Name("lastSeq").Equal(expression.Value(lastSeq)).
		And(expression.Name("state").NotEqual(expression.Value(string(chat.StateClosed))))
	if change != nil {
		set = set.Set(expression.Name("botState"), expression.Value(change.BotState))
		if change.PatientEmail != "" {
			set = set.Set(expression.Name("patientEmail"), expression.Value(change.PatientEmail))
		}
		cond = expression.Name("lastSeq").Equal(expression.Value(lastSeq)).
			And(expression.Name("state").Equal(expression.Value(string(chat.StateBot))))
		if change.Handoff != nil {
			set = set.Set(expression.Name("state"), expression.Value(string(chat.StateEscalated))).
				Set(expression.Name("handoff"), expression.Value(change.Handoff))
		} else if change.Close {
			set = set.Set(expression.Name("state"), expression.Value(string(chat.StateClosed)))
		}
	}
	update := must(expression.NewBuilder().WithUpdate(set).WithCondition(cond).Build())
	msg, err := attributevalue.MarshalMap(messageItem{
		ConversationID: m.ConversationID, SK: m.ID, Seq: m.Seq, ClientMessageID: m.ClientMessageID, Role: m.Role,
		SenderName: m.SenderName, Text: m.Text, QuickReplies: m.QuickReplies, At: m.At.UTC().Format(timeLayout), ExpiresAt: m.ExpiresAt.Unix(),
	})
	if err != nil {
		return nil, fmt.Errorf("marshalling message: %w", err)
	}
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("sk"))).Build())
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.convs, Key: convKey(m.ConversationID), UpdateExpression: update.Update(),
			ConditionExpression: update.Condition(), ExpressionAttributeNames: update.Names(), ExpressionAttributeValues: update.Values(),
		}},
		{Put: &types.Put{TableName: &s.messages, Item: msg, ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}},
	}
	if m.ClientMessageID != "" {
		dd, err := attributevalue.MarshalMap(dedupeItem{ConversationID: m.ConversationID, SK: "c#" + m.ClientMessageID, MessageID: m.ID, ExpiresAt: m.ExpiresAt.Unix()})
		if err != nil {
			return nil, fmt.Errorf("marshalling dedupe item: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.messages, Item: dd, ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}})
	}
	return items, nil
}

// byClientID returns the message stored for a client message id, if any.
func (s *Conversations) byClientID(ctx context.Context, conversationID, clientMessageID string) (chat.Message, bool, error) {
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
	key := expression.Key("conversationId").Equal(expression.Value(conversationID))
	if afterID == "" {
		key = key.And(expression.Key("sk").BeginsWith("m"))
	} else {
		key = key.And(expression.Key("sk").GreaterThan(expression.Value(afterID)))
	}
	expr := must(expression.NewBuilder().WithKeyCondition(key).Build())
	in := &dynamodb.QueryInput{
		TableName: &s.messages, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	items, err := queryAll[messageItem](ctx, s.api, in)
	if err != nil {
		return nil, err
	}
	msgs := make([]chat.Message, 0, len(items))
	for _, it := range items {
		msgs = append(msgs, it.domain())
	}
	return msgs, nil
}

// Close moves an open conversation to closed, once.
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
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.convs, Key: convKey(id), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return chat.Conversation{}, fault.Errorf(fault.Conflict, "this conversation has already ended")
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("closing conversation: %w", err)
	}
	var it conversationItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return chat.Conversation{}, fmt.Errorf("unmarshalling conversation: %w", err)
	}
	return it.domain(), nil
}

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
