package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/protocol"
)

// Config holds the service's settings.
type Config struct {
	// ConnectionTTL is how long a connection record outlives its token
	// before DynamoDB's TTL removes a record left by a lost $disconnect.
	ConnectionTTL time.Duration
}

// Service serves the agent API: it admits consoles with a verified token
// and handles their actions, each checked against the caller's role.
type Service struct {
	verify Verifier
	agents Agents
	conns  Connections
	push   Pusher
	cfg    Config
	now    func() time.Time
}

// NewService returns a Service; now defaults to time.Now.
func NewService(v Verifier, a Agents, c Connections, p Pusher, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.ConnectionTTL == 0 {
		cfg.ConnectionTTL = 2 * time.Hour
	}
	return &Service{verify: v, agents: a, conns: c, push: p, cfg: cfg, now: now}
}

// Connect admits a console: the token must verify and its holder must be
// in one of the pool's groups. The agent's profile is refreshed from the
// token and the connection recorded with the token's expiry, which every
// later action checks.
func (s *Service) Connect(ctx context.Context, connectionID, token string) (Identity, error) {
	if token == "" {
		return Identity{}, fault.Errorf(fault.Unauthorized, "a token is required")
	}
	id, err := s.verify.Verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if !id.Has(RoleAgent) && !id.Has(RoleSupervisor) && !id.Has(RoleAdmin) {
		return Identity{}, fault.Errorf(fault.Forbidden, "the user is in none of the agent, supervisor or admin groups")
	}
	now := s.now()
	if err := s.agents.SaveProfile(ctx, id, now); err != nil {
		return Identity{}, fmt.Errorf("saving the agent's profile: %w", err)
	}
	c := Connection{ID: connectionID, AgentID: id.AgentID, Roles: id.Roles, ConnectedAt: now,
		TokenExpiresAt: id.ExpiresAt, ExpiresAt: id.ExpiresAt.Add(s.cfg.ConnectionTTL)}
	if err := s.conns.Put(ctx, c); err != nil {
		return Identity{}, fmt.Errorf("recording the connection: %w", err)
	}
	return id, nil
}

// Disconnect forgets a console. When it was the agent's last one, the
// agent goes offline, so routing stops offering them conversations.
func (s *Service) Disconnect(ctx context.Context, connectionID string) error {
	c, ok, err := s.conns.Delete(ctx, connectionID)
	if err != nil || !ok {
		return err
	}
	rest, err := s.conns.ForAgent(ctx, c.AgentID)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return nil
	}
	if _, err := s.agents.SetPresence(ctx, c.AgentID, Offline, s.now()); err != nil {
		return fmt.Errorf("setting the agent offline: %w", err)
	}
	return nil
}

// Handle runs one action of a console: the connection must be known, under
// its rate limit, and its token still valid; the action then checks the
// caller's role.
func (s *Service) Handle(ctx context.Context, connectionID string, f protocol.AgentFrame) error {
	now := s.now()
	c, err := s.conns.Admit(ctx, connectionID, now)
	if err != nil {
		return err
	}
	if !now.Before(c.TokenExpiresAt) {
		return fault.Errorf(fault.Unauthorized, "the sign-in has expired; reconnect with a fresh token")
	}
	switch f.Action {
	case protocol.ActionPresence:
		return s.presence(ctx, c, f)
	default:
		return fault.Errorf(fault.BadRequest, "unknown action %q", f.Action)
	}
}

// presence sets the caller's presence and tells every console of theirs.
func (s *Service) presence(ctx context.Context, c Connection, f protocol.AgentFrame) error {
	id := Identity{Roles: c.Roles}
	if !id.CanTakeConversations() {
		return fault.Errorf(fault.Forbidden, "only agents and supervisors have a presence")
	}
	a, err := s.agents.SetPresence(ctx, c.AgentID, Presence(f.Status), s.now())
	if err != nil {
		return fmt.Errorf("setting presence: %w", err)
	}
	return s.ToAgent(ctx, c.AgentID, protocol.PresenceFrame{Type: "presence", Status: string(a.Presence), RequestID: f.RequestID})
}

// ToAgent pushes a frame to every open console of the agent.
func (s *Service) ToAgent(ctx context.Context, agentID string, frame any) error {
	conns, err := s.conns.ForAgent(ctx, agentID)
	if err != nil {
		return err
	}
	b := protocol.Encode(frame)
	for _, c := range conns {
		if err := s.push.Push(ctx, c.ID, b); err != nil {
			return fmt.Errorf("pushing to the agent: %w", err)
		}
	}
	return nil
}
