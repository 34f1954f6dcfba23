package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/localstack/stacktest"
)

// poolAgent creates an agent in the pool (an admin would), signs them in,
// opens a console and makes them available. It returns the console and
// the agent's id (the token's subject).
func poolAgent(t *testing.T, username, skills, languages string, capacity int) (*stacktest.Client, string) {
	t.Helper()
	ctx := context.Background()
	idp := cip.NewFromConfig(awsCfg())
	pool := env.Outputs.AgentPool.ID
	const password = "Test-Agent-9!"
	attrs := []ciptypes.AttributeType{
		{Name: aws.String("name"), Value: aws.String(username)},
		{Name: aws.String("custom:skills"), Value: aws.String(skills)},
		{Name: aws.String("custom:languages"), Value: aws.String(languages)},
		{Name: aws.String("custom:capacity"), Value: aws.String(fmt.Sprint(capacity))},
	}
	if _, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pool, Username: &username, UserAttributes: attrs, MessageAction: ciptypes.MessageActionTypeSuppress}); err != nil {
		t.Fatal(err)
	}
	if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &pool, Username: &username, Password: aws.String(password), Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pool, Username: &username, GroupName: aws.String("agent")}); err != nil {
		t.Fatal(err)
	}
	token := signIn(t, username, password)
	c := stacktest.Dial(t, agentURL(token))
	if f := c.Request(map[string]any{"action": "presence", "status": "available"}); f["type"] != "presence" {
		t.Fatalf("%s going available: %v", username, f)
	}
	sub, _ := claimsOf(t, token)["sub"].(string)
	return c, sub
}

type offeredConversation struct {
	State      string `dynamodbav:"state"`
	OfferAgent string `dynamodbav:"offerAgent"`
}

func offeredItem(t *testing.T, id string) offeredConversation {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awsCfg()).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Outputs.Tables["ConversationsTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"conversationId": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var c offeredConversation
	if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEscalatedPatientIsOfferedToTheAgentWithTheLanguage: two agents serve
// the general queue, one in Spanish only, one in English only. A patient
// chatting in Spanish asks for a person: they hear they are waiting (with
// their place in the queue), and the Spanish-speaking agent's console gets
// the offer with the bot's summary; the conversation is offered to them
// and nobody else.
func TestEscalatedPatientIsOfferedToTheAgentWithTheLanguage(t *testing.T) {
	run := time.Now().UnixNano()
	esConsole, esAgent := poolAgent(t, fmt.Sprintf("es%d", run), "general", "es", 10)
	_, enAgent := poolAgent(t, fmt.Sprintf("en%d", run), "general", "en", 10)

	c := stacktest.Dial(t, env.Outputs.PatientWebSocket)
	f := c.Request(map[string]any{"action": "start", "name": "Lucía", "topic": "una pregunta", "locale": "es"})
	if f["type"] != "session" {
		t.Fatalf("start answered %v", f)
	}
	conv := f["conversationId"].(string)
	if g := botReply(t, c); g["text"] == "" {
		t.Fatalf("greeting = %v", g)
	}
	send(t, c, conv, "es-1", "quiero hablar con una persona")
	st, _ := c.Wait(func(f map[string]any) bool {
		return f["type"] == "status" && f["state"] == "waiting" && f["queuePosition"] != nil
	})
	if pos, _ := st["queuePosition"].(float64); pos < 1 {
		t.Fatalf("waiting status = %v, want a queue position", st)
	}

	offer, _ := esConsole.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if offer["queue"] != "general" || offer["priority"] != "normal" || offer["language"] != "es" || offer["summary"] == "" || offer["expiresAt"] == "" {
		t.Fatalf("offer = %v", offer)
	}
	if got := offeredItem(t, conv); got.State != "offered" || got.OfferAgent != esAgent || got.OfferAgent == enAgent {
		t.Fatalf("stored conversation = %+v, want offered to %s", got, esAgent)
	}
}
