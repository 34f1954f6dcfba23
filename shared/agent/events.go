package agent

import (
	"time"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/routing"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/survey"
)

// What the service tells consoles. The fan-out's encoder (shared/edge/frames)
// renders each as the protocol's frame; what patients are told is chat's
// (chat.Status, chat.Typing, a stored chat.Message).

// PresenceSet answers presence: the caller's presence as now stored.
type PresenceSet struct {
	RequestID string
	Presence  Presence
}

// Assigned tells an agent a conversation is now theirs.
type Assigned struct {
	RequestID      string
	ConversationID string
	PatientName    string
}

// Assigning answers a supervisor's assign: routing was asked to offer the
// conversation to the agent.
type Assigning struct {
	RequestID      string
	ConversationID string
	AgentID        string
}

// Roster answers agents: every agent but those offline with nothing held,
// by name. Pushed to supervisors with Changes set, it carries only the
// agents whose presence or load just changed.
type Roster struct {
	RequestID string
	Agents    []Agent
	Changes   bool
	At        time.Time
}

// RosterChanged reports whether the roster shows a change between two
// versions of an agent: presence, load or capacity.
func RosterChanged(old, new Agent) bool {
	return old.Presence != new.Presence || old.Active != new.Active || old.Capacity != new.Capacity || old.Name != new.Name
}

// QueueStat sums up a queue: how many wait, how many of them are urgent,
// and how long the one waiting longest has waited.
type QueueStat struct {
	Name              string
	Waiting           int
	Urgent            int
	OldestWaitSeconds int
}

// QueueFigures answers queues: the queues the caller watches, and the
// queues a conversation may be transferred to.
type QueueFigures struct {
	RequestID      string
	Queues         []QueueStat
	TransferQueues []string
	At             time.Time
}

// PendingOffer is an offer the caller has not answered yet, told again
// (after a reload, when the console asks for its conversations).
type PendingOffer struct{ routing.OfferNote }

// Held answers conversations: what the caller holds (after a reconnect).
type Held struct {
	RequestID     string
	Conversations []chat.Conversation
}

// NoteAdded tells the agent's consoles a private note was kept.
type NoteAdded struct {
	RequestID string
	Note      chat.Note
}

// PatientView answers context: the unified view of a conversation's
// patient. Every one is an audited read.
type PatientView struct {
	RequestID    string
	Conversation chat.Conversation
	// Transcript is the newest messages that fit one frame; Earlier says
	// older ones were left out.
	Transcript   []chat.Message
	Earlier      bool
	Notes        []chat.Note
	Appointments []scheduling.AppointmentInfo // nil: scheduling is not served here
	// TimeZone is the clinic's (IANA), in which consoles show every time;
	// "" when the service has no scheduling directory.
	TimeZone string
}

// Slots answers a slots search.
type Slots struct {
	RequestID string
	Slots     []scheduling.SlotInfo
}

// Booked answers book and reschedule: the appointment as it now stands.
type Booked struct {
	RequestID   string
	Appointment scheduling.AppointmentInfo
}

// Cancelled answers cancel.
type Cancelled struct {
	RequestID     string
	AppointmentID string
}

// Appointments answers appointments: the patient's upcoming ones.
type Appointments struct {
	RequestID      string
	ConversationID string
	Appointments   []scheduling.AppointmentInfo
}

// VisitRecorded answers visit: the appointment with how it went.
type VisitRecorded struct {
	RequestID   string
	Appointment scheduling.AppointmentInfo
}

// Tasks answers tasks and closeTask: the open follow-up tasks.
type Tasks struct {
	RequestID string
	Tasks     []survey.Task
}

// CSAT answers csat: the satisfaction figures of recent weeks.
type CSAT struct {
	RequestID string
	Weeks     []string
	ByAgent   []survey.Figure
	ByQueue   []survey.Figure
	ByWeek    []survey.Figure
	Overall   survey.Figure
}
