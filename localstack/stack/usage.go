package stack

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/patientservicecenter/psc/localstack/chaos"
	"github.com/patientservicecenter/psc/localstack/gateway"
	"github.com/patientservicecenter/psc/localstack/lambdart"
)

// meter sits between the functions and the emulator and counts the
// requests AWS would bill: DynamoDB read and write request units, SQS
// requests, SES emails. The emulator does not report consumed capacity,
// so request units are estimated from the items' sizes the way DynamoDB
// computes them: a write is 1 unit per KB of the item written (twice in a
// transaction), a read 1 unit per 4 KB read (half when eventually
// consistent).
type meter struct {
	proxy *httputil.ReverseProxy
	ses   *sesGate // AWS's authorisation of SES sends (fidelity.go)
	// fault applies the fault plan to a DynamoDB or SQS call (faults.go);
	// it reports whether it answered.
	fault func(w http.ResponseWriter, r *http.Request, service, op string, serve func(http.ResponseWriter), drop func()) bool
	mu    sync.Mutex
	u     Usage
	calls map[string]*histogram // "dynamodb GetItem" → how long the emulator took
	// caller names the function a request came from ("" when unknown);
	// byCaller counts each function's calls by name.
	caller   func(r *http.Request) string
	byCaller map[string]map[string]int64
}

// Usage is what the functions' requests would be billed for.
type Usage struct {
	Lambda     map[string]lambdart.Usage `json:"lambda"`
	WebSockets map[string]gateway.Usage  `json:"webSockets"`
	DynamoDB   struct {
		Requests map[string]int64 `json:"requests"`
		RRU      float64          `json:"readRequestUnits"`
		WRU      float64          `json:"writeRequestUnits"`
		// ByTable splits the units by table and operation ("Messages
		// TransactWriteItems"), to show where they go.
		ByTable map[string]Units `json:"byTable"`
	} `json:"dynamodb"`
	SQS struct {
		Requests map[string]int64 `json:"requests"`
		// Pollers counts the Lambda pollers' receives that got messages
		// and their deletes (idle long polls are a fixed cost, not per
		// conversation).
		Pollers int64 `json:"pollerRequests"`
	} `json:"sqs"`
	SES struct {
		Emails int64 `json:"emails"`
	} `json:"ses"`
	// Calls are the functions' calls to the emulator by service and
	// operation ("dynamodb GetItem"), with how long each took through the
	// meter: where a hop's time goes (issue 21).
	Calls map[string]CallTimes `json:"calls"`
	// StackCalls are the local stack's own calls to the emulator (its
	// event-source pollers, schedules, set-up), timed the same way: the
	// share of the emulator's work that is the machinery's, not the
	// functions' (an SQS long poll's time includes its wait).
	StackCalls map[string]CallTimes `json:"stackCalls"`
	// CallsByFunction counts the functions' calls to the emulator by
	// function (logical id, known by the role credentials it signs with)
	// and call: which function's work a hop waits behind.
	CallsByFunction map[string]map[string]int64 `json:"callsByFunction"`
	// Faults are the faults injected so far (fault mode only) and the
	// plan's seed.
	Faults    []chaos.Hit `json:"faults,omitempty"`
	FaultSeed int64       `json:"faultSeed,omitempty"`
}

// Units are a table's estimated request units.
type Units struct {
	RRU float64 `json:"readRequestUnits"`
	WRU float64 `json:"writeRequestUnits"`
}

func newMeter(emulator string) (*meter, error) {
	target, err := url.Parse(emulator)
	if err != nil {
		return nil, err
	}
	m := &meter{proxy: httputil.NewSingleHostReverseProxy(target), calls: map[string]*histogram{}, byCaller: map[string]map[string]int64{}}
	m.u.DynamoDB.Requests = map[string]int64{}
	m.u.DynamoDB.ByTable = map[string]Units{}
	m.u.SQS.Requests = map[string]int64{}
	return m, nil
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	defer m.timed(m.callerOf(r), callName(target, r), time.Now())
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if service, op := serviceOf(target); service != "" && m.fault != nil {
		serve := func(w http.ResponseWriter) {
			r.Body = io.NopCloser(bytes.NewReader(body))
			m.serve(w, r, target, body)
		}
		if m.fault(w, r, service, op, serve, nil) {
			return
		}
	}
	m.serve(w, r, target, body)
}

// serve passes a request to the emulator and counts it.
func (m *meter) serve(w http.ResponseWriter, r *http.Request, target string, body []byte) {
	switch {
	case strings.HasPrefix(target, "DynamoDB_20120810."):
		rec := &recorder{ResponseWriter: w}
		m.proxy.ServeHTTP(rec, r)
		m.dynamo(strings.TrimPrefix(target, "DynamoDB_20120810."), body, rec.body.Bytes(), rec.status)
		return
	case strings.HasPrefix(target, "AmazonSQS."):
		m.count(func(u *Usage) { u.SQS.Requests[strings.TrimPrefix(target, "AmazonSQS.")]++ })
	case strings.Contains(r.URL.Path, "/v2/email/outbound-emails"):
		if m.ses != nil {
			if e := m.ses.check(r.Context(), r, body); e != nil {
				e.write(w)
				return
			}
			if err := resign(r, body, "ses"); err != nil {
				(&awsError{http.StatusInternalServerError, "InternalFailure", err.Error()}).write(w)
				return
			}
		}
		m.count(func(u *Usage) { u.SES.Emails++ })
	}
	m.proxy.ServeHTTP(w, r)
}

// callName names a call for its timings: the service and operation of
// an X-Amz-Target, else the method and the API's path (SES v2, Secrets
// Manager's JSON calls carry a target too).
func callName(target string, r *http.Request) string {
	if svc, op, ok := strings.Cut(target, "."); ok {
		svc = strings.ToLower(strings.SplitN(svc, "_", 2)[0])
		return strings.TrimPrefix(svc, "amazon") + " " + op
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	path := "/" + strings.Join(parts[:min(3, len(parts))], "/") // "/v2/email/outbound-emails"
	return r.Method + " " + path
}

func (m *meter) timed(caller, name string, start time.Time) {
	m.mu.Lock()
	record(m.calls, name, time.Since(start))
	if caller != "" {
		if m.byCaller[caller] == nil {
			m.byCaller[caller] = map[string]int64{}
		}
		m.byCaller[caller][name]++
	}
	m.mu.Unlock()
}

func (m *meter) callerOf(r *http.Request) string {
	if m.caller == nil {
		return ""
	}
	return m.caller(r)
}

func record(calls map[string]*histogram, name string, d time.Duration) {
	h := calls[name]
	if h == nil {
		h = &histogram{}
		calls[name] = h
	}
	h.add(d)
}

// ownCalls times the local stack's own calls to the emulator: an
// aws.HTTPClient around the SDK's.
type ownCalls struct {
	next  aws.HTTPClient
	mu    sync.Mutex
	calls map[string]*histogram
}

func newOwnCalls() *ownCalls {
	return &ownCalls{next: awshttp.NewBuildableClient(), calls: map[string]*histogram{}}
}

// Do sends the request and records how long the answer took.
func (o *ownCalls) Do(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.Do(r)
	o.mu.Lock()
	record(o.calls, callName(r.Header.Get("X-Amz-Target"), r), time.Since(start))
	o.mu.Unlock()
	return resp, err
}

func (o *ownCalls) times() map[string]CallTimes {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]CallTimes, len(o.calls))
	for k, h := range o.calls {
		out[k] = h.times()
	}
	return out
}

// CallTimes are one kind of call's count and latencies (milliseconds; a
// percentile is its bucket's upper bound, within 10 %).
type CallTimes struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// histogram counts durations in buckets 10 % apart from 0.25 ms.
type histogram struct {
	n       int64
	max     time.Duration
	buckets [200]int64
}

func bucketOf(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 0.25 {
		return 0
	}
	return min(int(math.Ceil(math.Log(ms/0.25)/math.Log(1.1))), 199)
}

func bucketTop(i int) float64 { return 0.25 * math.Pow(1.1, float64(i)) }

func (h *histogram) add(d time.Duration) {
	h.n++
	h.max = max(h.max, d)
	h.buckets[bucketOf(d)]++
}

func (h *histogram) times() CallTimes {
	q := func(p float64) float64 {
		want := int64(math.Ceil(p * float64(h.n)))
		var seen int64
		for i, c := range h.buckets {
			if seen += c; seen >= want {
				return math.Round(bucketTop(i)*10) / 10
			}
		}
		return 0
	}
	return CallTimes{Count: h.n, P50: q(0.5), P99: q(0.99), Max: float64(h.max.Microseconds()) / 1000}
}

func (m *meter) count(f func(*Usage)) {
	m.mu.Lock()
	f(&m.u)
	m.mu.Unlock()
}

// recorder keeps a copy of the response for the read units.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func units(bytes, per int) float64 { return math.Max(1, math.Ceil(float64(bytes)/float64(per))) }

// dynamo adds a DynamoDB request and estimates its request units.
func (m *meter) dynamo(op string, req, resp []byte, status int) {
	var in struct {
		TableName      string
		ConsistentRead bool
		Item           json.RawMessage
		TransactItems  []map[string]json.RawMessage
		RequestItems   map[string]struct{ ConsistentRead bool }
	}
	_ = json.Unmarshal(req, &in)
	consistent := 0.5
	if in.ConsistentRead {
		consistent = 1
	}
	tables := map[string]Units{}
	switch op {
	case "GetItem", "Query", "Scan":
		tables[in.TableName] = Units{RRU: units(len(resp), 4096) * consistent}
	case "BatchGetItem":
		// Each item read counts apart, rounded up to 4 KB, at its table's
		// consistency.
		var out struct {
			Responses map[string][]json.RawMessage
		}
		_ = json.Unmarshal(resp, &out)
		for table, items := range out.Responses {
			per := 0.5
			if in.RequestItems[table].ConsistentRead {
				per = 1
			}
			u := tables[table]
			for _, it := range items {
				u.RRU += units(len(it), 4096) * per
			}
			tables[table] = u
		}
	case "PutItem":
		tables[in.TableName] = Units{WRU: units(len(in.Item), 1024)}
	case "UpdateItem", "DeleteItem":
		// The item's size is not in the request; its key and the update
		// are: a lower bound for the small items this system writes.
		tables[in.TableName] = Units{WRU: units(len(req), 1024)}
	case "TransactWriteItems":
		for _, it := range in.TransactItems {
			for _, v := range it {
				var t struct{ TableName string }
				_ = json.Unmarshal(v, &t)
				u := tables[t.TableName]
				u.WRU += 2 * units(len(v), 1024)
				tables[t.TableName] = u
			}
		}
	}
	if status >= 400 && op != "TransactWriteItems" && !bytes.Contains(resp, []byte("ConditionalCheckFailed")) {
		// A failed condition still consumes its write; other errors we
		// count as the request only.
		tables = nil
	}
	m.count(func(u *Usage) {
		u.DynamoDB.Requests[op]++
		for table, n := range tables {
			u.DynamoDB.RRU += n.RRU
			u.DynamoDB.WRU += n.WRU
			k := table + " " + op
			t := u.DynamoDB.ByTable[k]
			t.RRU += n.RRU
			t.WRU += n.WRU
			u.DynamoDB.ByTable[k] = t
		}
	})
}

// usage gathers the meter's, the pools' and the gateways' counts.
func (s *Stack) usage() Usage {
	s.meter.mu.Lock()
	u := s.meter.u
	u.DynamoDB.Requests = cloneCounts(s.meter.u.DynamoDB.Requests)
	u.DynamoDB.ByTable = make(map[string]Units, len(s.meter.u.DynamoDB.ByTable))
	for k, v := range s.meter.u.DynamoDB.ByTable {
		u.DynamoDB.ByTable[k] = v
	}
	u.SQS.Requests = cloneCounts(s.meter.u.SQS.Requests)
	u.Calls = make(map[string]CallTimes, len(s.meter.calls))
	for k, h := range s.meter.calls {
		u.Calls[k] = h.times()
	}
	u.CallsByFunction = make(map[string]map[string]int64, len(s.meter.byCaller))
	for fn, calls := range s.meter.byCaller {
		u.CallsByFunction[fn] = cloneCounts(calls)
	}
	s.meter.mu.Unlock()
	u.StackCalls = s.own.times()
	u.SQS.Pollers = s.pollerRequests.Load()
	u.Faults, u.FaultSeed = s.chaos.Hits(), s.chaos.Seed()
	u.Lambda = map[string]lambdart.Usage{}
	for id, p := range s.pools {
		u.Lambda[id] = p.Usage()
	}
	u.WebSockets = map[string]gateway.Usage{}
	for id, g := range s.gateways {
		u.WebSockets[id] = g.Usage()
	}
	return u
}

func cloneCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
