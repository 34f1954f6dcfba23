// Command agentaction serves the agent WebSocket API's actions (presence,
// accept, decline, send, typing, close, transfer, context, note, queues); each
// checks the caller's connection (rate limit, token expiry), role and
// ownership, and every read of patient context is audited.
package main

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/agentapi"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/queue"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("agentaction")
	env := envconf.New()
	agentsTable, connTable, endpoint := env.Required("AGENTS_TABLE"), env.Required("AGENT_CONNECTIONS_TABLE"), env.Required("AGENT_WS_ENDPOINT")
	convTable, msgTable, patientConnTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	patientEndpoint, routingURL := env.Required("PATIENT_WS_ENDPOINT"), env.Required("ROUTING_QUEUE_URL")
	retention := time.Duration(env.Int("RETENTION_DAYS", 90)) * 24 * time.Hour
	auditTable, auditRetention := env.Required("AUDIT_TABLE"), time.Duration(env.Int("AUDIT_RETENTION_DAYS", 2190))*24*time.Hour
	queues, schedTable, surveysTable := strings.Split(env.Required("ROUTING_QUEUES"), ","), env.Required("SCHEDULING_TABLE"), env.Required("SURVEYS_TABLE")
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	cfg := startup.AWS(ctx, log, env)
	dir, err := scheduling.LoadDirectory()
	startup.Must(log, "loading the scheduling directory", err)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	patientMgmt, err := push.NewClient(cfg, patientEndpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	pusher := push.New(mgmt)
	convs := ddb.NewConversations(db, convTable, msgTable)
	patients := chat.PatientFanout(ddb.NewConnections(db, patientConnTable, ddb.RateLimit{}), push.New(patientMgmt), frames.Encode, nil)
	routes := ddb.NewRouting(db, convTable, msgTable, agentsTable)
	trigger := queue.NewRouting(sqs.NewFromConfig(cfg), routingURL)
	svc := agent.NewService(nil, ddb.NewAgents(db, agentsTable), ddb.NewAgentConnections(db, connTable, limit), pusher, frames.Encode, agent.Config{Retention: retention}, nil).
		WithConversations(routes, convs, patients, trigger).WithAssigner(trigger).
		WithAudit(ddb.NewAudit(db, auditTable, auditRetention)).WithQueues(queues, routes).
		// The patient view lists upcoming appointments (read only here;
		// the booking function books).
		WithScheduling(scheduling.NewService(dir, ddb.NewAppointments(db, schedTable, 0), scheduling.Config{}, nil)).
		WithFollowUps(ddb.NewSurveys(db, surveysTable, 0))
	lambda.Start(agentapi.NewHandler(svc, pusher, log).Message)
}
