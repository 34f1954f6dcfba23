// Command agentaction serves the agent WebSocket API's actions (presence,
// accept, decline, send, typing, close, transfer, context, note, queues); each
// checks the caller's connection (rate limit, token expiry), role and
// ownership, and every read of patient context is audited.
package main

import (
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/edge/agentws"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

func main() {
	k := wiring.New("agentaction")
	pusher, routes, trigger, convs := k.AgentPusher(), k.Routing(), k.RoutingQueue(), k.Conversations()
	svc := agent.NewService(nil, k.Agents(), k.AgentConnections(k.RateLimit()), pusher, frames.Encode, agent.Config{Retention: k.Retention()}, nil).
		WithConversations(routes, convs, k.Patients(), trigger).WithAssigner(trigger).WithWatching(convs).
		WithAudit(k.Audit()).WithQueues(k.Queues(), routes).
		// The patient view lists upcoming appointments (read only here;
		// the booking function books).
		WithScheduling(scheduling.NewService(k.Directory(), k.Appointments(0), scheduling.Config{}, nil)).
		WithFollowUps(k.Surveys(0)).WithFigures(k.Figures(), k.Zone())
	k.Start(agentws.NewHandler(svc, pusher, k.Log).Message)
}
