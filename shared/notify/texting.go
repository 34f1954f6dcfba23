package notify

import (
	"context"
	"fmt"
	"strconv"

	"github.com/patientservicecenter/psc/shared/scheduling"
)

// reminderTag names a reminder of a visit at its time, so a visit moved
// gets the new time's reminders even after the old time's went out.
func reminderTag(r Reminder) string {
	return string(r.Kind) + "@" + strconv.FormatInt(r.Start.Unix(), 10)
}

// putBack returns a claimed reminder that could not be sent, so the next
// sweep tries it again (the sent marks keep a retry from repeating what
// went out; Due stops looking after its lookback).
func (s *Service) putBack(ctx context.Context, r Reminder) error {
	if err := s.rem.Put(ctx, []Reminder{r}); err != nil {
		return fmt.Errorf("putting back reminder %s: %w", r.Kind, err)
	}
	return nil
}

// text sends a text reminder and reports whether it went: once (a retried
// sweep sends none twice), only to a number the patient gave for it and
// that has not replied STOP, and never in the quiet hours (a sweep that
// runs in them holds it to their end, or drops it when that is too close
// to the visit).
func (s *Service) text(ctx context.Context, r Reminder, a scheduling.Appointment, f Fill) (bool, error) {
	if !s.textable(a) {
		return false, nil
	}
	now := s.now()
	if s.cfg.Quiet.In(now) {
		at, ok := s.cfg.Quiet.Shift(now, a.Slot.Start)
		if !ok {
			s.log.InfoContext(ctx, "text reminder dropped: quiet hours until too close to the visit", "appointment_id", a.ID, "kind", string(r.Kind))
			return false, nil
		}
		r.At = at
		return false, s.putBack(ctx, r)
	}
	return s.textOut(ctx, a, s.texts.Text(r.Kind, a, s.dir, f), a.ID+"#"+reminderTag(r))
}

// textable says whether texts about an appointment may go: the deployment
// sends them and the patient gave a number for them.
func (s *Service) textable(a scheduling.Appointment) bool {
	return s.sms != nil && s.opts != nil && a.PatientPhone != "" && !a.SMSConsentAt.IsZero()
}

// textOut sends a text about an appointment once per key, to a number
// the patient gave for texts and that has not replied STOP.
func (s *Service) textOut(ctx context.Context, a scheduling.Appointment, body, key string) (bool, error) {
	if !s.textable(a) {
		return false, nil
	}
	out, err := s.opts.OptedOut(ctx, a.PatientPhone)
	if err != nil {
		return false, fmt.Errorf("reading the opt-outs: %w", err)
	}
	if out {
		s.log.InfoContext(ctx, "text not sent: the number replied STOP", "appointment_id", a.ID, "key", key)
		return false, nil
	}
	if done, err := s.sent.Sent(ctx, key); err != nil || done {
		return false, err
	}
	if err := s.sms.Text(ctx, a.PatientPhone, body); err != nil {
		return false, fmt.Errorf("sending the text: %w", err)
	}
	s.log.InfoContext(ctx, "text sent", "appointment_id", a.ID, "key", key)
	return true, s.sent.MarkSent(ctx, key)
}

// Incoming is a text message a patient sent to the center's number.
type Incoming struct {
	ID   string // the carrier's message id: a redelivery is answered once
	From string
	Body string
}

// Received answers a patient's text: STOP (and its synonyms, English and
// Spanish) stops every text to that number, START undoes it, HELP says
// who sends and how to reach a person; anything else is answered, once
// per message, with where to reach a person and 911 (nobody reads this
// number, and a patient may write about an emergency). A number that
// replied STOP gets no answer but to START and HELP.
func (s *Service) Received(ctx context.Context, in Incoming) error {
	if s.sms == nil || s.opts == nil {
		return fmt.Errorf("receiving texts: no text messaging configured")
	}
	phone, err := Phone(in.From)
	if err != nil {
		s.log.WarnContext(ctx, "text from a number that is not a mobile number ignored")
		return nil
	}
	key := "sms-in#" + in.ID
	if done, err := s.sent.Sent(ctx, key); err != nil || done {
		return err
	}
	kw, locale := KeywordOf(in.Body)
	reply := ""
	switch kw {
	case OptOut, OptIn:
		if err := s.opts.SetOptedOut(ctx, phone, kw == OptOut, s.now()); err != nil {
			return fmt.Errorf("recording %s: %w", kw, err)
		}
		reply = map[Keyword]string{OptOut: "stopped", OptIn: "started"}[kw]
	case Help:
		reply = "help"
	default:
		out, err := s.opts.OptedOut(ctx, phone)
		if err != nil {
			return fmt.Errorf("reading the opt-outs: %w", err)
		}
		// Answered once a day per number: an auto-responder on the other
		// end does not loop with it.
		day := "sms-unread#" + phone + "#" + s.now().UTC().Format("2006-01-02")
		if answered, err := s.sent.Sent(ctx, day); err != nil {
			return err
		} else if !out && !answered {
			reply, locale = "unread", ""
			if err := s.sent.MarkSent(ctx, day); err != nil {
				return err
			}
		}
	}
	s.log.InfoContext(ctx, "text received", "keyword", kw.String(), "answered", reply != "")
	if reply != "" {
		if err := s.sms.Text(ctx, phone, s.texts.Reply(reply, locale, s.cfg.HelpContact)); err != nil {
			return fmt.Errorf("answering a text: %w", err)
		}
	}
	return s.sent.MarkSent(ctx, key)
}
