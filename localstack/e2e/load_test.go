package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/scripts/loadgen/loadgen"
	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/kpi"
)

// TestSmallLoadLosesNothing: a small morning on the local stack — twelve
// patients, half of them asking for a person, three agents — finishes
// with every patient done, no error, no message lost or duplicated, and
// no sender sent back its own message (every send says "echo": false).
// The supervisors' figures by agent equal what each agent of the run saw.
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
	figuresByAgent(t, rep)
}

// figuresByAgent holds the supervisors' figures by agent against what
// each agent of the run saw and did (issue 19: the counts equal the load
// generator's own, exactly): offers received, acceptances answered,
// conversations closed. Other tests' agents share the stack, so the check
// is per agent of the run, once the stream consumers have caught up.
func figuresByAgent(t *testing.T, rep loadgen.Report) {
	t.Helper()
	env.StreamsQuiet(t, 2*time.Minute)
	ctx := context.Background()
	zone, err := time.LoadLocation("America/New_York") // the template's BusinessTimezone
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(zone)
	days := []string{now.AddDate(0, 0, -1).Format("2006-01-02"), now.Format("2006-01-02")}
	rows, err := kpi.Report(ctx, ddb.NewKPIs(dynamodb.NewFromConfig(awsCfg()), env.Outputs.Tables["KpiTable"], 0), days, kpi.ByAgent)
	if err != nil {
		t.Fatal(err)
	}
	byAgent := map[string]kpi.Row{}
	for _, r := range rows {
		byAgent[r.Key] = r
	}
	offers := 0
	for id, a := range rep.Agents {
		r := byAgent[id]
		offers += a.Offers
		if r.Offered != int64(a.Offers) || r.Handled != int64(a.Accepted) || r.HandleCount != int64(a.Closed) {
			t.Errorf("agent %s: the figures say offered %d, handled %d, wrapped up %d; the agent saw %d offers, %d acceptances, closed %d",
				a.Name, r.Offered, r.Handled, r.HandleCount, a.Offers, a.Accepted, a.Closed)
		}
	}
	if rep.Escalated > 0 && offers == 0 {
		t.Errorf("%d patients reached an agent, none of the run's agents was offered one: the check checked nothing", rep.Escalated)
	}
	t.Logf("figures by agent match the run's %d agents (%d offers)", len(rep.Agents), offers)
}
