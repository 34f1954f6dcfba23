package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/survey"
)

// supervisorConsole signs a new supervisor in and opens their console.
func supervisorConsole(t *testing.T, username string) *stacktest.Client {
	t.Helper()
	const password = "Test-Super-9!"
	createPoolUserIn(t, "supervisor", username, password, username, "general", "en", 2)
	return stacktest.Dial(t, agentURL(signIn(t, username, password)))
}

// TestSurveyInTheOpenChatAndAFollowUpForALowScore: the agent closes a
// conversation the patient still has open; the survey comes in the chat;
// the patient answers 1 with an angry comment, once; connected
// supervisors get the follow-up task, see it listed, in the CSAT figures
// and, counted once, in the KPIs under its agent, and close it.
func TestSurveyInTheOpenChatAndAFollowUpForALowScore(t *testing.T) {
	run := time.Now().UnixNano()
	sup := supervisorConsole(t, fmt.Sprintf("sup%d", run))
	agentName := fmt.Sprintf("sv%d", run)
	console, agentID := poolAgent(t, agentName, "billing", "en", 10)
	patient, conv := escalate(t, "Ruth")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	if f := console.Request(map[string]any{"action": "close", "conversationId": conv, "disposition": "resolved"}); f["type"] != "status" {
		t.Fatalf("close answered %v", f)
	}
	sv, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "survey" })
	id, _ := sv["surveyId"].(string)
	if id != survey.SurveyID(survey.Conversation, conv) || fmt.Sprint(sv["scale"]) != "[1 5]" || !strings.Contains(sv["question"].(string), "How satisfied") {
		t.Fatalf("survey frame = %v", sv)
	}
	answered := patient.Request(map[string]any{"action": "survey", "surveyId": id, "score": 1, "comment": "the agent was rude and I waited forever"})
	if answered["type"] != "surveyAnswered" || answered["surveyId"] != id {
		t.Fatalf("answer answered %v", answered)
	}
	if again := patient.Request(map[string]any{"action": "survey", "surveyId": id, "score": 5}); again["code"] != "conflict" {
		t.Fatalf("a second answer: %v", again)
	}
	task, _ := sup.Wait(func(f map[string]any) bool { return f["type"] == "task" })
	tv := task["task"].(map[string]any)
	if tv["reason"] != "low score" || tv["queue"] != "billing" || tv["agent"] != agentName || tv["csat"] != 1.0 {
		t.Fatalf("task frame = %v", task)
	}
	listed := sup.Request(map[string]any{"action": "tasks"})
	if !strings.Contains(fmt.Sprint(listed["tasks"]), tv["taskId"].(string)) {
		t.Fatalf("tasks = %v", listed)
	}
	csat := sup.Request(map[string]any{"action": "csat", "weeks": 1})
	var mine map[string]any
	for _, f := range csat["byAgent"].([]any) {
		if f.(map[string]any)["group"] == agentName {
			mine = f.(map[string]any)
		}
	}
	if mine == nil || mine["averageCsat"] != 1.0 || mine["answered"] != 1.0 || mine["responseRate"] != 1.0 {
		t.Fatalf("csat by agent = %v", csat["byAgent"])
	}
	// The answer is counted before it is acknowledged, and the refused
	// second answer counts nothing.
	var kpi map[string]any
	for _, r := range sup.Request(map[string]any{"action": "kpis", "by": "agent", "days": 1})["rows"].([]any) {
		if r.(map[string]any)["key"] == agentID {
			kpi = r.(map[string]any)
		}
	}
	if kpi == nil || kpi["rated"] != 1.0 || kpi["csat"] != 1.0 || kpi["satisfied"] != 0.0 {
		t.Fatalf("the agent's KPIs = %v, want one survey rated 1 of 5", kpi)
	}
	// Agents do not see follow-ups.
	if f := console.Request(map[string]any{"action": "tasks"}); f["code"] != "forbidden" {
		t.Fatalf("an agent listing tasks: %v", f)
	}
	after := sup.Request(map[string]any{"action": "closeTask", "taskId": tv["taskId"]})
	if after["type"] != "tasks" || strings.Contains(fmt.Sprint(after["tasks"]), tv["taskId"].(string)) {
		t.Fatalf("after closing the task: %v", after)
	}
}

// TestSurveyByEmailWhenThePatientLeft: a patient who gave an email (when
// booking with the bot) asks for a person and leaves before the agent
// closes; the survey goes by email, its link opens the hosted survey page
// (no chat), the patient answers with the keyboard, once; the answer is
// stored.
func TestSurveyByEmailWhenThePatientLeft(t *testing.T) {
	stamp := time.Now().UnixNano()
	console, _ := poolAgent(t, fmt.Sprintf("gen%d", stamp), "general", "en", 10)
	p := startWithBot(t, "Olga")
	n := 0
	confirmFirstTime(t, p, &n, "Pediatrics")
	email := fmt.Sprintf("olga%d@example.org", stamp)
	chat(t, p, &n, email)
	if booked := chat(t, p, &n, "Skip"); !strings.Contains(booked["text"].(string), "You're booked") {
		t.Fatalf("booking = %v", booked)
	}
	n++
	send(t, p.c, p.conversationID, fmt.Sprintf("b-%d", n), "I want to talk to a person")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == p.conversationID })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": p.conversationID}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	p.c.Close() // the patient leaves
	// The $disconnect removes the connection record; close once it is gone.
	conns := ddb.NewConnections(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["ConnectionsTable"], ddb.RateLimit{})
	deadline := time.Now().Add(20 * time.Second)
	for {
		open, err := conns.ForConversation(context.Background(), p.conversationID)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the patient's connection was not removed")
		}
		time.Sleep(100 * time.Millisecond) // polling the table, not synchronising on time
	}
	if f := console.Request(map[string]any{"action": "close", "conversationId": p.conversationID, "disposition": "resolved"}); f["type"] != "status" {
		t.Fatalf("close answered %v", f)
	}

	m := mailTo(t, email, "How did we do?")
	start := strings.Index(m.BodyText, env.Outputs.Web+"survey.html?t=")
	if start < 0 {
		t.Fatalf("survey email = %+v", m)
	}
	link := strings.Fields(m.BodyText[start:])[0]
	b := browser(t)
	run(t, b, "opening the survey link", chromedp.Navigate(link))
	run(t, b, "waiting for the questions", chromedp.WaitVisible(`#form`))
	accessible(t, b, "the survey page")
	if focused := run(t, b, "reading the focus", chromedp.Evaluate[string](`document.activeElement.name + "=" + document.activeElement.value`)); focused != "csat=1" {
		t.Fatalf("focus is on %q, want the first score", focused)
	}
	// Arrow keys move along the scale, selecting as they go: 1 → 4.
	for range 3 {
		run(t, b, "moving along the scale", chromedp.KeyEvent(kb.ArrowRight))
	}
	run(t, b, "writing a comment", chromedp.SendKeys(`textarea`, "Quick and friendly, thank you"))
	run(t, b, "focusing Send", chromedp.Focus(`#submit`))
	run(t, b, "sending with Enter", chromedp.KeyEvent("\r"))
	waitText(t, b, "#status", "Thank you for your answer")

	store := ddb.NewSurveys(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SurveysTable"], 0)
	got, err := store.Get(context.Background(), survey.SurveyID(survey.Conversation, p.conversationID))
	if err != nil || got.Delivery != "email" || got.Answer == nil || got.Answer.CSAT != 4 || got.Answer.Sentiment <= 0 {
		t.Fatalf("stored survey: %+v %v", got, err)
	}
	again := browser(t)
	run(t, again, "opening the link again", chromedp.Navigate(link))
	waitText(t, again, "#status", "already answered")
}

// TestCompletedVisitGetsASurveyWithNPS: a supervisor records a visit as
// completed from the console route; the visit's survey goes to the
// patient by email, and its page asks the recommendation (NPS) question
// too.
func TestCompletedVisitGetsASurveyWithNPS(t *testing.T) {
	stamp := time.Now().UnixNano()
	sup := supervisorConsole(t, fmt.Sprintf("vis%d", stamp))
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	// Booked in the past (the clock of the booking set back), so the visit
	// has happened by now.
	past := time.Now().AddDate(0, 0, -20-int(stamp%300))
	booker := scheduling.NewService(dir, ddb.NewAppointments(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"], 24*time.Hour),
		scheduling.Config{}, func() time.Time { return past })
	open, err := booker.Search(context.Background(), scheduling.Query{Provider: "dr-novak", VisitType: "follow-up", From: past, To: past.AddDate(0, 0, 7), Limit: 1})
	if err != nil || len(open) == 0 {
		t.Fatalf("search: %v %v", open, err)
	}
	email := fmt.Sprintf("vic%d@example.org", stamp)
	a, err := booker.Book(context.Background(), scheduling.BookRequest{Token: fmt.Sprint(stamp), SlotID: open[0].ID, PatientID: fmt.Sprint("vp-", stamp),
		PatientName: "Vic", PatientEmail: email, Locale: "en", By: "patient"})
	if err != nil {
		t.Fatal(err)
	}
	visit := sup.Request(map[string]any{"action": "visit", "appointmentId": a.ID, "outcome": "completed"})
	if visit["type"] != "visit" || visit["appointment"].(map[string]any)["state"] != "completed" {
		t.Fatalf("visit answered %v", visit)
	}
	if n := auditWhere(t, func(e auditEntry) bool { return e.PatientID == a.PatientID }); n != 1 {
		t.Fatalf("%d audit entries for the supervisor's read of the visit, want 1", n)
	}
	m := mailTo(t, email, "How did we do?")
	link := strings.Fields(m.BodyText[strings.Index(m.BodyText, env.Outputs.Web+"survey.html?t="):])[0]
	b := browser(t)
	run(t, b, "opening the survey link", chromedp.Navigate(link))
	waitText(t, b, "#questions", "How likely are you to recommend us")
	if n := run(t, b, "counting the recommendation scale", chromedp.Evaluate[int](`document.querySelectorAll('input[name="nps"]').length`)); n != 11 {
		t.Fatalf("the NPS scale has %d choices, want 0-10", n)
	}
}

// TestSupervisorSeesFollowUpsInTheConsole: a supervisor has the console
// open in a browser; a patient answers a survey with a 2; the follow-up
// appears in the console by itself, the satisfaction table shows the
// agent, and the supervisor marks it done with the keyboard.
func TestSupervisorSeesFollowUpsInTheConsole(t *testing.T) {
	stamp := time.Now().UnixNano()
	username, password := fmt.Sprintf("supb%d", stamp), "Test-Super-9!"
	createPoolUserIn(t, "supervisor", username, password, "Sara Super", "general", "en", 2)
	b := browser(t)
	consoleSignIn(t, b, username, password)
	run(t, b, "waiting for the follow-ups", chromedp.WaitVisible(`#supervision`))
	waitText(t, b, "#connection", "Connected")

	agentName := fmt.Sprintf("sva%d", stamp)
	console, _ := poolAgent(t, agentName, "billing", "en", 10)
	patient, conv := escalate(t, "Uma")
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	console.Request(map[string]any{"action": "accept", "conversationId": conv})
	console.Request(map[string]any{"action": "close", "conversationId": conv, "disposition": "resolved"})
	sv, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "survey" })
	patient.Request(map[string]any{"action": "survey", "surveyId": sv["surveyId"], "score": 2, "comment": "It took too long"})

	waitText(t, b, "#tasks", "low score · CSAT 2 · "+agentName)
	waitText(t, b, "#tasks", "It took too long")
	waitText(t, b, "#csat-by-agent", agentName)
	taskID := "tk" + sv["surveyId"].(string)[2:]
	run(t, b, "focusing Mark done", chromedp.Focus(`#tasks li[data-task-id="`+taskID+`"] button`))
	run(t, b, "marking it done with Enter", chromedp.KeyEvent("\r"))
	run(t, b, "waiting for it to go", chromedp.WaitNotPresent(`#tasks li[data-task-id="`+taskID+`"]`))
}

// TestBotResolvedConversationGetsASurvey: a patient's question is answered
// by the bot, they say that's all; the bot closes the conversation and
// the survey comes in the chat.
func TestBotResolvedConversationGetsASurvey(t *testing.T) {
	p := startWithBot(t, "Ines")
	n := 0
	chat(t, p, &n, "yes")
	chat(t, p, &n, "Where can I park?")
	if more := chat(t, p, &n, "Yes, thanks"); quick(t, more, 0) != "That's all, thanks" {
		t.Fatalf("after a helpful answer: %v", more)
	}
	if bye := chat(t, p, &n, "That's all, thanks"); !strings.Contains(bye["text"].(string), "closed") {
		t.Fatalf("goodbye = %v", bye)
	}
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "closed" })
	sv, _ := p.c.Wait(func(f map[string]any) bool { return f["type"] == "survey" })
	if sv["surveyId"] != survey.SurveyID(survey.Conversation, p.conversationID) {
		t.Fatalf("survey = %v", sv)
	}
	if f := p.c.Request(map[string]any{"action": "survey", "surveyId": sv["surveyId"], "score": 5}); f["type"] != "surveyAnswered" {
		t.Fatalf("answer = %v", f)
	}
}

// TestTheSurveyPageInSpanish (issue 20, items 2 and 4): a Spanish
// survey's link (lang=es) opens the page in Spanish — its own words and
// the survey's questions, lang="es", no English text of the page left,
// axe-core clean; a tampered link gets the page's Spanish words.
func TestTheSurveyPageInSpanish(t *testing.T) {
	ctx := context.Background()
	stamp := time.Now().UnixNano()
	now := time.Now()
	sv := survey.Survey{ID: fmt.Sprintf("sves%d", stamp), Source: survey.Source{Kind: survey.Conversation, ID: fmt.Sprintf("c-es%d", stamp),
		PatientID: fmt.Sprintf("p-es%d", stamp), Locale: "es", At: now}, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour), Delivery: "email"}
	store := ddb.NewSurveys(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SurveysTable"], 24*time.Hour)
	if err := store.Create(ctx, sv, 0); err != nil {
		t.Fatal(err)
	}
	tok, err := stackLinks(t, "SurveyLinkSecret").IssueFor("survey", sv.ID, sv.PatientID, sv.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "opening the Spanish survey", chromedp.Navigate(env.Outputs.Web+"survey.html?t="+url.QueryEscape(tok)+"&lang=es"))
	run(t, b, "waiting for the questions", chromedp.WaitVisible(`#form`))
	if l := run(t, b, "reading the page's language", chromedp.Evaluate[string](`document.documentElement.lang`)); l != "es" {
		t.Fatalf("the page's lang is %q, want es", l)
	}
	text := run(t, b, "reading the page", chromedp.Evaluate[string](`document.body.innerText + " " + document.title`))
	for _, english := range []string{"How did we do", "Your feedback", "Send feedback", "Don't ask me again", "This survey is optional", "In an emergency",
		"(optional)", "Skip to"} {
		if strings.Contains(text, english) {
			t.Errorf("the Spanish survey page still says %q", english)
		}
	}
	accessible(t, b, "the survey page in Spanish")

	bad := browser(t)
	run(t, bad, "opening a tampered Spanish link", chromedp.Navigate(env.Outputs.Web+"survey.html?t="+url.QueryEscape(tok[:len(tok)-3]+"abc")+"&lang=es"))
	waitText(t, bad, "#error", "Este enlace ya no es válido")
}
