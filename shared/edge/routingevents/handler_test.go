package routingevents

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/edgetest"
	"github.com/patientservicecenter/psc/shared/routing"
)

type fakeService struct {
	mu        sync.Mutex
	escalated []string
	fail      string
	routes    int
	checks    []routing.OfferCheck
	withdrawn []routing.OfferCheck
	ended     []routing.OfferCheck
	assigned  []routing.Assignment
}

func (f *fakeService) Expire(_ context.Context, c routing.OfferCheck) error {
	if c.ConversationID == f.fail {
		return errors.New("throttled")
	}
	f.checks = append(f.checks, c)
	return nil
}

func (f *fakeService) Assign(_ context.Context, a routing.Assignment) error {
	f.assigned = append(f.assigned, a)
	return nil
}

func (f *fakeService) Withdraw(_ context.Context, c routing.OfferCheck) error {
	f.withdrawn = append(f.withdrawn, c)
	return nil
}

func (f *fakeService) EndedWhileOffered(_ context.Context, c routing.OfferCheck) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, c)
	return nil
}

func (f *fakeService) Escalate(_ context.Context, c chat.Conversation) error {
	if c.ID == f.fail {
		return errors.New("boom")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.escalated = append(f.escalated, c.ID)
	return nil
}

func (f *fakeService) Route(context.Context) error { f.routes++; return nil }

func image(attrs map[string]string) map[string]events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{}
	for k, v := range attrs {
		if k == "active" || k == "capacity" {
			m[k] = events.NewNumberAttribute(v)
		} else {
			m[k] = events.NewStringAttribute(v)
		}
	}
	return m
}

func record(seq string, old, new map[string]string) events.DynamoDBEventRecord {
	r := events.DynamoDBEventRecord{EventName: "MODIFY", EventSource: "aws:dynamodb", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: image(new)}}
	if old != nil {
		r.Change.OldImage = image(old)
	}
	return r
}

func handler(svc *fakeService) *Handler {
	return NewHandler(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestEscalationsTakeOnlyConversationsThatJustEscalated(t *testing.T) {
	svc := &fakeService{fail: "c4"}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", map[string]string{"conversationId": "c1", "state": "bot"}, map[string]string{"conversationId": "c1", "state": "escalated"}),
		record("2", map[string]string{"conversationId": "c2", "state": "bot"}, map[string]string{"conversationId": "c2", "state": "bot"}),
		record("3", map[string]string{"conversationId": "c3", "state": "escalated"}, map[string]string{"conversationId": "c3", "state": "escalated"}),
		record("4", nil, map[string]string{"conversationId": "c4", "state": "escalated"}),
		record("5", map[string]string{"conversationId": "c5", "state": "bot"}, map[string]string{"conversationId": "c5", "state": "escalated"}),
	}}
	resp, err := handler(svc).Escalations(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	// Each conversation is taken apart: c5's handoff does not wait for
	// c4's failure (the retry from record 4 brings c5 again, and its
	// enqueue is idempotent).
	slices.Sort(svc.escalated)
	if !slices.Equal(svc.escalated, []string{"c1", "c5"}) {
		t.Errorf("escalated %v, want c1 and c5", svc.escalated)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "4" {
		t.Errorf("failures = %+v, want the failed record (the stream retries from it)", resp.BatchItemFailures)
	}
}

func TestRoutingRunsForRequestsAndForRoomMade(t *testing.T) {
	ctx := context.Background()
	run := func(ev any) int {
		svc := &fakeService{}
		b, _ := json.Marshal(ev)
		if _, err := handler(svc).Routing(ctx, b); err != nil {
			t.Fatal(err)
		}
		return svc.routes
	}
	if n := run(events.SQSEvent{Records: []events.SQSMessage{{EventSource: "aws:sqs", Body: `{"reason":"escalated"}`}, {EventSource: "aws:sqs", Body: `{}`}}}); n != 1 {
		t.Errorf("a batch of two requests ran routing %d times, want once", n)
	}
	scheduled := edgetest.Event[events.EventBridgeEvent](t, "eventbridge-routing-sweep.json")
	if scheduled.DetailType != "Scheduled Event" {
		t.Fatalf("sample sweep event: %+v", scheduled)
	}
	if n := run(scheduled); n != 1 {
		t.Errorf("the scheduled sweep ran routing %d times, want once", n)
	}
	agent := func(old, new map[string]string) events.DynamoDBEvent {
		return events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record("1", old, new)}}
	}
	for name, tc := range map[string]struct {
		old, new map[string]string
		want     int
	}{
		"became available": {map[string]string{"presence": "away", "active": "0", "capacity": "2"}, map[string]string{"presence": "available", "active": "0", "capacity": "2"}, 1},
		"freed capacity":   {map[string]string{"presence": "available", "active": "2", "capacity": "2"}, map[string]string{"presence": "available", "active": "1", "capacity": "2"}, 1},
		"took an offer":    {map[string]string{"presence": "available", "active": "0", "capacity": "2"}, map[string]string{"presence": "available", "active": "1", "capacity": "2"}, 0},
		"went away":        {map[string]string{"presence": "available", "active": "0", "capacity": "2"}, map[string]string{"presence": "away", "active": "0", "capacity": "2"}, 0},
	} {
		if n := run(agent(tc.old, tc.new)); n != tc.want {
			t.Errorf("%s: routing ran %d times, want %d", name, n, tc.want)
		}
	}
}

func TestOfferChecksFromTheRoutingQueue(t *testing.T) {
	svc := &fakeService{}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{EventSource: "aws:sqs", Body: `{"reason":"offer check","check":{"conversationId":"c1","agentId":"ana","offerId":"o1"}}`},
		{EventSource: "aws:sqs", Body: `not json`},
		{EventSource: "aws:sqs", Body: `{"reason":"offer check","check":{"conversationId":"c2","agentId":"ben","offerId":"o2","withdraw":true}}`},
	}}
	b, _ := json.Marshal(ev)
	if _, err := handler(svc).Routing(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if len(svc.checks) != 1 || svc.checks[0] != (routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "o1"}) || svc.routes != 1 {
		t.Fatalf("checks %v, routes %d; want the one check, then a routing run", svc.checks, svc.routes)
	}
	if len(svc.withdrawn) != 1 || svc.withdrawn[0].ConversationID != "c2" || !svc.withdrawn[0].Withdraw {
		t.Fatalf("withdrawn %v, want c2's offer", svc.withdrawn)
	}
}

// TestPatientEndingAnOfferedConversationWithdrawsTheOffer: the stream
// record of an offered conversation becoming closed asks for its offer's
// withdrawal; other closes do not.
func TestPatientEndingAnOfferedConversationWithdrawsTheOffer(t *testing.T) {
	svc := &fakeService{}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", map[string]string{"conversationId": "c1", "state": "offered", "offerAgent": "ana", "offerId": "o1"}, map[string]string{"conversationId": "c1", "state": "closed"}),
		record("2", map[string]string{"conversationId": "c2", "state": "assigned", "agentId": "ben"}, map[string]string{"conversationId": "c2", "state": "closed"}),
		record("3", map[string]string{"conversationId": "c3", "state": "waiting"}, map[string]string{"conversationId": "c3", "state": "closed"}),
	}}
	if _, err := handler(svc).Escalations(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(svc.ended) != 1 || svc.ended[0] != (routing.OfferCheck{ConversationID: "c1", AgentID: "ana", OfferID: "o1"}) || len(svc.escalated) != 0 {
		t.Fatalf("ended %v, escalated %v; want c1's offer only", svc.ended, svc.escalated)
	}
}

func TestAFailedOfferCheckComesBackAloneAndTheRestIsDone(t *testing.T) {
	svc := &fakeService{fail: "c1"}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", EventSource: "aws:sqs", Body: `{"reason":"offer check","check":{"conversationId":"c1","agentId":"ana","offerId":"o1"}}`},
		{MessageId: "m2", EventSource: "aws:sqs", Body: `{"reason":"offer check","check":{"conversationId":"c2","agentId":"ben","offerId":"o2"}}`},
	}}
	b, _ := json.Marshal(ev)
	resp, err := handler(svc).Routing(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("batch failures %v, want only m1", resp.BatchItemFailures)
	}
	if len(svc.checks) != 1 || svc.checks[0].ConversationID != "c2" || svc.routes != 1 {
		t.Fatalf("checks %v, routes %d; want c2's check done and one routing run", svc.checks, svc.routes)
	}
}

// told records what supervisors were told.
type told struct {
	frames []any
	err    error
}

func (t *told) Tell(_ context.Context, frame any) error {
	t.frames = append(t.frames, frame)
	return t.err
}

// withHandoff is a conversation's image after the bot handed it off.
func withHandoff(attrs map[string]string, priority string) map[string]events.DynamoDBAttributeValue {
	m := image(attrs)
	m["handoff"] = events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
		"queue": events.NewStringAttribute("nurse"), "priority": events.NewStringAttribute(priority), "language": events.NewStringAttribute("en"),
		"reason": events.NewStringAttribute("red_flag"), "summary": events.NewStringAttribute("s"), "at": events.NewStringAttribute("2026-12-03T10:00:00Z"),
		"redFlags": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("chest_pain")}),
	})
	return m
}

// TestTheFloorHearsEveryChangeOfAConversationWithPeople: one batch gives
// the supervisors one frame with each conversation whose state, agent or
// wrap-up changed; the bot's own changes and a change the floor does not
// show are left out; a failed push does not fail the batch.
func TestTheFloorHearsEveryChangeOfAConversationWithPeople(t *testing.T) {
	svc, sups := &fakeService{}, &told{}
	rec := func(seq string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: "MODIFY", EventSource: "aws:dynamodb", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: old, NewImage: new}}
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		// Taken by an agent.
		rec("1", withHandoff(map[string]string{"conversationId": "c1", "state": "offered", "agentId": "a1"}, "urgent"),
			withHandoff(map[string]string{"conversationId": "c1", "state": "assigned", "agentId": "a1", "agentName": "Ana"}, "urgent")),
		// A bot turn: not on the floor.
		rec("2", image(map[string]string{"conversationId": "c2", "state": "bot"}), image(map[string]string{"conversationId": "c2", "state": "bot"})),
		// An alert marked on a waiting one: nothing the floor shows changed.
		rec("3", withHandoff(map[string]string{"conversationId": "c3", "state": "waiting"}, "normal"),
			withHandoff(map[string]string{"conversationId": "c3", "state": "waiting", "waitAlertedAt": "x"}, "normal")),
		// Wrapped up: it leaves the floor.
		rec("4", withHandoff(map[string]string{"conversationId": "c4", "state": "closed", "agentId": "a2"}, "normal"),
			withHandoff(map[string]string{"conversationId": "c4", "state": "closed", "agentId": "a2", "disposition": "resolved"}, "normal")),
	}}
	h := handler(svc).WithFloor(sups)
	if _, err := h.Escalations(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(sups.frames) != 1 {
		t.Fatalf("supervisors were told %d frames, want one for the batch", len(sups.frames))
	}
	f := sups.frames[0].(agent.Floor)
	if !f.Changes || len(f.Conversations) != 2 {
		t.Fatalf("floor change %+v, want c1 and c4", f)
	}
	c1, c4 := f.Conversations[0], f.Conversations[1]
	if c1.ConversationID != "c1" || c1.State != "assigned" || c1.AgentName != "Ana" || c1.Priority != "urgent" || c1.Queue != "nurse" ||
		!slices.Equal(c1.RedFlags, []string{"chest_pain"}) || c1.Done {
		t.Errorf("c1 row %+v", c1)
	}
	if c4.ConversationID != "c4" || !c4.Done {
		t.Errorf("c4 row %+v, want it done (wrapped up)", c4)
	}

	sups.err = errors.New("gone")
	resp, err := h.Escalations(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a failed floor push failed the batch: %+v %v", resp, err)
	}
}

// TestTheRosterHearsPresenceAndLoadChanges: an agents-stream batch gives
// the supervisors one frame with each agent whose presence, load or
// capacity changed, and routing still runs when room was made.
func TestTheRosterHearsPresenceAndLoadChanges(t *testing.T) {
	svc, sups := &fakeService{}, &told{}
	agentImg := func(id, presence, active string) map[string]string {
		return map[string]string{"agentId": id, "name": id, "presence": presence, "active": active, "capacity": "2", "presenceSince": "2026-12-03T10:00:00Z"}
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", agentImg("ana", "available", "1"), agentImg("ana", "away", "1")),
		record("2", agentImg("ben", "available", "1"), agentImg("ben", "available", "1")), // idleSince only
		record("3", agentImg("cy", "available", "2"), agentImg("cy", "available", "1")),
	}}
	for i := range ev.Records {
		ev.Records[i].EventSource = "aws:dynamodb"
	}
	b, _ := json.Marshal(ev)
	if _, err := handler(svc).WithFloor(sups).Routing(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if len(sups.frames) != 1 {
		t.Fatalf("supervisors were told %d frames, want one", len(sups.frames))
	}
	r := sups.frames[0].(agent.Roster)
	if !r.Changes || len(r.Agents) != 2 || r.Agents[0].ID != "ana" || r.Agents[0].Presence != agent.Away || r.Agents[1].ID != "cy" || r.Agents[1].Active != 1 {
		t.Fatalf("roster change %+v, want ana away and cy with one", r)
	}
	if svc.routes != 1 {
		t.Fatalf("routing ran %d times, want once (cy made room)", svc.routes)
	}
}

// heldService holds c1's handoff until c2's has begun: a handler that took
// the batch's records one after the other never gets there.
type heldService struct {
	*fakeService
	started chan struct{}
	once    sync.Once
}

func (h *heldService) Escalate(ctx context.Context, c chat.Conversation) error {
	if c.ID != "c1" {
		// c2 is recorded before c1 is let go, so the order is certain.
		err := h.fakeService.Escalate(ctx, c)
		h.once.Do(func() { close(h.started) })
		return err
	}
	select {
	case <-h.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.fakeService.Escalate(ctx, c)
}

// TestABatchsHandoffsAreTakenAtOnce: c1's handoff waits for c2's to be done,
// and the batch still succeeds with both queued and c1's later record
// after its first.
func TestABatchsHandoffsAreTakenAtOnce(t *testing.T) {
	svc := &heldService{fakeService: &fakeService{}, started: make(chan struct{})}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", map[string]string{"conversationId": "c1", "state": "bot"}, map[string]string{"conversationId": "c1", "state": "escalated"}),
		record("2", map[string]string{"conversationId": "c1", "state": "escalated"}, map[string]string{"conversationId": "c1", "state": "waiting"}),
		record("3", map[string]string{"conversationId": "c2", "state": "bot"}, map[string]string{"conversationId": "c2", "state": "escalated"}),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := NewHandler(svc, slog.New(slog.NewTextHandler(io.Discard, nil))).Escalations(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v, err %v: c1 was never let go (records taken one after the other?)", resp.BatchItemFailures, err)
	}
	if want := []string{"c2", "c1"}; !slices.Equal(svc.escalated, want) {
		t.Fatalf("escalated in the order %v, want %v", svc.escalated, want)
	}
}
