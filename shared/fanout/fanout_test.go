package fanout

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// pusher records pushes; gone and failing name connections that answer
// 410 or another error.
type pusher struct {
	to            []string
	gone, failing map[string]bool
}

func (p *pusher) Push(_ context.Context, id string, _ []byte) error {
	switch {
	case p.gone[id]:
		return ErrGone
	case p.failing[id]:
		return errors.New("500")
	}
	p.to = append(p.to, id)
	return nil
}

type patients struct {
	conns   []Conn
	deleted []string
	lookups int
}

func (d *patients) PatientConns(context.Context, string) ([]Conn, error) {
	d.lookups++
	return d.conns, nil
}
func (d *patients) Delete(_ context.Context, id string) error {
	d.deleted = append(d.deleted, id)
	return nil
}

// TestBroadcastForgetsOnlyTheGoneConnection: every connection but the
// sender's is tried; one API Gateway calls gone is deleted — not the
// sender's — unless it connected less than ConnectGrace ago (its $connect
// may still run); any other failure is returned, after the rest were tried.
func TestBroadcastForgetsOnlyTheGoneConnection(t *testing.T) {
	dir := &patients{conns: []Conn{
		{ID: "sender", ConnectedAt: t0.Add(-time.Hour)},
		{ID: "old-gone", ConnectedAt: t0.Add(-time.Hour)},
		{ID: "new-gone", ConnectedAt: t0.Add(-10 * time.Second)},
		{ID: "failing", ConnectedAt: t0.Add(-time.Hour)},
		{ID: "live", ConnectedAt: t0.Add(-time.Hour)},
	}}
	p := &pusher{gone: map[string]bool{"old-gone": true, "new-gone": true, "sender": true}, failing: map[string]bool{"failing": true}}
	err := NewPatients(dir, p, nil, func() time.Time { return t0 }).Broadcast(context.Background(), "c1", "sender", map[string]string{"type": "message"})
	if err == nil {
		t.Error("a push that failed with a 500 was not reported")
	}
	if !slices.Equal(p.to, []string{"live"}) || !slices.Equal(dir.deleted, []string{"old-gone"}) {
		t.Errorf("pushed to %v, deleted %v: want live pushed, only old-gone deleted", p.to, dir.deleted)
	}
}

// TestSeveralFramesGoOutAfterOneLookUp (issue 21): a bot turn's reply and
// the new state reach every connection, in order, after one read of the
// conversation's connections; a gone one is forgotten once.
func TestSeveralFramesGoOutAfterOneLookUp(t *testing.T) {
	dir := &patients{conns: []Conn{{ID: "tab1", ConnectedAt: t0.Add(-time.Hour)}, {ID: "gone", ConnectedAt: t0.Add(-time.Hour)}, {ID: "tab2", ConnectedAt: t0.Add(-time.Hour)}}}
	p := &pusher{gone: map[string]bool{"gone": true}}
	err := NewPatients(dir, p, nil, func() time.Time { return t0 }).BroadcastAll(context.Background(), "c1", "", map[string]string{"type": "message"}, map[string]string{"type": "status"})
	if err != nil {
		t.Fatal(err)
	}
	if dir.lookups != 1 || !slices.Equal(p.to, []string{"tab1", "tab2", "tab1", "tab2"}) {
		t.Errorf("%d look-ups, pushed to %v: want one look-up, each frame to both tabs in turn", dir.lookups, p.to)
	}
	if !slices.Equal(dir.deleted, []string{"gone"}) {
		t.Errorf("deleted %v, want the gone connection once", dir.deleted)
	}
}

// TestAnAnswerToAGoneCallerDeletesIt: the caller's own answer meeting a
// gone connection deletes it and is not an error.
func TestAnAnswerToAGoneCallerDeletesIt(t *testing.T) {
	dir := &patients{}
	p := &pusher{gone: map[string]bool{"me": true}}
	if err := NewPatients(dir, p, nil, nil).To(context.Background(), "me", map[string]string{"type": "ack"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dir.deleted, []string{"me"}) {
		t.Errorf("deleted %v, want the gone caller", dir.deleted)
	}
}

type staff map[string][]Conn // agent id or "role:<role>" → consoles

func (s staff) AgentConns(_ context.Context, agentID string) ([]Conn, error) { return s[agentID], nil }
func (s staff) RoleConns(_ context.Context, role string) ([]Conn, error)     { return s["role:"+role], nil }

// TestDeliverCountsTheConsolesReached: an agent's consoles past their
// sign-in get nothing, a gone console is neither counted nor an error (its
// $disconnect sets the agent offline), and Deliver says how many took the
// frame, which routing uses to take back an offer no one saw.
func TestDeliverCountsTheConsolesReached(t *testing.T) {
	dir := staff{"ana": {
		{ID: "tab1", Until: t0.Add(time.Hour)},
		{ID: "expired", Until: t0.Add(-time.Minute)},
		{ID: "gone", Until: t0.Add(time.Hour)},
	}}
	p := &pusher{gone: map[string]bool{"gone": true}}
	f := NewConsoles(dir, p, nil, func() time.Time { return t0 })
	n, err := f.Deliver(context.Background(), "ana", map[string]string{"type": "offer"})
	if err != nil || n != 1 || !slices.Equal(p.to, []string{"tab1"}) {
		t.Fatalf("Deliver = %d, %v, pushed to %v: want 1, nil, [tab1]", n, err, p.to)
	}
	p.gone["tab1"] = true
	if n, err := f.Deliver(context.Background(), "ana", map[string]string{"type": "offer"}); n != 0 || err != nil {
		t.Fatalf("every console gone: Deliver = %d, %v; want 0 and no error", n, err)
	}
}

// TestSupervisorsWithAnExpiredSignInGetNothing: frames for supervisors
// (follow-up tasks carry survey comments, alerts carry red flags) go to
// each supervisor console still signed in.
func TestSupervisorsWithAnExpiredSignInGetNothing(t *testing.T) {
	dir := staff{"role:supervisor": {{ID: "live", Until: t0.Add(time.Hour)}, {ID: "expired", Until: t0.Add(-time.Minute)}}}
	p := &pusher{}
	if err := NewConsoles(dir, p, nil, func() time.Time { return t0 }).Tell(context.Background(), map[string]string{"type": "task"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.to, []string{"live"}) {
		t.Fatalf("pushed to %v, want the live console only", p.to)
	}
}
