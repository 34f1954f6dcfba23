// Package session issues and verifies the patient session tokens that let a
// patient resume a conversation after reconnecting. A token is a JWT signed
// with HMAC-SHA256 (golang-jwt); it carries only opaque ids and an expiry,
// and the patient's details stay server-side.
package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinKeyBytes is the shortest signing key accepted (256 bits, the HMAC-SHA256 block strength).
const MinKeyBytes = 32

const issuer = "psc-patient-session"

// Claims is what a valid token says.
type Claims struct {
	PatientID      string
	ConversationID string
	ExpiresAt      time.Time
}

// Tokens issues and verifies session tokens.
type Tokens struct {
	keys Keys
	ttl  time.Duration
	now  func() time.Time
}

// New returns Tokens signing with key, valid for ttl.
func New(key []byte, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	return NewWithKeys(StaticKeys{Current: key}, ttl, now)
}

// NewWithKeys returns Tokens signing with the current key of keys and
// verifying with the current and the previous one.
func NewWithKeys(keys Keys, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if err := checkKeys("session", keys); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("session ttl must be positive")
	}
	return &Tokens{keys: keys, ttl: ttl, now: now}, nil
}

type tokenClaims struct {
	ConversationID string `json:"cid"`
	jwt.RegisteredClaims
}

// Issue signs a token for the patient's conversation.
func (t *Tokens) Issue(patientID, conversationID string) (string, Claims, error) {
	now := t.now()
	exp := now.Add(t.ttl).Truncate(time.Second)
	c := tokenClaims{
		ConversationID: conversationID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   patientID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.keys.Signing())
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing session token: %w", err)
	}
	return s, Claims{PatientID: patientID, ConversationID: conversationID, ExpiresAt: exp}, nil
}

// ErrInvalid is returned for any token that is not valid now.
var ErrInvalid = errors.New("invalid session token")

// Verify checks the token's signature, algorithm, issuer and expiry.
func (t *Tokens) Verify(token string) (Claims, error) {
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return verificationSet(t.keys), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Subject == "" || c.ConversationID == "" {
		return Claims{}, fmt.Errorf("%w: missing subject or conversation", ErrInvalid)
	}
	return Claims{PatientID: c.Subject, ConversationID: c.ConversationID, ExpiresAt: c.ExpiresAt.Time}, nil
}
