package faultrun

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/scripts/loadgen/loadgen"
)

// TestTheCapacityCheckReadsEveryVersion: an agent over capacity for one
// moment, and back within it by the end, is still caught by the check a
// fault run ends with, which reads every version of the agents' items from
// the table's stream. The table is the test's own, shaped as the agents
// table.
func TestTheCapacityCheckReadsEveryVersion(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(awsCfg())
	table := fmt.Sprintf("capacity-check-%d", time.Now().UnixNano())
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &table, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("agentId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("agentId"), KeyType: types.KeyTypeHash}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	put := func(agent string, active int) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
			"agentId": &types.AttributeValueMemberS{Value: agent}, "capacity": &types.AttributeValueMemberN{Value: "2"},
			"active": &types.AttributeValueMemberN{Value: fmt.Sprint(active)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, active := range []int{0, 1, 2, 1, 0} {
		put("within", active)
	}
	for _, active := range []int{1, 2, 3, 2, 0} {
		put("over", active)
	}
	images, problems, err := loadgen.CheckCapacityHistory(ctx, awsCfg(), table)
	if err != nil {
		t.Fatal(err)
	}
	if images != 10 || len(problems) != 1 || !strings.Contains(problems[0], "agent over held 3 conversations with a capacity of 2") {
		t.Fatalf("read %d versions, found %q: want 10 versions and agent \"over\" at 3 of 2", images, problems)
	}
}
