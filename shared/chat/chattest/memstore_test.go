package chattest

import (
	"testing"

	"github.com/patientservicecenter/psc/shared/chat"
)

// TestTheMemStoreKeepsTheConversationsContract: the in-memory store the
// chat service's tests use behaves as the DynamoDB adapter does
// (ddb.TestConversationsKeepTheContract runs the same suite there).
func TestTheMemStoreKeepsTheConversationsContract(t *testing.T) {
	ConversationsContract(t, func(*testing.T) chat.Conversations { return NewMemConversations() })
}
