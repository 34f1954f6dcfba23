// Package auth verifies the agent console's identity-provider tokens: JWTs
// a Cognito user pool issues, checked with golang-jwt against the pool's
// published keys (JWKS, fetched and refreshed by keyfunc).
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/fault"
)

// Config says which tokens to accept.
type Config struct {
	// Issuer is the pool's issuer, https://cognito-idp.<region>.amazonaws.com/<poolId>.
	Issuer string
	// ClientID is the console's app client: an ID token's audience, an
	// access token's client_id.
	ClientID string
	// JWKSURL is where the pool's keys are; usually Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// Skew is the clock skew tolerated on exp, iat and nbf.
	Skew time.Duration
}

// Verifier verifies Cognito tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	keys   jwt.Keyfunc
	parser *jwt.Parser
	now    func() time.Time
}

var _ agent.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier that reads the pool's keys from
// cfg.JWKSURL: once now (a failure is retried on first use), hourly, and
// when a token names a key it does not know (at most once a minute, so
// forged key ids cannot make it hammer the endpoint).
func NewVerifier(ctx context.Context, cfg Config, log *slog.Logger) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.JWKSURL == "" {
		return nil, errors.New("auth: issuer, client id and JWKS URL are required")
	}
	store, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Ctx:                       ctx,
		NoErrorReturnFirstHTTPReq: true,
		RefreshInterval:           time.Hour,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			log.ErrorContext(ctx, "refreshing the pool's keys failed", "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: reading keys from %s: %w", cfg.JWKSURL, err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{cfg.JWKSURL: store},
		RateLimitWaitMax:  100 * time.Millisecond,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return newVerifier(cfg, kf.KeyfuncCtx(ctx), time.Now), nil
}

func newVerifier(cfg Config, keys jwt.Keyfunc, now func() time.Time) *Verifier {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Skew),
		jwt.WithTimeFunc(now),
	)
	return &Verifier{cfg: cfg, keys: keys, parser: parser, now: now}
}

// claims are the Cognito claims the console's tokens carry.
type claims struct {
	jwt.RegisteredClaims
	TokenUse  string   `json:"token_use"`
	ClientID  string   `json:"client_id"`
	Username  string   `json:"username"`
	CUsername string   `json:"cognito:username"`
	Groups    []string `json:"cognito:groups"`
	// DisplayName is the name patients see: custom:display_name, which
	// only admins write (the pool's required `name` stays writable by
	// the user, so it is never shown to patients).
	DisplayName string `json:"custom:display_name"`
	Skills      string `json:"custom:skills"`
	Languages   string `json:"custom:languages"`
	Capacity    string `json:"custom:capacity"`
}

// Verify checks the token's signature, algorithm, issuer, expiry and
// audience, and returns who it names. ID tokens carry the profile (name,
// skills, languages, capacity); access tokens only the subject and groups.
func (v *Verifier) Verify(ctx context.Context, token string) (agent.Identity, error) {
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keys); err != nil {
		return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid: %s", reason(err))
	}
	switch c.TokenUse {
	case "id":
		if !containsAudience(c.Audience, v.cfg.ClientID) {
			return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid: issued to another client")
		}
	case "access":
		if c.ClientID != v.cfg.ClientID {
			return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid: issued to another client")
		}
	default:
		return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid: not an ID or access token")
	}
	if c.Subject == "" {
		return agent.Identity{}, fault.Errorf(fault.Unauthorized, "the token is not valid: no subject")
	}
	id := agent.Identity{
		AgentID:   c.Subject,
		Username:  first(c.CUsername, c.Username),
		Name:      first(c.DisplayName, first(c.CUsername, c.Username)),
		Skills:    list(c.Skills),
		Languages: list(c.Languages),
		ExpiresAt: c.ExpiresAt.Time,
	}
	for _, g := range c.Groups {
		switch r := agent.Role(g); r {
		case agent.RoleAgent, agent.RoleSupervisor, agent.RoleAdmin:
			id.Roles = append(id.Roles, r)
		}
	}
	if n, err := strconv.Atoi(c.Capacity); err == nil && n > 0 {
		id.Capacity = n
	}
	return id, nil
}

// reason names what was wrong with a token, without echoing any of it.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature"
	default:
		return "rejected"
	}
}

func containsAudience(aud jwt.ClaimStrings, want string) bool {
	for _, a := range aud {
		if a == want {
			return true
		}
	}
	return false
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// list splits a comma-separated attribute into trimmed, lower-case items.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}
