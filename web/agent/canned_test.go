// Package agent_test checks the agent console's configuration files.
package agent_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"unicode/utf8"
)

// canned mirrors canned.json; unknown fields are refused so a typo in a
// key does not silently drop a translation.
type canned struct {
	About     string `json:"about"`
	Responses []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		En    string `json:"en"`
		Es    string `json:"es"`
	} `json:"responses"`
}

func TestCannedResponsesAreComplete(t *testing.T) {
	b, err := os.ReadFile("canned.json")
	if err != nil {
		t.Fatal(err)
	}
	var c canned
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("canned.json: %v", err)
	}
	if len(c.Responses) < 5 {
		t.Fatalf("canned.json has %d responses; the console needs a useful set", len(c.Responses))
	}
	id := regexp.MustCompile(`^[a-z][a-z0-9-]{0,40}$`)
	placeholder := regexp.MustCompile(`\{[^}]*\}`)
	seen := map[string]bool{}
	for _, r := range c.Responses {
		if !id.MatchString(r.ID) || seen[r.ID] {
			t.Errorf("response id %q is malformed or repeated", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" {
			t.Errorf("%s: no title", r.ID)
		}
		for lang, text := range map[string]string{"en": r.En, "es": r.Es} {
			// The text must fit a chat message (2,000 characters).
			if text == "" || utf8.RuneCountInString(text) > 2000 {
				t.Errorf("%s: %s text is empty or too long", r.ID, lang)
			}
			for _, p := range placeholder.FindAllString(text, -1) {
				if p != "{patient}" && p != "{agent}" {
					t.Errorf("%s: %s text has unknown placeholder %s", r.ID, lang, p)
				}
			}
		}
	}
}
