// Package lambdart runs a function's real bootstrap binary as processes
// behind the Lambda Runtime API (the HTTP contract AWS Lambda uses), so
// lambda.Start works unchanged. Each process serves one invocation at a
// time, like a Lambda execution environment; overlapping invocations get
// more processes, up to a limit. The function's timeout is enforced by
// killing the process, as Lambda does.
package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Function is what a pool needs to run a function.
type Function struct {
	Name           string // the function's name, as AWS_LAMBDA_FUNCTION_NAME
	ARN            string
	Binary         string // path to the bootstrap executable
	Env            map[string]string
	Timeout        time.Duration
	MemoryMB       int
	MaxConcurrency int       // most processes at once; at least 1
	Output         io.Writer // receives the processes' stdout and stderr
}

// FunctionError is an error the function itself reported (the
// /invocation/{id}/error call), or a crash or timeout of its process.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Pool runs invocations of one function.
type Pool struct {
	fn     Function
	log    *slog.Logger
	mu     sync.Mutex
	idle   []*process
	count  int
	waitCh chan struct{} // signalled when a process becomes idle or exits
	closed bool
	seq    atomic.Int64
	starts atomic.Int64
	// Billing: invocations and the time processes spent on them, as
	// Lambda bills them (each rounded up to the millisecond).
	invocations atomic.Int64
	billedMs    atomic.Int64
	initMs      atomic.Int64
	// running: the trace id of each invocation in progress → its process,
	// so a fault can kill the process of the invocation that made a call.
	running map[string]*process
}

// traceSeq makes every invocation's trace id unique across pools.
var traceSeq atomic.Int64

// Usage is what a pool's invocations would be billed for.
type Usage struct {
	Invocations int64 `json:"invocations"`
	BilledMs    int64 `json:"billedMs"`
	MemoryMB    int   `json:"memoryMb"`
	ColdStarts  int64 `json:"coldStarts"`
	// InitMs sums the cold starts' start-to-ready times: from starting the
	// process to its first request for an invocation.
	InitMs int64 `json:"initMs"`
}

// Usage reports the pool's invocations so far.
func (p *Pool) Usage() Usage {
	return Usage{Invocations: p.invocations.Load(), BilledMs: p.billedMs.Load(), MemoryMB: p.fn.MemoryMB, ColdStarts: p.starts.Load(), InitMs: p.initMs.Load()}
}

// NewPool returns a pool; processes start on demand.
func NewPool(fn Function, log *slog.Logger) *Pool {
	if fn.MaxConcurrency < 1 {
		fn.MaxConcurrency = 1
	}
	if fn.Output == nil {
		fn.Output = io.Discard
	}
	return &Pool{fn: fn, log: log.With("function", fn.Name), waitCh: make(chan struct{}, 1), running: map[string]*process{}}
}

// Starts reports how many processes the pool has started (cold starts).
func (p *Pool) Starts() int64 { return p.starts.Load() }

// Timeout is the function's configured timeout.
func (p *Pool) Timeout() time.Duration { return p.fn.Timeout }

type invocation struct {
	id       string
	trace    string // the X-Ray trace id, which the AWS SDK sends on every call (X-Amzn-Trace-Id)
	payload  []byte
	deadline time.Time
	done     chan result
}

type result struct {
	body []byte
	err  error
}

type process struct {
	cmd     *exec.Cmd
	srv     *http.Server
	next    chan *invocation
	mu      sync.Mutex
	current *invocation
	exited  chan struct{}
	// started is when the process was started; ready tells whether it
	// has asked for its first invocation (its init time is the gap).
	started time.Time
	ready   atomic.Bool
}

// Invoke runs one invocation and returns the function's response.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	queued := time.Now()
	proc, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	inv := &invocation{
		id:       fmt.Sprintf("%08x-0000-4000-8000-%012d", time.Now().UnixNano()&0xffffffff, p.seq.Add(1)),
		payload:  payload,
		deadline: time.Now().Add(p.fn.Timeout),
		done:     make(chan result, 1),
	}
	inv.trace = fmt.Sprintf("Root=1-%08x-%024x;Sampled=0", time.Now().Unix()&0xffffffff, traceSeq.Add(1))
	// Known before the process can take it: its first call may come at once.
	p.mu.Lock()
	p.running[inv.trace] = proc
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.running, inv.trace)
		p.mu.Unlock()
	}()
	// A new process first initialises; Lambda allows 10 s for that apart
	// from the function's own timeout.
	select {
	case proc.next <- inv:
	case <-proc.exited:
		p.release(proc, false)
		return nil, &FunctionError{Type: "Runtime.ExitError", Message: "the process exited before taking the invocation"}
	case <-time.After(10 * time.Second):
		p.kill(proc)
		return nil, &FunctionError{Type: "Runtime.InitTimeout", Message: "the process did not ask for an invocation within 10s"}
	case <-ctx.Done():
		p.release(proc, true)
		return nil, ctx.Err()
	}
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	began := time.Now()
	defer func() {
		p.invocations.Add(1)
		p.billedMs.Add((time.Since(began).Nanoseconds() + 999_999) / 1_000_000)
		// One line per invocation, as Lambda's REPORT line, plus how long
		// it waited for a free process (the local stack's own queueing):
		// docs/performance.md reads them to split a hop's time.
		p.log.Info("invocation", "request_id", inv.id, "waited_ms", began.Sub(queued).Milliseconds(), "duration_ms", time.Since(began).Milliseconds())
	}()
	select {
	case r := <-inv.done:
		p.release(proc, true)
		return r.body, r.err
	case <-proc.exited:
		p.release(proc, false)
		return nil, &FunctionError{Type: "Runtime.ExitError", Message: "the process exited during the invocation"}
	case <-timer.C:
		p.kill(proc)
		return nil, &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", p.fn.Timeout.Seconds())}
	}
}

func (p *Pool) acquire(ctx context.Context) (*process, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("pool is closed")
		}
		if n := len(p.idle); n > 0 {
			proc := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			select {
			case <-proc.exited:
				p.release(proc, false)
				continue
			default:
				return proc, nil
			}
		}
		if p.count < p.fn.MaxConcurrency {
			p.count++
			p.mu.Unlock()
			proc, err := p.start()
			if err != nil {
				p.mu.Lock()
				p.count--
				p.mu.Unlock()
				return nil, err
			}
			return proc, nil
		}
		p.mu.Unlock()
		select {
		case <-p.waitCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release returns a process to the idle list, or forgets a dead one.
func (p *Pool) release(proc *process, alive bool) {
	p.mu.Lock()
	select {
	case <-proc.exited:
		alive = false
	default:
	}
	if alive && !p.closed {
		p.idle = append(p.idle, proc)
	} else {
		p.count--
		proc.stop()
	}
	p.mu.Unlock()
	select {
	case p.waitCh <- struct{}{}:
	default:
	}
}

func (p *Pool) kill(proc *process) {
	if proc.cmd.Process != nil {
		_ = proc.cmd.Process.Kill()
	}
	<-proc.exited
	p.release(proc, false)
}

// Runs reports whether an invocation of this pool with the trace id
// (an X-Amzn-Trace-Id header's value) is in progress.
func (p *Pool) Runs(trace string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.running[traceRoot(trace)]
	return ok
}

// KillInvocation kills the process running the invocation with the trace
// id, as a crash or an out-of-memory kill would: the invocation ends in
// Runtime.ExitError. It reports whether there was one.
func (p *Pool) KillInvocation(trace string) bool {
	p.mu.Lock()
	proc, ok := p.running[traceRoot(trace)]
	p.mu.Unlock()
	if ok && proc.cmd.Process != nil {
		_ = proc.cmd.Process.Kill()
	}
	return ok
}

// traceRoot is the part of an X-Amzn-Trace-Id header the runtime gave
// (the SDK may add fields such as Lineage).
func traceRoot(h string) string {
	parts := strings.Split(h, ";")
	root, sampled := "", ""
	for _, part := range parts {
		switch {
		case strings.HasPrefix(part, "Root="):
			root = part
		case strings.HasPrefix(part, "Sampled="):
			sampled = part
		}
	}
	return root + ";" + sampled
}

// Close stops every process.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, proc := range idle {
		proc.stop()
	}
}

func (proc *process) stop() {
	if proc.cmd.Process != nil {
		_ = proc.cmd.Process.Kill()
	}
	<-proc.exited
	_ = proc.srv.Close()
}

func (p *Pool) start() (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the runtime API: %w", err)
	}
	proc := &process{next: make(chan *invocation), exited: make(chan struct{})}
	proc.srv = &http.Server{Handler: p.runtimeAPI(proc), ReadHeaderTimeout: 5 * time.Second}
	// Set before the runtime API's goroutine starts, which reads it.
	proc.started = time.Now()
	go func() { _ = proc.srv.Serve(ln) }()

	cmd := exec.Command(p.fn.Binary)
	cmd.Env = p.environ(ln.Addr().String())
	cmd.Stdout, cmd.Stderr = p.fn.Output, p.fn.Output
	if err := cmd.Start(); err != nil {
		_ = proc.srv.Close()
		return nil, fmt.Errorf("starting %s: %w", p.fn.Binary, err)
	}
	proc.cmd = cmd
	p.starts.Add(1)
	go func() {
		err := cmd.Wait()
		p.log.Debug("process exited", "pid", cmd.Process.Pid, "error", err)
		close(proc.exited)
	}()
	return proc, nil
}

func (p *Pool) environ(runtimeAPI string) []string {
	env := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"TZ":                              ":UTC",
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        p.fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(p.fn.MemoryMB),
		"_HANDLER":                        "bootstrap",
	}
	for k, v := range p.fn.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

const prefix = "/2018-06-01/runtime/"

func (p *Pool) runtimeAPI(proc *process) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if proc.ready.CompareAndSwap(false, true) {
			p.initMs.Add(time.Since(proc.started).Milliseconds())
		}
		var inv *invocation
		select {
		case inv = <-proc.next:
		case <-r.Context().Done():
			return
		}
		proc.mu.Lock()
		proc.current = inv
		proc.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", p.fn.ARN)
		h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	})
	finish := func(w http.ResponseWriter, r *http.Request, isErr bool) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		proc.mu.Lock()
		inv := proc.current
		if inv != nil && inv.id == r.PathValue("id") {
			proc.current = nil
		} else {
			inv = nil
		}
		proc.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		res := result{body: body}
		if isErr {
			fe := &FunctionError{}
			if json.Unmarshal(body, fe) != nil || fe.Type == "" {
				fe = &FunctionError{Type: "Unhandled", Message: string(bytes.TrimSpace(body))}
			}
			res = result{err: fe}
		}
		inv.done <- res
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}
	mux.HandleFunc("POST "+prefix+"invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) { finish(w, r, false) })
	mux.HandleFunc("POST "+prefix+"invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) { finish(w, r, true) })
	mux.HandleFunc("POST "+prefix+"init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		p.log.Error("function failed to initialise", "error", string(bytes.TrimSpace(body)))
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}
