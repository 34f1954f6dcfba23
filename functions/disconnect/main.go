// Command disconnect serves the patient WebSocket API's $disconnect route:
// it forgets the connection.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/startup"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := startup.Logger("disconnect")
	env := envconf.New()
	connections := env.Required("CONNECTIONS_TABLE")
	cfg := startup.AWS(ctx, log, env)
	conns := ddb.NewConnections(dynamodb.NewFromConfig(cfg), connections, ddb.RateLimit{})
	svc := chat.NewService(nil, conns, nil, nil, chat.Config{}, nil, nil)
	lambda.Start(wsapi.NewHandler(svc, nil, log).Disconnect)
}
