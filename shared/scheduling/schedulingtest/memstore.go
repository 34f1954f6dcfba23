// Package schedulingtest holds what the tests of scheduling's Store port
// share: MemStore, an in-memory Store with the DynamoDB store's conditions,
// and StoreContract, the one suite every implementation passes — MemStore
// in scheduling's own tests, the DynamoDB store against the emulator in
// ddb's. The booking race and the hold's moves are proven once, for both.
package schedulingtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// MemStore is an in-memory scheduling.Store with the DynamoDB store's conditions: a
// unit is held by at most one appointment, an update applies only at the
// version it was read at, and Create refuses an id it has.
type MemStore struct {
	mu    sync.Mutex
	appts map[string]scheduling.Appointment
	units map[string]string // provider|unix → appointment id
}

var _ scheduling.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{appts: map[string]scheduling.Appointment{}, units: map[string]string{}}
}

func unitKey(provider string, u time.Time) string {
	return provider + "|" + u.UTC().Format(time.RFC3339)
}

func (m *MemStore) Busy(_ context.Context, provider string, from, to time.Time) (map[int64]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int64]bool{}
	for _, a := range m.appts {
		for _, u := range a.Slot.Units() {
			if a.Slot.Provider == provider && m.units[unitKey(provider, u)] == a.ID && !u.Before(from) && u.Before(to) {
				out[u.Unix()] = true
			}
		}
	}
	return out, nil
}

func (m *MemStore) Create(_ context.Context, a scheduling.Appointment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.appts[a.ID]; ok {
		return scheduling.ErrExists
	}
	for _, u := range a.Slot.Units() {
		if _, held := m.units[unitKey(a.Slot.Provider, u)]; held {
			return scheduling.ErrSlotTaken
		}
	}
	for _, u := range a.Slot.Units() {
		m.units[unitKey(a.Slot.Provider, u)] = a.ID
	}
	m.appts[a.ID] = a
	return nil
}

func (m *MemStore) Update(_ context.Context, a scheduling.Appointment, release, hold []time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.appts[a.ID]
	if !ok || prev.Version != a.Version-1 {
		return fault.Errorf(fault.Conflict, "the appointment changed")
	}
	for _, u := range hold {
		if _, held := m.units[unitKey(a.Slot.Provider, u)]; held {
			return scheduling.ErrSlotTaken
		}
	}
	for _, u := range release {
		if m.units[unitKey(prev.Slot.Provider, u)] != a.ID {
			return fault.Errorf(fault.Conflict, "a released unit is not the appointment's")
		}
		delete(m.units, unitKey(prev.Slot.Provider, u))
	}
	for _, u := range hold {
		m.units[unitKey(a.Slot.Provider, u)] = a.ID
	}
	m.appts[a.ID] = a
	return nil
}

func (m *MemStore) Get(_ context.Context, id string) (scheduling.Appointment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.appts[id]
	if !ok {
		return scheduling.Appointment{}, fault.Errorf(fault.NotFound, "appointment not found")
	}
	return a, nil
}

func (m *MemStore) ForPatient(_ context.Context, patientID string) ([]scheduling.Appointment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []scheduling.Appointment
	for _, a := range m.appts {
		if a.PatientID == patientID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b scheduling.Appointment) int { return a.Slot.Start.Compare(b.Slot.Start) })
	return out, nil
}

// All returns every stored appointment (for property tests).
func (m *MemStore) All() []scheduling.Appointment {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]scheduling.Appointment, 0, len(m.appts))
	for _, a := range m.appts {
		out = append(out, a)
	}
	return out
}

// Holder returns the id of the appointment that holds the provider's unit
// starting at u ("" when none does).
func (m *MemStore) Holder(provider string, u time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.units[unitKey(provider, u)]
}
