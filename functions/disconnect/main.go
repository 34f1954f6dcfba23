// Command disconnect serves the patient WebSocket API's $disconnect route:
// it forgets the connection.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/ddb"
	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/wsapi"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger().With("function", "disconnect")
	env := envconf.New()
	connections := env.Required("CONNECTIONS_TABLE")
	if err := env.Err(); err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("loading AWS config", "error", err)
		os.Exit(1)
	}
	conns := ddb.NewConnections(dynamodb.NewFromConfig(cfg), connections, ddb.RateLimit{})
	svc := chat.NewService(nil, conns, nil, nil, chat.Config{}, nil, nil)
	lambda.Start(wsapi.NewHandler(svc, nil, log).Disconnect)
}
