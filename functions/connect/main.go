// Command connect serves the patient WebSocket API's $connect route: it
// verifies an optional session token and records the connection.
package main

import (
	"time"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
)

func main() {
	k := wiring.New("connect")
	conns := k.PatientConnections(ddb.RateLimit{})
	svc := chat.NewService(nil, conns, nil, k.SessionTokens(), chat.Config{ConnectionTTL: k.Env.Duration("CONNECTION_TTL", 2*time.Hour)}, nil, nil)
	k.Start(patientws.NewHandler(svc, nil, k.Log).Connect)
}
