package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/patientservicecenter/psc/localstack/template"
)

// invokePermitted reports whether an AWS::Lambda::Permission of the
// template lets API Gateway invoke a function for a route.
//
// AWS: API Gateway invokes a Lambda integration only when the function's
// resource policy allows lambda:InvokeFunction to apigateway.amazonaws.com
// with a SourceArn that matches
// arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<route-key>
// (API Gateway Developer Guide, "Control access to a WebSocket API with
// IAM authorization" and Lambda Developer Guide, "Granting function access
// to AWS services"; the match is ArnLike: * and ? are wildcards).
// Without one the client gets "Internal server error" and the function is
// never called. MiniStack does not check it.
func (s *Stack) invokePermitted(functionName, functionARN, apiID, stage, routeKey string) (bool, error) {
	source := arn("execute-api", apiID+"/"+stage+"/"+routeKey)
	for _, id := range s.ofType("AWS::Lambda::Permission") {
		p, err := s.resolvedProps(id)
		if err != nil {
			return false, err
		}
		fn := fmt.Sprint(p["FunctionName"])
		if fn != functionName && fn != functionARN && !strings.HasSuffix(functionARN, ":"+fn) {
			continue
		}
		if a := fmt.Sprint(p["Action"]); a != "lambda:InvokeFunction" && a != "lambda:*" {
			continue
		}
		if p["Principal"] != "apigateway.amazonaws.com" {
			continue
		}
		if sa, ok := p["SourceArn"].(string); ok && !arnLike(source, sa) {
			continue
		}
		return true, nil
	}
	return false, nil
}

// arnLike is IAM's ArnLike: * matches any run of characters, ? one.
func arnLike(value, pattern string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(value)
}

// refused is the integration of a route API Gateway may not invoke.
type refused struct{ err error }

func (r refused) Invoke(context.Context, []byte) ([]byte, error) { return nil, r.err }

// checkExecutionRoles checks what AWS checks of each function's role
// before the function can work: that the Lambda service may deliver its
// logs, and that its event sources may be polled. It returns every
// problem at once.
//
// Logs (Lambda Developer Guide, "Sending Lambda function logs to
// CloudWatch Logs"): Lambda writes with the function's role:
// logs:CreateLogStream and logs:PutLogEvents on the log stream,
// arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>.
// A log group's Arn attribute already ends in ":*", so "${X.Arn}:log-stream:*"
// names nothing. MiniStack checks the log group's ARN instead.
//
// Event sources (Lambda Developer Guide, "Lambda execution role" for SQS
// and DynamoDB): creating the mapping fails unless the role may
// sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the
// queue, or dynamodb:DescribeStream, GetRecords, GetShardIterator and
// ListStreams on the stream; an SQS failure destination needs
// sqs:SendMessage on it.
func (s *Stack) checkExecutionRoles(ctx context.Context, fns []function) error {
	var problems []string
	need := func(fn function, action, resource string) {
		ok, err := s.roles.allowed(ctx, fn.role, action, resource)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case !ok:
			problems = append(problems, fmt.Sprintf("function %s: %v", fn.id, denied(fn.role, action, resource)))
		}
	}
	for _, fn := range fns {
		if fn.logGroup == "" {
			problems = append(problems, fmt.Sprintf("function %s: LoggingConfig names no log group of the template (Lambda would write to /aws/lambda/%s, which nothing creates or keeps)", fn.id, fn.name))
		} else {
			stream := arn("logs", "log-group:"+fn.logGroup+":log-stream:2026/12/03/[$LATEST]0123456789abcdef")
			need(fn, "logs:CreateLogStream", stream)
			need(fn, "logs:PutLogEvents", stream)
		}
		for _, name := range template.SortedKeys(fn.events) {
			ev := template.MapOf(fn.events[name])
			props := template.MapOf(ev["Properties"])
			switch ev["Type"] {
			case "SQS":
				for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
					need(fn, a, fmt.Sprint(props["Queue"]))
				}
			case "DynamoDB":
				for _, a := range []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"} {
					need(fn, a, fmt.Sprint(props["Stream"]))
				}
			}
			if dest := fmt.Sprint(template.MapOf(template.MapOf(props["DestinationConfig"])["OnFailure"])["Destination"]); strings.Contains(dest, ":sqs:") {
				need(fn, "sqs:SendMessage", dest)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New("the template's roles would fail in AWS:\n  " + strings.Join(problems, "\n  "))
}

// manageConnections authorises an @connections call as AWS does: the
// caller needs execute-api:ManageConnections on
// arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/@connections/<id>
// (API Gateway Developer Guide, "Use @connections commands in your backend
// service"). The stack's own root credentials pass.
func (s *Stack) manageConnections(apiID, stage string) func(r *http.Request, connectionID string) (int, string, string) {
	return func(r *http.Request, connectionID string) (int, string, string) {
		m := sesKeyID.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			return http.StatusForbidden, "ForbiddenException", "Missing Authentication Token"
		}
		if m[1] == "test" {
			return 0, "", ""
		}
		role, ok := s.roles.roleOfKey(m[1])
		if !ok {
			return http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."
		}
		resource := arn("execute-api", apiID+"/"+stage+"/"+r.Method+"/@connections/"+connectionID)
		allowed, err := s.roles.allowed(r.Context(), role, "execute-api:ManageConnections", resource)
		if err != nil {
			return http.StatusInternalServerError, "InternalServerErrorException", err.Error()
		}
		if !allowed {
			return http.StatusForbidden, "AccessDeniedException", denied(role, "execute-api:ManageConnections", resource).Error()
		}
		return 0, "", ""
	}
}

// functionOf names the function a request to the emulator came from, by
// the role credentials it is signed with ("" for the stack's own calls
// and anyone else's).
func (s *Stack) functionOf(r *http.Request) string {
	m := sesKeyID.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return ""
	}
	role, ok := s.roles.roleOfKey(m[1])
	if !ok {
		return ""
	}
	if id, ok := s.fnOfRole.Load(role); ok {
		return id.(string)
	}
	return ""
}
