// Command botturn is the health bot: it takes one turn per request from
// the bot-turn SQS FIFO queue (one message group per conversation). It
// reads the agents table only to know whether anyone who serves a queue is
// online before handing a patient to a person.
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/botturn"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("botturn")
	env := envconf.New()
	convTable, msgTable, connTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	endpoint, agentsTable := env.Required("PATIENT_WS_ENDPOINT"), env.Required("AGENTS_TABLE")
	hours := bot.HoursConfig{Timezone: env.Required("BUSINESS_TIMEZONE"), Weekly: env.Required("BUSINESS_HOURS"), Closures: strings.Split(env.Optional("BUSINESS_CLOSURES"), ",")}
	cfg := startup.AWS(ctx, log, env)
	engine, err := bot.Load(hours)
	startup.Must(log, "loading the bot's content", err)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	convs := ddb.NewConversations(db, convTable, msgTable)
	fanout := chat.NewService(convs, ddb.NewConnections(db, connTable, ddb.RateLimit{}), push.New(mgmt), nil, chat.Config{}, nil, nil)
	turner := bot.NewTurner(engine, convs, fanout, nil).WithStaffing(ddb.NewAgents(db, agentsTable))
	lambda.Start(botturn.NewHandler(turner, log).Handle)
}
