package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the pool's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func sleeper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sleeper")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/sleeper")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the fixture: %v\n%s", err, out)
	}
	return bin
}

func pool(t *testing.T, bin string, timeout time.Duration, max int) *Pool {
	t.Helper()
	p := NewPool(Function{Name: "sleeper", ARN: "arn:aws:lambda:us-east-1:000000000000:function:sleeper", Binary: bin,
		Env: map[string]string{"FIXTURE": "from-template"}, Timeout: timeout, MemoryMB: 128, MaxConcurrency: max},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(p.Close)
	return p
}

type answer struct {
	PID int    `json:"pid"`
	Env string `json:"env"`
}

func invoke(t *testing.T, p *Pool, payload string) (answer, error) {
	out, err := p.Invoke(context.Background(), []byte(payload))
	var r answer
	if err == nil {
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			t.Errorf("response %s: %v", out, jerr)
		}
	}
	return r, err
}

func TestPool(t *testing.T) {
	bin := sleeper(t)

	t.Run("kills the process of the invocation that made a call", func(t *testing.T) {
		p := pool(t, bin, 5*time.Second, 2)
		traces := make(chan string, 2)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			trace := r.Header.Get("X-Amzn-Trace-Id")
			traces <- trace
			if !p.Runs(trace) {
				t.Errorf("the pool does not know the running invocation %q", trace)
			}
			if r.URL.Query().Has("kill") && !p.KillInvocation(trace) {
				t.Errorf("no invocation to kill for %q", trace)
			}
		}))
		defer srv.Close()
		if _, err := invoke(t, p, `{"call":"`+srv.URL+`/"}`); err != nil {
			t.Fatalf("an invocation that was not killed: %v", err)
		}
		_, err := invoke(t, p, `{"call":"`+srv.URL+`/?kill","sleepMs":2000}`)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" {
			t.Fatalf("the killed invocation answered %v, want Runtime.ExitError", err)
		}
		first, second := <-traces, <-traces
		if first == second || first == "" || p.Runs(second) {
			t.Fatalf("trace ids %q and %q: want two, unique, and none running after", first, second)
		}
		if a, err := invoke(t, p, `{}`); err != nil || a.PID == 0 {
			t.Fatalf("after the kill: %+v %v", a, err)
		}
	})

	t.Run("answers with the template's environment and reuses the process", func(t *testing.T) {
		p := pool(t, bin, 5*time.Second, 2)
		a, err := invoke(t, p, `{}`)
		if err != nil || a.Env != "from-template" || a.PID == 0 {
			t.Fatalf("first: %+v %v", a, err)
		}
		b, _ := invoke(t, p, `{}`)
		if b.PID != a.PID || p.Starts() != 1 {
			t.Fatalf("warm invocation ran in pid %d (first %d), starts %d", b.PID, a.PID, p.Starts())
		}
	})

	t.Run("logs one line per invocation: its wait for a process and its duration", func(t *testing.T) {
		var buf syncBuffer
		p := NewPool(Function{Name: "sleeper", ARN: "arn:aws:lambda:us-east-1:000000000000:function:sleeper", Binary: bin, Timeout: 5 * time.Second, MemoryMB: 128, MaxConcurrency: 1},
			slog.New(slog.NewJSONHandler(&buf, nil)))
		t.Cleanup(p.Close)
		for range 2 {
			if _, err := invoke(t, p, `{}`); err != nil {
				t.Fatal(err)
			}
		}
		var lines int
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "invocation" {
				if _, ok := rec["waited_ms"].(float64); !ok || rec["request_id"] == "" || rec["duration_ms"] == nil {
					t.Fatalf("invocation line %s", l)
				}
				lines++
			}
		}
		if lines != 2 {
			t.Fatalf("%d invocation lines for 2 invocations:\n%s", lines, buf.String())
		}
	})

	t.Run("function errors come back as FunctionError", func(t *testing.T) {
		p := pool(t, bin, 5*time.Second, 1)
		_, err := invoke(t, p, `{"fail":true}`)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Message != "asked to fail" {
			t.Fatalf("err = %v", err)
		}
		if _, err := invoke(t, p, `{}`); err != nil {
			t.Fatalf("after a function error: %v", err)
		}
	})

	t.Run("the timeout kills the process and the next invocation gets a new one", func(t *testing.T) {
		p := pool(t, bin, 300*time.Millisecond, 1)
		first, err := invoke(t, p, `{}`)
		if err != nil {
			t.Fatal(err)
		}
		_, err = invoke(t, p, `{"sleepMs":5000}`)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
			t.Fatalf("err = %v, want Sandbox.Timedout", err)
		}
		next, err := invoke(t, p, `{}`)
		if err != nil || next.PID == first.PID {
			t.Fatalf("after the timeout: pid %d (timed-out process %d), err %v", next.PID, first.PID, err)
		}
	})

	t.Run("overlapping invocations get more processes, never more than the limit", func(t *testing.T) {
		p := pool(t, bin, 10*time.Second, 3)
		var wg sync.WaitGroup
		var mu sync.Mutex
		pids := map[int]bool{}
		var failures atomic.Int32
		for i := 0; i < 9; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := invoke(t, p, `{"sleepMs":200}`)
				if err != nil {
					failures.Add(1)
					return
				}
				mu.Lock()
				pids[r.PID] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		if failures.Load() != 0 || len(pids) < 2 || len(pids) > 3 || p.Starts() > 3 {
			t.Fatalf("9 overlapping invocations used %d processes (starts %d, failures %d); want 2..3", len(pids), p.Starts(), failures.Load())
		}
	})
}
