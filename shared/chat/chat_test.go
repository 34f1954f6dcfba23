package chat

import (
	"testing"

	"github.com/patientservicecenter/psc/shared/edge/protocol"
)

// TestMessageIDsSortInOrderAndHaveTheWireShape: ids sort as their
// sequence numbers do (resume relies on it) and have the shape the
// protocol's decoder accepts in resume's "after".
func TestMessageIDsSortInOrderAndHaveTheWireShape(t *testing.T) {
	prev := ""
	for _, seq := range []int64{0, 1, 2, 9, 10, 99, 100, 123456789} {
		id := MessageID(seq)
		if !protocol.IsMessageID(id) || id <= prev {
			t.Fatalf("id %q after %q", id, prev)
		}
		if back, ok := MessageSeq(id); !ok || back != seq {
			t.Fatalf("MessageSeq(%q) = %d, %v", id, back, ok)
		}
		prev = id
	}
}

// FuzzMessageSeq: MessageSeq accepts exactly the ids the protocol's
// decoder accepts, and reads back the sequence number MessageID wrote.
func FuzzMessageSeq(f *testing.F) {
	for _, s := range []string{"m000000000001", "m999999999999", "", "m", "m-00000000001", "m+00000000001", "x000000000001", "m0000000000012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := MessageSeq(id)
		if ok != protocol.IsMessageID(id) {
			t.Fatalf("MessageSeq(%q) ok = %v, protocol.IsMessageID = %v", id, ok, !ok)
		}
		if ok && MessageID(seq) != id {
			t.Fatalf("MessageID(MessageSeq(%q)) = %q", id, MessageID(seq))
		}
	})
}
