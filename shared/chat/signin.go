package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// SignInRequest proves the patient's identity with an ID token of the
// patients' identity provider: the hospital's own sign-in (OpenID
// Connect), as a one-time code does.
type SignInRequest struct{ RequestID, ConversationID, IDToken string }

// SignedIn answers it: the conversation is verified as the (masked)
// email the provider proved.
type SignedIn struct{ RequestID, ConversationID, Email string }

// IDTokens verifies an ID token of the patients' identity provider and
// returns the email it proves (one the provider verified); an invalid
// token is a fault.Unauthorized.
type IDTokens interface {
	VerifiedEmail(ctx context.Context, idToken string) (string, error)
}

// OnFile gives the email on file for a patient's upcoming appointments
// (the one a code would go to), "" when none has one.
type OnFile interface {
	EmailOnFile(ctx context.Context, patientID string) (string, error)
}

// VerifiedMarks records a conversation's proved identity.
type VerifiedMarks interface {
	MarkVerified(ctx context.Context, conversationID, email string, at time.Time) error
}

// SignIns is what sign-in with the identity provider needs.
type SignIns struct {
	Tokens IDTokens
	OnFile OnFile
	Marks  VerifiedMarks
}

// WithSignIn lets patients prove who they are by signing in with the
// hospital's identity provider.
func (s *Service) WithSignIn(si SignIns) *Service {
	s.signIns = &si
	return s
}

// SignIn verifies the caller's conversation as the email an ID token
// proves, when that is the email on file for the patient's appointments
// (or they have none yet): the same identity level a code gives, and the
// same rule, so a sign-in never shows one person's records to another.
func (s *Service) SignIn(ctx context.Context, connectionID string, f SignInRequest) error {
	_, c, err := s.admitOwned(ctx, connectionID, f.ConversationID)
	if err != nil {
		return err
	}
	if s.signIns == nil {
		return fault.Errorf(fault.BadRequest, "sign-in with the hospital's account is not set up here")
	}
	email, err := s.signIns.Tokens.VerifiedEmail(ctx, f.IDToken)
	if err != nil {
		if fault.Is(err, fault.Unauthorized) {
			return err
		}
		return fmt.Errorf("verifying the sign-in: %w", err)
	}
	onFile, err := s.signIns.OnFile.EmailOnFile(ctx, c.PatientID)
	if err != nil {
		return fmt.Errorf("reading the email on file: %w", err)
	}
	if onFile != "" && !strings.EqualFold(onFile, email) {
		return fault.Errorf(fault.Forbidden, "you signed in as %s, but this chat's appointments were booked with another email", MaskEmail(email))
	}
	if c.Identity != IdentityVerified || !strings.EqualFold(c.VerifiedEmail, email) {
		now := s.now()
		if err := s.signIns.Marks.MarkVerified(ctx, c.ID, email, now); err != nil {
			return fmt.Errorf("marking %s verified: %w", c.ID, err)
		}
		c.Identity, c.VerifiedEmail, c.UpdatedAt = IdentityVerified, email, now
	}
	// Every open page of the conversation shows the new level.
	return errors.Join(s.pushTo(ctx, connectionID, SignedIn{RequestID: f.RequestID, ConversationID: c.ID, Email: MaskEmail(email)}),
		s.fan.Broadcast(ctx, c.ID, "", StatusOf(c)))
}
