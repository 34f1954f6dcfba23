// Command message serves the patient WebSocket API's frame routes (start,
// resume, send, typing, end and $default).
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/queue"
	"github.com/patientservicecenter/psc/shared/startup"
	"github.com/patientservicecenter/psc/shared/triage"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("message")
	env := envconf.New()
	convTable, msgTable, connTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	endpoint, secretID := env.Required("PATIENT_WS_ENDPOINT"), env.Required("SESSION_SECRET_ARN")
	botQueue := env.Required("BOT_TURN_QUEUE_URL")
	agentConnTable, agentEndpoint := env.Required("AGENT_CONNECTIONS_TABLE"), env.Required("AGENT_WS_ENDPOINT")
	sessionTTL, retention := env.Duration("SESSION_TTL", 24*time.Hour), time.Duration(env.Int("RETENTION_DAYS", 90))*24*time.Hour
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	cfg := startup.AWS(ctx, log, env)
	tokens := startup.SessionTokens(ctx, log, cfg, secretID, sessionTTL)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	agentMgmt, err := push.NewClient(cfg, agentEndpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	pusher := push.New(mgmt)
	// The agent who holds a conversation hears its patient; supervisors
	// hear a red flag.
	consoles := agent.ConsoleFanout(ddb.NewAgentConnections(db, agentConnTable, ddb.RateLimit{}), push.New(agentMgmt), frames.Encode, nil)
	rules, err := triage.Load()
	startup.Must(log, "triage rules", err)
	conns := ddb.NewConnections(db, connTable, limit)
	svc := chat.NewService(ddb.NewConversations(db, convTable, msgTable), conns, chat.PatientFanout(conns, pusher, frames.Encode, nil), tokens,
		chat.Config{Retention: retention, ResumeGrace: env.Duration("RESUME_GRACE", chat.DefaultResumeGrace)}, nil, nil).WithBot(queue.NewBotTurns(sqs.NewFromConfig(cfg), botQueue)).WithAgents(consoles).
		WithWatch(chat.TriageWatch{Engine: rules}, consoles)
	lambda.Start(wsapi.NewHandler(svc, pusher, log).Message)
}
