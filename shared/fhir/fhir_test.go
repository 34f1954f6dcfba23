package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
)

// schema compiles the official FHIR R4 JSON schema's definition of a
// resource type; scripts/tools.sh (make tools, make test) fetches it.
func schema(t *testing.T, resourceType string) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(here), "..", "..", ".tools", "fhir-r4", "fhir.schema.json")
		f, err := os.Open(path)
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		// Medplum's copy of the R4 schema refers to two definitions it
		// does not hold (its own additions, reached through Extension's
		// value[x] and its own resource types); they are filled in with
		// FHIR's own definitions of them so the schema compiles. Nothing
		// in Appointment or Slot uses them.
		defs := doc.(map[string]any)["definitions"].(map[string]any)
		if defs["integer64"] == nil {
			defs["integer64"] = map[string]any{"type": "string", "pattern": "^[0]|[-+]?[1-9][0-9]*$"}
		}
		if defs["Resource"] == nil {
			defs["Resource"] = map[string]any{"type": "object", "required": []any{"resourceType"}}
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource("https://hl7.org/fhir/r4/fhir.schema.json", doc); schemaErr != nil {
			return
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, rt := range []string{"Appointment", "Slot"} {
			if schemas[rt], schemaErr = c.Compile("https://hl7.org/fhir/r4/fhir.schema.json#/definitions/" + rt); schemaErr != nil {
				return
			}
		}
	})
	if schemaErr != nil {
		t.Fatalf("the FHIR R4 schema (run make tools): %v", schemaErr)
	}
	return schemas[resourceType]
}

// valid checks a resource against the FHIR R4 schema and the rules the
// schema cannot say (required elements, FHIR ids), and returns its JSON.
func valid(t *testing.T, resource any) map[string]any {
	t.Helper()
	b, err := json.Marshal(resource)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rt := m["resourceType"].(string)
	if err := schema(t, rt).Validate(inst); err != nil {
		t.Fatalf("%s is not valid FHIR R4: %v\n%s", rt, err, b)
	}
	id, _ := m["id"].(string)
	if len(id) == 0 || len(id) > 64 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
		t.Fatalf("%s id %q is not a FHIR id", rt, id)
	}
	// Elements R4 requires (1..1) that the JSON schema leaves optional.
	required := map[string][]string{"Appointment": {"status", "participant"}, "Slot": {"schedule", "status", "start", "end"}}[rt]
	for _, k := range required {
		if m[k] == nil {
			t.Fatalf("%s lacks %s", rt, k)
		}
	}
	if rt == "Appointment" {
		for _, p := range m["participant"].([]any) {
			if p.(map[string]any)["status"] == nil {
				t.Fatalf("a participant lacks its status: %s", b)
			}
		}
	}
	return m
}

func TestAppointmentsAndSlotsAreValidFHIRR4(t *testing.T) {
	d, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	inPerson, _ := d.Slot("dr-lee~follow-up~20261203T1400Z")
	video, _ := d.Slot("dr-garcia~telehealth~20261201T1500Z")
	a := scheduling.Appointment{ID: "ap00112233445566778899aabb", PatientID: "p-0a1b2c", PatientName: "Ana Ruiz", Slot: inPerson, State: scheduling.Booked,
		Version: 1, History: []scheduling.Change{{At: at, By: "bot", State: scheduling.Booked}}}
	m := valid(t, FromAppointment(a, d))
	if m["status"] != "booked" || m["start"] != "2026-12-03T14:00:00Z" || m["minutesDuration"] != 30.0 || len(m["participant"].([]any)) != 3 ||
		m["slot"].([]any)[0].(map[string]any)["reference"] != "Slot/dr-lee.follow-up.20261203T1400Z" {
		t.Fatalf("appointment = %v", m)
	}
	for _, st := range []scheduling.State{scheduling.Rescheduled, scheduling.Cancelled, scheduling.Completed, scheduling.NoShow} {
		b, err := a.With(st, inPerson, "patient", at)
		if st == scheduling.Rescheduled {
			b, err = a.With(st, video, "agent-1", at)
			b.JoinURL = "https://video.example.org/v/" + a.ID
		}
		if err != nil {
			t.Fatal(err)
		}
		got := valid(t, FromAppointment(b, d))
		if want := map[scheduling.State]string{scheduling.Rescheduled: "booked", scheduling.Cancelled: "cancelled", scheduling.Completed: "fulfilled", scheduling.NoShow: "noshow"}[st]; got["status"] != want {
			t.Errorf("%s → FHIR %v, want %s", st, got["status"], want)
		}
	}
	for _, busy := range []bool{false, true} {
		for _, s := range []scheduling.Slot{inPerson, video} {
			got := valid(t, FromSlot(s, d, busy))
			if got["schedule"].(map[string]any)["reference"] != "Schedule/"+s.Provider || (got["status"] == "busy") != busy {
				t.Fatalf("slot = %v", got)
			}
		}
	}
	// The schema does refuse what is not FHIR: a made-up status.
	bad := FromAppointment(a, d)
	bad.Status = "rescheduled"
	b, _ := json.Marshal(bad)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if schema(t, "Appointment").Validate(inst) == nil {
		t.Fatal("the schema accepted an Appointment with status rescheduled")
	}
}

func TestNDJSON(t *testing.T) {
	d, _ := scheduling.LoadDirectory()
	s, _ := d.Slot("dr-lee~follow-up~20261203T1400Z")
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, []Slot{FromSlot(s, d, false), FromSlot(s, d, true)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"resourceType":"Slot"`) {
		t.Fatalf("ndjson = %q", buf.String())
	}
}

type fakeSource struct {
	appts []scheduling.Appointment
}

func (f fakeSource) Between(_ context.Context, from, to time.Time) ([]scheduling.Appointment, error) {
	var out []scheduling.Appointment
	for _, a := range f.appts {
		if !a.Slot.Start.Before(from) && a.Slot.Start.Before(to) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f fakeSource) Busy(_ context.Context, provider string, _, _ time.Time) (map[int64]bool, error) {
	out := map[int64]bool{}
	for _, a := range f.appts {
		if a.Slot.Provider == provider && a.State.Active() {
			for _, u := range a.Slot.Units() {
				out[u.Unix()] = true
			}
		}
	}
	return out, nil
}

// TestExportWritesValidBulkData: a day's export — every line of both
// files is a valid FHIR R4 resource; the booked slot is busy, the others
// free.
func TestExportWritesValidBulkData(t *testing.T) {
	d, _ := scheduling.LoadDirectory()
	s, _ := d.Slot("dr-lee~follow-up~20261203T1400Z")
	a := scheduling.Appointment{ID: "ap00112233445566778899aabb", PatientID: "p1", PatientName: "Ana", Slot: s, State: scheduling.Booked, Version: 1,
		History: []scheduling.Change{{At: s.Start.Add(-72 * time.Hour), By: "bot", State: scheduling.Booked}}}
	from := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC) // Thursday, 00:00 New York
	var ab, sb bytes.Buffer
	n, err := Export(context.Background(), fakeSource{appts: []scheduling.Appointment{a}}, d, from, from.Add(24*time.Hour), &ab, &sb)
	if err != nil || n.Appointments != 1 || n.Slots < 20 {
		t.Fatalf("export: %+v %v", n, err)
	}
	busy := 0
	for _, line := range strings.Split(strings.TrimSpace(sb.String()), "\n") {
		var r any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if m := valid(t, r); m["status"] == "busy" {
			busy++
			if m["id"] != "dr-lee.follow-up.20261203T1400Z" {
				t.Errorf("busy slot %v", m["id"])
			}
		}
	}
	if busy != 1 {
		t.Fatalf("%d busy slots, want 1", busy)
	}
	var r any
	_ = json.Unmarshal(ab.Bytes(), &r)
	valid(t, r)
}
