// Package ddb implements the chat stores on Amazon DynamoDB. Items are
// built with the SDK's attributevalue and expression packages; every write
// that a concurrent caller could race is conditional.
package ddb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/fault"
)

// API is the part of the DynamoDB client the stores use.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// cancelReasons returns the per-item reason codes of a cancelled
// transaction, or nil when err is something else.
func cancelReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		if r.Code != nil {
			codes[i] = *r.Code
		}
	}
	return codes
}

// failedAt reports whether a cancelled transaction's item i failed its
// condition.
func failedAt(reasons []string, i int) bool {
	return i < len(reasons) && reasons[i] == "ConditionalCheckFailed"
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("ddb: building expression: %v", err))
	}
	return v
}

// stored is an item type that rebuilds its domain value.
type stored[D any] interface{ domain() D }

// domains rebuilds the domain values of stored items.
func domains[T stored[D], D any](items []T) []D {
	out := make([]D, 0, len(items))
	for _, it := range items {
		out = append(out, it.domain())
	}
	return out
}

// updateNew applies a conditional update to one item and rebuilds the
// domain value of what the item became. failed reports a failed condition
// (the caller says what it means); err is any other failure.
func updateNew[T stored[D], D any](ctx context.Context, api API, table string, key map[string]types.AttributeValue, expr expression.Expression) (v D, failed bool, err error) {
	out, err := api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key, UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew})
	if isConditionFailed(err) {
		return v, true, nil
	}
	if err != nil {
		return v, false, err
	}
	var it T
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return v, false, fmt.Errorf("unmarshalling %s item: %w", table, err)
	}
	return it.domain(), false, nil
}

// queryEqual lists, as domain values, every item of a table (or of one of
// its indexes, when index is set) whose partition key equals value.
func queryEqual[T stored[D], D any](ctx context.Context, api API, table, index, key, value string) ([]D, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key(key).Equal(expression.Value(value))).Build())
	in := &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	if index != "" {
		in.IndexName = &index
	}
	items, err := queryAll[T](ctx, api, in)
	if err != nil {
		return nil, err
	}
	return domains[T, D](items), nil
}

// queryAll runs a query through every page and decodes the items.
func queryAll[T any](ctx context.Context, api API, in *dynamodb.QueryInput) ([]T, error) {
	return allPages[T](*in.TableName, "querying", func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		out, err := api.Query(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
}

// scanAll scans a table through every page and decodes the items (for
// small tables, or exports; never a request path over a large table).
func scanAll[T any](ctx context.Context, api API, in *dynamodb.ScanInput) ([]T, error) {
	return allPages[T](*in.TableName, "scanning", func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		out, err := api.Scan(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
}

// allPages reads page after page (page takes the start key, nil first)
// and decodes every item.
func allPages[T any](table, doing string, page func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error)) ([]T, error) {
	var all []T
	var start map[string]types.AttributeValue
	for {
		items, last, err := page(start)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", doing, table, err)
		}
		var decoded []T
		if err := attributevalue.UnmarshalListOfMaps(items, &decoded); err != nil {
			return nil, fmt.Errorf("unmarshalling %s items: %w", table, err)
		}
		all = append(all, decoded...)
		if len(last) == 0 {
			return all, nil
		}
		start = last
	}
}

// getItem reads one item (strongly consistent) and decodes it; a missing
// item is fault.NotFound ("<what> not found").
func getItem[T any](ctx context.Context, api API, table string, key map[string]types.AttributeValue, what string) (T, error) {
	var it T
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: boolPtr(true)})
	if err != nil {
		return it, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(out.Item) == 0 {
		return it, fault.Errorf(fault.NotFound, "%s not found", what)
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return it, fmt.Errorf("unmarshalling %s: %w", what, err)
	}
	return it, nil
}

// updateIf runs a conditional update: applied is false when the condition
// does not hold, and err is any other failure, wrapped with doing.
func updateIf(ctx context.Context, api API, table string, key map[string]types.AttributeValue, expr expression.Expression, doing string) (applied bool, err error) {
	_, err = api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &table, Key: key, UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, err)
	}
	return true, nil
}

// decode rebuilds the domain value of an item (what names it in the error).
func decode[T stored[D], D any](av map[string]types.AttributeValue, what string) (D, error) {
	var it T
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		var zero D
		return zero, fmt.Errorf("unmarshalling %s: %w", what, err)
	}
	return it.domain(), nil
}

// fromImage rebuilds the domain value of a stream image.
func fromImage[T stored[D], D any](img map[string]events.DynamoDBAttributeValue, what string) (D, error) {
	av, err := FromStreamImage(img)
	if err != nil {
		var zero D
		return zero, err
	}
	return decode[T](av, what+" image")
}

// putItem marshals v and writes it as the table's item (what names it in
// errors).
func putItem(ctx context.Context, api API, table string, v any, what string) error {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return fmt.Errorf("marshalling %s: %w", what, err)
	}
	if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		return fmt.Errorf("putting %s: %w", what, err)
	}
	return nil
}

// deleteItem removes an item and returns the domain value it held (ok
// false when there was none).
func deleteItem[T stored[D], D any](ctx context.Context, api API, table string, key map[string]types.AttributeValue, what string) (v D, ok bool, err error) {
	out, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return v, false, fmt.Errorf("deleting %s: %w", what, err)
	}
	if len(out.Attributes) == 0 {
		return v, false, nil
	}
	v, err = decode[T](out.Attributes, what)
	return v, err == nil, err
}
