package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// linkIssuer keeps appointment links apart from session tokens signed with
// the same key: neither verifies as the other.
const linkIssuer = "psc-appointment-link"

// Links issues and verifies the signed links sent to patients: a link
// names its purpose (an appointment reminder's, a survey's), one thing (the
// appointment, the survey) and its patient, and expires; it lets its
// holder act on that one thing for that purpose, and nothing else.
type Links struct {
	keys Keys
	now  func() time.Time
}

// NewLinks returns Links signing with key.
func NewLinks(key []byte, now func() time.Time) (*Links, error) {
	return NewLinksWithKeys(StaticKeys{Current: key}, now)
}

// NewLinksWithKeys returns Links signing with the current key of keys and
// verifying with the current and the previous one.
func NewLinksWithKeys(keys Keys, now func() time.Time) (*Links, error) {
	if err := checkKeys("link", keys); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Links{keys: keys, now: now}, nil
}

// Link purposes.
const (
	ForAppointment = "appointment"
	ForSurvey      = "survey"
)

// Link is what a valid link says.
type Link struct {
	// AppointmentID is the id of what the link is for (an appointment's,
	// or a survey's for a survey link).
	AppointmentID string
	PatientID     string
	ExpiresAt     time.Time
	// Start is, for an appointment link, the start of the visit it was
	// sent for: the link acts only while the appointment is still at that
	// time (a moved appointment's old links do nothing).
	Start time.Time
}

type linkClaims struct {
	PatientID string `json:"pid"`
	Start     int64  `json:"at,omitempty"`
	jwt.RegisteredClaims
}

// Issue signs a link for the appointment that starts at start, valid
// until then.
func (l *Links) Issue(appointmentID, patientID string, start time.Time) (string, error) {
	return l.issue(ForAppointment, appointmentID, patientID, start, start.Unix())
}

// IssueFor signs a link for a purpose and the id it acts on.
func (l *Links) IssueFor(purpose, id, patientID string, expires time.Time) (string, error) {
	return l.issue(purpose, id, patientID, expires, 0)
}

func (l *Links) issue(purpose, id, patientID string, expires time.Time, start int64) (string, error) {
	c := linkClaims{PatientID: patientID, Start: start, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: linkIssuer, Audience: jwt.ClaimStrings{purpose}, Subject: id, IssuedAt: jwt.NewNumericDate(l.now()), ExpiresAt: jwt.NewNumericDate(expires),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(l.keys.Signing())
	if err != nil {
		return "", fmt.Errorf("signing appointment link: %w", err)
	}
	return s, nil
}

// ErrBadLink is returned for a link that is not valid now.
var ErrBadLink = errors.New("the link is not valid or has expired")

// Verify checks an appointment link's signature, issuer, purpose and
// expiry.
func (l *Links) Verify(token string) (Link, error) { return l.VerifyFor(ForAppointment, token) }

// VerifyFor checks a link's signature, issuer, purpose and expiry.
func (l *Links) VerifyFor(purpose, token string) (Link, error) {
	var c linkClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return verificationSet(l.keys), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(linkIssuer), jwt.WithAudience(purpose),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(l.now))
	if err != nil || c.Subject == "" || c.PatientID == "" || (purpose == ForAppointment && c.Start == 0) {
		return Link{}, ErrBadLink
	}
	link := Link{AppointmentID: c.Subject, PatientID: c.PatientID, ExpiresAt: c.ExpiresAt.Time}
	if c.Start != 0 {
		link.Start = time.Unix(c.Start, 0)
	}
	return link, nil
}
