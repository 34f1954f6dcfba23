package ddb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/kpi"
)

// TestFiguresCountEachEventOnceUnderEveryDimension: an event recorded
// five times at once (a stream record redelivered) counts once, under
// every conversation, its queue and its agent, in its hour; the day's
// report reads the counts, the wait and its histogram back.
func TestFiguresCountEachEventOnceUnderEveryDimension(t *testing.T) {
	ctx := context.Background()
	store := ddb.NewKPIs(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["KpiTable"], 24*time.Hour)
	run := time.Now().UnixNano()
	day := fmt.Sprintf("2099-%02d-%02d", run%12+1, run%28+1)
	queue, agentID := fmt.Sprintf("q%d", run), fmt.Sprintf("a%d", run)
	handled := kpi.Event{Kind: kpi.Handled, ConversationID: fmt.Sprint("c", run), Key: "handled#1", Queue: queue, AgentID: agentID,
		Wait: 42 * time.Second, WithinTarget: true}
	var wg sync.WaitGroup
	counted := make(chan bool, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := store.Record(ctx, handled, day, "09")
			if err != nil {
				t.Error(err)
			}
			counted <- ok
		}()
	}
	wg.Wait()
	close(counted)
	n := 0
	for ok := range counted {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the event counted %d times, want once", n)
	}
	abandoned := kpi.Event{Kind: kpi.Abandoned, ConversationID: fmt.Sprint("d", run), Key: "abandoned#1", Queue: queue}
	if ok, err := store.Record(ctx, abandoned, day, "10"); err != nil || !ok {
		t.Fatalf("abandoned: %v %v", ok, err)
	}
	byQueue, err := kpi.Report(ctx, store, []string{day}, kpi.ByQueue)
	if err != nil || len(byQueue) != 1 || byQueue[0].Key != queue {
		t.Fatalf("by queue %+v %v", byQueue, err)
	}
	q := byQueue[0]
	if q.Handled != 1 || q.Abandoned != 1 || q.AverageWait() != 42*time.Second || q.P90Wait() != 45*time.Second || q.ServiceLevel() != 1 {
		t.Fatalf("queue row %+v: handled %d abandoned %d wait %s p90 %s level %.2f", q, q.Handled, q.Abandoned, q.AverageWait(), q.P90Wait(), q.ServiceLevel())
	}
	byAgent, _ := kpi.Report(ctx, store, []string{day}, kpi.ByAgent)
	if len(byAgent) != 1 || byAgent[0].Key != agentID || byAgent[0].Handled != 1 || byAgent[0].Abandoned != 0 {
		t.Fatalf("by agent %+v", byAgent)
	}
	byHour, _ := kpi.Report(ctx, store, []string{day}, kpi.ByHour)
	if len(byHour) != 2 || byHour[0].Key != "09" || byHour[0].Handled != 1 || byHour[1].Key != "10" || byHour[1].Abandoned != 1 {
		t.Fatalf("by hour %+v", byHour)
	}
}

// TestAnHoursFiguresAreReadBack: one dimension's hour reads the counters
// recorded in it, and an hour with nothing counted reads zero.
func TestAnHoursFiguresAreReadBack(t *testing.T) {
	ctx := context.Background()
	store := ddb.NewKPIs(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["KpiTable"], 24*time.Hour)
	run := time.Now().UnixNano()
	day, queue := fmt.Sprintf("2098-%02d-%02d", run%12+1, run%28+1), fmt.Sprintf("q%d", run)
	for i, wait := range []time.Duration{30 * time.Second, 90 * time.Second} {
		e := kpi.Event{Kind: kpi.Handled, ConversationID: fmt.Sprint("c", run, i), Key: "handled#1", Queue: queue, Wait: wait}
		if ok, err := store.Record(ctx, e, day, "14"); err != nil || !ok {
			t.Fatalf("recording: %v %v", ok, err)
		}
	}
	c, err := store.Hour(ctx, day, kpi.ByQueue+"#"+queue, "14")
	if err != nil || c.Handled != 2 || c.WaitCount != 2 || c.WaitSumMs != 120000 {
		t.Fatalf("the hour read %+v, %v; want 2 handled, 120 s of waits", c, err)
	}
	if c, err := store.Hour(ctx, day, kpi.ByQueue+"#"+queue, "15"); err != nil || c.Handled != 0 || c.WaitCount != 0 {
		t.Fatalf("an empty hour read %+v, %v", c, err)
	}
}
