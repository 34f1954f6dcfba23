package mail

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
)

type refusing struct{}

func (refusing) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified: ana.patient@example.org"}
}

// TestRefusalNamesNoAddress: the error (which ends up in logs) keeps SES's
// code and drops its message, which can name the patient's address.
func TestRefusalNamesNoAddress(t *testing.T) {
	err := New(refusing{}, "clinic@example.org").Send(context.Background(), "ana.patient@example.org", []byte("x"))
	if err == nil || strings.Contains(err.Error(), "ana.patient") || !strings.Contains(err.Error(), "MessageRejected") {
		t.Fatalf("error = %v", err)
	}
}
