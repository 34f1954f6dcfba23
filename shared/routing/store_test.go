package routing_test

import (
	"testing"

	"github.com/patientservicecenter/psc/shared/routing/routingtest"
)

// TestTheMemStoreKeepsTheStoreContract: the in-memory store the service's
// tests use behaves as the DynamoDB store does (which passes the same
// suite on the emulator, in shared/adapter/ddb).
func TestTheMemStoreKeepsTheStoreContract(t *testing.T) {
	routingtest.StoreContract(t, func(*testing.T) routingtest.Store { return routingtest.NewMemStore() })
}
