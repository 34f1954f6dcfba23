// Command redrive replays what the system gave up on (localstack/redrive;
// docs/operations.md, "Alarms and the dashboard"): a dead-letter queue's
// messages go back to their queue, and the stream batches in a failure
// queue are read again and handed to their function.
//
//	go run ./scripts/redrive -dlq BotTurnDLQ                 # the running local stack
//	go run ./scripts/redrive -stream-failures StreamFailureQueue
//	go run ./scripts/redrive -aws -dlq psc-prod-bot-turns-dlq.fifo   # an AWS account (its default credentials and region)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/localstack/redrive"
	"github.com/patientservicecenter/psc/localstack/stack"
)

func main() {
	stack := flag.String("stack", ".local/stack.json", "the running local stack's stack.json")
	onAWS := flag.Bool("aws", false, "redrive in the AWS account of the default credentials instead of the local stack")
	dlq := flag.String("dlq", "", "a dead-letter queue to move back to its queue: the template's name for it (BotTurnDLQ, RoutingDLQ) locally, its queue name or URL in AWS")
	failures := flag.String("stream-failures", "", "a stream failure queue to replay (StreamFailureQueue locally, its queue name or URL in AWS)")
	flag.Parse()
	if (*dlq == "") == (*failures == "") {
		fmt.Fprintln(os.Stderr, "redrive: give one of -dlq or -stream-failures")
		os.Exit(2)
	}
	if err := run(context.Background(), *stack, *onAWS, *dlq, *failures); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stackFile string, onAWS bool, dlq, failures string) error {
	var cfg aws.Config
	var queues map[string]string
	var invoke *lambda.Client
	if onAWS {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return err
		}
		invoke = lambda.NewFromConfig(cfg)
	} else {
		b, err := os.ReadFile(stackFile)
		if err != nil {
			return fmt.Errorf("%w (is the stack running? make run)", err)
		}
		var s stack.Outputs
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("reading %s: %w", stackFile, err)
		}
		cfg = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(s.Emulator)}
		queues = s.Queues
		// The local stack serves Lambda's Invoke API for its functions.
		invoke = lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(strings.TrimRight(s.Web, "/")) })
	}
	q := sqs.NewFromConfig(cfg)
	url := func(name string) (string, error) {
		if u, ok := queues[name]; ok {
			return u, nil
		}
		if strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "http://") {
			return name, nil
		}
		out, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		if err != nil {
			return "", fmt.Errorf("finding the queue %s: %w", name, err)
		}
		return aws.ToString(out.QueueUrl), nil
	}
	if dlq != "" {
		from, err := url(dlq)
		if err != nil {
			return err
		}
		to, err := redrive.Source(ctx, q, from)
		if err != nil {
			return err
		}
		n, err := redrive.MoveBack(ctx, q, from, to)
		fmt.Printf("moved %d messages from %s back to %s\n", n, from, to)
		return err
	}
	from, err := url(failures)
	if err != nil {
		return err
	}
	r, err := redrive.ReplayStreamFailures(ctx, q, dynamodbstreams.NewFromConfig(cfg), invoke, from, cfg.Region)
	fmt.Printf("replayed %d batches (%d records); %d no longer in their stream (act on what the function's log names)\n", r.Batches, r.Records, r.Expired)
	return err
}
