// Command botturn is the health bot: it takes one turn per request from
// the bot-turn SQS FIFO queue (one message group per conversation). It
// reads the agents table only to know whether anyone who serves a queue is
// online before handing a patient to a person, and books, reschedules and
// cancels appointments in the scheduling table (one transaction each),
// once the patient has typed the one-time code it emails them; a patient
// no open time suits joins the waitlist.
package main

import (
	"strings"

	"github.com/patientservicecenter/psc/shared/bot"
	"github.com/patientservicecenter/psc/shared/edge/botqueue"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
)

func main() {
	k := wiring.New("botturn")
	engine, err := bot.Load(bot.HoursConfig{Timezone: k.Env.Required("BUSINESS_TIMEZONE"), Weekly: k.Env.Required("BUSINESS_HOURS"),
		Closures: strings.Split(k.Env.Optional("BUSINESS_CLOSURES"), ",")})
	k.Check("loading the bot's content", err)
	if engine != nil {
		engine.WithOrganization(k.Env.Optional("ORGANIZATION_NAME")).WithTextReminders(k.TextReminders())
	}
	sched := k.Scheduling()
	turner := bot.NewTurner(engine, k.Conversations(), k.Patients(), nil).WithStaffing(k.Agents()).WithScheduling(sched).
		WithCodes(k.Mail(), k.Sender()).WithCodeGuard(k.CodeTries()).WithWaitlist(k.Waitlist(sched))
	if k.TextReminders() {
		turner.WithCodeTexts(k.Texter(), k.Notices()) // codes by text where there is no email, never after STOP
	}
	k.Start(botqueue.NewHandler(turner, k.Log).Handle)
}
