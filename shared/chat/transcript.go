package chat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/mailtext"
)

// TranscriptRequest asks for a conversation's transcript by email.
type TranscriptRequest struct{ RequestID, ConversationID string }

// TranscriptSent answers it: the transcript went to the (masked) address.
type TranscriptSent struct{ RequestID, ConversationID, To string }

// Mailer sends a raw email.
type Mailer interface {
	Send(ctx context.Context, to string, raw []byte) error
}

// TranscriptMarks records, once, that a conversation's transcript was
// emailed (false when it was already).
type TranscriptMarks interface {
	MarkTranscriptSent(ctx context.Context, conversationID string, at time.Time) (bool, error)
}

// TranscriptMail is how transcripts are emailed: the mailer, the sender's
// address line, the clinic's zone for the times, the once-only marks.
type TranscriptMail struct {
	Mail  Mailer
	From  string
	Zone  *time.Location
	Marks TranscriptMarks
}

// WithTranscripts lets a verified patient have their ended conversation's
// transcript emailed to the address they proved they own.
func (s *Service) WithTranscripts(t TranscriptMail) *Service {
	if t.Zone == nil {
		t.Zone = time.UTC
	}
	s.transcripts = &t
	return s
}

// Transcript emails the caller's ended conversation, once, to the address
// they verified: the messages they saw, never an agent's notes.
func (s *Service) Transcript(ctx context.Context, connectionID string, f TranscriptRequest) error {
	_, c, err := s.admitOwned(ctx, connectionID, f.ConversationID)
	if err != nil {
		return err
	}
	switch {
	case s.transcripts == nil:
		return fault.Errorf(fault.BadRequest, "transcripts are not emailed here; download it from the page")
	case c.Identity != IdentityVerified || c.VerifiedEmail == "":
		return fault.Errorf(fault.Forbidden, "only a verified patient can have the transcript emailed; download it from the page")
	case !strings.Contains(c.VerifiedEmail, "@"):
		return fault.Errorf(fault.Forbidden, "the patient proved a mobile number, not an email; download the transcript from the page")
	case c.State != StateClosed:
		return fault.Errorf(fault.Conflict, "the transcript is sent once the conversation has ended")
	case !c.TranscriptSentAt.IsZero():
		return fault.Errorf(fault.Conflict, "the transcript was emailed already")
	}
	msgs, err := s.conversations.After(ctx, c.ID, "")
	if err != nil {
		return fmt.Errorf("reading the transcript: %w", err)
	}
	raw, err := transcriptEmail(s.transcripts.From, c, msgs, s.transcripts.Zone)
	if err != nil {
		return err
	}
	if err := s.transcripts.Mail.Send(ctx, c.VerifiedEmail, raw); err != nil {
		return fmt.Errorf("sending the transcript: %w", err)
	}
	if _, err := s.transcripts.Marks.MarkTranscriptSent(ctx, c.ID, s.now()); err != nil {
		return fmt.Errorf("marking the transcript sent: %w", err)
	}
	return s.pushTo(ctx, connectionID, TranscriptSent{RequestID: f.RequestID, ConversationID: c.ID, To: MaskEmail(c.VerifiedEmail)})
}

// transcriptWords are a transcript's fixed words, by language.
var transcriptWords = map[string]map[string]string{
	"en": {"subject": "Your conversation transcript", "title": "Patient Service Center: your conversation",
		"times": "Times are the clinic's (%s).", "you": "You", "bot": "Virtual assistant", "agent": "Agent", "system": "Notice"},
	"es": {"subject": "La transcripción de su conversación", "title": "Centro de Atención al Paciente: su conversación",
		"times": "Horas de la clínica (%s).", "you": "Usted", "bot": "Asistente virtual", "agent": "Equipo de atención", "system": "Aviso"},
}

// transcriptEmail is the transcript as a plain-text email in the
// conversation's language: who, when (the clinic's zone), what.
func transcriptEmail(from string, c Conversation, msgs []Message, zone *time.Location) ([]byte, error) {
	w := transcriptWords["en"]
	if c.Locale == "es" {
		w = transcriptWords["es"]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n\n", w["title"], fmt.Sprintf(w["times"], zone.String()))
	for _, m := range msgs {
		who := w["system"]
		switch m.Role {
		case RolePatient:
			who = w["you"]
		case RoleBot:
			who = w["bot"]
		case RoleAgent:
			who = w["agent"]
			if m.SenderName != "" {
				who = m.SenderName
			}
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.At.In(zone).Format("2006-01-02 15:04"), who, strings.ReplaceAll(m.Text, "\n", "\n    "))
	}
	return mailtext.Message(from, c.VerifiedEmail, w["subject"], strings.TrimSuffix(b.String(), "\n"))
}

// MaskEmail shows enough of an address for its owner to know it:
// m•••@example.com.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "•••"
	}
	return string([]rune(local)[0]) + "•••@" + domain
}
