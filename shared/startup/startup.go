// Package startup holds the cold-start steps the functions' mains share:
// the logger, the AWS configuration, the session key, and failing fast with
// a clear log line when any of them is wrong.
package startup

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patientservicecenter/psc/shared/envconf"
	"github.com/patientservicecenter/psc/shared/secret"
	"github.com/patientservicecenter/psc/shared/session"
)

// Logger returns the function's JSON logger (request id added per record).
func Logger(function string) *slog.Logger {
	return lambdacontext.NewLogger().With("function", function)
}

// Must stops the process when err is set: Lambda reports a failed init,
// and the log line says what was wrong.
func Must(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Error(what, "error", err)
		os.Exit(1)
	}
}

// AWS validates the environment read so far and loads the SDK
// configuration (AWS_ENDPOINT_URL included).
func AWS(ctx context.Context, log *slog.Logger, env *envconf.Env) aws.Config {
	Must(log, "bad configuration", env.Err())
	cfg, err := config.LoadDefaultConfig(ctx)
	Must(log, "loading AWS config", err)
	return cfg
}

// keyRefresh is how often a function reads its keys again, so a rotation
// reaches warm functions.
const keyRefresh = 5 * time.Minute

// Keys reads a purpose's signing keys (current and previous) from Secrets
// Manager, and again every five minutes.
func Keys(ctx context.Context, log *slog.Logger, cfg aws.Config, secretID string) *secret.Rotating {
	keys, err := secret.NewRotating(ctx, secretsmanager.NewFromConfig(cfg), secretID, keyRefresh)
	Must(log, "loading the signing keys", err)
	return keys
}

// SessionTokens reads the session signing keys from Secrets Manager.
func SessionTokens(ctx context.Context, log *slog.Logger, cfg aws.Config, secretID string, ttl time.Duration) *session.Tokens {
	tokens, err := session.NewWithKeys(Keys(ctx, log, cfg, secretID), ttl, time.Now)
	Must(log, "session key", err)
	return tokens
}

// Links reads a link purpose's signing keys from Secrets Manager.
func Links(ctx context.Context, log *slog.Logger, cfg aws.Config, secretID string) *session.Links {
	links, err := session.NewLinksWithKeys(Keys(ctx, log, cfg, secretID), nil)
	Must(log, "link key", err)
	return links
}
