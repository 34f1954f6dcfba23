package ddb

import (
	"context"
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
	item, err := attributevalue.MarshalMap(connectionItem{
		ConnectionID: c.ID, Role: c.Role, PatientID: c.PatientID, ConversationID: c.ConversationID,
		ConnectedAt: c.ConnectedAt.UTC().Format(timeLayout), ExpiresAt: c.ExpiresAt.Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshalling connection: %w", err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("putting connection: %w", err)
	}
	return nil
}

// Admit counts a frame in the connection's current window and returns the
// connection, in one conditional update: the common case (same window,
// under the limit) costs one write and no read.
func (s *Connections) Admit(ctx context.Context, id string, now time.Time) (chat.Connection, error) {
	window := now.UnixMilli() / s.limit.Window.Milliseconds()
	same := must(expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("rlCount"), expression.Value(1))).
		WithCondition(expression.Name("rlWindow").Equal(expression.Value(window)).
			And(expression.Name("rlCount").LessThan(expression.Value(s.limit.Frames)))).
		Build())
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: connKey(id), UpdateExpression: same.Update(), ConditionExpression: same.Condition(),
		ExpressionAttributeNames: same.Names(), ExpressionAttributeValues: same.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		// New window, over the limit, or no such connection.
		fresh := must(expression.NewBuilder().
			WithUpdate(expression.Set(expression.Name("rlWindow"), expression.Value(window)).
				Set(expression.Name("rlCount"), expression.Value(1))).
			WithCondition(expression.AttributeExists(expression.Name("connectionId")).
				And(expression.Name("rlWindow").LessThan(expression.Value(window)))).
			Build())
		out, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: connKey(id), UpdateExpression: fresh.Update(), ConditionExpression: fresh.Condition(),
			ExpressionAttributeNames: fresh.Names(), ExpressionAttributeValues: fresh.Values(),
			ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if isConditionFailed(err) {
			if _, gerr := s.get(ctx, id); gerr != nil {
				return chat.Connection{}, gerr
			}
			return chat.Connection{}, fault.Errorf(fault.RateLimited, "too many frames: at most %d per %s", s.limit.Frames, s.limit.Window)
		}
	}
	if err != nil {
		return chat.Connection{}, fmt.Errorf("admitting frame: %w", err)
	}
	var it connectionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return chat.Connection{}, fmt.Errorf("unmarshalling connection: %w", err)
	}
	return it.domain(), nil
}

func (s *Connections) get(ctx context.Context, id string) (chat.Connection, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: connKey(id)})
	if err != nil {
		return chat.Connection{}, fmt.Errorf("getting connection: %w", err)
	}
	if out.Item == nil {
		return chat.Connection{}, fault.Errorf(fault.NotFound, "connection not found")
	}
	var it connectionItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return chat.Connection{}, fmt.Errorf("unmarshalling connection: %w", err)
	}
	return it.domain(), nil
}

// Bind attaches a connection to a patient's conversation.
func (s *Connections) Bind(ctx context.Context, id, patientID, conversationID string) error {
	expr := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("patientId"), expression.Value(patientID)).
			Set(expression.Name("conversationId"), expression.Value(conversationID))).
		WithCondition(expression.AttributeExists(expression.Name("connectionId"))).
		Build())
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: connKey(id), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return fault.Errorf(fault.NotFound, "connection not found")
	}
	if err != nil {
		return fmt.Errorf("binding connection: %w", err)
	}
	return nil
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
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("conversationId").Equal(expression.Value(conversationID))).Build())
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: stringPtr(ByConversationIndex), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	var conns []chat.Connection
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("querying connections: %w", err)
		}
		var items []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return nil, fmt.Errorf("unmarshalling connections: %w", err)
		}
		for _, it := range items {
			conns = append(conns, it.domain())
		}
		if len(out.LastEvaluatedKey) == 0 {
			return conns, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func stringPtr(s string) *string { return &s }
