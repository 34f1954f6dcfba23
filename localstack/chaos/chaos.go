// Package chaos injects into the local stack the faults AWS produces: a
// function's process killed in the middle of an invocation (before or
// after the service did the work it asked for), an invocation that runs
// into its timeout, DynamoDB and SQS throttling and 5xx answers,
// @connections failures, dropped WebSocket connections, and event-source
// pollers that pause or restart. It is off unless a plan names faults.
//
// Decisions are deterministic for a seed: whether the n-th call at a site
// (a kind of fault, a service, an operation, a function) fails depends
// only on the seed, the site and n, so a failing run repeats with its
// seed (the order in which concurrent calls reach a site can still vary).
package chaos

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kinds of fault.
const (
	// KillBefore kills the calling function's process when it makes the
	// call, before the call reaches the service.
	KillBefore = "kill-before"
	// KillAfter lets the service do the work, then kills the caller
	// before it reads the answer.
	KillAfter = "kill-after"
	// Hang holds the call unanswered, so the invocation runs into its
	// timeout (Lambda kills it).
	Hang = "hang"
	// Throttle answers as the service does when over its limits:
	// DynamoDB ProvisionedThroughputExceededException, SQS
	// ThrottlingException, @connections 429 LimitExceededException.
	Throttle = "throttle"
	// Error answers 500 without doing the work.
	Error = "error"
	// ErrorAfter does the work, then answers 500 (the caller cannot know
	// whether it happened).
	ErrorAfter = "error-after"
	// Drop closes a client's WebSocket connection, as a lost network
	// does; the next @connections call to it answers 410.
	Drop = "drop"
	// Pause stops an event source mapping's poller from At for For.
	Pause = "pause"
	// Restart stops and starts an event source mapping's poller at At.
	Restart = "restart"
)

var rateKinds = []string{KillBefore, KillAfter, Hang, Throttle, Error, ErrorAfter, Drop}

// Services a fault applies to.
const (
	DynamoDB    = "dynamodb"
	SQS         = "sqs"
	Connections = "connections" // the @connections management API
	Pollers     = "pollers"     // event source mappings
)

// Fault is one rule of a plan.
type Fault struct {
	Kind    string `json:"kind"`
	Service string `json:"service"`
	// Op narrows the fault to one operation ("TransactWriteItems",
	// "SendMessage", "POST"); empty means every operation.
	Op string `json:"op,omitempty"`
	// Function narrows it to calls made by one function (its template
	// name, "BotTurnFunction"), or for Pollers to the mappings that
	// deliver to it; empty means any.
	Function string `json:"function,omitempty"`
	// Rate is the share of matching calls that fail (0 to 1), or with Per
	// "invocation" the share of the function's invocations.
	Rate float64 `json:"rate,omitempty"`
	// Per is "call" (the default) or "invocation": an invocation is drawn
	// once, at its first matching call, and a drawn one meets the fault at
	// a matching call drawn from its first Within (default 5); one that
	// makes fewer such calls is spared. For kills, hangs and errors of a
	// function's calls ("5% of bot-turn invocations killed mid-turn").
	Per    string `json:"per,omitempty"`
	Within int    `json:"within,omitempty"`
	// At and For schedule Pause and Restart, from the stack's start.
	At  Duration `json:"at,omitempty"`
	For Duration `json:"for,omitempty"`
}

// Duration reads "5s" or "2m" in JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Plan is a run's faults and its seed.
type Plan struct {
	Seed   int64   `json:"seed"`
	Faults []Fault `json:"faults"`
}

// Load reads a plan from a JSON file and checks it.
func Load(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the fault plan: %w", err)
	}
	var p Plan
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("reading the fault plan %s: %w", path, err)
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("the fault plan %s: %w", path, err)
	}
	return &p, nil
}

// Check reports every rule that cannot work.
func (p *Plan) Check() error {
	var problems []string
	for i, f := range p.Faults {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("fault %d (%s %s): %s", i+1, f.Kind, f.Service, fmt.Sprintf(format, args...)))
		}
		switch f.Kind {
		case Pause, Restart:
			if f.Service != Pollers {
				bad("%s applies to the service %q", f.Kind, Pollers)
			}
			if f.Kind == Pause && f.For.Duration <= 0 {
				bad("a pause needs \"for\"")
			}
			continue
		case KillBefore, KillAfter, Hang, Throttle, Error, ErrorAfter:
			if !slices.Contains([]string{DynamoDB, SQS, Connections}, f.Service) {
				bad("the service is one of %s, %s, %s", DynamoDB, SQS, Connections)
			}
		case Drop:
			if f.Service != Connections {
				bad("drop applies to the service %q", Connections)
			}
		default:
			bad("unknown kind; kinds are %s, %s, %s", strings.Join(rateKinds, ", "), Pause, Restart)
			continue
		}
		if f.Rate <= 0 || f.Rate > 1 {
			bad("the rate is over 0 and at most 1")
		}
		switch f.Per {
		case "", "call":
		case "invocation":
			if f.Kind == Drop || f.Kind == Throttle {
				bad("per invocation applies to kills, hangs and errors")
			}
			if f.Within < 0 {
				bad("within is a number of calls")
			}
		default:
			bad("per is \"call\" or \"invocation\"")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Injector decides, call by call, which fault (if any) a call meets. A nil
// Injector injects nothing.
type Injector struct {
	plan  Plan
	mu    sync.Mutex
	calls map[string]uint64 // site → calls (or invocations) so far
	hits  map[string]int64  // "kind service op function" → faults injected
	// doomed: for per-invocation rules, "rule|invocation" → the matching
	// call that meets the fault (0: spared) and the calls seen so far.
	doomed map[string]*fate
}

type fate struct{ at, seen int }

// New returns an injector for a plan (nil for none).
func New(p *Plan) *Injector {
	if p == nil || len(p.Faults) == 0 {
		return nil
	}
	return &Injector{plan: *p, calls: map[string]uint64{}, hits: map[string]int64{}, doomed: map[string]*fate{}}
}

// Call is a call that may meet a fault.
type Call struct {
	Service  string
	Op       string
	Function string // the calling function's name, if known
	// Invocation identifies the calling invocation (its trace id), for
	// per-invocation rules.
	Invocation string
}

// Decide returns the kind of fault the call meets, or "" for none. The
// first matching rule that fires wins.
func (in *Injector) Decide(c Call) string {
	if in == nil {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, f := range in.plan.Faults {
		if f.Rate == 0 || f.Service != c.Service || (f.Op != "" && f.Op != c.Op) || (f.Function != "" && f.Function != c.Function) {
			continue
		}
		if f.Per == "invocation" {
			if c.Invocation == "" || c.Function == "" {
				continue
			}
			if in.invocationMeets(i, f, c) {
				in.hits[strings.TrimSpace(strings.Join([]string{f.Kind, c.Service, c.Op, c.Function}, " "))]++
				return f.Kind
			}
			continue
		}
		site := fmt.Sprintf("%d|%s|%s|%s", i, c.Service, c.Op, c.Function)
		n := in.calls[site]
		in.calls[site] = n + 1
		if draw(in.plan.Seed, site, n) < f.Rate {
			in.hits[strings.TrimSpace(strings.Join([]string{f.Kind, c.Service, c.Op, c.Function}, " "))]++
			return f.Kind
		}
	}
	return ""
}

// invocationMeets applies a per-invocation rule to one call: the
// invocation's first matching call draws its fate (by the function's n-th
// invocation under the rule), later ones count towards it. The caller
// holds mu.
func (in *Injector) invocationMeets(rule int, f Fault, c Call) bool {
	key := fmt.Sprintf("%d|%s", rule, c.Invocation)
	ft, ok := in.doomed[key]
	if !ok {
		site := fmt.Sprintf("%d|invocation|%s", rule, c.Function)
		n := in.calls[site]
		in.calls[site] = n + 1
		ft = &fate{}
		if draw(in.plan.Seed, site, n) < f.Rate {
			within := f.Within
			if within <= 0 {
				within = 5
			}
			ft.at = 1 + int(draw(in.plan.Seed, site+"|at", n)*float64(within))
		}
		in.doomed[key] = ft
	}
	ft.seen++
	return ft.at != 0 && ft.seen == ft.at
}

// draw is a number in [0, 1) that depends only on the seed, the site and n.
func draw(seed int64, site string, n uint64) float64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], n)
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(site))
	// fnv's low bits mix poorly for near inputs: finish with splitmix64.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// Schedule returns the plan's Pause and Restart rules.
func (in *Injector) Schedule() []Fault {
	if in == nil {
		return nil
	}
	var out []Fault
	for _, f := range in.plan.Faults {
		if f.Kind == Pause || f.Kind == Restart {
			out = append(out, f)
		}
	}
	return out
}

// Injected records a scheduled fault that happened.
func (in *Injector) Injected(kind, service, function string) {
	if in == nil {
		return
	}
	in.mu.Lock()
	in.hits[strings.TrimSpace(kind+" "+service+" "+function)]++
	in.mu.Unlock()
}

// Hits returns the faults injected so far, by kind, service, operation and
// function, in a stable order.
func (in *Injector) Hits() []Hit {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Hit, 0, len(in.hits))
	for k, n := range in.hits {
		out = append(out, Hit{What: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].What < out[j].What })
	return out
}

// Hit is how often one fault was injected.
type Hit struct {
	What  string `json:"what"`
	Count int64  `json:"count"`
}

// Seed is the plan's seed.
func (in *Injector) Seed() int64 {
	if in == nil {
		return 0
	}
	return in.plan.Seed
}
