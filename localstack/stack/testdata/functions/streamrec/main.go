// Command streamrec is a fidelity fixture: it records each stream record
// as "<pk>:<n>" (in the log named by RECORD_SOURCE, "stream" by default)
// and fails an image with failOnce=true the first time it sees it,
// reporting its sequence number as the batch item failure. An image with
// poison=true fails its whole batch every time.
package main

import (
	"cmp"
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientservicecenter/psc/localstack/stack/testdata/recorder"
)

func main() {
	rec, err := recorder.New(context.Background())
	if err != nil {
		panic(err)
	}
	source := cmp.Or(os.Getenv("RECORD_SOURCE"), "stream")
	lambda.Start(func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		for _, r := range ev.Records {
			img := r.Change.NewImage
			pk, n := img["pk"].String(), img["n"].Number()
			if p, ok := img["poison"]; ok && p.Boolean() {
				return resp, errors.New("poison record")
			}
			if fo, ok := img["failOnce"]; ok && fo.Boolean() {
				first, err := rec.Once(ctx, "stream/"+pk+"/"+n)
				if err != nil {
					return resp, err
				}
				if first {
					// Stop here: this record and all after it come again.
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
					return resp, rec.Append(ctx, source, pk+":"+n+":fail")
				}
			}
			if err := rec.Append(ctx, source, pk+":"+n); err != nil {
				return resp, err
			}
		}
		return resp, nil
	})
}
