package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/patientservicecenter/psc/localstack/staffauth"
	"github.com/patientservicecenter/psc/shared/adapter/push"
)

// browser returns a chromedp context on a fresh headless Chromium (Debian's
// package, installed by `make browser`).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("Chromium is not installed: run `make browser` (Debian's chromium package)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// run runs one browser action and fails the test with what was being done.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// pushToPatient posts frames, in order, to every connection of the
// conversation, as a function does through @connections.
func pushToPatient(t *testing.T, conversationID string, frames ...map[string]any) {
	t.Helper()
	if sent := postFrames(t, env.Outputs.PatientWebSocket, "ConnectionsTable", "conversationId", conversationID, frames); sent == 0 {
		t.Fatal("no connection of the conversation took the frames")
	}
}

// postFrames posts frames through @connections to the connections of a
// table whose attribute is value, and counts the posts taken (connections
// of earlier runs that are gone are skipped).
func postFrames(t *testing.T, endpoint, table, attribute, value string, frames []map[string]any) int {
	t.Helper()
	ctx := context.Background()
	out, err := dynamodb.NewFromConfig(awsCfg()).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(env.Outputs.Tables[table]),
		FilterExpression: aws.String(attribute + " = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}}})
	if err != nil || len(out.Items) == 0 {
		t.Fatalf("the connections with %s %s: %v (%d)", attribute, value, err, len(out.Items))
	}
	api, err := push.NewClient(awsCfg(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, it := range out.Items {
		id := it["connectionId"].(*types.AttributeValueMemberS).Value
		for _, f := range frames {
			b, _ := json.Marshal(f)
			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: b}); err == nil {
				sent++
			}
		}
	}
	return sent
}

// pushToConsoles posts frames through @connections to every open console
// of the pool user username (consoles of earlier runs that are gone are
// skipped).
func pushToConsoles(t *testing.T, username string, frames ...map[string]any) {
	t.Helper()
	ctx := context.Background()
	u, err := cip.NewFromConfig(awsCfg()).AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(env.Outputs.AgentPool.ID), Username: aws.String(username)})
	if err != nil {
		t.Fatal(err)
	}
	sub := ""
	for _, a := range u.UserAttributes {
		if aws.ToString(a.Name) == "sub" {
			sub = aws.ToString(a.Value)
		}
	}
	if sent := postFrames(t, env.Outputs.AgentWebSocket, "AgentConnectionsTable", "agentId", sub, frames); sent == 0 {
		t.Fatal("no console of the agent took the frames")
	}
}

// signInCalls records the user-pool calls a page makes, each as its
// operation and the flow or challenge it names ("InitiateAuth
// USER_SRP_AUTH", "RespondToAuthChallenge PASSWORD_VERIFIER"); the
// function returns those so far.
func signInCalls(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var calls []string
	if err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Request.Method != "POST" || !strings.HasPrefix(fmt.Sprint(e.Request.Headers["X-Amz-Target"]), "AWSCognitoIdentityProviderService.") {
			return
		}
		var body []byte
		for _, p := range e.Request.PostDataEntries {
			body = append(body, p.Bytes...)
		}
		var in struct{ AuthFlow, ChallengeName string }
		_ = json.Unmarshal(body, &in)
		op := strings.TrimPrefix(fmt.Sprint(e.Request.Headers["X-Amz-Target"]), "AWSCognitoIdentityProviderService.")
		mu.Lock()
		calls = append(calls, strings.TrimSpace(op+" "+in.AuthFlow+in.ChallengeName))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), calls...)
	}
}

// TestPatientPageInBrowser: a patient opens the page, starts a chat, sends
// a message and sees it acknowledged, reloads and sees the history.
func TestPatientPageInBrowser(t *testing.T) {
	ctx := browser(t)
	acked := `#messages li[data-status="acked"]`
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "waiting for the start form", chromedp.WaitVisible(`#start-form`))
	if v := run(t, ctx, "reading the script version", chromedp.Evaluate[string](`window.PSCChat && window.PSCChat.version || ""`)); v == "" {
		t.Fatal("chat.js did not load (window.PSCChat.version is empty)")
	}
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Ana Browser"))
	run(t, ctx, "typing the topic", chromedp.SendKeys(`#topic`, "parking"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the composer", chromedp.WaitVisible(`#message-input`))
	run(t, ctx, "typing a message", chromedp.SendKeys(`#message-input`, "Where can I park?"))
	run(t, ctx, "sending", chromedp.Click(`#send`))
	run(t, ctx, "waiting for the acknowledgement", chromedp.WaitVisible(acked))
	if text := run(t, ctx, "reading the message", chromedp.Text(acked)); !strings.Contains(text, "Where can I park?") {
		t.Fatalf("acked message reads %q", text)
	}
	// The bot's greeting and answer render too; every message renders once,
	// the patient's own message exactly once.
	ids := run(t, ctx, "listing messages", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#messages li[data-message-id]')].map(li => li.dataset.messageId)`))
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("message ids on the page = %v (a message must render once, with its id)", ids)
		}
		seen[id] = true
	}
	mine := run(t, ctx, "reading the sent message's id", chromedp.Evaluate[string](`document.querySelector('`+acked+`').dataset.messageId`))
	if n := run(t, ctx, "counting the sent message", chromedp.Evaluate[int](`[...document.querySelectorAll('#messages li')].filter(li => li.textContent.includes("Where can I park?")).length`)); n != 1 {
		t.Fatalf("the sent message renders %d times", n)
	}

	// Reload: the page resumes with its stored session and shows the history.
	run(t, ctx, "reloading", chromedp.Reload())
	run(t, ctx, "waiting for the history", chromedp.WaitVisible(`#messages li[data-message-id="`+mine+`"]`))
	if after := run(t, ctx, "reading the history", chromedp.Text(`#messages`)); strings.Count(after, "Where can I park?") != 1 {
		t.Fatalf("history after reload = %q", after)
	}

	// Ending it: the browser keeps no session of a closed conversation (a
	// reload, or the next person at a shared device, starts afresh), and a
	// new conversation is a new patient's, on a new connection.
	claims := `JSON.parse(atob(JSON.parse(localStorage.getItem("psc.session")).session.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")))`
	first := run(t, ctx, "reading the session", chromedp.Evaluate[map[string]any](claims))
	run(t, ctx, "ending the conversation", chromedp.Click(`#end`))
	run(t, ctx, "waiting for the end", chromedp.WaitVisible(`#new-conversation`))
	if stored := run(t, ctx, "reading the storage", chromedp.Evaluate[bool](`localStorage.getItem("psc.session") !== null`)); stored {
		t.Fatal("the closed conversation's session is still stored in the browser")
	}
	// From the keyboard: the survey of the ended conversation may arrive
	// at any moment and move the button under a mouse.
	run(t, ctx, "focusing New conversation", chromedp.Focus(`#new-conversation`))
	run(t, ctx, "starting a new conversation", chromedp.KeyEvent("\r"))
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Bea Browser"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the composer", chromedp.WaitVisible(`#message-input`))
	run(t, ctx, "waiting for the new session", chromedp.Poll[bool](`localStorage.getItem("psc.session") !== null`))
	second := run(t, ctx, "reading the new session", chromedp.Evaluate[map[string]any](claims))
	if first["sub"] == nil || first["sub"] == second["sub"] || first["cid"] == second["cid"] {
		t.Fatalf("the next conversation %v shares the patient or conversation of the last %v", second, first)
	}
}

// TestPatientAndAgentInTwoBrowsers: in one browser an agent signs in to
// the console; in another a patient chats with the bot and disputes a
// charge (a person's job); the agent sees the offer, accepts with the keyboard, and they
// exchange messages; the agent closes the conversation and the patient
// sees it ended.
func TestPatientAndAgentInTwoBrowsers(t *testing.T) {
	if env.Outputs.AgentConsole == "" {
		t.Fatal("the stack serves no agent console (web/agent/index.html)")
	}
	run0 := time.Now().UnixNano()
	username, password := fmt.Sprintf("web%d", run0), "Test-Agent-9!"
	createPoolUser(t, username, password, "Wendy Web", "billing", "en", 3)

	agent := browser(t)
	run(t, agent, "opening the console", chromedp.Navigate(env.Outputs.AgentConsole))
	calls := signInCalls(t, agent)
	if v := run(t, agent, "reading the console version", chromedp.Evaluate[string](`window.PSCAgent && window.PSCAgent.version || ""`)); v == "" {
		t.Fatal("agent.js did not load")
	}
	accessible(t, agent, "the sign-in form")
	// A new agent, created by an admin with a temporary password: the
	// first sign-in chooses a password and sets up the authenticator.
	run(t, agent, "typing the username", chromedp.SendKeys(`#username`, username))
	run(t, agent, "typing the temporary password", chromedp.SendKeys(`#password`, password))
	run(t, agent, "signing in", chromedp.Click(`#sign-in-button`))
	run(t, agent, "waiting for the new-password form", chromedp.WaitVisible(`#new-password-form`))
	run(t, agent, "typing a password too short", chromedp.SendKeys(`#new-password`, "Short-1!"))
	run(t, agent, "typing it again", chromedp.SendKeys(`#new-password-again`, "Short-1!"))
	run(t, agent, "submitting it", chromedp.Click(`#new-password-button`))
	waitText(t, agent, "#error", "not allowed")
	chosen := "Chosen-" + password
	run(t, agent, "clearing it", chromedp.Evaluate[bool](`(document.getElementById("new-password").value = "") === ""`))
	run(t, agent, "clearing the repeat", chromedp.Evaluate[bool](`(document.getElementById("new-password-again").value = "") === ""`))
	run(t, agent, "typing the new password", chromedp.SendKeys(`#new-password`, chosen))
	run(t, agent, "typing it again", chromedp.SendKeys(`#new-password-again`, chosen))
	run(t, agent, "setting it", chromedp.Click(`#new-password-button`))
	run(t, agent, "waiting for the authenticator set-up", chromedp.WaitVisible(`#mfa-setup-form`))
	waitText(t, agent, "#mfa-secret", " ")
	accessible(t, agent, "the authenticator set-up")
	secret := strings.ReplaceAll(run(t, agent, "reading the key", chromedp.Text(`#mfa-secret`)), " ", "")
	if link := run(t, agent, "reading the app link", chromedp.Evaluate[string](`document.getElementById('mfa-link').href`)); !strings.Contains(link, "secret="+secret) {
		t.Fatalf("the authenticator link %q does not carry the key %q", link, secret)
	}
	run(t, agent, "typing a wrong code", chromedp.SendKeys(`#mfa-setup-code`, wrongCode(t, secret)))
	run(t, agent, "verifying it", chromedp.Click(`#mfa-setup-button`))
	waitText(t, agent, "#error", "code is not right")
	run(t, agent, "clearing it", chromedp.Evaluate[bool](`(document.getElementById("mfa-setup-code").value = "") === ""`))
	run(t, agent, "typing the app's code", chromedp.SendKeys(`#mfa-setup-code`, totpCode(t, secret)))
	run(t, agent, "verifying it", chromedp.Click(`#mfa-setup-button`))
	run(t, agent, "waiting for the console", chromedp.WaitVisible(`#console`))
	// Signing in again (a reload forgets the token): password, then the
	// authenticator's code.
	run(t, agent, "reloading", chromedp.Reload())
	run(t, agent, "typing the username", chromedp.SendKeys(`#username`, username))
	run(t, agent, "typing the password", chromedp.SendKeys(`#password`, chosen))
	run(t, agent, "signing in", chromedp.Click(`#sign-in-button`))
	run(t, agent, "waiting for the code form", chromedp.WaitVisible(`#mfa-form`))
	run(t, agent, "typing the app's code", chromedp.SendKeys(`#mfa-code`, totpCode(t, secret)))
	run(t, agent, "signing in", chromedp.Click(`#mfa-button`))
	run(t, agent, "waiting for the console", chromedp.WaitVisible(`#console`))
	// Both sign-ins were SRP (issue 16): the password never left the
	// browser, and prod's app client allows nothing else.
	if got := strings.Join(calls(), ", "); strings.Count(got, "InitiateAuth USER_SRP_AUTH") != 2 ||
		strings.Count(got, "RespondToAuthChallenge PASSWORD_VERIFIER") != 2 || strings.Contains(got, "USER_PASSWORD_AUTH") {
		t.Fatalf("the console's sign-in calls were %s; want two SRP sign-ins and no password sign-in", got)
	}
	// The agent is online (the console connects as Available), so the
	// bot hands the patient over rather than offering a callback.
	run(t, agent, "waiting for the connection", chromedp.WaitVisible(`#presence`))
	waitText(t, agent, "#connection", "Connected")
	// The console says so (issue 19: it said to set Available).
	waitText(t, agent, "#no-conversations", "You are Available")
	// The offer is heard and, with the tab hidden, notified (issue 19):
	// the browser's audio and notifications are stubbed to record them.
	run(t, agent, "stubbing audio and notifications", chromedp.Evaluate[bool](`(() => {
		window.__tones = []; window.__notes = [];
		window.AudioContext = function () { return { currentTime: 0, destination: {},
			createOscillator() { const o = { frequency: {}, connect(g) { return g; }, start() { window.__tones.push(o.frequency.value); }, stop() {} }; return o; },
			createGain() { return { gain: {}, connect(d) { return d; } }; } }; };
		window.Notification = function (title, opts) { window.__notes.push(title + "|" + opts.body); };
		window.Notification.permission = "granted";
		Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
		return true; })()`))

	patient := browser(t)
	run(t, patient, "opening the patient page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, patient, "typing the name", chromedp.SendKeys(`#name`, "Rosa Browser"))
	run(t, patient, "starting", chromedp.Click(`#start`))
	run(t, patient, "waiting for the bot's greeting", chromedp.WaitVisible(`#messages .quick-reply`))
	run(t, patient, "typing the dispute", chromedp.SendKeys(`#message-input`, "I was charged twice for my visit"))
	run(t, patient, "sending it", chromedp.Click(`#send`))
	waitText(t, patient, "#status", "Waiting for an agent")

	run(t, agent, "waiting for the offer", chromedp.WaitVisible(`#offers .offer .accept`))
	accessible(t, agent, "the console with an offer")
	if heard := run(t, agent, "reading what the offer set off", chromedp.Evaluate[string](`JSON.stringify([window.__tones, window.__notes])`)); heard != `[[660],["New normal conversation offered|Queue: billing"]]` {
		t.Fatalf("the offer set off %s: want one tone and a notification naming only the queue", heard)
	}
	run(t, agent, "showing the tab again", chromedp.Evaluate[bool](`delete document.hidden`))
	if summary := run(t, agent, "reading the offer", chromedp.Text(`#offers .offer`)); !strings.Contains(summary, "billing") {
		t.Fatalf("offer reads %q", summary)
	}
	// The tab's title counts the offers, for an agent in another tab.
	if title := run(t, agent, "reading the title", chromedp.Evaluate[string](`document.title`)); !strings.HasPrefix(title, "(1) ") {
		t.Fatalf("the title with an offer pending is %q", title)
	}
	// Keyboard: focus the Accept button; the countdown ticks without
	// taking the focus away (issue 19); press Enter.
	run(t, agent, "focusing Accept", chromedp.Focus(`#offers .offer .accept`))
	tick := run(t, agent, "reading the countdown", chromedp.Text(`#offers .offer .countdown`))
	run(t, agent, "waiting for the countdown to tick", chromedp.Poll[bool](`document.querySelector("#offers .offer .countdown").textContent !== `+strconv.Quote(tick)))
	if kept := run(t, agent, "reading the focus", chromedp.Evaluate[bool](`document.activeElement !== null && document.activeElement.classList.contains("accept")`)); !kept {
		t.Fatal("the offer's countdown took the focus off Accept")
	}
	run(t, agent, "accepting with Enter", chromedp.KeyEvent("\r"))
	run(t, agent, "waiting for the conversation", chromedp.WaitVisible(`#workspace`))
	waitText(t, patient, "#status", "You are chatting with Wendy Web")
	// Frames pushed by different functions may arrive out of order: a
	// queue position read from a stale index, and the bot's handoff state
	// pushed late by a retry, must not take the page back to waiting.
	conv := run(t, patient, "reading the conversation", chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("psc.session")).conversationId`))
	pushToPatient(t, conv,
		map[string]any{"type": "status", "conversationId": conv, "state": "waiting", "queuePosition": 1},
		map[string]any{"type": "status", "conversationId": conv, "state": "waiting", "at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)},
		map[string]any{"type": "typing", "conversationId": conv, "role": "agent"})
	waitText(t, patient, "#typing", "Agent is typing")
	if st := run(t, patient, "reading the status", chromedp.Text(`#status`)); !strings.Contains(st, "You are chatting with Wendy Web") {
		t.Fatalf("after late frames the page reads %q", st)
	}

	// The patient panel: the handoff and what the patient told the bot
	// (an audited read), and the queue figures.
	waitText(t, agent, "#handoff", "agent only")
	waitText(t, agent, "#messages", "charged twice")
	// The identity level (issue 20): this patient only typed a name.
	waitText(t, agent, "#context", "Not verified: name as typed")
	accessible(t, agent, "a conversation with its patient panel")
	// What the patient told the bot is shown once, in the log (issue 19:
	// it was also in a "Conversation before you joined" box).
	// (The handoff's summary may quote it; the transcript is what counts.)
	if where := run(t, agent, "finding the patient's message on the page", chromedp.Evaluate[[]string](`(() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); const out = []; while (w.nextNode()) if (w.currentNode.data.includes("charged twice")) out.push((w.currentNode.parentElement.closest("[id]") || {}).id || ""); return out; })()`)); len(slices.DeleteFunc(slices.Clone(where), func(id string) bool { return id != "messages" })) != 1 ||
		len(slices.DeleteFunc(slices.Clone(where), func(id string) bool { return id == "messages" || id == "handoff" })) != 0 {
		t.Fatalf("the patient's message to the bot is in %v, want once in the log (and the handoff's summary)", where)
	}
	// After a transfer the log holds the previous agent's messages: they
	// read as that agent's, not "You" (issue 19).
	pushToConsoles(t, username, map[string]any{"type": "message", "conversationId": conv, "messageId": "m000000000090",
		"from": map[string]any{"role": "agent", "name": "Paul Previous"}, "text": "I looked at the May invoice", "at": time.Now().UTC().Format(time.RFC3339Nano)})
	waitText(t, agent, "#messages", "I looked at the May invoice")
	if who := run(t, agent, "reading who wrote it", chromedp.Text(`#messages li[data-message-id="m000000000090"] .msg-from`)); !strings.HasPrefix(who, "Paul Previous") {
		t.Fatalf("the previous agent's message reads as from %q", who)
	}
	waitText(t, agent, "#queue-stats", "billing")
	run(t, agent, "writing a private note", chromedp.SendKeys(`#note-input`, "Duplicate charge, visit of May 3"))
	run(t, agent, "saving the note", chromedp.Click(`#note-save`))
	waitText(t, agent, "#notes", "Duplicate charge, visit of May 3")
	// The transfer dialog offers the other queues; Escape leaves it.
	run(t, agent, "opening the transfer dialog", chromedp.Click(`#transfer-conversation`))
	run(t, agent, "waiting for the dialog", chromedp.WaitVisible(`#transfer-dialog`))
	accessible(t, agent, "the transfer dialog")
	waitText(t, agent, "#transfer-queue", "general")
	run(t, agent, "leaving it with Escape", chromedp.KeyEvent(kb.Escape))
	run(t, agent, "waiting for it to close", chromedp.WaitNotVisible(`#transfer-dialog`))

	// A canned response, from the keyboard: Alt+R, search, Enter; it is
	// filled in with the patient's first name and can be edited.
	run(t, agent, "focusing the composer", chromedp.Focus(`#message-input`))
	run(t, agent, "opening canned responses", chromedp.KeyEvent("r", chromedp.KeyModifiers(kb.ModifierAlt)))
	run(t, agent, "waiting for the list", chromedp.WaitVisible(`#canned-list li`))
	accessible(t, agent, "the canned responses")
	run(t, agent, "searching", chromedp.SendKeys(`#canned-filter`, "anything else"))
	run(t, agent, "choosing with Enter", chromedp.KeyEvent("\r"))
	if v := run(t, agent, "reading the composer", chromedp.Value(`#message-input`)); !strings.Contains(v, "anything else I can help you with today, Rosa?") {
		t.Fatalf("the canned response reads %q", v)
	}
	run(t, agent, "clearing the composer", chromedp.Evaluate[bool](`(document.querySelector("#message-input").value = "") === ""`))

	run(t, agent, "typing to the patient", chromedp.SendKeys(`#message-input`, "Hello Rosa, I can help with that charge.\r"))
	waitText(t, patient, "#messages", "I can help with that charge")
	// The console sends with echo false: its own copy comes from the ack.
	waitText(t, agent, "#messages", "I can help with that charge")
	run(t, patient, "typing a reply", chromedp.SendKeys(`#message-input`, "Thank you, it was on May 3."))
	run(t, patient, "sending the reply", chromedp.Click(`#send`))
	waitText(t, agent, "#messages", "it was on May 3")
	// Each message says when it was sent, and the log scrolls within a
	// bounded height instead of growing the page (issue 19).
	if n := run(t, agent, "counting the messages' times", chromedp.Evaluate[int](`document.querySelectorAll("#messages time.msg-time").length`)); n < 2 {
		t.Fatalf("%d messages show their time", n)
	}
	// In the clinic's zone, labelled, as visits are (the browser's own
	// clock here is UTC).
	last := run(t, agent, "reading a message's time", chromedp.Evaluate[string](`[...document.querySelectorAll("#messages time.msg-time")].pop().textContent`))
	if !strings.HasSuffix(last, " EST") && !strings.HasSuffix(last, " EDT") {
		t.Fatalf("a message's time reads %q, want the clinic's time labelled EST or EDT", last)
	}
	if ok := run(t, agent, "reading the log's style", chromedp.Evaluate[bool](`(s => s.overflowY === "auto" && s.maxHeight !== "none")(getComputedStyle(document.querySelector(".messages-log")))`)); !ok {
		t.Fatal("the message log has no bounded, scrolling height")
	}

	// A red flag after the handoff: the patient's page shows the emergency
	// guidance at once and the console an urgent alert it can dismiss.
	run(t, patient, "typing a red flag", chromedp.SendKeys(`#message-input`, "also my chest feels really heavy and tight right now"))
	run(t, patient, "sending it", chromedp.Click(`#send`))
	waitText(t, patient, "#messages", "Call 911 now")
	waitText(t, agent, "#alerts", "URGENT")
	waitText(t, agent, "#alerts", "Chest pain")
	if title := run(t, agent, "reading the tab's title", chromedp.Title()); !strings.HasPrefix(title, "⚠") {
		t.Fatalf("the console's title does not mark the alert: %q", title)
	}
	run(t, agent, "dismissing the alert", chromedp.Click(`#alerts li button:last-of-type`))
	run(t, agent, "waiting for the alert to go", chromedp.WaitNotPresent(`#alerts li`))

	// The agent books a visit for the patient from the patient view: the
	// dialog finds open times (a far week, so no other test takes them),
	// the keyboard picks the first, Book; the panel lists it and the
	// patient's chat gets the confirmation.
	run(t, agent, "opening the booking dialog", chromedp.Click(`#book-open`))
	run(t, agent, "waiting for it", chromedp.WaitVisible(`#book-dialog`))
	far := time.Now().AddDate(0, 0, 40+int(run0%300)).Format("2006-01-02")
	run(t, agent, "choosing the dates", chromedp.Evaluate[bool](`(document.getElementById("book-from").value = "`+far+`") !== ""`))
	run(t, agent, "searching", chromedp.Click(`#book-search`))
	run(t, agent, "waiting for open times", chromedp.WaitVisible(`#book-slots input`))
	accessible(t, agent, "the booking dialog with open times")
	run(t, agent, "picking the first with Space", chromedp.KeyEvent(" "))
	run(t, agent, "booking", chromedp.Click(`#book-confirm`))
	waitText(t, agent, "#book-result", "Booked:")
	run(t, agent, "closing the dialog", chromedp.Click(`#book-cancel`))
	waitText(t, agent, "#appointments", "Dr.")
	waitText(t, patient, "#messages", "Appointment confirmed")
	// The visit's time is the clinic's, labelled, as the patient is told
	// it (issue 19), whatever the browser's zone (UTC here).
	if appts := run(t, agent, "reading the appointments", chromedp.Text(`#appointments`)); !strings.Contains(appts, " EST ·") && !strings.Contains(appts, " EDT ·") {
		t.Fatalf("the visit's time is not in the clinic's zone: %q", appts)
	}

	// Move… (issue 19) says which visit it moves, starts a fresh search
	// (from today, not the last one's dates), keeps the kind of care
	// locked and offers only times of the same visit type.
	run(t, agent, "opening Move…", chromedp.Click(`#appointments .appointment-actions button`))
	run(t, agent, "waiting for the dialog", chromedp.WaitVisible(`#book-dialog`))
	waitText(t, agent, "#book-for", "Moving Rosa Browser's ")
	moving := run(t, agent, "reading what it moves", chromedp.Text(`#book-for`))
	visit := strings.TrimPrefix(strings.SplitN(moving, " with ", 2)[0], "Moving Rosa Browser's ")
	if state := run(t, agent, "reading the dialog's state", chromedp.Evaluate[string](`document.getElementById("book-from").value + "|" + document.getElementById("book-specialty").disabled + "|" + document.getElementById("book-change-field").hidden`)); state != time.Now().Format("2006-01-02")+"|true|false" {
		t.Fatalf("the move dialog opened with from|specialty locked|change hidden = %q: want today, locked, the change offered", state)
	}
	later := time.Now().AddDate(0, 0, 47+int(run0%300)).Format("2006-01-02")
	run(t, agent, "choosing later dates", chromedp.Evaluate[bool](`(document.getElementById("book-from").value = "`+later+`") !== ""`))
	run(t, agent, "searching", chromedp.Click(`#book-search`))
	run(t, agent, "waiting for open times", chromedp.WaitVisible(`#book-slots input`))
	accessible(t, agent, "the move dialog with open times")
	offered := run(t, agent, "reading the times offered", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#book-slots label")].map((l) => l.textContent)`))
	for _, o := range offered {
		if !strings.Contains(o, " · "+visit+" · ") {
			t.Fatalf("a move to %q was offered for a %s", o, visit)
		}
	}
	run(t, agent, "picking the first with Space", chromedp.KeyEvent(" "))
	run(t, agent, "moving", chromedp.Click(`#book-confirm`))
	waitText(t, agent, "#book-result", "Moved to")
	run(t, agent, "closing the dialog", chromedp.Click(`#book-cancel`))

	// A reload (the token lives in memory only, so the agent signs in
	// again) gives the conversation back, with its history.
	run(t, agent, "reloading the console", chromedp.Reload())
	run(t, agent, "typing the username again", chromedp.SendKeys(`#username`, username))
	run(t, agent, "typing the password again", chromedp.SendKeys(`#password`, chosen))
	run(t, agent, "signing in again", chromedp.Click(`#sign-in-button`))
	run(t, agent, "waiting for the code form", chromedp.WaitVisible(`#mfa-form`))
	run(t, agent, "typing the app's code", chromedp.SendKeys(`#mfa-code`, totpCode(t, secret)))
	run(t, agent, "signing in", chromedp.Click(`#mfa-button`))
	run(t, agent, "waiting for the conversation to come back", chromedp.WaitVisible(`#workspace`))
	waitText(t, agent, "#conversations", "Rosa Browser")
	waitText(t, agent, "#messages", "it was on May 3")
	waitText(t, agent, "#messages", "I can help with that charge")

	// The billing script is beside the chat (issue 19); the steps ticked
	// are kept with the disposition.
	waitText(t, agent, "#script", "Script: Billing question")
	step := run(t, agent, "reading the first step", chromedp.Text(`#script-steps label`))
	run(t, agent, "ticking it", chromedp.Click(`#step-0`))
	run(t, agent, "opening the close dialog", chromedp.Click(`#close-conversation`))
	run(t, agent, "waiting for the dialog", chromedp.WaitVisible(`#close-dialog`))
	accessible(t, agent, "the close dialog")
	// The dialog opens on the outcome list; Enter there closes (issue 19).
	run(t, agent, "confirming with Enter on the outcome", chromedp.KeyEvent("\r"))
	waitText(t, patient, "#status", "This conversation has ended")
	// The closing message came first (the dialog's default), in the
	// patient's language, with their first name.
	waitText(t, patient, "#messages", "Thank you for contacting us, Rosa.")
	waitText(t, agent, "#notice", "Closed the conversation with Rosa Browser")
	if strings.Contains(run(t, patient, "reading the patient's messages", chromedp.Text(`#messages`)), "Duplicate charge") {
		t.Fatal("the patient sees the agent's private note")
	}
	// The transcript (issue 20, item 5): what the patient saw, who said it
	// and when, in plain text; never the private note.
	run(t, patient, "waiting for Download transcript", chromedp.WaitVisible(`#transcript`))
	transcript := run(t, patient, "reading the transcript", chromedp.Evaluate[string](`window.PSCChat.transcript()`))
	for _, want := range []string{"Patient Service Center: your conversation", "] You: Thank you, it was on May 3.", "] Wendy Web: Hello Rosa, I can help with that charge.",
		"] Wendy Web: Thank you for contacting us, Rosa."} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the transcript has no %q:\n%s", want, transcript)
		}
	}
	if strings.Contains(transcript, "Duplicate charge") {
		t.Error("the transcript carries the agent's private note")
	}
	run(t, agent, "waiting for the conversation to leave the console", chromedp.WaitNotPresent(`#conversations [role=tab]`))
	if c := conversationItem(t, conv); c.Disposition == "" || len(c.ScriptSteps) != 1 || c.ScriptSteps[0] != step {
		t.Fatalf("wrapped up with %q and steps %q, want the step ticked (%q)", c.Disposition, c.ScriptSteps, step)
	}
}

// waitText waits (in the page, no sleeps) until the element's text
// contains want, and fails with what it read last.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	read := fmt.Sprintf(`((document.querySelector(%q) || {}).textContent || "")`, sel)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](read+`.includes(`+strconv.Quote(want)+`)`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](read))
		t.Fatalf("%s never read %q (last: %q): %v", sel, want, text, err)
	}
}

// totpCode is what an authenticator app shows now for a secret.
func totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := staffauth.Code(secret)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongCode is a 6-digit code that is not the current one.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	c := []byte(totpCode(t, secret))
	c[0] = '0' + (c[0]-'0'+5)%10
	return string(c)
}

// consoleSignIn opens the console and signs in as a staff member whose
// first sign-in (new password, authenticator) is done: it does that first
// if needed, then types the password and the authenticator's code.
func consoleSignIn(t *testing.T, b context.Context, username, password string) {
	t.Helper()
	signIn(t, username, password) // the first sign-in's steps, once
	accounts.Lock()
	a := *accounts.m[username]
	accounts.Unlock()
	run(t, b, "opening the console", chromedp.Navigate(env.Outputs.AgentConsole))
	run(t, b, "typing the username", chromedp.SendKeys(`#username`, username))
	run(t, b, "typing the password", chromedp.SendKeys(`#password`, a.Password))
	run(t, b, "signing in", chromedp.Click(`#sign-in-button`))
	run(t, b, "waiting for the code form", chromedp.WaitVisible(`#mfa-form`))
	run(t, b, "typing the app's code", chromedp.SendKeys(`#mfa-code`, totpCode(t, a.TOTPSecret)))
	run(t, b, "signing in", chromedp.Click(`#mfa-button`))
	run(t, b, "waiting for the console", chromedp.WaitVisible(`#console`))
}

// TestASupervisorTakesAnUrgentPatientFromTheAlert (issue 19): an urgent
// patient waits and no one online can take them; the supervisor's console
// shows the alert with "Take it"; the supervisor takes it, gets the offer,
// accepts it, and the patient is with the supervisor.
func TestASupervisorTakesAnUrgentPatientFromTheAlert(t *testing.T) {
	username, password := fmt.Sprintf("sup%d", time.Now().UnixNano()), "Test-Super-9!"
	createPoolUserIn(t, "supervisor", username, password, "Sara Super", "billing", "en", 2)
	b := browser(t)
	consoleSignIn(t, b, username, password)
	waitText(t, b, "#connection", "Connected")
	// A supervisor signs in Away: no offers unless they choose (issue 19).
	waitText(t, b, "#no-conversations", "As a supervisor you get no offers")
	// The floor's roster lists the agents online with presence and load.
	waitText(t, b, "#roster", "Sara Super (supervisor)")
	waitText(t, b, "#roster", "0 of 2")
	if p := run(t, b, "reading the presence", chromedp.Evaluate[string](`document.getElementById("presence").value`)); p != "away" {
		t.Fatalf("a supervisor signed in %s, want away", p)
	}

	p := startWithBot(t, "Una")
	send(t, p.c, p.conversationID, "t-1", "I have crushing chest pain and my left arm hurts")
	p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "waiting" })

	alert := `#alerts li[data-conversation-id="` + p.conversationID + `"]`
	run(t, b, "waiting for the urgent alert's Take it", chromedp.WaitVisible(alert+` button.take`))
	accessible(t, b, "a supervisor's console with an urgent alert")
	run(t, b, "focusing Take it", chromedp.Focus(alert+` button.take`))
	run(t, b, "taking it with Enter", chromedp.KeyEvent("\r"))
	waitText(t, b, alert, "Offered to you")
	if p := run(t, b, "reading the presence", chromedp.Evaluate[string](`document.getElementById("presence").value`)); p != "available" {
		t.Fatalf("after Take it the supervisor is %s, want available (routing offers only to someone available)", p)
	}
	offer := `#offers li[data-conversation-id="` + p.conversationID + `"] .accept`
	run(t, b, "waiting for the offer", chromedp.WaitVisible(offer))
	run(t, b, "focusing Accept", chromedp.Focus(offer))
	run(t, b, "accepting with Enter", chromedp.KeyEvent("\r"))
	st, _ := p.c.Wait(func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" })
	if name := st["agent"].(map[string]any)["name"]; name != "Sara Super" {
		t.Fatalf("the patient is with %v, want the supervisor", name)
	}
	run(t, b, "waiting for the conversation", chromedp.WaitVisible(`#workspace`))
	accessible(t, b, "the supervisor's view of the conversation they took")
}

// TestASupervisorAssignsFromTheFloor (issue 19): a billing patient waits
// (the billing agent is busy); the supervisor's floor shows the row,
// pushed as it changes; from the keyboard the supervisor picks a general
// agent and assigns it; the agent gets the offer and takes it, and the
// floor shows the conversation with that agent without being asked.
func TestASupervisorAssignsFromTheFloor(t *testing.T) {
	run0 := time.Now().UnixNano()
	username, password := fmt.Sprintf("flo%d", run0), "Test-Super-9!"
	createPoolUserIn(t, "supervisor", username, password, "Fay Floor", "billing", "en", 2)
	billing, _ := poolAgent(t, fmt.Sprintf("fbil%d", run0), "billing", "en", 1)
	setPresence(t, billing, "busy")
	// Two agents with a skill no queue has, so nothing else is offered to
	// them while the test runs; the first sorts first in the roster.
	_, _ = poolAgent(t, fmt.Sprintf("afl%d", run0), "training", "en", 2)
	general, generalID := poolAgent(t, fmt.Sprintf("fgen%d", run0), "training", "en", 2)
	b := browser(t)
	consoleSignIn(t, b, username, password)
	waitText(t, b, "#connection", "Connected")
	_, conv := escalate(t, "Flora")
	row := `#floor tr[data-conversation-id="` + conv + `"]`
	run(t, b, "waiting for the floor's row", chromedp.WaitVisible(row))
	waitText(t, b, row, "waiting")
	waitText(t, b, row, "billing")
	// The roster is read every few seconds; the agent becomes a choice
	// once it is.
	pick := row + ` select`
	run(t, b, "waiting for the agent among the choices", chromedp.Poll[bool](`[...document.querySelectorAll('`+pick+` option')].some((o) => o.value === "`+generalID+`")`,
		chromedp.WithPollingTimeout(30*time.Second)))
	accessible(t, b, "a supervisor's floor with a waiting conversation")
	run(t, b, "focusing the agent list", chromedp.Focus(pick))
	run(t, b, "choosing the agent", chromedp.Evaluate[bool](`(() => { const s = document.querySelector('`+pick+`'); s.value = "`+generalID+`"; s.dispatchEvent(new Event("change")); s.marked = true; return true; })()`))
	// The floor is drawn again when the roster is next read (every 15 s)
	// or anything on it changes: the choice stays.
	run(t, b, "waiting for the floor to be drawn again", chromedp.Poll[bool](`!document.querySelector('`+pick+`').marked`, chromedp.WithPollingTimeout(40*time.Second)))
	if v := run(t, b, "reading the choice", chromedp.Evaluate[string](`document.querySelector('`+pick+`').value`)); v != generalID {
		t.Fatalf("after the floor was drawn again the choice is %q, want the agent chosen (%s)", v, generalID)
	}
	run(t, b, "focusing the agent list again", chromedp.Focus(pick))
	run(t, b, "focusing Assign", chromedp.Focus(row+` button.button.small:not(.secondary)`))
	run(t, b, "assigning with Enter", chromedp.KeyEvent("\r"))
	general.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	waitText(t, b, "#floor-note", "Offered to fgen")
	if f := general.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accepting the assigned conversation: %v", f)
	}
	waitText(t, b, row, "assigned")
	waitText(t, b, row, fmt.Sprintf("fgen%d", run0))

	// The figures by agent, from the keyboard, and as CSV.
	run(t, b, "choosing by agent", chromedp.SetValue(`#kpi-by`, "agent"))
	run(t, b, "showing the figures", chromedp.Click(`#kpi-form button[type=submit]`))
	run(t, b, "waiting for the CSV", chromedp.WaitEnabled(`#kpi-csv`))
	csv := run(t, b, "reading the CSV", chromedp.Evaluate[string](`window.PSCConsole.kpiCSV()`))
	if header, _, _ := strings.Cut(csv, "\n"); header != "key,escalated,offered,handled,abandoned,contained,transferred,averageWaitSeconds,"+
		"p90WaitSeconds,averageHandleSeconds,serviceLevel,transferRate,containment,rated,csat,satisfied" {
		t.Fatalf("the figures' CSV header is %q", header)
	}
	waitText(t, b, "#kpis thead", "CSAT")
	// The chart draws the rows of the table: the handled column's figures
	// are its bars.
	// The console asked for the figures by queue when it connected; that
	// answer may land after this one: wait for the figures by agent.
	run(t, b, "waiting for the chart by agent", chromedp.Poll[bool](`(window.PSCConsole.kpiChart() || {}).by === "agent"`, chromedp.WithPollingTimeout(20*time.Second)))
	run(t, b, "waiting for the chart", chromedp.WaitVisible(`#kpi-chart canvas`))
	type kpiChart struct {
		Labels  []string `json:"labels"`
		Handled []int    `json:"handled"`
	}
	chart := run(t, b, "reading the chart", chromedp.Evaluate[kpiChart](`window.PSCConsole.kpiChart()`))
	handled := run(t, b, "reading the handled column", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#kpis tbody tr')].map((tr) => tr.cells[2].textContent)`))
	if len(chart.Handled) == 0 || len(chart.Handled) != len(handled) || fmt.Sprint(chart.Handled) != "["+strings.Join(handled, " ")+"]" {
		t.Fatalf("the chart's handled bars %v, the table's handled column %v", chart.Handled, handled)
	}
	label := run(t, b, "reading the chart's label", chromedp.Evaluate[string](`document.getElementById('kpi-chart').getAttribute('aria-label')`))
	if !strings.Contains(label, "by agent") || !strings.Contains(label, " handled, ") {
		t.Fatalf("the chart's label %q", label)
	}
	accessible(t, b, "the supervisor's figures")
}

// TestASupervisorMonitorsWhispersAndBargesFromTheFloor (issue 19): an
// agent holds a conversation; from the floor, by keyboard, the supervisor
// monitors it with a reason, reads the transcript and the patient's next
// message live, whispers (the agent gets it, marked), barges in (the
// patient is told) and writes to the patient, then stops.
func TestASupervisorMonitorsWhispersAndBargesFromTheFloor(t *testing.T) {
	run0 := time.Now().UnixNano()
	username, password := fmt.Sprintf("msup%d", run0), "Test-Super-9!"
	createPoolUserIn(t, "supervisor", username, password, "Mia Monitor", "billing", "en", 2)
	held, _ := poolAgent(t, fmt.Sprintf("mag%d", run0), "billing", "en", 2)
	patient, conv := escalate(t, "Milo")
	held.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := held.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept: %v", f)
	}
	b := browser(t)
	consoleSignIn(t, b, username, password)
	waitText(t, b, "#connection", "Connected")
	row := `#floor tr[data-conversation-id="` + conv + `"]`
	waitText(t, b, row, "assigned")
	run(t, b, "focusing Monitor", chromedp.Focus(row+` button`))
	run(t, b, "opening the monitor dialog with Enter", chromedp.KeyEvent("\r"))
	run(t, b, "waiting for the dialog", chromedp.WaitVisible(`#monitor-dialog`))
	run(t, b, "giving the reason", chromedp.SendKeys(`#monitor-reason`, "Coaching a new billing agent\r"))
	run(t, b, "waiting for the monitor panel", chromedp.WaitVisible(`#monitor`))
	waitText(t, b, "#monitor-log", "I was charged twice")
	send(t, patient, conv, "mb-1", "Can I pay in two parts?")
	waitText(t, b, "#monitor-log", "Can I pay in two parts?")
	accessible(t, b, "a supervisor monitoring a conversation")

	run(t, b, "whispering", chromedp.SendKeys(`#whisper-text`, "Offer the two-part plan\r"))
	if f, _ := held.Wait(func(f map[string]any) bool { return f["type"] == "whisper" }); f["text"] != "Offer the two-part plan" {
		t.Fatalf("the agent's whisper: %v", f)
	}
	waitText(t, b, "#monitor-log", "Whisper from Mia Monitor")

	run(t, b, "focusing Barge in", chromedp.Focus(`#barge`))
	run(t, b, "barging in with Enter", chromedp.KeyEvent("\r"))
	patient.Wait(func(f map[string]any) bool {
		return f["type"] == "message" && strings.Contains(fmt.Sprint(f["text"]), "Mia Monitor, a supervisor, has joined")
	})
	run(t, b, "waiting for the composer", chromedp.WaitVisible(`#monitor-send-form`))
	run(t, b, "writing to the patient", chromedp.SendKeys(`#monitor-text`, "Yes, two parts are fine.\r"))
	said, _ := patient.Wait(func(f map[string]any) bool { return f["type"] == "message" && f["text"] == "Yes, two parts are fine." })
	if from := said["from"].(map[string]any); from["name"] != "Mia Monitor" {
		t.Fatalf("the patient read it from %v", from)
	}
	accessible(t, b, "a supervisor who barged in")
	run(t, b, "stopping", chromedp.Click(`#unmonitor`))
	run(t, b, "waiting for the panel to close", chromedp.WaitNotVisible(`#monitor`))
}

// TestClosingOneConversationShowsAnotherHeld (issue 19): an agent holding
// two conversations closes the one shown, and the console shows the other
// instead of a blank workspace.
func TestClosingOneConversationShowsAnotherHeld(t *testing.T) {
	username, password := fmt.Sprintf("two%d", time.Now().UnixNano()), "Test-Agent-9!"
	createPoolUser(t, username, password, "Tess Two", "billing", "en", 3)
	b := browser(t)
	consoleSignIn(t, b, username, password)
	waitText(t, b, "#connection", "Connected")
	for _, name := range []string{"Pat One", "Pat Two"} {
		_, conv := escalate(t, name)
		offer := `#offers li[data-conversation-id="` + conv + `"] .accept`
		run(t, b, "waiting for the offer of "+name, chromedp.WaitVisible(offer))
		run(t, b, "accepting "+name, chromedp.Click(offer))
		waitText(t, b, "#workspace-heading", name)
	}
	run(t, b, "opening the close dialog", chromedp.Click(`#close-conversation`))
	run(t, b, "waiting for the dialog", chromedp.WaitVisible(`#close-dialog`))
	run(t, b, "closing with Enter", chromedp.KeyEvent("\r"))
	waitText(t, b, "#notice", "Closed the conversation with Pat Two")
	waitText(t, b, "#workspace-heading", "Pat One")
	if hidden := run(t, b, "reading the workspace", chromedp.Evaluate[bool](`document.getElementById("workspace").hidden`)); hidden {
		t.Fatal("the workspace is blank though the agent still holds a conversation")
	}
	// The last one goes back to the bot (issue 19), from the keyboard.
	if open := run(t, b, "reading the open dialogs", chromedp.Evaluate[string](`[...document.querySelectorAll("dialog[open]")].map((d) => d.id).join(",")`)); open != "" {
		t.Fatalf("after closing with Enter the dialogs %q are open (the key press reopened it)", open)
	}
	run(t, b, "focusing Back to the bot", chromedp.Focus(`#handback-conversation`))
	run(t, b, "handing it back with Enter", chromedp.KeyEvent("\r"))
	waitText(t, b, "#notice", "The bot has the conversation with Pat One again")
	run(t, b, "waiting for it to leave the console", chromedp.WaitNotPresent(`#conversations [role=tab]`))
}

// TestThePatientPageKeepsToTheViewport (issue 20, item 4): at a desktop
// and a phone size, a conversation long enough to scroll scrolls inside its
// message log; the page itself is never taller than the viewport (hidden
// delivery labels stretched it to thousands of pixels of blank space, and
// the widget's frame showed two nested scrollbars). The page passes
// axe-core before and during the chat.
func TestThePatientPageKeepsToTheViewport(t *testing.T) {
	for _, size := range []struct {
		name          string
		width, height int64
		query         string
	}{{"desktop", 1280, 800, ""}, {"phone", 390, 844, ""}, {"widget's frame", 380, 492, "?embed=1"}} {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t)
			run(t, ctx, "sizing the window", chromedp.EmulateViewport(size.width, size.height))
			run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage+size.query))
			run(t, ctx, "waiting for the start form", chromedp.WaitVisible(`#start-form`))
			accessible(t, ctx, "the patient page's start form ("+size.name+")")
			run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Vera Viewport"))
			run(t, ctx, "starting", chromedp.Click(`#start`))
			run(t, ctx, "waiting for the composer", chromedp.WaitVisible(`#message-input`))
			for i := range 12 {
				run(t, ctx, "typing a message", chromedp.SendKeys(`#message-input`, fmt.Sprintf("Question %d: what are the visiting hours?", i+1)))
				run(t, ctx, "sending it", chromedp.KeyEvent("\r"))
				run(t, ctx, "waiting for its acknowledgement", chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#messages li[data-status="acked"]').length === %d`, i+1)))
			}
			run(t, ctx, "waiting for every message to be acknowledged", chromedp.Poll[bool](`document.querySelectorAll('#messages li[data-status="acked"]').length === 12`))
			accessible(t, ctx, "the patient page in a conversation ("+size.name+")")
			got := run(t, ctx, "measuring the page", chromedp.Evaluate[[]int](`[document.scrollingElement.scrollHeight, window.innerHeight, document.querySelector(".messages-log").scrollHeight, document.querySelector(".messages-log").clientHeight]`))
			if got[0] > got[1]+1 {
				t.Errorf("the page is %d px tall in a %d px viewport", got[0], got[1])
			}
			if got[2] <= got[3] {
				t.Errorf("the message log does not scroll (%d px of content in %d px): the test proves nothing", got[2], got[3])
			}
		})
	}
}

// TestASpanishConversationReadsInSpanish (issue 20, item 2): with Español
// chosen, the page's own words follow — the start form, the status line,
// the composer, the delivery labels — the page and every message carry
// lang="es", and the bot's greeting names the hospital in Spanish.
func TestASpanishConversationReadsInSpanish(t *testing.T) {
	ctx := browser(t)
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "waiting for the start form", chromedp.WaitVisible(`#start-form`))
	run(t, ctx, "choosing Español", chromedp.Evaluate[bool](`(() => { const s = document.getElementById("locale"); s.value = "es"; s.dispatchEvent(new Event("change")); return true; })()`))
	waitText(t, ctx, "#start", "Iniciar chat")
	accessible(t, ctx, "the start form in Spanish")
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Lucía Navegador"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the composer", chromedp.WaitVisible(`#message-input`))
	waitText(t, ctx, "#messages", "Hola")
	run(t, ctx, "typing a message", chromedp.SendKeys(`#message-input`, "¿Cuál es el horario de visitas?"))
	run(t, ctx, "sending it", chromedp.KeyEvent("\r"))
	run(t, ctx, "waiting for its acknowledgement", chromedp.WaitVisible(`#messages li[data-status="acked"]`))
	waitText(t, ctx, "#status", "asistente virtual")
	accessible(t, ctx, "a conversation in Spanish")
	page := run(t, ctx, "reading the page", chromedp.Evaluate[string](`document.body.innerText`))
	for _, english := range []string{"Your message", "Send", "Delivered", "End conversation", "Start chat", "Chatting with our virtual assistant", "Enter to send", "our hospital", "Virtual assistant", "Download transcript", "Sign in with your hospital account"} {
		if strings.Contains(page, english) {
			t.Errorf("the Spanish conversation's page shows %q", english)
		}
	}
	if langs := run(t, ctx, "reading the languages", chromedp.Evaluate[string](`document.documentElement.lang + "|" + [...new Set([...document.querySelectorAll("#messages li")].map((li) => li.lang))].join(",")`)); langs != "es|es" {
		t.Errorf("the page and its messages are lang %q, want es|es", langs)
	}
	// Waiting for a person: the place in line and the queue's recent wait
	// (issue 20, item 8), in Spanish.
	conv := run(t, ctx, "reading the conversation", chromedp.Evaluate[string](`JSON.parse(localStorage.getItem("psc.session")).conversationId`))
	pushToPatient(t, conv,
		map[string]any{"type": "status", "conversationId": conv, "state": "waiting", "at": time.Now().UTC().Format(time.RFC3339Nano)},
		map[string]any{"type": "status", "conversationId": conv, "state": "waiting", "queuePosition": 2, "recentWaitSeconds": 150})
	waitText(t, ctx, "#status", "tiene el número 2 en la fila. Últimamente la espera en esta fila fue de unos 3 minutos.")
	// The transcript in Spanish too.
	transcript := run(t, ctx, "reading the transcript", chromedp.Evaluate[string](`window.PSCChat.transcript()`))
	if !strings.Contains(transcript, "Centro de Atención al Paciente: su conversación") || !strings.Contains(transcript, "] Usted: ¿Cuál es el horario de visitas?") {
		t.Errorf("the Spanish transcript:\n%s", transcript)
	}
	// A verified patient's end offers the transcript by email too; the
	// server, which knows this one is not verified, refuses, and the page
	// says why in Spanish.
	pushToPatient(t, conv, map[string]any{"type": "status", "conversationId": conv, "state": "closed", "identity": "verified",
		"at": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)})
	waitText(t, ctx, "#email-transcript:not([hidden])", "Enviarme la conversación por correo")
	accessible(t, ctx, "the end of a verified conversation in Spanish")
	run(t, ctx, "asking for the transcript by email", chromedp.Click(`#email-transcript`))
	waitText(t, ctx, "#error", "solo se envía por correo una vez comprobado que es usted")
}

// TestTheWidgetOnAHospitalPage (issue 20, items 2 and 4): the one-tag
// widget on the sample hospital pages, English and Spanish. From the
// keyboard the launcher opens the chat in its panel and Escape closes it,
// the focus going back to the launcher; the widget's own words, its
// language and the chat's start form follow the page's language; axe-core
// finds nothing with the panel closed or open.
func TestTheWidgetOnAHospitalPage(t *testing.T) {
	for _, tc := range []struct {
		page, lang, launcher, close, start string
	}{
		{"widget-demo.html", "en", "Chat with us", "Close chat", "Start chat"},
		{"widget-demo-es.html", "es", "Chatee con nosotros", "Cerrar el chat", "Iniciar chat"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			b := browser(t)
			run(t, b, "opening the hospital's page", chromedp.Navigate(env.Outputs.Web+tc.page))
			const root = `document.getElementById("psc-chat-widget").shadowRoot`
			run(t, b, "waiting for the launcher", chromedp.Poll[bool](`!!document.getElementById("psc-chat-widget")`))
			accessible(t, b, "the hospital page with the widget's launcher ("+tc.lang+")")
			words := run(t, b, "reading the widget's words", chromedp.Evaluate[[]string](
				`[`+root+`.querySelector(".launcher").textContent.trim(), `+root+`.querySelector(".close").getAttribute("aria-label"), document.getElementById("psc-chat-widget").lang]`))
			if words[0] != tc.launcher || words[1] != tc.close || words[2] != tc.lang {
				t.Fatalf("the widget reads %q, want %q, %q in %s", words, tc.launcher, tc.close, tc.lang)
			}
			run(t, b, "focusing the launcher", chromedp.Evaluate[bool](root+`.querySelector(".launcher").focus() || true`))
			run(t, b, "opening the chat with Enter", chromedp.KeyEvent("\r"))
			run(t, b, "waiting for the chat's start form in the panel", chromedp.Poll[bool](
				`(() => { const f = `+root+`.querySelector("iframe"); return !!f && !`+root+`.querySelector(".panel").hidden && !!f.contentDocument && !!f.contentDocument.querySelector("#start-form:not([hidden]) #start") && f.contentDocument.querySelector("#start").textContent === `+strconv.Quote(tc.start)+`; })()`,
				chromedp.WithPollingTimeout(20*time.Second)))
			if src := run(t, b, "reading the chat's address", chromedp.Evaluate[string](root+`.querySelector("iframe").src`)); !strings.Contains(src, "embed=1") || !strings.Contains(src, "lang="+tc.lang) {
				t.Fatalf("the panel's chat is %s", src)
			}
			if l := run(t, b, "reading the chat's language", chromedp.Evaluate[string](root+`.querySelector("iframe").contentDocument.getElementById("locale").value`)); l != tc.lang {
				t.Fatalf("the chat's start form is set to %q, want %q", l, tc.lang)
			}
			accessible(t, b, "the hospital page with the chat open ("+tc.lang+")")
			// Escape in the chat asks the widget to close; the focus goes back.
			run(t, b, "focusing the chat", chromedp.Evaluate[bool](root+`.querySelector("iframe").contentDocument.getElementById("name").focus() || true`))
			run(t, b, "closing with Escape", chromedp.KeyEvent(kb.Escape))
			run(t, b, "waiting for the panel to close", chromedp.Poll[bool](root+`.querySelector(".panel").hidden && `+root+`.activeElement === `+root+`.querySelector(".launcher")`,
				chromedp.WithPollingTimeout(10*time.Second)))
			if expanded := run(t, b, "reading aria-expanded", chromedp.Evaluate[string](root+`.querySelector(".launcher").getAttribute("aria-expanded")`)); expanded != "false" {
				t.Fatalf("after closing, the launcher says aria-expanded=%q", expanded)
			}
		})
	}
}
