package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Overflow is a queue's maximum wait and the queue its conversations move
// to after it.
type Overflow struct {
	After time.Duration
	To    string
}

// ParseOverflow reads the overflow rules, "queue=wait>fallback" separated
// by commas (e.g. "billing=10m>general,nurse=15m>general"); an empty
// spec has none. Every queue must be one of queues, a queue overflows to
// another, and the wait is positive.
func ParseOverflow(spec string, queues []string) (map[string]Overflow, error) {
	rules := map[string]Overflow{}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return rules, nil
	}
	for _, rule := range strings.Split(spec, ",") {
		rule = strings.TrimSpace(rule)
		from, rest, ok1 := strings.Cut(rule, "=")
		wait, to, ok2 := strings.Cut(rest, ">")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("overflow rule %q: want queue=wait>fallback, e.g. billing=10m>general", rule)
		}
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		d, err := time.ParseDuration(strings.TrimSpace(wait))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("overflow rule %q: the wait must be a positive duration such as 90s or 10m", rule)
		}
		for _, q := range []string{from, to} {
			if !slices.Contains(queues, q) {
				return nil, fmt.Errorf("overflow rule %q: %q is not one of the routing queues %v", rule, q, queues)
			}
		}
		if from == to {
			return nil, fmt.Errorf("overflow rule %q: a queue cannot overflow to itself", rule)
		}
		if _, dup := rules[from]; dup {
			return nil, fmt.Errorf("overflow rule %q: %s has two rules", rule, from)
		}
		rules[from] = Overflow{After: d, To: to}
	}
	return rules, nil
}

// Overdue lists the conversations that have waited in their queue past
// its maximum wait, with the queue each moves to.
func Overdue(waiting []Waiting, rules map[string]Overflow, now time.Time) map[string]string {
	out := map[string]string{}
	for _, w := range waiting {
		r, ok := rules[w.Queue]
		if !ok {
			continue
		}
		since := w.QueuedAt
		if since.IsZero() {
			since = w.EnqueuedAt
		}
		if now.Sub(since) >= r.After {
			out[w.ConversationID] = r.To
		}
	}
	return out
}
