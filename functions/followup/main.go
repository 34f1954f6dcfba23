// Command followup asks the satisfaction surveys: from the conversations
// stream (a conversation closed) and the scheduling stream (a visit
// completed), one survey each — in the chat when the patient has it open,
// else by email with a signed link to the hosted survey page — and takes
// the answers on the patient API's survey route; a poor answer opens a
// follow-up task that connected supervisors hear of.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/mail"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/startup"
	"github.com/patientservicecenter/psc/shared/survey"
	"github.com/patientservicecenter/psc/shared/surveyapi"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("followup")
	env := envconf.New()
	surveysTable, connTable := env.Required("SURVEYS_TABLE"), env.Required("CONNECTIONS_TABLE")
	agentConnTable, patientEndpoint, agentEndpoint := env.Required("AGENT_CONNECTIONS_TABLE"), env.Required("PATIENT_WS_ENDPOINT"), env.Required("AGENT_WS_ENDPOINT")
	secretID, sender, page := env.Required("SURVEY_SECRET_ARN"), env.Required("NOTIFY_SENDER"), env.Optional("SURVEY_PAGE_URL")
	retention := time.Duration(env.Int("SURVEY_RETENTION_DAYS", 730)) * 24 * time.Hour
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	cfg := startup.AWS(ctx, log, env)
	surveys, err := survey.LoadConfig()
	startup.Must(log, "loading the survey configuration", err)
	lex, err := survey.LoadLexicon()
	startup.Must(log, "loading the sentiment lexicon", err)
	dir, err := scheduling.LoadDirectory()
	startup.Must(log, "loading the scheduling directory", err)
	links := startup.Links(ctx, log, cfg, secretID)
	patientMgmt, err := push.NewClient(cfg, patientEndpoint)
	startup.Must(log, "bad configuration", err)
	agentMgmt, err := push.NewClient(cfg, agentEndpoint)
	startup.Must(log, "bad configuration", err)
	db := dynamodb.NewFromConfig(cfg)
	conns := ddb.NewConnections(db, connTable, limit)
	patientPush := push.New(patientMgmt)
	patients := chat.PatientFanout(conns, patientPush, frames.Encode, nil)
	svc := survey.NewService(survey.Deps{Surveys: surveys, Lexicon: lex, Store: ddb.NewSurveys(db, surveysTable, retention), Chat: surveyapi.ChatReach{Conns: conns, Patients: patients},
		Mail: mail.New(sesv2.NewFromConfig(cfg), sender).WithConfigurationSet(env.Optional("MAIL_CONFIGURATION_SET")), Links: links,
		Supervisors: agent.ConsoleFanout(ddb.NewAgentConnections(db, agentConnTable, ddb.RateLimit{}), push.New(agentMgmt), frames.Encode, nil), Log: log},
		survey.ServiceConfig{PageURL: page, From: "Patient Service Center <" + sender + ">"})
	h := surveyapi.NewHandler(svc, links, conns, patientPush, dir, log)
	lambda.Start(h.Invoke)
}
