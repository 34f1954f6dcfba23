// Package templatecheck holds the project's own rules for infra/template.yaml,
// beyond cfn-lint and checkov: one function per folder and one role per
// function, a dead-letter queue for every queue, encryption, retention,
// alarms that reach someone, scoped IAM and keys, event sources set as AWS
// advises. Its test runs them on the template in make test; scripts/rehearse
// uses RetainedWithFixedNames before a deploy.
package templatecheck

import (
	"fmt"
	"github.com/patientservicecenter/psc/localstack/template"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Check returns the template's violations of the project's rules: one
// function resource per folder in functionDirs (and the reverse), one role
// per function, a DLQ for every queue, encrypted queues and tables, PITR
// and TTL on tables (unless its Metadata psc.noTTL gives the reason), a consumer for every stream, alarms that
// notify someone on every function's errors, every DLQ's depth and every
// stream consumer's iterator age, and no IAM statement granting "*"
// actions or "*" resources.
func Check(t *template.Template, functionDirs []string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Functions ↔ folders, and roles.
	dirs := map[string]bool{}
	for _, d := range functionDirs {
		dirs[d] = false
	}
	roles := map[string]string{}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		p := t.Resources[id].Properties
		code, _ := p["CodeUri"].(string)
		dir := path.Base(strings.TrimRight(code, "/"))
		if _, ok := dirs[dir]; !ok {
			add("function %s: CodeUri %q names no folder under functions/", id, code)
		} else {
			dirs[dir] = true
		}
		if _, ok := p["Policies"]; ok {
			add("function %s: use its own AWS::IAM::Role, not SAM Policies", id)
		}
		role := fmt.Sprint(template.MapOf(p["Role"])["Fn::GetAtt"])
		if len(template.ListOf(template.MapOf(p["Role"])["Fn::GetAtt"])) != 2 {
			add("function %s: Role must be !GetAtt <its role>.Arn", id)
			continue
		}
		if other, ok := roles[role]; ok {
			add("functions %s and %s share a role", other, id)
		}
		roles[role] = id
	}
	for _, d := range template.SortedKeys(dirs) {
		if !dirs[d] {
			add("functions/%s has no AWS::Serverless::Function in the template", d)
		}
	}
	for _, id := range t.OfType("AWS::Lambda::Function") {
		add("function %s: declare functions as AWS::Serverless::Function (the local stack builds their CodeUri)", id)
	}

	// Queues: a DLQ each, encrypted. A stream mapping's OnFailure
	// destination is the end of the line too.
	dlqs := map[string]bool{}
	for _, id := range t.OfType("AWS::SQS::Queue") {
		rp := template.MapOf(t.Resources[id].Properties["RedrivePolicy"])
		if target := template.ListOf(template.MapOf(rp["deadLetterTargetArn"])["Fn::GetAtt"]); len(target) == 2 {
			dlqs[fmt.Sprint(target[0])] = true
		}
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, ev := range template.MapOf(t.Resources[id].Properties["Events"]) {
			dest := template.MapOf(template.MapOf(template.MapOf(template.MapOf(ev)["Properties"])["DestinationConfig"])["OnFailure"])["Destination"]
			if target := template.ListOf(template.MapOf(dest)["Fn::GetAtt"]); len(target) == 2 {
				dlqs[fmt.Sprint(target[0])] = true
			}
		}
	}
	problems = append(problems, checkEventSources(t)...)
	for _, id := range RetainedWithFixedNames(t) {
		add("table %s is kept when the stack is deleted (DeletionPolicy Retain) and has a fixed TableName: AWS would refuse to create the stage again", id)
	}
	for _, id := range t.OfType("AWS::SQS::Queue") {
		p := t.Resources[id].Properties
		if len(template.MapOf(p["RedrivePolicy"])) == 0 && !dlqs[id] {
			add("queue %s has no dead-letter queue (RedrivePolicy)", id)
		}
		if p["KmsMasterKeyId"] == nil {
			add("queue %s is not encrypted with KMS (KmsMasterKeyId)", id)
		}
	}

	// Tables: encrypted, recoverable, expiring; streams consumed.
	consumed := map[string]bool{}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, ev := range template.MapOf(t.Resources[id].Properties["Events"]) {
			e := template.MapOf(ev)
			if e["Type"] == "DynamoDB" {
				if s := template.ListOf(template.MapOf(template.MapOf(e["Properties"])["Stream"])["Fn::GetAtt"]); len(s) == 2 {
					consumed[fmt.Sprint(s[0])] = true
				}
			}
		}
	}
	for _, id := range t.OfType("AWS::Lambda::EventSourceMapping") {
		if s := template.ListOf(template.MapOf(t.Resources[id].Properties["EventSourceArn"])["Fn::GetAtt"]); len(s) == 2 {
			consumed[fmt.Sprint(s[0])] = true
		}
	}
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		p := t.Resources[id].Properties
		sse := template.MapOf(p["SSESpecification"])
		if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || sse["KMSMasterKeyId"] == nil {
			add("table %s is not encrypted with the project's KMS key", id)
		}
		if template.MapOf(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"] != true {
			add("table %s has no point-in-time recovery", id)
		}
		if template.MapOf(p["TimeToLiveSpecification"])["Enabled"] != true && template.MapOf(t.Resources[id].Metadata["psc"])["noTTL"] == nil {
			add("table %s has no TTL (or Metadata psc.noTTL saying why it keeps its items)", id)
		}
		if len(template.MapOf(p["StreamSpecification"])) > 0 && !consumed[id] {
			add("table %s has a stream that no function consumes", id)
		}
	}

	// Alarms: every function's errors, every DLQ's depth, every stream
	// consumer's iterator age; each alarm notifies someone.
	alarmed := map[string]bool{} // "<metric> <resource id>"
	for _, id := range t.OfType("AWS::CloudWatch::Alarm") {
		p := t.Resources[id].Properties
		if len(template.ListOf(p["AlarmActions"])) == 0 {
			add("alarm %s notifies no one (AlarmActions)", id)
		}
		for _, d := range template.ListOf(p["Dimensions"]) {
			v := template.MapOf(template.MapOf(d)["Value"])
			target := fmt.Sprint(v["Ref"])
			if ga := template.ListOf(v["Fn::GetAtt"]); len(ga) == 2 {
				target = fmt.Sprint(ga[0])
			}
			alarmed[fmt.Sprint(p["MetricName"])+" "+target] = true
		}
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		if !alarmed["Errors "+id] {
			add("function %s has no alarm on its Errors", id)
		}
		for _, ev := range template.MapOf(t.Resources[id].Properties["Events"]) {
			if template.MapOf(ev)["Type"] == "DynamoDB" && !alarmed["IteratorAge "+id] {
				add("function %s consumes a stream but has no alarm on its IteratorAge", id)
				break
			}
		}
	}
	for _, id := range template.SortedKeys(dlqs) {
		if !alarmed["ApproximateNumberOfMessagesVisible "+id] {
			add("dead-letter queue %s has no alarm on its depth (ApproximateNumberOfMessagesVisible)", id)
		}
	}

	// IAM: no wildcard actions or resources.
	for _, id := range template.SortedKeys(t.Resources) {
		r := t.Resources[id]
		var docs []any
		switch r.Type {
		case "AWS::IAM::Role":
			for _, pol := range template.ListOf(r.Properties["Policies"]) {
				docs = append(docs, template.MapOf(pol)["PolicyDocument"])
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			docs = append(docs, r.Properties["PolicyDocument"])
		}
		for _, doc := range docs {
			statements := template.ListOf(template.MapOf(doc)["Statement"])
			for _, st := range statements {
				s := template.MapOf(st)
				if s["Effect"] != "Allow" {
					continue
				}
				for _, a := range strings2(s["Action"]) {
					if strings.Contains(a, "*") {
						add("%s grants the wildcard action %q", id, a)
					}
				}
				if s["NotAction"] != nil || s["NotResource"] != nil {
					add("%s uses NotAction/NotResource", id)
				}
				for _, res := range strings2(s["Resource"]) {
					if isWildcardResource(res) && !textsOnly(s, res, statements) {
						add("%s grants the wildcard resource %q", id, res)
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// textsOnly allows the one wildcard AWS requires: SNS authorises a publish
// to a phone number (a text message) on "*", since numbers have no ARN.
// It is allowed for sns:Publish alone, and only where the same policy
// denies sns:Publish on every topic, so the grant reaches phone numbers
// and nothing else.
func textsOnly(s map[string]any, res string, statements []any) bool {
	if res != "*" || !slicesEqual(strings2(s["Action"]), []string{"sns:Publish"}) {
		return false
	}
	for _, st := range statements {
		d := template.MapOf(st)
		if d["Effect"] == "Deny" && slicesEqual(strings2(d["Action"]), []string{"sns:Publish"}) {
			for _, r := range strings2(d["Resource"]) {
				if r == "arn:${AWS::Partition}:sns:*:*:*" || r == "arn:aws:sns:*:*:*" {
					return true
				}
			}
		}
	}
	return false
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// strings2 returns the literal strings of a string-or-list value, and the
// template strings of !Sub values and of both branches of !If, for the
// wildcard checks.
func strings2(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if sub, ok := x["Fn::Sub"]; ok {
				if s, ok := sub.(string); ok {
					out = append(out, s)
				}
			}
			if branches, ok := x["Fn::If"].([]any); ok && len(branches) == 3 {
				walk(branches[1])
				walk(branches[2])
			}
		}
	}
	walk(v)
	return out
}

// isWildcardResource reports "*" and ARNs whose resource part is "*"
// (arn:aws:dynamodb:us-east-1:123:*). A path under a named resource, such
// as a log group's log-stream:*, is scoped and allowed.
func isWildcardResource(res string) bool {
	if res == "*" {
		return true
	}
	if !strings.HasPrefix(res, "arn:") {
		return false
	}
	parts := strings.SplitN(template.Blanked(res), ":", 6)
	return len(parts) == 6 && (parts[5] == "*" || parts[5] == "")
}

// checkEventSources holds the event source mappings to AWS's advice for
// not losing work (Lambda Developer Guide, "Using Lambda with Amazon SQS"
// and "Using Lambda with DynamoDB", error handling):
//   - a DynamoDB stream mapping sends what it gives up on to an OnFailure
//     destination (else the records are dropped silently after the
//     retries), bisects a failing batch, bounds its retries and the age of
//     its records;
//   - an SQS mapping reports partial batch failures (else one bad message
//     makes the whole batch run again), and its queue's visibility timeout
//     is at least six times the function's timeout.
func checkEventSources(t *template.Template) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	timeout := func(id string) int {
		for _, v := range []any{t.Resources[id].Properties["Timeout"], template.MapOf(t.Globals["Function"])["Timeout"]} {
			if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
				return n
			}
		}
		return 3
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		events := template.MapOf(t.Resources[id].Properties["Events"])
		for _, name := range template.SortedKeys(events) {
			e := template.MapOf(events[name])
			p := template.MapOf(e["Properties"])
			switch e["Type"] {
			case "DynamoDB":
				if template.MapOf(template.MapOf(p["DestinationConfig"])["OnFailure"])["Destination"] == nil {
					add("function %s event %s: a stream mapping needs DestinationConfig.OnFailure (else records are dropped silently after the retries)", id, name)
				}
				if p["BisectBatchOnFunctionError"] != true {
					add("function %s event %s: set BisectBatchOnFunctionError: true (one bad record holds back its batch)", id, name)
				}
				if p["MaximumRetryAttempts"] == nil || p["MaximumRecordAgeInSeconds"] == nil {
					add("function %s event %s: bound MaximumRetryAttempts and MaximumRecordAgeInSeconds (else a bad record blocks its shard for a day)", id, name)
				}
			case "SQS":
				if !hasItem(p["FunctionResponseTypes"], "ReportBatchItemFailures") {
					add("function %s event %s: an SQS mapping needs FunctionResponseTypes [ReportBatchItemFailures]", id, name)
				}
				q := template.ListOf(template.MapOf(p["Queue"])["Fn::GetAtt"])
				if len(q) != 2 {
					continue
				}
				vis, err := strconv.Atoi(fmt.Sprint(t.Resources[fmt.Sprint(q[0])].Properties["VisibilityTimeout"]))
				if err != nil {
					vis = 30
				}
				if vis < 6*timeout(id) {
					add("queue %v: VisibilityTimeout %d s is under six times function %s's timeout (%d s)", q[0], vis, id, timeout(id))
				}
			}
		}
	}
	return problems
}

func hasItem(list any, want string) bool {
	for _, v := range template.ListOf(list) {
		if v == want {
			return true
		}
	}
	return false
}

// RetainedWithFixedNames returns the tables a stack deletion keeps
// (DeletionPolicy Retain) whose name the template fixes: creating the
// stage again after a deletion fails in AWS ("already exists"), where a
// name CloudFormation generates gets a new suffix.
func RetainedWithFixedNames(t *template.Template) []string {
	var ids []string
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		r := t.Resources[id]
		if r.DeletionPolicy == "Retain" && r.Properties["TableName"] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}
