package notify

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Text reminders follow the US rules for messages a business sends to a
// mobile phone:
//   - opt-in: a number gets texts only when the patient gave it for them,
//     and the booking records when (scheduling.Appointment.SMSConsentAt);
//   - opt-out and help keywords (CTIA Messaging Principles and Best
//     Practices, 2023, §5.1.2 and §5.1.3; AWS End User Messaging SMS
//     User Guide, "Opt-out keywords"): a STOP is honoured at once and
//     answered with one confirmation, HELP with who sends and how to reach
//     them, START undoes a STOP;
//   - quiet hours: none between 9 p.m. and 8 a.m. (the TCPA's calling
//     window, 47 CFR 64.1200(c)(1)), in the center's time zone.

// ErrPhone is a number that cannot take text messages.
var ErrPhone = errors.New("not a mobile number")

// Phone reads a phone number as patients type it and returns it in
// E.164: ten digits are a US or Canadian number (+1), eleven starting
// with 1 likewise, and "+1" with ten digits. Spaces, dots, dashes and
// brackets are ignored; anything else is an error. Other countries are
// refused: the consent and the carrier registration are for North
// America, and an international number is where SMS pumping fraud
// sends texts to run up charges.
func Phone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 32 {
		return "", ErrPhone
	}
	plus := strings.HasPrefix(s, "+")
	var digits strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", ErrPhone
		}
	}
	d := digits.String()
	switch {
	case plus && len(d) == 11 && d[0] == '1' && nanp(d[1:]):
		return "+" + d, nil
	case !plus && len(d) == 10 && nanp(d):
		return "+1" + d, nil
	case !plus && len(d) == 11 && d[0] == '1' && nanp(d[1:]):
		return "+" + d, nil
	}
	return "", ErrPhone
}

// nanp checks a ten-digit North American number: area code and exchange
// each start with 2–9 (the North American Numbering Plan).
func nanp(d string) bool {
	return len(d) == 10 && d[0] >= '2' && d[3] >= '2'
}

// Masked shows a number's last two digits only ("+1 •••••••• 67"), for
// the chat and the console.
func Masked(phone string) string {
	if len(phone) < 4 {
		return "•••"
	}
	return phone[:2] + " " + strings.Repeat("•", len(phone)-4) + " " + phone[len(phone)-2:]
}

// Keyword is what an incoming text asks.
type Keyword int

// The keywords.
const (
	NoKeyword Keyword = iota
	OptOut            // STOP and its synonyms
	OptIn             // START, UNSTOP
	Help              // HELP, INFO
)

func (k Keyword) String() string {
	return [...]string{"none", "opt-out", "opt-in", "help"}[k]
}

// keywords are matched on the whole message, in any case, with spaces,
// punctuation and symbols ignored (carriers match "Stop." and "STOP ALL").
var keywords = map[string]struct {
	kw     Keyword
	locale string
}{
	"stop": {OptOut, "en"}, "stopall": {OptOut, "en"}, "unsubscribe": {OptOut, "en"}, "cancel": {OptOut, "en"},
	"end": {OptOut, "en"}, "quit": {OptOut, "en"}, "optout": {OptOut, "en"}, "revoke": {OptOut, "en"},
	"parar": {OptOut, "es"}, "alto": {OptOut, "es"}, "baja": {OptOut, "es"}, "cancelar": {OptOut, "es"},
	"start": {OptIn, "en"}, "unstop": {OptIn, "en"}, "optin": {OptIn, "en"},
	"help": {Help, "en"}, "info": {Help, "en"}, "ayuda": {Help, "es"},
}

// optOutWords also opt out when they are one word of a longer message
// ("please stop texting me", "STOP 🙏"): the FCC's 2024 rule asks that an
// opt-out by any reasonable means be honoured (47 CFR 64.1200(a)(10)).
// Words that are common in sentences ("end", "cancel", "alto") count
// only alone, so "can I come at the end of the day" is answered, not
// taken for a STOP.
var optOutWords = map[string]string{"stop": "en", "stopall": "en", "unsubscribe": "en", "revoke": "en", "optout": "en", "parar": "es"}

// KeywordOf reads an incoming text: the keyword it is and the language of
// the word ("" for no keyword).
func KeywordOf(body string) (Keyword, string) {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(body) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		} else {
			flush()
		}
		if len(words) > 200 {
			break
		}
	}
	flush()
	if k, ok := keywords[strings.Join(words, "")]; ok {
		return k.kw, k.locale
	}
	for i, w := range words {
		if loc, ok := optOutWords[w]; ok {
			return OptOut, loc
		}
		if w == "opt" && i+1 < len(words) && words[i+1] == "out" {
			return OptOut, "en"
		}
	}
	return NoKeyword, ""
}

// Quiet is the daily period no text goes out in: from From to To after
// midnight, in Zone (From after To spans midnight). The zero Quiet has
// none.
type Quiet struct {
	From, To time.Duration
	Zone     *time.Location
}

// ParseQuiet reads "21:00-08:00" in a zone; "" is no quiet hours.
func ParseQuiet(spec string, zone *time.Location) (Quiet, error) {
	if strings.TrimSpace(spec) == "" {
		return Quiet{}, nil
	}
	from, to, ok := strings.Cut(spec, "-")
	f, err1 := time.Parse("15:04", strings.TrimSpace(from))
	t, err2 := time.Parse("15:04", strings.TrimSpace(to))
	if !ok || err1 != nil || err2 != nil || f.Equal(t) || zone == nil {
		return Quiet{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM, two different times", spec)
	}
	since := func(c time.Time) time.Duration {
		return time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute
	}
	return Quiet{From: since(f), To: since(t), Zone: zone}, nil
}

// In says whether t falls in the quiet hours.
func (q Quiet) In(t time.Time) bool {
	if q.Zone == nil {
		return false
	}
	// The wall clock, not the time since midnight: on the days the clocks
	// change, 21:30 is 21:30.
	l := t.In(q.Zone)
	d := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute + time.Duration(l.Second())*time.Second
	if q.From < q.To {
		return d >= q.From && d < q.To
	}
	return d >= q.From || d < q.To
}

// End is when the quiet period t falls in ends (t itself outside one).
func (q Quiet) End(t time.Time) time.Time {
	if !q.In(t) {
		return t
	}
	l := t.In(q.Zone)
	y, m, d := l.Date()
	hh, mm := int(q.To/time.Hour), int(q.To%time.Hour/time.Minute)
	end := time.Date(y, m, d, hh, mm, 0, 0, q.Zone)
	if !end.After(t) {
		end = time.Date(y, m, d+1, hh, mm, 0, 0, q.Zone)
	}
	return end
}

// smsMargin is how long before a visit a text reminder is still worth
// sending: one held back by the quiet hours to less than that is dropped
// (the email and the chat reminder went out on time).
const smsMargin = 30 * time.Minute

// Shift moves a text due at at out of the quiet hours: to their end when
// that is still smsMargin before the visit's start, else not at all.
func (q Quiet) Shift(at, start time.Time) (time.Time, bool) {
	at = q.End(at)
	return at, !at.After(start.Add(-smsMargin))
}
