package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/scripts/loadgen/loadgen"
)

// TestSmallLoadLosesNothing: a small morning on the local stack — twelve
// patients, half of them asking for a person, three agents — finishes
// with every patient done, no error, no message lost or duplicated, and
// no sender sent back its own message (every send says "echo": false).
// (The figures of a full run are in docs/performance.md, from
// scripts/loadgen.)
func TestSmallLoadLosesNothing(t *testing.T) {
	var progress bytes.Buffer
	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		PatientURL: env.Outputs.PatientWebSocket, AgentURL: env.Outputs.AgentWebSocket, PoolID: env.Outputs.AgentPool.ID,
		ClientID: env.Outputs.AgentPool.ClientID, PoolAPI: env.Outputs.AgentPool.Endpoint, AWS: awsCfg(), Patients: 12, Agents: 3, Rate: 6, EscalateShare: 0.5, Exchanges: 2,
		Capacity: 5, Timeout: 60 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log(out.String())
	if rep.Completed != 12 || rep.Errors != 0 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Echoes != 0 {
		t.Fatalf("completed %d of 12, %d errors (%v), %d lost, %d duplicated, %d echoes to senders that asked for none",
			rep.Completed, rep.Errors, rep.ErrorSamples, rep.Lost, rep.Duplicated, rep.Echoes)
	}
	if rep.Frames["patient session"] != 12 || rep.Frames["patient ack"] == 0 || rep.Frames["patient message"] == 0 {
		t.Errorf("frames received by type: %v", rep.Frames)
	}
	for _, ph := range []string{loadgen.PhaseAck, loadgen.PhaseBot} {
		if len(rep.Phases[ph]) == 0 {
			t.Errorf("phase %q measured nothing", ph)
		}
	}
	if rep.Escalated > 0 && (len(rep.Phases[loadgen.PhaseToAgent]) == 0 || len(rep.Phases[loadgen.PhaseToPatient]) == 0) {
		t.Errorf("agents' phases measured nothing: %v", rep.Phases)
	}
}
