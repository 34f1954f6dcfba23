package secret_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patientservicecenter/psc/localstack/stack"
	"github.com/patientservicecenter/psc/localstack/stacktest"
	"github.com/patientservicecenter/psc/shared/adapter/secret"
)

var env *stacktest.Env

func TestMain(m *testing.M) { stacktest.Main(m, &env, &stack.Options{ResourcesOnly: true}) }

// TestRotationKeepsThePreviousKeyVerifying: after a rotation (a new
// AWSCURRENT), the current key signs and the previous one still verifies.
func TestRotationKeepsThePreviousKeyVerifying(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(env.Stack.AWSConfig())
	name := fmt.Sprintf("rotation-%d", time.Now().UnixNano())
	first, second := bytes.Repeat([]byte("a"), 40), bytes.Repeat([]byte("b"), 40)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String(string(first))}); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewRotating(ctx, sm, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := keys.Verifying(); len(v) != 1 || !bytes.Equal(v[0], first) || !bytes.Equal(keys.Signing(), first) {
		t.Fatalf("before a rotation: signing %q, verifying %q", keys.Signing(), v)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String(string(second))}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(keys.Signing(), second) {
		t.Fatalf("after the rotation the signing key is %q, want the new one", keys.Signing())
	}
	if v := keys.Verifying(); len(v) != 2 || !bytes.Equal(v[0], second) || !bytes.Equal(v[1], first) {
		t.Fatalf("after the rotation the verifying keys are %q, want the new and the previous", v)
	}
}
