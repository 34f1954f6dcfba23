package protocol

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Client actions of the agent API.
const (
	ActionPresence = "presence"
	ActionAccept   = "accept"
	ActionDecline  = "decline"
	ActionClose    = "close"
	ActionTransfer = "transfer"
	// ActionHandBack gives a held conversation back to the bot.
	ActionHandBack = "handback"
	// ActionAgents asks for the roster: every agent, their presence and
	// load.
	ActionAgents = "agents"
	// ActionFloor asks for the supervisors' floor: every conversation in
	// progress (supervisors and admins).
	ActionFloor = "floor"
	// Supervisors on a conversation an agent holds: monitor it (with a
	// reason, audited), stop, whisper to its agent, barge in.
	// ActionKPIs asks supervisors' figures: the last days (1 to 31), by
	// queue, agent, day or hour.
	ActionKPIs      = "kpis"
	ActionMonitor   = "monitor"
	ActionUnmonitor = "unmonitor"
	ActionWhisper   = "whisper"
	ActionBarge     = "barge"
	ActionContext   = "context"
	ActionNote      = "note"
	// ActionQueues asks for the queues' figures (waiting, oldest wait).
	ActionQueues = "queues"
	// ActionConversations asks for the caller's held conversations (a
	// console that reconnects or reloads gets them back).
	ActionConversations = "conversations"
	// Supervisors' follow-up actions: the open follow-up tasks, closing
	// one, and the CSAT figures of recent weeks.
	ActionTasks     = "tasks"
	ActionCloseTask = "closeTask"
	ActionCSAT      = "csat"
	// ActionAssign is a supervisor's: offer a waiting conversation to an
	// agent they choose (agentId), or to themselves (no agentId).
	ActionAssign = "assign"
	// ActionSend and ActionTyping are shared with the patient API.
)

var taskIDPattern = regexp.MustCompile(`^tk[0-9a-f]{24}$`)

// Limits of agent frames' fields.
const (
	MaxDispositionRunes = 100
	MaxReasonRunes      = 200
	MaxScriptSteps      = 12
	MaxQueueRunes       = 64
)

// Agent presence states.
const (
	PresenceAvailable = "available"
	PresenceBusy      = "busy"
	PresenceAway      = "away"
	PresenceOffline   = "offline"
)

// AgentFrame is a decoded, validated frame of the agent API. Only the
// fields of its action are set.
type AgentFrame struct {
	Action          string `json:"action"`
	RequestID       string `json:"requestId,omitempty"`
	Status          string `json:"status,omitempty"`
	ConversationID  string `json:"conversationId,omitempty"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
	Text            string `json:"text,omitempty"`
	Disposition     string `json:"disposition,omitempty"`
	Queue           string `json:"queue,omitempty"`
	Reason          string `json:"reason,omitempty"`
	AgentID         string `json:"agentId,omitempty"`
	SlotID          string `json:"slotId,omitempty"`
	AppointmentID   string `json:"appointmentId,omitempty"`
	// ChangeVisit: a reschedule that deliberately changes the kind of
	// visit (visit type or specialty); without it a move keeps them.
	ChangeVisit bool   `json:"changeVisit,omitempty"`
	TaskID      string `json:"taskId,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Weeks       int    `json:"weeks,omitempty"`
	// Days and By are a kpis request's: the last days, grouped by.
	Days int    `json:"days,omitempty"`
	By   string `json:"by,omitempty"`
	// Steps are the script steps a close says were done (at most
	// MaxScriptSteps, each at most MaxReasonRunes characters).
	Steps []string `json:"steps,omitempty"`
	// Slots is the search of a slots frame.
	Slots *SlotQuery `json:"-"`
	// NoEcho is a send's "echo": false (see ClientFrame.NoEcho).
	NoEcho bool `json:"-"`
}

type rawAgentFrame struct {
	Action          json.RawMessage `json:"action"`
	RequestID       json.RawMessage `json:"requestId"`
	Status          json.RawMessage `json:"status"`
	ConversationID  json.RawMessage `json:"conversationId"`
	ClientMessageID json.RawMessage `json:"clientMessageId"`
	Text            json.RawMessage `json:"text"`
	Disposition     json.RawMessage `json:"disposition"`
	Queue           json.RawMessage `json:"queue"`
	Reason          json.RawMessage `json:"reason"`
	AgentID         json.RawMessage `json:"agentId"`
	Echo            json.RawMessage `json:"echo"`
	Steps           json.RawMessage `json:"steps"`
}

// DecodeAgent decodes and validates a frame of the agent API. On error the
// returned frame still carries the requestId when one could be read.
func DecodeAgent(body []byte) (AgentFrame, error) {
	var f AgentFrame
	var raw rawAgentFrame
	var err error
	if f.RequestID, f.Action, err = envelope(body, &raw, &raw.RequestID, &raw.Action); err != nil {
		return f, err
	}
	switch f.Action {
	case ActionPresence:
		if f.Status, err = str(raw.Status, "status"); err != nil {
			return f, err
		}
		switch f.Status {
		case PresenceAvailable, PresenceBusy, PresenceAway, PresenceOffline:
			return f, nil
		}
		return f, fault.Errorf(fault.BadRequest, "status must be available, busy, away or offline")
	case ActionAccept, ActionDecline, ActionTyping, ActionHandBack, ActionUnmonitor, ActionBarge:
		return f, agentConversationRef(&f, raw)
	case ActionSend:
		if f.ConversationID, f.ClientMessageID, f.Text, err = sendFields(raw.ConversationID, raw.ClientMessageID, raw.Text); err != nil {
			return f, err
		}
		f.NoEcho, err = noEcho(raw.Echo)
		return f, err
	case ActionClose:
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Disposition, err = str(raw.Disposition, "disposition"); err != nil {
			return f, err
		}
		f.Disposition = strings.TrimSpace(f.Disposition)
		if f.Disposition == "" || !utf8.ValidString(f.Disposition) || utf8.RuneCountInString(f.Disposition) > MaxDispositionRunes {
			return f, fault.Errorf(fault.BadRequest, "disposition is required, at most %d characters", MaxDispositionRunes)
		}
		if len(raw.Steps) > 0 && string(raw.Steps) != "null" {
			if err := json.Unmarshal(raw.Steps, &f.Steps); err != nil || len(f.Steps) > MaxScriptSteps {
				return f, fault.Errorf(fault.BadRequest, "steps must be a list of at most %d texts", MaxScriptSteps)
			}
			for _, st := range f.Steps {
				if st == "" || !utf8.ValidString(st) || utf8.RuneCountInString(st) > MaxReasonRunes {
					return f, fault.Errorf(fault.BadRequest, "a step is 1 to %d characters", MaxReasonRunes)
				}
				if err := checkChars("steps", st, false); err != nil {
					return f, err
				}
			}
		}
		return f, nil
	case ActionAssign:
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.AgentID, err = str(raw.AgentID, "agentId"); err != nil {
			return f, err
		}
		if f.AgentID != "" && !idPattern.MatchString(f.AgentID) {
			return f, fault.Errorf(fault.BadRequest, "agentId is not an agent id")
		}
		return f, nil
	case ActionTransfer:
		// To a queue, or to a named agent (agentId; the queue is then
		// optional: the conversation waits where it was); an optional
		// reason travels to the next agent.
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Queue, err = str(raw.Queue, "queue"); err != nil {
			return f, err
		}
		if f.AgentID, err = str(raw.AgentID, "agentId"); err != nil {
			return f, err
		}
		if f.AgentID != "" && !idPattern.MatchString(f.AgentID) {
			return f, fault.Errorf(fault.BadRequest, "agentId is not an agent id")
		}
		if (f.Queue != "" || f.AgentID == "") && (!idPattern.MatchString(f.Queue) || utf8.RuneCountInString(f.Queue) > MaxQueueRunes) {
			return f, fault.Errorf(fault.BadRequest, "queue is required")
		}
		if f.Reason, err = str(raw.Reason, "reason"); err != nil {
			return f, err
		}
		f.Reason = strings.TrimSpace(f.Reason)
		if !utf8.ValidString(f.Reason) || utf8.RuneCountInString(f.Reason) > MaxReasonRunes {
			return f, fault.Errorf(fault.BadRequest, "reason is at most %d characters", MaxReasonRunes)
		}
		return f, checkChars("reason", f.Reason, false)
	case ActionContext, ActionMonitor:
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Reason, err = str(raw.Reason, "reason"); err != nil {
			return f, err
		}
		f.Reason = strings.TrimSpace(f.Reason)
		if !utf8.ValidString(f.Reason) || utf8.RuneCountInString(f.Reason) > MaxReasonRunes {
			return f, fault.Errorf(fault.BadRequest, "reason is at most %d characters", MaxReasonRunes)
		}
		if err := checkChars("reason", f.Reason, false); err != nil {
			return f, err
		}
		return f, nil
	case ActionNote, ActionWhisper:
		if err := agentConversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Text, err = str(raw.Text, "text"); err != nil {
			return f, err
		}
		return f, checkText(f.Text)
	case ActionQueues, ActionConversations, ActionTasks, ActionAgents, ActionFloor:
		return f, nil
	case ActionCloseTask:
		var id string
		if err := json.Unmarshal(jsonField(body, "taskId"), &id); err != nil || !taskIDPattern.MatchString(id) {
			return f, fault.Errorf(fault.BadRequest, "taskId is not a task id")
		}
		f.TaskID = id
		return f, nil
	case ActionKPIs:
		if raw := jsonField(body, "days"); len(raw) > 0 {
			if err := json.Unmarshal(raw, &f.Days); err != nil || f.Days < 1 || f.Days > 31 {
				return f, fault.Errorf(fault.BadRequest, "days must be 1 to 31")
			}
		}
		if raw := jsonField(body, "by"); len(raw) > 0 {
			if err := json.Unmarshal(raw, &f.By); err != nil || (f.By != "queue" && f.By != "agent" && f.By != "day" && f.By != "hour") {
				return f, fault.Errorf(fault.BadRequest, "by is queue, agent, day or hour")
			}
		}
		return f, nil
	case ActionCSAT:
		if raw := jsonField(body, "weeks"); len(raw) > 0 {
			if err := json.Unmarshal(raw, &f.Weeks); err != nil || f.Weeks < 1 || f.Weeks > 12 {
				return f, fault.Errorf(fault.BadRequest, "weeks must be 1 to 12")
			}
		}
		return f, nil
	case ActionSlots, ActionBook, ActionCancel, ActionReschedule, ActionAppointments, ActionVisit:
		return f, decodeScheduling(&f, body)
	case "":
		return f, fault.Errorf(fault.BadRequest, "action is required")
	default:
		return f, fault.Errorf(fault.BadRequest, "unknown action %q", truncate(f.Action, 32))
	}
}

// AgentActions are the actions DecodeAgent decodes.
func AgentActions() []string {
	return []string{ActionPresence, ActionAccept, ActionDecline, ActionTyping, ActionHandBack, ActionSend, ActionClose, ActionAssign,
		ActionTransfer, ActionContext, ActionNote, ActionQueues, ActionConversations, ActionTasks, ActionAgents, ActionFloor, ActionCloseTask, ActionCSAT,
		ActionMonitor, ActionUnmonitor, ActionWhisper, ActionBarge, ActionKPIs,
		ActionSlots, ActionBook, ActionCancel, ActionReschedule, ActionAppointments, ActionVisit}
}

func agentConversationRef(f *AgentFrame, raw rawAgentFrame) error {
	var err error
	f.ConversationID, err = conversationID(raw.ConversationID)
	return err
}

// AssignedFrame tells an agent a conversation is now theirs.
type AssignedFrame struct {
	Type           string  `json:"type"` // "assigned"
	RequestID      string  `json:"requestId,omitempty"`
	ConversationID string  `json:"conversationId"`
	Patient        Patient `json:"patient"`
}

// Patient names a conversation's patient to its agent.
type Patient struct {
	Name string `json:"name"`
}

// PresenceFrame tells an agent's consoles their presence.
type PresenceFrame struct {
	Type      string `json:"type"` // "presence"
	Status    string `json:"status"`
	RequestID string `json:"requestId,omitempty"`
}

// OfferFrame offers a waiting conversation to an agent.
type OfferFrame struct {
	Type           string `json:"type"` // "offer"
	ConversationID string `json:"conversationId"`
	Queue          string `json:"queue"`
	Priority       string `json:"priority"`
	Language       string `json:"language,omitempty"`
	Summary        string `json:"summary"`
	ExpiresAt      string `json:"expiresAt"`
	// Transfer says who handed the conversation on and why, when an
	// agent transferred it (the summary starts with it too).
	Transfer *TransferView `json:"transfer,omitempty"`
}

// AgentsFrame answers agents: the roster, by name.
type AgentsFrame struct {
	Type      string      `json:"type"` // "agents"
	RequestID string      `json:"requestId,omitempty"`
	Agents    []AgentView `json:"agents"`
	// Changes: pushed to supervisors, only the agents that changed.
	Changes bool   `json:"changes,omitempty"`
	At      string `json:"at"`
}

// AgentView is one agent in the roster: presence and since when, the
// conversations offered or held against their capacity, their skills.
type AgentView struct {
	AgentID    string   `json:"agentId"`
	Name       string   `json:"name"`
	Presence   string   `json:"presence"`
	Since      string   `json:"since,omitempty"`
	Active     int      `json:"active"`
	Capacity   int      `json:"capacity"`
	Skills     []string `json:"skills"`
	Supervisor bool     `json:"supervisor,omitempty"`
}

// AssignmentFrame tells a supervisor how their assignment went: the
// conversation is offered to the agent (ok), or why not.
type AssignmentFrame struct {
	Type           string `json:"type"` // "assignment"
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	AgentID        string `json:"agentId"`
	OK             bool   `json:"ok"`
	Reason         string `json:"reason,omitempty"`
}

// AlertFrame tells the agent who holds a conversation, and every
// supervisor, that its patient reported a red flag after the bot handed
// the conversation on: the patient was given the emergency line.
type AlertFrame struct {
	Type           string   `json:"type"` // "alert"
	ConversationID string   `json:"conversationId"`
	Priority       string   `json:"priority"` // "urgent"
	State          string   `json:"state"`    // the conversation's state: waiting or assigned
	RedFlags       []string `json:"redFlags"` // ids of the red flags, e.g. "chest_pain"
	Summary        string   `json:"summary"`  // the red flags' names, for people
	At             string   `json:"at"`
}

// ContextFrame is the unified view of a conversation's patient for the
// agent who holds it (or a supervisor): every one is an audited read.
type ContextFrame struct {
	Type           string  `json:"type"` // "context"
	RequestID      string  `json:"requestId,omitempty"`
	ConversationID string  `json:"conversationId"`
	Patient        Patient `json:"patient"`
	Locale         string  `json:"locale"`
	Topic          string  `json:"topic,omitempty"`
	// Identity is the patient's identity level: "anonymous", or
	// "verified" (they typed the code sent to the email on file).
	Identity   string         `json:"identity"`
	Handoff    *HandoffView   `json:"handoff,omitempty"`
	Transcript []MessageFrame `json:"transcript"`
	// Earlier says older messages were left out of the transcript.
	Earlier bool        `json:"earlier,omitempty"`
	Notes   []NoteFrame `json:"notes"`
	// Appointments are the patient's upcoming ones.
	Appointments []AppointmentView `json:"appointments,omitempty"`
	// TimeZone is the clinic's (IANA name): consoles show times in it.
	TimeZone string `json:"timeZone,omitempty"`
}

// HandoffView is why and how the bot handed the conversation off.
type HandoffView struct {
	Queue       string            `json:"queue"`
	Priority    string            `json:"priority"`
	Reason      string            `json:"reason"`
	TriageLevel string            `json:"triageLevel,omitempty"`
	RedFlags    []string          `json:"redFlags,omitempty"`
	Collected   map[string]string `json:"collected,omitempty"`
	Summary     string            `json:"summary"`
	// Transfer is the last agent's handing on, when there was one.
	Transfer *TransferView `json:"transfer,omitempty"`
}

// TransferView is who handed a conversation on, why and to whom.
type TransferView struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	To     string `json:"to"`
	At     string `json:"at"`
}

// NoteFrame is an agent's private note.
type NoteFrame struct {
	Type           string `json:"type,omitempty"` // "note" when pushed alone
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
	Agent          string `json:"agent"`
	Text           string `json:"text"`
	At             string `json:"at"`
}

// QueueFrame gives the figures of the queues a console may watch: every
// queue for supervisors and admins, an agent's own queues (skills) for
// agents. TransferQueues are the queues a conversation may be sent to.
type QueueFrame struct {
	Type           string      `json:"type"` // "queue"
	RequestID      string      `json:"requestId,omitempty"`
	Queues         []QueueStat `json:"queues"`
	TransferQueues []string    `json:"transferQueues"`
	At             string      `json:"at"`
}

// QueueStat is one queue's figures.
type QueueStat struct {
	Name              string `json:"name"`
	Waiting           int    `json:"waiting"`
	OldestWaitSeconds int    `json:"oldestWaitSeconds"`
	Urgent            int    `json:"urgent"`
}

// ConversationsFrame lists the conversations an agent holds.
type ConversationsFrame struct {
	Type          string     `json:"type"` // "conversations"
	RequestID     string     `json:"requestId,omitempty"`
	Conversations []HeldView `json:"conversations"`
}

// HeldView is one held conversation: the patient's name and its state
// (assigned, or closed when the patient ended it and it awaits wrap-up).
type HeldView struct {
	ConversationID string  `json:"conversationId"`
	Patient        Patient `json:"patient"`
	State          string  `json:"state"`
}

// TasksFrame lists the open follow-up tasks.
type TasksFrame struct {
	Type      string     `json:"type"` // "tasks"
	RequestID string     `json:"requestId,omitempty"`
	Tasks     []TaskView `json:"tasks"`
}

// TaskFrame tells supervisors of a new follow-up task.
type TaskFrame struct {
	Type string   `json:"type"` // "task"
	Task TaskView `json:"task"`
}

// SurveyFrame asks the patient the satisfaction survey in the chat.
type SurveyFrame struct {
	Type     string `json:"type"` // "survey"
	SurveyID string `json:"surveyId"`
	Question string `json:"question"`
	Scale    [2]int `json:"scale"`
	Comment  string `json:"comment"` // the comment's prompt
}

// TaskView is a follow-up task as consoles see it.
type TaskView struct {
	TaskID    string `json:"taskId"`
	SurveyID  string `json:"surveyId"`
	Reason    string `json:"reason"`
	CSAT      int    `json:"csat"`
	Comment   string `json:"comment,omitempty"`
	Queue     string `json:"queue,omitempty"`
	Agent     string `json:"agent,omitempty"`
	Kind      string `json:"kind"`
	CreatedAt string `json:"createdAt"`
}

// Figure sums up the surveys of a group (an agent, a queue, a week).
type Figure struct {
	Group        string  `json:"group"`
	Sent         int     `json:"sent"`
	Answered     int     `json:"answered"`
	ResponseRate float64 `json:"responseRate"`
	AverageCSAT  float64 `json:"averageCsat"`
}

// CSATFrame gives the satisfaction figures of recent weeks.
type CSATFrame struct {
	Type      string   `json:"type"` // "csat"
	RequestID string   `json:"requestId,omitempty"`
	Weeks     []string `json:"weeks"`
	ByAgent   []Figure `json:"byAgent"`
	ByQueue   []Figure `json:"byQueue"`
	ByWeek    []Figure `json:"byWeek"`
	Overall   Figure   `json:"overall"`
}

// FloorFrame is the supervisors' floor: every conversation in progress,
// or, pushed with changes true, those that just changed (a row with done
// true has left the floor).
type FloorFrame struct {
	Type          string     `json:"type"` // "floor"
	RequestID     string     `json:"requestId,omitempty"`
	Conversations []FloorRow `json:"conversations"`
	Changes       bool       `json:"changes,omitempty"`
	At            string     `json:"at"`
}

// FloorRow is one conversation on the floor: no message text, no name.
type FloorRow struct {
	ConversationID string   `json:"conversationId"`
	State          string   `json:"state"`
	Queue          string   `json:"queue,omitempty"`
	Priority       string   `json:"priority,omitempty"`
	Language       string   `json:"language,omitempty"`
	RedFlags       []string `json:"redFlags,omitempty"`
	AgentID        string   `json:"agentId,omitempty"`
	AgentName      string   `json:"agentName,omitempty"`
	HandedOffAt    string   `json:"handedOffAt,omitempty"`
	Since          string   `json:"since,omitempty"`
	Done           bool     `json:"done,omitempty"`
}

// WhisperFrame is a supervisor's word to the agent of a conversation they
// monitor: pushed to the agent's and the watching supervisors' consoles,
// never to the patient, stored nowhere.
type WhisperFrame struct {
	Type           string `json:"type"` // "whisper"
	ConversationID string `json:"conversationId"`
	From           Sender `json:"from"`
	Text           string `json:"text"`
	At             string `json:"at"`
}

// SupervisingFrame answers monitor, unmonitor, whisper and barge.
type SupervisingFrame struct {
	Type           string `json:"type"` // "supervising"
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	Action         string `json:"action"`
}

// KPIFrame answers kpis: the figures of the last days, one row per queue,
// agent, day or hour. Times in seconds; rates from 0 to 1.
type KPIFrame struct {
	Type      string   `json:"type"` // "kpis"
	RequestID string   `json:"requestId,omitempty"`
	By        string   `json:"by"`
	Days      []string `json:"days"`
	Rows      []KPIRow `json:"rows"`
	At        string   `json:"at"`
}

// KPIRow is one row of the figures.
type KPIRow struct {
	Key                  string  `json:"key"`
	Escalated            int64   `json:"escalated"`
	Offered              int64   `json:"offered"`
	Handled              int64   `json:"handled"`
	Abandoned            int64   `json:"abandoned"`
	Contained            int64   `json:"contained"`
	Transferred          int64   `json:"transferred"`
	AverageWaitSeconds   float64 `json:"averageWaitSeconds"`
	P90WaitSeconds       float64 `json:"p90WaitSeconds"`
	AverageHandleSeconds float64 `json:"averageHandleSeconds"`
	ServiceLevel         float64 `json:"serviceLevel"`
	TransferRate         float64 `json:"transferRate"`
	Containment          float64 `json:"containment"`
	// Rated counts the satisfaction surveys answered; CSAT is their mean
	// score (1 to 5) and Satisfied the share scored 4 or 5.
	Rated     int64   `json:"rated"`
	CSAT      float64 `json:"csat"`
	Satisfied float64 `json:"satisfied"`
}
