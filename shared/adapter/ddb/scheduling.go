package ddb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/scheduling"
)

// ByPatientIndex is the scheduling table's index of appointments by
// patient and start.
const ByPatientIndex = "byPatient"

// Appointments is the scheduling store on one table: an item per
// appointment (pk "appt#<id>") and an item per 15-minute unit a booking
// holds (pk "unit#<provider>", sk the unit's start). Booking puts the
// appointment and its units in one transaction, each on condition that it
// does not exist, so two bookings can never hold the same unit.
type Appointments struct {
	api       API
	table     string
	retention time.Duration
}

var _ scheduling.Store = (*Appointments)(nil)

// NewAppointments returns the store; retention is how long an appointment
// is kept after its visit (TTL).
func NewAppointments(api API, table string, retention time.Duration) *Appointments {
	return &Appointments{api: api, table: table, retention: retention}
}

type appointmentItem struct {
	PK             string              `dynamodbav:"pk"`
	SK             string              `dynamodbav:"sk"`
	ID             string              `dynamodbav:"appointmentId"`
	PatientID      string              `dynamodbav:"patientId"`
	PatientName    string              `dynamodbav:"patientName"`
	PatientEmail   string              `dynamodbav:"patientEmail,omitempty"`
	PatientPhone   string              `dynamodbav:"patientPhone,omitempty"`
	SMSConsentAt   string              `dynamodbav:"smsConsentAt,omitempty"`
	Locale         string              `dynamodbav:"locale,omitempty"`
	ConversationID string              `dynamodbav:"conversationId,omitempty"`
	SlotID         string              `dynamodbav:"slotId"`
	Provider       string              `dynamodbav:"provider"`
	VisitType      string              `dynamodbav:"visitType"`
	Start          string              `dynamodbav:"start"`
	End            string              `dynamodbav:"end"`
	Location       string              `dynamodbav:"location"`
	Mode           string              `dynamodbav:"mode"`
	State          string              `dynamodbav:"state"`
	JoinURL        string              `dynamodbav:"joinUrl,omitempty"`
	Confirmed      bool                `dynamodbav:"confirmed,omitempty"`
	HoldUntil      string              `dynamodbav:"holdUntil,omitempty"`
	WaitlistID     string              `dynamodbav:"waitlistId,omitempty"`
	History        []scheduling.Change `dynamodbav:"history"`
	Version        int                 `dynamodbav:"version"`
	ExpiresAt      int64               `dynamodbav:"expiresAt"`
}

type unitItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	AppointmentID string `dynamodbav:"appointmentId"`
	ExpiresAt     int64  `dynamodbav:"expiresAt"`
}

func appointmentKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "appt#" + id}, "sk": &types.AttributeValueMemberS{Value: "appt"}}
}

func unitKey(provider string, u time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "unit#" + provider}, "sk": &types.AttributeValueMemberS{Value: sortable(u)}}
}

func (s *Appointments) item(a scheduling.Appointment) appointmentItem {
	return appointmentItem{PK: "appt#" + a.ID, SK: "appt", ID: a.ID, PatientID: a.PatientID, PatientName: a.PatientName, PatientEmail: a.PatientEmail,
		PatientPhone: a.PatientPhone, SMSConsentAt: optionalTime(a.SMSConsentAt), Locale: a.Locale, ConversationID: a.ConversationID, SlotID: a.Slot.ID, Provider: a.Slot.Provider, VisitType: a.Slot.VisitType,
		Start: sortable(a.Slot.Start), End: sortable(a.Slot.End), Location: a.Slot.Location, Mode: a.Slot.Mode, State: string(a.State),
		JoinURL: a.JoinURL, Confirmed: a.Confirmed, HoldUntil: optionalTime(a.HoldUntil), WaitlistID: a.WaitlistID, History: a.History, Version: a.Version, ExpiresAt: a.Slot.End.Add(s.retention).Unix()}
}

func (it appointmentItem) domain() scheduling.Appointment {
	start, _ := time.Parse(time.RFC3339Nano, it.Start)
	end, _ := time.Parse(time.RFC3339Nano, it.End)
	return scheduling.Appointment{ID: it.ID, PatientID: it.PatientID, PatientName: it.PatientName, PatientEmail: it.PatientEmail, Locale: it.Locale,
		PatientPhone: it.PatientPhone, SMSConsentAt: parseTime(it.SMSConsentAt), ConversationID: it.ConversationID, State: scheduling.State(it.State), JoinURL: it.JoinURL, Confirmed: it.Confirmed, HoldUntil: parseTime(it.HoldUntil), WaitlistID: it.WaitlistID, History: it.History, Version: it.Version,
		Slot: scheduling.Slot{ID: it.SlotID, Provider: it.Provider, VisitType: it.VisitType, Start: start.UTC(), End: end.UTC(), Location: it.Location, Mode: it.Mode}}
}

// AppointmentFromImage decodes a scheduling-table stream image; ok is
// false for an item that is not an appointment (a held unit).
func AppointmentFromImage(av map[string]types.AttributeValue) (scheduling.Appointment, bool, error) {
	var it appointmentItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return scheduling.Appointment{}, false, fmt.Errorf("unmarshalling appointment: %w", err)
	}
	if it.SK != "appt" {
		return scheduling.Appointment{}, false, nil
	}
	return it.domain(), true, nil
}

// Busy lists the starts of the provider's held units in [from, to).
func (s *Appointments) Busy(ctx context.Context, provider string, from, to time.Time) (map[int64]bool, error) {
	expr := must(expression.NewBuilder().
		WithKeyCondition(expression.Key("pk").Equal(expression.Value("unit#" + provider)).
			And(expression.Key("sk").Between(expression.Value(sortable(from)), expression.Value(sortable(to))))).
		WithProjection(expression.NamesList(expression.Name("sk"))).Build())
	items, err := queryAll[unitItem](ctx, s.api, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: boolPtr(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading held units: %w", err)
	}
	out := make(map[int64]bool, len(items))
	for _, it := range items {
		if u, err := time.Parse(time.RFC3339Nano, it.SK); err == nil && u.Before(to) {
			out[u.Unix()] = true
		}
	}
	return out, nil
}

// Create puts the appointment and holds its units, in one transaction.
func (s *Appointments) Create(ctx context.Context, a scheduling.Appointment) error {
	appt, err := attributevalue.MarshalMap(s.item(a))
	if err != nil {
		return fmt.Errorf("marshalling appointment: %w", err)
	}
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build())
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: &s.table, Item: appt,
		ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}}}
	reasons, err := s.transactHolding(ctx, items, a, a.Slot.Units(), "booking")
	switch {
	case err != nil:
		return err
	case reasons == nil:
		return nil
	case reasons[0] == "ConditionalCheckFailed":
		return scheduling.ErrExists
	default:
		return scheduling.ErrSlotTaken
	}
}

// Update replaces the appointment if the stored one is at a.Version-1,
// releasing and holding units in the same transaction.
func (s *Appointments) Update(ctx context.Context, a scheduling.Appointment, release, hold []time.Time) error {
	appt, err := attributevalue.MarshalMap(s.item(a))
	if err != nil {
		return fmt.Errorf("marshalling appointment: %w", err)
	}
	prev := must(expression.NewBuilder().WithCondition(expression.Name("version").Equal(expression.Value(a.Version - 1))).Build())
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: &s.table, Item: appt,
		ConditionExpression: prev.Condition(), ExpressionAttributeNames: prev.Names(), ExpressionAttributeValues: prev.Values()}}}
	mine := must(expression.NewBuilder().WithCondition(expression.Name("appointmentId").Equal(expression.Value(a.ID))).Build())
	// Released units are the appointment's before the change: its old
	// slot's provider, which a reschedule keeps or changes.
	oldProvider := a.Slot.Provider
	if len(a.History) > 0 {
		if last := a.History[len(a.History)-1]; last.From != "" {
			oldProvider = providerOf(last.From)
		}
	}
	for _, u := range release {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: unitKey(oldProvider, u),
			ConditionExpression: mine.Condition(), ExpressionAttributeNames: mine.Names(), ExpressionAttributeValues: mine.Values()}})
	}
	reasons, err := s.transactHolding(ctx, items, a, hold, "updating appointment")
	switch {
	case err != nil:
		return err
	case reasons == nil:
		return nil
	case slices.Contains(reasons[1+len(release):], "ConditionalCheckFailed"):
		return scheduling.ErrSlotTaken
	default:
		return fault.Errorf(fault.Conflict, "the appointment changed meanwhile; try again")
	}
}

// providerOf reads the provider from a slot id (provider~type~start).
func providerOf(slotID string) string {
	for i := range len(slotID) {
		if slotID[i] == '~' {
			return slotID[:i]
		}
	}
	return slotID
}

func (s *Appointments) holds(a scheduling.Appointment, units []time.Time) ([]types.TransactWriteItem, error) {
	absent := must(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build())
	var items []types.TransactWriteItem
	for _, u := range units {
		it, err := attributevalue.MarshalMap(unitItem{PK: "unit#" + a.Slot.Provider, SK: sortable(u), AppointmentID: a.ID,
			ExpiresAt: a.Slot.End.Add(24 * time.Hour).Unix()})
		if err != nil {
			return nil, fmt.Errorf("marshalling unit: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it,
			ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names()}})
	}
	return items, nil
}

// transactHolding runs the transaction of items and the holds of units
// for a; a failed transaction's error is wrapped with doing.
func (s *Appointments) transactHolding(ctx context.Context, items []types.TransactWriteItem, a scheduling.Appointment, units []time.Time, doing string) ([]string, error) {
	holds, err := s.holds(a, units)
	if err != nil {
		return nil, err
	}
	reasons, err := s.transact(ctx, append(items, holds...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return reasons, nil
}

// transact runs a transaction; a condition that failed returns the
// per-item reasons. A transaction that lost a race with another one in
// flight on the same items (TransactionConflict) is tried again, so its
// outcome is decided by the conditions, not by timing.
func (s *Appointments) transact(ctx context.Context, items []types.TransactWriteItem) ([]string, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons := cancelReasons(err)
		if err == nil {
			return nil, nil
		}
		if reasons == nil {
			return nil, err
		}
		if !slices.Contains(reasons, "TransactionConflict") || attempt == 8 {
			return reasons, nil
		}
		time.Sleep(time.Duration(5+rand.IntN(20*(attempt+1))) * time.Millisecond)
	}
}

// Get reads an appointment.
func (s *Appointments) Get(ctx context.Context, id string) (scheduling.Appointment, error) {
	it, err := getItem[appointmentItem](ctx, s.api, s.table, appointmentKey(id), "appointment")
	if err != nil {
		return scheduling.Appointment{}, err
	}
	return it.domain(), nil
}

// ForPatient lists a patient's appointments by start.
func (s *Appointments) ForPatient(ctx context.Context, patientID string) ([]scheduling.Appointment, error) {
	out, err := queryEqual[appointmentItem, scheduling.Appointment](ctx, s.api, s.table, ByPatientIndex, "patientId", patientID)
	if err != nil {
		return nil, fmt.Errorf("listing the patient's appointments: %w", err)
	}
	return out, nil
}

// Between lists the appointments whose visit starts in [from, to): a
// filtered scan, for exports (not a request path).
func (s *Appointments) Between(ctx context.Context, from, to time.Time) ([]scheduling.Appointment, error) {
	expr := must(expression.NewBuilder().WithFilter(expression.Name("sk").Equal(expression.Value("appt")).
		And(expression.Name("start").GreaterThanEqual(expression.Value(sortable(from)))).
		And(expression.Name("start").LessThan(expression.Value(sortable(to))))).Build())
	items, err := scanAll[appointmentItem](ctx, s.api, &dynamodb.ScanInput{TableName: &s.table, FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil {
		return nil, fmt.Errorf("listing appointments: %w", err)
	}
	return domains[appointmentItem, scheduling.Appointment](items), nil
}
