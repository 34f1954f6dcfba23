package loadgen

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Consistency is what a run left behind, read from the tables and queues
// once it is over (on a stack that ran nothing else: the check reads every
// item).
type Consistency struct {
	Conversations int
	Closed        int
	Agents        int
	Surveyed      int // conversations with a survey
	Appointments  int // active appointments
	// Problems: a conversation left with or on its way to a person, an
	// agent still holding conversations, a conversation with more than one
	// survey, two active appointments in one slot, a booking confirmed
	// twice in its chat, a dead-letter queue or failure destination with
	// messages.
	Problems []string
}

// CheckConsistency reads what a finished run left: tables and queues are
// the stack's, by logical id (stack.json's "tables" and "queues").
func CheckConsistency(ctx context.Context, cfg aws.Config, tables, queues map[string]string) (Consistency, error) {
	var c Consistency
	db := dynamodb.NewFromConfig(cfg)
	scan := func(table string, out any) error {
		var items []map[string]types.AttributeValue
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(tables[table]), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("reading %s: %w", table, err)
			}
			items = append(items, page.Items...)
		}
		return attributevalue.UnmarshalListOfMaps(items, out)
	}
	var convs []struct {
		ID    string `dynamodbav:"conversationId"`
		State string `dynamodbav:"state"`
		Agent string `dynamodbav:"agentId"`
	}
	if err := scan("ConversationsTable", &convs); err != nil {
		return c, err
	}
	for _, cv := range convs {
		c.Conversations++
		switch cv.State {
		case "", "bot": // a patient who only asked the bot, and left
		case "closed":
			c.Closed++
		default:
			c.Problems = append(c.Problems, fmt.Sprintf("conversation %s was left %s (agent %q)", cv.ID, cv.State, cv.Agent))
		}
	}
	var agents []struct {
		ID     string `dynamodbav:"agentId"`
		Active int    `dynamodbav:"active"`
	}
	if err := scan("AgentsTable", &agents); err != nil {
		return c, err
	}
	for _, a := range agents {
		c.Agents++
		if a.Active != 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("agent %s still holds %d conversations after every one was closed", a.ID, a.Active))
		}
	}
	var surveys []struct {
		ID     string `dynamodbav:"surveyId"`
		Source string `dynamodbav:"sourceId"`
		Kind   string `dynamodbav:"kind"`
	}
	if err := scan("SurveysTable", &surveys); err != nil {
		return c, err
	}
	per := map[string]map[string]bool{}
	for _, sv := range surveys {
		if sv.Kind != "conversation" || sv.Source == "" || sv.ID == "" {
			continue
		}
		if per[sv.Source] == nil {
			per[sv.Source] = map[string]bool{}
		}
		per[sv.Source][sv.ID] = true
	}
	c.Surveyed = len(per)
	for conv, ids := range per {
		if len(ids) > 1 {
			c.Problems = append(c.Problems, fmt.Sprintf("conversation %s has %d surveys", conv, len(ids)))
		}
	}
	var appts []struct {
		SK    string `dynamodbav:"sk"`
		ID    string `dynamodbav:"appointmentId"`
		Slot  string `dynamodbav:"slotId"`
		State string `dynamodbav:"state"`
	}
	if err := scan("SchedulingTable", &appts); err != nil {
		return c, err
	}
	inSlot := map[string]string{}
	for _, a := range appts {
		if a.SK != "appt" || (a.State != "booked" && a.State != "rescheduled") {
			continue
		}
		c.Appointments++
		if other, ok := inSlot[a.Slot]; ok {
			c.Problems = append(c.Problems, fmt.Sprintf("appointments %s and %s hold the same slot %s", other, a.ID, a.Slot))
		}
		inSlot[a.Slot] = a.ID
	}
	var msgs []struct {
		Conversation string `dynamodbav:"conversationId"`
		Role         string `dynamodbav:"role"`
		Text         string `dynamodbav:"text"`
	}
	if err := scan("MessagesTable", &msgs); err != nil {
		return c, err
	}
	confirmations := map[string]int{}
	for _, m := range msgs {
		if m.Role == "system" && strings.Contains(m.Text, "Appointment confirmed") {
			confirmations[m.Conversation]++
		}
	}
	for conv, n := range confirmations {
		if n > 1 {
			c.Problems = append(c.Problems, fmt.Sprintf("conversation %s holds %d booking confirmations", conv, n))
		}
	}
	q := sqs.NewFromConfig(cfg)
	for logical, url := range queues {
		if !strings.HasSuffix(logical, "DLQ") && logical != "StreamFailureQueue" {
			continue
		}
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			return c, fmt.Errorf("reading %s: %w", logical, err)
		}
		if n := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; n != "0" {
			c.Problems = append(c.Problems, fmt.Sprintf("%s holds %s messages", logical, n))
		}
	}
	return c, nil
}

// Print writes the check's figures and problems.
func (c Consistency) Print(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "\nLeft behind: %d conversations (%d closed), %d agents, %d conversations surveyed, %d active appointments, %d inconsistencies\n",
		c.Conversations, c.Closed, c.Agents, c.Surveyed, c.Appointments, len(c.Problems))
	for _, p := range c.Problems {
		fmt.Fprintf(w, "inconsistent: %s\n", p)
	}
}
