package stack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestSESSendsAreAuthorisedAsAWSDoes follows the Amazon SES Developer
// Guide ("Controlling access to Amazon SES") and the Service Authorization
// Reference for SES v2: a SendEmail with Raw content needs
// ses:SendRawEmail on the identity that covers the sender (its address,
// else its domain), and no one sends from an unverified identity.
// MiniStack checks ses:SendEmail on "*" instead; the stack's gate applies
// AWS's rule.
func TestSESSendsAreAuthorisedAsAWSDoes(t *testing.T) {
	ctx := context.Background()
	emu, err := startEmulator(ctx, filepath.Join("..", "..", ".venv"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.stop()
	root := awsConfig(emu.endpoint)
	r := &roles{iam: iam.NewFromConfig(root), sts: sts.NewFromConfig(root), creds: map[string]roleCreds{}, byKey: map[string]string{}, verdict: map[[3]string]verdict{}}
	ses := sesv2.NewFromConfig(root)
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("hospital.example")}); err != nil {
		t.Fatal(err)
	}
	m, err := newMeter(emu.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	m.ses = &sesGate{roles: r, ses: ses}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	sender := func(name, policy string) *sesv2.Client {
		t.Helper()
		if _, err := r.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(43200)}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("mail"), PolicyDocument: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
		c, err := r.credentials(ctx, "arn:aws:iam::"+AccountID+":role/"+name, name)
		if err != nil {
			t.Fatal(err)
		}
		return sesv2.NewFromConfig(aws.Config{Region: Region, BaseEndpoint: aws.String("http://" + ln.Addr().String()),
			Credentials: credentials.NewStaticCredentialsProvider(c.keyID, c.secret, c.token)})
	}
	if _, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("mail"),
		DeliveryOptions: &sestypes.DeliveryOptions{TlsPolicy: sestypes.TlsPolicyRequire}}); err != nil {
		t.Fatal(err)
	}
	send := func(c *sesv2.Client, from, configSet string) string {
		t.Helper()
		in := &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(from), Destination: &sestypes.Destination{ToAddresses: []string{"patient@example.org"}},
			Content: &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: []byte("From: " + from + "\r\nTo: patient@example.org\r\nSubject: hi\r\n\r\nhello\r\n")}},
		}
		if configSet != "" {
			in.ConfigurationSetName = aws.String(configSet)
		}
		_, err := c.SendEmail(ctx, in)
		var api smithy.APIError
		if errors.As(err, &api) {
			return api.ErrorCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return "sent"
	}
	identity := "arn:aws:ses:" + Region + ":" + AccountID + ":identity/hospital.example"
	sendOnly := sender("send-only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"`+identity+`"}]}`)
	raw := sender("raw", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendEmail","ses:SendRawEmail"],"Resource":"`+identity+`"}]}`)
	withSet := sender("with-set", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":["`+identity+`","arn:aws:ses:`+Region+`:`+AccountID+`:configuration-set/mail"]}]}`)
	otherIdentity := sender("other-identity", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"arn:aws:ses:`+Region+`:`+AccountID+`:identity/other.example"}]}`)

	for _, tc := range []struct {
		name      string
		client    *sesv2.Client
		from, set string
		want      string
	}{
		{"ses:SendEmail alone does not allow a raw send", sendOnly, "appointments@hospital.example", "", "AccessDeniedException"},
		{"ses:SendRawEmail on the sender's domain allows it", raw, "appointments@hospital.example", "", "sent"},
		{"a display name does not change the identity", raw, "Hospital <appointments@hospital.example>", "", "sent"},
		{"a subdomain is covered by its verified parent", raw, "appointments@mail.hospital.example", "", "sent"},
		{"permission on another identity does not allow it", otherIdentity, "appointments@hospital.example", "", "AccessDeniedException"},
		{"an unverified sender is refused", raw, "appointments@unverified.example", "", "MessageRejected"},
		{"a configuration set needs its own permission", raw, "appointments@hospital.example", "mail", "AccessDeniedException"},
		{"with it, the send goes through the set", withSet, "appointments@hospital.example", "mail", "sent"},
		{"an unknown configuration set is refused", withSet, "appointments@hospital.example", "nosuch", "NotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(tc.client, tc.from, tc.set); got != tc.want {
				t.Fatalf("send from %s: %s, want %s", tc.from, got, tc.want)
			}
		})
	}
}
