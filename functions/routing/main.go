// Command routing offers waiting conversations to the best available
// agents, when asked through the routing queue, when an agent becomes
// available or frees capacity (the agents stream), and on a schedule
// (RoutingSweep), which also moves conversations that waited past their
// queue's maximum wait to its fallback queue (QueueOverflow).
package main

import (
	"context"
	"strings"
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
	"github.com/patientservicecenter/psc/shared/routing"
	"github.com/patientservicecenter/psc/shared/routingapi"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("routing")
	env := envconf.New()
	convTable, msgTable, connTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	agentsTable, agentConnTable := env.Required("AGENTS_TABLE"), env.Required("AGENT_CONNECTIONS_TABLE")
	patientEndpoint, agentEndpoint, routingURL := env.Required("PATIENT_WS_ENDPOINT"), env.Required("AGENT_WS_ENDPOINT"), env.Required("ROUTING_QUEUE_URL")
	queues := strings.Split(env.Required("ROUTING_QUEUES"), ",")
	offerTimeout := env.Duration("OFFER_TIMEOUT", 45*time.Second)
	overflow, err := routing.ParseOverflow(env.Optional("QUEUE_OVERFLOW"), queues)
	startup.Must(log, "bad configuration: QUEUE_OVERFLOW", err)
	cfg := startup.AWS(ctx, log, env)
	patientMgmt, err := push.NewClient(cfg, patientEndpoint)
	startup.Must(log, "bad configuration", err)
	agentMgmt, err := push.NewClient(cfg, agentEndpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	convs := ddb.NewConversations(db, convTable, msgTable)
	patients := chat.PatientFanout(ddb.NewConnections(db, connTable, ddb.RateLimit{}), push.New(patientMgmt), frames.Encode, nil)
	consoles := agent.ConsoleFanout(ddb.NewAgentConnections(db, agentConnTable, ddb.RateLimit{}), push.New(agentMgmt), frames.Encode, nil)
	store := ddb.NewRouting(db, convTable, msgTable, agentsTable)
	notify := routingapi.Notifier{Patients: patients, Consoles: consoles}
	svc := routing.NewService(routing.Deps{Store: store, Conversations: convs, Notify: notify, Trigger: queue.NewRouting(sqs.NewFromConfig(cfg), routingURL), Log: log},
		routing.Config{Queues: queues, Fallback: queues[0], OfferTimeout: offerTimeout, Overflow: overflow}).
		WithUrgentAlerts(store, env.Duration("URGENT_ALERT_AFTER", 2*time.Minute))
	lambda.Start(routingapi.NewHandler(svc, log).Routing)
}
