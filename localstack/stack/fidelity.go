package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// The rules below are AWS's, applied by the stack where the emulator
// differs from AWS. Each has a fidelity test naming the documentation it
// follows (fidelity_test.go).

// sesGate authorises an SES v2 SendEmail the way AWS does, then lets the
// emulator deliver it with the stack's own credentials.
//
// AWS: a SendEmail with Raw content is authorised as ses:SendRawEmail
// (Simple and Template content as ses:SendEmail), on the ARN of the
// identity that covers the sender: the address's own identity if it has
// one, else its domain's (Amazon SES Developer Guide, "Controlling access
// to Amazon SES", and the Service Authorization Reference for SES v2).
// MiniStack checks ses:SendEmail on "*" for every send, which refuses a
// correct policy and accepts a wrong one.
type sesGate struct {
	roles *roles
	ses   *sesv2.Client
}

var sesKeyID = regexp.MustCompile(`Credential=([^/]+)/`)

// check returns the AWS error a send would get, or nil.
func (g *sesGate) check(ctx context.Context, r *http.Request, body []byte) *awsError {
	m := sesKeyID.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return &awsError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	role, ok := g.roles.roleOfKey(m[1])
	if !ok {
		return nil // not a function's credentials: the emulator decides
	}
	var in struct {
		FromEmailAddress     string
		ConfigurationSetName string
		Content              struct{ Raw, Simple, Template json.RawMessage }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return &awsError{http.StatusBadRequest, "BadRequestException", "malformed request"}
	}
	action := "ses:SendEmail"
	if len(in.Content.Raw) > 0 {
		action = "ses:SendRawEmail"
	}
	from := in.FromEmailAddress
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	identity, err := g.identityFor(ctx, from)
	if err != nil {
		return &awsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	if identity == "" {
		return &awsError{http.StatusBadRequest, "MessageRejected", "Email address is not verified. The following identities failed the check in region " + strings.ToUpper(Region) + ": " + from}
	}
	// A send through a configuration set is authorised on it too.
	resources := []string{arn("ses", "identity/"+identity)}
	if in.ConfigurationSetName != "" {
		if _, err := g.ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: &in.ConfigurationSetName}); err != nil {
			return &awsError{http.StatusNotFound, "NotFoundException", "Configuration set <" + in.ConfigurationSetName + "> does not exist."}
		}
		resources = append(resources, arn("ses", "configuration-set/"+in.ConfigurationSetName))
	}
	for _, resource := range resources {
		allowed, err := g.roles.allowed(ctx, role, action, resource)
		if err != nil {
			return &awsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
		}
		if !allowed {
			return &awsError{http.StatusForbidden, "AccessDeniedException", denied(role, action, resource).Error()}
		}
	}
	return nil
}

// identityFor returns the verified identity that covers an address: the
// address itself, else its domain or a parent domain; "" when none is
// verified for sending.
func (g *sesGate) identityFor(ctx context.Context, address string) (string, error) {
	candidates := []string{address}
	domain := address[strings.LastIndex(address, "@")+1:]
	labels := strings.Split(domain, ".")
	for i := 0; i < len(labels)-1; i++ {
		candidates = append(candidates, strings.Join(labels[i:], "."))
	}
	for _, c := range candidates {
		out, err := g.ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(c)})
		if err != nil {
			if strings.Contains(err.Error(), "NotFound") {
				continue
			}
			return "", fmt.Errorf("reading identity %s: %w", c, err)
		}
		if out.VerifiedForSendingStatus {
			return c, nil
		}
	}
	return "", nil
}

// awsError is an error answer in the JSON shape of the REST services.
type awsError struct {
	status        int
	code, message string
}

func (e *awsError) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

// resign signs a request again with the stack's own (root) credentials,
// after the stack has authorised it itself.
func resign(r *http.Request, body []byte, service string) error {
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Security-Token")
	r.Header.Del("X-Amz-Date")
	sum := sha256.Sum256(body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return v4.NewSigner().SignHTTP(r.Context(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r, hex.EncodeToString(sum[:]), service, Region, time.Now())
}

// verifySender does what an operator does before the first deploy when
// the template does not create the sender's identity
// (CreateSenderIdentity=false): it verifies the sender's domain through
// the SES API. The emulator marks an identity verified as it is created;
// in AWS the domain's DKIM records do (docs/operations.md). Sends from an
// address no verified identity covers are refused, as in AWS.
func (s *Stack) verifySender(ctx context.Context) error {
	sender := s.res.Refs["NotificationSender"]
	if sender == "" || len(s.ofType("AWS::SES::EmailIdentity")) > 0 {
		return nil
	}
	domain := sender[strings.LastIndex(sender, "@")+1:]
	_, err := s.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(domain)})
	if err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		return fmt.Errorf("verifying the sender's domain %s (an operator's step before the first deploy): %w", domain, err)
	}
	return nil
}
