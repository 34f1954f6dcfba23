package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hostedSignIn signs a patient in as a browser does with the patients'
// pool's hosted sign-in (the authorization code flow with PKCE, the
// emulator's /oauth2/authorize, its login form, /oauth2/token) and returns
// the ID token.
func hostedSignIn(t *testing.T, email, password string) string {
	t.Helper()
	si := env.Outputs.PatientSignIn
	if si == nil {
		t.Fatal("the local stack has no patients' sign-in")
	}
	random := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	verifier, state, nonce := random(), random(), random()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {si.ClientID}, "redirect_uri": {si.RedirectURI}, "scope": {"openid email"},
		"state": {state}, "nonce": {nonce}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	web := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := web.Get(si.AuthorizeURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := url.Values{"username": {email}, "password": {password}}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("client_id") != si.ClientID {
		t.Fatalf("the sign-in page (HTTP %d) has no form for the client: %.300s", res.StatusCode, page)
	}
	authorize, _ := url.Parse(si.AuthorizeURL)
	res, err = web.PostForm(authorize.ResolveReference(&url.URL{Path: "/login"}).String(), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || back.Query().Get("state") != state || !strings.HasPrefix(back.String(), si.RedirectURI) {
		t.Fatalf("after the login form: HTTP %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = web.PostForm(si.TokenURL, url.Values{"grant_type": {"authorization_code"}, "client_id": {si.ClientID}, "code": {back.Query().Get("code")},
		"redirect_uri": {si.RedirectURI}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("the token endpoint (HTTP %d): %v", res.StatusCode, err)
	}
	return tok.IDToken
}

// TestASignInWithTheHospitalAccountVerifiesThePatient (issue 20, item 1):
// a patient who booked with the bot signs in with the hospital's account
// (the local stack's patients' pool stands in for the hospital's identity
// provider) instead of typing a code; the conversation is verified and
// the bot lists their appointments at once. Another account's sign-in, a
// forged token and a center's other patient are refused.
func TestASignInWithTheHospitalAccountVerifiesThePatient(t *testing.T) {
	p := startWithBot(t, "Maria")
	n := 0
	confirmFirstTime(t, p, &n, "Dermatology")
	const email = "maria.lopez@example.org"
	chat(t, p, &n, email)
	if booked := chat(t, p, &n, "Skip"); !strings.Contains(booked["text"].(string), "You're booked") {
		t.Fatalf("booked = %v", booked)
	}
	signIn := func(token string) map[string]any {
		return p.c.Request(map[string]any{"action": "signIn", "conversationId": p.conversationID, "idToken": token})
	}
	// Someone else's hospital account: not the email on file.
	if other := signIn(hostedSignIn(t, "james.okoro@example.org", "Demo-Patient-2")); other["code"] != "forbidden" || !strings.Contains(other["message"].(string), "j•••@example.org") {
		t.Fatalf("another account's sign-in = %v", other)
	}
	token := hostedSignIn(t, email, "Demo-Patient-1")
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("not the pool's signature"))
	if bad := signIn(forged); bad["code"] != "unauthorized" {
		t.Fatalf("a forged token = %v", bad)
	}
	if c := conversationItem(t, p.conversationID); c.Identity != "" {
		t.Fatalf("verified after refused sign-ins: %q", c.Identity)
	}
	if ok := signIn(token); ok["type"] != "signedIn" || ok["email"] != "m•••@example.org" {
		t.Fatalf("the sign-in = %v", ok)
	}
	if c := conversationItem(t, p.conversationID); c.Identity != "verified" {
		t.Fatalf("the conversation's identity level is %q, want verified", c.Identity)
	}
	list := chat(t, p, &n, "show my appointments")
	if text := list["text"].(string); strings.Contains(text, "6-digit code") || !strings.Contains(text, "Dr.") {
		t.Fatalf("the appointments after the sign-in = %v", list)
	}
}
