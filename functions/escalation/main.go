// Command escalation reads the conversations stream: a conversation the
// bot handed off goes to its queue (priority, language), its patient hears
// their place, and routing is asked to run.
package main

import (
	"github.com/patientservicecenter/psc/shared/edge/routingevents"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/routing"
)

func main() {
	k := wiring.New("escalation")
	queues := k.Queues()
	svc := routing.NewService(routing.Deps{Store: k.Routing(), Conversations: k.Conversations(), Notify: routingevents.Notifier{Patients: k.Patients()},
		Trigger: k.RoutingQueue(), Waits: k.RecentWaits(), Log: k.Log}, routing.Config{Queues: queues, Fallback: queues[0]})
	targets, err := kpi.ParseTargets(k.Env.Optional("SERVICE_LEVEL_TARGETS"))
	k.Check("SERVICE_LEVEL_TARGETS", err)
	figures := kpi.Recorder{Store: k.Figures(), Zone: k.Zone()}
	k.Start(routingevents.NewHandler(svc, k.Log).WithFloor(k.Consoles()).WithFigures(figures, targets).Escalations)
}
