package e2e

import (
	"context"
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

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
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

// TestASignInFromTheChatPage (issue 20, item 1): on the chat page a
// patient presses "Sign in with your hospital account"; the hospital's
// sign-in opens in its own window (the local patients' pool's hosted
// page), they sign in there, the window closes, and the chat says who
// they are signed in as; the conversation is verified, so at its end the
// transcript can be emailed to that address.
func TestASignInFromTheChatPage(t *testing.T) {
	ctx := browser(t)
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "waiting for the start form", chromedp.WaitVisible(`#start-form`))
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "James Browser"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the sign-in button", chromedp.WaitVisible(`#sign-in`))
	waitText(t, ctx, "#sign-in", "Sign in with your hospital account")
	accessible(t, ctx, "a conversation that offers the sign-in")
	opened := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return strings.Contains(i.URL, "/oauth2/authorize") })
	run(t, ctx, "pressing Sign in", chromedp.Click(`#sign-in`))
	var popup context.Context
	select {
	case id := <-opened:
		var cancel context.CancelFunc
		popup, cancel = chromedp.NewContext(ctx, chromedp.WithTargetID(id))
		defer cancel()
	case <-ctx.Done():
		t.Fatal("the sign-in window never opened")
	}
	run(t, popup, "waiting for the hospital's sign-in", chromedp.WaitVisible(`#username`))
	run(t, popup, "typing the email", chromedp.SendKeys(`#username`, "james.okoro@example.org"))
	run(t, popup, "typing the password", chromedp.SendKeys(`#password`, "Demo-Patient-2"))
	// The window closes itself once it has handed the chat the code.
	_, _ = chromedp.Run(popup, chromedp.Click(`button[type="submit"]`))
	waitText(t, ctx, "#signin-note", "You are signed in as j•••@example.org")
	if hidden := run(t, ctx, "reading the button", chromedp.Evaluate[bool](`document.getElementById("sign-in").hidden`)); !hidden {
		t.Error("the sign-in button still shows once signed in")
	}
	conv := run(t, ctx, "reading the conversation", chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("psc.session")).conversationId`))
	if c := conversationItem(t, conv); c.Identity != "verified" {
		t.Fatalf("the conversation's identity level is %q, want verified", c.Identity)
	}
	accessible(t, ctx, "a signed-in conversation")
	run(t, ctx, "ending the conversation", chromedp.Click(`#end`))
	run(t, ctx, "waiting for the transcript by email", chromedp.WaitVisible(`#email-transcript`))
	run(t, ctx, "asking for it", chromedp.Click(`#email-transcript`))
	waitText(t, ctx, "#transcript-note", "on its way to j•••@example.org")
	if m := mailTo(t, "james.okoro@example.org", "Your conversation transcript"); !strings.Contains(m.BodyText, "] Virtual assistant: ") {
		t.Fatalf("the transcript email = %q", m.BodyText)
	}
}
