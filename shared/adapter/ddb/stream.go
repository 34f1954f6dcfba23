package ddb

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/patientservicecenter/psc/shared/agent"
	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/routing"
)

// FromStreamImage converts a stream record's image (aws-lambda-go's
// types) to the SDK's attribute values, so the stores' item types decode
// it.
func FromStreamImage(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := fromStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromStream(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		var l []types.AttributeValue
		for _, e := range v.List() {
			av, err := fromStream(e)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		m, err := FromStreamImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	default:
		return nil, fmt.Errorf("unknown attribute type %v", v.DataType())
	}
}

// ConversationFromImage decodes a conversations-table stream image.
func ConversationFromImage(img map[string]events.DynamoDBAttributeValue) (chat.Conversation, error) {
	return fromImage[conversationItem](img, "conversation")
}

// PendingOffer is the offer a conversations-table stream image carries,
// if any (routing.OfferCheck's fields).
func PendingOffer(img map[string]events.DynamoDBAttributeValue) (routing.OfferCheck, error) {
	return fromImage[offerItem](img, "conversation")
}

// AgentProfileFromImage decodes an agents-table stream image as the agent
// it stores (profile, presence, load).
func AgentProfileFromImage(img map[string]events.DynamoDBAttributeValue) (agent.Agent, error) {
	return fromImage[agentItem](img, "agent")
}

// AgentChange is what routing needs of an agents-table stream record.
type AgentChange struct {
	Presence string `dynamodbav:"presence"`
	Active   int    `dynamodbav:"active"`
	Capacity int    `dynamodbav:"capacity"`
}

// AgentFromImage decodes an agents-table stream image.
func AgentFromImage(img map[string]events.DynamoDBAttributeValue) (AgentChange, error) {
	return fromImage[AgentChange](img, "agent")
}

func (a AgentChange) domain() AgentChange { return a }
