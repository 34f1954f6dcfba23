package routingapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/routing"
)

type fakeService struct {
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
	f.ended = append(f.ended, c)
	return nil
}

func (f *fakeService) Escalate(_ context.Context, c chat.Conversation) error {
	if c.ID == f.fail {
		return errors.New("boom")
	}
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
	if !slices.Equal(svc.escalated, []string{"c1"}) {
		t.Errorf("escalated %v, want only c1 before the failure", svc.escalated)
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
	sweep, err := os.ReadFile("../../events/eventbridge-routing-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	var scheduled events.EventBridgeEvent
	if err := json.Unmarshal(sweep, &scheduled); err != nil || scheduled.DetailType != "Scheduled Event" {
		t.Fatalf("sample sweep event: %v", err)
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
