package stack

import (
	"encoding/json"
	"testing"
)

// TestAQueueTakesATopicsMessagesOnlyIfItsPolicySaysSo follows the Amazon
// SNS Developer Guide, "Fanout to Amazon SQS queues" ("Step 2: Give
// permission to the Amazon SNS topic to send messages to the Amazon SQS
// queue"): without a queue policy letting sns.amazonaws.com send from the
// topic, SQS refuses SNS's deliveries.
func TestAQueueTakesATopicsMessagesOnlyIfItsPolicySaysSo(t *testing.T) {
	const queue, topic = "arn:aws:sqs:us-east-1:000000000000:in", "arn:aws:sns:us-east-1:000000000000:inbound"
	policy := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, policy string
		want         bool
	}{
		{"the template's", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`, true},
		{"no policy", `null`, false},
		{"another topic", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:000000000000:other"}}}]}`, false},
		{"another principal", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `"}]}`, false},
		{"receive only", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":["sqs:ReceiveMessage"],"Resource":"` + queue + `"}]}`, false},
		{"wildcards", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"SQS:*","Resource":"arn:aws:sqs:*:000000000000:*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:000000000000:*"}}}]}`, true},
		{"a deny wins", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `"},{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}]}`, false},
		{"an unknown condition", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, false},
	} {
		if got := topicMaySend(policy(tc.policy), queue, topic); got != tc.want {
			t.Errorf("%s: topicMaySend = %v, want %v", tc.name, got, tc.want)
		}
	}
}
