// Package wiring builds what the functions' mains share, each piece from
// the environment variables the template gives the function: the logger,
// the AWS configuration, the DynamoDB stores by their tables, the
// @connections fan-outs, the queues, the signing keys, the mail sender and
// the content files. A main asks its Kit for what it needs, builds its
// service and calls Start, which reports every wrong variable or file at
// once (Lambda records a failed init) before the first invocation.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/shared/adapter/auth"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/adapter/mail"
	"github.com/patientservicecenter/psc/shared/adapter/push"
	"github.com/patientservicecenter/psc/shared/adapter/queue"
	"github.com/patientservicecenter/psc/shared/adapter/secret"
	"github.com/patientservicecenter/psc/shared/adapter/sms"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/envconf"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/fanout"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/session"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

// Kit is one function's cold start: its logger, environment and AWS
// configuration, and the clients built from them once (later invocations
// reuse them).
type Kit struct {
	Log *slog.Logger
	Env *envconf.Env
	AWS aws.Config
	ctx context.Context
	db  *dynamodb.Client
	sqs *sqs.Client
	// built once each
	patientPush, agentPush *push.Pusher
	dir                    *scheduling.Directory
	errs                   []error
}

// New starts a function's cold start: its JSON logger (request id added
// per record) and the SDK's configuration (AWS_ENDPOINT_URL included).
func New(function string) *Kit {
	k := &Kit{Log: lambdacontext.NewLogger().With("function", function), Env: envconf.New(), ctx: context.Background()}
	cfg, err := config.LoadDefaultConfig(k.ctx)
	if err != nil {
		k.Log.Error("loading AWS config", "error", err)
		os.Exit(1)
	}
	k.AWS, k.db, k.sqs = cfg, dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	return k
}

// Check records what went wrong building a piece; Start reports it.
func (k *Kit) Check(what string, err error) {
	if err != nil {
		k.errs = append(k.errs, fmt.Errorf("%s: %w", what, err))
	}
}

// Err is every wrong variable and piece so far, or nil.
func (k *Kit) Err() error { return errors.Join(append([]error{k.Env.Err()}, k.errs...)...) }

// Start reports every wrong variable and piece and stops the process, or
// hands the handler to the Lambda runtime.
func (k *Kit) Start(handler any) {
	if err := k.Err(); err != nil {
		k.Log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// Days reads a number of days (a retention) from name.
func (k *Kit) Days(name string, def int) time.Duration {
	return time.Duration(k.Env.Int(name, def)) * 24 * time.Hour
}

// Retention is how long conversations and messages are kept
// (RETENTION_DAYS).
func (k *Kit) Retention() time.Duration { return k.Days("RETENTION_DAYS", 90) }

// RateLimit is the per-connection frame limit (RATE_LIMIT_FRAMES in
// RATE_LIMIT_WINDOW).
func (k *Kit) RateLimit() ddb.RateLimit {
	return ddb.RateLimit{Frames: k.Env.Int("RATE_LIMIT_FRAMES", 30), Window: k.Env.Duration("RATE_LIMIT_WINDOW", 10*time.Second)}
}

// Queues are the routing queues (ROUTING_QUEUES), the first the fallback.
func (k *Kit) Queues() []string { return strings.Split(k.Env.Required("ROUTING_QUEUES"), ",") }

// Conversations is the conversations and messages store.
func (k *Kit) Conversations() *ddb.Conversations {
	return ddb.NewConversations(k.db, k.Env.Required("CONVERSATIONS_TABLE"), k.Env.Required("MESSAGES_TABLE"))
}

// Routing is the store of offers and assignments (conversations and
// agents in one transaction).
func (k *Kit) Routing() *ddb.Routing {
	return ddb.NewRouting(k.db, k.Env.Required("CONVERSATIONS_TABLE"), k.Env.Required("MESSAGES_TABLE"), k.Env.Required("AGENTS_TABLE"))
}

// Agents is the agents' profiles, presence and capacity.
func (k *Kit) Agents() *ddb.Agents { return ddb.NewAgents(k.db, k.Env.Required("AGENTS_TABLE")) }

// PatientConnections is the patient API's connections, under limit.
func (k *Kit) PatientConnections(limit ddb.RateLimit) *ddb.Connections {
	return ddb.NewConnections(k.db, k.Env.Required("CONNECTIONS_TABLE"), limit)
}

// AgentConnections is the agent API's connections, under limit.
func (k *Kit) AgentConnections(limit ddb.RateLimit) *ddb.AgentConnections {
	return ddb.NewAgentConnections(k.db, k.Env.Required("AGENT_CONNECTIONS_TABLE"), limit)
}

// Appointments is the scheduling table's appointments, kept retention
// after they end (0: only for reading).
func (k *Kit) Appointments(retention time.Duration) *ddb.Appointments {
	return ddb.NewAppointments(k.db, k.Env.Required("SCHEDULING_TABLE"), retention)
}

// Notices is the scheduling table's reminders and sent notices.
func (k *Kit) Notices() *ddb.Notices { return ddb.NewNotices(k.db, k.Env.Required("SCHEDULING_TABLE")) }

// Audit is the trail of reads of patients' records (AUDIT_RETENTION_DAYS).
func (k *Kit) Audit() *ddb.Audit {
	return ddb.NewAudit(k.db, k.Env.Required("AUDIT_TABLE"), k.Days("AUDIT_RETENTION_DAYS", 2190))
}

// Surveys is the surveys and follow-up tasks, kept retention (0: only for
// reading).
func (k *Kit) Surveys(retention time.Duration) *ddb.Surveys {
	return ddb.NewSurveys(k.db, k.Env.Required("SURVEYS_TABLE"), retention)
}

// PatientPusher posts to the patient API's connections
// (PATIENT_WS_ENDPOINT).
func (k *Kit) PatientPusher() *push.Pusher {
	if k.patientPush == nil {
		k.patientPush = k.pusher("PATIENT_WS_ENDPOINT")
	}
	return k.patientPush
}

// AgentPusher posts to the agent API's connections (AGENT_WS_ENDPOINT).
func (k *Kit) AgentPusher() *push.Pusher {
	if k.agentPush == nil {
		k.agentPush = k.pusher("AGENT_WS_ENDPOINT")
	}
	return k.agentPush
}

func (k *Kit) pusher(name string) *push.Pusher {
	client, err := push.NewClient(k.AWS, k.Env.Required(name))
	k.Check(name, err)
	return push.New(client)
}

// Patients is the fan-out to conversations' patient connections.
func (k *Kit) Patients() *fanout.Patients {
	return chat.PatientFanout(k.PatientConnections(ddb.RateLimit{}), k.PatientPusher(), frames.Encode, nil)
}

// Consoles is the fan-out to agents' and supervisors' consoles.
func (k *Kit) Consoles() *fanout.Consoles {
	return agent.ConsoleFanout(k.AgentConnections(ddb.RateLimit{}), k.AgentPusher(), frames.Encode, nil)
}

// RoutingQueue asks routing to run (ROUTING_QUEUE_URL).
func (k *Kit) RoutingQueue() *queue.Routing {
	return queue.NewRouting(k.sqs, k.Env.Required("ROUTING_QUEUE_URL"))
}

// BotTurns asks the bot for turns (BOT_TURN_QUEUE_URL).
func (k *Kit) BotTurns() *queue.BotTurns {
	return queue.NewBotTurns(k.sqs, k.Env.Required("BOT_TURN_QUEUE_URL"))
}

// Mail sends as NOTIFY_SENDER, through MAIL_CONFIGURATION_SET when set.
func (k *Kit) Mail() *mail.SES {
	return mail.New(sesv2.NewFromConfig(k.AWS), k.Env.Required("NOTIFY_SENDER")).WithConfigurationSet(k.Env.Optional("MAIL_CONFIGURATION_SET"))
}

// TextReminders says whether the deployment sends reminders by text
// message (TEXT_REMINDERS=true: it has a registered origination number).
func (k *Kit) TextReminders() bool { return k.Env.Optional("TEXT_REMINDERS") == "true" }

// Texter sends text messages through SNS, from SMS_ORIGINATION_NUMBER
// when set.
func (k *Kit) Texter() *sms.SNS {
	return sms.New(sns.NewFromConfig(k.AWS), k.Env.Optional("SMS_ORIGINATION_NUMBER"))
}

// NotifyConfig is the notices' links page (APPOINTMENT_PAGE_URL) and,
// with text reminders, their rules: SMS_QUIET_HOURS in the center's time
// zone and SMS_HELP_CONTACT, which the answer to HELP gives.
func (k *Kit) NotifyConfig() notify.Config {
	cfg := notify.Config{PageURL: k.Env.Optional("APPOINTMENT_PAGE_URL")}
	if k.TextReminders() {
		var err error
		cfg.HelpContact = k.Env.Required("SMS_HELP_CONTACT")
		cfg.Quiet, err = notify.ParseQuiet(k.Env.Optional("SMS_QUIET_HOURS"), k.Directory().Zone())
		k.Check("reading SMS_QUIET_HOURS", err)
	}
	return cfg
}

// Organization is the organisation's name (ORGANIZATION_NAME), or def.
func (k *Kit) Organization(def string) string {
	if name := strings.TrimSpace(k.Env.Optional("ORGANIZATION_NAME")); name != "" {
		return name
	}
	return def
}

// Sender is how mail names its sender: the organisation's name
// (ORGANIZATION_NAME, a proper name, the same in every language), or
// "Patient Service Center" when none is configured, and NOTIFY_SENDER.
func (k *Kit) Sender() string {
	return (&netmail.Address{Name: k.Organization("Patient Service Center"), Address: k.Env.Required("NOTIFY_SENDER")}).String()
}

// Directory is the scheduling directory (providers, visit types,
// locations).
func (k *Kit) Directory() *scheduling.Directory {
	if k.dir == nil {
		dir, err := scheduling.LoadDirectory()
		k.Check("loading the scheduling directory", err)
		k.dir = dir
	}
	return k.dir
}

// Scheduling is the scheduling service that books: an hour's notice, the
// video link TELEHEALTH_URL, appointments kept APPOINTMENT_RETENTION_DAYS.
func (k *Kit) Scheduling() *scheduling.Service {
	return scheduling.NewService(k.Directory(), k.Appointments(k.Days("APPOINTMENT_RETENTION_DAYS", 2190)),
		scheduling.Config{Notice: time.Hour, TelehealthURL: k.Env.Required("TELEHEALTH_URL")}, nil)
}

// SignIns is the patients' sign-in with the hospital's account, when the
// stack has it (PATIENT_POOL_ISSUER set): the pool's ID tokens of its
// client (PATIENT_POOL_CLIENT_ID, keys at PATIENT_JWKS_URL), checked
// against the email on file in SCHEDULING_TABLE.
func (k *Kit) SignIns(marks chat.VerifiedMarks) (chat.SignIns, bool) {
	issuer := k.Env.Optional("PATIENT_POOL_ISSUER")
	if issuer == "" {
		return chat.SignIns{}, false
	}
	v, err := auth.NewVerifier(k.ctx, auth.Config{Issuer: issuer, ClientID: k.Env.Required("PATIENT_POOL_CLIENT_ID"),
		JWKSURL: k.Env.Required("PATIENT_JWKS_URL"), Skew: 30 * time.Second}, k.Log)
	k.Check("the patients' pool's keys", err)
	onFile := scheduling.NewService(k.Directory(), k.Appointments(k.Days("APPOINTMENT_RETENTION_DAYS", 2190)), scheduling.Config{Notice: time.Hour}, nil)
	return chat.SignIns{Tokens: v, OnFile: onFile, Marks: marks}, true
}

// CodeTries keeps patients' wrong one-time codes across conversations, in
// the scheduling table.
func (k *Kit) CodeTries() *ddb.CodeTries {
	return ddb.NewCodeTries(k.db, k.Env.Required("SCHEDULING_TABLE"))
}

// Waitlist is the waitlist on the scheduling table, holding freed times
// through sched for WAITLIST_HOLD each (default 15 minutes).
func (k *Kit) Waitlist(sched *scheduling.Service) *waitlist.Service {
	return waitlist.NewService(ddb.NewWaitlist(k.db, k.Env.Required("SCHEDULING_TABLE")), sched, k.Env.Duration("WAITLIST_HOLD", 15*time.Minute), k.Log, nil)
}

// keyRefresh is how often a function reads its keys again, so a rotation
// reaches warm functions.
const keyRefresh = 5 * time.Minute

// keys reads a purpose's signing keys (current and previous) from the
// secret the variable name names, and again every five minutes.
func (k *Kit) keys(name string) *secret.Rotating {
	id := k.Env.Required(name)
	if id == "" {
		return nil
	}
	keys, err := secret.NewRotating(k.ctx, secretsmanager.NewFromConfig(k.AWS), id, keyRefresh)
	if err != nil {
		k.Check("loading the signing keys of "+name, err)
		return nil
	}
	return keys
}

// SessionTokens signs and verifies patients' sessions (SESSION_SECRET_ARN,
// SESSION_TTL).
func (k *Kit) SessionTokens() *session.Tokens {
	keys := k.keys("SESSION_SECRET_ARN")
	if keys == nil {
		return nil
	}
	tokens, err := session.NewWithKeys(keys, k.Env.Duration("SESSION_TTL", 24*time.Hour), time.Now)
	k.Check("session key", err)
	return tokens
}

// Links signs and verifies the links of a purpose (the secret's variable:
// LINK_SECRET_ARN, SURVEY_SECRET_ARN).
func (k *Kit) Links(name string) *session.Links {
	keys := k.keys(name)
	if keys == nil {
		return nil
	}
	links, err := session.NewLinksWithKeys(keys, nil)
	k.Check("link key", err)
	return links
}

// Zone is the clinic's time zone (BUSINESS_TIMEZONE), in which the
// figures count days and hours.
func (k *Kit) Zone() *time.Location {
	loc, err := time.LoadLocation(k.Env.Required("BUSINESS_TIMEZONE"))
	k.Check("BUSINESS_TIMEZONE", err)
	if loc == nil {
		return time.UTC
	}
	return loc
}

// Figures is the KPI store (KPI_TABLE), counters kept
// KPI_RETENTION_DAYS (default 400).
func (k *Kit) Figures() *ddb.KPIs {
	return ddb.NewKPIs(k.db, k.Env.Required("KPI_TABLE"), k.Days("KPI_RETENTION_DAYS", 400))
}

// RecentWaits is how long each queue's patients waited lately, from the
// figures (KPI_TABLE, BUSINESS_TIMEZONE).
func (k *Kit) RecentWaits() kpi.RecentWaits {
	return kpi.RecentWaits{Store: k.Figures(), Zone: k.Zone()}
}

// Ctx is the cold start's context, for what a main builds itself.
func (k *Kit) Ctx() context.Context { return k.ctx }
