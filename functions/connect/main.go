// Command connect serves the patient WebSocket API's $connect route: it
// verifies an optional session token and records the connection.
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
	"github.com/patientservicecenter/psc/shared/secret"
	"github.com/patientservicecenter/psc/shared/session"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger().With("function", "connect")
	env := envconf.New()
	connections, secretID := env.Required("CONNECTIONS_TABLE"), env.Required("SESSION_SECRET_ARN")
	sessionTTL, connTTL := env.Duration("SESSION_TTL", 24*time.Hour), env.Duration("CONNECTION_TTL", 2*time.Hour)
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
	conns := ddb.NewConnections(dynamodb.NewFromConfig(cfg), connections, ddb.RateLimit{})
	svc := chat.NewService(nil, conns, nil, tokens, chat.Config{ConnectionTTL: connTTL}, nil, nil)
	lambda.Start(wsapi.NewHandler(svc, nil, log).Connect)
}
