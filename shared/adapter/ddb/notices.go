package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/notify"
)

// Notices keeps, in the scheduling table, the reminders waiting to go out
// (pk "remind#<UTC hour due>", sk "<due>#<appointment>#<kind>"), the
// emails and texts already sent (pk "sent#<key>"), and the numbers that
// replied STOP (pk "sms#<E.164 number>", sk "optout").
type Notices struct {
	api   API
	table string
}

var (
	_ notify.Reminders = (*Notices)(nil)
	_ notify.Sent      = (*Notices)(nil)
	_ notify.OptOuts   = (*Notices)(nil)
)

// NewNotices returns the store.
func NewNotices(api API, table string) *Notices { return &Notices{api: api, table: table} }

// lookback is how far before the last finished sweep (Swept) a sweep
// looks for due reminders (a reminder put back after a failed send keeps
// its time), and before now when no sweep has finished yet. After sweeps
// stopped for longer, the next one looks back to the last that finished,
// but at most maxGap: a hold's end must come however late, or the time
// stays held.
const (
	lookback = 6 * time.Hour
	maxGap   = 8 * 24 * time.Hour
)

var sweptKey = map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "sweep#mark"}, "sk": &types.AttributeValueMemberS{Value: "mark"}}

type reminderItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	AppointmentID string `dynamodbav:"appointmentId"`
	Kind          string `dynamodbav:"kind"`
	At            string `dynamodbav:"at"`
	Start         string `dynamodbav:"visitStart"`
	ExpiresAt     int64  `dynamodbav:"expiresAt"`
}

func bucket(t time.Time) string { return "remind#" + t.UTC().Format("2006-01-02T15") }

func reminderKey(r notify.Reminder) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: bucket(r.At)},
		"sk": &types.AttributeValueMemberS{Value: sortable(r.At) + "#" + r.AppointmentID + "#" + string(r.Kind)},
	}
}

// Put stores reminders.
func (n *Notices) Put(ctx context.Context, rs []notify.Reminder) error {
	for _, r := range rs {
		k := reminderKey(r)
		item, err := attributevalue.MarshalMap(reminderItem{PK: k["pk"].(*types.AttributeValueMemberS).Value, SK: k["sk"].(*types.AttributeValueMemberS).Value,
			AppointmentID: r.AppointmentID, Kind: string(r.Kind), At: sortable(r.At), Start: sortable(r.Start), ExpiresAt: r.Start.Add(24 * time.Hour).Unix()})
		if err != nil {
			return fmt.Errorf("marshalling reminder: %w", err)
		}
		if _, err := n.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &n.table, Item: item}); err != nil {
			return fmt.Errorf("storing reminder: %w", err)
		}
	}
	return nil
}

// Delete removes reminders.
func (n *Notices) Delete(ctx context.Context, rs []notify.Reminder) error {
	for _, r := range rs {
		if _, err := n.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &n.table, Key: reminderKey(r)}); err != nil {
			return fmt.Errorf("removing reminder: %w", err)
		}
	}
	return nil
}

// Due lists the reminders due at now or before, from lookback before the
// last finished sweep, one query per hour bucket.
func (n *Notices) Due(ctx context.Context, now time.Time) ([]notify.Reminder, error) {
	from, err := n.sweepFrom(ctx, now)
	if err != nil {
		return nil, err
	}
	var out []notify.Reminder
	for h := from.Truncate(time.Hour); !h.After(now); h = h.Add(time.Hour) {
		expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value(bucket(h))).
			And(expression.Key("sk").LessThanEqual(expression.Value(sortable(now) + "#~")))).Build())
		items, err := queryAll[reminderItem](ctx, n.api, &dynamodb.QueryInput{TableName: &n.table, KeyConditionExpression: expr.KeyCondition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: boolPtr(true)})
		if err != nil {
			return nil, fmt.Errorf("reading due reminders: %w", err)
		}
		for _, it := range items {
			at, _ := time.Parse(time.RFC3339Nano, it.At)
			start, _ := time.Parse(time.RFC3339Nano, it.Start)
			out = append(out, notify.Reminder{AppointmentID: it.AppointmentID, Kind: notify.Kind(it.Kind), At: at.UTC(), Start: start.UTC()})
		}
	}
	return out, nil
}

// sweepFrom is where a sweep at now starts looking.
func (n *Notices) sweepFrom(ctx context.Context, now time.Time) (time.Time, error) {
	from := now.Add(-lookback)
	out, err := n.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &n.table, Key: sweptKey, ConsistentRead: boolPtr(true)})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the last sweep: %w", err)
	}
	if v, ok := out.Item["at"].(*types.AttributeValueMemberS); ok {
		if last, err := time.Parse(time.RFC3339Nano, v.Value); err == nil && last.Add(-lookback).Before(from) {
			from = last.Add(-lookback)
		}
	}
	if oldest := now.Add(-maxGap); from.Before(oldest) {
		from = oldest
	}
	return from, nil
}

// Swept records a finished sweep: the next looks back from it.
func (n *Notices) Swept(ctx context.Context, at time.Time) error {
	item := map[string]types.AttributeValue{"pk": sweptKey["pk"], "sk": sweptKey["sk"], "at": &types.AttributeValueMemberS{Value: sortable(at)}}
	if _, err := n.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &n.table, Item: item}); err != nil {
		return fmt.Errorf("recording the sweep: %w", err)
	}
	return nil
}

// Claim deletes a due reminder on condition that it is still there: the
// sweep whose delete succeeds sends it.
func (n *Notices) Claim(ctx context.Context, r notify.Reminder) (bool, error) {
	cond := must(expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name("pk"))).Build())
	_, err := n.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &n.table, Key: reminderKey(r),
		ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names()})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claiming reminder: %w", err)
	}
	return true, nil
}

func sentKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "sent#" + key}, "sk": &types.AttributeValueMemberS{Value: "sent"}}
}

// Sent reports whether the email of key went out.
func (n *Notices) Sent(ctx context.Context, key string) (bool, error) {
	out, err := n.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &n.table, Key: sentKey(key), ConsistentRead: boolPtr(true)})
	if err != nil {
		return false, fmt.Errorf("reading sent mark: %w", err)
	}
	return len(out.Item) > 0, nil
}

// MarkSent records that the email of key went out (kept 30 days).
func (n *Notices) MarkSent(ctx context.Context, key string) error {
	item := sentKey(key)
	item["expiresAt"] = &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(30 * 24 * time.Hour).Unix())}
	if _, err := n.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &n.table, Item: item}); err != nil {
		return fmt.Errorf("marking sent: %w", err)
	}
	return nil
}

func optOutKey(phone string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "sms#" + phone}, "sk": &types.AttributeValueMemberS{Value: "optout"}}
}

// OptedOut reports whether the number's last keyword was a STOP.
func (n *Notices) OptedOut(ctx context.Context, phone string) (bool, error) {
	out, err := n.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &n.table, Key: optOutKey(phone), ConsistentRead: boolPtr(true)})
	if err != nil {
		return false, fmt.Errorf("reading opt-out: %w", err)
	}
	v, ok := out.Item["optedOut"].(*types.AttributeValueMemberBOOL)
	return ok && v.Value, nil
}

// SetOptedOut records a STOP (out) or a START, with when: kept with no
// expiry, as carriers require an opt-out to hold until the number opts in
// again.
func (n *Notices) SetOptedOut(ctx context.Context, phone string, out bool, at time.Time) error {
	item := optOutKey(phone)
	item["optedOut"] = &types.AttributeValueMemberBOOL{Value: out}
	item["at"] = &types.AttributeValueMemberS{Value: sortable(at)}
	if _, err := n.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &n.table, Item: item}); err != nil {
		return fmt.Errorf("recording opt-out: %w", err)
	}
	return nil
}
