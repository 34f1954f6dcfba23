package stack

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patientservicecenter/psc/localstack/chaos"
)

// The fault mode (Options.Faults, `make run FAULTS=plan.json`): the
// meter, in front of the emulator, and each gateway's @connections API
// ask the plan, call by call, whether to answer as AWS does when things
// fail. The calling function is known by the trace id the AWS SDK sends
// on every call (X-Amzn-Trace-Id, from the runtime's Lambda-Runtime-Trace-Id),
// so a kill lands on the process of the invocation that made the call.

// callingFunction returns the logical id of the function whose invocation
// sent the request, or "" (the stack's own pollers, a test).
func (s *Stack) callingFunction(r *http.Request) string {
	trace := r.Header.Get("X-Amzn-Trace-Id")
	if trace == "" {
		return ""
	}
	for id, p := range s.pools {
		if p.Runs(trace) {
			return id
		}
	}
	return ""
}

// faultAnswers are how a service says it is throttling or failing.
type faultAnswers struct{ throttle, internal awsError }

var serviceFaults = map[string]faultAnswers{
	chaos.DynamoDB: {
		throttle: awsError{http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."},
		internal: awsError{http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"},
	},
	chaos.SQS: {
		throttle: awsError{http.StatusBadRequest, "com.amazonaws.sqs#ThrottlingException", "Rate exceeded"},
		internal: awsError{http.StatusInternalServerError, "com.amazonaws.sqs#InternalError", "We encountered an internal error. Please try again."},
	},
	chaos.Connections: {
		throttle: awsError{http.StatusTooManyRequests, "LimitExceededException", "Rate exceeded"},
		internal: awsError{http.StatusInternalServerError, "InternalServerErrorException", "Internal server error"},
	},
}

// fault applies the plan to one call. serve does the call; drop, for
// @connections, closes the client's connection. It reports whether it
// answered (a fault fired); if not, the caller serves the call itself.
func (s *Stack) fault(w http.ResponseWriter, r *http.Request, service, op string, serve func(http.ResponseWriter), drop func()) bool {
	if s.chaos == nil {
		return false
	}
	fn := s.callingFunction(r)
	kind := s.chaos.Decide(chaos.Call{Service: service, Op: op, Function: fn, Invocation: r.Header.Get("X-Amzn-Trace-Id")})
	answers := serviceFaults[service]
	answer := func(e awsError) {
		if service != chaos.DynamoDB {
			e.write(w)
			return
		}
		// DynamoDB's answers carry the CRC32 of their body, which the
		// SDK checks.
		body, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.message})
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		w.WriteHeader(e.status)
		_, _ = w.Write(body)
	}
	kill := func() bool {
		trace := r.Header.Get("X-Amzn-Trace-Id")
		return fn != "" && s.pools[fn].KillInvocation(trace)
	}
	switch kind {
	case chaos.Throttle:
		answer(answers.throttle)
	case chaos.Error:
		answer(answers.internal)
	case chaos.ErrorAfter:
		serve(discard{})
		answer(answers.internal)
	case chaos.KillBefore:
		if !kill() {
			return false // not a function's call: nothing to kill
		}
		answer(answers.internal)
	case chaos.KillAfter:
		if fn == "" {
			return false
		}
		serve(discard{})
		kill()
		answer(answers.internal)
	case chaos.Hang:
		if fn == "" {
			return false // only an invocation has a timeout to run into
		}
		<-r.Context().Done()
	case chaos.Drop:
		if drop == nil {
			return false
		}
		drop()
		serve(w)
	default:
		return false
	}
	s.log.Info("fault injected", "fault", kind, "service", service, "op", op, "function", fn)
	return true
}

// connectionsFault applies the plan to an @connections call (the
// operation is the HTTP method: POST, GET, DELETE).
func (s *Stack) connectionsFault(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter), drop func()) bool {
	return s.fault(w, r, chaos.Connections, r.Method, serve, drop)
}

// serviceOf names the service and operation of a request the meter sees.
func serviceOf(target string) (service, op string) {
	switch {
	case strings.HasPrefix(target, "DynamoDB_20120810."):
		return chaos.DynamoDB, strings.TrimPrefix(target, "DynamoDB_20120810.")
	case strings.HasPrefix(target, "AmazonSQS."):
		return chaos.SQS, strings.TrimPrefix(target, "AmazonSQS.")
	}
	return "", ""
}

// discard is a response writer that keeps nothing: the answer to a call
// whose caller is about to be told something else.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (discard) WriteHeader(int)             {}

// pollerFaults are the scheduled faults of the event source mappings'
// pollers: paused (a backlog builds), or restarted (an SQS poller drops
// the batch it holds, which comes back after its visibility timeout; a
// stream poller loses its checkpoint and delivers its last batch again).
type pollerFaults struct {
	mu       sync.Mutex
	paused   map[string]time.Time // function ("" for every one) → paused until
	restarts map[string]int64     // function ("" for every one) → restarts so far
}

// schedulePollerFaults starts the plan's pauses and restarts, timed from
// now.
func (s *Stack) schedulePollerFaults(ctx context.Context) {
	s.pf = &pollerFaults{paused: map[string]time.Time{}, restarts: map[string]int64{}}
	start := time.Now()
	for _, f := range s.chaos.Schedule() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sleep(ctx, time.Until(start.Add(f.At.Duration)))
			if ctx.Err() != nil {
				return
			}
			s.pf.mu.Lock()
			if f.Kind == chaos.Pause {
				s.pf.paused[f.Function] = time.Now().Add(f.For.Duration)
			} else {
				s.pf.restarts[f.Function]++
			}
			s.pf.mu.Unlock()
			s.chaos.Injected(f.Kind, chaos.Pollers, f.Function)
			s.log.Info("fault injected", "fault", f.Kind, "service", chaos.Pollers, "function", f.Function, "for", f.For.Duration)
		}()
	}
}

// pollerWait returns when the function's pollers are not paused.
func (s *Stack) pollerWait(ctx context.Context, fn string) {
	if s.pf == nil {
		return
	}
	for ctx.Err() == nil {
		s.pf.mu.Lock()
		until := s.pf.paused[fn]
		if all := s.pf.paused[""]; all.After(until) {
			until = all
		}
		s.pf.mu.Unlock()
		if !time.Now().Before(until) {
			return
		}
		sleep(ctx, time.Until(until))
	}
}

// pollerRestarted reports whether the function's pollers were restarted
// since the poller last looked (seen is its count).
func (s *Stack) pollerRestarted(fn string, seen *int64) bool {
	if s.pf == nil {
		return false
	}
	s.pf.mu.Lock()
	n := s.pf.restarts[fn] + s.pf.restarts[""]
	s.pf.mu.Unlock()
	if n == *seen {
		return false
	}
	*seen = n
	return true
}
