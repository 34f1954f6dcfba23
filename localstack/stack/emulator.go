package stack

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// emulator is the AWS emulator the stack talks to: one it started
// (MiniStack from the project's virtual environment) or one already
// running at an endpoint.
type emulator struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	stateDir string
}

// launcher serves MiniStack's application with its IAM check's repeated
// work kept (psc_ministack.py says what and why; same answers).
//
//go:embed psc_ministack.py
var launcher []byte

// startEmulator starts MiniStack on a free loopback port.
//
// MiniStack is an ASGI application; its own command serves it with
// hypercorn, whose HTTP parsing is pure Python and took about 30 % of the
// emulator's CPU under the load generator (a py-spy profile,
// docs/performance.md). The stack serves the same application with
// uvicorn on uvloop and httptools (C parsers, pinned in
// scripts/requirements.txt): same answers, a third less time per call.
func startEmulator(ctx context.Context, venv string, out io.Writer) (*emulator, error) {
	python := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(filepath.Join(venv, "bin", "uvicorn")); err != nil {
		return nil, fmt.Errorf("the emulator is not installed in %s: run `make tools` (or set AWS_ENDPOINT_URL to a running emulator)", venv)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	stateDir, err := os.MkdirTemp("", "psc-ministack-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "psc_ministack.py"), launcher, 0o600); err != nil {
		return nil, fmt.Errorf("writing the emulator's launcher: %w", err)
	}
	cmd := exec.Command(python, "-m", "uvicorn", "psc_ministack:app", "--app-dir", stateDir, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--loop", "uvloop", "--http", "httptools", "--lifespan", "on", "--log-level", "warning", "--no-access-log",
		// MiniStack's own keep-alive, so the functions' pooled
		// connections are not closed under them between calls.
		"--timeout-keep-alive", "75")
	// Its own state directory and no IoT listener (which would take port
	// 8883 whatever BIND_HOST says), so several stacks can run at once.
	cmd.Env = append(os.Environ(), "GATEWAY_PORT="+strconv.Itoa(port), "BIND_HOST=127.0.0.1", "LOG_LEVEL=WARNING",
		"MINISTACK_REGION="+Region, "STATE_DIR="+stateDir, "IOT_MTLS_ENABLED=0", "PERSIST_STATE=0",
		// IAM enforced: SigV4 checked and every call evaluated against the
		// caller's policies, as in AWS (the stack's own calls are root's).
		"AUTH=true")
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a Ctrl-C in the terminal reaches the stack
	// first and the stack stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	e := &emulator{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, exited: make(chan struct{}), stateDir: stateDir}
	go func() { _ = cmd.Wait(); close(e.exited) }()
	if err := e.waitHealthy(ctx, 90*time.Second); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

// attachEmulator uses an emulator (or AWS) already at endpoint.
func attachEmulator(ctx context.Context, endpoint string) (*emulator, error) {
	e := &emulator{endpoint: endpoint}
	if err := e.waitHealthy(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return e, nil
}

// waitHealthy polls the emulator's health endpoint (MiniStack's or
// LocalStack's) until it answers 200.
func (e *emulator) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, path := range []string{"/_ministack/health", "/_localstack/health"} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.endpoint+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the emulator at %s did not become healthy within %s", e.endpoint, limit)
		case <-e.exitedChan():
			return fmt.Errorf("the emulator exited while starting (see its output above)")
		case <-tick.C:
		}
	}
}

func (e *emulator) exitedChan() <-chan struct{} {
	if e.exited == nil {
		return nil
	}
	return e.exited
}

func (e *emulator) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	_ = os.RemoveAll(e.stateDir)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Emulator is an AWS emulator the caller started (the deploy rehearsal's).
type Emulator struct{ e *emulator }

// StartEmulator starts MiniStack from the virtual environment venv on a
// free loopback port, with IAM enforced, as the stack does.
func StartEmulator(ctx context.Context, venv string, out io.Writer) (*Emulator, error) {
	e, err := startEmulator(ctx, venv, out)
	if err != nil {
		return nil, err
	}
	return &Emulator{e}, nil
}

// Endpoint is the emulator's URL.
func (e *Emulator) Endpoint() string { return e.e.endpoint }

// Stop stops the emulator and removes its state.
func (e *Emulator) Stop() { e.e.stop() }
