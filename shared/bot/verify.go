package bot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/mailtext"
	"github.com/patientservicecenter/psc/shared/notify"
)

// Identity levels (issue 20): a conversation starts anonymous — knowledge
// answers, triage, requesting an appointment — and is verified once the
// patient types the one-time code sent to the email on file for their
// appointments; only then does the bot list, move or cancel them.
const (
	stageVerify = "appointment:verify"
	// CodeTTL is how long a code is good for; MaxCodeTries wrong codes lock
	// verification for CodeLock; MaxCodesSent codes at most per
	// conversation.
	CodeTTL      = 10 * time.Minute
	MaxCodeTries = 3
	CodeLock     = 15 * time.Minute
	MaxCodesSent = 3
	// MaxWrongPerDay wrong codes of one patient, across all their
	// conversations, lock their verification until a day after the first
	// of them (a session may start many conversations: without it, each
	// would bring three more tries).
	MaxWrongPerDay = 6
	WrongWindow    = 24 * time.Hour
)

// MaxCodesPerDay codes at most are sent to one patient in a day, across
// their conversations (each a paid email or text).
const MaxCodesPerDay = 6

// CodeTries are a patient's wrong codes in the current window, and the
// codes sent to them in theirs.
type CodeTries struct {
	Wrong       int
	Since       time.Time // the window's first wrong code
	LockedUntil time.Time
	Sent        int
	SentSince   time.Time // the window's first code sent
	Version     int       // for the store's conditional write
}

// AddSent counts a code about to be sent at now, and says whether it may
// go (false: the day's codes are used up).
func (c CodeTries) AddSent(now time.Time) (CodeTries, bool) {
	next := c
	next.Version = c.Version + 1
	if next.SentSince.IsZero() || now.Sub(next.SentSince) >= WrongWindow {
		next.Sent, next.SentSince = 0, now
	}
	if next.Sent >= MaxCodesPerDay {
		return c, false
	}
	next.Sent++
	return next, true
}

// Add counts one more wrong code at now: a window that has passed starts
// again; the MaxWrongPerDay-th locks until the window's end.
func (c CodeTries) Add(now time.Time) CodeTries {
	next := c
	next.Version = c.Version + 1
	if next.Since.IsZero() || now.Sub(next.Since) >= WrongWindow {
		next.Wrong, next.Since, next.LockedUntil = 0, now, time.Time{}
	}
	next.Wrong++
	if next.Wrong >= MaxWrongPerDay {
		next.LockedUntil = next.Since.Add(WrongWindow)
	}
	return next
}

// Guard keeps patients' wrong codes across their conversations.
type Guard interface {
	Tries(ctx context.Context, patientID string) (CodeTries, error)
	// SaveTries stores tries read at Version-1 (a fault.Conflict if they
	// changed meanwhile).
	SaveTries(ctx context.Context, patientID string, tries CodeTries) error
}

// Verify is a code on its way: to which address, kept as a salted hash
// (the code itself is only in the patient's email), until when, and what
// the patient asked to do.
type Verify struct {
	Verb    string    `json:"verb"`
	Email   string    `json:"email"`
	Salt    string    `json:"salt"`
	Hash    string    `json:"hash"`
	Expires time.Time `json:"expires"`
}

// CodeHash is the stored form of a code: SHA-256 of the salt and the code.
func CodeHash(salt, code string) string {
	sum := sha256.Sum256([]byte(salt + ":" + code))
	return hex.EncodeToString(sum[:])
}

// digits is the run of six digits in what the patient typed ("123 456",
// "my code is 123456"), if there is exactly one.
func digits(text string) (string, bool) {
	var b strings.Builder
	for _, r := range text {
		if unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	return s, len(s) == 6
}

// stepUp asks a patient who wants to see or change their appointments to
// prove who they are: a code goes to the email on file for them, unless
// verification is locked after wrong codes, they have no appointment
// here, or none has an email (then a person helps).
func (t *turn) stepUp(verb string) {
	if t.locked() {
		return
	}
	appts, ok := t.upcoming()
	if !ok {
		return
	}
	// The email on file, else a mobile number given for texts.
	email := ""
	for _, a := range appts {
		if a.PatientEmail != "" {
			email = a.PatientEmail
			break
		}
	}
	for _, a := range appts {
		if email == "" && a.PatientPhone != "" && !a.SMSConsentAt.IsZero() && t.e.texts {
			email = a.PatientPhone
		}
	}
	if email == "" {
		t.say("verifyNoEmail")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		return
	}
	t.sendCode(verb, email)
}

// sendCode sends a fresh code and waits for it.
func (t *turn) sendCode(verb, email string) {
	if t.st.CodesSent >= MaxCodesSent {
		t.st.Verify, t.st.Stage = nil, stageOpen
		t.say("verifyTooMany")
		t.requestPerson(t.e.c.Queues["scheduling"], ReasonAppointment, "handoff")
		return
	}
	salt, hash, err := t.in.Booking.SendCode(email)
	if errors.Is(err, ErrTooManyCodes) {
		t.st.Verify, t.st.Stage = nil, stageOpen
		t.say("verifyTooMany")
		t.requestPerson(t.e.c.Queues["scheduling"], ReasonAppointment, "handoff")
		return
	}
	if errors.Is(err, ErrTextsStopped) {
		t.st.Verify, t.st.Stage = nil, stageOpen
		t.say("verifyNoEmail")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		return
	}
	if err != nil {
		t.st.Verify, t.st.Stage = nil, stageOpen
		t.say("verifyNotSent")
		t.replies("menu")
		return
	}
	t.st.CodesSent++
	t.st.Verify = &Verify{Verb: verb, Email: email, Salt: salt, Hash: hash, Expires: t.in.Now.Add(CodeTTL)}
	t.st.Stage = stageVerify
	t.say("verifySent", "email", masked(email))
	t.replies("verify")
}

// verifyStep takes what the patient typed while a code is on its way.
func (t *turn) verifyStep() {
	v := t.st.Verify
	if v == nil {
		t.st.Stage = stageOpen
		t.open()
		return
	}
	if t.locked() {
		t.st.Verify, t.st.Stage = nil, stageOpen
		return
	}
	if t.is("newCode") {
		t.sendCode(v.Verb, v.Email)
		return
	}
	code, ok := digits(t.in.Text)
	switch {
	case !ok:
		t.say("verifyAsk", "email", masked(v.Email))
		t.replies("verify")
	case t.in.Now.After(v.Expires):
		t.say("verifyExpired")
		t.replies("verify")
	case subtle.ConstantTimeCompare([]byte(CodeHash(v.Salt, code)), []byte(v.Hash)) == 1:
		t.st.Verify, t.st.Stage, t.st.Verified = nil, stageOpen, true
		t.st.VerifiedEmail = v.Email // the email (or mobile number) proved
		t.say("verified")
		t.startChange(v.Verb)
	default:
		// Wrong tries count across the codes of the conversation: a new
		// code does not buy new tries.
		// So do the patient's wrong tries across their conversations (a
		// failure to count them locks, rather than allow more).
		t.st.WrongCodes++
		lock := time.Time{}
		if t.st.WrongCodes >= MaxCodeTries {
			lock = t.in.Now.Add(CodeLock)
		}
		if until, err := t.in.Booking.WrongCode(t.in.Now); err != nil {
			lock = t.in.Now.Add(CodeLock)
		} else if until.After(lock) {
			lock = until
		}
		if lock.After(t.in.Now) {
			t.st.WrongCodes = 0
			t.st.Verify, t.st.Stage = nil, stageOpen
			t.st.LockedUntil = lock
			t.sayLocked(lock)
			return
		}
		t.say("verifyWrong")
		t.replies("verify")
	}
}

// locked says (and tells the patient) whether verification is locked: in
// this conversation, or for the patient across conversations (checked
// before every code sent and every code typed, so other open
// conversations get no more tries; a failure to read it locks).
func (t *turn) locked() bool {
	until, err := t.in.Booking.CodesLocked(t.in.Now)
	if err != nil {
		until = t.in.Now.Add(CodeLock)
	}
	if until.After(t.st.LockedUntil) {
		t.st.LockedUntil = until
	}
	if t.in.Now.Before(t.st.LockedUntil) {
		t.sayLocked(t.st.LockedUntil)
		return true
	}
	return false
}

// sayLocked says verification is locked until a time: in minutes, or in
// hours when that is more than an hour and a half away.
func (t *turn) sayLocked(until time.Time) {
	if left := until.Sub(t.in.Now); left > 90*time.Minute {
		t.say("verifyLockedLong", "hours", strconv.Itoa(int((left+time.Hour-1)/time.Hour)))
	} else {
		t.say("verifyLocked", "minutes", minutesLeft(left))
	}
	t.replies("menu")
}

// isPhone says whether a code's destination is a mobile number (E.164).
func isPhone(to string) bool { return strings.HasPrefix(to, "+") }

// masked shows a code's destination as the chat may: the email's first
// letter and domain, or the number's last two digits.
func masked(to string) string {
	if isPhone(to) {
		return notify.Masked(to)
	}
	return chat.MaskEmail(to)
}

// codeText is the text message that carries a code.
func (e *Engine) codeText(locale, code string) string {
	fill := strings.NewReplacer("{code}", code, "{org}", e.organization(locale), "{minutes}", minutesLeft(CodeTTL))
	return fill.Replace(e.c.Text["codeText"].In(locale))
}

// minutesLeft is a wait in whole minutes, at least one.
func minutesLeft(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Minute-1)/time.Minute), 1))
}

// codeEmail is the email that carries a code, in the conversation's
// language.
func (e *Engine) codeEmail(from, to, locale, code string) ([]byte, error) {
	fill := strings.NewReplacer("{code}", code, "{org}", e.organization(locale), "{minutes}", minutesLeft(CodeTTL))
	return mailtext.Message(from, to, fill.Replace(e.c.Text["codeSubject"].In(locale)), fill.Replace(e.c.Text["codeBody"].In(locale)))
}
