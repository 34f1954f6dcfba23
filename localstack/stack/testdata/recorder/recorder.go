// Package recorder appends what fixture functions see to a DynamoDB item
// per source, so fidelity tests can read the order of deliveries.
package recorder

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Recorder appends entries to lists in the records table.
type Recorder struct {
	db    *dynamodb.Client
	table string
}

// New builds a recorder from the environment.
func New(ctx context.Context) (*Recorder, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &Recorder{db: dynamodb.NewFromConfig(cfg), table: os.Getenv("RECORDS_TABLE")}, nil
}

// Append adds entry to the list of source.
func (r *Recorder) Append(ctx context.Context, source, entry string) error {
	_, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &r.table,
		Key:                      map[string]types.AttributeValue{"source": &types.AttributeValueMemberS{Value: source}},
		UpdateExpression:         aws.String("SET #l = list_append(if_not_exists(#l, :empty), :e)"),
		ExpressionAttributeNames: map[string]string{"#l": "log"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":e":     &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: entry}}},
		},
	})
	return err
}

// Once reports true the first time it is called with key.
func (r *Recorder) Once(ctx context.Context, key string) (bool, error) {
	_, err := r.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &r.table,
		Item:                     map[string]types.AttributeValue{"source": &types.AttributeValueMemberS{Value: "once#" + key}},
		ConditionExpression:      aws.String("attribute_not_exists(#s)"),
		ExpressionAttributeNames: map[string]string{"#s": "source"},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	return err == nil, err
}
