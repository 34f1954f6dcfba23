// Command loadgen applies a load to a running local stack (make run) and
// prints what it measured: latencies per phase, throughput, errors, and
// lost or duplicated messages (the run fails if there are any).
//
//	go run ./scripts/loadgen -patients 500 -agents 20 -rate 10
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/patientservicecenter/psc/scripts/loadgen/loadgen"
)

func main() {
	stack := flag.String("stack", ".local/stack.json", "the running local stack's stack.json")
	cfg := loadgen.Config{}
	flag.IntVar(&cfg.Patients, "patients", 100, "patients in all")
	flag.IntVar(&cfg.Agents, "agents", 10, "agents")
	flag.Float64Var(&cfg.Rate, "rate", 5, "patients starting per second")
	flag.Float64Var(&cfg.EscalateShare, "escalate", 0.4, "share of patients who ask for a person (0-1)")
	flag.Float64Var(&cfg.BookShare, "book", 0, "share of the other patients who book an appointment with the bot (0-1)")
	flag.IntVar(&cfg.Exchanges, "exchanges", 3, "messages each way with the agent")
	flag.IntVar(&cfg.Capacity, "capacity", 5, "conversations per agent")
	flag.DurationVar(&cfg.Timeout, "timeout", 90*time.Second, "the longest a patient waits for any answer")
	flag.Parse()
	if err := run(*stack, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(stack string, cfg loadgen.Config) error {
	b, err := os.ReadFile(stack)
	if err != nil {
		return fmt.Errorf("%w (is the stack running? make run)", err)
	}
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
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("reading %s: %w", stack, err)
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
	after, err := loadgen.ReadUsage(s.Web)
	if err != nil {
		return fmt.Errorf("reading the stack's usage: %w", err)
	}
	// Every message of the conversations: greetings, bot replies, patients' and agents' messages.
	chat := rep.Patients + len(rep.Phases[loadgen.PhaseBot]) + rep.Messages
	loadgen.PrintCost(os.Stdout, loadgen.Cost(before, after, prices), rep.Patients, chat, prices)
	loadgen.PrintDynamo(os.Stdout, before, after, rep.Patients, prices)
	loadgen.PrintStarts(os.Stdout, before, after)
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
