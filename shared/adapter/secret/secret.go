// Package secret reads key material from AWS Secrets Manager.
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// API is the part of the Secrets Manager client used here.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Key returns the secret's string value as bytes.
func Key(ctx context.Context, api API, id string) ([]byte, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return nil, fmt.Errorf("secret has no string value")
	}
	return []byte(*out.SecretString), nil
}

// Rotating is a purpose's keys as Secrets Manager holds them: the secret's
// AWSCURRENT version signs; AWSCURRENT and AWSPREVIOUS verify. It reads
// them again every refresh, so a rotation (a new AWSCURRENT) reaches warm
// functions within that time, while what the previous key signed still
// verifies (docs/operations.md, "Rotating the keys").
type Rotating struct {
	api     API
	id      string
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	current  []byte
	previous []byte
	read     time.Time
}

// NewRotating reads the secret's current and previous versions.
func NewRotating(ctx context.Context, api API, id string, refresh time.Duration) (*Rotating, error) {
	r := &Rotating{api: api, id: id, refresh: refresh, now: time.Now}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rotating) load(ctx context.Context) error {
	cur, err := Key(ctx, r.api, r.id)
	if err != nil {
		return err
	}
	stage := "AWSPREVIOUS"
	var prev []byte
	out, err := r.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &r.id, VersionStage: &stage})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		// never rotated
	case err != nil:
		return fmt.Errorf("reading the previous key: %w", err)
	case out.SecretString != nil:
		prev = []byte(*out.SecretString)
	}
	r.mu.Lock()
	r.current, r.previous, r.read = cur, prev, r.now()
	r.mu.Unlock()
	return nil
}

// fresh re-reads the keys once refresh has passed; a failed read keeps
// the keys it has (the next call tries again).
func (r *Rotating) fresh() {
	r.mu.Lock()
	due := r.now().Sub(r.read) >= r.refresh
	if due {
		r.read = r.now() // one reader at a time
	}
	r.mu.Unlock()
	if due {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = r.load(ctx)
	}
}

// Signing returns the current key.
func (r *Rotating) Signing() []byte {
	r.fresh()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Verifying returns the current key and the previous one, if any.
func (r *Rotating) Verifying() [][]byte {
	r.fresh()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.previous) == 0 {
		return [][]byte{r.current}
	}
	return [][]byte{r.current, r.previous}
}
