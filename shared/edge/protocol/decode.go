package protocol

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/patientservicecenter/psc/shared/fault"
)

// Client actions of the patient API.
const (
	ActionStart  = "start"
	ActionResume = "resume"
	ActionSend   = "send"
	ActionTyping = "typing"
	ActionEnd    = "end"
	// ActionTranscript asks for the ended conversation's transcript by
	// email (a verified patient).
	ActionTranscript = "transcript"
	// ActionSignIn proves the patient's identity with an ID token of the
	// patients' identity provider (the hospital's sign-in), as a code does.
	ActionSignIn = "signIn"
	// ActionAppointment acts on an appointment through a reminder's
	// signed link: view it, confirm it, or cancel it.
	ActionAppointment = "appointment"
	// ActionSurvey answers a satisfaction survey: in the chat by its
	// surveyId, or on the survey page by its signed link (token) with a
	// decision: view, answer or optout.
	ActionSurvey = "survey"
)

// Decisions of a survey frame sent with a link.
const (
	DecisionAnswer = "answer"
	DecisionOptOut = "optout"
)

// MaxCommentRunes bounds a survey comment.
const MaxCommentRunes = 1000

// Decisions of an appointment frame.
const (
	DecisionView    = "view"
	DecisionConfirm = "confirm"
	DecisionCancel  = "cancel"
)

// MaxLinkTokenBytes bounds a link token; MaxIDTokenBytes an ID token
// (a Cognito one is about 1 KB; a federated one with its claims more).
const (
	MaxLinkTokenBytes = 2048
	MaxIDTokenBytes   = 8192
)

var linkTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// Limits on client input. MaxFrameBytes is API Gateway's frame size; the
// others keep stored records small and are documented in docs/protocol.md.
const (
	MaxFrameBytes    = 32 * 1024
	MaxTextRunes     = 2000
	MaxNameRunes     = 100
	MaxTopicRunes    = 500
	MaxIDLength      = 64
	MaxRequestIDRune = 64
)

// Locales the product speaks.
var locales = map[string]bool{"en": true, "es": true}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ClientFrame is a decoded, validated client frame. Only the fields of its
// action are set.
type ClientFrame struct {
	Action          string `json:"action"`
	RequestID       string `json:"requestId,omitempty"`
	Name            string `json:"name,omitempty"`
	Topic           string `json:"topic,omitempty"`
	Locale          string `json:"locale,omitempty"`
	After           string `json:"after,omitempty"`
	ConversationID  string `json:"conversationId,omitempty"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
	Text            string `json:"text,omitempty"`
	Token           string `json:"-"`
	Decision        string `json:"decision,omitempty"`
	SurveyID        string `json:"surveyId,omitempty"`
	Score           int    `json:"score,omitempty"`
	NPS             *int   `json:"nps,omitempty"`
	Comment         string `json:"comment,omitempty"`
	// NoEcho is a send's "echo": false: the sending connection has the
	// ack and renders its own message, so it is not sent the message frame.
	NoEcho bool `json:"-"`
}

// rawFrame accepts any JSON types so that a wrong type is reported as a
// field error rather than as unreadable JSON.
type rawFrame struct {
	Action          json.RawMessage `json:"action"`
	RequestID       json.RawMessage `json:"requestId"`
	Name            json.RawMessage `json:"name"`
	Topic           json.RawMessage `json:"topic"`
	Locale          json.RawMessage `json:"locale"`
	After           json.RawMessage `json:"after"`
	ConversationID  json.RawMessage `json:"conversationId"`
	ClientMessageID json.RawMessage `json:"clientMessageId"`
	Text            json.RawMessage `json:"text"`
	Token           json.RawMessage `json:"token"`
	IDToken         json.RawMessage `json:"idToken"`
	Decision        json.RawMessage `json:"decision"`
	SurveyID        json.RawMessage `json:"surveyId"`
	Score           json.RawMessage `json:"score"`
	NPS             json.RawMessage `json:"nps"`
	Comment         json.RawMessage `json:"comment"`
	Echo            json.RawMessage `json:"echo"`
}

// DecodePatient decodes and validates a frame of the patient API. On error
// the returned frame still carries the requestId when one could be read, so
// the error frame can echo it.
func DecodePatient(body []byte) (ClientFrame, error) {
	var f ClientFrame
	var raw rawFrame
	var err error
	if f.RequestID, f.Action, err = envelope(body, &raw, &raw.RequestID, &raw.Action); err != nil {
		return f, err
	}
	switch f.Action {
	case ActionStart:
		return f, decodeStart(&f, raw)
	case ActionResume:
		if f.After, err = str(raw.After, "after"); err != nil {
			return f, err
		}
		if f.After != "" && !IsMessageID(f.After) {
			return f, fault.Errorf(fault.BadRequest, "after is not a message id")
		}
		return f, nil
	case ActionSend:
		if f.ConversationID, f.ClientMessageID, f.Text, err = sendFields(raw.ConversationID, raw.ClientMessageID, raw.Text); err != nil {
			return f, err
		}
		f.NoEcho, err = noEcho(raw.Echo)
		return f, err
	case ActionTyping, ActionEnd, ActionTranscript:
		return f, conversationRef(&f, raw)
	case ActionSignIn:
		if err := conversationRef(&f, raw); err != nil {
			return f, err
		}
		if f.Token, err = str(raw.IDToken, "idToken"); err != nil {
			return f, err
		}
		if len(f.Token) > MaxIDTokenBytes || !linkTokenPattern.MatchString(f.Token) {
			return f, fault.Errorf(fault.BadRequest, "idToken is not a JWT")
		}
		return f, nil
	case ActionAppointment:
		if f.Token, err = str(raw.Token, "token"); err != nil {
			return f, err
		}
		if len(f.Token) > MaxLinkTokenBytes || !linkTokenPattern.MatchString(f.Token) {
			return f, fault.Errorf(fault.BadRequest, "token is not a link token")
		}
		if f.Decision, err = str(raw.Decision, "decision"); err != nil {
			return f, err
		}
		switch f.Decision {
		case DecisionView, DecisionConfirm, DecisionCancel:
			return f, nil
		}
		return f, fault.Errorf(fault.BadRequest, "decision must be view, confirm or cancel")
	case ActionSurvey:
		return f, decodeSurvey(&f, raw)
	case "":
		return f, fault.Errorf(fault.BadRequest, "action is required")
	default:
		return f, fault.Errorf(fault.BadRequest, "unknown action %q", truncate(f.Action, 32))
	}
}

// noEcho reads a send's optional "echo" flag: absent, null or true keep
// the message frame to the sender's own connection; false drops it.
func noEcho(raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "", "null", "true":
		return false, nil
	case "false":
		return true, nil
	}
	return false, fault.Errorf(fault.BadRequest, "echo must be true or false")
}

var surveyIDPattern = regexp.MustCompile(`^sv[0-9a-f]{24}$`)

// decodeSurvey reads a survey frame: from the chat, a surveyId and an
// answer; from the survey page, a link token and a decision (with an
// answer when the decision is answer).
func decodeSurvey(f *ClientFrame, raw rawFrame) error {
	var err error
	if len(raw.Token) > 0 {
		if f.Token, err = str(raw.Token, "token"); err != nil {
			return err
		}
		if len(f.Token) > MaxLinkTokenBytes || !linkTokenPattern.MatchString(f.Token) {
			return fault.Errorf(fault.BadRequest, "token is not a link token")
		}
		if f.Decision, err = str(raw.Decision, "decision"); err != nil {
			return err
		}
		switch f.Decision {
		case DecisionView, DecisionOptOut:
			return nil
		case DecisionAnswer:
		default:
			return fault.Errorf(fault.BadRequest, "decision must be view, answer or optout")
		}
	} else {
		if f.SurveyID, err = str(raw.SurveyID, "surveyId"); err != nil {
			return err
		}
		if !surveyIDPattern.MatchString(f.SurveyID) {
			return fault.Errorf(fault.BadRequest, "surveyId is not a survey id")
		}
		f.Decision = DecisionAnswer
	}
	if err := json.Unmarshal(raw.Score, &f.Score); err != nil || len(raw.Score) == 0 {
		return fault.Errorf(fault.BadRequest, "score must be a whole number")
	}
	if len(raw.NPS) > 0 && string(raw.NPS) != "null" {
		var n int
		if err := json.Unmarshal(raw.NPS, &n); err != nil {
			return fault.Errorf(fault.BadRequest, "nps must be a whole number")
		}
		f.NPS = &n
	}
	if len(raw.Comment) > 0 && string(raw.Comment) != "null" {
		if f.Comment, err = str(raw.Comment, "comment"); err != nil {
			return err
		}
		f.Comment = strings.TrimSpace(f.Comment)
		if !utf8.ValidString(f.Comment) || utf8.RuneCountInString(f.Comment) > MaxCommentRunes {
			return fault.Errorf(fault.TooLarge, "comment is at most %d characters", MaxCommentRunes)
		}
		if err := checkChars("comment", f.Comment, true); err != nil {
			return err
		}
	}
	return nil
}

func decodeStart(f *ClientFrame, raw rawFrame) error {
	var err error
	if f.Name, err = str(raw.Name, "name"); err != nil {
		return err
	}
	f.Name = strings.TrimSpace(f.Name)
	if f.Name == "" {
		return fault.Errorf(fault.BadRequest, "name is required")
	}
	if utf8.RuneCountInString(f.Name) > MaxNameRunes {
		return fault.Errorf(fault.TooLarge, "name is longer than %d characters", MaxNameRunes)
	}
	if err := checkChars("name", f.Name, false); err != nil {
		return err
	}
	if f.Topic, err = str(raw.Topic, "topic"); err != nil {
		return err
	}
	f.Topic = strings.TrimSpace(f.Topic)
	if utf8.RuneCountInString(f.Topic) > MaxTopicRunes {
		return fault.Errorf(fault.TooLarge, "topic is longer than %d characters", MaxTopicRunes)
	}
	if err := checkChars("topic", f.Topic, false); err != nil {
		return err
	}
	if f.Locale, err = str(raw.Locale, "locale"); err != nil {
		return err
	}
	f.Locale = NormalizeLocale(f.Locale)
	if f.Locale == "" {
		return fault.Errorf(fault.BadRequest, "locale must be one of en, es")
	}
	return nil
}

// NormalizeLocale maps "es-MX" to "es", "" to "en", and an unsupported
// language to "".
func NormalizeLocale(l string) string {
	if l == "" {
		return "en"
	}
	base := strings.ToLower(strings.SplitN(strings.ReplaceAll(l, "_", "-"), "-", 2)[0])
	if locales[base] {
		return base
	}
	return ""
}

func conversationRef(f *ClientFrame, raw rawFrame) error {
	var err error
	f.ConversationID, err = conversationID(raw.ConversationID)
	return err
}

// conversationID reads the conversationId a frame must carry.
func conversationID(raw json.RawMessage) (string, error) {
	id, err := str(raw, "conversationId")
	if err != nil {
		return "", err
	}
	if !idPattern.MatchString(id) {
		return "", fault.Errorf(fault.BadRequest, "conversationId is required")
	}
	return id, nil
}

// sendFields reads the fields of a send, in either API.
func sendFields(rawConv, rawClientID, rawText json.RawMessage) (conv, clientID, text string, err error) {
	if conv, err = conversationID(rawConv); err != nil {
		return "", "", "", err
	}
	if clientID, err = str(rawClientID, "clientMessageId"); err != nil {
		return conv, "", "", err
	}
	if !idPattern.MatchString(clientID) {
		return conv, "", "", fault.Errorf(fault.BadRequest, "clientMessageId is required: 1 to %d letters, digits or ._:-", MaxIDLength)
	}
	if text, err = str(rawText, "text"); err != nil {
		return conv, clientID, "", err
	}
	return conv, clientID, text, checkText(text)
}

func checkText(text string) error {
	if !utf8.ValidString(text) {
		return fault.Errorf(fault.BadRequest, "text is not valid UTF-8")
	}
	if strings.TrimSpace(text) == "" {
		return fault.Errorf(fault.BadRequest, "text is required")
	}
	if n := utf8.RuneCountInString(text); n > MaxTextRunes {
		return fault.Errorf(fault.TooLarge, "text is %d characters; the limit is %d", n, MaxTextRunes)
	}
	return checkChars("text", text, true)
}

// envelope checks a frame's size, unmarshals it into raw, and reads the
// requestId and action every frame carries (the requestId is returned even
// when the action is unreadable, so the error frame can echo it).
func envelope(body []byte, raw any, rawRequestID, rawAction *json.RawMessage) (reqID, action string, err error) {
	if len(body) > MaxFrameBytes {
		return echoable(body), "", fault.Errorf(fault.TooLarge, "frame is larger than %d bytes", MaxFrameBytes)
	}
	if err := strictObject(body, raw); err != nil {
		return echoable(body), "", err
	}
	if err := json.Unmarshal(body, raw); err != nil {
		return "", "", fault.Errorf(fault.BadRequest, "frame is not a JSON object")
	}
	if reqID, err = requestID(*rawRequestID); err != nil {
		return "", "", err
	}
	action, err = str(*rawAction, "action")
	return reqID, action, err
}

// echoable is the requestId of a JSON object refused before it was read
// (too large, a key twice or in another case), so that the error frame
// still echoes it: the key spelled exactly "requestId", the last one when
// it appears twice, and "" when there is none or it is not a valid one.
func echoable(body []byte) string {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return ""
	}
	id, err := requestID(keys["requestId"])
	if err != nil {
		return ""
	}
	return id
}

// requestID reads the optional requestId every frame may carry.
func requestID(raw json.RawMessage) (string, error) {
	id, err := str(raw, "requestId")
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(id) > MaxRequestIDRune {
		return "", fault.Errorf(fault.BadRequest, "requestId is longer than %d characters", MaxRequestIDRune)
	}
	return id, nil
}

// str reads an optional string field; a field of another JSON type is a
// bad request.
func str(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fault.Errorf(fault.BadRequest, "%s must be a string", field)
	}
	return s, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// IsMessageID reports whether s has the shape of a message id
// (chat.MessageID's).
func IsMessageID(s string) bool { return messageIDPattern.MatchString(s) }

var messageIDPattern = regexp.MustCompile(`^m[0-9]{12}$`)
