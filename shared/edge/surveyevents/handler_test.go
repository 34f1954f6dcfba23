package surveyevents

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/survey"
)

type fakeService struct {
	survey.Service
	sources []survey.Source
}

func (f *fakeService) FollowUp(_ context.Context, src survey.Source) error {
	f.sources = append(f.sources, src)
	return nil
}

func str(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }

func conv(id, state string, extra map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{"conversationId": str(id), "patientId": str("p1"), "state": str(state), "locale": str("en"),
		"routedQueue": str("billing"), "agentName": str("Ana"), "lastSeq": events.NewNumberAttribute("3"), "expiresAt": events.NewNumberAttribute("0")}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func appt(id, state string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{"pk": str("appt#" + id), "sk": str("appt"), "appointmentId": str(id), "patientId": str("p2"),
		"state": str(state), "provider": str("dr-lee"), "visitType": str("follow-up"), "slotId": str("dr-lee~follow-up~20261203T1400Z"),
		"start": str("2026-12-03T14:00:00.000000000Z"), "end": str("2026-12-03T14:30:00.000000000Z"), "version": events.NewNumberAttribute("3")}
}

func rec(seq string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "MODIFY", EventSource: "aws:dynamodb", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: old, NewImage: new}}
}

// TestStreamsBecomeSurveys: a conversation that just closed and a visit
// just completed ask a survey (with queue, agent and topic); a red-flag
// conversation is marked; other changes ask nothing.
func TestStreamsBecomeSurveys(t *testing.T) {
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	svc := &fakeService{}
	h := NewHandler(svc, nil, nil, nil, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		rec("1", conv("c1", "assigned", nil), conv("c1", "closed", nil)),
		rec("2", conv("c2", "closed", nil), conv("c2", "closed", nil)), // wrap-up after the patient ended it
		rec("3", conv("c3", "bot", nil), conv("c3", "waiting", nil)),
		rec("4", appt("a1", "booked"), appt("a1", "completed")),
		rec("5", appt("a2", "booked"), appt("a2", "cancelled")),
		rec("6", conv("c4", "waiting", nil), conv("c4", "closed", map[string]events.DynamoDBAttributeValue{
			"handoff": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"priority": str("urgent"), "queue": str("urgent"),
				"redFlags": events.NewListAttribute([]events.DynamoDBAttributeValue{str("chest_pain")})})})),
	}}
	b, _ := json.Marshal(ev)
	out, err := h.Invoke(context.Background(), b)
	if err != nil || len(out.(events.DynamoDBEventResponse).BatchItemFailures) != 0 {
		t.Fatalf("invoke: %v %v", out, err)
	}
	if len(svc.sources) != 3 {
		t.Fatalf("sources = %+v, want c1, a1 and c4", svc.sources)
	}
	c1, a1, c4 := svc.sources[0], svc.sources[1], svc.sources[2]
	if c1.Kind != survey.Conversation || c1.ID != "c1" || c1.Queue != "billing" || c1.AgentName != "Ana" || c1.RedFlag {
		t.Errorf("closed conversation: %+v", c1)
	}
	if a1.Kind != survey.Visit || a1.ID != "a1" || a1.AgentName != "Dr. Grace Lee" || a1.Queue != "primary-care" || a1.Topic != "Follow-up visit" {
		t.Errorf("completed visit: %+v", a1)
	}
	if !c4.RedFlag {
		t.Errorf("a red-flag conversation: %+v", c4)
	}
}
