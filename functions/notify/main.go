// Command notify tells patients about their appointments: from the
// scheduling stream, a confirmation of each booking, move or cancellation
// in the chat and by email (with a calendar invitation), and the reminders
// it plans; from its schedule (NotifySweep, every minute), the reminders
// due, each with a signed link to confirm or cancel.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/mail"
	"github.com/patientservicecenter/psc/shared/noticeapi"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("notify")
	env := envconf.New()
	schedTable, convTable, msgTable, connTable := env.Required("SCHEDULING_TABLE"), env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("CONNECTIONS_TABLE")
	endpoint, secretID, sender := env.Required("PATIENT_WS_ENDPOINT"), env.Required("LINK_SECRET_ARN"), env.Required("NOTIFY_SENDER")
	page := env.Optional("APPOINTMENT_PAGE_URL")
	retention := time.Duration(env.Int("RETENTION_DAYS", 90)) * 24 * time.Hour
	cfg := startup.AWS(ctx, log, env)
	texts, err := notify.LoadTexts()
	startup.Must(log, "loading the notices", err)
	texts.From = "Patient Service Center <" + sender + ">"
	dir, err := scheduling.LoadDirectory()
	startup.Must(log, "loading the scheduling directory", err)
	links := startup.Links(ctx, log, cfg, secretID)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	convs := ddb.NewConversations(db, convTable, msgTable)
	patients := chat.PatientFanout(ddb.NewConnections(db, connTable, ddb.RateLimit{}), push.New(mgmt), frames.Encode, nil)
	notices := ddb.NewNotices(db, schedTable)
	svc := notify.NewService(notify.Deps{Texts: texts, Directory: dir, Chat: noticeapi.ChatPoster{Messages: convs, Patients: patients, Retention: retention},
		Mail: mail.New(sesv2.NewFromConfig(cfg), sender).WithConfigurationSet(env.Optional("MAIL_CONFIGURATION_SET")), Reminders: notices, Sent: notices,
		Appointments: ddb.NewAppointments(db, schedTable, 0), Links: links, Log: log}, notify.Config{PageURL: page})
	lambda.Start(noticeapi.NewHandler(svc, log).Handle)
}
