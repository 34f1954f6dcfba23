// Package mail sends email through Amazon SES (v2 API): MIME messages
// built by the caller, sent as raw content so attachments (calendar
// invitations) travel with them.
package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// API is the part of the SES client the sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends raw messages from one verified sender.
type SES struct {
	api    API
	from   string
	config string
}

// New returns a sender; from is the verified address (the message's From
// header may add a display name).
func New(api API, from string) *SES { return &SES{api: api, from: from} }

// WithConfigurationSet sends through an SES configuration set (the
// stack's requires TLS to the receiving server).
func (s *SES) WithConfigurationSet(name string) *SES {
	s.config = name
	return s
}

// Send sends a raw MIME message to one recipient.
func (s *SES) Send(ctx context.Context, to string, raw []byte) error {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: &s.from,
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
	}
	if s.config != "" {
		in.ConfigurationSetName = &s.config
	}
	_, err := s.api.SendEmail(ctx, in)
	var refused smithy.APIError
	if errors.As(err, &refused) {
		// SES's message can name the recipient (a patient's address): keep
		// only its code, so logs of the error hold no address.
		return fmt.Errorf("sending email: SES refused it (%s)", refused.ErrorCode())
	}
	if err != nil {
		return fmt.Errorf("sending email: %w", err)
	}
	return nil
}
