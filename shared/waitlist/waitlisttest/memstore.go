// Package waitlisttest holds the in-memory waitlist.Store (with the
// DynamoDB store's conditions) and StoreContract, the suite both it and
// ddb.Waitlist pass.
package waitlisttest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

// MemStore is an in-memory waitlist.Store.
type MemStore struct {
	mu      sync.Mutex
	entries map[string]waitlist.Entry
}

var _ waitlist.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{entries: map[string]waitlist.Entry{}} }

func (m *MemStore) Add(_ context.Context, e waitlist.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[e.ID]; ok {
		return waitlist.ErrExists
	}
	m.entries[e.ID] = clone(e)
	return nil
}

func (m *MemStore) Get(_ context.Context, id string) (waitlist.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return waitlist.Entry{}, fault.Errorf(fault.NotFound, "no waitlist entry %s", id)
	}
	return clone(e), nil
}

func (m *MemStore) Waiting(_ context.Context, specialty string) ([]waitlist.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []waitlist.Entry
	for _, e := range m.entries {
		if e.Specialty == specialty && (e.State == waitlist.Waiting || e.State == waitlist.Offered) {
			out = append(out, clone(e))
		}
	}
	slices.SortFunc(out, func(a, b waitlist.Entry) int {
		if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *MemStore) Update(_ context.Context, e waitlist.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.entries[e.ID]
	if !ok || prev.Version != e.Version-1 {
		return fault.Errorf(fault.Conflict, "the waitlist entry changed meanwhile")
	}
	m.entries[e.ID] = clone(e)
	return nil
}

func (m *MemStore) ForPatient(_ context.Context, patientID string) ([]waitlist.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []waitlist.Entry
	for _, e := range m.entries {
		if e.PatientID == patientID {
			out = append(out, clone(e))
		}
	}
	slices.SortFunc(out, func(a, b waitlist.Entry) int { return compare(a.ID, b.ID) })
	return out, nil
}

func clone(e waitlist.Entry) waitlist.Entry {
	e.Passed = slices.Clone(e.Passed)
	return e
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// StoreContract is the suite every waitlist.Store passes: entries come
// back in the order patients joined, an id is added once, and an update
// applies only at the version it read, so of two racing updates one wins.
func StoreContract(t *testing.T, newStore func(*testing.T) waitlist.Store, specialty string, base time.Time) {
	ctx := context.Background()
	s := newStore(t)
	var ids []string
	for i := range 3 {
		e := waitlist.Entry{ID: waitlist.EntryID(base.String(), specialty, string(rune('a'+i))), PatientID: "p", Specialty: specialty,
			JoinedAt: base.Add(time.Duration(2-i) * time.Second), State: waitlist.Waiting, Version: 1, Passed: []string{"s0"}}
		if err := s.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
		if err := s.Add(ctx, e); err != waitlist.ErrExists {
			t.Fatalf("added twice: %v", err)
		}
	}
	got, err := s.Waiting(ctx, specialty)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, e := range got {
		if slices.Contains(ids, e.ID) {
			mine = append(mine, e.ID)
		}
	}
	if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(mine, want) {
		t.Fatalf("waiting in the order %v, want joined first first %v", mine, want)
	}
	e, err := s.Get(ctx, ids[0])
	if err != nil || !slices.Equal(e.Passed, []string{"s0"}) || e.Specialty != specialty {
		t.Fatalf("get: %+v %v", e, err)
	}
	a, b := e, e
	a.State, a.Version = waitlist.Offered, e.Version+1
	b.State, b.Version = waitlist.Left, e.Version+1
	if err := s.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, b); !fault.Is(err, fault.Conflict) {
		t.Fatalf("a stale update: %v", err)
	}
	left := a
	left.State, left.Version = waitlist.Left, a.Version+1
	if err := s.Update(ctx, left); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Waiting(ctx, specialty)
	for _, w := range got {
		if w.ID == ids[0] {
			t.Fatalf("an entry that left is still waiting: %+v", w)
		}
	}
	if _, err := s.Get(ctx, "wl-none"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("a missing entry: %v", err)
	}
	found, err := s.ForPatient(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range found {
		if slices.Contains(ids, e.ID) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("the patient's entries: %d of 3", n)
	}
	if none, err := s.ForPatient(ctx, "nobody-"+base.String()); err != nil || len(none) != 0 {
		t.Fatalf("another patient's: %+v %v", none, err)
	}
}
