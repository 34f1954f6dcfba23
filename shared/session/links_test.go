package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLinksAreForOneAppointmentUntilTheyExpire(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	links, err := NewLinks(key, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := links.Issue("ap1", "p1", now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l, err := links.Verify(tok)
	if err != nil || l.AppointmentID != "ap1" || l.PatientID != "p1" {
		t.Fatalf("verify: %+v %v", l, err)
	}
	// A session token signed with the same key is not a link, nor the
	// other way round.
	tokens, _ := New(key, time.Hour, func() time.Time { return now })
	sess, _, _ := tokens.Issue("p1", "c1")
	if _, err := links.Verify(sess); !errors.Is(err, ErrBadLink) {
		t.Fatalf("a session token verified as a link: %v", err)
	}
	if _, err := tokens.Verify(tok); err == nil {
		t.Fatal("a link verified as a session token")
	}
	other, _ := NewLinks([]byte(strings.Repeat("x", 32)), func() time.Time { return now })
	if _, err := other.Verify(tok); !errors.Is(err, ErrBadLink) {
		t.Fatalf("a link of another key: %v", err)
	}
	later, _ := NewLinks(key, func() time.Time { return now.Add(49 * time.Hour) })
	if _, err := later.Verify(tok); !errors.Is(err, ErrBadLink) {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := links.Verify(tok[:len(tok)-2] + "xx"); !errors.Is(err, ErrBadLink) {
		t.Fatalf("a tampered link: %v", err)
	}
	// A survey link is not an appointment link, nor the other way round.
	sv, _ := links.IssueFor(ForSurvey, "sv1", "p1", now.Add(time.Hour))
	if _, err := links.Verify(sv); !errors.Is(err, ErrBadLink) {
		t.Fatalf("a survey link verified as an appointment link: %v", err)
	}
	if got, err := links.VerifyFor(ForSurvey, sv); err != nil || got.AppointmentID != "sv1" {
		t.Fatalf("survey link: %+v %v", got, err)
	}
	if _, err := links.VerifyFor(ForSurvey, tok); !errors.Is(err, ErrBadLink) {
		t.Fatalf("an appointment link verified as a survey link: %v", err)
	}
	if _, err := NewLinks([]byte("short"), nil); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// TestRotation: what the previous key signed still verifies; what no key
// of the set signed does not (issue 16: keys rotate).
func TestRotation(t *testing.T) {
	now := time.Now()
	old, cur, other := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("c", 32)), []byte(strings.Repeat("x", 32))
	before, _ := New(old, time.Hour, func() time.Time { return now })
	after, err := NewWithKeys(StaticKeys{Current: cur, Previous: old}, time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := New(other, time.Hour, func() time.Time { return now })
	signedBefore, _, _ := before.Issue("p1", "c1")
	signedAfter, _, _ := after.Issue("p1", "c1")
	signedElsewhere, _, _ := stranger.Issue("p1", "c1")
	if _, err := after.Verify(signedBefore); err != nil {
		t.Errorf("a token signed with the previous key: %v", err)
	}
	if _, err := after.Verify(signedAfter); err != nil {
		t.Errorf("a token signed with the current key: %v", err)
	}
	if _, err := after.Verify(signedElsewhere); err == nil {
		t.Error("a token signed with a key of neither kind verified")
	}
	if _, err := before.Verify(signedAfter); err == nil {
		t.Error("the previous key alone verified what the new key signed")
	}
	links, _ := NewLinksWithKeys(StaticKeys{Current: cur, Previous: old}, func() time.Time { return now })
	oldLinks, _ := NewLinks(old, func() time.Time { return now })
	tok, _ := oldLinks.Issue("ap1", "p1", now.Add(time.Hour))
	if _, err := links.Verify(tok); err != nil {
		t.Errorf("a link signed with the previous key: %v", err)
	}
}
