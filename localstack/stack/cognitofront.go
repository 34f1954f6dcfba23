package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// cognitoFront is the Cognito user-pool API as the console and the tests
// reach it: the emulator's, with the sign-in challenges AWS puts and
// MiniStack does not (fidelity_test.go names the documentation):
//
//   - In a pool whose MfaConfiguration is ON, a user without an
//     authenticator gets MFA_SETUP instead of tokens (after the first
//     sign-in's new password too): AssociateSoftwareToken and
//     VerifySoftwareToken with the challenge's Session, then
//     RespondToAuthChallenge MFA_SETUP gives the tokens (Amazon Cognito
//     Developer Guide, "Adding MFA to a user pool", TOTP software token
//     MFA). MiniStack hands out tokens at once.
//   - RespondToAuthChallenge needs the Session of the challenge it
//     answers, unused and under three minutes old (the app client's
//     AuthSessionValidity default). MiniStack ignores the Session.
//   - A signed-in user writes only the attributes the app client's
//     WriteAttributes lists (UpdateUserAttributes, DeleteUserAttributes;
//     "A client attempted to write unauthorized attribute"). MiniStack
//     lets a user write any attribute.
//
// Everything else goes to the emulator unchanged.
type cognitoFront struct {
	upstream string
	idp      *cip.Client
	client   *http.Client
	clients  map[string]frontClient // by app client id

	mu       sync.Mutex
	sessions map[string]frontSession
}

type frontSession struct {
	clientID, username string
	expires            time.Time
	// For MFA_SETUP: the tokens the sign-in earned, held until the
	// authenticator is verified.
	result   json.RawMessage
	access   string
	verified bool
	emulator string // the emulator's own session, for the challenges it runs
}

// frontClient is what the front applies for one app client.
type frontClient struct {
	mfaOn  bool           // its pool's MfaConfiguration is ON
	policy map[string]any // its pool's password policy
	// write is its WriteAttributes; empty means AWS's default, the
	// standard attributes.
	write []string
}

// mayWrite reports whether a user signed in through the client may write
// the attribute.
func (c frontClient) mayWrite(attr string) bool {
	if len(c.write) == 0 {
		return !strings.HasPrefix(attr, "custom:") && !strings.HasPrefix(attr, "dev:")
	}
	return slices.Contains(c.write, attr)
}

const authSessionValidity = 3 * time.Minute

func newCognitoFront(upstream string, idp *cip.Client, clients map[string]frontClient) *cognitoFront {
	return &cognitoFront{upstream: strings.TrimRight(upstream, "/") + "/", idp: idp, client: &http.Client{Timeout: 30 * time.Second},
		clients: clients, sessions: map[string]frontSession{}}
}

// passwordProblem says what a new password lacks under a pool's policy
// (MiniStack does not check the first sign-in's new password).
func passwordProblem(policy map[string]any, pw string) string {
	min := 8
	if n, err := strconv.Atoi(fmt.Sprint(policy["MinimumLength"])); err == nil {
		min = n
	}
	if len([]rune(pw)) < min {
		return fmt.Sprintf("Password did not conform with policy: Password not long enough (at least %d characters)", min)
	}
	for _, c := range []struct {
		key  string
		has  func(rune) bool
		what string
	}{
		{"RequireLowercase", unicode.IsLower, "lowercase characters"},
		{"RequireUppercase", unicode.IsUpper, "uppercase characters"},
		{"RequireNumbers", unicode.IsDigit, "numeric characters"},
		{"RequireSymbols", func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }, "symbol characters"},
	} {
		if policy[c.key] == true && !strings.ContainsFunc(pw, c.has) {
			return "Password did not conform with policy: Password must have " + c.what
		}
	}
	return ""
}

type cognitoErr struct{ code, message string }

func (f *cognitoFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		f.fail(w, cognitoErr{"InvalidParameterException", "unreadable request"})
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSCognitoIdentityProviderService.")
	var out any
	var ferr *cognitoErr
	switch op {
	case "InitiateAuth":
		out, ferr = f.initiateAuth(r, body)
	case "RespondToAuthChallenge":
		out, ferr = f.respond(r, body)
	case "AssociateSoftwareToken":
		out, ferr = f.associate(r, body)
	case "VerifySoftwareToken":
		out, ferr = f.verify(r, body)
	case "UpdateUserAttributes", "DeleteUserAttributes":
		out, ferr = f.writeAttributes(r, body)
	default:
		f.pass(w, r, body)
		return
	}
	if ferr != nil {
		f.fail(w, *ferr)
		return
	}
	if raw, ok := out.(passed); ok {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(raw.status)
		_, _ = w.Write(raw.body)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// passed is an answer of the emulator given back as it is.
type passed struct {
	status int
	body   []byte
}

func (f *cognitoFront) call(r *http.Request, body []byte) (passed, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, f.upstream, bytes.NewReader(body))
	if err != nil {
		return passed{}, err
	}
	for _, h := range []string{"Content-Type", "X-Amz-Target", "Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return passed{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return passed{resp.StatusCode, b}, err
}

func (f *cognitoFront) pass(w http.ResponseWriter, r *http.Request, body []byte) {
	p, err := f.call(r, body)
	if err != nil {
		f.fail(w, cognitoErr{"InternalErrorException", err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(p.status)
	_, _ = w.Write(p.body)
}

func (f *cognitoFront) fail(w http.ResponseWriter, e cognitoErr) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	status := http.StatusBadRequest
	if e.code == "InternalErrorException" {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

// authAnswer is what InitiateAuth and RespondToAuthChallenge answer.
type authAnswer struct {
	ChallengeName        string            `json:",omitempty"`
	Session              string            `json:",omitempty"`
	ChallengeParameters  map[string]string `json:",omitempty"`
	AuthenticationResult json.RawMessage   `json:",omitempty"`
}

func (f *cognitoFront) initiateAuth(r *http.Request, body []byte) (any, *cognitoErr) {
	var in struct {
		ClientId       string
		AuthParameters map[string]string
	}
	_ = json.Unmarshal(body, &in)
	p, err := f.call(r, body)
	if err != nil {
		return nil, &cognitoErr{"InternalErrorException", err.Error()}
	}
	return f.afterAuth(r.Context(), p, in.ClientId, in.AuthParameters["USERNAME"])
}

// afterAuth turns the emulator's answer into AWS's: its challenges get a
// session of the front's, and tokens for a user who must set up MFA
// become the MFA_SETUP challenge.
func (f *cognitoFront) afterAuth(ctx context.Context, p passed, clientID, username string) (any, *cognitoErr) {
	if p.status != http.StatusOK {
		return p, nil
	}
	var a authAnswer
	if err := json.Unmarshal(p.body, &a); err != nil {
		return p, nil
	}
	if a.ChallengeName != "" {
		a.Session = f.remember(frontSession{clientID: clientID, username: username, emulator: a.Session})
		return a, nil
	}
	if !f.clients[clientID].mfaOn || len(a.AuthenticationResult) == 0 {
		return p, nil
	}
	var tokens struct{ AccessToken string }
	_ = json.Unmarshal(a.AuthenticationResult, &tokens)
	u, err := f.idp.GetUser(ctx, &cip.GetUserInput{AccessToken: &tokens.AccessToken})
	if err != nil {
		return nil, &cognitoErr{"InternalErrorException", "reading the user: " + err.Error()}
	}
	if len(u.UserMFASettingList) > 0 {
		return p, nil
	}
	s := f.remember(frontSession{clientID: clientID, username: aws.ToString(u.Username), result: a.AuthenticationResult, access: tokens.AccessToken})
	return authAnswer{ChallengeName: "MFA_SETUP", Session: s, ChallengeParameters: map[string]string{"MFAS_CAN_SETUP": `["SOFTWARE_TOKEN_MFA"]`}}, nil
}

func (f *cognitoFront) remember(s frontSession) string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	s.expires = time.Now().Add(authSessionValidity)
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.sessions {
		if time.Now().After(v.expires) {
			delete(f.sessions, k)
		}
	}
	f.sessions[id] = s
	return id
}

// take returns a session and forgets it: a session answers once.
func (f *cognitoFront) take(id string) (frontSession, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	delete(f.sessions, id)
	if !ok || time.Now().After(s.expires) {
		return frontSession{}, false
	}
	return s, true
}

var invalidSession = &cognitoErr{"NotAuthorizedException", "Invalid session for the user, session is expired."}

func (f *cognitoFront) respond(r *http.Request, body []byte) (any, *cognitoErr) {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &cognitoErr{"InvalidParameterException", "unreadable request"}
	}
	session, _ := in["Session"].(string)
	s, ok := f.take(session)
	if !ok || s.clientID != in["ClientId"] {
		return nil, invalidSession
	}
	if in["ChallengeName"] == "MFA_SETUP" {
		if !s.verified || len(s.result) == 0 {
			return nil, invalidSession
		}
		return authAnswer{AuthenticationResult: s.result}, nil
	}
	again := func() { // a wrong answer may be corrected in the same session, as in AWS
		f.mu.Lock()
		f.sessions[session] = s
		f.mu.Unlock()
	}
	if in["ChallengeName"] == "NEW_PASSWORD_REQUIRED" {
		answers, _ := in["ChallengeResponses"].(map[string]any)
		pw, _ := answers["NEW_PASSWORD"].(string)
		if problem := passwordProblem(f.clients[s.clientID].policy, pw); problem != "" {
			again()
			return nil, &cognitoErr{"InvalidPasswordException", problem}
		}
	}
	in["Session"] = s.emulator
	b, _ := json.Marshal(in)
	p, err := f.call(r, b)
	if err != nil {
		return nil, &cognitoErr{"InternalErrorException", err.Error()}
	}
	if p.status != http.StatusOK {
		again()
		return p, nil
	}
	return f.afterAuth(r.Context(), p, s.clientID, s.username)
}

// setupSession returns the MFA_SETUP session an authenticator call names.
// A call with none is a signed-in user's own (with an AccessToken): the
// emulator answers it, and that answer is returned as done.
func (f *cognitoFront) setupSession(r *http.Request, body []byte, session string) (s frontSession, done any, ferr *cognitoErr) {
	if session == "" {
		p, err := f.call(r, body)
		if err != nil {
			return s, nil, &cognitoErr{"InternalErrorException", err.Error()}
		}
		return s, p, nil
	}
	s, ok := f.take(session)
	if !ok || s.access == "" {
		return s, nil, invalidSession
	}
	return s, nil, nil
}

func (f *cognitoFront) associate(r *http.Request, body []byte) (any, *cognitoErr) {
	var in struct{ Session string }
	_ = json.Unmarshal(body, &in)
	s, done, ferr := f.setupSession(r, body, in.Session)
	if done != nil || ferr != nil {
		return done, ferr
	}
	out, err := f.idp.AssociateSoftwareToken(r.Context(), &cip.AssociateSoftwareTokenInput{AccessToken: &s.access})
	if err != nil {
		return nil, &cognitoErr{"InternalErrorException", err.Error()}
	}
	return map[string]string{"SecretCode": aws.ToString(out.SecretCode), "Session": f.remember(s)}, nil
}

func (f *cognitoFront) verify(r *http.Request, body []byte) (any, *cognitoErr) {
	var in struct{ Session, UserCode, FriendlyDeviceName string }
	_ = json.Unmarshal(body, &in)
	s, done, ferr := f.setupSession(r, body, in.Session)
	if done != nil || ferr != nil {
		return done, ferr
	}
	_, err := f.idp.VerifySoftwareToken(r.Context(), &cip.VerifySoftwareTokenInput{AccessToken: &s.access, UserCode: &in.UserCode, FriendlyDeviceName: aws.String(in.FriendlyDeviceName)})
	if err != nil {
		if strings.Contains(err.Error(), "Code mismatch") || strings.Contains(err.Error(), "EnableSoftwareTokenMFAException") {
			// The same session may try again, as in AWS.
			f.mu.Lock()
			f.sessions[in.Session] = s
			f.mu.Unlock()
			return nil, &cognitoErr{"EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA"}
		}
		return nil, &cognitoErr{"InternalErrorException", err.Error()}
	}
	s.verified = true
	return map[string]string{"Status": "SUCCESS", "Session": f.remember(s)}, nil
}

// writeAttributes passes a signed-in user's attribute change to the
// emulator if the app client that issued the access token may write every
// attribute it names. A token that names no client it knows goes through
// unchanged: the emulator refuses it.
func (f *cognitoFront) writeAttributes(r *http.Request, body []byte) (any, *cognitoErr) {
	var in struct {
		AccessToken    string
		UserAttributes []struct{ Name string }
		// DeleteUserAttributes names them.
		UserAttributeNames []string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &cognitoErr{"InvalidParameterException", "unreadable request"}
	}
	if c, ok := f.clients[tokenClientID(in.AccessToken)]; ok {
		names := in.UserAttributeNames
		for _, a := range in.UserAttributes {
			names = append(names, a.Name)
		}
		for _, n := range names {
			if !c.mayWrite(n) {
				return nil, &cognitoErr{"NotAuthorizedException", "A client attempted to write unauthorized attribute"}
			}
		}
	}
	p, err := f.call(r, body)
	if err != nil {
		return nil, &cognitoErr{"InternalErrorException", err.Error()}
	}
	return p, nil
}

// tokenClientID reads the client_id claim of an access token without
// checking it (the emulator checks the token when the call reaches it).
func tokenClientID(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		ClientID string `json:"client_id"`
	}
	_ = json.Unmarshal(b, &c)
	return c.ClientID
}
