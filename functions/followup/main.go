// Command followup asks the satisfaction surveys: from the conversations
// stream (a conversation closed) and the scheduling stream (a visit
// completed), one survey each — in the chat when the patient has it open,
// else by email with a signed link to the hosted survey page — and takes
// the answers on the patient API's survey route; a poor answer opens a
// follow-up task that connected supervisors hear of; each answer's score is
// counted in the KPIs, once.
package main

import (
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/surveyevents"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
	"github.com/patientservicecenter/psc/shared/kpi"
	"github.com/patientservicecenter/psc/shared/survey"
)

func main() {
	k := wiring.New("followup")
	surveys, err := survey.LoadConfig()
	k.Check("loading the survey configuration", err)
	lex, err := survey.LoadLexicon()
	k.Check("loading the sentiment lexicon", err)
	links, conns, pusher := k.Links("SURVEY_SECRET_ARN"), k.PatientConnections(k.RateLimit()), k.PatientPusher()
	patients := chat.PatientFanout(conns, pusher, frames.Encode, nil)
	svc := survey.NewService(survey.Deps{Surveys: surveys, Lexicon: lex, Store: k.Surveys(k.Days("SURVEY_RETENTION_DAYS", 730)),
		Chat: surveyevents.ChatReach{Conns: conns, Patients: patients}, Mail: k.Mail(), Links: links, Supervisors: k.Consoles(),
		Figures: kpi.Recorder{Store: k.Figures(), Zone: k.Zone()}, Log: k.Log},
		survey.ServiceConfig{PageURL: k.Env.Optional("SURVEY_PAGE_URL"), From: k.Sender()})
	k.Start(surveyevents.NewHandler(svc, links, conns, pusher, k.Directory(), k.Log).Invoke)
}
