package schedulingevents

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

type fakeService struct {
	changes  []string
	sweeps   int
	fail     bool
	received []notify.Incoming
}

func (f *fakeService) Received(_ context.Context, in notify.Incoming) error {
	if in.Body == "fail" {
		return errors.New("throttled")
	}
	f.received = append(f.received, in)
	return nil
}

func (f *fakeService) Changed(_ context.Context, old, new *scheduling.Appointment) error {
	if f.fail {
		return errors.New("boom")
	}
	o := "-"
	if old != nil {
		o = string(old.State)
	}
	f.changes = append(f.changes, new.ID+":"+o+">"+string(new.State))
	return nil
}

func (f *fakeService) SendDue(context.Context) (int, error) { f.sweeps++; return 0, nil }

func s(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }

func record(seq string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventSource: "aws:dynamodb", EventName: "MODIFY",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: old, NewImage: new}}
}

func appt(id, state string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{"pk": s("appt#" + id), "sk": s("appt"), "appointmentId": s(id), "state": s(state),
		"start": s("2026-12-03T14:00:00.000000000Z"), "end": s("2026-12-03T14:30:00.000000000Z"), "version": events.NewNumberAttribute("1")}
}

func run(t *testing.T, svc *fakeService, ev any) events.DynamoDBEventResponse {
	t.Helper()
	b, _ := json.Marshal(ev)
	resp, err := NewHandler(svc, slog.New(slog.NewTextHandler(io.Discard, nil))).Handle(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestStreamRecordsBecomeNoticesAndUnitsAreSkipped(t *testing.T) {
	svc := &fakeService{}
	unit := map[string]events.DynamoDBAttributeValue{"pk": s("unit#dr-lee"), "sk": s("2026-12-03T14:00:00.000000000Z"), "appointmentId": s("a1")}
	resp := run(t, svc, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", nil, appt("a1", "booked")),
		record("2", nil, unit),
		record("3", appt("a1", "booked"), appt("a1", "cancelled")),
	}})
	if len(resp.BatchItemFailures) != 0 || len(svc.changes) != 2 || svc.changes[0] != "a1:->booked" || svc.changes[1] != "a1:booked>cancelled" || svc.sweeps != 0 {
		t.Fatalf("changes %v, failures %v, sweeps %d", svc.changes, resp.BatchItemFailures, svc.sweeps)
	}
	svc.fail = true
	resp = run(t, svc, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record("7", nil, appt("a2", "booked")), record("8", nil, appt("a3", "booked"))}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "7" {
		t.Fatalf("a failed notice: %v, want the stream to retry from it", resp.BatchItemFailures)
	}
}

func TestTheScheduleSweepsReminders(t *testing.T) {
	svc := &fakeService{}
	run(t, svc, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Detail: json.RawMessage(`{}`)})
	if svc.sweeps != 1 || len(svc.changes) != 0 {
		t.Fatalf("sweeps %d, changes %v", svc.sweeps, svc.changes)
	}
}

type convStore struct {
	convs  map[string]chat.Conversation
	stored []chat.Message
}

func (s *convStore) Get(_ context.Context, id string) (chat.Conversation, error) {
	c, ok := s.convs[id]
	if !ok {
		return c, fault.Errorf(fault.NotFound, "conversation not found")
	}
	return c, nil
}

func (s *convStore) Append(_ context.Context, m chat.Message) (chat.Message, bool, error) {
	m.ID = "m000000000009"
	s.stored = append(s.stored, m)
	return m, false, nil
}

type pushes struct{ to []string }

func (p *pushes) Broadcast(_ context.Context, conversationID, _ string, _ any) error {
	p.to = append(p.to, conversationID)
	return nil
}

// TestChatNoticesOnlyInOpenConversations: a notice is stored and pushed in
// a conversation that goes on; an ended one, or one whose record has
// expired, gets none.
func TestChatNoticesOnlyInOpenConversations(t *testing.T) {
	store := &convStore{convs: map[string]chat.Conversation{
		"open": {ID: "open", State: chat.StateAssigned}, "ended": {ID: "ended", State: chat.StateClosed},
	}}
	out := &pushes{}
	p := ChatPoster{Messages: store, Patients: out, Retention: time.Hour}
	for _, id := range []string{"open", "ended", "expired"} {
		if err := p.Post(context.Background(), id, "n-"+id, "Your appointment is confirmed."); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if len(store.stored) != 1 || store.stored[0].ConversationID != "open" || len(out.to) != 1 || out.to[0] != "open" {
		t.Fatalf("stored %+v, pushed to %v: want the open conversation only", store.stored, out.to)
	}
}

// TestPatientsTextsAreReadFromTheQueue: a batch of the inbound-SMS queue,
// raw or in SNS's envelope, reaches the service; a failed text is
// reported for the queue to retry, an unreadable one is not.
func TestPatientsTextsAreReadFromTheQueue(t *testing.T) {
	svc := &fakeService{}
	text := `{"originationNumber":"+15552010123","destinationNumber":"+15550100000","messageKeyword":"KEYWORD_123","messageBody":"STOP","inboundMessageId":"in-1"}`
	wrapped, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "sns-1", "Message": strings.Replace(text, "in-1", "in-2", 1)})
	resp := run(t, svc, events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", EventSource: "aws:sqs", Body: text},
		{MessageId: "m2", EventSource: "aws:sqs", Body: string(wrapped)},
		{MessageId: "m3", EventSource: "aws:sqs", Body: strings.Replace(strings.Replace(text, "STOP", "fail", 1), "in-1", "in-3", 1)},
		{MessageId: "m4", EventSource: "aws:sqs", Body: "not json"},
	}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m3" {
		t.Fatalf("failures: %+v", resp.BatchItemFailures)
	}
	want := []notify.Incoming{{ID: "in-1", From: "+15552010123", Body: "STOP"}, {ID: "in-2", From: "+15552010123", Body: "STOP"}}
	if !slices.Equal(svc.received, want) || svc.sweeps != 0 {
		t.Fatalf("received %+v, sweeps %d", svc.received, svc.sweeps)
	}
}

func FuzzParseIncoming(f *testing.F) {
	f.Add(`{"originationNumber":"+15552010123","messageBody":"STOP","inboundMessageId":"in-1"}`)
	f.Add(`{"Type":"Notification","Message":"{\"originationNumber\":\"+1\",\"inboundMessageId\":\"x\"}"}`)
	f.Add(`{"Type":"Notification","Message":"nope"}`)
	f.Fuzz(func(t *testing.T, body string) {
		in, err := ParseIncoming(body)
		if err != nil {
			return
		}
		if in.From == "" || in.ID == "" || len(in.ID) > 128 || len(in.Body) > len(body) {
			t.Fatalf("ParseIncoming(%q) = %+v", body, in)
		}
	})
}
