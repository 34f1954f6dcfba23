package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
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
	// AgentImages is how many versions of agents' items the check read
	// from the agents table's stream: every one must be within capacity.
	AgentImages int
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
	n, over, err := CheckCapacityHistory(ctx, cfg, tables["AgentsTable"])
	if err != nil {
		return c, err
	}
	c.AgentImages = n
	c.Problems = append(c.Problems, over...)
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

// CheckCapacityHistory reads every version of every agent's item the
// agents table's stream holds (24 hours of them), so an agent over capacity
// for a moment during a run is caught, not only one left so at its end. It
// returns how many versions it read and a problem per agent found over
// capacity.
func CheckCapacityHistory(ctx context.Context, cfg aws.Config, table string) (images int, problems []string, err error) {
	db := dynamodb.NewFromConfig(cfg)
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return images, problems, fmt.Errorf("describing the agents table: %w", err)
	}
	if desc.Table.LatestStreamArn == nil {
		return images, problems, fmt.Errorf("the agents table has no stream")
	}
	st := dynamodbstreams.NewFromConfig(cfg)
	var shards []streamtypes.Shard
	var last *string
	for {
		out, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn, ExclusiveStartShardId: last})
		if err != nil {
			return images, problems, fmt.Errorf("describing the agents stream: %w", err)
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if last = out.StreamDescription.LastEvaluatedShardId; last == nil {
			break
		}
	}
	over := map[string]bool{}
	for _, sh := range shards {
		it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn, ShardId: sh.ShardId,
			ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return images, problems, fmt.Errorf("reading the agents stream: %w", err)
		}
		// An open shard answers with a next iterator forever: stop at the
		// first empty page.
		for iter := it.ShardIterator; iter != nil; {
			out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return images, problems, fmt.Errorf("reading the agents stream: %w", err)
			}
			for _, rec := range out.Records {
				img := rec.Dynamodb.NewImage
				if img == nil {
					continue
				}
				images++
				num := func(name string) int {
					n, _ := img[name].(*streamtypes.AttributeValueMemberN)
					if n == nil {
						return 0
					}
					v, _ := strconv.Atoi(n.Value)
					return v
				}
				id, _ := img["agentId"].(*streamtypes.AttributeValueMemberS)
				a := struct {
					ID               string
					Active, Capacity int
				}{"", num("active"), num("capacity")}
				if id != nil {
					a.ID = id.Value
				}
				if a.Active > a.Capacity && !over[a.ID] {
					over[a.ID] = true
					problems = append(problems, fmt.Sprintf("agent %s held %d conversations with a capacity of %d (stream record %s)", a.ID, a.Active, a.Capacity, aws.ToString(rec.Dynamodb.SequenceNumber)))
				}
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return images, problems, nil
}

// Print writes the check's figures and problems.
func (c Consistency) Print(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "\nLeft behind: %d conversations (%d closed), %d agents (%d versions of their items read, each within capacity or listed), %d conversations surveyed, %d active appointments, %d inconsistencies\n",
		c.Conversations, c.Closed, c.Agents, c.AgentImages, c.Surveyed, c.Appointments, len(c.Problems))
	for _, p := range c.Problems {
		fmt.Fprintf(w, "inconsistent: %s\n", p)
	}
}
