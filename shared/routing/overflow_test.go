package routing

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestParseOverflow(t *testing.T) {
	queues := []string{"general", "billing", "nurse"}
	got, err := ParseOverflow(" billing=10m>general, nurse=90s>general ", queues)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Overflow{"billing": {10 * time.Minute, "general"}, "nurse": {90 * time.Second, "general"}}
	if !maps.Equal(got, want) {
		t.Fatalf("rules = %v, want %v", got, want)
	}
	if got, err := ParseOverflow("", queues); err != nil || len(got) != 0 {
		t.Fatalf("empty spec: %v %v", got, err)
	}
	for spec, wantErr := range map[string]string{
		"billing=10m":                         "want queue=wait>fallback",
		"billing>general":                     "want queue=wait>fallback",
		"billing=soon>general":                "positive duration",
		"billing=-1m>general":                 "positive duration",
		"billing=0s>general":                  "positive duration",
		"billing=1m>lobby":                    `"lobby" is not one of`,
		"lobby=1m>general":                    `"lobby" is not one of`,
		"billing=1m>billing":                  "itself",
		"billing=1m>general,billing=2m>nurse": "two rules",
	} {
		if _, err := ParseOverflow(spec, queues); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: err %v, want %q", spec, err, wantErr)
		}
	}
}

func TestOverdueCountsFromEnteringTheQueue(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rules := map[string]Overflow{"billing": {After: 10 * time.Minute, To: "general"}}
	waiting := []Waiting{
		{ConversationID: "late", Queue: "billing", EnqueuedAt: now.Add(-30 * time.Minute), QueuedAt: now.Add(-10 * time.Minute)},
		// Waited long overall, but came into billing by a transfer a minute ago.
		{ConversationID: "transferred", Queue: "billing", EnqueuedAt: now.Add(-30 * time.Minute), QueuedAt: now.Add(-time.Minute)},
		// No QueuedAt recorded: its arrival counts.
		{ConversationID: "old-record", Queue: "billing", EnqueuedAt: now.Add(-11 * time.Minute)},
		{ConversationID: "no-rule", Queue: "general", EnqueuedAt: now.Add(-time.Hour), QueuedAt: now.Add(-time.Hour)},
	}
	got := Overdue(waiting, rules, now)
	if want := map[string]string{"late": "general", "old-record": "general"}; !maps.Equal(got, want) {
		t.Fatalf("overdue = %v, want %v", got, want)
	}
}
