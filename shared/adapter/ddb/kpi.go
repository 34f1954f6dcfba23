package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/kpi"
)

// KPIs keeps the service center's figures on one table: per day
// (pk "day#2026-12-03") an item per dimension and hour (sk
// "queue#billing#09") of counters, and per counted event a marker (pk
// "event#<conversation>", sk the event's key) written in the same
// transaction, so a redelivered stream record counts nothing twice.
type KPIs struct {
	api       API
	table     string
	retention time.Duration
}

var (
	_ kpi.Store      = (*KPIs)(nil)
	_ kpi.HourReader = (*KPIs)(nil)
)

// NewKPIs returns the store; counters are kept for retention, markers a
// week (a stream record is retried for at most six hours).
func NewKPIs(api API, table string, retention time.Duration) *KPIs {
	return &KPIs{api: api, table: table, retention: retention}
}

func kpiKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}

// Record adds the event to its counters once (false when its marker
// exists: counted already).
func (k *KPIs) Record(ctx context.Context, e kpi.Event, day, hour string) (bool, error) {
	now := time.Now()
	marker := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build())
	item, err := attributevalue.MarshalMap(map[string]any{"pk": "event#" + e.ConversationID, "sk": e.Key, "expiresAt": now.Add(7 * 24 * time.Hour).Unix()})
	if err != nil {
		return false, fmt.Errorf("marshalling the event marker: %w", err)
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: &k.table, Item: item, ConditionExpression: marker.Condition(),
		ExpressionAttributeNames: marker.Names()}}}
	for _, dim := range kpi.Dimensions(e) {
		var upd expression.UpdateBuilder
		for field, n := range kpi.Increments(e) {
			upd = upd.Add(expression.Name(field), expression.Value(n))
		}
		upd = upd.Set(expression.Name("expiresAt"), expression.Value(now.Add(k.retention).Unix()))
		expr := must(expression.NewBuilder().WithUpdate(upd).Build())
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: &k.table, Key: kpiKey("day#"+day, dim+"#"+hour),
			UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}})
	}
	_, err = k.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if reasons := cancelReasons(err); reasons != nil && failedAt(reasons, 0) {
		return false, nil // counted already
	}
	if err != nil {
		return false, fmt.Errorf("counting %s of %s: %w", e.Kind, e.ConversationID, err)
	}
	return true, nil
}

// Day returns a day's counters by dimension and hour.
func (k *KPIs) Day(ctx context.Context, day string) (map[string]map[string]kpi.Counters, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value("day#" + day))).Build())
	items, err := queryAll[map[string]any](ctx, k.api, &dynamodb.QueryInput{TableName: &k.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: boolPtr(true)})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]kpi.Counters{}
	for _, it := range items {
		sk, _ := it["sk"].(string)
		if len(sk) < 4 {
			continue
		}
		dim, hour := sk[:len(sk)-3], sk[len(sk)-2:]
		if out[dim] == nil {
			out[dim] = map[string]kpi.Counters{}
		}
		out[dim][hour] = countersOf(it)
	}
	return out, nil
}

// Hour returns one dimension's counters of one hour (zero when nothing
// was counted), read eventually consistent: it feeds an estimate.
func (k *KPIs) Hour(ctx context.Context, day, dim, hour string) (kpi.Counters, error) {
	out, err := k.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.table, Key: kpiKey("day#"+day, dim+"#"+hour)})
	if err != nil {
		return kpi.Counters{}, fmt.Errorf("reading the figures of %s %s %s: %w", day, dim, hour, err)
	}
	var it map[string]any
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return kpi.Counters{}, fmt.Errorf("decoding the figures of %s %s %s: %w", day, dim, hour, err)
	}
	return countersOf(it), nil
}

// countersOf reads an hour's item's counters.
func countersOf(it map[string]any) kpi.Counters {
	fields := map[string]int64{}
	for name, v := range it {
		if f, ok := v.(float64); ok {
			fields[name] = int64(f)
		}
	}
	return kpi.FromFields(fields)
}
