// Command agentaction serves the agent WebSocket API's actions; each
// checks the caller's connection (rate limit, token expiry) and role.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/agentapi"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("agentaction")
	env := envconf.New()
	agentsTable, connTable, endpoint := env.Required("AGENTS_TABLE"), env.Required("AGENT_CONNECTIONS_TABLE"), env.Required("AGENT_WS_ENDPOINT")
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	cfg := startup.AWS(ctx, log, env)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	pusher := push.New(mgmt)
	svc := agent.NewService(nil, ddb.NewAgents(db, agentsTable), ddb.NewAgentConnections(db, connTable, limit), pusher, agent.Config{}, nil)
	lambda.Start(agentapi.NewHandler(svc, pusher, log).Message)
}
