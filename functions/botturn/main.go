// Command botturn is the health bot: it takes one turn per request from
// the bot-turn SQS FIFO queue (one message group per conversation). It
// reads the agents table only to know whether anyone who serves a queue is
// online before handing a patient to a person, and books, reschedules and
// cancels appointments in the scheduling table (one transaction each).
package main

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/botturn"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("botturn")
	env := envconf.New()
	convTable, msgTable, connTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	endpoint, agentsTable, schedTable := env.Required("PATIENT_WS_ENDPOINT"), env.Required("AGENTS_TABLE"), env.Required("SCHEDULING_TABLE")
	retention := time.Duration(env.Int("APPOINTMENT_RETENTION_DAYS", 2190)) * 24 * time.Hour
	telehealth := env.Required("TELEHEALTH_URL")
	hours := bot.HoursConfig{Timezone: env.Required("BUSINESS_TIMEZONE"), Weekly: env.Required("BUSINESS_HOURS"), Closures: strings.Split(env.Optional("BUSINESS_CLOSURES"), ",")}
	cfg := startup.AWS(ctx, log, env)
	engine, err := bot.Load(hours)
	startup.Must(log, "loading the bot's content", err)
	engine.WithOrganization(env.Optional("ORGANIZATION_NAME"))
	dir, err := scheduling.LoadDirectory()
	startup.Must(log, "loading the scheduling directory", err)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	convs := ddb.NewConversations(db, convTable, msgTable)
	patients := chat.PatientFanout(ddb.NewConnections(db, connTable, ddb.RateLimit{}), push.New(mgmt), frames.Encode, nil)
	sched := scheduling.NewService(dir, ddb.NewAppointments(db, schedTable, retention), scheduling.Config{Notice: time.Hour, TelehealthURL: telehealth}, nil)
	turner := bot.NewTurner(engine, convs, patients, nil).WithStaffing(ddb.NewAgents(db, agentsTable)).WithScheduling(sched)
	lambda.Start(botturn.NewHandler(turner, log).Handle)
}
