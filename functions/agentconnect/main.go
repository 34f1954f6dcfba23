// Command agentconnect serves the agent WebSocket API's $connect (the
// console's Cognito token verified against the pool's keys, issuer,
// client and expiry) and $disconnect (the agent goes offline with their
// last console).
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/agentapi"
	"github.com/patientservicecenter/psc/shared/auth"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("agentconnect")
	env := envconf.New()
	agentsTable, connTable := env.Required("AGENTS_TABLE"), env.Required("AGENT_CONNECTIONS_TABLE")
	authCfg := auth.Config{
		Issuer: env.Required("AGENT_POOL_ISSUER"), ClientID: env.Required("AGENT_POOL_CLIENT_ID"),
		JWKSURL: env.Required("AGENT_JWKS_URL"), Skew: env.Duration("AGENT_TOKEN_SKEW", 30*time.Second),
	}
	cfg := startup.AWS(ctx, log, env)
	verifier, err := auth.NewVerifier(ctx, authCfg, log)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	svc := agent.NewService(verifier, ddb.NewAgents(db, agentsTable), ddb.NewAgentConnections(db, connTable, ddb.RateLimit{}), nil, frames.Encode, agent.Config{}, nil)
	lambda.Start(agentapi.NewHandler(svc, nil, log).Route)
}
