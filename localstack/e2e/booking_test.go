package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/localstack/stacktest"
)

// accepted escalates a billing dispute for a patient and has the console's
// agent accept it; it returns the conversation id.
func accepted(t *testing.T, console *stacktest.Client, name string) string {
	t.Helper()
	_, conv := escalate(t, name)
	console.Wait(func(f map[string]any) bool { return f["type"] == "offer" && f["conversationId"] == conv })
	if f := console.Request(map[string]any{"action": "accept", "conversationId": conv}); f["type"] != "assigned" {
		t.Fatalf("accept answered %v", f)
	}
	return conv
}

// TestAgentBooksReschedulesAndCancelsForThePatient: from the console's
// routes, an agent searches open slots, books one for the patient of the
// conversation they hold, sees it in the patient view, reschedules and
// cancels it; another agent's booking of the same slot is a conflict that
// offers alternatives, and an agent cannot touch another patient's
// appointment.
func TestAgentBooksReschedulesAndCancelsForThePatient(t *testing.T) {
	run := time.Now().UnixNano()
	console, _ := poolAgent(t, fmt.Sprintf("bk%d", run), "billing", "en", 10)
	other, _ := poolAgent(t, fmt.Sprintf("bo%d", run), "billing", "en", 10)
	conv := accepted(t, console, "Sol")
	// A week of its own, 40 to 400 days ahead, so no other test books it.
	from := time.Now().AddDate(0, 0, 40+int(run%360)).UTC().Truncate(24 * time.Hour)
	slots := console.Request(map[string]any{"action": "slots", "specialty": "cardiology", "visitType": "follow-up", "from": from.Format(time.RFC3339), "to": from.AddDate(0, 0, 7).Format(time.RFC3339)})
	list, _ := slots["slots"].([]any)
	if slots["type"] != "slots" || len(list) < 2 {
		t.Fatalf("slots answered %v", slots)
	}
	first, second := list[0].(map[string]any), list[1].(map[string]any)
	if first["provider"].(map[string]any)["name"] != "Dr. Elena Rossi" || first["location"].(map[string]any)["address"] == "" {
		t.Fatalf("slot = %v", first)
	}

	booked := console.Request(map[string]any{"action": "book", "conversationId": conv, "slotId": first["slotId"]})
	appt, _ := booked["appointment"].(map[string]any)
	if booked["type"] != "booked" || booked["start"] != first["start"] || booked["provider"] != "Dr. Elena Rossi" || appt["state"] != "booked" {
		t.Fatalf("book answered %v", booked)
	}
	id := booked["appointmentId"].(string)
	// The same booking again (a retry) is the same appointment.
	if again := console.Request(map[string]any{"action": "book", "conversationId": conv, "slotId": first["slotId"]}); again["appointmentId"] != id {
		t.Fatalf("booking again answered %v", again)
	}
	ctxFrame := console.Request(map[string]any{"action": "context", "conversationId": conv})
	if a, _ := ctxFrame["appointments"].([]any); len(a) != 1 || a[0].(map[string]any)["appointmentId"] != id {
		t.Fatalf("the patient view's appointments: %v", ctxFrame["appointments"])
	}

	// Another agent, another patient, the same slot: a conflict with the
	// next open slots; and they cannot cancel Sol's appointment.
	otherConv := accepted(t, other, "Tom")
	taken := other.Request(map[string]any{"action": "book", "conversationId": otherConv, "slotId": first["slotId"]})
	alts, _ := taken["alternatives"].([]any)
	if taken["type"] != "error" || taken["code"] != "conflict" || len(alts) != 3 || alts[0].(map[string]any)["slotId"] != second["slotId"] {
		t.Fatalf("booking a taken slot answered %v", taken)
	}
	if f := other.Request(map[string]any{"action": "cancel", "appointmentId": id}); f["code"] != "not_found" {
		t.Fatalf("another agent cancelling: %v", f)
	}
	if f := other.Request(map[string]any{"action": "book", "conversationId": conv, "slotId": second["slotId"]}); f["code"] != "forbidden" {
		t.Fatalf("booking for a conversation the agent does not hold: %v", f)
	}

	// A move keeps the kind of visit (issue 19): a new-patient time is
	// refused unless the change is deliberate.
	np := console.Request(map[string]any{"action": "slots", "specialty": "cardiology", "visitType": "new-patient", "from": from.Format(time.RFC3339), "to": from.AddDate(0, 0, 7).Format(time.RFC3339)})
	npList, _ := np["slots"].([]any)
	if len(npList) == 0 {
		t.Fatalf("new-patient slots answered %v", np)
	}
	if f := console.Request(map[string]any{"action": "reschedule", "appointmentId": id, "slotId": npList[len(npList)-1].(map[string]any)["slotId"]}); f["code"] != "bad_request" || !strings.Contains(fmt.Sprint(f["message"]), "keeps the kind of visit") {
		t.Fatalf("a follow-up moved to a new-patient visit without saying so: %v", f)
	}
	moved := console.Request(map[string]any{"action": "reschedule", "appointmentId": id, "slotId": second["slotId"]})
	if moved["type"] != "booked" || moved["start"] != second["start"] || moved["appointment"].(map[string]any)["state"] != "rescheduled" {
		t.Fatalf("reschedule answered %v", moved)
	}
	if f := other.Request(map[string]any{"action": "book", "conversationId": otherConv, "slotId": first["slotId"]}); f["type"] != "booked" {
		t.Fatalf("the freed slot could not be booked: %v", f)
	}
	if f := console.Request(map[string]any{"action": "cancel", "appointmentId": id}); f["type"] != "cancelled" || f["appointmentId"] != id {
		t.Fatalf("cancel answered %v", f)
	}
	reads := auditEntries(t, conv, "")
	if f := console.Request(map[string]any{"action": "appointments", "conversationId": conv}); f["type"] != "appointments" || len(f["appointments"].([]any)) != 0 {
		t.Fatalf("appointments after cancelling: %v", f)
	}
	if n := auditEntries(t, conv, ""); n != reads+1 {
		t.Fatalf("the read of the patient's appointments was not audited: %d entries, then %d", reads, n)
	}
}

// chat sends a patient message and returns the bot's reply to it.
func chat(t *testing.T, p started, n *int, text string) map[string]any {
	t.Helper()
	*n++
	send(t, p.c, p.conversationID, fmt.Sprintf("b-%d", *n), text)
	return botReply(t, p.c)
}

// askForTimes takes the patient through the bot's booking questions
// (any time, no preference) to its offer of the service's next open
// times, and returns that offer.
func askForTimes(t *testing.T, p started, n *int, service string) map[string]any {
	t.Helper()
	for _, text := range []string{"yes", "I need an appointment", service, "Any time"} {
		chat(t, p, n, text)
	}
	return chat(t, p, n, "No preference")
}

// confirmFirstTime asks the bot for the service's next open times, picks
// the first and confirms it; the bot then asks for the contacts.
func confirmFirstTime(t *testing.T, p started, n *int, service string) {
	t.Helper()
	offer := askForTimes(t, p, n, service)
	chat(t, p, n, quick(t, offer, 0))
	chat(t, p, n, "Yes, book it")
}

func quick(t *testing.T, reply map[string]any, i int) string {
	t.Helper()
	q, _ := reply["quickReplies"].([]any)
	if len(q) <= i {
		t.Fatalf("reply %q has %d quick replies, want more than %d", reply["text"], len(q), i)
	}
	return q[i].(string)
}

// TestPatientBooksReschedulesAndCancelsWithTheBot: on the local stack a
// patient asks the bot for an appointment, picks one of the three times it
// offers, confirms, leaves an email and is booked; then moves it and
// cancels it, all in the chat.
func TestPatientBooksReschedulesAndCancelsWithTheBot(t *testing.T) {
	p := startWithBot(t, "Vera")
	n := 0
	offer := askForTimes(t, p, &n, "Dermatology")
	if !strings.Contains(offer["text"].(string), "next open times for Dermatology") || quick(t, offer, 3) != "Other times" {
		t.Fatalf("offer = %v", offer)
	}
	pick := quick(t, offer, 1)
	if confirm := chat(t, p, &n, pick); !strings.Contains(confirm["text"].(string), "Shall I book "+pick) {
		t.Fatalf("confirm = %v", confirm)
	}
	if ask := chat(t, p, &n, "Yes, book it"); !strings.Contains(ask["text"].(string), "email") {
		t.Fatalf("email ask = %v", ask)
	}
	email := fmt.Sprintf("vera%d@example.org", time.Now().UnixNano())
	if ask := chat(t, p, &n, email); !strings.Contains(ask["text"].(string), "mobile number") {
		t.Fatalf("phone ask = %v", ask)
	}
	booked := chat(t, p, &n, "Skip")
	if text := booked["text"].(string); !strings.Contains(text, "You're booked") || !strings.Contains(text, "Dr. Wei Chen") || !strings.Contains(text, "confirmation number") {
		t.Fatalf("booked = %v", booked)
	}
	// From the scheduling stream: the confirmation in the chat, and by
	// email (read back from the emulator's SES).
	if notice := noticeIn(t, p, "Appointment confirmed"); !strings.Contains(notice, "Dr. Wei Chen") {
		t.Fatalf("chat confirmation = %q", notice)
	}
	mail := mailTo(t, email, "Appointment confirmed")
	if !strings.Contains(mail.BodyText, "Dr. Wei Chen") || !strings.Contains(mail.BodyText, "North Family Health Center") {
		t.Fatalf("confirmation email = %+v", mail)
	}
	if c := conversationItem(t, p.conversationID); c.State != "bot" {
		t.Fatalf("booking handed the conversation off: %s", c.State)
	}

	// To move it the patient proves who they are (issue 20): a code to
	// the email on file, read back from the emulator's SES; nothing of the
	// record is shown before.
	stepUp := chat(t, p, &n, "I need to reschedule my appointment")
	if text := stepUp["text"].(string); !strings.Contains(text, "6-digit code to v•••@example.org") || strings.Contains(text, "Dr. Wei Chen") {
		t.Fatalf("step-up = %v", stepUp)
	}
	code := codeIn(t, mailTo(t, email, "Your chat code"))
	if wrong := chat(t, p, &n, "000000"); !strings.Contains(wrong["text"].(string), "isn't right") || code == "000000" {
		t.Fatalf("a wrong code = %v", wrong)
	}
	moveOffer := chat(t, p, &n, code)
	if !strings.Contains(moveOffer["text"].(string), "that's you") {
		t.Fatalf("after the code = %v", moveOffer)
	}
	if c := conversationItem(t, p.conversationID); c.Identity != "verified" {
		t.Fatalf("the conversation's identity level is %q, want verified", c.Identity)
	}
	to := quick(t, moveOffer, 2)
	chat(t, p, &n, to)
	if moved := chat(t, p, &n, "yes"); !strings.Contains(moved["text"].(string), "moved to") {
		t.Fatalf("moved = %v", moved)
	}
	mailTo(t, email, "Appointment moved")
	if ask := chat(t, p, &n, "cancel my appointment"); quick(t, ask, 0) != "Yes, cancel it" {
		t.Fatalf("cancel ask = %v", ask)
	}
	if done := chat(t, p, &n, "Yes, cancel it"); !strings.Contains(done["text"].(string), "is cancelled") {
		t.Fatalf("cancelled = %v", done)
	}
	mailTo(t, email, "Appointment cancelled")
	// At the end the verified patient has the transcript emailed (issue
	// 20, item 5): once, to the address they proved, what they saw.
	if ended := p.c.Request(map[string]any{"action": "end", "conversationId": p.conversationID}); ended["state"] != "closed" || ended["identity"] != "verified" {
		t.Fatalf("ending = %v", ended)
	}
	if sent := p.c.Request(map[string]any{"action": "transcript", "conversationId": p.conversationID}); sent["type"] != "transcript" || sent["to"] != "v•••@example.org" {
		t.Fatalf("transcript = %v", sent)
	}
	transcript := mailTo(t, email, "Your conversation transcript")
	if !strings.Contains(transcript.BodyText, "] You: I need an appointment") || !strings.Contains(transcript.BodyText, "] Virtual assistant: ") ||
		!strings.Contains(transcript.BodyText, "is cancelled") {
		t.Fatalf("the transcript email = %q", transcript.BodyText)
	}
	if again := p.c.Request(map[string]any{"action": "transcript", "conversationId": p.conversationID}); again["code"] != "conflict" {
		t.Fatalf("a second transcript = %v", again)
	}
}

// TestThreeWrongCodesLockTheAppointmentsForAWhile (issue 20): a patient
// who booked with the bot asks to cancel; three wrong codes end the
// attempt and lock it (the record is never shown), and asking again within
// the lock sends no new code.
func TestThreeWrongCodesLockTheAppointmentsForAWhile(t *testing.T) {
	p := startWithBot(t, "Lena")
	n := 0
	confirmFirstTime(t, p, &n, "Dermatology")
	email := fmt.Sprintf("lena%d@example.org", time.Now().UnixNano())
	chat(t, p, &n, email)
	if booked := chat(t, p, &n, "Skip"); !strings.Contains(booked["text"].(string), "You're booked") {
		t.Fatalf("booked = %v", booked)
	}
	chat(t, p, &n, "cancel my appointment")
	code := codeIn(t, mailTo(t, email, "Your chat code"))
	wrong := "111111"
	if code == wrong {
		wrong = "222222"
	}
	chat(t, p, &n, wrong)
	chat(t, p, &n, wrong)
	locked := chat(t, p, &n, wrong)
	if text := locked["text"].(string); !strings.Contains(text, "next 15 minutes") || strings.Contains(text, "Dr.") {
		t.Fatalf("after three wrong codes = %v", locked)
	}
	if again := chat(t, p, &n, code); strings.Contains(again["text"].(string), "that's you") {
		t.Fatalf("the right code verified after the lock: %v", again)
	}
	if again := chat(t, p, &n, "cancel my appointment"); !strings.Contains(again["text"].(string), "minutes") || strings.Contains(again["text"].(string), "sent a 6-digit code") {
		t.Fatalf("asking again while locked = %v", again)
	}
	if c := conversationItem(t, p.conversationID); c.Identity != "" {
		t.Fatalf("a locked conversation is stored %q", c.Identity)
	}
	// Not verified: no transcript by email.
	p.c.Request(map[string]any{"action": "end", "conversationId": p.conversationID})
	if refused := p.c.Request(map[string]any{"action": "transcript", "conversationId": p.conversationID}); refused["code"] != "forbidden" {
		t.Fatalf("an anonymous patient's transcript = %v", refused)
	}
}

// codeIn is the one-time code in a code email's subject.
func codeIn(t *testing.T, m sentMail) string {
	t.Helper()
	i := strings.LastIndex(m.Subject, ": ")
	if i < 0 || len(m.Subject[i+2:]) != 6 {
		t.Fatalf("no code in %q", m.Subject)
	}
	return m.Subject[i+2:]
}

// noticeIn waits until the conversation holds a system message (a notice
// of the notify function, which posts it from the scheduling stream)
// containing want, reading the history (resume) until it does or 20
// seconds pass, and returns it.
func noticeIn(t *testing.T, p started, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		_, texts, _ := history(t, p.c, "", "system")
		for _, text := range texts {
			if strings.Contains(text, want) {
				return text
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notice %q in the chat within 20s; system messages: %q", want, texts)
		}
		<-tick.C
	}
}
