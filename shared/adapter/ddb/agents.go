package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/fault"
)

// ByAgentIndex is the agent connections table's index on agentId.
const ByAgentIndex = "byAgent"

// Agents stores agents' records, one item per agent.
type Agents struct {
	api   API
	table string
}

var _ agent.Agents = (*Agents)(nil)

// NewAgents returns a store on the agents table.
func NewAgents(api API, table string) *Agents { return &Agents{api: api, table: table} }

type agentItem struct {
	AgentID       string   `dynamodbav:"agentId"`
	Name          string   `dynamodbav:"name"`
	Roles         []string `dynamodbav:"roles,omitempty"`
	Skills        []string `dynamodbav:"skills,omitempty"`
	Languages     []string `dynamodbav:"languages,omitempty"`
	Capacity      int      `dynamodbav:"capacity"`
	Presence      string   `dynamodbav:"presence"`
	PresenceSince string   `dynamodbav:"presenceSince"`
	UpdatedAt     string   `dynamodbav:"updatedAt"`
	Active        int      `dynamodbav:"active"`
}

func (it agentItem) domain() agent.Agent {
	since, _ := time.Parse(timeLayout, it.PresenceSince)
	a := agent.Agent{ID: it.AgentID, Name: it.Name, Skills: it.Skills, Languages: it.Languages, Capacity: it.Capacity,
		Presence: agent.Presence(it.Presence), Since: since, Active: it.Active}
	for _, r := range it.Roles {
		a.Roles = append(a.Roles, agent.Role(r))
	}
	return a
}

func agentKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"agentId": &types.AttributeValueMemberS{Value: id}}
}

// SaveProfile writes the identity's profile in one update: a new agent
// starts offline, a known one keeps their presence. An access token
// carries no profile, so empty fields leave the stored ones alone.
func (s *Agents) SaveProfile(ctx context.Context, id agent.Identity, now time.Time) error {
	at := now.UTC().Format(timeLayout)
	roles := make([]string, 0, len(id.Roles))
	for _, r := range id.Roles {
		roles = append(roles, string(r))
	}
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(at)).
		Set(expression.Name("roles"), expression.Value(roles)).
		Set(expression.Name("presence"), expression.IfNotExists(expression.Name("presence"), expression.Value(string(agent.Offline)))).
		Set(expression.Name("presenceSince"), expression.IfNotExists(expression.Name("presenceSince"), expression.Value(at))).
		Set(expression.Name("active"), expression.IfNotExists(expression.Name("active"), expression.Value(0))).
		Set(expression.Name("idleSince"), expression.IfNotExists(expression.Name("idleSince"), expression.Value(at)))
	if id.Name != "" {
		upd = upd.Set(expression.Name("name"), expression.Value(id.Name))
	} else {
		upd = upd.Set(expression.Name("name"), expression.IfNotExists(expression.Name("name"), expression.Value(id.Username)))
	}
	if len(id.Skills) > 0 {
		upd = upd.Set(expression.Name("skills"), expression.Value(id.Skills))
	}
	if len(id.Languages) > 0 {
		upd = upd.Set(expression.Name("languages"), expression.Value(id.Languages))
	}
	if id.Capacity > 0 {
		upd = upd.Set(expression.Name("capacity"), expression.Value(id.Capacity))
	} else {
		upd = upd.Set(expression.Name("capacity"), expression.IfNotExists(expression.Name("capacity"), expression.Value(1)))
	}
	expr := must(expression.NewBuilder().WithUpdate(upd).Build())
	if _, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: agentKey(id.AgentID), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}); err != nil {
		return fmt.Errorf("saving agent profile: %w", err)
	}
	return nil
}

// SetPresence changes a known agent's presence. Becoming available starts
// the agent's idle time, which routing's longest-idle-first rule reads.
func (s *Agents) SetPresence(ctx context.Context, agentID string, p agent.Presence, now time.Time) (agent.Agent, error) {
	at := now.UTC().Format(timeLayout)
	upd := expression.Set(expression.Name("presence"), expression.Value(string(p))).
		Set(expression.Name("presenceSince"), expression.Value(at))
	if p == agent.Available {
		upd = upd.Set(expression.Name("idleSince"), expression.Value(at))
	}
	expr := must(expression.NewBuilder().
		WithUpdate(upd).
		WithCondition(expression.AttributeExists(expression.Name("agentId"))).
		Build())
	a, failed, err := updateNew[agentItem, agent.Agent](ctx, s.api, s.table, agentKey(agentID), expr)
	if failed {
		return agent.Agent{}, fault.Errorf(fault.NotFound, "agent not found")
	}
	if err != nil {
		return agent.Agent{}, fmt.Errorf("setting presence: %w", err)
	}
	return a, nil
}

// All lists every agent's record: a scan of a staff table of tens to
// hundreds of items (as Staffed's), no patient data.
func (s *Agents) All(ctx context.Context) ([]agent.Agent, error) {
	items, err := scanAll[agentItem](ctx, s.api, &dynamodb.ScanInput{TableName: &s.table})
	if err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	return domains[agentItem, agent.Agent](items), nil
}

// Get reads an agent's record.
func (s *Agents) Get(ctx context.Context, agentID string) (agent.Agent, error) {
	it, err := getItem[agentItem](ctx, s.api, s.table, agentKey(agentID), "agent")
	if err != nil {
		return agent.Agent{}, err
	}
	return it.domain(), nil
}

// Staffed reports whether an agent who serves the queue (a skill) is
// online: available, or busy and so back soon. The agents table holds a
// center's tens to hundreds of agents, so a filtered scan that stops at
// the first match is cheap; it reads only the key.
func (s *Agents) Staffed(ctx context.Context, queue string) (bool, error) {
	expr := must(expression.NewBuilder().
		WithFilter(expression.Contains(expression.Name("skills"), queue).
			And(expression.Name("presence").In(expression.Value(string(agent.Available)), expression.Value(string(agent.Busy))))).
		WithProjection(expression.NamesList(expression.Name("agentId"))).Build())
	in := &dynamodb.ScanInput{TableName: &s.table, FilterExpression: expr.Filter(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	for {
		page, err := s.api.Scan(ctx, in)
		if err != nil {
			return false, fmt.Errorf("looking for an agent online: %w", err)
		}
		if len(page.Items) > 0 {
			return true, nil
		}
		if len(page.LastEvaluatedKey) == 0 {
			return false, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// AgentConnections stores agents' console connections.
type AgentConnections struct {
	api   API
	table string
	limit RateLimit
}

var _ agent.Connections = (*AgentConnections)(nil)

// NewAgentConnections returns a store on the agent connections table.
func NewAgentConnections(api API, table string, limit RateLimit) *AgentConnections {
	return &AgentConnections{api: api, table: table, limit: limit}
}

type agentConnItem struct {
	ConnectionID   string   `dynamodbav:"connectionId"`
	AgentID        string   `dynamodbav:"agentId"`
	Roles          []string `dynamodbav:"roles,omitempty"`
	ConnectedAt    string   `dynamodbav:"connectedAt"`
	TokenExpiresAt string   `dynamodbav:"tokenExpiresAt"`
	ExpiresAt      int64    `dynamodbav:"expiresAt"`
	// The rate limit's window and count start at zero (admitFrame
	// compares them, so they must exist).
	Window int64 `dynamodbav:"rlWindow"`
	Count  int   `dynamodbav:"rlCount"`
}

func (it agentConnItem) domain() agent.Connection {
	at, _ := time.Parse(timeLayout, it.ConnectedAt)
	exp, _ := time.Parse(timeLayout, it.TokenExpiresAt)
	c := agent.Connection{ID: it.ConnectionID, AgentID: it.AgentID, ConnectedAt: at, TokenExpiresAt: exp, ExpiresAt: time.Unix(it.ExpiresAt, 0)}
	for _, r := range it.Roles {
		c.Roles = append(c.Roles, agent.Role(r))
	}
	return c
}

// Put records a connection.
func (s *AgentConnections) Put(ctx context.Context, c agent.Connection) error {
	it := agentConnItem{ConnectionID: c.ID, AgentID: c.AgentID, ConnectedAt: c.ConnectedAt.UTC().Format(timeLayout),
		TokenExpiresAt: c.TokenExpiresAt.UTC().Format(timeLayout), ExpiresAt: c.ExpiresAt.Unix()}
	for _, r := range c.Roles {
		it.Roles = append(it.Roles, string(r))
	}
	return putItem(ctx, s.api, s.table, it, "agent connection")
}

// Admit counts a frame against the connection's rate limit.
func (s *AgentConnections) Admit(ctx context.Context, id string, now time.Time) (agent.Connection, error) {
	return admit[agentConnItem](ctx, s.api, s.table, id, s.limit, now, "agent connection")
}

// Delete removes a connection and returns what it was.
func (s *AgentConnections) Delete(ctx context.Context, id string) (agent.Connection, bool, error) {
	return deleteItem[agentConnItem](ctx, s.api, s.table, connKey(id), "agent connection")
}

// ForAgent lists an agent's open connections.
func (s *AgentConnections) ForAgent(ctx context.Context, agentID string) ([]agent.Connection, error) {
	return queryEqual[agentConnItem, agent.Connection](ctx, s.api, s.table, ByAgentIndex, "agentId", agentID)
}

func boolPtr(b bool) *bool { return &b }

// WithRole lists the open console connections of users in a group (a
// filtered scan: a center has tens to hundreds of open consoles).
func (s *AgentConnections) WithRole(ctx context.Context, role agent.Role) ([]agent.Connection, error) {
	expr := must(expression.NewBuilder().WithFilter(expression.Contains(expression.Name("roles"), string(role))).Build())
	items, err := scanAll[agentConnItem](ctx, s.api, &dynamodb.ScanInput{TableName: &s.table, FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil {
		return nil, fmt.Errorf("listing consoles: %w", err)
	}
	return domains[agentConnItem, agent.Connection](items), nil
}
