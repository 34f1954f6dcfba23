// Command sqsrec is a fidelity fixture: it records each SQS delivery as
// "<id>:ok" or "<id>:fail" and reports failures as partial batch failures.
// A message {"id":..,"fail":N} fails its first N deliveries (N<0: always).
// On a FIFO queue, everything after a failure in a batch is reported
// failed too, as AWS asks of FIFO consumers.
package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientservicecenter/psc/localstack/stack/testdata/recorder"
)

func main() {
	rec, err := recorder.New(context.Background())
	if err != nil {
		panic(err)
	}
	lambda.Start(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		failing := false
		for _, m := range ev.Records {
			var body struct {
				ID   string `json:"id"`
				Fail int    `json:"fail"`
			}
			_ = json.Unmarshal([]byte(m.Body), &body)
			source := m.EventSourceARN[strings.LastIndex(m.EventSourceARN, ":")+1:]
			fifo := strings.HasSuffix(source, ".fifo")
			if failing && fifo {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			fail := body.Fail < 0
			if body.Fail > 0 {
				first, err := rec.Once(ctx, source+"/"+body.ID)
				if err != nil {
					return resp, err
				}
				fail = first
			}
			entry := body.ID + ":ok"
			if fail {
				entry, failing = body.ID+":fail", true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
			if err := rec.Append(ctx, source, entry); err != nil {
				return resp, err
			}
		}
		return resp, nil
	})
}
