// Command booking serves the agent API's scheduling actions: slots, book,
// reschedule, cancel and appointments, for the patients of the
// conversations the caller holds; and the patient API's appointment route,
// where a reminder's signed link views, confirms or cancels its one
// appointment. Each booking is one DynamoDB transaction
// (the appointment and every 15-minute unit its slot holds, each only if
// absent), so no slot is ever booked twice.
package main

import (
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/edge/agentws"
	"github.com/patientservicecenter/psc/shared/edge/appointmentlink"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
)

func main() {
	k := wiring.New("booking")
	pusher, sched := k.AgentPusher(), k.Scheduling()
	svc := agent.NewService(nil, k.Agents(), k.AgentConnections(k.RateLimit()), pusher, frames.Encode, agent.Config{}, nil).
		WithConversations(k.Routing(), k.Conversations(), nil, nil).WithScheduling(sched).WithAudit(k.Audit())
	patients := appointmentlink.NewHandler(k.Links("LINK_SECRET_ARN"), sched, k.PatientConnections(k.RateLimit()), k.PatientPusher(), k.Log)
	k.Start(patients.Or(agentws.NewHandler(svc, pusher, k.Log).Message))
}
