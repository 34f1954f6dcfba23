// Package mailtext builds the plain-text emails the services send raw
// through SES: the headers, the subject encoded when it is not ASCII, the
// body with CRLF line ends.
package mailtext

import (
	"fmt"
	"mime"
	"strings"
)

// Message is a plain-text UTF-8 email from from to to. An address with a
// line break (a header injection) is refused.
func Message(from, to, subject, body string) ([]byte, error) {
	if strings.ContainsAny(from+to, "\r\n") {
		return nil, fmt.Errorf("an address holds a line break")
	}
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
		from, to, mime.QEncoding.Encode("utf-8", subject), body)), nil
}
