package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/chromedp/chromedp"

	"github.com/patientservicecenter/psc/localstack/stacktest"
)

func isBot(f map[string]any) bool {
	from, _ := f["from"].(map[string]any)
	return f["type"] == "message" && from["role"] == "bot"
}

func botReply(t *testing.T, c *stacktest.Client) map[string]any {
	t.Helper()
	f, _ := c.Wait(isBot)
	return f
}

// startWithBot is start() plus the bot's greeting.
func startWithBot(t *testing.T, name string) started {
	t.Helper()
	p := start(t, name)
	if g := botReply(t, p.c); !strings.Contains(g["text"].(string), "911") || g["quickReplies"] == nil {
		t.Fatalf("greeting = %v", g)
	}
	return p
}

// sayEmergency sends a message the bot must take for an emergency: its
// reply starts with the 911 guidance.
func sayEmergency(t *testing.T, p started, clientID, text string) {
	t.Helper()
	send(t, p.c, p.conversationID, clientID, text)
	reply := botReply(t, p.c)
	if first := strings.SplitN(reply["text"].(string), "\n\n", 2)[0]; !strings.Contains(first, "911") {
		t.Fatalf("first reply to an emergency = %q", reply["text"])
	}
}

type storedConversation struct {
	State       string   `dynamodbav:"state"`
	Identity    string   `dynamodbav:"identity"`
	Disposition string   `dynamodbav:"disposition"`
	ScriptSteps []string `dynamodbav:"scriptSteps"`
	AssignedAt  string   `dynamodbav:"assignedAt"`
	Handoff     struct {
		Queue       string            `dynamodbav:"queue"`
		Priority    string            `dynamodbav:"priority"`
		Language    string            `dynamodbav:"language"`
		Reason      string            `dynamodbav:"reason"`
		TriageLevel string            `dynamodbav:"triageLevel"`
		RedFlags    []string          `dynamodbav:"redFlags"`
		Collected   map[string]string `dynamodbav:"collected"`
		Summary     string            `dynamodbav:"summary"`
		At          string            `dynamodbav:"at"`
	} `dynamodbav:"handoff"`
}

func conversationItem(t *testing.T, id string) storedConversation {
	t.Helper()
	c, ok := storedItem[storedConversation](t, "ConversationsTable", "conversationId", id)
	if !ok {
		t.Fatalf("no conversation %s", id)
	}
	return c
}

func TestBotGreetsAndAnswersFromKnowledge(t *testing.T) {
	p := startWithBot(t, "Ivy")
	send(t, p.c, p.conversationID, "k-1", "Yes, continue")
	if menu := botReply(t, p.c); !strings.Contains(menu["text"].(string), "How can I help you today?") || fmt.Sprint(menu["quickReplies"]) != "[Ask a question Request an appointment Check a symptom Talk to a person]" {
		t.Fatalf("menu = %v", menu)
	}
	send(t, p.c, p.conversationID, "k-2", "What are the visiting hours?")
	answer := botReply(t, p.c)
	if !strings.Contains(answer["text"].(string), "Source: ") {
		t.Fatalf("knowledge answer = %v", answer)
	}
}

func TestRedFlagGetsEmergencyAnswerFirstAndUrgentEscalation(t *testing.T) {
	p := startWithBot(t, "Jon")
	sayEmergency(t, p, "r-1", "I have crushing chest pain and my left arm hurts")
	if st, _ := p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" }); st["state"] != "waiting" {
		t.Fatalf("status = %v", st)
	}
	c := conversationItem(t, p.conversationID)
	if !handedOff(c.State) || c.Handoff.Priority != "urgent" || c.Handoff.Reason != "red_flag" || len(c.Handoff.RedFlags) == 0 || c.Handoff.RedFlags[0] != "chest_pain" {
		t.Fatalf("stored conversation = %+v", c)
	}
}

func TestHumanRequestEscalatesWithHandoffContext(t *testing.T) {
	// Someone who serves the general queue is online (busy, so the
	// conversation stays waiting for this test to read).
	console, _ := poolAgent(t, fmt.Sprintf("gen%d", time.Now().UnixNano()), "general", "en", 1)
	if f := console.Request(map[string]any{"action": "presence", "status": "busy"}); f["status"] != "busy" {
		t.Fatalf("going busy: %v", f)
	}
	p := startWithBot(t, "Kay")
	send(t, p.c, p.conversationID, "h-1", "yes")
	botReply(t, p.c)
	send(t, p.c, p.conversationID, "h-2", "I want to talk to a human")
	if reply := botReply(t, p.c); !strings.Contains(reply["text"].(string), "connecting you") {
		t.Fatalf("handoff reply = %v", reply)
	}
	if st, _ := p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" }); st["state"] != "waiting" {
		t.Fatalf("status = %v", st)
	}
	c := conversationItem(t, p.conversationID)
	h := c.Handoff
	if !handedOff(c.State) || h.Queue != "general" || h.Priority != "normal" || h.Reason != "patient_request" || h.Language != "en" || !strings.Contains(h.Summary, "Topic: billing question") {
		t.Fatalf("stored handoff = %+v", c)
	}
}

// TestNoOneOnlineOffersCallback: nobody who serves the nurse queue is
// online, so asking for a nurse does not leave the patient waiting for
// nobody: the bot says so and offers a message for a callback, an
// appointment request or answers; the patient leaves a message, which
// goes to the callback queue with the handoff context.
func TestNoOneOnlineOffersCallback(t *testing.T) {
	p := startWithBot(t, "Pia")
	send(t, p.c, p.conversationID, "n-1", "yes")
	botReply(t, p.c)
	send(t, p.c, p.conversationID, "n-2", "I want to talk to a nurse")
	reply := botReply(t, p.c)
	quick := fmt.Sprint(reply["quickReplies"])
	if !strings.Contains(reply["text"].(string), "busy or away") || !strings.Contains(quick, "Leave a message") || !strings.Contains(quick, "Request an appointment") {
		t.Fatalf("with nobody online the bot answered %v", reply)
	}
	if c := conversationItem(t, p.conversationID); c.State != "bot" {
		t.Fatalf("the conversation is %s, want still with the bot", c.State)
	}
	send(t, p.c, p.conversationID, "n-3", "Leave a message")
	botReply(t, p.c)
	send(t, p.c, p.conversationID, "n-4", "Please call me back tomorrow morning about my medication")
	if done := botReply(t, p.c); !strings.Contains(done["text"].(string), "call you back") {
		t.Fatalf("callback reply = %v", done)
	}
	if st, _ := p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" }); st == nil {
		t.Fatal("the callback request did not reach a queue")
	}
	if c := conversationItem(t, p.conversationID); c.Handoff.Queue != "callback" || c.Handoff.Reason != "callback_request" {
		t.Fatalf("stored handoff = %+v", c.Handoff)
	}
}

// TestRedeliveredTurnYieldsOneReply delivers the same bot-turn request a
// second time (as SQS may): the bot stores no second reply.
func TestRedeliveredTurnYieldsOneReply(t *testing.T) {
	p := startWithBot(t, "Lee")
	ack, _ := send(t, p.c, p.conversationID, "d-1", "where do I park?")
	reply := botReply(t, p.c)
	body, _ := json.Marshal(map[string]string{"conversationId": p.conversationID, "messageId": ack["messageId"].(string)})
	_, err := sqs.NewFromConfig(awsCfg()).SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(env.Outputs.Queues["BotTurnQueue"]), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(p.conversationID), MessageDeduplicationId: aws.String(fmt.Sprintf("redelivery-%d", time.Now().UnixNano())),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The redelivered turn pushes the stored reply again (same id)...
	again, _ := p.c.Wait(func(f map[string]any) bool { return isBot(f) && f["messageId"] == reply["messageId"] })
	if again["text"] != reply["text"] {
		t.Fatalf("redelivered reply differs: %v vs %v", again, reply)
	}
	// ...and the conversation holds one reply to the message.
	_, texts, _ := history(t, p.c, "", "")
	replies := 0
	for _, s := range texts {
		if s == reply["text"] {
			replies++
		}
	}
	if replies != 1 || len(texts) != 3 { // greeting, question, one answer
		t.Fatalf("history = %q", texts)
	}
}

// TestQuickRepliesInBrowser: the page shows the bot's quick replies and
// clicking one sends it.
func TestQuickRepliesInBrowser(t *testing.T) {
	ctx := browser(t)
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Mia Browser"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the quick replies", chromedp.WaitVisible(`#messages .quick-reply`))
	label := run(t, ctx, "reading the first quick reply", chromedp.Text(`#messages .quick-reply`))
	run(t, ctx, "clicking it", chromedp.Click(`#messages .quick-reply`))
	run(t, ctx, "waiting for it to be sent and acknowledged", chromedp.WaitVisible(`#messages li[data-status="acked"]`))
	if sent := run(t, ctx, "reading the sent message", chromedp.Text(`#messages li[data-status="acked"]`)); !strings.Contains(sent, label) {
		t.Fatalf("clicked %q, sent %q", label, sent)
	}
	// The bot answers the quick reply with its menu: new quick replies.
	run(t, ctx, "waiting for the bot's next quick replies", chromedp.WaitVisible(`#messages li[data-status="acked"] ~ li .quick-reply`))
}

// handedOff reports whether a stored state is one a handed-off
// conversation can be in by now: escalated, then waiting in its queue, or
// offered to an agent when one is available.
func handedOff(state string) bool {
	return state == "escalated" || state == "waiting" || state == "offered"
}

// TestBookingThroughQuickRepliesInBrowser: on the patient page, a patient
// books a visit by clicking the bot's quick replies only: the menu, the
// kind of care, the days, no preference, the first open time, yes, skip
// the email; the chat shows the booking and then its confirmation notice.
func TestBookingThroughQuickRepliesInBrowser(t *testing.T) {
	ctx := browser(t)
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Noa Browser"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	click := func(label string) {
		t.Helper()
		// The newest quick reply with that label (older messages keep theirs).
		js := fmt.Sprintf(`(() => { const bs = [...document.querySelectorAll('#messages .quick-reply')].filter(b => b.textContent.trim() === %q);
			if (!bs.length) return false; bs[bs.length - 1].click(); return true; })()`, label)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#messages').innerText`))
			t.Fatalf("no quick reply %q to click: %v\nthe chat reads:\n%s", label, err, text)
		}
	}
	clickFirstSlot := func() string {
		t.Helper()
		js := `(() => { const li = [...document.querySelectorAll('#messages li')].filter(l => l.textContent.includes('next open times'));
			if (!li.length) return ""; const b = li[li.length - 1].querySelector('.quick-reply'); if (!b) return ""; b.click(); return b.textContent.trim(); })()`
		v, err := chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Fatalf("no open time to click: %v", err)
		}
		return v
	}
	click("Yes, continue")
	click("Request an appointment")
	click("Orthopedics")
	click("Any time")
	click("No preference")
	slot := clickFirstSlot()
	waitText(t, ctx, "#messages", "Shall I book "+slot)
	click("Yes, book it")
	click("Skip") // the email
	waitText(t, ctx, "#messages", "Type your US or Canadian mobile number")
	click("Skip") // the text reminders
	waitText(t, ctx, "#messages", "You're booked")
	waitText(t, ctx, "#messages", "Dr. Peter Novak")
	waitText(t, ctx, "#messages", "Appointment confirmed")
}
