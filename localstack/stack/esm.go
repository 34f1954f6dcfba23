package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/patientservicecenter/psc/localstack/filter"
	"github.com/patientservicecenter/psc/localstack/lambdart"
	"github.com/patientservicecenter/psc/localstack/streamevent"
	"github.com/patientservicecenter/psc/localstack/template"
)

// startEventSources starts a poller for each SQS and DynamoDB event of
// the template's functions, as Lambda's event source mappings do.
func (s *Stack) startEventSources(ctx context.Context) error {
	fns, err := s.functions()
	if err != nil {
		return err
	}
	if len(s.chaos.Schedule()) > 0 {
		s.schedulePollerFaults(ctx)
	}
	for _, fn := range fns {
		for _, name := range template.SortedKeys(fn.events) {
			ev := template.MapOf(fn.events[name])
			props := template.MapOf(ev["Properties"])
			if props["Enabled"] == false {
				continue
			}
			reportFailures := false
			for _, t := range template.ListOf(props["FunctionResponseTypes"]) {
				reportFailures = reportFailures || t == "ReportBatchItemFailures"
			}
			batch := intOr(props["BatchSize"], 10)
			pool := s.pools[fn.id]
			filters, err := compileFilters(props["FilterCriteria"])
			if err != nil {
				return fmt.Errorf("function %s event %s: %w", fn.id, name, err)
			}
			if filters != nil && ev["Type"] != "DynamoDB" {
				return fmt.Errorf("function %s event %s: FilterCriteria on %v events is not supported by the local stack", fn.id, name, ev["Type"])
			}
			switch ev["Type"] {
			case "SQS":
				qarn := fmt.Sprint(props["Queue"])
				url, ok := s.queueURLByARN[qarn]
				if !ok {
					return fmt.Errorf("function %s event %s: queue %s is not in the template", fn.id, name, qarn)
				}
				// Several pollers, as Lambda scales its SQS pollers; on a FIFO
				// queue a group with a message in flight is not handed out
				// again, so a conversation's order holds across pollers.
				for range sqsPollers {
					p := &sqsPoller{s: s, fn: fn.id, pool: pool, url: url, arn: qarn, batch: min(batch, 10), report: reportFailures}
					s.wg.Add(1)
					go func() { defer s.wg.Done(); p.run(ctx) }()
				}
			case "DynamoDB":
				p := &streamPoller{
					s: s, fn: fn.id, pool: pool, arn: fmt.Sprint(props["Stream"]), batch: intOr(props["BatchSize"], 100), report: reportFailures, filters: filters,
					start: fmt.Sprint(props["StartingPosition"]), maxRetries: intOr(props["MaximumRetryAttempts"], -1),
					bisect: props["BisectBatchOnFunctionError"] == true, maxAge: time.Duration(intOr(props["MaximumRecordAgeInSeconds"], -1)) * time.Second,
					function: s.res.Attrs[fn.id+".Arn"],
				}
				p.progress = &streamProgress{function: fn.id, stream: p.arn}
				s.streamMappings = append(s.streamMappings, p.progress)
				if dest := fmt.Sprint(template.MapOf(template.MapOf(props["DestinationConfig"])["OnFailure"])["Destination"]); dest != "<nil>" {
					if p.onFailure = s.queueURLByARN[dest]; p.onFailure == "" {
						return fmt.Errorf("function %s event %s: OnFailure destination %s is not a queue of the template (the local stack sends failures to SQS only)", fn.id, name, dest)
					}
				}
				s.wg.Add(1)
				go func() { defer s.wg.Done(); p.run(ctx) }()
			case "Schedule":
				every, err := scheduleRate(fmt.Sprint(props["Schedule"]))
				if err != nil {
					return fmt.Errorf("function %s event %s: %w", fn.id, name, err)
				}
				if s.opts.ScheduleEvery > 0 {
					every = s.opts.ScheduleEvery
				}
				p := &scheduler{s: s, pool: pool, every: every, rule: fmt.Sprintf("arn:aws:events:%s:000000000000:rule/%s-%s", Region, fn.id, name)}
				s.wg.Add(1)
				go func() { defer s.wg.Done(); p.run(ctx) }()
			default:
				return fmt.Errorf("function %s event %s: type %v is not supported by the local stack", fn.id, name, ev["Type"])
			}
		}
	}
	return nil
}

// scheduleRate reads an EventBridge rate expression: rate(1 minute),
// rate(5 minutes), rate(2 hours), rate(1 day). Cron expressions are not
// run by the local stack.
func scheduleRate(expr string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(expr), "rate(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	fields := strings.Fields(inner)
	if !ok || !ok2 || len(fields) != 2 {
		return 0, fmt.Errorf("schedule %q: the local stack runs rate(N unit) expressions only", expr)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schedule %q: the rate must be a positive whole number", expr)
	}
	unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[fields[1]]
	if unit == 0 {
		return 0, fmt.Errorf("schedule %q: the unit must be minute(s), hour(s) or day(s)", expr)
	}
	return time.Duration(n) * unit, nil
}

// scheduler invokes a function on a schedule with EventBridge's
// "Scheduled Event", as a rule targeting the function does.
type scheduler struct {
	s     *Stack
	pool  *lambdart.Pool
	every time.Duration
	rule  string
}

func (p *scheduler) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ev := events.EventBridgeEvent{Version: "0", ID: fmt.Sprintf("sched-%d", now.UnixNano()), DetailType: "Scheduled Event", Source: "aws.events",
				AccountID: "000000000000", Time: now.UTC(), Region: Region, Resources: []string{p.rule}, Detail: json.RawMessage(`{}`)}
			payload, _ := json.Marshal(ev)
			if _, err := p.pool.Invoke(ctx, payload); err != nil && ctx.Err() == nil {
				p.s.log.Info("scheduled invocation failed", "rule", p.rule, "error", err)
			}
		}
	}
}

// sqsPollers is how many pollers each SQS event source gets.
const sqsPollers = 2

func intOr(v any, def int) int {
	if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
		return n
	}
	return def
}

// batchFailures reads a function's partial batch response. An empty
// answer is a success; an unreadable one fails the whole batch.
func batchFailures(out []byte) (ids []string, whole bool) {
	if len(strings.TrimSpace(string(out))) == 0 || string(out) == "null" {
		return nil, false
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, true
	}
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == "" {
			return nil, true
		}
		ids = append(ids, f.ItemIdentifier)
	}
	return ids, false
}

type sqsPoller struct {
	s        *Stack
	fn       string // the function's logical id
	restarts int64  // the pollers' restarts seen (fault mode)
	pool     *lambdart.Pool
	url      string
	arn      string
	batch    int
	report   bool
}

func (p *sqsPoller) run(ctx context.Context) {
	for ctx.Err() == nil {
		p.s.pollerWait(ctx, p.fn)
		out, err := p.s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &p.url, MaxNumberOfMessages: int32(p.batch), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				p.s.log.Warn("receiving from queue", "queue", p.arn, "error", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(out.Messages) > 0 {
			p.s.pollerRequests.Add(1)
		}
		if len(out.Messages) == 0 {
			continue
		}
		if p.s.pollerRestarted(p.fn, &p.restarts) {
			// The restarted poller never delivers what it held: the
			// messages come back after their visibility timeout.
			continue
		}
		p.deliver(ctx, out.Messages)
	}
}

func (p *sqsPoller) deliver(ctx context.Context, msgs []sqstypes.Message) {
	ev := events.SQSEvent{}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: map[string]string{}, MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource: "aws:sqs", EventSourceARN: p.arn, AWSRegion: Region,
		}
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		}
		ev.Records = append(ev.Records, rec)
	}
	payload, _ := json.Marshal(ev)
	out, err := p.pool.Invoke(ctx, payload)
	if err != nil {
		// The whole batch becomes visible again after its visibility
		// timeout, and the queue's redrive policy counts the receive.
		p.s.log.Info("sqs batch failed", "queue", p.arn, "messages", len(msgs), "error", err)
		return
	}
	failed := map[string]bool{}
	if p.report {
		ids, whole := batchFailures(out)
		if whole {
			return
		}
		for _, id := range ids {
			failed[id] = true
		}
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) > 0 {
		p.s.pollerRequests.Add(1)
		if _, err := p.s.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &p.url, Entries: entries}); err != nil {
			p.s.log.Warn("deleting processed messages", "queue", p.arn, "error", err)
		}
	}
}

type streamPoller struct {
	s          *Stack
	fn         string // the function's logical id
	restarts   int64  // the pollers' restarts seen (fault mode)
	pool       *lambdart.Pool
	arn        string
	batch      int
	report     bool
	filters    []*filter.Pattern // nil: every record
	start      string
	maxRetries int // -1: until the records expire
	// AWS's failure handling: halve a failing batch before counting a
	// retry, skip records older than maxAge (< 0: no limit), and send a
	// description of every batch given up on to onFailure (a queue URL).
	bisect    bool
	maxAge    time.Duration
	onFailure string
	function  string
	progress  *streamProgress
}

// streamProgress is how far a stream mapping has read.
type streamProgress struct {
	function, stream string
	invocations      atomic.Int64
	caughtUp         atomic.Int64 // unix ns; see StreamMapping.CaughtUpAt
}

// StreamMapping is a stream mapping's progress, as GET /_psc/streams
// shows it.
type StreamMapping struct {
	Function string `json:"function"`
	Stream   string `json:"stream"`
	// Invocations counts the function's invocations with the stream's
	// batches, retries included.
	Invocations int64 `json:"invocations"`
	// CaughtUpAt is when the latest read began that found no new record
	// while nothing was left to deliver: every record written before it
	// has been handled (delivered, or given up on). Zero until then.
	CaughtUpAt time.Time `json:"caughtUpAt"`
}

// StreamProgress returns every stream mapping's progress.
func (s *Stack) StreamProgress() []StreamMapping {
	out := make([]StreamMapping, 0, len(s.streamMappings))
	for _, p := range s.streamMappings {
		m := StreamMapping{Function: p.function, Stream: p.stream, Invocations: p.invocations.Load()}
		if ns := p.caughtUp.Load(); ns > 0 {
			m.CaughtUpAt = time.Unix(0, ns).UTC()
		}
		out = append(out, m)
	}
	return out
}

// run reads every shard of the stream in order. Records of one item are
// in one shard, so they are delivered in order; a failing batch is retried
// from its first failed record, holding back everything after it.
func (p *streamPoller) run(ctx context.Context) {
	done := map[string]bool{}
	for ctx.Err() == nil {
		out, err := p.s.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &p.arn})
		if err != nil {
			p.s.log.Warn("describing stream", "stream", p.arn, "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if done[id] {
				continue
			}
			done[id] = true
			// Shards are read one after the other here: the emulator keeps
			// one open shard per stream, so this keeps order without
			// tracking shard lineage.
			p.readShard(ctx, id)
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

func (p *streamPoller) iterator(ctx context.Context, shard string, typ streamtypes.ShardIteratorType, seq string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &p.arn, ShardId: &shard, ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = &seq
	}
	out, err := p.s.streams.GetShardIterator(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

// streamPollInterval is how often a caught-up stream poller reads its
// shard again: "Lambda polls shards in your DynamoDB stream for records at
// a base rate of 4 times per second" (Lambda developer guide, "Using AWS
// Lambda with Amazon DynamoDB").
const streamPollInterval = 250 * time.Millisecond

func (p *streamPoller) readShard(ctx context.Context, shard string) {
	typ := streamtypes.ShardIteratorTypeTrimHorizon
	if p.start == "LATEST" {
		typ = streamtypes.ShardIteratorTypeLatest
	}
	it, err := p.iterator(ctx, shard, typ, "")
	if err != nil {
		p.s.log.Warn("opening shard", "stream", p.arn, "error", err)
		return
	}
	var pending []streamtypes.Record
	attempts, size := 0, p.batch
	for ctx.Err() == nil {
		if len(pending) < p.batch && it != nil {
			readAt := time.Now()
			out, err := p.s.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(int32(p.batch - len(pending)))})
			if err != nil {
				p.s.log.Warn("reading stream", "stream", p.arn, "error", err)
				sleep(ctx, time.Second)
				continue
			}
			pending = append(pending, p.wanted(out.Records)...)
			it = out.NextShardIterator
			if len(out.Records) == 0 && len(pending) == 0 {
				p.progress.caughtUp.Store(readAt.UnixNano())
			}
		}
		if len(pending) == 0 {
			if it == nil {
				return // the shard is closed and read
			}
			// Caught up: read again at Lambda's documented base rate for a
			// DynamoDB stream, four times a second per shard (polling
			// faster only loaded the one emulator every function shares).
			sleep(ctx, streamPollInterval)
			continue
		}
		if p.maxAge >= 0 {
			fresh := 0
			for fresh < len(pending) && time.Since(aws.ToTime(pending[fresh].Dynamodb.ApproximateCreationDateTime)) > p.maxAge {
				fresh++
			}
			if fresh > 0 {
				p.giveUp(ctx, shard, pending[:fresh], "RecordAgeExceeded", attempts)
				pending, attempts = pending[fresh:], 0
				continue
			}
		}
		p.s.pollerWait(ctx, p.fn)
		n := min(len(pending), size)
		failedAt := p.deliver(ctx, pending[:n])
		if failedAt < 0 && p.s.pollerRestarted(p.fn, &p.restarts) {
			// The restarted poller lost its checkpoint: the batch it
			// delivered comes again (at-least-once, as Lambda documents).
			failedAt = p.deliver(ctx, pending[:n])
		}
		if failedAt < 0 {
			pending, attempts, size = pending[n:], 0, p.batch
			continue
		}
		if p.bisect && n-failedAt > 1 {
			// Lambda splits the failing part in two and retries the halves;
			// a split does not count as a retry.
			pending, size = pending[failedAt:], (n-failedAt+1)/2
			continue
		}
		attempts++
		if p.maxRetries >= 0 && attempts > p.maxRetries {
			p.giveUp(ctx, shard, pending[failedAt:n], "RetryAttemptsExhausted", attempts)
			pending, attempts, size = pending[n:], 0, p.batch
			continue
		}
		pending = pending[failedAt:]
		sleep(ctx, backoff(attempts))
	}
}

// giveUp drops records as Lambda does when it stops retrying them, and
// sends the batch's description (not its records) to the OnFailure
// destination, in the shape Lambda sends (Lambda Developer Guide,
// "Retaining records of discarded batches for a DynamoDB event source").
func (p *streamPoller) giveUp(ctx context.Context, shard string, recs []streamtypes.Record, condition string, attempts int) {
	p.s.log.Warn("stream batch given up", "stream", p.arn, "records", len(recs), "attempts", attempts, "condition", condition, "destination", p.onFailure != "")
	if p.onFailure == "" || len(recs) == 0 {
		return
	}
	first, last := recs[0].Dynamodb, recs[len(recs)-1].Dynamodb
	body, _ := json.Marshal(map[string]any{
		"requestContext":  map[string]any{"requestId": newRequestID(), "functionArn": p.function, "condition": condition, "approximateInvokeCount": attempts},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format(time.RFC3339Nano),
		"DDBStreamBatchInfo": map[string]any{
			"shardId": shard, "startSequenceNumber": aws.ToString(first.SequenceNumber), "endSequenceNumber": aws.ToString(last.SequenceNumber),
			"approximateArrivalOfFirstRecord": aws.ToTime(first.ApproximateCreationDateTime).UTC().Format(time.RFC3339Nano),
			"approximateArrivalOfLastRecord":  aws.ToTime(last.ApproximateCreationDateTime).UTC().Format(time.RFC3339Nano),
			"batchSize":                       len(recs), "streamArn": p.arn,
		},
	})
	if _, err := p.s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &p.onFailure, MessageBody: aws.String(string(body))}); err != nil {
		p.s.log.Error("sending a failed batch's description to its OnFailure destination", "stream", p.arn, "error", err)
	}
}

// wanted keeps the records a filter matches (all without filters): as on
// AWS, the others are never delivered and the stream moves past them.
func (p *streamPoller) wanted(recs []streamtypes.Record) []streamtypes.Record {
	if p.filters == nil {
		return recs
	}
	var keep []streamtypes.Record
	for _, r := range recs {
		b, _ := json.Marshal(streamevent.Record(r, p.arn, Region))
		for _, f := range p.filters {
			if f.Match(b) {
				keep = append(keep, r)
				break
			}
		}
	}
	return keep
}

// compileFilters reads an event's FilterCriteria: a record is delivered
// when any of its patterns matches.
func compileFilters(criteria any) ([]*filter.Pattern, error) {
	if criteria == nil {
		return nil, nil
	}
	var out []*filter.Pattern
	for _, f := range template.ListOf(template.MapOf(criteria)["Filters"]) {
		p, err := filter.Compile(fmt.Sprint(template.MapOf(f)["Pattern"]))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("FilterCriteria has no filter")
	}
	return out, nil
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 6)
	return min(d, 3*time.Second)
}

// deliver invokes the function with a batch and returns the index of the
// first record to retry, or -1 when the batch succeeded.
func (p *streamPoller) deliver(ctx context.Context, recs []streamtypes.Record) int {
	ev := events.DynamoDBEvent{}
	for _, r := range recs {
		ev.Records = append(ev.Records, streamevent.Record(r, p.arn, Region))
	}
	payload, _ := json.Marshal(ev)
	out, err := p.pool.Invoke(ctx, payload)
	p.progress.invocations.Add(1)
	if err != nil {
		p.s.log.Info("stream batch failed", "stream", p.arn, "records", len(recs), "error", err)
		return 0
	}
	if !p.report {
		return -1
	}
	ids, whole := batchFailures(out)
	if whole {
		return 0
	}
	first := -1
	for _, id := range ids {
		for i, r := range recs {
			if aws.ToString(r.Dynamodb.SequenceNumber) == id && (first < 0 || i < first) {
				first = i
			}
		}
	}
	return first
}

// sleep waits d or until ctx ends. It paces polling; tests never use it.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// newRequestID returns a random id in the form Lambda gives requests.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
