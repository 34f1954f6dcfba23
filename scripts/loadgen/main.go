// Command loadgen applies a load to a running local stack (make run) and
// prints what it measured: latencies per phase, throughput, errors, and
// lost or duplicated messages (the run fails if there are any). With
// -fresh it starts a stack of its own first (stage load, nothing else on
// it) and stops it after: make bench-load.
//
//	go run ./scripts/loadgen -patients 500 -agents 20 -rate 10
//	go run ./scripts/loadgen -fresh -patients 100 -agents 10 -rate 20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	localstack "github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/scripts/loadgen/loadgen"
)

func main() {
	stack := flag.String("stack", ".local/stack.json", "the running local stack's stack.json")
	fresh := flag.Bool("fresh", false, "start a fresh local stack (stage load) for the run and stop it after, instead of -stack")
	cfg := loadgen.Config{}
	flag.IntVar(&cfg.Patients, "patients", 100, "patients in all")
	flag.IntVar(&cfg.Agents, "agents", 10, "agents")
	flag.Float64Var(&cfg.Rate, "rate", 5, "patients starting per second")
	flag.Float64Var(&cfg.EscalateShare, "escalate", 0.4, "share of patients who ask for a person (0-1)")
	flag.Float64Var(&cfg.BookShare, "book", 0, "share of the other patients who book an appointment with the bot (0-1)")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "which patients ask for a person or book: the same seed, the same mix (0: from the clock)")
	flag.IntVar(&cfg.Exchanges, "exchanges", 3, "messages each way with the agent")
	flag.IntVar(&cfg.Capacity, "capacity", 5, "conversations per agent")
	flag.DurationVar(&cfg.Timeout, "timeout", 90*time.Second, "the longest a patient waits for any answer")
	flag.Parse()
	outputs, stop, err := stackOutputs(*stack, *fresh)
	if err == nil {
		err = run(outputs, cfg)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// stackOutputs is the stack's stack.json: the running one's, or a fresh
// one's, started here (its output in a temporary log file) and stopped by
// the function returned.
func stackOutputs(path string, fresh bool) ([]byte, func(), error) {
	if !fresh {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (is the stack running? make run)", err)
		}
		return b, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "psc-bench-")
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "stack.log"))
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "loadgen: starting a fresh local stack (stage load; its log: %s)\n", logFile.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{Root: ".", Stage: "load", StateDir: dir, Ports: map[string]int{},
		Output: logFile, Log: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the local stack: %w", err)
	}
	b, err := json.Marshal(st.Outputs)
	return b, func() { st.Close(); _ = logFile.Close() }, err
}

func run(stack []byte, cfg loadgen.Config) error {
	var s struct {
		Web              string            `json:"web"`
		Emulator         string            `json:"emulator"`
		Tables           map[string]string `json:"tables"`
		Queues           map[string]string `json:"queues"`
		PatientWebSocket string            `json:"patientWebSocket"`
		AgentWebSocket   string            `json:"agentWebSocket"`
		AgentPool        struct {
			ID       string `json:"id"`
			ClientID string `json:"clientId"`
			Endpoint string `json:"endpoint"`
		} `json:"agentPool"`
	}
	if err := json.Unmarshal(stack, &s); err != nil {
		return fmt.Errorf("reading the stack's outputs: %w", err)
	}
	cfg.PatientURL, cfg.AgentURL, cfg.PoolID, cfg.ClientID, cfg.PoolAPI = s.PatientWebSocket, s.AgentWebSocket, s.AgentPool.ID, s.AgentPool.ClientID, s.AgentPool.Endpoint
	cfg.AWS = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(s.Emulator)}
	cfg.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "loadgen: %d patients at %.1f/s, %d agents (capacity %d), %.0f%% ask for a person, %d exchanges\n",
		cfg.Patients, cfg.Rate, cfg.Agents, cfg.Capacity, 100*cfg.EscalateShare, cfg.Exchanges)
	prices, err := loadgen.LoadPrices()
	if err != nil {
		return err
	}
	before, err := loadgen.ReadUsage(s.Web)
	if err != nil {
		return fmt.Errorf("reading the stack's usage: %w", err)
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	// The stream consumers (surveys, figures, the supervisors' floor) may
	// still be working on the run's last changes: what they do is part of
	// the run's cost and of what it left.
	if err := localstack.WaitStreamsQuiet(ctx, s.Web, 2*time.Minute); err != nil {
		return err
	}
	after, err := loadgen.ReadUsage(s.Web)
	if err != nil {
		return fmt.Errorf("reading the stack's usage: %w", err)
	}
	// Every message of the conversations: greetings, bot replies, patients' and agents' messages.
	chat := rep.Patients + len(rep.Phases[loadgen.PhaseBot]) + rep.Messages
	loadgen.PrintCost(os.Stdout, loadgen.Cost(before, after, prices), rep.Patients, chat, prices)
	loadgen.PrintDynamo(os.Stdout, before, after, rep.Patients, prices)
	loadgen.PrintStarts(os.Stdout, before, after)
	loadgen.PrintCalls(os.Stdout, before, after)
	// What the run left behind: meaningful on a stack that ran nothing
	// else (make run after make clean).
	left, err := loadgen.CheckConsistency(ctx, cfg.AWS, s.Tables, s.Queues)
	if err != nil {
		return fmt.Errorf("checking what the run left: %w", err)
	}
	left.Print(os.Stdout)
	if rep.Lost > 0 || rep.Duplicated > 0 || len(left.Problems) > 0 {
		return fmt.Errorf("%d messages lost, %d duplicated, %d inconsistencies", rep.Lost, rep.Duplicated, len(left.Problems))
	}
	return nil
}
