// Command agentconnect serves the agent WebSocket API's $connect (the
// console's Cognito token verified against the pool's keys, issuer,
// client and expiry) and $disconnect (the agent goes offline with their
// last console).
package main

import (
	"time"

	"github.com/patientservicecenter/psc/shared/adapter/auth"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/edge/agentws"
	"github.com/patientservicecenter/psc/shared/edge/frames"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
)

func main() {
	k := wiring.New("agentconnect")
	verifier, err := auth.NewVerifier(k.Ctx(), auth.Config{Issuer: k.Env.Required("AGENT_POOL_ISSUER"), ClientID: k.Env.Required("AGENT_POOL_CLIENT_ID"),
		JWKSURL: k.Env.Required("AGENT_JWKS_URL"), Skew: k.Env.Duration("AGENT_TOKEN_SKEW", 30*time.Second)}, k.Log)
	k.Check("the agent pool's keys", err)
	svc := agent.NewService(verifier, k.Agents(), k.AgentConnections(ddb.RateLimit{}), nil, frames.Encode, agent.Config{}, nil)
	k.Start(agentws.NewHandler(svc, nil, k.Log).Route)
}
