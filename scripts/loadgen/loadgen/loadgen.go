// Package loadgen drives a running stack like a busy morning: patients
// start conversations at a rate, chat with the bot, a share of them asks
// for a person; agents accept, reply and close. It measures latencies
// per phase, throughput and errors, and checks that no message was lost
// or delivered twice. The CLI is scripts/loadgen; an e2e test runs a small
// load in make test.
package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/coder/websocket"

	"github.com/patientservicecenter/psc/localstack/staffauth"
)

// Config is a load.
type Config struct {
	PatientURL string // the patient WebSocket API
	AgentURL   string // the agent WebSocket API
	PoolID     string // the agent pool (agents are created in it)
	ClientID   string // the console's app client
	PoolAPI    string // the user-pool API agents sign in against (the stack's front)
	AWS        aws.Config

	Patients      int     // how many patients in all
	Agents        int     // how many agents
	Rate          float64 // patients starting per second
	EscalateShare float64 // the share of patients who ask for a person
	// Seed picks which patients ask for a person and which book: the same
	// seed, the same mix, so runs before and after a change compare; 0
	// takes one from the clock.
	Seed uint64
	// BookShare is the share of the other patients who book an
	// appointment with the bot (and wait for its confirmation in the chat).
	BookShare float64
	Exchanges int           // messages each way with the agent
	Capacity  int           // conversations per agent
	Timeout   time.Duration // the longest a patient waits for any answer
	Progress  io.Writer     // progress lines (nil: none)
}

// Phases measured.
const (
	PhaseAck        = "patient send → ack"
	PhaseBot        = "patient send → bot reply"
	PhaseToAgent    = "patient send → agent receives"
	PhaseToPatient  = "agent send → patient receives"
	PhaseConnect    = "connect → session"
	PhaseAssignment = "handoff → agent assigned"
	// PhaseOffer runs from the patient's reading the bot's handoff reply
	// to an agent's console receiving the offer: escalation and routing.
	PhaseOffer = "bot handoff → agent offer"
)

// Report is what a run measured.
type Report struct {
	Duration     time.Duration
	Patients     int
	Completed    int
	Escalated    int
	Messages     int // messages stored (acked) by patients and agents
	Errors       int
	ErrorSamples []string
	Lost         int // acked messages the other side never received
	Duplicated   int // messages a side received that were never sent to it (a second copy under another id)
	Echoes       int // a sender's own messages pushed back to it (every send says "echo": false)
	// Bookings made with the bot: booked, refused (the time was taken, or
	// the dialog did not book), and the confirmations the chat received
	// (one per booking; more is a doubled confirmation).
	Booked, Refused, Confirmed int
	// Frames counts the frames received, by side and type ("patient status").
	Frames   map[string]int
	Repeated int // frames received again with an id already seen (allowed; clients keep one)
	Peak     int // the most patients connected at once
	// Reconnects counts clients that connected again after their
	// WebSocket was dropped (patients resume, agents restore what they hold).
	Reconnects int
	Phases     map[string][]time.Duration
	// Agents are each agent's own counts, by agent id (the token's
	// subject), to hold the supervisors' figures by agent against.
	Agents map[string]AgentCounts
}

// AgentCounts is what one agent of the run saw and did: the offers it
// received, the acceptances it was answered (assigned), the
// conversations it closed.
type AgentCounts struct {
	Name                     string
	Offers, Accepted, Closed int
}

// run is one load's shared state.
type run struct {
	cfg                        Config
	id                         string
	mu                         sync.Mutex
	phases                     map[string][]time.Duration
	errs                       []string
	sentAt                     map[string]time.Time    // conversationId/messageId → when sent
	recvAt                     map[string]time.Time    // conversationId/messageId → when received, if before the sender's ack
	replies                    map[string]string       // an agent reply's clientMessageId → its conversation
	handoffs                   map[string][2]time.Time // conversationId → when the patient read the handoff reply, when the first offer came
	msgs                       atomic.Int64
	done                       atomic.Int64
	esc                        atomic.Int64
	active                     atomic.Int64
	peak                       atomic.Int64
	echoes                     atomic.Int64
	reconnects                 atomic.Int64
	booked, refused, confirmed atomic.Int64
	frames                     map[string]int // "side type" → frames received (under mu)
	started                    atomic.Int64
	// Deliveries: per conversation and message id, how many times each
	// side received it, and which ids each side had acked.
	got   map[string]int  // "side|conversation|messageId" → times received
	acked map[string]bool // "side|conversation|messageId" → acked by the sender on that side
	// agents are each agent's counts (under mu), by agent id.
	agents map[string]*AgentCounts
}

// tally adds to an agent's counts.
func (r *run) tally(agentID string, add func(*AgentCounts)) {
	r.mu.Lock()
	add(r.agents[agentID])
	r.mu.Unlock()
}

// handoffAt records, for a conversation, when the patient read the bot's
// handoff reply (side 0) or an agent got its first offer (side 1), in
// whichever order they come; with both, the offer's phase is observed.
func (r *run) handoffAt(conversationID string, side int, at time.Time) {
	r.mu.Lock()
	t := r.handoffs[conversationID]
	if !t[side].IsZero() {
		r.mu.Unlock()
		return
	}
	t[side] = at
	r.handoffs[conversationID] = t
	r.mu.Unlock()
	if !t[0].IsZero() && !t[1].IsZero() {
		r.observe(PhaseOffer, max(0, t[1].Sub(t[0])))
	}
}

func (r *run) observe(phase string, d time.Duration) {
	r.mu.Lock()
	r.phases[phase] = append(r.phases[phase], d)
	r.mu.Unlock()
}

func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *run) received(side, conv, id string) {
	r.mu.Lock()
	r.got[side+"|"+conv+"|"+id]++
	r.mu.Unlock()
}

// expect records a message the other side must receive once, sent at
// at; if it was received already, its delivery latency is observed now.
func (r *run) expect(phase, receiver, conv, id string, at time.Time) {
	r.mu.Lock()
	r.acked[receiver+"|"+conv+"|"+id] = true
	r.sentAt[conv+"/"+id] = at
	recv, early := r.recvAt[conv+"/"+id]
	if early {
		r.phases[phase] = append(r.phases[phase], recv.Sub(at))
	}
	r.mu.Unlock()
}

// Run applies the load and reports. It stops by itself when every patient
// is done (or has timed out).
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Capacity == 0 {
		cfg.Capacity = 3
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	r := &run{cfg: cfg, id: fmt.Sprint(time.Now().UnixNano() % 1e9), phases: map[string][]time.Duration{}, frames: map[string]int{}, sentAt: map[string]time.Time{},
		recvAt: map[string]time.Time{}, replies: map[string]string{}, handoffs: map[string][2]time.Time{}, got: map[string]int{}, acked: map[string]bool{}, agents: map[string]*AgentCounts{}}
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	var agents sync.WaitGroup
	ready := make(chan error, cfg.Agents)
	for i := range cfg.Agents {
		agents.Add(1)
		go func() { defer agents.Done(); r.agent(agentCtx, i, ready) }()
	}
	for range cfg.Agents {
		if err := <-ready; err != nil {
			return Report{}, fmt.Errorf("starting the agents: %w", err)
		}
	}
	start := time.Now()
	progressDone := make(chan struct{})
	go r.progress(progressDone)
	var patients sync.WaitGroup
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(start.UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range cfg.Patients {
		escalate := rng.Float64() < cfg.EscalateShare
		book := !escalate && rng.Float64() < cfg.BookShare
		patients.Add(1)
		go func() { defer patients.Done(); r.patient(ctx, i, escalate, book) }()
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
	patients.Wait()
	close(progressDone)
	stopAgents()
	agents.Wait()
	rep := Report{Duration: time.Since(start), Patients: cfg.Patients, Completed: int(r.done.Load()), Escalated: int(r.esc.Load()),
		Messages: int(r.msgs.Load()), Errors: len(r.errs), Phases: r.phases, Peak: int(r.peak.Load()), Echoes: int(r.echoes.Load()), Frames: r.frames, Reconnects: int(r.reconnects.Load())}
	rep.ErrorSamples = r.errs[:min(len(r.errs), 5)]
	rep.Agents = map[string]AgentCounts{}
	for id, c := range r.agents {
		rep.Agents[id] = *c
	}
	rep.Booked, rep.Refused, rep.Confirmed = int(r.booked.Load()), int(r.refused.Load()), int(r.confirmed.Load())
	for k := range r.acked {
		if r.got[k] == 0 {
			rep.Lost++
		}
	}
	for k, n := range r.got {
		if n > 1 {
			rep.Repeated += n - 1
		}
		if !r.acked[k] && (strings.HasPrefix(k, "agent|") || strings.HasPrefix(k, "agent-to-patient|")) {
			rep.Duplicated++
		}
	}
	return rep, nil
}

func (r *run) countFrame(side, typ string) {
	r.mu.Lock()
	r.frames[side+" "+typ]++
	r.mu.Unlock()
}

func (r *run) progress(done <-chan struct{}) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			r.mu.Lock()
			errs := len(r.errs)
			r.mu.Unlock()
			fmt.Fprintf(r.cfg.Progress, "  started %d/%d patients, %d done, %d with an agent, %d messages, %d errors\n",
				r.started.Load(), r.cfg.Patients, r.done.Load(), r.esc.Load(), r.msgs.Load(), errs)
		}
	}
}

// dropped is the frame a conn's reader hands on when its WebSocket closes
// under it (a lost network, or the stack's drop fault).
const dropped = "_dropped"

// conn is a WebSocket client that hands frames to a waiter. After a drop,
// a patient's conn reconnects as the page does (redial); an agent's loop
// reconnects its own.
type conn struct {
	c       *websocket.Conn
	frames  chan map[string]any
	count   func(typ string)
	done    chan struct{} // closed when the client closes the conn itself
	seq     atomic.Int64
	lastBot map[string]any
	// lastBotAt is when lastBot came.
	lastBotAt time.Time
	// confirmed: a booking's confirmation arrived while the patient waited
	// for something else.
	confirmed bool
	botSeen   map[string]bool // the bot messages received, by id
	// A patient's reconnection: redial connects again and resumes from
	// lastID (the newest message id held); pending is the send whose ack
	// has not come, sent again after the resume with the same id.
	redial  func() error
	lastID  string
	pending map[string]any
}

// dial connects and reads frames into k.frames, counting each by type.
func dial(ctx context.Context, u string, count func(typ string)) (*conn, error) {
	k := &conn{frames: make(chan map[string]any, 256), count: count, done: make(chan struct{}), botSeen: map[string]bool{}}
	if err := k.connect(ctx, u); err != nil {
		return nil, err
	}
	return k, nil
}

// connect dials u, with a few tries a short while apart (a reconnecting
// client backs off), and reads the new WebSocket into k.frames.
func (k *conn) connect(ctx context.Context, u string) error {
	var c *websocket.Conn
	var err error
	for try := range 5 {
		if c, _, err = websocket.Dial(ctx, u, nil); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	c.SetReadLimit(1 << 20)
	k.c = c
	go k.read(c)
	return nil
}

// read hands c's frames on; a history frame's messages (and its state) are
// handed on one by one, as if pushed, so waiters see what a drop made them
// miss. The patient's own messages are left out: the client holds them
// from their acks.
func (k *conn) read(c *websocket.Conn) {
	hand := func(f map[string]any) bool {
		select {
		case k.frames <- f:
			return true
		case <-k.done:
			return false
		}
	}
	for {
		_, b, err := c.Read(context.Background())
		if err != nil {
			hand(map[string]any{"type": dropped})
			return
		}
		var f map[string]any
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		k.count(fmt.Sprint(f["type"]))
		if f["type"] == "history" {
			msgs, _ := f["messages"].([]any)
			for _, m := range msgs {
				if m, ok := m.(map[string]any); ok && role(m) != "patient" {
					m["type"], m["conversationId"] = "message", f["conversationId"]
					if !hand(m) {
						return
					}
				}
			}
			if !hand(map[string]any{"type": "status", "conversationId": f["conversationId"], "state": f["state"], "at": f["at"]}) {
				return
			}
		}
		if !hand(f) {
			return
		}
	}
}

// close ends the conn from the client's side.
func (k *conn) close() {
	close(k.done)
	_ = k.c.Close(websocket.StatusNormalClosure, "")
}

func (k *conn) send(ctx context.Context, f map[string]any) error {
	b, _ := json.Marshal(f)
	return k.c.Write(ctx, websocket.MessageText, b)
}

// wait returns the next frame match accepts; others go to skip. A drop
// reconnects a conn that can (a patient's) and fails one that cannot.
func (k *conn) wait(timeout time.Duration, match func(map[string]any) bool, skip func(map[string]any)) (map[string]any, error) {
	deadline := time.After(timeout)
	for {
		select {
		case f := <-k.frames:
			if f["type"] == dropped {
				if k.redial == nil {
					return nil, fmt.Errorf("connection closed")
				}
				if err := k.redial(); err != nil {
					return nil, fmt.Errorf("reconnecting after a drop: %w", err)
				}
				continue
			}
			k.hold(f)
			if match(f) {
				return f, nil
			}
			if skip != nil {
				skip(f)
			}
		case <-deadline:
			return nil, fmt.Errorf("no answer within %s", timeout)
		}
	}
}

// hold notes the newest message id the client holds (ids of one
// conversation sort in its order), which a resume starts after.
func (k *conn) hold(f map[string]any) {
	if f["type"] != "message" && f["type"] != "ack" {
		return
	}
	if id, _ := f["messageId"].(string); id > k.lastID {
		k.lastID = id
	}
}

func role(f map[string]any) string {
	from, _ := f["from"].(map[string]any)
	s, _ := from["role"].(string)
	return s
}

// patient plays one patient.
func (r *run) patient(ctx context.Context, i int, escalate, book bool) {
	r.started.Add(1)
	defer r.done.Add(1)
	if n := r.active.Add(1); n > r.peak.Load() {
		r.peak.Store(n) // a racy maximum is close enough for a report
	}
	defer r.active.Add(-1)
	t0 := time.Now()
	k, err := dial(ctx, r.cfg.PatientURL, func(t string) { r.countFrame("patient", t) })
	if err != nil {
		r.fail("patient %d: connect: %v", i, err)
		return
	}
	defer k.close()
	conv := ""
	// closed: the conversation's end arrived while the patient waited for
	// something else (frames pushed by different functions may arrive in
	// any order, more so when a push is retried).
	closed, assigned := false, false
	// skip notes frames that arrive while waiting for another one.
	skip := func(f map[string]any) {
		if f["type"] == "status" && f["state"] == "closed" {
			closed = true
		}
		if f["type"] == "status" && f["state"] == "assigned" {
			assigned = true
		}
		if f["type"] == "message" && role(f) == "system" && strings.Contains(fmt.Sprint(f["text"]), "Appointment confirmed") {
			k.confirmed = true
		}
		if f["type"] == "message" && role(f) == "bot" {
			k.botSeen[fmt.Sprint(f["messageId"])] = true
		}
		if f["type"] == "message" && role(f) == "patient" {
			r.echoes.Add(1)
		}
		if f["type"] == "message" && conv != "" {
			r.received(role(f)+"-to-patient", conv, fmt.Sprint(f["messageId"]))
			if role(f) == "agent" {
				r.seen(PhaseToPatient, conv, fmt.Sprint(f["messageId"]))
			}
		}
		if f["type"] == "error" {
			r.fail("patient %d: error frame %v: %v", i, f["code"], f["message"])
		}
	}
	if err := k.send(ctx, map[string]any{"action": "start", "name": fmt.Sprintf("Load Patient %d", i), "topic": "a question", "locale": "en", "requestId": "s"}); err != nil {
		r.fail("patient %d: start: %v", i, err)
		return
	}
	s, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool { return f["type"] == "session" }, skip)
	if err != nil {
		r.fail("patient %d: session: %v", i, err)
		return
	}
	conv = s["conversationId"].(string)
	r.observe(PhaseConnect, time.Since(t0))
	session, _ := s["session"].(string)
	k.redial = func() error {
		r.reconnects.Add(1)
		if err := k.connect(ctx, r.cfg.PatientURL+"?session="+url.QueryEscape(session)); err != nil {
			return err
		}
		if err := k.send(ctx, map[string]any{"action": "resume", "after": k.lastID, "requestId": "r"}); err != nil {
			return err
		}
		if k.pending != nil {
			return k.send(ctx, k.pending)
		}
		return nil
	}
	if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool {
		if f["type"] == "message" && role(f) == "bot" {
			k.botSeen[fmt.Sprint(f["messageId"])] = true
			return true
		}
		return false
	}, skip); err != nil {
		r.fail("patient %d (%s): greeting: %v", i, conv, err)
		return
	}
	say := func(text string, wantBot bool) (string, error) {
		id := fmt.Sprintf("p%d-%d", i, k.seq.Add(1))
		at := time.Now()
		// A send lost with a dropped connection goes again after the
		// reconnect (a write error is such a drop: its frame comes next).
		k.pending = map[string]any{"action": "send", "conversationId": conv, "clientMessageId": id, "text": text, "echo": false}
		defer func() { k.pending = nil }()
		_ = k.send(ctx, k.pending)
		// The ack and the bot's reply may come in either order (the reply
		// is pushed by another function).
		var ack, reply map[string]any
		_, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool {
			switch {
			case f["type"] == "ack" && f["clientMessageId"] == id && ack == nil:
				ack = f
				r.observe(PhaseAck, time.Since(at))
			case wantBot && f["type"] == "message" && role(f) == "bot" && reply == nil && !k.botSeen[fmt.Sprint(f["messageId"])]:
				// A bot message seen before is a redelivered turn's push
				// again, not the reply to this message.
				k.botSeen[fmt.Sprint(f["messageId"])] = true
				reply = f
				r.observe(PhaseBot, time.Since(at))
				r.received("bot", conv, fmt.Sprint(f["messageId"]))
				k.lastBot, k.lastBotAt = f, time.Now()
			default:
				return false
			}
			return ack != nil && (!wantBot || reply != nil)
		}, skip)
		if err != nil {
			what := "ack"
			if ack != nil {
				what = "bot reply"
			}
			return "", fmt.Errorf("%s: %w", what, err)
		}
		r.msgs.Add(1)
		mid := ack["messageId"].(string)
		return mid, nil
	}
	for _, text := range []string{"yes", "What are the visiting hours?"} {
		if _, err := say(text, true); err != nil {
			r.fail("patient %d (%s): %v", i, conv, err)
			return
		}
	}
	if book {
		r.book(i, conv, say, k, skip)
	}
	if !escalate {
		if _, err := say("That's all, thanks", true); err != nil {
			r.fail("patient %d (%s): %v", i, conv, err)
		}
		return
	}
	handoff := time.Now()
	k.lastBot = nil
	if _, err := say("I was charged twice for my visit", true); err != nil {
		r.fail("patient %d (%s): %v", i, conv, err)
		return
	}
	if q := fmt.Sprint(k.lastBot["quickReplies"]); strings.Contains(q, "Leave a message") {
		r.fail("patient %d (%s): the bot offered a callback instead of a person: the center is closed (BusinessHours) or no agent serves billing; run the stack with make run STAGE=load", i, conv)
		return
	}
	r.handoffAt(conv, 0, k.lastBotAt)
	// An agent may take the conversation before the bot's handoff reply
	// arrives (a retried push comes late).
	if !assigned {
		if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "assigned" }, skip); err != nil {
			r.fail("patient %d (%s): no agent: %v", i, conv, err)
			return
		}
	}
	r.observe(PhaseAssignment, time.Since(handoff))
	r.esc.Add(1)
	for j := range r.cfg.Exchanges {
		at := time.Now()
		mid, err := say(fmt.Sprintf(toAgent+"%d about the charge", j+1), false)
		if err != nil {
			r.fail("patient %d (%s): %v", i, conv, err)
			return
		}
		r.expect(PhaseToAgent, "agent", conv, mid, at)
		// The agent's answer.
		if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool {
			if f["type"] == "message" && role(f) == "agent" {
				r.received("agent-to-patient", conv, fmt.Sprint(f["messageId"]))
				r.seen(PhaseToPatient, conv, fmt.Sprint(f["messageId"]))
				return true
			}
			return false
		}, skip); err != nil {
			r.fail("patient %d (%s): agent reply %d: %v", i, conv, j+1, err)
			return
		}
	}
	if closed {
		return
	}
	if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool { return f["type"] == "status" && f["state"] == "closed" }, skip); err != nil {
		r.fail("patient %d (%s): not closed: %v", i, conv, err)
	}
}

// book books an appointment in the chat, as the bot's dialog asks: a
// specialty, a time of day, any provider, one of the three times offered,
// yes, an email; then waits for the confirmation the notify function posts
// in the chat. A time taken meanwhile is a refusal, and the patient leaves
// the dialog.
func (r *run) book(i int, conv string, say func(string, bool) (string, error), k *conn, skip func(map[string]any)) {
	for _, text := range []string{"I need an appointment", "Dermatology", "Any time", "No preference"} {
		if _, err := say(text, true); err != nil {
			r.fail("patient %d (%s): booking, %q: %v", i, conv, text, err)
			return
		}
	}
	offer, _ := k.lastBot["quickReplies"].([]any)
	if len(offer) < 3 {
		r.fail("patient %d (%s): booking: the bot offered no times: %v", i, conv, k.lastBot["text"])
		return
	}
	// "Skip": no mobile number, where the deployment asks for one.
	steps := []string{fmt.Sprint(offer[i%3]), "Yes, book it", fmt.Sprintf("load-%s-%d@example.org", r.id, i), "Skip"}
	for _, text := range steps {
		if _, err := say(text, true); err != nil {
			r.fail("patient %d (%s): booking, %q: %v", i, conv, text, err)
			return
		}
		if t := fmt.Sprint(k.lastBot["text"]); strings.Contains(t, "You're booked") || strings.Contains(t, "just taken") {
			break
		}
	}
	if !strings.Contains(fmt.Sprint(k.lastBot["text"]), "You're booked") {
		r.refused.Add(1)
		if _, err := say("cancel", true); err != nil {
			r.fail("patient %d (%s): leaving the booking: %v", i, conv, err)
		}
		return
	}
	r.booked.Add(1)
	if k.confirmed {
		r.confirmed.Add(1) // it came before the bot's reply
		return
	}
	if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool {
		return f["type"] == "message" && role(f) == "system" && strings.Contains(fmt.Sprint(f["text"]), "Appointment confirmed")
	}, skip); err != nil {
		r.fail("patient %d (%s): no confirmation of the booking: %v", i, conv, err)
		return
	}
	r.confirmed.Add(1)
}

// seen observes the delivery latency of a received message: now, if the
// sender's ack told its send time already, else when it does (expect).
func (r *run) seen(phase, conv, id string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.sentAt[conv+"/"+id]; ok {
		r.phases[phase] = append(r.phases[phase], now.Sub(at))
		return
	}
	r.recvAt[conv+"/"+id] = now
}

// agent plays one agent until the context ends; ready gets nil once the
// agent is available (or the error that stopped it).
func (r *run) agent(ctx context.Context, i int, ready chan<- error) {
	name := fmt.Sprintf("load-%s-%d", r.id, i)
	token, agentID, err := r.signUp(ctx, name)
	if err != nil {
		ready <- err
		return
	}
	r.mu.Lock()
	r.agents[agentID] = &AgentCounts{Name: name}
	r.mu.Unlock()
	k, err := dial(ctx, r.cfg.AgentURL+"?token="+url.QueryEscape(token), func(t string) { r.countFrame("agent", t) })
	if err != nil {
		ready <- fmt.Errorf("agent %s: connect: %w", name, err)
		return
	}
	defer func() { k.close() }()
	if err := k.send(ctx, map[string]any{"action": "presence", "status": "available", "requestId": "p"}); err != nil {
		ready <- err
		return
	}
	if _, err := k.wait(r.cfg.Timeout, func(f map[string]any) bool { return f["type"] == "presence" }, nil); err != nil {
		ready <- fmt.Errorf("agent %s: presence: %w", name, err)
		return
	}
	ready <- nil
	a := &loadAgent{run: r, i: i, id: agentID, name: name, k: k, counts: map[string]int{}, seen: map[string]bool{}, unacked: map[string]map[string]any{}, closing: map[string]bool{}}
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-k.frames:
			if f["type"] == dropped {
				if ctx.Err() != nil {
					return
				}
				// As the console does: connect again, be available, and
				// get back what is held (the conversations action).
				r.reconnects.Add(1)
				old := k
				k = &conn{frames: old.frames, count: old.count, done: old.done, botSeen: old.botSeen}
				if err := k.connect(ctx, r.cfg.AgentURL+"?token="+url.QueryEscape(token)); err != nil {
					r.fail("agent %s: reconnecting after a drop: %v", name, err)
					return
				}
				a.k = k
				_ = k.send(ctx, map[string]any{"action": "presence", "status": "available", "requestId": "p"})
				_ = k.send(ctx, map[string]any{"action": "conversations", "requestId": "c"})
				continue
			}
			a.handle(ctx, f)
		}
	}
}

// toAgent begins every message a patient writes to the agent, after the
// handoff; what it wrote before went to the bot.
const toAgent = "Here is detail "

// loadAgent is one agent's state, kept by its loop alone.
type loadAgent struct {
	run    *run
	i      int
	id     string
	name   string
	k      *conn
	counts map[string]int // conversation → patient messages answered
	seen   map[string]bool
	// unacked are the replies sent and not acked, sent again (same id)
	// after a reconnect; closing are the closes sent, sent again while
	// the conversation is still held after one.
	unacked map[string]map[string]any
	closing map[string]bool
}

func (a *loadAgent) handle(ctx context.Context, f map[string]any) {
	r, k := a.run, a.k
	conv, _ := f["conversationId"].(string)
	switch {
	case f["type"] == "offer":
		r.handoffAt(conv, 1, time.Now())
		r.tally(a.id, func(c *AgentCounts) { c.Offers++ })
		_ = k.send(ctx, map[string]any{"action": "accept", "conversationId": conv})
	case f["type"] == "assigned":
		r.tally(a.id, func(c *AgentCounts) { c.Accepted++ })
	case f["type"] == "message" && role(f) == "agent":
		r.echoes.Add(1)
	case f["type"] == "message" && role(f) == "patient":
		a.answer(ctx, conv, fmt.Sprint(f["messageId"]))
	case f["type"] == "presence" && f["status"] != "available" && f["requestId"] != "p":
		// An offer lapsed while the console was gone: the agent is back.
		_ = k.send(ctx, map[string]any{"action": "presence", "status": "available", "requestId": "p"})
	case f["type"] == "conversations":
		// After a reconnect: read what each held conversation missed, and
		// close again what a lost close left held.
		list, _ := f["conversations"].([]any)
		for _, c := range list {
			c, _ := c.(map[string]any)
			id, _ := c["conversationId"].(string)
			if a.closing[id] {
				_ = k.send(ctx, map[string]any{"action": "close", "conversationId": id, "disposition": "resolved"})
				continue
			}
			_ = k.send(ctx, map[string]any{"action": "context", "conversationId": id})
		}
		for _, m := range a.unacked {
			_ = k.send(ctx, m)
		}
	case f["type"] == "context":
		// The transcript holds the whole conversation, the patient's
		// messages to the bot included: answer only those written to the
		// agent, as a person reading it would. Answering the others made
		// the agent close early, while the patient still had a detail to
		// send ("conversation has ended"), and counted them as duplicated.
		msgs, _ := f["transcript"].([]any)
		for _, m := range msgs {
			if m, ok := m.(map[string]any); ok && role(m) == "patient" && strings.HasPrefix(fmt.Sprint(m["text"]), toAgent) {
				a.answer(ctx, conv, fmt.Sprint(m["messageId"]))
			}
		}
	case f["type"] == "ack":
		// A reply sent again after a reconnect may be acked twice.
		cid, _ := f["clientMessageId"].(string)
		if _, sent := a.unacked[cid]; !sent {
			return
		}
		delete(a.unacked, cid)
		r.mu.Lock()
		at := r.sentAt["reply/"+cid]
		c := r.replies[cid]
		r.mu.Unlock()
		r.observe(PhaseAck, time.Since(at))
		r.msgs.Add(1)
		r.expect(PhaseToPatient, "agent-to-patient", c, fmt.Sprint(f["messageId"]), at)
		if a.counts[c] >= r.cfg.Exchanges && !a.closing[c] {
			a.closing[c] = true
			r.tally(a.id, func(n *AgentCounts) { n.Closed++ })
			_ = k.send(ctx, map[string]any{"action": "close", "conversationId": c, "disposition": "resolved"})
		}
	case f["type"] == "error":
		r.fail("agent %s: error frame %v: %v", a.name, f["code"], f["message"])
	}
}

// answer replies once to a patient message, whether it was pushed or read
// in a held conversation's transcript after a reconnect.
func (a *loadAgent) answer(ctx context.Context, conv, id string) {
	r := a.run
	r.received("agent", conv, id)
	if a.seen[conv+"/"+id] {
		return
	}
	a.seen[conv+"/"+id] = true
	r.seen(PhaseToAgent, conv, id)
	a.counts[conv]++
	at := time.Now()
	r.mu.Lock()
	reply := fmt.Sprintf("a%d-%d", a.i, len(r.replies))
	r.replies[reply] = conv
	r.sentAt["reply/"+reply] = at
	r.mu.Unlock()
	m := map[string]any{"action": "send", "conversationId": conv, "clientMessageId": reply, "text": "Thank you, I am looking into it.", "echo": false}
	a.unacked[reply] = m
	_ = a.k.send(ctx, m)
}

// signUp creates an agent in the pool (as an admin would) and signs in.
func (r *run) signUp(ctx context.Context, name string) (token, agentID string, err error) {
	idp := cip.NewFromConfig(r.cfg.AWS)
	password := "Load-Agent-" + r.id + "!"
	attrs := []ciptypes.AttributeType{
		{Name: aws.String("name"), Value: aws.String(name)}, {Name: aws.String("custom:display_name"), Value: aws.String(name)},
		{Name: aws.String("custom:skills"), Value: aws.String("billing,general")},
		{Name: aws.String("custom:languages"), Value: aws.String("en,es")}, {Name: aws.String("custom:capacity"), Value: aws.String(fmt.Sprint(r.cfg.Capacity))},
	}
	created, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &r.cfg.PoolID, Username: &name, UserAttributes: attrs,
		MessageAction: ciptypes.MessageActionTypeSuppress, TemporaryPassword: &password})
	if err != nil {
		return "", "", fmt.Errorf("creating agent %s: %w", name, err)
	}
	for _, a := range created.User.Attributes {
		if aws.ToString(a.Name) == "sub" {
			agentID = aws.ToString(a.Value)
		}
	}
	if agentID == "" {
		return "", "", fmt.Errorf("creating agent %s: the pool gave it no sub", name)
	}
	if _, err := idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &r.cfg.PoolID, Username: &name, GroupName: aws.String("agent")}); err != nil {
		return "", "", err
	}
	// The first sign-in, as a new agent's: new password, authenticator.
	signin := r.cfg.AWS.Copy()
	if r.cfg.PoolAPI != "" {
		signin.BaseEndpoint = aws.String(r.cfg.PoolAPI)
	}
	token, err = staffauth.SignIn(ctx, cip.NewFromConfig(signin), r.cfg.ClientID, &staffauth.Account{Username: name, Password: password})
	return token, agentID, err
}

// Percentiles of a phase: p50, p95, p99, max.
func Percentiles(ds []time.Duration) (p50, p95, p99, max time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.95), at(0.99), s[len(s)-1]
}

// Print writes the report as a table.
func (rep Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%d patients (%d with an agent, at most %d connected at once) in %s: %d messages stored, %.1f messages/s, %d errors, %d lost, %d duplicated (%d frames repeated, %d echoes)\n\n",
		rep.Patients, rep.Escalated, rep.Peak, rep.Duration.Round(time.Millisecond), rep.Messages, float64(rep.Messages)/rep.Duration.Seconds(), rep.Errors, rep.Lost, rep.Duplicated, rep.Repeated, rep.Echoes)
	if rep.Reconnects > 0 {
		fmt.Fprintf(w, "Reconnections after a dropped WebSocket: %d\n\n", rep.Reconnects)
	}
	if rep.Booked+rep.Refused > 0 {
		fmt.Fprintf(w, "Bookings with the bot: %d booked, %d refused, %d confirmations in the chat\n\n", rep.Booked, rep.Refused, rep.Confirmed)
	}
	fmt.Fprintf(w, "| phase | n | p50 | p95 | p99 | max |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, ph := range []string{PhaseConnect, PhaseAck, PhaseBot, PhaseOffer, PhaseAssignment, PhaseToAgent, PhaseToPatient} {
		ds := rep.Phases[ph]
		p50, p95, p99, mx := Percentiles(ds)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", ph, len(ds), ms(p50), ms(p95), ms(p99), ms(mx))
	}
	if len(rep.Frames) > 0 {
		keys := make([]string, 0, len(rep.Frames))
		for k := range rep.Frames {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return rep.Frames[keys[i]] > rep.Frames[keys[j]] || (rep.Frames[keys[i]] == rep.Frames[keys[j]] && keys[i] < keys[j])
		})
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(rep.Frames[k])/float64(max(1, rep.Patients))))
		}
		fmt.Fprintf(w, "\nFrames received per patient, by side and type: %s\n", strings.Join(parts, ", "))
	}
	for _, e := range rep.ErrorSamples {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
