// Command notify tells patients about their appointments: from the
// scheduling stream, a confirmation of each booking, move or cancellation
// in the chat and by email (with a calendar invitation), and the reminders
// it plans; from its schedule (NotifySweep, every minute), the reminders
// due, each with a signed link to confirm or cancel (by text too, for the
// patients who gave a mobile number for it); from the inbound-SMS queue,
// the patients' texts (STOP, START, HELP) answered. A freed time goes to
// the waitlist, held for each patient in turn.
package main

import (
	"github.com/patientservicecenter/psc/shared/edge/schedulingevents"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/notify"
)

func main() {
	k := wiring.New("notify")
	texts, err := notify.LoadTexts()
	k.Check("loading the notices", err)
	if texts != nil {
		texts.From, texts.Organization = k.Sender(), k.Organization(texts.Organization)
	}
	notices := k.Notices()
	deps := notify.Deps{Texts: texts, Directory: k.Directory(),
		Chat: schedulingevents.ChatPoster{Messages: k.Conversations(), Patients: k.Patients(), Retention: k.Retention()}, Mail: k.Mail(),
		Reminders: notices, Sent: notices, Appointments: k.Appointments(0), Links: k.Links("LINK_SECRET_ARN"), Log: k.Log}
	if k.TextReminders() {
		deps.Texter, deps.OptOuts = k.Texter(), notices
	}
	sched, cfg := k.Scheduling(), k.NotifyConfig()
	deps.Holds, deps.Waitlist = sched, k.Waitlist(sched).WithQuietHours(cfg.Quiet.End)
	svc := notify.NewService(deps, cfg)
	k.Start(schedulingevents.NewHandler(svc, k.Log).Handle)
}
