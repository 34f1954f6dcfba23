// Command localstack runs the Patient Service Center on this machine from
// infra/template.yaml: `make run` starts it. It prints the URLs of the
// pages and WebSocket APIs, writes them to .local/stack.json, and stops
// everything it started on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/patientservicecenter/psc/localstack/chaos"
	"github.com/patientservicecenter/psc/localstack/stack"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	stage := flag.String("stage", "dev", "stage whose parameters (infra/params/<stage>.json) to use")
	endpoint := flag.String("endpoint", os.Getenv("AWS_ENDPOINT_URL"), "a running AWS emulator to use instead of starting MiniStack")
	webPort := flag.Int("web-port", 4510, "port of the web pages")
	ports := flag.String("api-ports", "PatientApi=4511,AgentApi=4512", "WebSocket API ports by logical id")
	idle := flag.Duration("idle-timeout", 10*time.Minute, "WebSocket idle timeout (API Gateway: 10m)")
	faults := flag.String("faults", "", "a fault plan (JSON, docs/reliability.md): inject the faults AWS produces")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	apiPorts := map[string]int{}
	for _, kv := range strings.Split(*ports, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			fmt.Fprintf(os.Stderr, "-api-ports: %q is not Logical=port\n", kv)
			os.Exit(2)
		}
		apiPorts[k] = n
	}
	var plan *chaos.Plan
	if *faults != "" {
		var err error
		if plan, err = chaos.Load(*faults); err != nil {
			fmt.Fprintln(os.Stderr, "-faults:", err)
			os.Exit(2)
		}
		fmt.Printf("fault mode: %d faults, seed %d (%s)\n", len(plan.Faults), plan.Seed, *faults)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := stack.Start(ctx, stack.Options{
		Root: *root, Stage: *stage, Endpoint: *endpoint, WebPort: *webPort, Ports: apiPorts, IdleTimeout: *idle, Log: log, Faults: plan,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local stack:", err)
		os.Exit(1)
	}
	o := s.Outputs
	fmt.Printf("\nPatient Service Center is running (stage %s)\n", o.Stage)
	fmt.Printf("  patient page         %s\n", o.PatientPage)
	fmt.Printf("  widget demo          %swidget-demo.html\n", o.Web)
	fmt.Printf("  widget demo (es)     %swidget-demo-es.html\n", o.Web)
	if o.AgentConsole != "" {
		fmt.Printf("  agent console        %s\n", o.AgentConsole)
	} else {
		fmt.Printf("  agent console        (not part of this build yet)\n")
	}
	fmt.Printf("  patient WebSocket    %s\n", o.PatientWebSocket)
	fmt.Printf("  agent WebSocket      %s\n", o.AgentWebSocket)
	fmt.Printf("  AWS emulator         %s\n", o.Emulator)
	if p := o.AgentPool; p != nil {
		fmt.Printf("  agent user pool      %s (console client %s)\n", p.ID, p.ClientID)
		fmt.Printf("\nDemo console logins (local only; localstack/demo-agents.yaml). Each is a temporary password:\n" +
			"the first sign-in chooses a new one and sets up an authenticator app (TOTP), as in AWS.\n")
		for _, u := range p.Users {
			fmt.Printf("  %-8s %-16s %-11s %s, skills %s, languages %s, capacity %d\n", u.Username, u.Password, u.Group, u.Name, u.Skills, u.Languages, u.Capacity)
		}
	}
	fmt.Printf("\n  these URLs as JSON   .local/stack.json\n\nPress Ctrl-C to stop.\n")
	<-ctx.Done()
	fmt.Println("\nstopping…")
	s.Close()
}
