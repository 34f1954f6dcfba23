// Package frames renders what the services tell clients as the protocol's
// frames (docs/protocol.md). The services (chat, agent, bot ...) push their
// own values — a stored message, a state change, an alert — and never the
// wire format; the fan-out encodes each with Encode, the one place where a
// domain value becomes a frame. Values that are frames already (built by
// an edge) are encoded as they are.
package frames

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/edge/protocol"
	"github.com/patientservicecenter/psc/shared/routing"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/survey"
)

// Encode renders v as its frame and marshals it.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(Frame(v))
	if err != nil {
		return nil, fmt.Errorf("encoding a %T frame: %w", v, err)
	}
	return b, nil
}

// Frame is v as the protocol's frame: a domain value rendered, anything
// else (a frame already) as it is.
func Frame(v any) any {
	switch v := v.(type) {
	case chat.Message:
		return Message(v)
	case chat.Session:
		return protocol.SessionFrame{Type: protocol.TypeSession, RequestID: v.RequestID, Session: v.Token, ConversationID: v.ConversationID, PatientID: v.PatientID}
	case chat.Ack:
		return protocol.AckFrame{Type: protocol.TypeAck, RequestID: v.RequestID, ClientMessageID: v.Message.ClientMessageID, MessageID: v.Message.ID, At: protocol.FormatTime(v.Message.At)}
	case chat.Status:
		return Status(v)
	case chat.SignedIn:
		return protocol.SignedInFrame{Type: "signedIn", RequestID: v.RequestID, ConversationID: v.ConversationID, Email: v.Email}
	case chat.TranscriptSent:
		return protocol.TranscriptFrame{Type: "transcript", RequestID: v.RequestID, ConversationID: v.ConversationID, To: v.To}
	case chat.History:
		h := protocol.HistoryFrame{Type: protocol.TypeHistory, RequestID: v.RequestID, ConversationID: v.ConversationID, State: v.State,
			At: timeOrEmpty(v), Messages: make([]protocol.MessageFrame, 0, len(v.Messages)), More: v.More}
		for _, m := range v.Messages {
			h.Messages = append(h.Messages, Message(m))
		}
		return h
	case chat.Typing:
		return protocol.TypingFrame{Type: protocol.TypeTyping, ConversationID: v.ConversationID, Role: v.Role}
	case chat.Alert:
		return protocol.AlertFrame{Type: protocol.TypeAlert, ConversationID: v.ConversationID, Priority: v.Priority, State: v.State,
			RedFlags: v.RedFlags, Summary: v.Summary, At: protocol.FormatTime(v.At)}
	}
	if f, ok := consoleFrame(v); ok {
		return f
	}
	return v
}

// consoleFrame renders what the agent and survey services tell consoles
// (and the survey the chat asks).
func consoleFrame(v any) (any, bool) {
	switch v := v.(type) {
	case agent.PresenceSet:
		return protocol.PresenceFrame{Type: "presence", Status: string(v.Presence), RequestID: v.RequestID}, true
	case agent.Assigned:
		return protocol.AssignedFrame{Type: "assigned", RequestID: v.RequestID, ConversationID: v.ConversationID, Patient: protocol.Patient{Name: v.PatientName}}, true
	case agent.Assigning:
		return protocol.AssignmentFrame{Type: "assigning", RequestID: v.RequestID, ConversationID: v.ConversationID, AgentID: v.AgentID, OK: true}, true
	case agent.Roster:
		f := protocol.AgentsFrame{Type: "agents", RequestID: v.RequestID, Agents: make([]protocol.AgentView, 0, len(v.Agents)), Changes: v.Changes,
			At: protocol.FormatTime(v.At)}
		for _, a := range v.Agents {
			f.Agents = append(f.Agents, agentView(a))
		}
		return f, true
	case agent.QueueFigures:
		f := protocol.QueueFrame{Type: "queue", RequestID: v.RequestID, Queues: make([]protocol.QueueStat, 0, len(v.Queues)),
			TransferQueues: orEmpty(v.TransferQueues), At: protocol.FormatTime(v.At)}
		for _, q := range v.Queues {
			f.Queues = append(f.Queues, protocol.QueueStat{Name: q.Name, Waiting: q.Waiting, OldestWaitSeconds: q.OldestWaitSeconds, Urgent: q.Urgent})
		}
		return f, true
	case agent.Floor:
		f := protocol.FloorFrame{Type: "floor", RequestID: v.RequestID, Conversations: make([]protocol.FloorRow, 0, len(v.Conversations)), Changes: v.Changes,
			At: protocol.FormatTime(v.At)}
		for _, r := range v.Conversations {
			f.Conversations = append(f.Conversations, protocol.FloorRow{ConversationID: r.ConversationID, State: r.State, Queue: r.Queue,
				Priority: r.Priority, Language: r.Language, RedFlags: r.RedFlags, AgentID: r.AgentID, AgentName: r.AgentName,
				HandedOffAt: timeOrNone(r.HandedOffAt), Since: timeOrNone(r.Since), Done: r.Done})
		}
		return f, true
	case agent.Whisper:
		return protocol.WhisperFrame{Type: "whisper", ConversationID: v.ConversationID, From: protocol.Sender{Role: "supervisor", Name: v.From},
			Text: v.Text, At: protocol.FormatTime(v.At)}, true
	case agent.Supervising:
		return protocol.SupervisingFrame{Type: "supervising", RequestID: v.RequestID, ConversationID: v.ConversationID, Action: string(v.Action)}, true
	case agent.KPIReport:
		f := protocol.KPIFrame{Type: "kpis", RequestID: v.RequestID, By: v.By, Days: orEmpty(v.Days), Rows: make([]protocol.KPIRow, 0, len(v.Rows)),
			At: protocol.FormatTime(v.At)}
		for _, r := range v.Rows {
			f.Rows = append(f.Rows, protocol.KPIRow{Key: r.Key, Escalated: r.Escalated, Offered: r.Offered, Handled: r.Handled, Abandoned: r.Abandoned,
				Contained: r.Contained, Transferred: r.Transferred, AverageWaitSeconds: r.AverageWait().Seconds(), P90WaitSeconds: r.P90Wait().Seconds(),
				AverageHandleSeconds: r.AverageHandle().Seconds(), ServiceLevel: r.ServiceLevel(), TransferRate: r.TransferRate(), Containment: r.Containment(),
				Rated: r.Rated, CSAT: r.CSAT(), Satisfied: r.SatisfiedShare()})
		}
		return f, true
	case agent.PendingOffer:
		return Offer(v.OfferNote), true
	case agent.Held:
		f := protocol.ConversationsFrame{Type: "conversations", RequestID: v.RequestID, Conversations: make([]protocol.HeldView, 0, len(v.Conversations))}
		for _, c := range v.Conversations {
			f.Conversations = append(f.Conversations, protocol.HeldView{ConversationID: c.ID, Patient: protocol.Patient{Name: c.PatientName}, State: string(c.State)})
		}
		return f, true
	case agent.NoteAdded:
		n := note(v.Note)
		n.Type, n.RequestID, n.ConversationID = "note", v.RequestID, v.Note.ConversationID
		return n, true
	case agent.PatientView:
		return patientView(v), true
	case agent.Slots:
		return protocol.SlotsFrame{Type: "slots", RequestID: v.RequestID, Slots: Slots(v.Slots)}, true
	case agent.Booked:
		a := Appointment(v.Appointment)
		return protocol.BookedFrame{Type: "booked", RequestID: v.RequestID, AppointmentID: a.AppointmentID, Start: a.Slot.Start, Provider: a.Slot.Provider.Name, Appointment: a}, true
	case agent.VisitRecorded:
		return protocol.VisitFrame{Type: "visit", RequestID: v.RequestID, Appointment: Appointment(v.Appointment)}, true
	case agent.Cancelled:
		return protocol.CancelledFrame{Type: "cancelled", RequestID: v.RequestID, AppointmentID: v.AppointmentID}, true
	case agent.Appointments:
		return protocol.AppointmentsFrame{Type: "appointments", RequestID: v.RequestID, ConversationID: v.ConversationID, Appointments: appointments(v.Appointments)}, true
	case agent.Tasks:
		f := protocol.TasksFrame{Type: "tasks", RequestID: v.RequestID, Tasks: make([]protocol.TaskView, 0, len(v.Tasks))}
		for _, t := range v.Tasks {
			f.Tasks = append(f.Tasks, task(t))
		}
		return f, true
	case survey.TaskOpened:
		return protocol.TaskFrame{Type: "task", Task: task(v.Task)}, true
	case survey.Prompt:
		return protocol.SurveyFrame{Type: "survey", SurveyID: v.SurveyID, Question: v.Question, Scale: [2]int{v.Min, v.Max}, Comment: v.Comment}, true
	case agent.CSAT:
		return protocol.CSATFrame{Type: "csat", RequestID: v.RequestID, Weeks: orEmpty(v.Weeks), ByAgent: figures(v.ByAgent), ByQueue: figures(v.ByQueue),
			ByWeek: figures(v.ByWeek), Overall: figure(v.Overall)}, true
	}
	return nil, false
}

func agentView(a agent.Agent) protocol.AgentView {
	v := protocol.AgentView{AgentID: a.ID, Name: a.Name, Presence: string(a.Presence), Active: a.Active, Capacity: a.Capacity,
		Skills: orEmpty(a.Skills), Supervisor: slices.Contains(a.Roles, agent.RoleSupervisor)}
	if !a.Since.IsZero() {
		v.Since = protocol.FormatTime(a.Since)
	}
	return v
}

// patientView renders the unified patient view: the conversation's
// patient, the handoff and any transfer, the transcript, the agents'
// notes and the upcoming appointments.
func patientView(v agent.PatientView) protocol.ContextFrame {
	c := v.Conversation
	f := protocol.ContextFrame{Type: "context", RequestID: v.RequestID, ConversationID: c.ID, Patient: protocol.Patient{Name: c.PatientName},
		Locale: c.Locale, Topic: c.Topic, Transcript: make([]protocol.MessageFrame, 0, len(v.Transcript)), Earlier: v.Earlier,
		Notes: make([]protocol.NoteFrame, 0, len(v.Notes)), TimeZone: v.TimeZone, Identity: "anonymous"}
	if c.Identity == chat.IdentityVerified {
		f.Identity = chat.IdentityVerified
	}
	if h := c.Handoff; h != nil {
		f.Handoff = &protocol.HandoffView{Queue: h.Queue, Priority: h.Priority, Reason: h.Reason, TriageLevel: h.TriageLevel,
			RedFlags: h.RedFlags, Collected: h.Collected, Summary: h.Summary}
		if t := c.Transfer; t != nil {
			f.Handoff.Transfer = &protocol.TransferView{By: t.By, Reason: t.Reason, To: t.To, At: protocol.FormatTime(t.At)}
		}
	}
	for _, m := range v.Transcript {
		f.Transcript = append(f.Transcript, Message(m))
	}
	for _, n := range v.Notes {
		f.Notes = append(f.Notes, note(n))
	}
	if v.Appointments != nil {
		f.Appointments = appointments(v.Appointments)
	}
	return f
}

func note(n chat.Note) protocol.NoteFrame {
	return protocol.NoteFrame{Agent: n.AgentName, Text: n.Text, At: protocol.FormatTime(n.At)}
}

// Slots renders described slots.
func Slots(slots []scheduling.SlotInfo) []protocol.SlotView {
	out := make([]protocol.SlotView, 0, len(slots))
	for _, sl := range slots {
		out = append(out, protocol.SlotView{SlotID: sl.SlotID, Provider: protocol.Named{ID: sl.ProviderID, Name: sl.ProviderName}, Specialty: sl.Specialty,
			VisitType: protocol.Named{ID: sl.VisitTypeID, Name: sl.VisitTypeName}, Start: protocol.FormatTime(sl.Start), End: protocol.FormatTime(sl.End),
			Location: protocol.Place{ID: sl.LocationID, Name: sl.LocationName, Address: sl.Address}, Mode: sl.Mode, TimeZone: sl.TimeZone})
	}
	return out
}

// Appointment renders a described appointment.
func Appointment(a scheduling.AppointmentInfo) protocol.AppointmentView {
	return protocol.AppointmentView{AppointmentID: a.ID, State: string(a.State), Slot: Slots([]scheduling.SlotInfo{a.Slot})[0], JoinURL: a.JoinURL}
}

func appointments(as []scheduling.AppointmentInfo) []protocol.AppointmentView {
	out := make([]protocol.AppointmentView, 0, len(as))
	for _, a := range as {
		out = append(out, Appointment(a))
	}
	return out
}

func task(t survey.Task) protocol.TaskView {
	return protocol.TaskView{TaskID: t.ID, SurveyID: t.SurveyID, Reason: t.Reason, CSAT: t.CSAT, Comment: t.Comment, Queue: t.Queue,
		Agent: t.AgentName, Kind: string(t.Kind), CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339)}
}

func figure(f survey.Figure) protocol.Figure {
	return protocol.Figure{Group: f.Group, Sent: f.Sent, Answered: f.Answered, ResponseRate: f.ResponseRate, AverageCSAT: f.AverageCSAT}
}

func figures(fs []survey.Figure) []protocol.Figure {
	out := make([]protocol.Figure, 0, len(fs))
	for _, f := range fs {
		out = append(out, figure(f))
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Error is err's error frame (protocol.NewErrorFrame); a slot taken
// meanwhile also carries the open slots offered instead.
func Error(err error, requestID string) protocol.ErrorFrame {
	f := protocol.NewErrorFrame(err, requestID)
	var u *scheduling.Unavailable
	if errors.As(err, &u) {
		f.Alternatives = Slots(u.Alternatives)
	}
	return f
}

// Message renders a stored message as the protocol's message frame.
func Message(m chat.Message) protocol.MessageFrame {
	return protocol.MessageFrame{
		Type: protocol.TypeMessage, ConversationID: m.ConversationID, MessageID: m.ID,
		From: protocol.Sender{Role: m.Role, Name: m.SenderName}, Text: m.Text, At: protocol.FormatTime(m.At), QuickReplies: m.QuickReplies,
	}
}

// Status renders a state change; a zero At (a position update) is left out.
func Status(s chat.Status) protocol.StatusFrame {
	f := protocol.StatusFrame{Type: protocol.TypeStatus, RequestID: s.RequestID, ConversationID: s.ConversationID, State: s.State, QueuePosition: s.QueuePosition,
		Identity: s.Identity}
	if s.AgentName != "" {
		f.Agent = &protocol.Agent{Name: s.AgentName}
	}
	if !s.At.IsZero() {
		f.At = protocol.FormatTime(s.At)
	}
	return f
}

func timeOrEmpty(h chat.History) string { return timeOrNone(h.At) }

// timeOrNone is t in the protocol's format, or "" for the zero time.
func timeOrNone(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return protocol.FormatTime(t)
}

// Offer is the offer frame of routing's offer note; a transferred
// conversation's summary starts with who handed it on and why.
func Offer(o routing.OfferNote) protocol.OfferFrame {
	frame := protocol.OfferFrame{Type: "offer", ConversationID: o.ConversationID, Queue: o.Queue,
		Priority: o.Priority, Language: o.Language, Summary: o.Summary, ExpiresAt: protocol.FormatTime(o.ExpiresAt)}
	if t := o.Transfer; t != nil {
		frame.Transfer = &protocol.TransferView{By: t.By, Reason: t.Reason, To: t.To, At: protocol.FormatTime(t.At)}
		why := "Transferred by " + t.By
		if t.Reason != "" {
			why += ": " + t.Reason
		}
		frame.Summary = strings.TrimSpace(why + ". " + o.Summary)
	}
	return frame
}
