package loadgen

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/patientservicecenter/psc/localstack/lambdart"
	"github.com/patientservicecenter/psc/localstack/stack"
)

//go:embed prices.json
var pricesJSON []byte

// Prices are the list prices the cost model uses (prices.json).
type Prices struct {
	Region   string `json:"region"`
	Recorded string `json:"recorded"`
	Prices   map[string]struct {
		USD    float64 `json:"usd"`
		Per    string  `json:"per"`
		Source string  `json:"source"`
	} `json:"prices"`
}

// LoadPrices parses the embedded prices.
func LoadPrices() (Prices, error) {
	var p Prices
	if err := json.Unmarshal(pricesJSON, &p); err != nil {
		return p, fmt.Errorf("prices.json: %w", err)
	}
	for _, k := range []string{"lambdaRequest", "lambdaArmGBSecond", "dynamoWRU", "dynamoRRU", "sqsStandardRequest", "sqsFifoRequest",
		"webSocketMessage", "webSocketMinute", "sesEmail", "connectChatMessage"} {
		if p.Prices[k].USD <= 0 || p.Prices[k].Source == "" {
			return p, fmt.Errorf("prices.json: %s needs a price and its source", k)
		}
	}
	return p, nil
}

// Usage is the local stack's metered usage (GET /_psc/usage), as the
// stack's meter writes it.
type Usage = stack.Usage

// CallTimes are the local stack's timings of one kind of call from the
// functions to the emulator (milliseconds).
type CallTimes = stack.CallTimes

// FunctionUsage is one function's metered invocations.
type FunctionUsage = lambdart.Usage

// ReadUsage fetches the stack's usage so far.
func ReadUsage(web string) (Usage, error) {
	var u Usage
	res, err := http.Get(strings.TrimSuffix(web, "/") + "/_psc/usage")
	if err != nil {
		return u, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return u, fmt.Errorf("usage: HTTP %d", res.StatusCode)
	}
	return u, json.NewDecoder(res.Body).Decode(&u)
}

// Line is one line of a cost table.
type Line struct {
	Item     string
	Quantity float64
	Unit     string
	USD      float64
}

// Cost turns the usage a run added (after minus before) into dollars.
// FIFO requests are those of the bot-turn queue (its URL ends .fifo);
// the meter counts SQS requests by operation, so the model takes the
// FIFO share from the function that sends them (message) and the
// pollers' requests as FIFO for the bot-turn poller's share.
func Cost(before, after Usage, p Prices) []Line {
	price := func(k string) float64 { return p.Prices[k].USD }
	var lines []Line
	var invocations, gbs float64
	for _, fn := range slices.Sorted(maps.Keys(after.Lambda)) {
		a, b := after.Lambda[fn], before.Lambda[fn]
		n := float64(a.Invocations - b.Invocations)
		sec := float64(a.BilledMs-b.BilledMs) / 1000
		invocations += n
		gbs += sec * float64(a.MemoryMB) / 1024
	}
	lines = append(lines, Line{"Lambda requests", invocations, "requests", invocations * price("lambdaRequest")},
		Line{"Lambda compute (arm64)", gbs, "GB-s", gbs * price("lambdaArmGBSecond")})
	wru, rru := after.DynamoDB.WRU-before.DynamoDB.WRU, after.DynamoDB.RRU-before.DynamoDB.RRU
	lines = append(lines, Line{"DynamoDB writes", wru, "WRU", wru * price("dynamoWRU")}, Line{"DynamoDB reads", rru, "RRU", rru * price("dynamoRRU")})
	var sqsReq float64
	for op, n := range after.SQS.Requests {
		sqsReq += float64(n - before.SQS.Requests[op])
	}
	sqsReq += float64(after.SQS.Pollers - before.SQS.Pollers)
	// Most of the system's SQS traffic is the bot-turn FIFO queue: priced
	// as FIFO, the dearer, to stay on the safe side.
	lines = append(lines, Line{"SQS requests", sqsReq, "requests", sqsReq * price("sqsFifoRequest")})
	var msgs, minutes float64
	for api, a := range after.WebSockets {
		b := before.WebSockets[api]
		msgs += float64(a.MessagesIn - b.MessagesIn + a.MessagesOut - b.MessagesOut)
		minutes += float64(a.ConnectedMinutes - b.ConnectedMinutes)
	}
	lines = append(lines, Line{"WebSocket messages", msgs, "messages", msgs * price("webSocketMessage")},
		Line{"WebSocket connection minutes", minutes, "minutes", minutes * price("webSocketMinute")})
	emails := float64(after.SES.Emails - before.SES.Emails)
	lines = append(lines, Line{"SES emails", emails, "emails", emails * price("sesEmail")})
	return lines
}

// PrintCost writes the cost per 1,000 conversations and the comparison
// with Amazon Connect chat's per-message price for the same messages.
func PrintCost(w io.Writer, lines []Line, conversations, chatMessages int, p Prices) {
	total := 0.0
	for _, l := range lines {
		total += l.USD
	}
	per := 1000 / float64(max(1, conversations))
	fmt.Fprintf(w, "\nCost per 1,000 conversations (%s list prices recorded %s; %d conversations, %d chat messages measured):\n\n", p.Region, p.Recorded, conversations, chatMessages)
	fmt.Fprintf(w, "| item | per 1,000 conversations | USD |\n| --- | --- | --- |\n")
	for _, l := range lines {
		fmt.Fprintf(w, "| %s | %.0f %s | %.4f |\n", l.Item, l.Quantity*per, l.Unit, l.USD*per)
	}
	connect := float64(chatMessages) * p.Prices["connectChatMessage"].USD * per
	fmt.Fprintf(w, "| **total** | | **%.4f** |\n\n", total*per)
	fmt.Fprintf(w, "Amazon Connect chat for the same messages (%.0f per 1,000 conversations at $%.3f each): $%.2f — %.0f times this system's cost.\n",
		float64(chatMessages)*per, p.Prices["connectChatMessage"].USD, connect, connect/max(total*per, 1e-9))
}

// PrintCalls writes how long the functions' calls to the emulator took,
// by service and operation, busiest first: the emulator's share of a hop.
// The latencies are the stack's since it started (on a fresh stack, the
// run's); the counts are the run's.
// Then the same for the local stack's own calls (its pollers): the
// emulator's work that is the machinery's.
func PrintCalls(w io.Writer, before, after Usage) {
	printCalls(w, "call to the emulator", before.Calls, after.Calls)
	printCalls(w, "the local stack's own call (pollers)", before.StackCalls, after.StackCalls)
	printByFunction(w, before, after)
}

// printByFunction writes each function's calls to the emulator during the
// run, busiest function first, with its calls per invocation and the
// calls it makes most.
func printByFunction(w io.Writer, before, after Usage) {
	type row struct {
		fn    string
		total int64
		calls map[string]int64
	}
	var rows []row
	for fn, calls := range after.CallsByFunction {
		r := row{fn: fn, calls: map[string]int64{}}
		for name, n := range calls {
			if d := n - before.CallsByFunction[fn][name]; d > 0 {
				r.calls[name] = d
				r.total += d
			}
		}
		if r.total > 0 {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b row) int { return int(b.total - a.total) })
	fmt.Fprintf(w, "\n| function | calls to the emulator | per invocation | the most made |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		per := "—"
		if inv := after.Lambda[r.fn].Invocations - before.Lambda[r.fn].Invocations; inv > 0 {
			per = fmt.Sprintf("%.1f", float64(r.total)/float64(inv))
		}
		names := slices.SortedFunc(maps.Keys(r.calls), func(a, b string) int { return int(r.calls[b] - r.calls[a]) })
		var most []string
		for _, n := range names[:min(3, len(names))] {
			most = append(most, fmt.Sprintf("%s %d", n, r.calls[n]))
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", r.fn, r.total, per, strings.Join(most, ", "))
	}
}

func printCalls(w io.Writer, title string, before, after map[string]CallTimes) {
	fmt.Fprintf(w, "\n| %s | during the run | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- |\n", title)
	names := slices.SortedFunc(maps.Keys(after), func(a, b string) int {
		return int((after[b].Count - before[b].Count) - (after[a].Count - before[a].Count))
	})
	for _, n := range names {
		a := after[n]
		if d := a.Count - before[n].Count; d > 0 {
			fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f |\n", n, d, a.P50, a.P99, a.Max)
		}
	}
}

// PrintStarts writes each function's cold starts during the run and
// their mean start-to-ready time (process start to its first request for
// an invocation).
func PrintStarts(w io.Writer, before, after Usage) {
	fmt.Fprintf(w, "\n| function | invocations | cold starts | mean start-to-ready |\n| --- | --- | --- | --- |\n")
	for _, fn := range slices.Sorted(maps.Keys(after.Lambda)) {
		a, b := after.Lambda[fn], before.Lambda[fn]
		starts := a.ColdStarts - b.ColdStarts
		mean := "—"
		if starts > 0 {
			mean = fmt.Sprintf("%d ms", (a.InitMs-b.InitMs)/starts)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s |\n", fn, a.Invocations-b.Invocations, starts, mean)
	}
}

// PrintDynamo writes where the run's DynamoDB request units went, by
// table and operation, per 1,000 conversations, dearest first.
func PrintDynamo(w io.Writer, before, after Usage, conversations int, p Prices) {
	type row struct {
		key      string
		wru, rru float64
		usd      float64
	}
	per := 1000 / float64(max(1, conversations))
	var rows []row
	for k, a := range after.DynamoDB.ByTable {
		b := before.DynamoDB.ByTable[k]
		r := row{key: k, wru: (a.WRU - b.WRU) * per, rru: (a.RRU - b.RRU) * per}
		r.usd = r.wru*p.Prices["dynamoWRU"].USD + r.rru*p.Prices["dynamoRRU"].USD
		if r.wru > 0 || r.rru > 0 {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].usd > rows[j].usd || (rows[i].usd == rows[j].usd && rows[i].key < rows[j].key)
	})
	fmt.Fprintf(w, "\nDynamoDB by table and operation, per 1,000 conversations:\n\n| table operation | WRU | RRU | USD |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.4f |\n", r.key, r.wru, r.rru, r.usd)
	}
}
