package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/fault"
)

const (
	issuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
	clientID = "console-client"
)

var now = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// pool is a fake identity provider: a signing key and its JWKS.
type pool struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
}

func newPool(t testing.TB, kid string) pool {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		t.Fatal(err)
	}
	return pool{key: key, kid: kid, jwks: b}
}

func (p pool) sign(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = p.kid
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func idClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "agent-1", "iss": issuer, "aud": clientID, "token_use": "id",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"cognito:username": "ana", "cognito:groups": []string{"agent", "unrelated"},
		"name": "Ana Ruiz", "custom:display_name": "Ana Ruiz", "custom:skills": "General, Billing", "custom:languages": "en,es", "custom:capacity": "3",
	}
}

func verifier(t testing.TB, p pool) *Verifier {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.jwks)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := NewVerifier(ctx, Config{Issuer: issuer, ClientID: clientID, JWKSURL: srv.URL, Skew: 30 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return now }
	v.parser = newVerifier(v.cfg, v.keys, v.now).parser
	return v
}

func TestVerifyAcceptsTheConsolesIDToken(t *testing.T) {
	p := newPool(t, "k1")
	v := verifier(t, p)
	id, err := v.Verify(context.Background(), p.sign(t, idClaims()))
	if err != nil {
		t.Fatal(err)
	}
	if id.AgentID != "agent-1" || id.Username != "ana" || id.Name != "Ana Ruiz" || id.Capacity != 3 {
		t.Errorf("identity = %+v", id)
	}
	if !slices.Equal(id.Roles, []agent.Role{agent.RoleAgent}) {
		t.Errorf("roles = %v, want only the pool's groups", id.Roles)
	}
	if !slices.Equal(id.Skills, []string{"general", "billing"}) || !slices.Equal(id.Languages, []string{"en", "es"}) {
		t.Errorf("skills %v languages %v", id.Skills, id.Languages)
	}
	if !id.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("expires at %v", id.ExpiresAt)
	}
}

// TestTheNamePatientsSeeIsTheAdminsNotTheUsers (issue 16): the pool's
// `name` is the user's to write (a required attribute stays writable), so
// the name patients see is custom:display_name, which only admins write;
// without it, the username an admin chose.
func TestTheNamePatientsSeeIsTheAdminsNotTheUsers(t *testing.T) {
	p := newPool(t, "k1")
	v := verifier(t, p)
	c := idClaims()
	c["name"] = "Dr. Chief of Medicine"
	id, err := v.Verify(context.Background(), p.sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Ana Ruiz" {
		t.Errorf("name = %q, want the display name an admin set", id.Name)
	}
	delete(c, "custom:display_name")
	if id, err = v.Verify(context.Background(), p.sign(t, c)); err != nil {
		t.Fatal(err)
	}
	if id.Name != "ana" {
		t.Errorf("name without a display name = %q, want the username", id.Name)
	}
}

func TestVerifyAcceptsAnAccessTokenOfTheClient(t *testing.T) {
	p := newPool(t, "k1")
	v := verifier(t, p)
	c := jwt.MapClaims{"sub": "agent-1", "iss": issuer, "client_id": clientID, "token_use": "access", "username": "ana",
		"cognito:groups": []string{"supervisor"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	id, err := v.Verify(context.Background(), p.sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "ana" || !id.Has(agent.RoleSupervisor) {
		t.Errorf("identity = %+v", id)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	p := newPool(t, "k1")
	other := newPool(t, "k1") // same key id, another key: a forgery
	stranger := newPool(t, "k9")
	v := verifier(t, p)
	with := func(k string, val any) jwt.MapClaims {
		c := idClaims()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, idClaims())
	hsToken, _ := hs.SignedString([]byte("guessable"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims())
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	good := p.sign(t, idClaims())
	for name, token := range map[string]string{
		"empty":                 "",
		"garbage":               "not.a.jwt",
		"expired":               p.sign(t, with("exp", now.Add(-time.Minute).Unix())),
		"no expiry":             p.sign(t, with("exp", nil)),
		"issued in the future":  p.sign(t, with("iat", now.Add(time.Hour).Unix())),
		"another issuer":        p.sign(t, with("iss", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other")),
		"another client":        p.sign(t, with("aud", "someone-else")),
		"refresh token use":     p.sign(t, with("token_use", "refresh")),
		"no subject":            p.sign(t, with("sub", nil)),
		"forged, same kid":      other.sign(t, idClaims()),
		"unknown key":           stranger.sign(t, idClaims()),
		"HS256 with a secret":   hsToken,
		"alg none":              noneToken,
		"payload tampered with": tamper(good),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), token)
			if fault.CodeOf(err) != fault.Unauthorized {
				t.Fatalf("err = %v, want unauthorized", err)
			}
		})
	}
	t.Run("expired within skew", func(t *testing.T) {
		if _, err := v.Verify(context.Background(), p.sign(t, with("exp", now.Add(-10*time.Second).Unix()))); err != nil {
			t.Fatalf("a token 10s past expiry with 30s skew: %v", err)
		}
	})
}

// tamper swaps the token's payload for one naming another subject.
func tamper(token string) string {
	var parts [3]string
	i, j := 0, 0
	for k := range token {
		if token[k] == '.' {
			parts[j] = token[i:k]
			i, j = k+1, j+1
		}
	}
	parts[2] = token[i:]
	c := idClaims()
	c["sub"] = "admin-1"
	c["cognito:groups"] = []string{"admin"}
	b, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return parts[0] + "." + payload + "." + parts[2]
}

func TestNewVerifierNeedsItsSettings(t *testing.T) {
	if _, err := NewVerifier(context.Background(), Config{Issuer: issuer}, slog.Default()); err == nil {
		t.Fatal("a verifier without client id and JWKS URL was made")
	}
}

func FuzzVerify(f *testing.F) {
	p := newPool(f, "k1")
	v := verifier(f, p)
	f.Add(p.sign(f, idClaims()))
	f.Add("e30.e30.e30")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err == nil && (id.AgentID == "" || id.ExpiresAt.IsZero()) {
			t.Fatalf("accepted a token without subject or expiry: %+v", id)
		}
		if err != nil && fault.CodeOf(err) != fault.Unauthorized {
			t.Fatalf("err = %v, want unauthorized", err)
		}
	})
}

func signInClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "p-1", "iss": issuer, "aud": clientID, "token_use": "id", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "Maria.Lopez@Example.org", "email_verified": true, "nonce": "n-1",
	}
}

// TestAPatientsSignInProvesAVerifiedEmail (issue 20): the hospital's
// sign-in proves an email only from a valid ID token of the page's client
// whose provider verified it.
func TestAPatientsSignInProvesAVerifiedEmail(t *testing.T) {
	p := newPool(t, "k1")
	v := verifier(t, p)
	ctx := context.Background()
	if email, err := v.VerifiedEmail(ctx, p.sign(t, signInClaims())); err != nil || email != "maria.lopez@example.org" {
		t.Fatalf("a good token: %q %v", email, err)
	}
	asString := signInClaims()
	asString["email_verified"] = "true" // as a federated provider's attribute arrives
	if email, err := v.VerifiedEmail(ctx, p.sign(t, asString)); err != nil || email != "maria.lopez@example.org" {
		t.Fatalf("email_verified as a string: %q %v", email, err)
	}
	other := newPool(t, "k1")
	for name, tok := range map[string]string{
		"unverified email": p.sign(t, with(signInClaims(), "email_verified", false)),
		"no verified flag": p.sign(t, with(signInClaims(), "email_verified", nil)),
		"no email":         p.sign(t, with(signInClaims(), "email", "")),
		"access token":     p.sign(t, with(signInClaims(), "token_use", "access")),
		"another client":   p.sign(t, with(signInClaims(), "aud", "someone-else")),
		"another issuer":   p.sign(t, with(signInClaims(), "iss", "https://idp.example.org")),
		"expired":          p.sign(t, with(signInClaims(), "exp", now.Add(-time.Hour).Unix())),
		"another key":      other.sign(t, signInClaims()),
	} {
		if email, err := v.VerifiedEmail(ctx, tok); !fault.Is(err, fault.Unauthorized) || email != "" {
			t.Errorf("%s: %q %v, want Unauthorized", name, email, err)
		}
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}
