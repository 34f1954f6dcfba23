package stack

import (
	"testing"
	"time"
)

func TestScheduleRate(t *testing.T) {
	for expr, want := range map[string]time.Duration{
		"rate(1 minute)": time.Minute, "rate(5 minutes)": 5 * time.Minute, " rate(2 hours) ": 2 * time.Hour, "rate(1 day)": 24 * time.Hour,
	} {
		if got, err := scheduleRate(expr); err != nil || got != want {
			t.Errorf("%q = %v, %v; want %v", expr, got, err, want)
		}
	}
	for _, bad := range []string{"cron(0 12 * * ? *)", "rate(0 minutes)", "rate(x minutes)", "rate(5 fortnights)", "rate(5)", "every minute"} {
		if _, err := scheduleRate(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
