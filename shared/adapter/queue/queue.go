// Package queue sends requests to the functions behind SQS queues: bot
// turns (FIFO, one group per conversation) and routing runs.
package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/chat"
)

// API is the part of the SQS client used here.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// BotTurns enqueues bot turns, one message group per conversation so that
// turns are strictly ordered within a conversation.
type BotTurns struct {
	api API
	url string
}

var _ chat.BotTurns = (*BotTurns)(nil)

// NewBotTurns returns a sender to the queue at url.
func NewBotTurns(api API, url string) *BotTurns { return &BotTurns{api: api, url: url} }

// Request enqueues a turn. The deduplication id is the request itself, so
// a resend within SQS's five-minute window is dropped by the queue.
func (q *BotTurns) Request(ctx context.Context, conversationID, messageID string) error {
	body, err := json.Marshal(bot.Request{ConversationID: conversationID, MessageID: messageID})
	if err != nil {
		return fmt.Errorf("encoding bot turn: %w", err)
	}
	dedup := conversationID + "." + messageID
	if messageID == "" {
		dedup = conversationID + ".start"
	}
	_, err = q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &q.url, MessageBody: stringPtr(string(body)), MessageGroupId: &conversationID, MessageDeduplicationId: &dedup,
	})
	if err != nil {
		return fmt.Errorf("enqueueing bot turn: %w", err)
	}
	return nil
}

func stringPtr(s string) *string { return &s }
