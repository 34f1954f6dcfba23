package ddb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/fault"
)

func agentStores() (*ddb.Agents, *ddb.AgentConnections) {
	db := dynamodb.NewFromConfig(env.Stack.AWSConfig())
	t := env.Outputs.Tables
	return ddb.NewAgents(db, t["AgentsTable"]), ddb.NewAgentConnections(db, t["AgentConnectionsTable"], ddb.RateLimit{Frames: 2, Window: time.Minute})
}

// TestAgentProfileKeepsPresence: a new agent starts offline; signing in
// again refreshes the profile and keeps the presence; a token without a
// profile (an access token) leaves the stored one alone.
func TestAgentProfileKeepsPresence(t *testing.T) {
	agents, _ := agentStores()
	ctx := context.Background()
	now := time.Now()
	id := agent.Identity{AgentID: fmt.Sprintf("a%d", now.UnixNano()), Name: "Ana", Roles: []agent.Role{agent.RoleAgent},
		Skills: []string{"general"}, Languages: []string{"en", "es"}, Capacity: 3}
	if err := agents.SaveProfile(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	a, err := agents.Get(ctx, id.AgentID)
	if err != nil || a.Presence != agent.Offline || a.Capacity != 3 || a.Name != "Ana" {
		t.Fatalf("new agent = %+v, %v", a, err)
	}
	if _, err := agents.SetPresence(ctx, id.AgentID, agent.Available, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	id.Skills, id.Capacity = []string{"general", "billing"}, 2
	if err := agents.SaveProfile(ctx, id, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := agents.SaveProfile(ctx, agent.Identity{AgentID: id.AgentID, Username: "ana", Roles: id.Roles}, now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	a, err = agents.Get(ctx, id.AgentID)
	if err != nil || a.Presence != agent.Available || a.Capacity != 2 || a.Name != "Ana" || !slices.Equal(a.Skills, []string{"general", "billing"}) {
		t.Fatalf("agent after two sign-ins = %+v, %v", a, err)
	}
	if _, err := agents.SetPresence(ctx, "nobody", agent.Available, now); !fault.Is(err, fault.NotFound) {
		t.Fatalf("presence of an unknown agent: %v", err)
	}
}

// TestStaffed: a queue is staffed while an agent who serves it is
// available or busy, not when they are away or offline.
func TestStaffed(t *testing.T) {
	agents, _ := agentStores()
	ctx := context.Background()
	now := time.Now()
	queue := fmt.Sprintf("q%d", now.UnixNano())
	id := agent.Identity{AgentID: "staff-" + queue, Name: "Sol", Roles: []agent.Role{agent.RoleAgent}, Skills: []string{"general", queue}, Capacity: 2}
	if err := agents.SaveProfile(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		presence agent.Presence
		want     bool
	}{{agent.Offline, false}, {agent.Available, true}, {agent.Away, false}, {agent.Busy, true}, {agent.Offline, false}} {
		if _, err := agents.SetPresence(ctx, id.AgentID, tc.presence, now); err != nil {
			t.Fatal(err)
		}
		got, err := agents.Staffed(ctx, queue)
		if err != nil || got != tc.want {
			t.Fatalf("agent %s: staffed = %v, %v; want %v", tc.presence, got, err, tc.want)
		}
	}
	if got, err := agents.Staffed(ctx, queue+"-other"); err != nil || got {
		t.Fatalf("a queue nobody serves: staffed = %v, %v", got, err)
	}
}

func TestAgentConnectionsRateLimitAndLookup(t *testing.T) {
	_, conns := agentStores()
	ctx := context.Background()
	now := time.Now()
	agentID := fmt.Sprintf("a%d", now.UnixNano())
	for _, c := range []string{agentID + "-1", agentID + "-2"} {
		if err := conns.Put(ctx, agent.Connection{ID: c, AgentID: agentID, Roles: []agent.Role{agent.RoleAgent}, ConnectedAt: now,
			TokenExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		c, err := conns.Admit(ctx, agentID+"-1", now)
		if err != nil || c.AgentID != agentID || c.TokenExpiresAt.Sub(now.Add(time.Hour)).Abs() > time.Millisecond {
			t.Fatalf("frame %d: %+v %v", i, c, err)
		}
	}
	if _, err := conns.Admit(ctx, agentID+"-1", now); !fault.Is(err, fault.RateLimited) {
		t.Fatalf("3rd frame in the window: %v", err)
	}
	list, err := conns.ForAgent(ctx, agentID)
	if err != nil || len(list) != 2 {
		t.Fatalf("the agent's connections: %+v %v", list, err)
	}
	c, ok, err := conns.Delete(ctx, agentID+"-1")
	if err != nil || !ok || c.AgentID != agentID {
		t.Fatalf("delete: %+v %v %v", c, ok, err)
	}
	if _, ok, err := conns.Delete(ctx, agentID+"-1"); err != nil || ok {
		t.Fatalf("a second delete: %v %v", ok, err)
	}
	if _, err := conns.Admit(ctx, agentID+"-1", now); !fault.Is(err, fault.NotFound) {
		t.Fatalf("admit a deleted connection: %v", err)
	}
}
