// Package sms sends text messages through Amazon SNS's direct publishing
// to a phone number (Publish with PhoneNumber), as transactional messages
// from the account's origination number.
package sms

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
)

// API is the part of the SNS client the sender uses.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS sends text messages.
type SNS struct {
	api  API
	from string
}

// New returns a sender; from, when set, is the origination number (E.164)
// the texts come from (US carriers require a registered number: a 10DLC
// number, a toll-free number or a short code; docs/operations.md).
func New(api API, from string) *SNS { return &SNS{api: api, from: from} }

// Text sends one message to one number. Reminders and keyword answers are
// transactional: SNS sends them at the higher reliability.
func (s *SNS) Text(ctx context.Context, phone, body string) error {
	attrs := map[string]types.MessageAttributeValue{
		"AWS.SNS.SMS.SMSType": {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
	}
	if s.from != "" {
		attrs["AWS.MM.SMS.OriginationNumber"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s.from)}
	}
	_, err := s.api.Publish(ctx, &sns.PublishInput{PhoneNumber: &phone, Message: &body, MessageAttributes: attrs})
	var refused smithy.APIError
	if errors.As(err, &refused) {
		// SNS's message can name the number: keep only its code.
		return fmt.Errorf("sending a text: SNS refused it (%s)", refused.ErrorCode())
	}
	if err != nil {
		return fmt.Errorf("sending a text: %w", err)
	}
	return nil
}
