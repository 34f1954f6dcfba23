// Command escalation reads the conversations stream: a conversation the
// bot handed off goes to its queue (priority, language), its patient hears
// their place, and routing is asked to run.
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
	log := startup.Logger("escalation")
	env := envconf.New()
	convTable, msgTable, connTable, agentsTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE"), env.Required("AGENTS_TABLE")
	endpoint, routingURL := env.Required("PATIENT_WS_ENDPOINT"), env.Required("ROUTING_QUEUE_URL")
	queues := strings.Split(env.Required("ROUTING_QUEUES"), ",")
	cfg := startup.AWS(ctx, log, env)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	convs := ddb.NewConversations(db, convTable, msgTable)
	patients := chat.PatientFanout(ddb.NewConnections(db, connTable, ddb.RateLimit{}), push.New(mgmt), frames.Encode, nil)
	svc := routing.NewService(routing.Deps{Store: ddb.NewRouting(db, convTable, msgTable, agentsTable), Conversations: convs, Notify: routingapi.Notifier{Patients: patients},
		Trigger: queue.NewRouting(sqs.NewFromConfig(cfg), routingURL), Log: log}, routing.Config{Queues: queues, Fallback: queues[0]})
	lambda.Start(routingapi.NewHandler(svc, log).Escalations)
}
