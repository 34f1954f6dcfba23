// Package redrive replays what the system gave up on, in AWS or on the
// local stack alike: the messages of a dead-letter queue go back to the
// queue they came from, and the stream batches a function's event source
// mapping sent to its failure destination are read again from the stream
// and handed to the function. Every consumer is idempotent, so a replay
// (or a replay run twice) does the work at most once; a message leaves the
// dead-letter or failure queue only once its replay has succeeded.
// scripts/redrive is its command, docs/operations.md its runbook.
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/patientservicecenter/psc/localstack/streamevent"
)

// Queues is the part of SQS a redrive uses.
type Queues interface {
	ListQueues(ctx context.Context, in *sqs.ListQueuesInput, opts ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Streams is the part of DynamoDB Streams a replay uses.
type Streams interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Invoker is the part of Lambda a replay uses.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Source returns the queue whose redrive policy names the dead-letter
// queue.
func Source(ctx context.Context, q Queues, dlqURL string) (string, error) {
	arn, err := queueARN(ctx, q, dlqURL)
	if err != nil {
		return "", err
	}
	p := sqs.NewListQueuesPaginator(q, &sqs.ListQueuesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing queues: %w", err)
		}
		for _, u := range page.QueueUrls {
			out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
			if err != nil {
				return "", fmt.Errorf("reading the redrive policy of %s: %w", u, err)
			}
			var policy struct {
				Target string `json:"deadLetterTargetArn"`
			}
			if raw := out.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)]; raw != "" && json.Unmarshal([]byte(raw), &policy) == nil && policy.Target == arn {
				return u, nil
			}
		}
	}
	return "", fmt.Errorf("no queue sends its dead letters to %s", arn)
}

func queueARN(ctx context.Context, q Queues, url string) (string, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("reading the queue %s: %w", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// receive takes up to ten messages of a queue, hidden from others for a
// minute while they are replayed.
func receive(ctx context.Context, q Queues, url string) ([]sqstypes.Message, error) {
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", url, err)
	}
	return out.Messages, nil
}

// MoveBack moves every message of a dead-letter queue to the queue it
// came from (to), keeping its body, attributes and, on a FIFO queue, its
// group (so a conversation's turns stay in order). Each message is deleted
// from the dead-letter queue only after it was sent; its deduplication id
// is its dead-letter message id, so a move interrupted and run again
// within five minutes sends it once. It returns how many it moved.
func MoveBack(ctx context.Context, q Queues, dlqURL, to string) (int, error) {
	fifo := strings.HasSuffix(to, ".fifo")
	moved := 0
	for {
		msgs, err := receive(ctx, q, dlqURL)
		if err != nil {
			return moved, err
		}
		if len(msgs) == 0 {
			return moved, nil
		}
		for _, m := range msgs {
			in := &sqs.SendMessageInput{QueueUrl: &to, MessageBody: m.Body, MessageAttributes: m.MessageAttributes}
			if fifo {
				in.MessageGroupId = aws.String(m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)])
				in.MessageDeduplicationId = aws.String("redrive-" + aws.ToString(m.MessageId))
			}
			if _, err := q.SendMessage(ctx, in); err != nil {
				return moved, fmt.Errorf("sending %s back to %s: %w", aws.ToString(m.MessageId), to, err)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &dlqURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, fmt.Errorf("deleting %s from the dead-letter queue: %w", aws.ToString(m.MessageId), err)
			}
			moved++
		}
	}
}

// failure is what Lambda sends to a stream mapping's OnFailure destination
// about a batch it gave up on (Lambda Developer Guide, "Retaining records
// of discarded batches for a DynamoDB event source").
type failure struct {
	RequestContext struct {
		FunctionArn string `json:"functionArn"`
		Condition   string `json:"condition"`
	} `json:"requestContext"`
	Batch struct {
		ShardID   string `json:"shardId"`
		Start     string `json:"startSequenceNumber"`
		End       string `json:"endSequenceNumber"`
		BatchSize int    `json:"batchSize"`
		StreamArn string `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

// Replayed is what a replay of stream failures did.
type Replayed struct {
	Batches int // batches handed to their function again
	Records int // records in them
	// Expired counts batches whose records the stream no longer holds (it
	// keeps them 24 hours): their function's log names what to act on.
	Expired int
}

// ReplayStreamFailures reads each batch description of a failure queue,
// reads its records from the stream again, and invokes the function with
// them as Lambda would. A description is deleted once its function
// succeeded, or when the stream no longer holds its records (counted as
// Expired); a batch that fails again stays for the next replay.
func ReplayStreamFailures(ctx context.Context, q Queues, st Streams, fn Invoker, failureURL, region string) (Replayed, error) {
	var r Replayed
	for {
		msgs, err := receive(ctx, q, failureURL)
		if err != nil {
			return r, err
		}
		if len(msgs) == 0 {
			return r, nil
		}
		for _, m := range msgs {
			var f failure
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &f); err != nil || f.Batch.StreamArn == "" || f.RequestContext.FunctionArn == "" {
				return r, fmt.Errorf("message %s is not a stream batch's failure description", aws.ToString(m.MessageId))
			}
			recs, err := records(ctx, st, f)
			switch {
			case err != nil:
				return r, err
			case len(recs) == 0:
				r.Expired++
			default:
				ev := events.DynamoDBEvent{}
				for _, rec := range recs {
					ev.Records = append(ev.Records, streamevent.Record(rec, f.Batch.StreamArn, region))
				}
				payload, _ := json.Marshal(ev)
				out, err := fn.Invoke(ctx, &lambda.InvokeInput{FunctionName: &f.RequestContext.FunctionArn, Payload: payload})
				if err != nil {
					return r, fmt.Errorf("invoking %s: %w", f.RequestContext.FunctionArn, err)
				}
				if out.FunctionError != nil {
					return r, fmt.Errorf("%s failed again on the batch of %s (%s): %s", f.RequestContext.FunctionArn, f.Batch.StreamArn, aws.ToString(out.FunctionError), out.Payload)
				}
				var resp events.DynamoDBEventResponse
				if json.Unmarshal(out.Payload, &resp) == nil && len(resp.BatchItemFailures) > 0 {
					return r, fmt.Errorf("%s failed again on %d records of the batch of %s", f.RequestContext.FunctionArn, len(resp.BatchItemFailures), f.Batch.StreamArn)
				}
				r.Batches++
				r.Records += len(recs)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &failureURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return r, fmt.Errorf("deleting a replayed failure description: %w", err)
			}
		}
	}
}

// records reads a failed batch's records, from its first sequence number
// to its last, from the stream.
func records(ctx context.Context, st Streams, f failure) ([]streamtypes.Record, error) {
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &f.Batch.StreamArn, ShardId: &f.Batch.ShardID,
		ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: &f.Batch.Start})
	if err != nil {
		var trimmed *streamtypes.TrimmedDataAccessException
		var gone *streamtypes.ResourceNotFoundException
		if errors.As(err, &trimmed) || errors.As(err, &gone) {
			return nil, nil
		}
		return nil, fmt.Errorf("opening %s at %s: %w", f.Batch.ShardID, f.Batch.Start, err)
	}
	end, ok := new(big.Int).SetString(f.Batch.End, 10)
	if !ok {
		return nil, fmt.Errorf("the batch's last sequence number %q is not a number", f.Batch.End)
	}
	var out []streamtypes.Record
	iter := it.ShardIterator
	for iter != nil {
		page, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Batch.ShardID, err)
		}
		for _, rec := range page.Records {
			seq, _ := new(big.Int).SetString(aws.ToString(rec.Dynamodb.SequenceNumber), 10)
			if seq == nil || seq.Cmp(end) > 0 {
				return out, nil
			}
			out = append(out, rec)
		}
		if len(page.Records) == 0 {
			return out, nil // the open shard has nothing more yet
		}
		iter = page.NextShardIterator
	}
	return out, nil
}
