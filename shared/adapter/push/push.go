// Package push sends frames to WebSocket clients through the API Gateway
// Management API (@connections).
package push

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/patientservicecenter/psc/shared/chat"
)

// API is the part of the management client the pusher uses.
type API interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// Pusher posts frames to connections.
type Pusher struct{ api API }

var _ chat.Pusher = (*Pusher)(nil)

// New returns a Pusher on the management API client.
func New(api API) *Pusher { return &Pusher{api: api} }

// NewClient builds a management API client for a WebSocket API endpoint,
// given as the API's wss:// (or, locally, ws://) URL with its stage. The
// management API is the same host over https (http locally).
func NewClient(cfg aws.Config, endpoint string) (*apigatewaymanagementapi.Client, error) {
	base, err := ManagementURL(endpoint)
	if err != nil {
		return nil, err
	}
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(base)
	}), nil
}

// ManagementURL turns wss://host/stage into https://host/stage (and
// ws:// into http://).
func ManagementURL(endpoint string) (string, error) {
	switch {
	case strings.HasPrefix(endpoint, "wss://"):
		return "https://" + strings.TrimPrefix(endpoint, "wss://"), nil
	case strings.HasPrefix(endpoint, "ws://"):
		return "http://" + strings.TrimPrefix(endpoint, "ws://"), nil
	case strings.HasPrefix(endpoint, "https://"), strings.HasPrefix(endpoint, "http://"):
		return endpoint, nil
	}
	return "", fmt.Errorf("websocket endpoint %q must start with wss://, ws://, https:// or http://", endpoint)
}

// Push posts one frame; a connection that is gone (410) is chat.ErrGone.
func (p *Pusher) Push(ctx context.Context, connectionID string, frame []byte) error {
	_, err := p.api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &connectionID, Data: frame})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return chat.ErrGone
	}
	if err != nil {
		return fmt.Errorf("posting to connection: %w", err)
	}
	return nil
}
