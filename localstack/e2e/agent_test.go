package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/localstack/staffauth"
)

// demoUser returns a seeded console login by username.
func demoUser(t *testing.T, username string) stack.DemoUser {
	t.Helper()
	if env.Outputs.AgentPool == nil {
		t.Fatal("the stack created no agent pool")
	}
	for _, u := range env.Outputs.AgentPool.Users {
		if u.Username == username {
			return u
		}
	}
	t.Fatalf("no demo user %q", username)
	return stack.DemoUser{}
}

// accounts are the staff accounts the tests signed in, with the password
// and authenticator secret their first sign-in set.
var accounts = struct {
	sync.Mutex
	m map[string]*staffauth.Account
}{m: map[string]*staffauth.Account{}}

// poolAPI is the user-pool API the console signs in against.
func poolAPI() *cip.Client {
	cfg := awsCfg()
	cfg.BaseEndpoint = aws.String(env.Outputs.AgentPool.Endpoint)
	return cip.NewFromConfig(cfg)
}

// signIn signs in to the agent pool through the console's challenges
// (USER_PASSWORD_AUTH, which the console's client allows outside prod,
// where the console itself uses SRP; then the new password, the
// authenticator set up or its code) and returns the ID token.
func signIn(t *testing.T, username, password string) string {
	t.Helper()
	return signInWith(t, poolAPI(), env.Outputs.AgentPool.ClientID, username, password)
}

func signInWith(t *testing.T, idp staffauth.IDP, clientID, username, password string) string {
	t.Helper()
	accounts.Lock()
	defer accounts.Unlock()
	a := accounts.m[username]
	if a == nil {
		a = &staffauth.Account{Username: username, Password: password}
		accounts.m[username] = a
	}
	token, err := staffauth.SignIn(context.Background(), idp, clientID, a)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func agentURL(token string) string {
	return env.Outputs.AgentWebSocket + "?token=" + url.QueryEscape(token)
}

// agentConsole signs in as a demo user and opens a console connection.
func agentConsole(t *testing.T, username string) (*stacktest.Client, string) {
	t.Helper()
	u := demoUser(t, username)
	token := signIn(t, u.Username, u.Password)
	return stacktest.Dial(t, agentURL(token)), token
}

// refused dials and expects the handshake to fail with the status.
func refused(t *testing.T, rawURL string, status int) {
	t.Helper()
	c, resp, err := stacktest.DialErr(t, rawURL)
	if err == nil {
		c.Close()
		t.Fatalf("the connection was admitted, want HTTP %d", status)
	}
	if resp == nil || resp.StatusCode != status {
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		t.Fatalf("handshake refused with %d (%v), want %d", got, err, status)
	}
}

type agentRecord struct {
	AgentID   string   `dynamodbav:"agentId"`
	Name      string   `dynamodbav:"name"`
	Roles     []string `dynamodbav:"roles"`
	Skills    []string `dynamodbav:"skills"`
	Languages []string `dynamodbav:"languages"`
	Capacity  int      `dynamodbav:"capacity"`
	Presence  string   `dynamodbav:"presence"`
}

func agentItem(t *testing.T, agentID string) (agentRecord, bool) {
	t.Helper()
	return storedItem[agentRecord](t, "AgentsTable", "agentId", agentID)
}

// claimsOf reads a JWT's payload without verifying it (the test's own
// token, to find its subject and to forge look-alikes).
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentPresence: an agent signs in, connects and goes available; the
// agents table holds their profile from the pool; both of their consoles
// hear the change; when the last console closes they go offline.
func TestAgentPresence(t *testing.T) {
	c1, token := agentConsole(t, "ana")
	sub, _ := claimsOf(t, token)["sub"].(string)
	c2 := stacktest.Dial(t, agentURL(token))

	f := c1.Request(map[string]any{"action": "presence", "status": "available"})
	if f["type"] != "presence" || f["status"] != "available" {
		t.Fatalf("presence answered %v", f)
	}
	if f2 := c2.WaitType("presence"); f2["status"] != "available" {
		t.Fatalf("the second console heard %v", f2)
	}
	a, ok := agentItem(t, sub)
	if !ok {
		t.Fatalf("no agent record for %s", sub)
	}
	if a.Name != "Ana Ruiz" || a.Presence != "available" || a.Capacity != 3 ||
		strings.Join(a.Skills, ",") != "general,billing,scheduling,callback,patient-relations" || strings.Join(a.Languages, ",") != "en,es" || strings.Join(a.Roles, ",") != "agent" {
		t.Fatalf("agent record = %+v", a)
	}

	if f := c1.Request(map[string]any{"action": "presence", "status": "lunch"}); f["type"] != "error" || f["code"] != "bad_request" {
		t.Fatalf("a bad status answered %v", f)
	}
	if f := c1.Request(map[string]any{"action": "accept-everything"}); f["type"] != "error" || f["code"] != "bad_request" {
		t.Fatalf("an unknown action answered %v", f)
	}

	c1.Close()
	if a, _ := agentItem(t, sub); a.Presence != "available" {
		t.Fatalf("closing one of two consoles changed presence to %q", a.Presence)
	}
	c2.Close()
	stacktest.Eventually(t, 10*time.Second, "the agent goes offline with their last console", func() bool {
		a, _ := agentItem(t, sub)
		return a.Presence == "offline"
	})
}

// TestAgentConnectRefusesBadTokens: no token, a malformed one, a forged
// one (the pool's key id, another key), a tampered one (the pool's
// signature over other claims), another client's token, a user in none of
// the pool's groups, and an expired token are all refused at $connect.
func TestAgentConnectRefusesBadTokens(t *testing.T) {
	ctx := context.Background()
	u := demoUser(t, "ben")
	good := signIn(t, u.Username, u.Password)
	parts := strings.Split(good, ".")

	t.Run("no token", func(t *testing.T) { refused(t, env.Outputs.AgentWebSocket, http.StatusUnauthorized) })
	t.Run("malformed", func(t *testing.T) { refused(t, agentURL("not-a-token"), http.StatusUnauthorized) })
	t.Run("forged with another key", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		var header map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		_ = json.Unmarshal(hb, &header)
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claimsOf(t, good)))
		tok.Header["kid"] = header["kid"]
		forged, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, agentURL(forged), http.StatusUnauthorized)
	})
	t.Run("tampered claims", func(t *testing.T) {
		c := claimsOf(t, good)
		c["cognito:groups"] = []string{"admin"}
		b, _ := json.Marshal(c)
		refused(t, agentURL(parts[0]+"."+base64.RawURLEncoding.EncodeToString(b)+"."+parts[2]), http.StatusUnauthorized)
	})

	idp := cip.NewFromConfig(awsCfg())
	pool := env.Outputs.AgentPool.ID
	t.Run("another client's token", func(t *testing.T) {
		other, err := idp.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
			UserPoolId: &pool, ClientName: aws.String("not-the-console"), ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth},
		})
		if err != nil {
			t.Fatal(err)
		}
		refused(t, agentURL(signInWith(t, idp, aws.ToString(other.UserPoolClient.ClientId), u.Username, u.Password)), http.StatusUnauthorized)
	})
	t.Run("user in no group", func(t *testing.T) {
		const name, password = "visitor", "Visitor-Only-1!"
		if _, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pool, Username: aws.String(name),
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String("name"), Value: aws.String("Vic Visitor")}}, MessageAction: ciptypes.MessageActionTypeSuppress}); err != nil {
			t.Fatal(err)
		}
		if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &pool, Username: aws.String(name), Password: aws.String(password), Permanent: true}); err != nil { // no first-sign-in change: only its groups matter here
			t.Fatal(err)
		}
		refused(t, agentURL(signIn(t, name, password)), http.StatusForbidden)
	})
	t.Run("expired", func(t *testing.T) {
		// A console client whose ID tokens live two seconds (the stack
		// runs with AgentTokenSkew 1s): the token is refused once it has
		// expired.
		token := shortLivedToken(t, idp, pool, u)
		exp := time.Unix(int64(claimsOf(t, token)["exp"].(float64)), 0)
		stacktest.Eventually(t, 15*time.Second, "the clock passes the token's expiry", func() bool { return time.Now().After(exp.Add(2 * time.Second)) })
		refused(t, agentURL(token), http.StatusUnauthorized)
	})

	// The good token still works: every refusal above was the token's.
	stacktest.Dial(t, agentURL(good)).Close()
}

// shortLivedToken signs in through the console's own client after setting
// its ID-token lifetime to two seconds, then restores the client.
func shortLivedToken(t *testing.T, idp *cip.Client, pool string, u stack.DemoUser) string {
	t.Helper()
	ctx := context.Background()
	client := env.Outputs.AgentPool.ClientID
	d, err := idp.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: &pool, ClientId: &client})
	if err != nil {
		t.Fatal(err)
	}
	orig := d.UserPoolClient
	update := func(validity int32, units *ciptypes.TokenValidityUnitsType) {
		t.Helper()
		if _, err := idp.UpdateUserPoolClient(ctx, &cip.UpdateUserPoolClientInput{
			UserPoolId: &pool, ClientId: &client, ClientName: orig.ClientName, ExplicitAuthFlows: orig.ExplicitAuthFlows,
			PreventUserExistenceErrors: orig.PreventUserExistenceErrors, EnableTokenRevocation: orig.EnableTokenRevocation,
			IdTokenValidity: aws.Int32(validity), AccessTokenValidity: orig.AccessTokenValidity, RefreshTokenValidity: orig.RefreshTokenValidity,
			TokenValidityUnits: units, ReadAttributes: orig.ReadAttributes, WriteAttributes: orig.WriteAttributes,
		}); err != nil {
			t.Fatal(err)
		}
	}
	short := ciptypes.TokenValidityUnitsType{IdToken: ciptypes.TimeUnitsTypeSeconds}
	if orig.TokenValidityUnits != nil {
		short.AccessToken, short.RefreshToken = orig.TokenValidityUnits.AccessToken, orig.TokenValidityUnits.RefreshToken
	}
	update(2, &short)
	t.Cleanup(func() { update(aws.ToInt32(orig.IdTokenValidity), orig.TokenValidityUnits) })
	token := signIn(t, u.Username, u.Password)
	update(aws.ToInt32(orig.IdTokenValidity), orig.TokenValidityUnits)
	return token
}

// TestSignInChallengesNeedTheirSession: as in AWS, an answer to a sign-in
// challenge counts only with the session of that challenge, once. (The
// emulator alone would take any session: the stack's front checks it.)
func TestSignInChallengesNeedTheirSession(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("sess%d", time.Now().UnixNano())
	createPoolUser(t, name, "Test-Agent-9!", "Sam Session", "general", "en", 1)
	idp := poolAPI()
	client := env.Outputs.AgentPool.ClientID
	out, err := idp.InitiateAuth(ctx, &cip.InitiateAuthInput{AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth, ClientId: &client,
		AuthParameters: map[string]string{"USERNAME": name, "PASSWORD": "Test-Agent-9!"}})
	if err != nil || out.ChallengeName != ciptypes.ChallengeNameTypeNewPasswordRequired {
		t.Fatalf("a new user's first sign-in: %v, %v; want NEW_PASSWORD_REQUIRED", out, err)
	}
	answer := func(session string) error {
		_, err := idp.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{ClientId: &client, ChallengeName: ciptypes.ChallengeNameTypeNewPasswordRequired,
			Session: aws.String(session), ChallengeResponses: map[string]string{"USERNAME": name, "NEW_PASSWORD": "Chosen-Test-Agent-9!"}})
		return err
	}
	var notAuthorized *ciptypes.NotAuthorizedException
	if err := answer("made-up-session"); !errors.As(err, &notAuthorized) {
		t.Fatalf("an answer with a made-up session: %v, want NotAuthorizedException", err)
	}
	if err := answer(aws.ToString(out.Session)); err != nil {
		t.Fatalf("the answer with the challenge's session: %v", err)
	}
	if err := answer(aws.ToString(out.Session)); !errors.As(err, &notAuthorized) {
		t.Fatalf("the same session a second time: %v, want NotAuthorizedException", err)
	}
}

// TestStaffCannotRenameThemselves (issue 16): the name patients see is
// custom:display_name, which the console's app client may not write; the
// pool's required `name` stays the user's to write, and patients never
// see it. The local stack refuses an attribute the client may not write,
// as AWS does ("A client attempted to write unauthorized attribute").
func TestStaffCannotRenameThemselves(t *testing.T) {
	ctx := context.Background()
	username := fmt.Sprintf("rn%d", time.Now().UnixNano())
	const password = "Test-Agent-9!"
	createPoolUser(t, username, password, "Rita Real", "billing", "en", 10)
	idp, client := poolAPI(), env.Outputs.AgentPool.ClientID
	a := &staffauth.Account{Username: username, Password: password}
	tokens, err := staffauth.Tokens(ctx, idp, client, a)
	if err != nil {
		t.Fatal(err)
	}
	rename := func(attr string) error {
		_, err := idp.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{AccessToken: tokens.AccessToken,
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String(attr), Value: aws.String("Dr. Chief of Medicine")}}})
		return err
	}
	var refusedWrite *ciptypes.NotAuthorizedException
	if err := rename("custom:display_name"); !errors.As(err, &refusedWrite) {
		t.Fatalf("writing custom:display_name with the user's own token: %v, want NotAuthorizedException", err)
	}
	if err := rename("name"); err != nil {
		t.Fatalf("writing name: %v", err)
	}
	token, err := staffauth.SignIn(ctx, idp, client, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(t, token)["name"]; got != "Dr. Chief of Medicine" {
		t.Fatalf("the new token's name is %v: the rename did not take, so this test proves nothing", got)
	}
	console := stacktest.Dial(t, agentURL(token))
	setPresence(t, console, "available")
	patient, conv := escalate(t, "Pia")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	st, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	if name := st["agent"].(map[string]any)["name"]; name != "Rita Real" {
		t.Fatalf("the patient sees the agent as %v, want the name an admin set", name)
	}
}
