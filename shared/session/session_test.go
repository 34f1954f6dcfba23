package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := []byte(strings.Repeat("s", 64))
	tok, err := New(key, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	s, c, err := tok.Issue("p-1", "c-1")
	if err != nil || c.PatientID != "p-1" || c.ConversationID != "c-1" {
		t.Fatalf("issue: %v %+v", err, c)
	}
	got, err := tok.Verify(s)
	if err != nil || got.PatientID != "p-1" || got.ConversationID != "c-1" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("verify: %v %+v", err, got)
	}
	other, _ := New([]byte(strings.Repeat("o", 64)), time.Hour, clock)
	later, _ := New(key, time.Hour, func() time.Time { return now.Add(2 * time.Hour) })
	none := strings.Join([]string{"eyJhbGciOiJub25lIn0", strings.Split(s, ".")[1], ""}, ".")
	for name, check := range map[string]func() error{
		"other key": func() error { _, err := other.Verify(s); return err },
		"expired":   func() error { _, err := later.Verify(s); return err },
		"alg none":  func() error { _, err := tok.Verify(none); return err },
		"garbage":   func() error { _, err := tok.Verify("x.y.z"); return err },
		"empty":     func() error { _, err := tok.Verify(""); return err },
	} {
		if err := check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestNewRejectsShortKeys(t *testing.T) {
	if _, err := New([]byte("short"), time.Hour, time.Now); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
