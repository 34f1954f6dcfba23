// Command disconnect serves the patient WebSocket API's $disconnect route:
// it forgets the connection.
package main

import (
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/patientws"
	"github.com/patientservicecenter/psc/shared/edge/wiring"
)

func main() {
	k := wiring.New("disconnect")
	svc := chat.NewService(nil, k.PatientConnections(ddb.RateLimit{}), nil, nil, chat.Config{}, nil, nil)
	k.Start(patientws.NewHandler(svc, nil, k.Log).Disconnect)
}
