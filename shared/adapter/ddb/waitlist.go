package ddb

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/waitlist"
)

// Waitlist keeps, in the scheduling table, the waitlist's entries (pk
// "wl#<id>", sk "wl", versioned), for each entry still waiting or offered
// a place in its specialty's line (pk "wlq#<specialty>", sk
// "<joined>#<id>"), written in the same transactions, and each patient's
// entries (pk "wlp#<patient>", sk "<id>", written with the entry).
type Waitlist struct {
	api   API
	table string
}

var _ waitlist.Store = (*Waitlist)(nil)

// NewWaitlist returns the store.
func NewWaitlist(api API, table string) *Waitlist { return &Waitlist{api: api, table: table} }

type waitlistItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	ID             string   `dynamodbav:"waitlistId"`
	PatientID      string   `dynamodbav:"patientId"`
	PatientName    string   `dynamodbav:"patientName,omitempty"`
	PatientEmail   string   `dynamodbav:"patientEmail,omitempty"`
	PatientPhone   string   `dynamodbav:"patientPhone,omitempty"`
	Locale         string   `dynamodbav:"locale,omitempty"`
	ConversationID string   `dynamodbav:"conversationId,omitempty"`
	Specialty      string   `dynamodbav:"specialty"`
	Provider       string   `dynamodbav:"provider,omitempty"`
	From           string   `dynamodbav:"from,omitempty"`
	To             string   `dynamodbav:"to,omitempty"`
	JoinedAt       string   `dynamodbav:"joinedAt"`
	State          string   `dynamodbav:"state"`
	Hold           string   `dynamodbav:"hold,omitempty"`
	Passed         []string `dynamodbav:"passed,omitempty"`
	Version        int      `dynamodbav:"version"`
	ExpiresAt      int64    `dynamodbav:"expiresAt"`
}

// waitlistTTL keeps an entry without a window this long after it joined;
// one with a window, a day past its end.
const waitlistTTL = 90 * 24 * time.Hour

func entryExpiry(e waitlist.Entry) int64 {
	if !e.To.IsZero() {
		return e.To.Add(24 * time.Hour).Unix()
	}
	return e.JoinedAt.Add(waitlistTTL).Unix()
}

func waitlistKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "wl#" + id}, "sk": &types.AttributeValueMemberS{Value: "wl"}}
}

func lineKey(e waitlist.Entry) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "wlq#" + e.Specialty},
		"sk": &types.AttributeValueMemberS{Value: sortable(e.JoinedAt) + "#" + e.ID}}
}

func (w *Waitlist) put(e waitlist.Entry, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(waitlistItem{PK: "wl#" + e.ID, SK: "wl", ID: e.ID, PatientID: e.PatientID, PatientName: e.PatientName,
		PatientEmail: e.PatientEmail, PatientPhone: e.PatientPhone, Locale: e.Locale, ConversationID: e.ConversationID, Specialty: e.Specialty,
		Provider: e.Provider, From: optionalTime(e.From), To: optionalTime(e.To), JoinedAt: sortable(e.JoinedAt), State: string(e.State),
		Hold: e.Hold, Passed: e.Passed, Version: e.Version, ExpiresAt: entryExpiry(e)})
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshalling waitlist entry: %w", err)
	}
	expr := must(expression.NewBuilder().WithCondition(cond).Build())
	return types.TransactWriteItem{Put: &types.Put{TableName: &w.table, Item: item, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}, nil
}

// line is the write of an entry's place in its line: kept while it waits
// or is offered, removed otherwise.
func (w *Waitlist) line(e waitlist.Entry) types.TransactWriteItem {
	if e.State == waitlist.Waiting || e.State == waitlist.Offered {
		item := lineKey(e)
		item["waitlistId"] = &types.AttributeValueMemberS{Value: e.ID}
		item["expiresAt"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(entryExpiry(e), 10)}
		return types.TransactWriteItem{Put: &types.Put{TableName: &w.table, Item: item}}
	}
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &w.table, Key: lineKey(e)}}
}

// Add stores a new entry and its place in line.
func (w *Waitlist) Add(ctx context.Context, e waitlist.Entry) error {
	put, err := w.put(e, expression.AttributeNotExists(expression.Name("pk")))
	if err != nil {
		return err
	}
	mine := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "wlp#" + e.PatientID}, "sk": &types.AttributeValueMemberS{Value: e.ID},
		"waitlistId": &types.AttributeValueMemberS{Value: e.ID}, "expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(e.JoinedAt.Add(waitlistTTL).Unix(), 10)}}
	_, err = w.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put, w.line(e),
		{Put: &types.Put{TableName: &w.table, Item: mine}}}})
	if failedAt(cancelReasons(err), 0) {
		return waitlist.ErrExists
	}
	if err != nil {
		return fmt.Errorf("adding to the waitlist: %w", err)
	}
	return nil
}

// Get reads an entry.
func (w *Waitlist) Get(ctx context.Context, id string) (waitlist.Entry, error) {
	it, err := getItem[waitlistItem](ctx, w.api, w.table, waitlistKey(id), "waitlist entry")
	if err != nil {
		return waitlist.Entry{}, err
	}
	return it.domain(), nil
}

func (it waitlistItem) domain() waitlist.Entry {
	joined, _ := time.Parse(time.RFC3339Nano, it.JoinedAt)
	return waitlist.Entry{ID: it.ID, PatientID: it.PatientID, PatientName: it.PatientName, PatientEmail: it.PatientEmail, PatientPhone: it.PatientPhone,
		Locale: it.Locale, ConversationID: it.ConversationID, Specialty: it.Specialty, Provider: it.Provider, From: parseTime(it.From), To: parseTime(it.To),
		JoinedAt: joined.UTC(), State: waitlist.State(it.State), Hold: it.Hold, Passed: it.Passed, Version: it.Version}
}

// Waiting lists a specialty's line, the patient who joined first first.
func (w *Waitlist) Waiting(ctx context.Context, specialty string) ([]waitlist.Entry, error) {
	return w.entries(ctx, "wlq#"+specialty, func(e waitlist.Entry) bool {
		return (e.State == waitlist.Waiting || e.State == waitlist.Offered) && (e.To.IsZero() || time.Now().Before(e.To))
	})
}

// ForPatient lists a patient's entries.
func (w *Waitlist) ForPatient(ctx context.Context, patientID string) ([]waitlist.Entry, error) {
	return w.entries(ctx, "wlp#"+patientID, func(waitlist.Entry) bool { return true })
}

// entries reads the entries a partition of pointers names, keeping those
// keep accepts.
func (w *Waitlist) entries(ctx context.Context, pk string, keep func(waitlist.Entry) bool) ([]waitlist.Entry, error) {
	expr := must(expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value(pk))).Build())
	places, err := queryAll[struct {
		ID string `dynamodbav:"waitlistId"`
	}](ctx, w.api, &dynamodb.QueryInput{TableName: &w.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: boolPtr(true)})
	if err != nil {
		return nil, fmt.Errorf("reading the waitlist: %w", err)
	}
	out := make([]waitlist.Entry, 0, len(places))
	for _, p := range places {
		e, err := w.Get(ctx, p.ID)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if keep(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Update stores an entry read at e.Version-1, and its place in line.
func (w *Waitlist) Update(ctx context.Context, e waitlist.Entry) error {
	put, err := w.put(e, expression.Name("version").Equal(expression.Value(e.Version-1)))
	if err != nil {
		return err
	}
	_, err = w.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put, w.line(e)}})
	if failedAt(cancelReasons(err), 0) {
		return fault.Errorf(fault.Conflict, "the waitlist entry changed meanwhile")
	}
	if err != nil {
		return fmt.Errorf("updating the waitlist entry: %w", err)
	}
	return nil
}
