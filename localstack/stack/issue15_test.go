package stack

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTheProjectTemplateAsItWasIsRefused puts back into the project's
// template the faults an AWS deployment of it had (issue 15) and shows the
// strict stack refuses each, while the template as it is passes the same
// checks: a green local run must mean a working deployment.
func TestTheProjectTemplateAsItWasIsRefused(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := string(b)
	old := regexp.MustCompile(`Resource: !GetAtt (\w+Logs)\.Arn  # ends in ":\*": the group's log streams`).ReplaceAllString(fixed, `Resource: !Sub $${$1.Arn}:log-stream:*`)
	for _, cut := range []struct{ from, to string }{
		{"  # The agent API's booking routes", "  AgentActionPermission:"},
		{"              # An offer's expiry check is a delayed message to this queue.\n", "              # Lambda sends a failed stream batch's"},
	} {
		i := strings.Index(old, cut.from)
		j := strings.Index(old[max(i, 0):], cut.to) + max(i, 0)
		if i < 0 || j < i {
			t.Fatalf("the template no longer has %q before %q: update this test", cut.from, cut.to)
		}
		old = old[:i] + old[j:]
	}
	old = strings.ReplaceAll(old, "Action: [ses:SendEmail, ses:SendRawEmail]", "Action: ses:SendEmail")
	if old == fixed {
		t.Fatal("no fault put back")
	}

	var params map[string]string
	pb, err := os.ReadFile(filepath.Join(root, "infra", "params", "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pb, &params); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(t *testing.T, body string) (refusal string, bookingOnAgentAPI, routingSends, notifySendsRaw bool) {
		t.Helper()
		dir := t.TempDir()
		path := filepath.Join(dir, "template.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Start(ctx, Options{Root: root, Template: path, Stage: "dev", StateDir: dir, Parameters: params, ResourcesOnly: true, Output: io.Discard,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fns, err := s.functions()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.checkExecutionRoles(ctx, fns); err != nil {
			refusal = err.Error()
		}
		booking := s.res.Refs["BookingFunction"]
		if bookingOnAgentAPI, err = s.invokePermitted(booking, arn("lambda", "function:"+booking), "agentapi", "dev", "slots"); err != nil {
			t.Fatal(err)
		}
		if routingSends, err = s.roles.allowed(ctx, s.res.Attrs["RoutingRole.Arn"], "sqs:SendMessage", s.res.Attrs["RoutingQueue.Arn"]); err != nil {
			t.Fatal(err)
		}
		if notifySendsRaw, err = s.roles.allowed(ctx, s.res.Attrs["NotifyRole.Arn"], "ses:SendRawEmail", arn("ses", "identity/example.org")); err != nil {
			t.Fatal(err)
		}
		return refusal, bookingOnAgentAPI, routingSends, notifySendsRaw
	}

	t.Run("as it was", func(t *testing.T) {
		refusal, booking, routing, notify := check(t, old)
		if !strings.Contains(refusal, "function MessageFunction: AccessDenied") || !strings.Contains(refusal, "logs:CreateLogStream on resource: arn:aws:logs:us-east-1:000000000000:log-group:/psc/dev/message:log-stream:") {
			t.Errorf("log permissions on ${X.Arn}:log-stream:* not refused: %q", refusal)
		}
		if booking {
			t.Error("the agent API may invoke booking without AgentBookingPermission")
		}
		if routing {
			t.Error("routing may send offer checks without sqs:SendMessage")
		}
		if notify {
			t.Error("notify may send raw email with ses:SendEmail alone")
		}
	})
	t.Run("as it is", func(t *testing.T) {
		refusal, booking, routing, notify := check(t, fixed)
		if refusal != "" || !booking || !routing || !notify {
			t.Fatalf("the project's template: refusal %q, agent API may invoke booking %v, routing may send %v, notify may send raw %v", refusal, booking, routing, notify)
		}
	})
}
