package agent_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// scripts mirrors scripts.json; unknown fields are refused.
type scripts struct {
	About   string `json:"about"`
	Scripts map[string]struct {
		Title string   `json:"title"`
		Steps []string `json:"steps"`
	} `json:"scripts"`
}

// TestEveryQueueHasAScript: a team lead's edit of scripts.json is checked
// here — every queue the template serves (RoutingQueues' default) has a
// script with a title and two to twelve steps, each unique and at most 200
// characters (the close frame records them).
func TestEveryQueueHasAScript(t *testing.T) {
	b, err := os.ReadFile("scripts.json")
	if err != nil {
		t.Fatal(err)
	}
	var s scripts
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("scripts.json: %v", err)
	}
	tpl, err := os.ReadFile("../../infra/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  RoutingQueues:\n(?:    .*\n)*?    Default: (.*)$`).FindSubmatch(tpl)
	if m == nil {
		t.Fatal("the template's RoutingQueues default was not found")
	}
	for _, q := range strings.Split(strings.TrimSpace(string(m[1])), ",") {
		sc, ok := s.Scripts[q]
		if !ok {
			t.Errorf("queue %s has no script", q)
			continue
		}
		if sc.Title == "" || len(sc.Steps) < 2 || len(sc.Steps) > 12 {
			t.Errorf("%s: title %q, %d steps: want a title and 2 to 12 steps", q, sc.Title, len(sc.Steps))
		}
		seen := map[string]bool{}
		for _, st := range sc.Steps {
			if st == "" || utf8.RuneCountInString(st) > 200 || seen[st] {
				t.Errorf("%s: step %q is empty, over 200 characters or repeated", q, st)
			}
			seen[st] = true
		}
	}
}
