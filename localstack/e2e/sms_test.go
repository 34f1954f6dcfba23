package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// textsTo reads the texts the emulator captured to a number (SNS's
// direct publishes, served at /_ministack/sns/sms-messages).
func textsTo(t *testing.T, phone string) []string {
	t.Helper()
	res, err := http.Get(env.Outputs.Emulator + "/_ministack/sns/sms-messages?phoneNumber=" + url.QueryEscape(phone))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Messages map[string][]struct {
			Message string `json:"Message"`
		} `json:"sms_messages"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("reading the emulator's texts: %v", err)
	}
	var out []string
	for _, m := range body.Messages[phone] {
		out = append(out, m.Message)
	}
	return out
}

// textNumber waits for the nth text (from 1) to a number.
func textNumber(t *testing.T, phone string, n int) string {
	t.Helper()
	var got []string
	stacktest.Eventually(t, 20*time.Second, fmt.Sprintf("text %d to %s", n, phone), func() bool {
		got = textsTo(t, phone)
		return len(got) >= n
	})
	return got[n-1]
}

// textFromPatient publishes a patient's text to the inbound topic as End
// User Messaging SMS's two-way messaging does.
func textFromPatient(t *testing.T, from, body string) {
	t.Helper()
	msg, _ := json.Marshal(map[string]string{"originationNumber": from, "destinationNumber": "+15550100100", "messageKeyword": "KEYWORD_000000000000",
		"messageBody": body, "inboundMessageId": fmt.Sprint("in-", time.Now().UnixNano()), "previousPublishedMessageId": ""})
	topic := env.Outputs.Topics["InboundSmsTopic"]
	if _, err := sns.NewFromConfig(awsCfg()).Publish(context.Background(), &sns.PublishInput{TopicArn: &topic, Message: stringPtr(string(msg))}); err != nil {
		t.Fatal(err)
	}
}

func stringPtr(s string) *string { return &s }

// TestTextRemindersHonourStop (issue 20, item 6): a patient books in the
// chat and gives a mobile number for the reminders (the opt-in, recorded
// with the booking); the reminder due goes out by text with the
// appointment's link; HELP is answered; STOP is confirmed and honoured (the
// next reminder comes by email only); a message nobody reads gets 911.
func TestTextRemindersHonourStop(t *testing.T) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	phone := fmt.Sprintf("+1555%d%06d", 2+run%8, run/7%1000000)
	p := startWithBot(t, "Tomas")
	n := 0
	confirmFirstTime(t, p, &n, "Dermatology")
	email := fmt.Sprintf("tomas%d@example.org", run)
	if ask := chat(t, p, &n, email); !strings.Contains(ask["text"].(string), "Reply STOP to stop them") {
		t.Fatalf("phone ask = %v", ask)
	}
	local := phone[2:5] + "-" + phone[5:8] + "-" + phone[8:]
	booked := chat(t, p, &n, local)
	// The soonest time may be too close for any reminder; otherwise the
	// chat says where the texts go.
	if text := booked["text"].(string); !strings.Contains(text, "You're booked") ||
		!strings.Contains(text, "also come by text to +1 •••••••• "+phone[10:]) && !strings.Contains(text, "won't send a reminder") {
		t.Fatalf("booked = %v", booked)
	}
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	svc := scheduling.NewService(dir, ddb.NewAppointments(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"], 24*time.Hour), scheduling.Config{}, nil)
	mine, err := svc.Upcoming(ctx, p.patientID)
	if err != nil || len(mine) != 1 || mine[0].PatientPhone != phone || mine[0].SMSConsentAt.IsZero() {
		t.Fatalf("the booking kept %+v, %v", mine, err)
	}
	a := mine[0]

	// The day-before reminder comes due: by text, with the page's link.
	notices := ddb.NewNotices(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["SchedulingTable"])
	if err := notices.Put(ctx, []notify.Reminder{{AppointmentID: a.ID, Kind: notify.Text24h, At: time.Now().Add(-time.Second), Start: a.Slot.Start}}); err != nil {
		t.Fatal(err)
	}
	reminder := textNumber(t, phone, 1)
	for _, want := range []string{"reminder of your", "tomorrow", env.Outputs.Web + "appointment.html?t=", "Reply STOP to opt out"} {
		if !strings.Contains(reminder, want) {
			t.Fatalf("the text reminder %q lacks %q", reminder, want)
		}
	}

	textFromPatient(t, phone, "HELP")
	if help := textNumber(t, phone, 2); !strings.Contains(help, "(555) 010-2000") || !strings.Contains(help, "Reply STOP") {
		t.Fatalf("HELP answered %q", help)
	}
	textFromPatient(t, phone, "I have chest pain, what should I do")
	if unread := textNumber(t, phone, 3); !strings.Contains(unread, "call 911") {
		t.Fatalf("a message nobody reads was answered %q", unread)
	}
	textFromPatient(t, phone, "Stop")
	if stopped := textNumber(t, phone, 4); !strings.Contains(stopped, "unsubscribed") {
		t.Fatalf("STOP answered %q", stopped)
	}

	// The two-hour reminders come due, the text's first: the email goes,
	// the text does not (the sweep sends them in order, so by the time the
	// email is out the text was dropped).
	now := time.Now()
	if err := notices.Put(ctx, []notify.Reminder{{AppointmentID: a.ID, Kind: notify.Text2h, At: now.Add(-2 * time.Second), Start: a.Slot.Start},
		{AppointmentID: a.ID, Kind: notify.Remind2h, At: now.Add(-time.Second), Start: a.Slot.Start}}); err != nil {
		t.Fatal(err)
	}
	mailTo(t, email, "Reminder: your appointment in 2 hours")
	if got := textsTo(t, phone); len(got) != 4 {
		t.Fatalf("after STOP the number got %d texts: %q", len(got), got[4:])
	}
	textFromPatient(t, phone, "START")
	if started := textNumber(t, phone, 5); !strings.Contains(started, "on again") {
		t.Fatalf("START answered %q", started)
	}
}

// TestACodeByTextVerifiesAPatientWithoutEmail (issue 20, item 1): a
// patient who booked with a mobile number and no email asks for their
// appointments; the code goes by text (read back from the emulator), and
// typing it shows them.
func TestACodeByTextVerifiesAPatientWithoutEmail(t *testing.T) {
	run := time.Now().UnixNano()
	phone := fmt.Sprintf("+1555%d%06d", 2+(run/3)%8, run/11%1000000)
	p := startWithBot(t, "Iker")
	n := 0
	confirmFirstTime(t, p, &n, "Orthopedics")
	chat(t, p, &n, "Skip") // no email
	if booked := chat(t, p, &n, phone); !strings.Contains(booked["text"].(string), "You're booked") {
		t.Fatalf("booked = %v", booked)
	}
	stepUp := chat(t, p, &n, "show my appointments")
	if text := stepUp["text"].(string); !strings.Contains(text, "6-digit code to +1 •••••••• "+phone[10:]) || strings.Contains(text, "Dr.") {
		t.Fatalf("step-up = %v", stepUp)
	}
	sms := textNumber(t, phone, 1)
	i := strings.Index(sms, "code is ")
	if i < 0 || len(sms) < i+14 {
		t.Fatalf("no code in the text %q", sms)
	}
	code := sms[i+8 : i+14]
	if list := chat(t, p, &n, code); !strings.Contains(list["text"].(string), "that's you") || !strings.Contains(list["text"].(string), "Dr.") {
		t.Fatalf("after the code: %v", list)
	}
}
