package waitlisttest

import (
	"testing"
	"time"

	"github.com/patientservicecenter/psc/shared/waitlist"
)

func TestMemStoreKeepsTheStoreContract(t *testing.T) {
	StoreContract(t, func(*testing.T) waitlist.Store { return NewMemStore() }, "dermatology", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
}
