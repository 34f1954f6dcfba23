package auth

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// patientClaims are what a patients' sign-in ID token carries: the email
// and whether the provider verified it (a bool in Cognito's tokens, the
// string "true" in some providers' and in attributes Cognito maps from a
// federated provider).
type patientClaims struct {
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
}

var _ chat.IDTokens = (*Verifier)(nil)

// VerifiedEmail checks a patients' sign-in ID token (signature, RS256,
// issuer, expiry, audience the page's client, an ID token) and returns
// the email it proves: only one the provider verified.
func (v *Verifier) VerifiedEmail(ctx context.Context, token string) (string, error) {
	var c struct {
		claims
		patientClaims
	}
	if _, err := v.parser.ParseWithClaims(token, &c, v.keys); err != nil {
		return "", fault.Errorf(fault.Unauthorized, "the sign-in is not valid: %s", reason(err))
	}
	switch {
	case c.TokenUse != "id":
		return "", fault.Errorf(fault.Unauthorized, "the sign-in is not valid: not an ID token")
	case !containsAudience(c.Audience, v.cfg.ClientID):
		return "", fault.Errorf(fault.Unauthorized, "the sign-in is not valid: issued to another client")
	case c.Email == "" || !strings.Contains(c.Email, "@"):
		return "", fault.Errorf(fault.Unauthorized, "the sign-in carries no email")
	}
	switch strings.Trim(string(c.EmailVerified), `"`) {
	case "true":
		return strings.ToLower(strings.TrimSpace(c.Email)), nil
	}
	return "", fault.Errorf(fault.Unauthorized, "the identity provider has not verified this email")
}
