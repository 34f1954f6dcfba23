package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/patientservicecenter/psc/localstack/template"
)

// Roles are enforced as AWS enforces them: the template's roles are
// created in the emulator's IAM with their policies, each function runs
// with temporary credentials of its own role (sts:AssumeRole, as the
// Lambda service does), and the emulator (MiniStack with AUTH=true)
// evaluates every call it serves against that role. Where the emulator
// does not check what AWS checks (Lambda invoke permissions, log delivery,
// event source polling, @connections, SES raw sends), the stack asks the
// emulator's policy simulator (iam:SimulatePrincipalPolicy, the same
// evaluator) with the action and resource AWS would check.

// sessionDuration is how long a function's credentials last. AWS Lambda
// refreshes an execution environment's credentials; the local stack gives
// each process credentials for the longest session a role allows.
const sessionDuration = 12 * time.Hour

// roles holds the template's roles in the emulator.
type roles struct {
	iam *iam.Client
	sts *sts.Client

	mu      sync.Mutex
	creds   map[string]roleCreds  // role ARN → credentials
	byKey   map[string]string     // access key id → role ARN
	verdict map[[3]string]verdict // role ARN, action, resource → decision
}

type roleCreds struct {
	keyID, secret, token string
	expires              time.Time
}

type verdict struct {
	allowed bool
	err     error
}

// createRoles creates every AWS::IAM::Role of the template in the
// emulator, with its trust policy and inline policies, resolved.
func (s *Stack) createRoles(ctx context.Context) error {
	cfg := awsConfig(s.emu.endpoint)
	s.roles = &roles{iam: iam.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg), creds: map[string]roleCreds{}, byKey: map[string]string{}, verdict: map[[3]string]verdict{}}
	ids := s.ofType("AWS::IAM::Role")
	sort.Strings(ids)
	for _, id := range ids {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		name := s.res.Refs[id]
		trust, err := json.Marshal(props["AssumeRolePolicyDocument"])
		if err != nil {
			return fmt.Errorf("role %s: %w", id, err)
		}
		_, err = s.roles.iam.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust)),
			MaxSessionDuration: aws.Int32(int32(sessionDuration / time.Second)),
		})
		var exists *iamtypes.EntityAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating role %s: %w", id, err)
		}
		for _, p := range template.ListOf(props["Policies"]) {
			pm := template.MapOf(p)
			doc, err := json.Marshal(pm["PolicyDocument"])
			if err != nil {
				return fmt.Errorf("role %s: %w", id, err)
			}
			if _, err := s.roles.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
				RoleName: aws.String(name), PolicyName: aws.String(fmt.Sprint(pm["PolicyName"])), PolicyDocument: aws.String(string(doc)),
			}); err != nil {
				return fmt.Errorf("role %s: policy %v: %w", id, pm["PolicyName"], err)
			}
		}
		for _, a := range template.ListOf(props["ManagedPolicyArns"]) {
			if _, err := s.roles.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(fmt.Sprint(a))}); err != nil {
				return fmt.Errorf("role %s: attaching %v: %w", id, a, err)
			}
		}
	}
	return s.createPolicies(ctx)
}

// createPolicies puts each AWS::IAM::Policy of the template (a policy a
// condition adds to a role) into its roles, as CloudFormation does.
func (s *Stack) createPolicies(ctx context.Context) error {
	for _, id := range s.ofType("AWS::IAM::Policy") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		doc, err := json.Marshal(props["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("policy %s: %w", id, err)
		}
		for _, role := range template.ListOf(props["Roles"]) {
			if _, err := s.roles.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
				RoleName: aws.String(fmt.Sprint(role)), PolicyName: aws.String(fmt.Sprint(props["PolicyName"])), PolicyDocument: aws.String(string(doc)),
			}); err != nil {
				return fmt.Errorf("policy %s on %v: %w", id, role, err)
			}
		}
	}
	return nil
}

// trustsLambda reports whether a role's trust policy lets the Lambda
// service assume it. AWS refuses to create a function whose role it
// cannot assume; the emulator lets the root credentials assume any role,
// so the stack checks the trust policy itself.
func trustsLambda(doc any) bool {
	for _, st := range template.ListOf(template.MapOf(doc)["Statement"]) {
		m := template.MapOf(st)
		if m["Effect"] != "Allow" || !listHas(m["Action"], "sts:AssumeRole") {
			continue
		}
		if listHas(template.MapOf(m["Principal"])["Service"], "lambda.amazonaws.com") {
			return true
		}
	}
	return false
}

func listHas(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case []any:
		for _, e := range x {
			if fmt.Sprint(e) == want {
				return true
			}
		}
	}
	return false
}

// credentials returns temporary credentials of a role, as the Lambda
// service gets them for a function's execution environment.
func (r *roles) credentials(ctx context.Context, roleARN, session string) (roleCreds, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.creds[roleARN]; ok && time.Until(c.expires) > time.Hour {
		return c, nil
	}
	out, err := r.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(int32(sessionDuration / time.Second)),
	})
	if err != nil {
		return roleCreds{}, fmt.Errorf("assuming role %s: %w", roleARN, err)
	}
	c := roleCreds{keyID: aws.ToString(out.Credentials.AccessKeyId), secret: aws.ToString(out.Credentials.SecretAccessKey), token: aws.ToString(out.Credentials.SessionToken), expires: aws.ToTime(out.Credentials.Expiration)}
	r.creds[roleARN] = c
	r.byKey[c.keyID] = roleARN
	return c, nil
}

// roleOfKey returns the role whose credentials carry this access key id.
func (r *roles) roleOfKey(keyID string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.byKey[keyID]
	return a, ok
}

// allowed asks the emulator's policy evaluator whether a role may do an
// action on a resource. Decisions are cached: the policies do not change
// while the stack runs.
func (r *roles) allowed(ctx context.Context, roleARN, action, resource string) (bool, error) {
	key := [3]string{roleARN, action, resource}
	r.mu.Lock()
	v, ok := r.verdict[key]
	r.mu.Unlock()
	if ok {
		return v.allowed, v.err
	}
	out, err := r.iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(roleARN), ActionNames: []string{action}, ResourceArns: []string{resource},
	})
	if err != nil {
		return false, fmt.Errorf("evaluating %s on %s for %s: %w", action, resource, roleARN, err)
	}
	v = verdict{}
	for _, e := range out.EvaluationResults {
		v.allowed = e.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed
	}
	r.mu.Lock()
	r.verdict[key] = v
	r.mu.Unlock()
	return v.allowed, nil
}

// denied is the error a check returns, in AWS's words.
func denied(roleARN, action, resource string) error {
	return fmt.Errorf("AccessDenied: %s is not authorized to perform: %s on resource: %s", assumedName(roleARN), action, resource)
}

func assumedName(roleARN string) string {
	return strings.Replace(strings.Replace(roleARN, ":iam::", ":sts::", 1), ":role/", ":assumed-role/", 1)
}
