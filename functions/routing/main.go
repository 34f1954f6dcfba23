// Command routing offers waiting conversations to the best available
// agents, when asked through the routing queue, when an agent becomes
// available or frees capacity (the agents stream), and on a schedule
// (RoutingSweep), which also moves conversations that waited past their
// queue's maximum wait to its fallback queue (QueueOverflow).
package main

import (
	"time"

	"github.com/patientservicecenter/psc/shared/edge/routingevents"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/routing"
)

func main() {
	k := wiring.New("routing")
	queues := k.Queues()
	overflow, err := routing.ParseOverflow(k.Env.Optional("QUEUE_OVERFLOW"), queues)
	k.Check("QUEUE_OVERFLOW", err)
	store, consoles := k.Routing(), k.Consoles()
	svc := routing.NewService(routing.Deps{Store: store, Conversations: k.Conversations(), Notify: routingevents.Notifier{Patients: k.Patients(), Consoles: consoles},
		Trigger: k.RoutingQueue(), Waits: k.RecentWaits(), Log: k.Log},
		routing.Config{Queues: queues, Fallback: queues[0], OfferTimeout: k.Env.Duration("OFFER_TIMEOUT", 45*time.Second), Overflow: overflow}).
		WithUrgentAlerts(store, k.Env.Duration("URGENT_ALERT_AFTER", 2*time.Minute))
	k.Start(routingevents.NewHandler(svc, k.Log).WithFloor(consoles).Routing)
}
