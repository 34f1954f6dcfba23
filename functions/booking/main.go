// Command booking serves the agent API's scheduling actions: slots, book,
// reschedule, cancel and appointments, for the patients of the
// conversations the caller holds; and the patient API's appointment route,
// where a reminder's signed link views, confirms or cancels its one
// appointment. Each booking is one DynamoDB transaction
// (the appointment and every 15-minute unit its slot holds, each only if
// absent), so no slot is ever booked twice.
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
	"github.com/patientservicecenter/psc/shared/frames"
	"github.com/patientservicecenter/psc/shared/linkapi"
	"github.com/patientservicecenter/psc/shared/push"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/startup"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("booking")
	env := envconf.New()
	agentsTable, connTable, endpoint := env.Required("AGENTS_TABLE"), env.Required("AGENT_CONNECTIONS_TABLE"), env.Required("AGENT_WS_ENDPOINT")
	convTable, msgTable, schedTable := env.Required("CONVERSATIONS_TABLE"), env.Required("MESSAGES_TABLE"), env.Required("SCHEDULING_TABLE")
	retention := time.Duration(env.Int("APPOINTMENT_RETENTION_DAYS", 2190)) * 24 * time.Hour
	telehealth, patientEndpoint, patientConnTable, secretID := env.Required("TELEHEALTH_URL"), env.Required("PATIENT_WS_ENDPOINT"), env.Required("CONNECTIONS_TABLE"), env.Required("LINK_SECRET_ARN")
	auditTable, auditRetention := env.Required("AUDIT_TABLE"), time.Duration(env.Int("AUDIT_RETENTION_DAYS", 2190))*24*time.Hour
	limit := ddb.RateLimit{Frames: env.Int("RATE_LIMIT_FRAMES", 30), Window: env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
	cfg := startup.AWS(ctx, log, env)
	dir, err := scheduling.LoadDirectory()
	startup.Must(log, "loading the scheduling directory", err)
	mgmt, err := push.NewClient(cfg, endpoint)
	startup.Must(log, "bad configuration", err)
	patientMgmt, err := push.NewClient(cfg, patientEndpoint)
	startup.Must(log, "bad configuration", err)
	links := startup.Links(ctx, log, cfg, secretID)
	db := dynamodb.NewFromConfig(cfg)
	pusher := push.New(mgmt)
	sched := scheduling.NewService(dir, ddb.NewAppointments(db, schedTable, retention), scheduling.Config{Notice: time.Hour, TelehealthURL: telehealth}, nil)
	svc := agent.NewService(nil, ddb.NewAgents(db, agentsTable), ddb.NewAgentConnections(db, connTable, limit), pusher, frames.Encode, agent.Config{}, nil).
		WithConversations(ddb.NewRouting(db, convTable, msgTable, agentsTable), ddb.NewConversations(db, convTable, msgTable), nil, nil).
		WithScheduling(sched).WithAudit(ddb.NewAudit(db, auditTable, auditRetention))
	patients := linkapi.NewHandler(links, sched, ddb.NewConnections(db, patientConnTable, limit), push.New(patientMgmt), log)
	lambda.Start(patients.Or(agentapi.NewHandler(svc, pusher, log).Message))
}
