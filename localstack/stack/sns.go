package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/patientservicecenter/psc/localstack/template"
)

// createTopics creates the template's SNS topics and their policies, sets
// the queues' policies, and subscribes queues to topics in the emulator,
// which delivers a topic's messages to its queues (the functions then poll
// them as their SQS events do).
//
// AWS delivers to a queue only what the queue's policy lets the topic send
// (Amazon SNS Developer Guide, "Fanout to Amazon SQS queues": the queue
// needs a policy allowing sns.amazonaws.com sqs:SendMessage from the
// topic); the emulator delivers regardless. So the stack subscribes a
// queue only when its policy allows the topic, and otherwise says that
// AWS would drop every message.
func (s *Stack) createTopics(ctx context.Context) error {
	client := sns.NewFromConfig(awsConfig(s.emu.endpoint))
	for _, id := range s.ofType("AWS::SNS::Topic") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		name, _ := props["TopicName"].(string)
		if name == "" {
			name = s.opts.StackName + "-" + id
		}
		attrs := map[string]string{}
		if k, ok := props["KmsMasterKeyId"]; ok {
			attrs["KmsMasterKeyId"] = fmt.Sprint(k)
		}
		out, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: &name, Attributes: attrs})
		if err != nil {
			return fmt.Errorf("creating topic %s: %w", id, err)
		}
		s.res.Refs[id] = *out.TopicArn // a topic's Ref is its ARN
		s.res.Attrs[id+".TopicArn"], s.res.Attrs[id+".TopicName"] = *out.TopicArn, name
		s.Outputs.Topics[id] = *out.TopicArn
	}
	for _, id := range s.ofType("AWS::SNS::TopicPolicy") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		doc, _ := json.Marshal(props["PolicyDocument"])
		for _, t := range template.ListOf(props["Topics"]) {
			topic := fmt.Sprint(t)
			if _, err := client.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &topic, AttributeName: strPtr("Policy"), AttributeValue: strPtr(string(doc))}); err != nil {
				return fmt.Errorf("topic policy %s: %w", id, err)
			}
		}
	}
	queuePolicy := map[string]any{} // queue ARN → its policy
	for _, id := range s.ofType("AWS::SQS::QueuePolicy") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		doc, _ := json.Marshal(props["PolicyDocument"])
		for _, q := range template.ListOf(props["Queues"]) {
			url := fmt.Sprint(q)
			if _, err := s.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"Policy": string(doc)}}); err != nil {
				return fmt.Errorf("queue policy %s: %w", id, err)
			}
			for qarn, u := range s.queueURLByARN {
				if u == url {
					queuePolicy[qarn] = props["PolicyDocument"]
				}
			}
		}
	}
	for _, id := range s.ofType("AWS::SNS::Subscription") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		topic, protocol, endpoint := fmt.Sprint(props["TopicArn"]), fmt.Sprint(props["Protocol"]), fmt.Sprint(props["Endpoint"])
		if protocol != "sqs" {
			s.log.Info("subscription not delivered by the local stack", "subscription", id, "protocol", protocol)
			continue
		}
		if !topicMaySend(queuePolicy[endpoint], endpoint, topic) {
			s.log.Warn("subscription left out: the queue's policy does not let the topic send, so AWS would drop every message", "subscription", id, "queue", endpoint, "topic", topic)
			continue
		}
		attrs := map[string]string{}
		if props["RawMessageDelivery"] == true || props["RawMessageDelivery"] == "true" {
			attrs["RawMessageDelivery"] = "true"
		}
		if _, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &topic, Protocol: &protocol, Endpoint: &endpoint, Attributes: attrs}); err != nil {
			return fmt.Errorf("subscribing %s: %w", id, err)
		}
	}
	return nil
}

func strPtr(s string) *string { return &s }

// topicMaySend evaluates a queue's policy as SQS does for a message SNS
// delivers from a topic: sqs:SendMessage by the service principal
// sns.amazonaws.com on the queue, with the topic as aws:SourceArn and the
// stack's account as aws:SourceAccount. An explicit Deny wins; a condition
// operator it does not know does not match (as an unmet condition).
func topicMaySend(policy any, queueARN, topicARN string) bool {
	allowed := false
	for _, st := range template.ListOf(template.MapOf(policy)["Statement"]) {
		m := template.MapOf(st)
		if !principalIsSNS(m["Principal"]) || !anyMatch(m["Action"], "sqs:SendMessage", true) || !anyMatch(m["Resource"], queueARN, false) ||
			!conditionsHold(template.MapOf(m["Condition"]), map[string]string{"aws:sourcearn": topicARN, "aws:sourceaccount": AccountID}) {
			continue
		}
		switch m["Effect"] {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func principalIsSNS(p any) bool {
	if p == "*" {
		return true
	}
	return anyMatch(template.MapOf(p)["Service"], "sns.amazonaws.com", false) || anyMatch(template.MapOf(p)["AWS"], "*", false)
}

// anyMatch reports whether one of the patterns (a string or a list) matches
// value, with IAM's * and ? wildcards; actions match without case.
func anyMatch(patterns any, value string, fold bool) bool {
	list := template.ListOf(patterns)
	if s, ok := patterns.(string); ok {
		list = []any{s}
	}
	for _, p := range list {
		pat := fmt.Sprint(p)
		if fold {
			pat, value = strings.ToLower(pat), strings.ToLower(value)
		}
		if ok, _ := path.Match(strings.ReplaceAll(pat, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00")); ok || pat == "*" {
			return true
		}
	}
	return false
}

// conditionsHold evaluates a statement's conditions against the context
// keys (lower case) of a delivery.
func conditionsHold(cond map[string]any, keys map[string]string) bool {
	for op, byKey := range cond {
		for k, want := range template.MapOf(byKey) {
			got, known := keys[strings.ToLower(k)]
			if !known {
				return false
			}
			var ok bool
			switch op {
			case "ArnEquals", "StringEquals":
				ok = anyEqual(want, got)
			case "ArnLike", "StringLike":
				ok = anyMatch(want, got, false)
			default:
				return false
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func anyEqual(want any, got string) bool {
	if s, ok := want.(string); ok {
		return s == got
	}
	for _, w := range template.ListOf(want) {
		if fmt.Sprint(w) == got {
			return true
		}
	}
	return false
}
