// Package staffauth signs staff in to the agent pool through every
// challenge Cognito puts to a new user: the first sign-in's password
// change (NEW_PASSWORD_REQUIRED), the authenticator set up (MFA_SETUP:
// associate a TOTP secret, verify a code) and, on later sign-ins, the TOTP
// code (SOFTWARE_TOKEN_MFA). It signs in with USER_PASSWORD_AUTH, which the
// console's app client allows outside prod (the console itself uses SRP).
// Tests and the load generator use it; it keeps what a person would keep
// (the password they chose, their authenticator's secret) in the Account.
package staffauth

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/pquerna/otp/totp"
)

// IDP is the part of the Cognito client sign-in uses (the public,
// unsigned operations the console calls).
type IDP interface {
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, opts ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
	AssociateSoftwareToken(ctx context.Context, in *cip.AssociateSoftwareTokenInput, opts ...func(*cip.Options)) (*cip.AssociateSoftwareTokenOutput, error)
	VerifySoftwareToken(ctx context.Context, in *cip.VerifySoftwareTokenInput, opts ...func(*cip.Options)) (*cip.VerifySoftwareTokenOutput, error)
}

// Account is a staff member's sign-in: the password they use now (the
// temporary one until the first sign-in replaces it) and, once set up,
// their authenticator's secret.
type Account struct {
	Username   string
	Password   string
	TOTPSecret string
}

// NewPassword is the password the first sign-in chooses for an account
// whose temporary password is p: still within the pool's policy.
func NewPassword(p string) string { return "Chosen-" + p }

// Code is the authenticator's current code for a secret.
func Code(secret string) (string, error) {
	return totp.GenerateCode(secret, time.Now())
}

// SignIn signs in with USER_PASSWORD_AUTH, answers every challenge, and
// returns the ID token. It updates the account with the new password and
// the authenticator secret when the first sign-in sets them.
func SignIn(ctx context.Context, idp IDP, clientID string, a *Account) (string, error) {
	result, err := Tokens(ctx, idp, clientID, a)
	if err != nil {
		return "", err
	}
	return aws.ToString(result.IdToken), nil
}

// Tokens signs in as SignIn does and returns every token the sign-in
// earned (the access token is what a user's own account calls need).
func Tokens(ctx context.Context, idp IDP, clientID string, a *Account) (*ciptypes.AuthenticationResultType, error) {
	out, err := idp.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth, ClientId: &clientID,
		AuthParameters: map[string]string{"USERNAME": a.Username, "PASSWORD": a.Password},
	})
	if err != nil {
		return nil, fmt.Errorf("signing in as %s: %w", a.Username, err)
	}
	result, challenge, session := out.AuthenticationResult, out.ChallengeName, out.Session
	for steps := 0; result == nil; steps++ {
		if steps > 4 {
			return nil, fmt.Errorf("signing in as %s: challenges do not end (last %s)", a.Username, challenge)
		}
		in := &cip.RespondToAuthChallengeInput{ClientId: &clientID, ChallengeName: challenge, Session: session,
			ChallengeResponses: map[string]string{"USERNAME": a.Username}}
		var chosen string
		switch challenge {
		case ciptypes.ChallengeNameTypeNewPasswordRequired:
			chosen = NewPassword(a.Password)
			in.ChallengeResponses["NEW_PASSWORD"] = chosen
		case ciptypes.ChallengeNameTypeMfaSetup:
			assoc, err := idp.AssociateSoftwareToken(ctx, &cip.AssociateSoftwareTokenInput{Session: session})
			if err != nil {
				return nil, fmt.Errorf("setting up the authenticator of %s: %w", a.Username, err)
			}
			secret := aws.ToString(assoc.SecretCode)
			code, err := Code(secret)
			if err != nil {
				return nil, err
			}
			v, err := idp.VerifySoftwareToken(ctx, &cip.VerifySoftwareTokenInput{Session: assoc.Session, UserCode: &code, FriendlyDeviceName: aws.String("authenticator")})
			if err != nil {
				return nil, fmt.Errorf("verifying the authenticator of %s: %w", a.Username, err)
			}
			if v.Status != ciptypes.VerifySoftwareTokenResponseTypeSuccess {
				return nil, fmt.Errorf("verifying the authenticator of %s: %s", a.Username, v.Status)
			}
			a.TOTPSecret = secret
			in.Session = v.Session
		case ciptypes.ChallengeNameTypeSoftwareTokenMfa:
			if a.TOTPSecret == "" {
				return nil, fmt.Errorf("signing in as %s: a TOTP code is asked and the account's authenticator secret is unknown", a.Username)
			}
			code, err := Code(a.TOTPSecret)
			if err != nil {
				return nil, err
			}
			in.ChallengeResponses["SOFTWARE_TOKEN_MFA_CODE"] = code
		default:
			return nil, fmt.Errorf("signing in as %s: challenge %s is not handled", a.Username, challenge)
		}
		r, err := idp.RespondToAuthChallenge(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("signing in as %s: answering %s: %w", a.Username, challenge, err)
		}
		if chosen != "" {
			a.Password = chosen
		}
		result, challenge, session = r.AuthenticationResult, r.ChallengeName, r.Session
	}
	if aws.ToString(result.IdToken) == "" {
		return nil, fmt.Errorf("signing in as %s gave no ID token", a.Username)
	}
	return result, nil
}
