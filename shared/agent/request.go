package agent

import "github.com/patientservicecenter/psc/shared/scheduling"

// Action names what a console asks the service to do.
type Action string

// The console's actions (docs/protocol.md names their frames).
const (
	ActionPresence      Action = "presence"
	ActionAccept        Action = "accept"
	ActionDecline       Action = "decline"
	ActionSend          Action = "send"
	ActionTyping        Action = "typing"
	ActionClose         Action = "close"
	ActionTransfer      Action = "transfer"
	ActionHandBack      Action = "handback"
	ActionAgents        Action = "agents"
	ActionFloor         Action = "floor"
	ActionKPIs          Action = "kpis"
	ActionMonitor       Action = "monitor"
	ActionUnmonitor     Action = "unmonitor"
	ActionWhisper       Action = "whisper"
	ActionBarge         Action = "barge"
	ActionContext       Action = "context"
	ActionNote          Action = "note"
	ActionQueues        Action = "queues"
	ActionConversations Action = "conversations"
	ActionTasks         Action = "tasks"
	ActionCloseTask     Action = "closeTask"
	ActionCSAT          Action = "csat"
	ActionAssign        Action = "assign"
	ActionSlots         Action = "slots"
	ActionBook          Action = "book"
	ActionCancel        Action = "cancel"
	ActionReschedule    Action = "reschedule"
	ActionAppointments  Action = "appointments"
	ActionVisit         Action = "visit"
)

// Actions are every action the service serves.
var Actions = []Action{ActionPresence, ActionAccept, ActionDecline, ActionSend, ActionTyping, ActionClose, ActionTransfer, ActionHandBack,
	ActionAgents, ActionFloor, ActionMonitor, ActionUnmonitor, ActionWhisper, ActionBarge, ActionKPIs, ActionContext, ActionNote, ActionQueues, ActionConversations, ActionTasks, ActionCloseTask, ActionCSAT, ActionAssign,
	ActionSlots, ActionBook, ActionCancel, ActionReschedule, ActionAppointments, ActionVisit}

// Request is one console action and what it carries, decoded and checked
// for shape by the edge (shared/edge/agentws); the service checks it against
// the caller's role and what they hold. Each action reads the fields it
// needs.
type Request struct {
	Action          Action
	RequestID       string
	Status          string // presence
	ConversationID  string
	ClientMessageID string // send
	Text            string // send, note
	NoEcho          bool   // send: the console shows its own message
	Disposition     string // close
	Steps           []string
	Queue           string // transfer
	Reason          string // transfer, context (a supervisor's)
	AgentID         string // transfer, assign
	SlotID          string // book, reschedule
	AppointmentID   string // cancel, reschedule, visit
	// ChangeVisit: a reschedule that deliberately changes the kind of
	// visit; without it a move keeps them.
	ChangeVisit bool
	TaskID      string // closeTask
	Outcome     string
	Weeks       int               // csat
	Days        int               // kpis: the last days (default 7)
	By          string            // kpis: queue, agent, day or hour
	Slots       *scheduling.Query // slots: the search (its Limit is the service's)
}
