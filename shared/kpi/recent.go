package kpi

import (
	"context"
	"fmt"
	"time"
)

// HourReader reads one dimension's counters of one hour ("queue#billing",
// "09" of "2026-12-03"); an hour with nothing counted is zero counters.
type HourReader interface {
	Hour(ctx context.Context, day, dim, hour string) (Counters, error)
}

// RecentWaits tells a waiting patient how long others waited in their
// queue lately: the mean wait of the conversations the queue's agents
// accepted in the current and the previous hour, in the clinic's zone —
// the figures' own counters, so the patient's estimate and the
// supervisor's average wait are one number. A queue that answered fewer
// than Min (3 when unset) in that time has no estimate. Each ask is two
// small reads (a routing run asks once per queue it changed).
type RecentWaits struct {
	Store HourReader
	Zone  *time.Location
	Min   int64
	Now   func() time.Time // nil: the clock
}

// Expected returns the queue's recent mean wait, and false when it
// answered too few lately to say.
func (w RecentWaits) Expected(ctx context.Context, queue string) (time.Duration, bool, error) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	var sum Counters
	local := now().In(w.Zone)
	for _, h := range []time.Time{local, local.Add(-time.Hour)} {
		cs, err := w.Store.Hour(ctx, h.Format("2006-01-02"), ByQueue+"#"+queue, h.Format("15"))
		if err != nil {
			return 0, false, fmt.Errorf("reading the recent waits of %s: %w", queue, err)
		}
		sum.Add(cs)
	}
	least := w.Min
	if least == 0 {
		least = 3
	}
	if sum.WaitCount < least {
		return 0, false, nil
	}
	return Row{Counters: sum}.AverageWait(), true, nil
}
