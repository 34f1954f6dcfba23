package mailtext

import (
	"strings"
	"testing"
)

func TestAMessageHasItsHeadersAnEncodedSubjectAndCRLFLines(t *testing.T) {
	raw, err := Message("PSC <a@example.org>", "b@example.org", "¿Cómo lo hicimos?", "line one\nline two")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"From: PSC <a@example.org>\r\n", "To: b@example.org\r\n", "Subject: =?utf-8?q?", "charset=utf-8",
		"\r\n\r\nline one\r\nline two\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("the message lacks %q:\n%s", want, s)
		}
	}
	if ascii, _ := Message("a@example.org", "b@example.org", "How did we do?", "x"); !strings.Contains(string(ascii), "Subject: How did we do?\r\n") {
		t.Errorf("an ASCII subject was encoded: %s", ascii)
	}
	if _, err := Message("a@example.org", "b@example.org\r\nBcc: c@example.org", "s", "x"); err == nil {
		t.Error("an address with a line break was accepted")
	}
}
