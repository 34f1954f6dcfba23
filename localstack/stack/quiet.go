package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// WaitStreamsQuiet waits until every stream mapping of the stack whose
// pages are at web (its "web" output, ending in "/") has handled every
// record written so far and the functions they invoke have written
// nothing more for them to read: a round in which each mapping found its
// stream read to the end, after the round began, with no invocation in
// between. Whoever reads what the stream consumers write (surveys,
// figures, what a load run left) reads it after this, not after a guessed
// pause.
func WaitStreamsQuiet(ctx context.Context, web string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var now []StreamMapping
	for {
		before, err := readStreams(ctx, web)
		if err != nil {
			return err
		}
		round := time.Now()
		for {
			if now, err = readStreams(ctx, web); err != nil {
				return err
			}
			read := true
			for _, m := range now {
				read = read && m.CaughtUpAt.After(round)
			}
			if read {
				if invocations(now) == invocations(before) {
					return nil
				}
				break // something ran during the round: its writes may be unread
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the stream mappings were not quiet within %s: %+v", limit, now)
			case <-tick.C:
			}
		}
	}
}

func invocations(ms []StreamMapping) int64 {
	var n int64
	for _, m := range ms {
		n += m.Invocations
	}
	return n
}

// readStreams reads the stack's stream mappings' progress.
func readStreams(ctx context.Context, web string) ([]StreamMapping, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, web+"_psc/streams", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the stream mappings' progress: %w", err)
	}
	defer resp.Body.Close()
	var ms []StreamMapping
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("reading the stream mappings' progress: %w", err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("the stack has no stream mapping to wait for")
	}
	return ms, nil
}
