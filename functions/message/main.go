// Command message serves the patient WebSocket API's frame routes (start,
// resume, send, typing, end and $default, which takes transcript: a
// verified patient's ended conversation by email, and signIn: the
// hospital's sign-in's ID token).
package main

import (
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/triage"
)

func main() {
	k := wiring.New("message")
	rules, err := triage.Load()
	k.Check("triage rules", err)
	pusher, conns := k.PatientPusher(), k.PatientConnections(k.RateLimit())
	// The agent who holds a conversation hears its patient; supervisors
	// hear a red flag.
	consoles := k.Consoles()
	svc := chat.NewService(k.Conversations(), conns, chat.PatientFanout(conns, pusher, frames.Encode, nil), k.SessionTokens(),
		chat.Config{Retention: k.Retention(), ResumeGrace: k.Env.Duration("RESUME_GRACE", chat.DefaultResumeGrace)}, nil, nil).
		WithBot(k.BotTurns()).WithAgents(consoles).WithWatch(chat.TriageWatch{Engine: rules}, consoles).
		WithTranscripts(chat.TranscriptMail{Mail: k.Mail(), From: k.Sender(), Zone: k.Zone(), Marks: k.Conversations()})
	if si, ok := k.SignIns(k.Conversations()); ok {
		svc.WithSignIn(si)
	}
	k.Start(patientws.NewHandler(svc, pusher, k.Log).Message)
}
