package scheduling

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
)

// memStore is an in-memory Store with the DynamoDB store's conditions: a
// unit is held by at most one appointment, an update applies only at the
// version it was read at, and Create refuses an id it has.
type memStore struct {
	mu    sync.Mutex
	appts map[string]Appointment
	units map[string]string // provider|unix → appointment id
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{appts: map[string]Appointment{}, units: map[string]string{}}
}

func unitKey(provider string, u time.Time) string {
	return provider + "|" + u.UTC().Format(time.RFC3339)
}

func (m *memStore) Busy(_ context.Context, provider string, from, to time.Time) (map[int64]bool, error) {
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

func (m *memStore) Create(_ context.Context, a Appointment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.appts[a.ID]; ok {
		return ErrExists
	}
	for _, u := range a.Slot.Units() {
		if _, held := m.units[unitKey(a.Slot.Provider, u)]; held {
			return ErrSlotTaken
		}
	}
	for _, u := range a.Slot.Units() {
		m.units[unitKey(a.Slot.Provider, u)] = a.ID
	}
	m.appts[a.ID] = a
	return nil
}

func (m *memStore) Update(_ context.Context, a Appointment, release, hold []time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.appts[a.ID]
	if !ok || prev.Version != a.Version-1 {
		return fault.Errorf(fault.Conflict, "the appointment changed")
	}
	for _, u := range hold {
		if _, held := m.units[unitKey(a.Slot.Provider, u)]; held {
			return ErrSlotTaken
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

func (m *memStore) Get(_ context.Context, id string) (Appointment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.appts[id]
	if !ok {
		return Appointment{}, fault.Errorf(fault.NotFound, "appointment not found")
	}
	return a, nil
}

func (m *memStore) ForPatient(_ context.Context, patientID string) ([]Appointment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Appointment
	for _, a := range m.appts {
		if a.PatientID == patientID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Appointment) int { return a.Slot.Start.Compare(b.Slot.Start) })
	return out, nil
}
