// Command connect serves the patient WebSocket API's $connect route: it
// verifies an optional session token and records the connection.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/startup"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("connect")
	env := envconf.New()
	connections, secretID := env.Required("CONNECTIONS_TABLE"), env.Required("SESSION_SECRET_ARN")
	sessionTTL, connTTL := env.Duration("SESSION_TTL", 24*time.Hour), env.Duration("CONNECTION_TTL", 2*time.Hour)
	cfg := startup.AWS(ctx, log, env)
	tokens := startup.SessionTokens(ctx, log, cfg, secretID, sessionTTL)
	conns := ddb.NewConnections(dynamodb.NewFromConfig(cfg), connections, ddb.RateLimit{})
	svc := chat.NewService(nil, conns, nil, tokens, chat.Config{ConnectionTTL: connTTL}, nil, nil)
	lambda.Start(wsapi.NewHandler(svc, nil, log).Connect)
}
