// Command fhirexport writes the appointments and slots of a date range as
// FHIR R4 Bulk Data: Appointment.ndjson and Slot.ndjson, for an EHR
// integration to take in.
//
//	go run ./scripts/fhirexport -table psc-prod-scheduling -from 2026-12-01 -to 2026-12-08 -out export/
//	go run ./scripts/fhirexport -stack .local/stack.json -from 2026-12-01 -to 2026-12-08 -out export/   # the local stack
//
// AWS credentials and region come from the usual places (environment,
// profile); -stack reads the local stack's emulator endpoint and table.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/fhir"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

func main() {
	table := flag.String("table", "", "the scheduling table (SchedulingTable)")
	stack := flag.String("stack", "", "the local stack's stack.json (emulator endpoint and table)")
	fromS := flag.String("from", time.Now().Format(time.DateOnly), "first day (YYYY-MM-DD, in the directory's time zone)")
	toS := flag.String("to", time.Now().AddDate(0, 0, 7).Format(time.DateOnly), "day after the last (YYYY-MM-DD)")
	out := flag.String("out", "fhir-export", "directory to write Appointment.ndjson and Slot.ndjson to")
	flag.Parse()
	if err := run(*table, *stack, *fromS, *toS, *out); err != nil {
		fmt.Fprintln(os.Stderr, "fhirexport:", err)
		os.Exit(1)
	}
}

func run(table, stack, fromS, toS, out string) error {
	ctx := context.Background()
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		return err
	}
	from, err1 := time.ParseInLocation(time.DateOnly, fromS, dir.Zone())
	to, err2 := time.ParseInLocation(time.DateOnly, toS, dir.Zone())
	if err1 != nil || err2 != nil || !to.After(from) {
		return fmt.Errorf("-from and -to are YYYY-MM-DD days, -to after -from")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	if stack != "" {
		b, err := os.ReadFile(stack)
		if err != nil {
			return err
		}
		var s struct {
			Emulator string            `json:"emulator"`
			Tables   map[string]string `json:"tables"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("reading %s: %w", stack, err)
		}
		cfg = aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(s.Emulator)}
		table = s.Tables["SchedulingTable"]
	}
	if table == "" {
		return fmt.Errorf("-table or -stack is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	af, err := os.Create(filepath.Join(out, "Appointment.ndjson"))
	if err != nil {
		return err
	}
	defer af.Close()
	sf, err := os.Create(filepath.Join(out, "Slot.ndjson"))
	if err != nil {
		return err
	}
	defer sf.Close()
	n, err := fhir.Export(ctx, ddb.NewAppointments(dynamodb.NewFromConfig(cfg), table, 0), dir, from, to, af, sf)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d appointments and %d slots (%s to %s) to %s\n", n.Appointments, n.Slots, fromS, toS, out)
	return nil
}
