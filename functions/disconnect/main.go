// Command disconnect serves the patient WebSocket API's $disconnect route:
// it forgets the connection.
package main

import (
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/wiring"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	k := wiring.New("disconnect")
	svc := chat.NewService(nil, k.PatientConnections(ddb.RateLimit{}), nil, nil, chat.Config{}, nil, nil)
	k.Start(wsapi.NewHandler(svc, nil, k.Log).Disconnect)
}
