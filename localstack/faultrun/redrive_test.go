package faultrun

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/patientservicecenter/psc/localstack/redrive"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/chat"
)

// TestARedrivenBotTurnAnswersOnce: a patient's message whose bot turn
// ended in the dead-letter queue is answered once the queue is redriven,
// and redriving the same request again (a second copy in the queue) stores
// no second answer.
func TestARedrivenBotTurnAnswersOnce(t *testing.T) {
	ctx := context.Background()
	convs, c := newConversation(t, "redrive")
	now := time.Now()
	// The message is stored; its turn never ran (it is in the DLQ).
	m, _, err := convs.Append(ctx, chat.Message{ConversationID: c.ID, ClientMessageID: "r-1", Role: chat.RolePatient, SenderName: "Rae",
		Text: "What are the visiting hours?", At: now, ExpiresAt: c.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(awsCfg())
	dlq := env.Outputs.Queues["BotTurnDLQ"]
	dead := func(copy int) {
		body, _ := json.Marshal(bot.Request{ConversationID: c.ID, MessageID: m.ID})
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &dlq, MessageBody: aws.String(string(body)),
			MessageGroupId: aws.String(c.ID), MessageDeduplicationId: aws.String(fmt.Sprintf("%s-%d", c.ID, copy))}); err != nil {
			t.Fatal(err)
		}
	}
	botReplies := func() int {
		after, err := convs.After(ctx, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range after {
			if x.Role == chat.RoleBot {
				n++
			}
		}
		return n
	}
	dead(1)
	to, err := redrive.Source(ctx, q, dlq)
	if err != nil {
		t.Fatal(err)
	}
	if to != env.Outputs.Queues["BotTurnQueue"] {
		t.Fatalf("the DLQ's source is %s, want the bot-turn queue", to)
	}
	if n, err := redrive.MoveBack(ctx, q, dlq, to); err != nil || n != 1 {
		t.Fatalf("moved %d: %v", n, err)
	}
	stacktest.Eventually(t, 150*time.Second, "the bot answers the redriven turn (a fault of the plan may cost a 60 s redelivery)", func() bool { return botReplies() == 1 })
	dead(2)
	if n, err := redrive.MoveBack(ctx, q, dlq, to); err != nil || n != 1 {
		t.Fatalf("moved %d: %v", n, err)
	}
	// The second copy is taken (it leaves the queue) and changes nothing.
	stacktest.Eventually(t, 150*time.Second, "the bot-turn queue is drained", func() bool { return queueEmpty(t, to) })
	if n := botReplies(); n != 1 {
		t.Fatalf("%d bot answers after the second redrive, want 1", n)
	}
}

// TestAStreamFailureIsReplayed: a batch described in the failure queue (as
// Lambda describes a batch it gave up on) is read from the stream again,
// by its shard and sequence numbers, and handed to its function through
// Lambda's Invoke API; the function succeeds and the description leaves
// the queue.
func TestAStreamFailureIsReplayed(t *testing.T) {
	ctx := context.Background()
	st := dynamodbstreams.NewFromConfig(awsCfg())
	// A new conversation: its INSERT record is the batch.
	_, c := newConversation(t, "replay")
	streamARN, shard, seq := latestRecordOf(t, st, c.ID)
	failure, _ := json.Marshal(map[string]any{
		"requestContext":     map[string]any{"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:" + env.Outputs.Functions["EscalationFunction"], "condition": "RetryAttemptsExhausted"},
		"DDBStreamBatchInfo": map[string]any{"shardId": shard, "startSequenceNumber": seq, "endSequenceNumber": seq, "batchSize": 1, "streamArn": streamARN},
	})
	q := sqs.NewFromConfig(awsCfg())
	fq := env.Outputs.Queues["StreamFailureQueue"]
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &fq, MessageBody: aws.String(string(failure))}); err != nil {
		t.Fatal(err)
	}
	web := strings.TrimRight(env.Outputs.Web, "/")
	fn := lambda.NewFromConfig(awsCfg(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(web) })
	r, err := redrive.ReplayStreamFailures(ctx, q, st, fn, fq, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Batches != 1 || r.Records != 1 || r.Expired != 0 {
		t.Fatalf("replayed %+v, want one batch of one record", r)
	}
	if !queueEmpty(t, fq) {
		t.Fatal("the replayed description is still in the failure queue")
	}
}

// newConversation creates a conversation with the bot, as the message
// function does, through the same adapter.
func newConversation(t *testing.T, kind string) (*ddb.Conversations, chat.Conversation) {
	t.Helper()
	convs := ddb.NewConversations(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["ConversationsTable"], env.Outputs.Tables["MessagesTable"])
	now := time.Now()
	c := chat.Conversation{ID: fmt.Sprintf("c-%s-%d", kind, now.UnixNano()), PatientID: "p-" + kind, PatientName: "Rae", Locale: "en", State: chat.StateBot,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := convs.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return convs, c
}

// latestRecordOf waits for a conversation's INSERT on the conversations
// stream and returns the stream, shard and sequence number of its record.
func latestRecordOf(t *testing.T, st *dynamodbstreams.Client, conversationID string) (string, string, string) {
	t.Helper()
	ctx := context.Background()
	streams, err := st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(env.Outputs.Tables["ConversationsTable"])})
	if err != nil || len(streams.Streams) == 0 {
		t.Fatalf("the conversations table's stream: %v", err)
	}
	arn := aws.ToString(streams.Streams[0].StreamArn)
	var shard, seq string
	stacktest.Eventually(t, 20*time.Second, "the conversation's stream record", func() bool {
		d, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range d.StreamDescription.Shards {
			it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: sh.ShardId, ShardIteratorType: "TRIM_HORIZON"})
			if err != nil {
				t.Fatal(err)
			}
			for iter := it.ShardIterator; iter != nil; {
				page, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page.Records {
					if id, ok := r.Dynamodb.Keys["conversationId"].(*streamtypes.AttributeValueMemberS); ok && id.Value == conversationID {
						shard, seq = aws.ToString(sh.ShardId), aws.ToString(r.Dynamodb.SequenceNumber)
					}
				}
				if len(page.Records) == 0 {
					break
				}
				iter = page.NextShardIterator
			}
		}
		return seq != ""
	})
	return arn, shard, seq
}

func queueEmpty(t *testing.T, url string) bool {
	t.Helper()
	out, err := sqs.NewFromConfig(awsCfg()).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}
