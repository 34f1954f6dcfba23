package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/patientservicecenter/psc/localstack/template"
)

// convertProps turns resolved CloudFormation properties into an SDK input
// struct: the property names are the API's, and encoding/json matches the
// SDK's field names case-insensitively.
func convertProps(props map[string]any, into any) error {
	b, err := json.Marshal(props)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// createTable creates a table as the template declares it (the stream and
// indexes included; the KMS key is AWS's business, not the emulator's) and
// returns its stream ARN, if any.
func (s *Stack) createTable(ctx context.Context, logical string, props map[string]any) (name, streamARN string, err error) {
	var in dynamodb.CreateTableInput
	keep := map[string]any{}
	for _, k := range []string{"TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode", "ProvisionedThroughput"} {
		if v, ok := props[k]; ok {
			keep[k] = v
		}
	}
	if err := convertProps(keep, &in); err != nil {
		return "", "", fmt.Errorf("table %s: %w", logical, err)
	}
	if in.TableName == nil {
		// CloudFormation names an unnamed table after the stack and the
		// logical id.
		in.TableName = aws.String(s.name(logical, "TableName"))
	}
	if ss := template.MapOf(props["StreamSpecification"]); len(ss) > 0 {
		view, _ := ss["StreamViewType"].(string)
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(view)}
	}
	_, err = s.ddb.CreateTable(ctx, &in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return "", "", fmt.Errorf("creating table %s: %w", logical, err)
	}
	if ttl := template.MapOf(props["TimeToLiveSpecification"]); ttl["Enabled"] == true {
		attr, _ := ttl["AttributeName"].(string)
		_, _ = s.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: in.TableName,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: &attr, Enabled: aws.Bool(true)}})
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := s.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err != nil {
			return "", "", fmt.Errorf("describing table %s: %w", logical, err)
		}
		if out.Table.TableStatus == ddbtypes.TableStatusActive {
			return *in.TableName, aws.ToString(out.Table.LatestStreamArn), nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("table %s did not become active", logical)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createQueue creates a queue with the template's attributes, the redrive
// policy included, and returns its URL and ARN.
func (s *Stack) createQueue(ctx context.Context, logical string, props map[string]any) (url, arn string, err error) {
	name, _ := props["QueueName"].(string)
	fifo := props["FifoQueue"] == true
	if name == "" {
		name = s.opts.StackName + "-" + logical
		if fifo {
			name += ".fifo"
		}
	}
	attrs := map[string]string{}
	for _, k := range []string{"VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"} {
		if v, ok := props[k]; ok {
			attrs[k] = fmt.Sprint(v)
		}
	}
	if fifo {
		attrs["FifoQueue"] = "true"
		if props["ContentBasedDeduplication"] == true {
			attrs["ContentBasedDeduplication"] = "true"
		}
	}
	if rp := template.MapOf(props["RedrivePolicy"]); len(rp) > 0 {
		b, _ := json.Marshal(map[string]any{"deadLetterTargetArn": rp["deadLetterTargetArn"], "maxReceiveCount": fmt.Sprint(rp["maxReceiveCount"])})
		attrs["RedrivePolicy"] = string(b)
	}
	out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("creating queue %s: %w", logical, err)
	}
	ga, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("reading queue %s: %w", logical, err)
	}
	return *out.QueueUrl, ga.Attributes["QueueArn"], nil
}

// createSecret creates a secret with a random value, as
// GenerateSecretString would, and returns its ARN.
func (s *Stack) createSecret(ctx context.Context, logical string, props map[string]any) (string, error) {
	name, _ := props["Name"].(string)
	if name == "" {
		name = s.opts.StackName + "-" + logical
	}
	length := 32
	if g := template.MapOf(props["GenerateSecretString"]); g["PasswordLength"] != nil {
		if n, err := strconv.Atoi(fmt.Sprint(g["PasswordLength"])); err == nil && n > 0 {
			length = n
		}
	}
	b := make([]byte, (length+1)/2)
	_, _ = rand.Read(b)
	value := hex.EncodeToString(b)[:length]
	out, err := s.secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	if err == nil {
		return *out.ARN, nil
	}
	d, derr := s.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	if derr != nil {
		return "", fmt.Errorf("creating secret %s: %w", logical, err)
	}
	return *d.ARN, nil
}

// queueOrder puts queues that others name as their dead-letter queue first.
func queueOrder(t *template.Template) []string {
	ids := t.OfType("AWS::SQS::Queue")
	sort.SliceStable(ids, func(i, j int) bool {
		return len(template.MapOf(t.Resources[ids[i]].Properties["RedrivePolicy"])) < len(template.MapOf(t.Resources[ids[j]].Properties["RedrivePolicy"]))
	})
	return ids
}

func arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, Region, AccountID, resource)
}

func lowerID(logical string) string { return strings.ToLower(logical) }
