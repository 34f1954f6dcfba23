package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

// Calendar writes the appointment as an iCalendar invitation: REQUEST
// while it stands (its version as the SEQUENCE, so a calendar updates the
// event when it moves), CANCEL once cancelled.
func Calendar(a scheduling.Appointment, dir *scheduling.Directory, m Message, organizer string, now time.Time) []byte {
	cal := ics.NewCalendar()
	cal.SetProductId("-//Patient Service Center//Appointments//EN")
	method, status := ics.MethodRequest, ics.ObjectStatusConfirmed
	if a.State == scheduling.Cancelled {
		method, status = ics.MethodCancel, ics.ObjectStatusCancelled
	}
	cal.SetMethod(method)
	ev := cal.AddEvent(a.ID + "@patient-service-center")
	ev.SetDtStampTime(now.UTC())
	ev.SetSequence(a.Version)
	ev.SetStartAt(a.Slot.Start.UTC())
	ev.SetEndAt(a.Slot.End.UTC())
	p, _ := dir.Provider(a.Slot.Provider)
	v, _ := dir.VisitType(a.Slot.VisitType)
	ev.SetSummary(v.Name.In(a.Locale) + " — " + p.Name)
	ev.SetDescription(m.Text)
	if a.Slot.Mode == scheduling.Telehealth {
		ev.SetLocation(a.JoinURL)
		if a.JoinURL != "" {
			ev.SetURL(a.JoinURL)
		}
	} else {
		l, _ := dir.Location(a.Slot.Location)
		ev.SetLocation(l.Name + ", " + l.Address)
	}
	ev.SetStatus(status)
	ev.SetOrganizer("mailto:" + organizer)
	return []byte(cal.Serialize())
}

// Email builds a MIME message: the text, and the invitation attached as
// invite.ics (text/calendar with its METHOD, as mail clients expect).
func Email(from, to string, m Message, invitation []byte, method string) ([]byte, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	text, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"8bit"}})
	if err != nil {
		return nil, err
	}
	if _, err := text.Write([]byte(m.Body)); err != nil {
		return nil, err
	}
	if len(invitation) > 0 {
		cal, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {fmt.Sprintf("text/calendar; charset=utf-8; method=%s; name=\"invite.ics\"", method)},
			"Content-Disposition":       {"attachment; filename=\"invite.ics\""},
			"Content-Transfer-Encoding": {"8bit"},
		})
		if err != nil {
			return nil, err
		}
		if _, err := cal.Write(invitation); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if strings.ContainsAny(from+to, "\r\n") {
		return nil, fmt.Errorf("an address holds a line break")
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%q\r\n\r\n",
		from, to, mime.QEncoding.Encode("utf-8", m.Subject), w.Boundary())
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}
