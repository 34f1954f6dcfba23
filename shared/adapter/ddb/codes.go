package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/fault"
)

// CodeTries keeps, in the scheduling table, each patient's wrong one-time
// codes across their conversations (pk "codes#<patient>", sk "tries";
// expiring two days after their window began).
type CodeTries struct {
	api   API
	table string
}

var _ bot.Guard = (*CodeTries)(nil)

// NewCodeTries returns the store.
func NewCodeTries(api API, table string) *CodeTries { return &CodeTries{api: api, table: table} }

type triesItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	Wrong       int    `dynamodbav:"wrong"`
	Since       string `dynamodbav:"since"`
	LockedUntil string `dynamodbav:"lockedUntil,omitempty"`
	Sent        int    `dynamodbav:"sent,omitempty"`
	SentSince   string `dynamodbav:"sentSince,omitempty"`
	Version     int    `dynamodbav:"version"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"`
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func triesKey(patientID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "codes#" + patientID}, "sk": &types.AttributeValueMemberS{Value: "tries"}}
}

// Tries reads a patient's wrong codes (none yet: the zero value).
func (c *CodeTries) Tries(ctx context.Context, patientID string) (bot.CodeTries, error) {
	it, err := getItem[triesItem](ctx, c.api, c.table, triesKey(patientID), "code tries")
	if fault.Is(err, fault.NotFound) {
		return bot.CodeTries{}, nil
	}
	if err != nil {
		return bot.CodeTries{}, err
	}
	return bot.CodeTries{Wrong: it.Wrong, Since: parseTime(it.Since), LockedUntil: parseTime(it.LockedUntil), Sent: it.Sent, SentSince: parseTime(it.SentSince), Version: it.Version}, nil
}

// SaveTries stores tries read at t.Version-1.
func (c *CodeTries) SaveTries(ctx context.Context, patientID string, t bot.CodeTries) error {
	item, err := attributevalue.MarshalMap(triesItem{PK: "codes#" + patientID, SK: "tries", Wrong: t.Wrong, Since: optionalTime(t.Since),
		LockedUntil: optionalTime(t.LockedUntil), Sent: t.Sent, SentSince: optionalTime(t.SentSince), Version: t.Version, ExpiresAt: latest(t.Since, t.SentSince).Add(2 * 24 * time.Hour).Unix()})
	if err != nil {
		return fmt.Errorf("marshalling code tries: %w", err)
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if t.Version > 1 {
		cond = expression.Name("version").Equal(expression.Value(t.Version - 1))
	}
	expr := must(expression.NewBuilder().WithCondition(cond).Build())
	_, err = c.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &c.table, Item: item, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if isConditionFailed(err) {
		return fault.Errorf(fault.Conflict, "code tries changed meanwhile")
	}
	if err != nil {
		return fmt.Errorf("storing code tries: %w", err)
	}
	return nil
}
