package ddb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// ByConversationIndex is the connections table's index on conversationId.
const ByConversationIndex = "byConversation"

// RateLimit is a fixed-window limit on the frames one connection may send.
type RateLimit struct {
	Frames int
	Window time.Duration
}

// Connections stores open connections, one item per connectionId, with a
// sparse index on conversationId for fan-out.
type Connections struct {
	api   API
	table string
	limit RateLimit
}

var _ chat.Connections = (*Connections)(nil)

// NewConnections returns a store on the table.
func NewConnections(api API, table string, limit RateLimit) *Connections {
	return &Connections{api: api, table: table, limit: limit}
}

type connectionItem struct {
	ConnectionID   string `dynamodbav:"connectionId"`
	Role           string `dynamodbav:"role"`
	PatientID      string `dynamodbav:"patientId,omitempty"`
	ConversationID string `dynamodbav:"conversationId,omitempty"`
	ConnectedAt    string `dynamodbav:"connectedAt"`
	ExpiresAt      int64  `dynamodbav:"expiresAt"`
	Window         int64  `dynamodbav:"rlWindow"`
	Count          int    `dynamodbav:"rlCount"`
}

func (it connectionItem) domain() chat.Connection {
	at, _ := time.Parse(timeLayout, it.ConnectedAt)
	return chat.Connection{ID: it.ConnectionID, Role: it.Role, PatientID: it.PatientID, ConversationID: it.ConversationID, ConnectedAt: at, ExpiresAt: time.Unix(it.ExpiresAt, 0)}
}

func connKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: id}}
}

// Put stores a connection.
func (s *Connections) Put(ctx context.Context, c chat.Connection) error {
	return putItem(ctx, s.api, s.table, connectionItem{
		ConnectionID: c.ID, Role: c.Role, PatientID: c.PatientID, ConversationID: c.ConversationID,
		ConnectedAt: c.ConnectedAt.UTC().Format(timeLayout), ExpiresAt: c.ExpiresAt.Unix(),
	}, "connection")
}

// Admit counts a frame in the connection's current window and returns the
// connection.
func (s *Connections) Admit(ctx context.Context, id string, now time.Time) (chat.Connection, error) {
	return admit[connectionItem](ctx, s.api, s.table, id, s.limit, now, "connection")
}

// admit counts a frame against the rate limit of the connection id (an
// item of table) and rebuilds the connection.
func admit[T stored[D], D any](ctx context.Context, api API, table, id string, limit RateLimit, now time.Time, what string) (D, error) {
	av, err := admitFrame(ctx, api, table, connKey(id), limit, now)
	if err != nil {
		var zero D
		return zero, err
	}
	return decode[T](av, what)
}

// admitFrame counts a frame in the current rate-limit window of the item
// (rlWindow, rlCount) and returns the item. The common case (same window,
// under the limit) is one conditional write and no read; a new window is a
// second conditional write. Each write carries a token of this frame
// (rlLast), so when the SDK retries a write that did apply (its answer was
// lost), the retry fails its condition, the item shows our token, and the
// frame is counted once. A missing item is fault.NotFound.
func admitFrame(ctx context.Context, api API, table string, key map[string]types.AttributeValue, limit RateLimit, now time.Time) (map[string]types.AttributeValue, error) {
	window := now.UnixMilli() / limit.Window.Milliseconds()
	token := frameToken()
	keyName := ""
	for k := range key {
		keyName = k
	}
	// write applies an update of the window; counted reports that the
	// frame is counted (by this write, or by an earlier try of it the
	// SDK did not hear back from), and item is then the connection.
	write := func(e expression.Expression) (item map[string]types.AttributeValue, counted bool, err error) {
		out, err := api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &table, Key: key, UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return out.Attributes, true, nil
		}
		if item, old, failed := conditionItem(err); failed && old != nil && old.Last == token {
			return item, true, nil
		}
		return nil, false, err
	}
	for attempt := 0; attempt < 4; attempt++ {
		same := must(expression.NewBuilder().
			WithUpdate(expression.Add(expression.Name("rlCount"), expression.Value(1)).
				Set(expression.Name("rlLast"), expression.Value(token))).
			WithCondition(expression.Name("rlWindow").Equal(expression.Value(window)).
				And(expression.Name("rlCount").LessThan(expression.Value(limit.Frames))).
				And(expression.Name("rlLast").NotEqual(expression.Value(token)))).
			Build())
		item, counted, err := write(same)
		if counted {
			return item, nil
		}
		_, old, failed := conditionItem(err)
		if !failed {
			return nil, fmt.Errorf("admitting frame: %w", err)
		}
		if old == nil {
			return nil, fault.Errorf(fault.NotFound, "connection not found")
		}
		if old.Window == window {
			return nil, fault.Errorf(fault.RateLimited, "too many frames: at most %d per %s", limit.Frames, limit.Window)
		}
		fresh := must(expression.NewBuilder().
			WithUpdate(expression.Set(expression.Name("rlWindow"), expression.Value(window)).
				Set(expression.Name("rlCount"), expression.Value(1)).
				Set(expression.Name("rlLast"), expression.Value(token))).
			WithCondition(expression.AttributeExists(expression.Name(keyName)).
				And(expression.Name("rlWindow").LessThan(expression.Value(window)))).
			Build())
		if item, counted, err = write(fresh); counted {
			return item, nil
		}
		if !isConditionFailed(err) {
			return nil, fmt.Errorf("admitting frame: %w", err)
		}
		// Another frame opened the window first: count this one in it.
	}
	return nil, fault.Errorf(fault.RateLimited, "too many frames at once")
}

// frameToken is a random token that tells one frame's writes from others'.
func frameToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rateWindow is the rate-limit state of an item.
type rateWindow struct {
	Window int64  `dynamodbav:"rlWindow"`
	Last   string `dynamodbav:"rlLast"`
}

// conditionItem returns the item a failed condition saw and its rate-limit
// state (nil when there was no item), and whether err is a condition
// failure at all.
func conditionItem(err error) (map[string]types.AttributeValue, *rateWindow, bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, nil, false
	}
	if len(ccf.Item) == 0 {
		return nil, nil, true
	}
	var it rateWindow
	if attributevalue.UnmarshalMap(ccf.Item, &it) != nil {
		return nil, nil, true
	}
	return ccf.Item, &it, true
}

// Bind attaches a connection to a patient's conversation.
func (s *Connections) Bind(ctx context.Context, id, patientID, conversationID string) error {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("patientId"), expression.Value(patientID)).
			Set(expression.Name("conversationId"), expression.Value(conversationID))).
		WithCondition(expression.AttributeExists(expression.Name("connectionId"))).
		Build())
	bound, err := updateIf(ctx, s.api, s.table, connKey(id), expr, "binding connection")
	if err == nil && !bound {
		err = fault.Errorf(fault.NotFound, "connection not found")
	}
	return err
}

// CountStart counts a new conversation: on the connection, then on the
// patient's counter for the UTC day (an item of its own, expiring after two
// days), each a conditional increment under its cap. A start the patient's
// cap refuses still counted on its connection: the caps err on the side of
// fewer conversations.
func (s *Connections) CountStart(ctx context.Context, id, patientID string, now time.Time, perConnection, perPatient int) error {
	counter := expression.Add(expression.Name("starts"), expression.Value(1))
	under := func(max int) expression.ConditionBuilder {
		return expression.Or(expression.AttributeNotExists(expression.Name("starts")), expression.Name("starts").LessThan(expression.Value(max)))
	}
	conn := must(expression.NewBuilder().WithUpdate(counter).
		WithCondition(expression.AttributeExists(expression.Name("connectionId")).And(under(perConnection))).Build())
	if err := s.increment(ctx, connKey(id), conn); isConditionFailed(err) {
		return fault.Errorf(fault.RateLimited, "too many conversations on this connection")
	} else if err != nil {
		return fmt.Errorf("counting the connection's conversations: %w", err)
	}
	day := now.UTC().Format("2006-01-02")
	patient := must(expression.NewBuilder().
		WithUpdate(counter.Set(expression.Name("expiresAt"), expression.Value(now.Add(48*time.Hour).Unix()))).
		WithCondition(under(perPatient)).Build())
	if err := s.increment(ctx, connKey("starts#"+patientID+"#"+day), patient); isConditionFailed(err) {
		return fault.Errorf(fault.RateLimited, "too many conversations started today; please continue the one you have")
	} else if err != nil {
		return fmt.Errorf("counting the patient's conversations: %w", err)
	}
	return nil
}

func (s *Connections) increment(ctx context.Context, key map[string]types.AttributeValue, e expression.Expression) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key, UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	return err
}

// Delete removes a connection; deleting a missing one is not an error.
func (s *Connections) Delete(ctx context.Context, id string) error {
	if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: connKey(id)}); err != nil {
		return fmt.Errorf("deleting connection: %w", err)
	}
	return nil
}

// ForConversation lists the connections bound to a conversation.
func (s *Connections) ForConversation(ctx context.Context, conversationID string) ([]chat.Connection, error) {
	return queryEqual[connectionItem, chat.Connection](ctx, s.api, s.table, ByConversationIndex, "conversationId", conversationID)
}

func stringPtr(s string) *string { return &s }
