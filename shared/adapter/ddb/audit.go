package ddb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/agent"
)

// Audit is the trail of reads of patient context: one item per read,
// keyed by patient (who read my record?) and time.
type Audit struct {
	api       API
	table     string
	retention time.Duration
}

var _ agent.Audit = (*Audit)(nil)

// NewAudit returns the audit trail on the table; items expire after
// retention (a records-retention setting, years).
func NewAudit(api API, table string, retention time.Duration) *Audit {
	return &Audit{api: api, table: table, retention: retention}
}

type auditItem struct {
	PatientID      string `dynamodbav:"patientId"`
	SK             string `dynamodbav:"sk"` // <time>#<reader>#<conversation>#<random>
	ReaderID       string `dynamodbav:"readerId"`
	ReaderRole     string `dynamodbav:"readerRole"`
	ConversationID string `dynamodbav:"conversationId"`
	What           string `dynamodbav:"what"`
	Why            string `dynamodbav:"why"`
	At             string `dynamodbav:"at"`
	ExpiresAt      int64  `dynamodbav:"expiresAt"`
}

// Record writes one read to the trail before the data is shown. Each
// entry has a key of its own (a random suffix) and is written only if that
// key is new: two reads at the same instant are two entries, and an entry
// is never overwritten.
func (a *Audit) Record(ctx context.Context, e agent.AuditEntry) error {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("audit entry id: %w", err)
	}
	item, err := attributevalue.MarshalMap(auditItem{
		PatientID: e.PatientID, SK: sortable(e.At) + "#" + e.ReaderID + "#" + e.ConversationID + "#" + hex.EncodeToString(b), ReaderID: e.ReaderID,
		ReaderRole: e.ReaderRole, ConversationID: e.ConversationID, What: e.What, Why: e.Why,
		At: e.At.UTC().Format(timeLayout), ExpiresAt: e.At.Add(a.retention).Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshalling audit entry: %w", err)
	}
	if _, err := a.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &a.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(sk)")}); err != nil {
		return fmt.Errorf("writing audit entry: %w", err)
	}
	return nil
}
