// Package stacktest gives tests a running local stack: the one named by
// PSC_STACK (the stack.json of a stack started by `make run`), or a new
// one started in-process with its own emulator and free ports.
package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/localstack/stack"
)

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Env is a stack for tests.
type Env struct {
	Outputs stack.Outputs
	Stack   *stack.Stack // nil when the stack runs in another process
	// Logs watches what the stack writes, for canaries (nil when the stack
	// runs in another process).
	Logs *Watch
}

// Main starts a stack for a test package's TestMain, runs the tests, and
// stops it. opts may be nil for the project's own template.
func Main(m *testing.M, env **Env, opts *stack.Options) {
	e, stop, err := start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local stack:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	stop()
	os.Exit(code)
}

func start(opts *stack.Options) (*Env, func(), error) {
	if path := os.Getenv("PSC_STACK"); path != "" && opts == nil {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("PSC_STACK: %w", err)
		}
		var o stack.Outputs
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, nil, fmt.Errorf("PSC_STACK: %w", err)
		}
		return &Env{Outputs: o}, func() {}, nil
	}
	o := stack.Options{}
	if opts != nil {
		o = *opts
	}
	if o.Root == "" {
		o.Root = Root()
	}
	if o.Venv == "" {
		o.Venv = filepath.Join(Root(), ".venv")
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "psc-stack-")
		if err != nil {
			return nil, nil, err
		}
		o.StateDir = dir
	}
	if o.Ports == nil {
		o.Ports = map[string]int{}
	}
	if o.Output == nil {
		o.Output = stackOutput()
	}
	watch := newWatch(o.Output)
	o.Output = watch
	if o.Log == nil {
		// The stack's own log goes with the functions' output (the file, or
		// the test log with PSC_STACK_LOG=1), watched too.
		o.Log = slog.New(slog.NewTextHandler(watch, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return &Env{Outputs: s.Outputs, Stack: s, Logs: watch}, func() { s.Close(); _ = os.RemoveAll(o.StateDir) }, nil
}

// stackOutput is where functions' and the emulator's output goes: the
// test log when PSC_STACK_LOG=1, else a file in the temp dir.
func stackOutput() io.Writer {
	if os.Getenv("PSC_STACK_LOG") == "1" {
		return os.Stderr
	}
	f, err := os.CreateTemp("", "psc-stack-*.log")
	if err != nil {
		return io.Discard
	}
	return f
}

// StreamsQuiet waits until every stream mapping of the stack has handled
// every record written so far and nothing more is on its way
// (stack.WaitStreamsQuiet). Tests read what the stream consumers write
// (surveys, figures) after it, instead of after a guessed pause.
func (e *Env) StreamsQuiet(t testing.TB, limit time.Duration) {
	t.Helper()
	if err := stack.WaitStreamsQuiet(context.Background(), e.Outputs.Web, limit); err != nil {
		t.Fatal(err)
	}
}
