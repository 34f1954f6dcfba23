package kpi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// hours is an HourReader of fixed counters.
type hours struct {
	byKey map[string]Counters // "day dim hour"
	err   error
}

func (h *hours) Hour(_ context.Context, day, dim, hour string) (Counters, error) {
	return h.byKey[day+" "+dim+" "+hour], h.err
}

func waits(n int64, sumSeconds int64) Counters {
	return Counters{Handled: n, WaitCount: n, WaitSumMs: sumSeconds * 1000}
}

func TestRecentWaitsAreTheQueuesLastTwoHours(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// 00:20 in New York: this hour is 00 of the 4th, the previous 23 of the 3rd.
	now := time.Date(2026, 12, 4, 0, 20, 0, 0, ny)
	store := &hours{byKey: map[string]Counters{
		"2026-12-04 queue#billing 00": waits(2, 300),   // 2 answered, 150 s each
		"2026-12-03 queue#billing 23": waits(2, 60),    // 2 answered, 30 s each
		"2026-12-03 queue#billing 22": waits(50, 50e3), // too old to count
		"2026-12-04 queue#nurse 00":   waits(2, 100),
		"2026-12-04 all 00":           waits(9, 900),
	}}
	w := RecentWaits{Store: store, Zone: ny, Now: func() time.Time { return now }}
	got, ok, err := w.Expected(context.Background(), "billing")
	if err != nil || !ok || got != 90*time.Second {
		t.Fatalf("billing: %s %v %v, want 1m30s (360 s over 4)", got, ok, err)
	}
	// Two answered lately are too few to tell a patient anything.
	if got, ok, err := w.Expected(context.Background(), "nurse"); err != nil || ok || got != 0 {
		t.Fatalf("nurse: %s %v %v, want no estimate", got, ok, err)
	}
}

func TestRecentWaitsReportTheStoresError(t *testing.T) {
	w := RecentWaits{Store: &hours{err: errors.New("throttled")}, Zone: time.UTC}
	if _, ok, err := w.Expected(context.Background(), "billing"); err == nil || ok {
		t.Fatalf("a failed read: ok %v, err %v", ok, err)
	}
}
