package stack

import (
	"encoding/json"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/patientservicecenter/psc/localstack/chaos"
	"github.com/patientservicecenter/psc/localstack/lambdart"
)

// faultStack is a stack with only what fault() needs: the plan.
func faultStack(f chaos.Fault) *Stack {
	return &Stack{chaos: chaos.New(&chaos.Plan{Seed: 1, Faults: []chaos.Fault{f}}), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		pools: map[string]*lambdart.Pool{}}
}

// TestEachFaultAnswersAsTheServiceDoes: with a rate of 1, every call meets
// the fault, and the caller gets what AWS sends in that case.
func TestEachFaultAnswersAsTheServiceDoes(t *testing.T) {
	call := func(s *Stack, service string) (*httptest.ResponseRecorder, bool, int, int) {
		w := httptest.NewRecorder()
		served, dropped := 0, 0
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		ok := s.fault(w, r, service, "PutItem", func(http.ResponseWriter) { served++ }, func() { dropped++ })
		return w, ok, served, dropped
	}

	w, ok, served, _ := call(faultStack(chaos.Fault{Kind: chaos.Throttle, Service: chaos.DynamoDB, Rate: 1}), chaos.DynamoDB)
	var body struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if !ok || served != 0 || w.Code != http.StatusBadRequest || body.Type != "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException" {
		t.Fatalf("throttle: answered %v, served %d, %d %s", ok, served, w.Code, w.Body)
	}
	if crc := w.Header().Get("X-Amz-Crc32"); crc != strconv.FormatUint(uint64(crc32.ChecksumIEEE(w.Body.Bytes())), 10) {
		t.Fatalf("throttle: X-Amz-Crc32 %q does not match the body", crc)
	}

	w, ok, served, _ = call(faultStack(chaos.Fault{Kind: chaos.ErrorAfter, Service: chaos.SQS, Rate: 1}), chaos.SQS)
	if !ok || served != 1 || w.Code != http.StatusInternalServerError {
		t.Fatalf("error-after: answered %v, served %d, %d", ok, served, w.Code)
	}

	w, ok, served, dropped := call(faultStack(chaos.Fault{Kind: chaos.Drop, Service: chaos.Connections, Rate: 1}), chaos.Connections)
	if !ok || dropped != 1 || served != 1 {
		t.Fatalf("drop: answered %v, dropped %d, served %d (%d)", ok, dropped, served, w.Code)
	}

	w, ok, _, _ = call(faultStack(chaos.Fault{Kind: chaos.Throttle, Service: chaos.Connections, Rate: 1}), chaos.Connections)
	if !ok || w.Code != http.StatusTooManyRequests {
		t.Fatalf("connections throttle: answered %v, %d", ok, w.Code)
	}

	// Kills and hangs need an invocation to act on: a call that is not a
	// function's (no trace id) goes through untouched.
	for _, kind := range []string{chaos.KillBefore, chaos.KillAfter, chaos.Hang} {
		if _, ok, served, _ := call(faultStack(chaos.Fault{Kind: kind, Service: chaos.DynamoDB, Rate: 1}), chaos.DynamoDB); ok || served != 0 {
			t.Fatalf("%s without a calling function: answered %v, served %d", kind, ok, served)
		}
	}

	if _, ok, _, _ := call(&Stack{}, chaos.DynamoDB); ok {
		t.Fatal("a stack without a plan injected a fault")
	}
}
