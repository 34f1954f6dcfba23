package appointmentlink

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/session"
)

type fakeAppts struct {
	dir       *scheduling.Directory
	a         scheduling.Appointment
	cancelled int
}

func (f *fakeAppts) Directory() *scheduling.Directory { return f.dir }
func (f *fakeAppts) Get(context.Context, string, string) (scheduling.Appointment, error) {
	return f.a, nil
}
func (f *fakeAppts) Confirm(context.Context, string, string, string) (scheduling.Appointment, error) {
	return f.a, nil
}
func (f *fakeAppts) Cancel(context.Context, string, string, string) (scheduling.Appointment, error) {
	f.cancelled++
	return f.a, nil
}

type fakeConns struct{}

func (fakeConns) Admit(context.Context, string, time.Time) (chat.Connection, error) {
	return chat.Connection{}, nil
}

type fakePush struct{ frames []string }

func (p *fakePush) Push(_ context.Context, _ string, frame []byte) error {
	p.frames = append(p.frames, string(frame))
	return nil
}

// TestALinkActsOnlyOnTheAppointmentItWasSentFor (issue 16): a reminder's
// link cancels the visit at the time it named, before that time; once the
// visit moved, or has started, it does nothing.
func TestALinkActsOnlyOnTheAppointmentItWasSentFor(t *testing.T) {
	dir, err := scheduling.LoadDirectory()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	start := now.Add(26 * time.Hour)
	links, err := session.NewLinks([]byte(strings.Repeat("k", 32)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := links.Issue("ap1", "p1", start)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		start, at   time.Time // the appointment's start now, and the clock
		wantCancels int
		wantError   string
	}{
		{"the visit it was sent for", start, now, 1, ""},
		{"the visit moved later", start.Add(3 * 24 * time.Hour), now, 0, "earlier time"},
		{"the visit moved earlier and has started", now.Add(-time.Minute), now, 0, "earlier time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			appts := &fakeAppts{dir: dir, a: scheduling.Appointment{ID: "ap1", PatientID: "p1", Slot: scheduling.Slot{Start: tc.start, End: tc.start.Add(30 * time.Minute)}}}
			push := &fakePush{}
			h := NewHandler(links, appts, fakeConns{}, push, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
			h.now = func() time.Time { return tc.at }
			req := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"appointment","token":"` + tok + `","decision":"cancel"}`}
			req.RequestContext.RouteKey, req.RequestContext.ConnectionID = "appointment", "c1"
			if _, err := h.Message(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if appts.cancelled != tc.wantCancels {
				t.Fatalf("cancelled %d times, want %d (frames %v)", appts.cancelled, tc.wantCancels, push.frames)
			}
			if tc.wantError != "" && (len(push.frames) != 1 || !strings.Contains(push.frames[0], `"code":"unauthorized"`) || !strings.Contains(push.frames[0], tc.wantError)) {
				t.Fatalf("frames %v, want an unauthorized error saying %q", push.frames, tc.wantError)
			}
		})
	}
	// A link whose visit has started is refused even at its own time (the
	// link expires then too).
	h := NewHandler(links, &fakeAppts{dir: dir, a: scheduling.Appointment{ID: "ap1", PatientID: "p1", Slot: scheduling.Slot{Start: start}}}, fakeConns{}, &fakePush{}, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	h.now = func() time.Time { return start.Add(time.Minute) }
	if _, err := h.act(context.Background(), "c1", mustDecode(t, `{"action":"appointment","token":"`+tok+`","decision":"cancel"}`)); err == nil || !strings.Contains(err.Error(), "started") {
		t.Fatalf("a cancel after the start: %v", err)
	}
}

func mustDecode(t *testing.T, body string) protocol.ClientFrame {
	t.Helper()
	f, err := protocol.DecodePatient([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOrServesTheAppointmentRouteAndHandsOnTheRest: the booking function
// serves the patient API's appointment route itself and every agent
// booking route through the agent handler.
func TestOrServesTheAppointmentRouteAndHandsOnTheRest(t *testing.T) {
	push := &fakePush{}
	h := NewHandler(nil, &fakeAppts{}, fakeConns{}, push, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	var handedOn []string
	serve := h.Or(func(_ context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		handedOn = append(handedOn, req.RequestContext.RouteKey)
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	for _, route := range []string{"book", "appointment", "slots"} {
		req := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"` + route + `"}`}
		req.RequestContext.RouteKey, req.RequestContext.ConnectionID = route, "c1"
		if _, err := serve(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(handedOn, ",") != "book,slots" || len(push.frames) != 1 {
		t.Fatalf("handed on %v, the link handler answered %d frames: want book and slots handed on, appointment answered here", handedOn, len(push.frames))
	}
}
