package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sentMail is a message the emulator's SES accepted.
type sentMail struct {
	To       []string `json:"To"`
	Subject  string   `json:"Subject"`
	BodyText string   `json:"BodyText"`
}

// mailTo waits for the emulator's SES to hold a message to the address
// whose subject contains want, and returns it. The emulator keeps sent
// mail at /_ministack/ses/messages; it is read until the message shows
// up or 20 seconds pass (the notify function sends it asynchronously,
// from the scheduling stream).
func mailTo(t *testing.T, address, want string) sentMail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var seen []string
	for {
		seen = seen[:0]
		res, err := http.Get(env.Outputs.Emulator + "/_ministack/ses/messages")
		if err != nil {
			t.Fatal(err)
		}
		// Messages by account.
		var body struct {
			Messages map[string][]sentMail `json:"messages"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("reading the emulator's sent mail: %v", err)
		}
		for _, msgs := range body.Messages {
			for _, m := range msgs {
				for _, to := range m.To {
					if strings.EqualFold(to, address) {
						seen = append(seen, m.Subject)
						if strings.Contains(m.Subject, want) {
							return m
						}
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s about %q within 20s; subjects seen: %q", address, want, seen)
		}
		<-tick.C
	}
}
