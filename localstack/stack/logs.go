package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Log delivery, as Lambda does it: each function's output lines go to its
// log group (LoggingConfig.LogGroup), in a stream of its own, so
// `aws logs tail` against the emulator shows what CloudWatch would. The
// permission AWS checks for this (the role's logs:CreateLogStream and
// logs:PutLogEvents on the log stream) is checked before the function
// starts (checkExecutionRoles); the stack then writes with its own
// credentials, because the emulator evaluates the log group's ARN where
// AWS evaluates the stream's.

// createLogGroups creates the template's log groups in the emulator.
func (s *Stack) createLogGroups(ctx context.Context) error {
	s.logs = cloudwatchlogs.NewFromConfig(awsConfig(s.emu.endpoint))
	for _, id := range s.ofType("AWS::Logs::LogGroup") {
		name := s.res.Refs[id]
		_, err := s.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name)})
		var exists *logtypes.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating log group %s: %w", id, err)
		}
	}
	return nil
}

// logSink is an io.Writer that delivers whole lines to a log stream,
// batched about every half second.
type logSink struct {
	s             *Stack
	group, stream string

	mu      sync.Mutex
	partial []byte
	events  []logtypes.InputLogEvent
	wake    chan struct{}
}

// newLogSink creates a function's log stream, named as Lambda names them,
// and starts delivering to it until the stack stops.
func (s *Stack) newLogSink(ctx context.Context, group string) (*logSink, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b)
	if _, err := s.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream}); err != nil {
		return nil, fmt.Errorf("creating a log stream in %s: %w", group, err)
	}
	k := &logSink{s: s, group: group, stream: stream, wake: make(chan struct{}, 1)}
	s.wg.Add(1)
	go k.run()
	return k, nil
}

func (k *logSink) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.partial = append(k.partial, p...)
	for {
		i := bytes.IndexByte(k.partial, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(k.partial[:i], "\r"); len(line) > 0 {
			k.events = append(k.events, logtypes.InputLogEvent{Message: aws.String(string(line)), Timestamp: aws.Int64(time.Now().UnixMilli())})
		}
		k.partial = k.partial[i+1:]
	}
	if len(k.events) >= 500 {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (k *logSink) run() {
	defer k.s.wg.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-k.s.stopping:
			k.flush()
			return
		case <-tick.C:
		case <-k.wake:
		}
		k.flush()
	}
}

func (k *logSink) flush() {
	k.mu.Lock()
	events := k.events
	k.events = nil
	k.mu.Unlock()
	for len(events) > 0 {
		n := min(len(events), 1000)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := k.s.logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &k.group, LogStreamName: &k.stream, LogEvents: events[:n]})
		cancel()
		if err != nil {
			k.s.log.Warn("delivering function logs to the emulator", "group", k.group, "error", err)
			return
		}
		events = events[n:]
	}
}
