package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/survey"
)

// Indexes of the surveys table.
const (
	// ByWeekIndex lists surveys by the ISO week they were asked.
	ByWeekIndex = "byWeek"
	// OpenTasksIndex lists the follow-up tasks still open (sparse).
	OpenTasksIndex = "openTasks"
)

// Surveys is the survey store on one table: an item per survey (pk
// "survey#<id>"), per patient's survey preferences (pk "patient#<id>":
// when last surveyed, opted out), and per follow-up task (pk "task#<id>").
type Surveys struct {
	api       API
	table     string
	retention time.Duration
}

var _ survey.Store = (*Surveys)(nil)

// NewSurveys returns the store; retention is how long surveys and their
// answers are kept (TTL).
func NewSurveys(api API, table string, retention time.Duration) *Surveys {
	return &Surveys{api: api, table: table, retention: retention}
}

type answerItem struct {
	CSAT      int     `dynamodbav:"csat"`
	NPS       *int    `dynamodbav:"nps,omitempty"`
	Comment   string  `dynamodbav:"comment,omitempty"`
	Sentiment float64 `dynamodbav:"sentiment"`
	At        string  `dynamodbav:"at"`
}

type surveyItem struct {
	PK             string      `dynamodbav:"pk"`
	SK             string      `dynamodbav:"sk"`
	ID             string      `dynamodbav:"surveyId"`
	Kind           string      `dynamodbav:"kind"`
	SourceID       string      `dynamodbav:"sourceId"`
	PatientID      string      `dynamodbav:"patientId"`
	PatientEmail   string      `dynamodbav:"patientEmail,omitempty"`
	Locale         string      `dynamodbav:"locale,omitempty"`
	ConversationID string      `dynamodbav:"conversationId,omitempty"`
	Queue          string      `dynamodbav:"queue,omitempty"`
	AgentID        string      `dynamodbav:"agentId,omitempty"`
	AgentName      string      `dynamodbav:"agentName,omitempty"`
	Topic          string      `dynamodbav:"topic,omitempty"`
	ClosedAt       string      `dynamodbav:"closedAt"`
	CreatedAt      string      `dynamodbav:"createdAt"`
	OpenUntil      string      `dynamodbav:"openUntil"`
	Week           string      `dynamodbav:"week"`
	Delivery       string      `dynamodbav:"delivery,omitempty"`
	Answer         *answerItem `dynamodbav:"answer,omitempty"`
	ExpiresAt      int64       `dynamodbav:"expiresAt"`
}

func (it surveyItem) domain() survey.Survey {
	closed, _ := time.Parse(timeLayout, it.ClosedAt)
	created, _ := time.Parse(timeLayout, it.CreatedAt)
	open, _ := time.Parse(timeLayout, it.OpenUntil)
	s := survey.Survey{ID: it.ID, CreatedAt: created, ExpiresAt: open, Delivery: it.Delivery, Source: survey.Source{Kind: survey.Kind(it.Kind), ID: it.SourceID,
		PatientID: it.PatientID, PatientEmail: it.PatientEmail, Locale: it.Locale, ConversationID: it.ConversationID, Queue: it.Queue,
		AgentID: it.AgentID, AgentName: it.AgentName, Topic: it.Topic, At: closed}}
	if a := it.Answer; a != nil {
		at, _ := time.Parse(timeLayout, a.At)
		s.Answer = &survey.Answer{CSAT: a.CSAT, NPS: a.NPS, Comment: a.Comment, Sentiment: a.Sentiment, At: at}
	}
	return s
}

func surveyKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "survey#" + id}, "sk": &types.AttributeValueMemberS{Value: "survey"}}
}

func prefsKey(patientID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "patient#" + patientID}, "sk": &types.AttributeValueMemberS{Value: "prefs"}}
}

// Create puts the survey and takes the patient's window in one
// transaction.
func (s *Surveys) Create(ctx context.Context, sv survey.Survey, window time.Duration) error {
	item, err := attributevalue.MarshalMap(surveyItem{PK: "survey#" + sv.ID, SK: "survey", ID: sv.ID, Kind: string(sv.Kind), SourceID: sv.Source.ID,
		PatientID: sv.PatientID, PatientEmail: sv.PatientEmail, Locale: sv.Locale, ConversationID: sv.ConversationID, Queue: sv.Queue,
		AgentID: sv.AgentID, AgentName: sv.AgentName, Topic: sv.Topic, ClosedAt: sv.At.UTC().Format(timeLayout),
		CreatedAt: sv.CreatedAt.UTC().Format(timeLayout), OpenUntil: sv.ExpiresAt.UTC().Format(timeLayout), Week: survey.Week(sv.CreatedAt),
		ExpiresAt: sv.CreatedAt.Add(s.retention).Unix()})
	if err != nil {
		return fmt.Errorf("marshalling survey: %w", err)
	}
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build())
	cutoff := sortable(sv.CreatedAt.Add(-window))
	prefs := must(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("lastSurveyAt"), expression.Value(sortable(sv.CreatedAt)))).
		WithCondition(expression.AttributeNotExists(expression.Name("optedOut")).
			And(expression.AttributeNotExists(expression.Name("lastSurveyAt")).Or(expression.Name("lastSurveyAt").LessThanEqual(expression.Value(cutoff))))).
		Build())
	_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}},
		{Update: &types.Update{TableName: &s.table, Key: prefsKey(sv.PatientID), UpdateExpression: prefs.Update(), ConditionExpression: prefs.Condition(),
			ExpressionAttributeNames: prefs.Names(), ExpressionAttributeValues: prefs.Values()}},
	}})
	reasons := cancelReasons(err)
	switch {
	case err == nil:
		return nil
	case reasons == nil:
		return fmt.Errorf("creating survey: %w", err)
	case reasons[0] == "ConditionalCheckFailed":
		return survey.ErrExists
	}
	out, gerr := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: prefsKey(sv.PatientID), ConsistentRead: boolPtr(true)})
	if gerr != nil {
		return fmt.Errorf("reading survey preferences: %w", gerr)
	}
	if _, out := out.Item["optedOut"]; out {
		return &survey.Suppressed{Reason: "opted out"}
	}
	return &survey.Suppressed{Reason: "surveyed within the window"}
}

// Get reads a survey.
func (s *Surveys) Get(ctx context.Context, id string) (survey.Survey, error) {
	it, err := getItem[surveyItem](ctx, s.api, s.table, surveyKey(id), "survey")
	if err != nil {
		return survey.Survey{}, err
	}
	return it.domain(), nil
}

// SetDelivery records how the survey reached the patient.
func (s *Surveys) SetDelivery(ctx context.Context, id, delivery string) error {
	expr := must(expression.NewBuilder().WithUpdate(expression.Set(expression.Name("delivery"), expression.Value(delivery))).
		WithCondition(expression.AttributeExists(expression.Name("pk"))).Build())
	if _, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: surveyKey(id), UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}); err != nil {
		return fmt.Errorf("recording the survey's delivery: %w", err)
	}
	return nil
}

// Answer stores the answer once, while the survey is open.
func (s *Surveys) Answer(ctx context.Context, id string, a survey.Answer) (survey.Survey, error) {
	av, err := attributevalue.Marshal(answerItem{CSAT: a.CSAT, NPS: a.NPS, Comment: a.Comment, Sentiment: a.Sentiment, At: a.At.UTC().Format(timeLayout)})
	if err != nil {
		return survey.Survey{}, fmt.Errorf("marshalling answer: %w", err)
	}
	expr := must(expression.NewBuilder().WithUpdate(expression.Set(expression.Name("answer"), expression.Value(av))).
		WithCondition(expression.AttributeExists(expression.Name("pk")).And(expression.AttributeNotExists(expression.Name("answer"))).
			And(expression.Name("openUntil").GreaterThan(expression.Value(a.At.UTC().Format(timeLayout))))).Build())
	sv, failed, err := updateNew[surveyItem, survey.Survey](ctx, s.api, s.table, surveyKey(id), expr)
	if failed {
		return survey.Survey{}, fault.Errorf(fault.Conflict, "this survey was already answered or has closed")
	}
	if err != nil {
		return survey.Survey{}, fmt.Errorf("storing the answer: %w", err)
	}
	return sv, nil
}

// OptOut records that the patient wants no more surveys.
func (s *Surveys) OptOut(ctx context.Context, patientID string, at time.Time) error {
	expr := must(expression.NewBuilder().WithUpdate(expression.Set(expression.Name("optedOut"), expression.Value(at.UTC().Format(timeLayout)))).Build())
	if _, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: prefsKey(patientID), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}); err != nil {
		return fmt.Errorf("recording the opt-out: %w", err)
	}
	return nil
}

type taskItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	ID        string `dynamodbav:"taskId"`
	SurveyID  string `dynamodbav:"surveyId"`
	Reason    string `dynamodbav:"reason"`
	CSAT      int    `dynamodbav:"csat"`
	Comment   string `dynamodbav:"comment,omitempty"`
	Queue     string `dynamodbav:"queue,omitempty"`
	AgentID   string `dynamodbav:"agentId,omitempty"`
	AgentName string `dynamodbav:"agentName,omitempty"`
	PatientID string `dynamodbav:"patientId"`
	Kind      string `dynamodbav:"kind"`
	CreatedAt string `dynamodbav:"createdAt"`
	Open      string `dynamodbav:"openTask,omitempty"`
	DoneBy    string `dynamodbav:"doneBy,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

func (it taskItem) domain() survey.Task {
	at, _ := time.Parse(timeLayout, it.CreatedAt)
	return survey.Task{ID: it.ID, SurveyID: it.SurveyID, Reason: it.Reason, CSAT: it.CSAT, Comment: it.Comment, Queue: it.Queue, AgentID: it.AgentID,
		AgentName: it.AgentName, PatientID: it.PatientID, Kind: survey.Kind(it.Kind), CreatedAt: at, Done: it.Open == ""}
}

func taskKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "task#" + id}, "sk": &types.AttributeValueMemberS{Value: "task"}}
}

// AddTask stores a task once.
func (s *Surveys) AddTask(ctx context.Context, t survey.Task) (bool, error) {
	item, err := attributevalue.MarshalMap(taskItem{PK: "task#" + t.ID, SK: "task", ID: t.ID, SurveyID: t.SurveyID, Reason: t.Reason, CSAT: t.CSAT,
		Comment: t.Comment, Queue: t.Queue, AgentID: t.AgentID, AgentName: t.AgentName, PatientID: t.PatientID, Kind: string(t.Kind),
		CreatedAt: sortable(t.CreatedAt), Open: "open", ExpiresAt: t.CreatedAt.Add(s.retention).Unix()})
	if err != nil {
		return false, fmt.Errorf("marshalling task: %w", err)
	}
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build())
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storing task: %w", err)
	}
	return true, nil
}

// OpenTasks lists the open follow-up tasks, oldest first.
func (s *Surveys) OpenTasks(ctx context.Context) ([]survey.Task, error) {
	out, err := queryEqual[taskItem, survey.Task](ctx, s.api, s.table, OpenTasksIndex, "openTask", "open")
	if err != nil {
		return nil, fmt.Errorf("listing open tasks: %w", err)
	}
	return out, nil
}

// CloseTask marks an open task done by a supervisor.
func (s *Surveys) CloseTask(ctx context.Context, id, by string, at time.Time) error {
	expr := must(expression.NewBuilder().WithUpdate(expression.Remove(expression.Name("openTask")).
		Set(expression.Name("doneBy"), expression.Value(by)).Set(expression.Name("doneAt"), expression.Value(sortable(at)))).
		WithCondition(expression.AttributeExists(expression.Name("openTask"))).Build())
	closed, err := updateIf(ctx, s.api, s.table, taskKey(id), expr, "closing task")
	if err == nil && !closed {
		err = fault.Errorf(fault.Conflict, "that task is not open")
	}
	return err
}

// InWeeks lists the surveys asked in the ISO weeks given.
func (s *Surveys) InWeeks(ctx context.Context, weeks []string) ([]survey.Survey, error) {
	var out []survey.Survey
	for _, w := range weeks {
		week, err := queryEqual[surveyItem, survey.Survey](ctx, s.api, s.table, ByWeekIndex, "week", w)
		if err != nil {
			return nil, fmt.Errorf("listing the week's surveys: %w", err)
		}
		out = append(out, week...)
	}
	return out, nil
}
