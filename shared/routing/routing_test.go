package routing

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func TestPlanServesUrgentFirstThenArrival(t *testing.T) {
	waiting := []Waiting{
		{ConversationID: "normal-early", Queue: "general", Priority: Normal, Language: "en", EnqueuedAt: t0},
		{ConversationID: "urgent-late", Queue: "general", Priority: Urgent, Language: "en", EnqueuedAt: t0.Add(5 * time.Minute)},
		{ConversationID: "high", Queue: "general", Priority: High, Language: "en", EnqueuedAt: t0.Add(time.Minute)},
	}
	agents := []Agent{{ID: "ana", Available: true, Skills: []string{"general"}, Languages: []string{"en"}, Capacity: 2}}
	got := Plan(waiting, agents)
	want := []Offer{{"urgent-late", "ana"}, {"high", "ana"}}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	if p := Position(waiting, "normal-early"); p != 3 {
		t.Errorf("position of the normal conversation = %d, want 3", p)
	}
	if p := Position(waiting, "urgent-late"); p != 1 {
		t.Errorf("position of the urgent conversation = %d, want 1", p)
	}
	if p := Position(waiting, "gone"); p != 0 {
		t.Errorf("position of a conversation not waiting = %d", p)
	}
}

func TestPlanMatchesSkillLanguageAndPresence(t *testing.T) {
	waiting := []Waiting{
		{ConversationID: "billing-es", Queue: "billing", Priority: Normal, Language: "es", EnqueuedAt: t0},
		{ConversationID: "clinical-en", Queue: "clinical", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(time.Second)},
		{ConversationID: "billing-en-refused", Queue: "billing", Priority: Normal, Language: "en", EnqueuedAt: t0.Add(2 * time.Second), Refused: []string{"ana"}},
	}
	agents := []Agent{
		{ID: "ana", Available: true, Skills: []string{"general", "billing"}, Languages: []string{"en", "es"}, Capacity: 3},
		{ID: "ben", Available: true, Skills: []string{"general", "billing"}, Languages: []string{"en"}, Capacity: 3},
		{ID: "nora", Available: false, Skills: []string{"clinical"}, Languages: []string{"en"}, Capacity: 3},
	}
	got := Plan(waiting, agents)
	want := []Offer{{"billing-es", "ana"}, {"billing-en-refused", "ben"}}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %v, want %v (Spanish to the Spanish speaker, nothing to the away nurse, not back to who refused)", got, want)
	}
}

func TestPlanPrefersTheLongestIdleAgent(t *testing.T) {
	var waiting []Waiting
	for i := range 4 {
		waiting = append(waiting, Waiting{ConversationID: fmt.Sprintf("c%d", i), Queue: "general", Priority: Normal, EnqueuedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	agents := []Agent{
		{ID: "recent", Available: true, Skills: []string{"general"}, Capacity: 2, IdleSince: t0.Add(-time.Minute)},
		{ID: "longest", Available: true, Skills: []string{"general"}, Capacity: 2, IdleSince: t0.Add(-time.Hour)},
	}
	got := Plan(waiting, agents)
	want := []Offer{{"c0", "longest"}, {"c1", "recent"}, {"c2", "longest"}, {"c3", "recent"}}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %v, want %v (longest idle first, then turns)", got, want)
	}
}

// scenario draws waiting conversations and agents over a few queues and
// languages, with capacities, loads and refusals.
func scenario(t *rapid.T) ([]Waiting, []Agent) {
	queues := []string{"general", "billing", "clinical"}
	langs := []string{"en", "es"}
	nAgents := rapid.IntRange(0, 6).Draw(t, "agents")
	var agents []Agent
	for i := range nAgents {
		capacity := rapid.IntRange(1, 4).Draw(t, "capacity")
		agents = append(agents, Agent{
			ID:        fmt.Sprintf("a%d", i),
			Available: rapid.Float64Range(0, 1).Draw(t, "available") < 0.8,
			Skills:    rapid.SliceOfNDistinct(rapid.SampledFrom(queues), 1, 3, rapid.ID).Draw(t, "skills"),
			Languages: rapid.SliceOfNDistinct(rapid.SampledFrom(langs), 1, 2, rapid.ID).Draw(t, "languages"),
			Capacity:  capacity,
			Active:    rapid.IntRange(0, capacity).Draw(t, "active"),
			IdleSince: t0.Add(time.Duration(rapid.IntRange(0, 100).Draw(t, "idle")) * time.Minute),
		})
	}
	nWaiting := rapid.IntRange(0, 25).Draw(t, "waiting")
	var waiting []Waiting
	for i := range nWaiting {
		w := Waiting{
			ConversationID: fmt.Sprintf("c%d", i),
			Queue:          rapid.SampledFrom(queues).Draw(t, "queue"),
			Priority:       rapid.SampledFrom([]string{Urgent, High, Normal}).Draw(t, "priority"),
			Language:       rapid.SampledFrom(append(langs, "")).Draw(t, "language"),
			EnqueuedAt:     t0.Add(time.Duration(rapid.IntRange(0, 50).Draw(t, "enqueued")) * time.Second),
		}
		if nAgents > 0 && rapid.Bool().Draw(t, "refused") {
			w.Refused = []string{fmt.Sprintf("a%d", rapid.IntRange(0, nAgents-1).Draw(t, "refuser"))}
		}
		waiting = append(waiting, w)
	}
	return waiting, agents
}

// TestPlanInvariants: whatever the waiting conversations and agents, a
// plan never offers a conversation twice, never puts an agent over
// capacity, only offers to a qualifying agent, leaves a conversation
// unserved only when every agent who qualifies is full, and never serves
// a later conversation with an agent an earlier unserved one could have had.
func TestPlanInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		waiting, agents := scenario(t)
		offers := Plan(waiting, agents)
		// An urgent conversation may go to an agent who refused it when
		// no one else can take it.
		eligible := func(a Agent, w Waiting) bool {
			return Qualifies(a, w) || (w.Priority == Urgent && Qualifies(a, Waiting{Queue: w.Queue, Language: w.Language}))
		}
		byID := map[string]Agent{}
		for _, a := range agents {
			byID[a.ID] = a
		}
		wByID := map[string]Waiting{}
		for _, w := range waiting {
			wByID[w.ConversationID] = w
		}
		load := map[string]int{}
		offered := map[string]string{}
		for _, o := range offers {
			if _, dup := offered[o.ConversationID]; dup {
				t.Fatalf("conversation %s offered twice", o.ConversationID)
			}
			offered[o.ConversationID] = o.AgentID
			load[o.AgentID]++
			if !eligible(byID[o.AgentID], wByID[o.ConversationID]) {
				t.Fatalf("offer %v to an agent who does not qualify", o)
			}
			if w := wByID[o.ConversationID]; !Qualifies(byID[o.AgentID], w) {
				for _, a := range agents {
					if Qualifies(a, w) && a.Active+load[a.ID] < a.Capacity && a.ID != o.AgentID {
						t.Fatalf("urgent %s offered again to %s, who refused it, while %s could take it", w.ConversationID, o.AgentID, a.ID)
					}
				}
			}
		}
		full := func(a Agent) bool { return a.Active+load[a.ID] >= a.Capacity }
		for id, n := range load {
			if a := byID[id]; a.Active+n > a.Capacity {
				t.Fatalf("agent %s over capacity: %d active + %d offers > %d", id, a.Active, n, a.Capacity)
			}
		}
		for _, w := range waiting {
			if _, ok := offered[w.ConversationID]; ok {
				continue
			}
			for _, a := range agents {
				if !eligible(a, w) {
					continue
				}
				if !full(a) {
					t.Fatalf("%s left waiting while %s qualifies and has room", w.ConversationID, a.ID)
				}
				for _, o := range offers {
					if o.AgentID == a.ID && Less(wByID[o.ConversationID], w) > 0 {
						t.Fatalf("%s (later) served by %s before %s (earlier, unserved)", o.ConversationID, a.ID, w.ConversationID)
					}
				}
			}
		}
		if again := Plan(waiting, agents); !slices.Equal(again, offers) {
			t.Fatalf("plan is not deterministic: %v then %v", offers, again)
		}
	})
}

func BenchmarkPlan(b *testing.B) {
	var waiting []Waiting
	for i := range 200 {
		waiting = append(waiting, Waiting{ConversationID: fmt.Sprintf("c%d", i), Queue: []string{"general", "billing", "clinical"}[i%3],
			Priority: []string{Normal, Normal, High, Urgent}[i%4], Language: []string{"en", "es"}[i%2], EnqueuedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	var agents []Agent
	for i := range 50 {
		agents = append(agents, Agent{ID: fmt.Sprintf("a%d", i), Available: true, Skills: []string{"general", "billing", "clinical"}[:1+i%3],
			Languages: []string{"en", "es"}[:1+i%2], Capacity: 3, IdleSince: t0.Add(time.Duration(i) * time.Minute)})
	}
	b.ReportAllocs()
	for b.Loop() {
		Plan(waiting, agents)
	}
}

// TestAnUrgentConversationIsNeverStranded: an urgent conversation whose
// only possible agent let its offer lapse is offered to them again; one
// who did not refuse it comes first; a normal one is not offered again.
func TestAnUrgentConversationIsNeverStranded(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	nurse := Agent{ID: "nora", Available: true, Skills: []string{"nurse"}, Languages: []string{"en"}, Capacity: 2, IdleSince: t0}
	other := Agent{ID: "olive", Available: true, Skills: []string{"nurse"}, Languages: []string{"en"}, Capacity: 2, IdleSince: t0.Add(time.Minute)}
	urgent := Waiting{ConversationID: "c1", Queue: "nurse", Priority: Urgent, Language: "en", EnqueuedAt: t0, Refused: []string{"nora"}}
	if got := Plan([]Waiting{urgent}, []Agent{nurse}); len(got) != 1 || got[0].AgentID != "nora" {
		t.Fatalf("urgent, only the agent who let it lapse: %v, want it offered to them again", got)
	}
	if got := Plan([]Waiting{urgent}, []Agent{nurse, other}); len(got) != 1 || got[0].AgentID != "olive" {
		t.Fatalf("urgent, another agent free: %v, want the other", got)
	}
	normal := urgent
	normal.Priority = Normal
	if got := Plan([]Waiting{normal}, []Agent{nurse}); len(got) != 0 {
		t.Fatalf("normal priority: %v, want no offer to the agent who refused it", got)
	}
}
