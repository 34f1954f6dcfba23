// Command message serves the patient WebSocket API's frame routes (start,
// resume, send, typing, end and $default).
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/secret"
	"github.com/patientservicecenter/psc/shared/session"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger().With("function", "message")
	env := envconf.New()
	convTable, msgTable, connTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	endpoint, secretID := env.Required("PATIENT_WS_ENDPOINT"), env.Required("SESSION_SECRET_ARN")
	sessionTTL, retention := env.Duration("SESSION_TTL", 24*time.Hour), time.Duration(env.Int("RETENTION_DAYS", 90))*24*time.Hour
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	if err := env.Err(); err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("loading AWS config", "error", err)
		os.Exit(1)
	}
	key, err := secret.Key(ctx, secretsmanager.NewFromConfig(cfg), secretID)
	if err != nil {
		log.Error("loading session key", "error", err)
		os.Exit(1)
	}
	tokens, err := session.New(key, sessionTTL, time.Now)
	if err != nil {
		log.Error("session key", "error", err)
		os.Exit(1)
	}
	mgmt, err := push.NewClient(cfg, endpoint)
	if err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	pusher := push.New(mgmt)
	svc := chat.NewService(ddb.NewConversations(db, convTable, msgTable), ddb.NewConnections(db, connTable, limit), pusher, tokens,
		chat.Config{Retention: retention}, nil, nil)
	lambda.Start(wsapi.NewHandler(svc, pusher, log).Message)
}
