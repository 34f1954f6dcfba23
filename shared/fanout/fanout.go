// Package fanout sends one frame to many WebSocket connections: every
// connection of a patient's conversation, every console of an agent, every
// supervisor's console. It holds, in one place, the rule for a connection
// API Gateway answers as gone (410): the gone one is forgotten — never the
// sender's — and a gone connection is not an error.
//
// Functions that only push (bot turn, routing, escalation, notify, follow
// up) build these directly; the chat and agent services use them for
// their own pushes.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrGone is what a Pusher returns for a connection that no longer exists.
var ErrGone = errors.New("connection is gone")

// Pusher posts an encoded frame to one connection (the @connections API).
type Pusher interface {
	Push(ctx context.Context, connectionID string, frame []byte) error
}

// Encoder renders a value the services push as the bytes of its frame
// (frames.Encode). A nil Encoder marshals the value as JSON.
type Encoder func(v any) ([]byte, error)

// wire is where frames go: the encoder, then the pusher.
type wire struct {
	push   Pusher
	encode Encoder
}

func newWire(p Pusher, enc Encoder) wire {
	if enc == nil {
		enc = func(v any) ([]byte, error) { return json.Marshal(v) }
	}
	return wire{push: p, encode: enc}
}

// Conn is an open connection as fan-out needs it.
type Conn struct {
	ID          string
	ConnectedAt time.Time
	// Until is when the connection's sign-in ends (zero: it does not): no
	// frame goes to it after that.
	Until time.Time
}

// ConnectGrace is how long after connecting a connection that API Gateway
// calls gone is kept: longer than the 29 s a $connect integration may take.
// Until its handshake completes API Gateway refuses pushes, and the record
// is the new connection's; it resumes and gets what it missed.
const ConnectGrace = 30 * time.Second

// forget is what to do with a connection found gone.
type forget func(ctx context.Context, c Conn) error

// send pushes frame to each of conns but except, trying every one even
// after one fails, and counts those that took it. A gone one is handed to
// gone (nil: left alone) and is not an error.
func send(ctx context.Context, w wire, conns []Conn, except string, frame any, now time.Time, gone forget) (int, error) {
	body, err := w.encode(frame)
	if err != nil {
		return 0, fmt.Errorf("encoding a frame: %w", err)
	}
	reached := 0
	var errs []error
	for _, c := range conns {
		if c.ID == except || (!c.Until.IsZero() && !now.Before(c.Until)) {
			continue
		}
		err := w.push.Push(ctx, c.ID, body)
		switch {
		case err == nil:
			reached++
		case errors.Is(err, ErrGone):
			if gone != nil {
				if err := gone(ctx, c); err != nil {
					errs = append(errs, fmt.Errorf("forgetting gone connection: %w", err))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("pushing to %s: %w", c.ID, err))
		}
	}
	return reached, errors.Join(errs...)
}

// PatientDirectory lists a conversation's patient connections and deletes
// one that is gone.
type PatientDirectory interface {
	PatientConns(ctx context.Context, conversationID string) ([]Conn, error)
	Delete(ctx context.Context, connectionID string) error
}

// Patients pushes to patients' connections. A gone one is deleted, unless
// it connected within ConnectGrace (it is still in its $connect).
type Patients struct {
	dir PatientDirectory
	out wire
	now func() time.Time
}

// NewPatients returns the patients' fan-out; now defaults to time.Now.
func NewPatients(dir PatientDirectory, p Pusher, enc Encoder, now func() time.Time) *Patients {
	if now == nil {
		now = time.Now
	}
	return &Patients{dir: dir, out: newWire(p, enc), now: now}
}

// Broadcast pushes a frame to every connection of a conversation but
// except. Failures other than gone are returned after every connection was
// tried.
func (f *Patients) Broadcast(ctx context.Context, conversationID, except string, frame any) error {
	return f.BroadcastAll(ctx, conversationID, except, frame)
}

// BroadcastAll pushes frames, in order, to every connection of a
// conversation but except, after one look-up of its connections. Each
// frame is tried on every connection even after one fails.
func (f *Patients) BroadcastAll(ctx context.Context, conversationID, except string, frames ...any) error {
	conns, err := f.dir.PatientConns(ctx, conversationID)
	if err != nil {
		return fmt.Errorf("listing connections of %s: %w", conversationID, err)
	}
	// A connection found gone by one frame is not tried with the next.
	gone := map[string]bool{}
	forget := func(ctx context.Context, c Conn) error {
		gone[c.ID] = true
		return f.gone(ctx, c)
	}
	var errs []error
	for _, frame := range frames {
		live := slices.DeleteFunc(slices.Clone(conns), func(c Conn) bool { return gone[c.ID] })
		if _, err := send(ctx, f.out, live, except, frame, f.now(), forget); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// To pushes a frame to one connection (a caller's answer); a gone one is
// deleted.
func (f *Patients) To(ctx context.Context, connectionID string, frame any) error {
	_, err := send(ctx, f.out, []Conn{{ID: connectionID}}, "", frame, f.now(), func(ctx context.Context, c Conn) error {
		return f.dir.Delete(ctx, c.ID)
	})
	return err
}

func (f *Patients) gone(ctx context.Context, c Conn) error {
	if f.now().Sub(c.ConnectedAt) < ConnectGrace {
		return nil
	}
	return f.dir.Delete(ctx, c.ID)
}

// ConsoleDirectory lists staff consoles: one agent's, or everyone's in a
// role ("supervisor").
type ConsoleDirectory interface {
	AgentConns(ctx context.Context, agentID string) ([]Conn, error)
	RoleConns(ctx context.Context, role string) ([]Conn, error)
}

// Consoles pushes to agents' and supervisors' consoles, only while their
// sign-in lasts. A gone console is left to its $disconnect, which also
// sets the agent offline when it was their last: deleting it here would
// leave them available with no console.
type Consoles struct {
	dir ConsoleDirectory
	out wire
	now func() time.Time
}

// NewConsoles returns the consoles' fan-out; now defaults to time.Now.
func NewConsoles(dir ConsoleDirectory, p Pusher, enc Encoder, now func() time.Time) *Consoles {
	if now == nil {
		now = time.Now
	}
	return &Consoles{dir: dir, out: newWire(p, enc), now: now}
}

// ToAgent pushes a frame to every open console of the agent.
func (f *Consoles) ToAgent(ctx context.Context, agentID string, frame any) error {
	_, err := f.Deliver(ctx, agentID, frame)
	return err
}

// Deliver is ToAgent that says how many consoles took the frame.
func (f *Consoles) Deliver(ctx context.Context, agentID string, frame any) (int, error) {
	return f.ToAgentExcept(ctx, agentID, "", frame)
}

// ToAgentExcept pushes to the agent's consoles but except (the sender).
func (f *Consoles) ToAgentExcept(ctx context.Context, agentID, except string, frame any) (int, error) {
	conns, err := f.dir.AgentConns(ctx, agentID)
	if err != nil {
		return 0, fmt.Errorf("listing the agent's consoles: %w", err)
	}
	return send(ctx, f.out, conns, except, frame, f.now(), nil)
}

// Tell pushes a frame to every supervisor console.
func (f *Consoles) Tell(ctx context.Context, frame any) error {
	conns, err := f.dir.RoleConns(ctx, "supervisor")
	if err != nil {
		return fmt.Errorf("listing supervisor consoles: %w", err)
	}
	_, err = send(ctx, f.out, conns, "", frame, f.now(), nil)
	return err
}

// To pushes a frame to one console (a caller's answer).
func (f *Consoles) To(ctx context.Context, connectionID string, frame any) error {
	_, err := send(ctx, f.out, []Conn{{ID: connectionID}}, "", frame, f.now(), nil)
	return err
}
