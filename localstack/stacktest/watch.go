package stacktest

import (
	"bytes"
	"io"
	"sync"
)

// Watch sees everything the stack writes (its functions' output, the
// emulator's, the stack's own log) and remembers which watched strings
// appeared: a test plants a canary in client input and asks whether it
// reached a log.
type Watch struct {
	w io.Writer

	mu      sync.Mutex
	watched map[string]bool // canary → seen
	tail    []byte          // the end of the last write, for a canary cut in two
}

func newWatch(w io.Writer) *Watch { return &Watch{w: w, watched: map[string]bool{}} }

// Add starts watching for s.
func (w *Watch) Add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.watched[s]; !ok {
		w.watched[s] = false
	}
}

// Seen reports whether s was written since Add.
func (w *Watch) Seen(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watched[s]
}

func (w *Watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	joined := append(append([]byte{}, w.tail...), p...)
	for s, seen := range w.watched {
		if !seen && bytes.Contains(joined, []byte(s)) {
			w.watched[s] = true
		}
	}
	if n := 256; len(joined) > n {
		joined = joined[len(joined)-n:]
	}
	w.tail = joined
	w.mu.Unlock()
	return w.w.Write(p)
}
