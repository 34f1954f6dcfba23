// Command echo is a fidelity fixture: it refuses $connect with ?deny=1,
// records $disconnect, and answers every other frame with its route.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/patientservicecenter/psc/localstack/stack/testdata/recorder"
	"github.com/patientservicecenter/psc/shared/adapter/push"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	mgmt, err := push.NewClient(cfg, os.Getenv("WS_ENDPOINT"))
	if err != nil {
		panic(err)
	}
	rec, err := recorder.New(ctx)
	if err != nil {
		panic(err)
	}
	lambda.Start(func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		id := req.RequestContext.ConnectionID
		switch req.RequestContext.EventType {
		case "CONNECT":
			if req.QueryStringParameters["deny"] == "1" {
				return events.APIGatewayProxyResponse{StatusCode: 403}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		case "DISCONNECT":
			return events.APIGatewayProxyResponse{StatusCode: 200}, rec.Append(ctx, "disconnect", id)
		}
		// One log line per frame, for the log delivery test.
		fmt.Printf("{\"msg\":\"echoed\",\"route\":%q,\"connectionId\":%q}\n", req.RequestContext.RouteKey, id)
		b, _ := json.Marshal(map[string]string{"route": req.RequestContext.RouteKey, "body": req.Body, "connectionId": id})
		_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: b})
		return events.APIGatewayProxyResponse{StatusCode: 200}, err
	})
}
