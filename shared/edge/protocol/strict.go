package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Frames are decoded strictly. encoding/json matches keys without regard
// to case and keeps the last of duplicate keys, so {"action":"survey",
// "ACTION":"start"} would run start on the survey route API Gateway chose
// by the exact key. A frame must be one JSON object whose keys are unique
// and, when they name a field of the protocol in any case, name it exactly.

// strictObject checks a frame's top level against the field names of the
// struct raw points to.
func strictObject(body []byte, raw any) error {
	fields := jsonFields(raw)
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fault.Errorf(fault.BadRequest, "frame is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fault.Errorf(fault.BadRequest, "frame is not a JSON object")
		}
		key, _ := t.(string)
		if seen[key] {
			return fault.Errorf(fault.BadRequest, "a key appears twice in the frame")
		}
		seen[key] = true
		if exact, ok := fields[strings.ToLower(key)]; ok && exact != key {
			return fault.Errorf(fault.BadRequest, "keys are case-sensitive: %q, not another spelling", exact)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fault.Errorf(fault.BadRequest, "frame is not a JSON object")
		}
	}
	if _, err := dec.Token(); err != nil {
		return fault.Errorf(fault.BadRequest, "frame is not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return fault.Errorf(fault.BadRequest, "frame is more than one JSON value")
	}
	return nil
}

// jsonFields maps the lower-cased JSON names of a struct's fields to the
// names themselves.
func jsonFields(v any) map[string]string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]string{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[strings.ToLower(name)] = name
		}
	}
	return out
}

// checkChars refuses control characters (line breaks and tabs too unless
// lines is set) and the bidirectional embedding, override and isolate
// characters, which can make a name or a message read differently on an
// agent's screen than what was sent (U+202A-U+202E, U+2066-U+2069).
func checkChars(field, s string, lines bool) error {
	for _, r := range s {
		switch {
		case lines && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.IsControl(r):
			return fault.Errorf(fault.BadRequest, "%s holds a control character", field)
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return fault.Errorf(fault.BadRequest, "%s holds a bidirectional control character", field)
		}
	}
	return nil
}

// Loggable returns an action's name for a log line: the action itself
// when it is one of the protocol's (patient or agent), else "unknown". A
// frame's action is client text: only names the protocol defines are
// logged.
func Loggable(action string) string {
	if knownActions[action] {
		return action
	}
	if action == "" {
		return ""
	}
	return "unknown"
}

var knownActions = map[string]bool{
	ActionStart: true, ActionResume: true, ActionSend: true, ActionTyping: true, ActionEnd: true, ActionTranscript: true, ActionSignIn: true,
	ActionAppointment: true, ActionSurvey: true,
	ActionPresence: true, ActionAccept: true, ActionDecline: true, ActionClose: true, ActionTransfer: true, ActionHandBack: true, ActionAgents: true, ActionFloor: true,
	ActionMonitor: true, ActionUnmonitor: true, ActionWhisper: true, ActionBarge: true, ActionKPIs: true,
	ActionContext: true, ActionNote: true, ActionQueues: true, ActionConversations: true,
	ActionTasks: true, ActionCloseTask: true, ActionCSAT: true, ActionAssign: true,
	ActionSlots: true, ActionBook: true, ActionCancel: true, ActionReschedule: true, ActionAppointments: true, ActionVisit: true,
}

// CheckRoute refuses a frame whose action is not the route API Gateway
// chose for it: a named route carries its own action ($default, the
// frames no named route took). The action the code runs is then always
// the one the route, its integration and its permissions were meant for.
func CheckRoute(routeKey, action string) error {
	if routeKey == "" || routeKey == "$default" || routeKey == action {
		return nil
	}
	return fault.Errorf(fault.BadRequest, "the frame's action is not its route's")
}

// DecodeOnRoute decodes a frame of the patient API that came on a route
// taking only frames of action only: a frame of another action is
// bad_request, as is one whose action is not its route's (CheckRoute).
// The frame carries its requestId and action when they could be read.
func DecodeOnRoute(routeKey string, body []byte, only string) (ClientFrame, error) {
	f, err := DecodePatient(body)
	if err == nil {
		err = CheckRoute(routeKey, f.Action)
	}
	if err == nil && f.Action != only {
		err = fault.Errorf(fault.BadRequest, "this route takes %s frames", only)
	}
	return f, err
}
