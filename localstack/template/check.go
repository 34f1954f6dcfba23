package template

import (
	"fmt"
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
func Check(t *Template, functionDirs []string) []string {
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
		role := fmt.Sprint(MapOf(p["Role"])["Fn::GetAtt"])
		if len(ListOf(MapOf(p["Role"])["Fn::GetAtt"])) != 2 {
			add("function %s: Role must be !GetAtt <its role>.Arn", id)
			continue
		}
		if other, ok := roles[role]; ok {
			add("functions %s and %s share a role", other, id)
		}
		roles[role] = id
	}
	for _, d := range SortedKeys(dirs) {
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
		rp := MapOf(t.Resources[id].Properties["RedrivePolicy"])
		if target := ListOf(MapOf(rp["deadLetterTargetArn"])["Fn::GetAtt"]); len(target) == 2 {
			dlqs[fmt.Sprint(target[0])] = true
		}
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, ev := range MapOf(t.Resources[id].Properties["Events"]) {
			dest := MapOf(MapOf(MapOf(MapOf(ev)["Properties"])["DestinationConfig"])["OnFailure"])["Destination"]
			if target := ListOf(MapOf(dest)["Fn::GetAtt"]); len(target) == 2 {
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
		if len(MapOf(p["RedrivePolicy"])) == 0 && !dlqs[id] {
			add("queue %s has no dead-letter queue (RedrivePolicy)", id)
		}
		if p["KmsMasterKeyId"] == nil {
			add("queue %s is not encrypted with KMS (KmsMasterKeyId)", id)
		}
	}

	// Tables: encrypted, recoverable, expiring; streams consumed.
	consumed := map[string]bool{}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, ev := range MapOf(t.Resources[id].Properties["Events"]) {
			e := MapOf(ev)
			if e["Type"] == "DynamoDB" {
				if s := ListOf(MapOf(MapOf(e["Properties"])["Stream"])["Fn::GetAtt"]); len(s) == 2 {
					consumed[fmt.Sprint(s[0])] = true
				}
			}
		}
	}
	for _, id := range t.OfType("AWS::Lambda::EventSourceMapping") {
		if s := ListOf(MapOf(t.Resources[id].Properties["EventSourceArn"])["Fn::GetAtt"]); len(s) == 2 {
			consumed[fmt.Sprint(s[0])] = true
		}
	}
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		p := t.Resources[id].Properties
		sse := MapOf(p["SSESpecification"])
		if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || sse["KMSMasterKeyId"] == nil {
			add("table %s is not encrypted with the project's KMS key", id)
		}
		if MapOf(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"] != true {
			add("table %s has no point-in-time recovery", id)
		}
		if MapOf(p["TimeToLiveSpecification"])["Enabled"] != true && MapOf(t.Resources[id].Metadata["psc"])["noTTL"] == nil {
			add("table %s has no TTL (or Metadata psc.noTTL saying why it keeps its items)", id)
		}
		if len(MapOf(p["StreamSpecification"])) > 0 && !consumed[id] {
			add("table %s has a stream that no function consumes", id)
		}
	}

	// Alarms: every function's errors, every DLQ's depth, every stream
	// consumer's iterator age; each alarm notifies someone.
	alarmed := map[string]bool{} // "<metric> <resource id>"
	for _, id := range t.OfType("AWS::CloudWatch::Alarm") {
		p := t.Resources[id].Properties
		if len(ListOf(p["AlarmActions"])) == 0 {
			add("alarm %s notifies no one (AlarmActions)", id)
		}
		for _, d := range ListOf(p["Dimensions"]) {
			v := MapOf(MapOf(d)["Value"])
			target := fmt.Sprint(v["Ref"])
			if ga := ListOf(v["Fn::GetAtt"]); len(ga) == 2 {
				target = fmt.Sprint(ga[0])
			}
			alarmed[fmt.Sprint(p["MetricName"])+" "+target] = true
		}
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		if !alarmed["Errors "+id] {
			add("function %s has no alarm on its Errors", id)
		}
		for _, ev := range MapOf(t.Resources[id].Properties["Events"]) {
			if MapOf(ev)["Type"] == "DynamoDB" && !alarmed["IteratorAge "+id] {
				add("function %s consumes a stream but has no alarm on its IteratorAge", id)
				break
			}
		}
	}
	for _, id := range SortedKeys(dlqs) {
		if !alarmed["ApproximateNumberOfMessagesVisible "+id] {
			add("dead-letter queue %s has no alarm on its depth (ApproximateNumberOfMessagesVisible)", id)
		}
	}

	// IAM: no wildcard actions or resources.
	for _, id := range SortedKeys(t.Resources) {
		r := t.Resources[id]
		var docs []any
		switch r.Type {
		case "AWS::IAM::Role":
			for _, pol := range ListOf(r.Properties["Policies"]) {
				docs = append(docs, MapOf(pol)["PolicyDocument"])
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			docs = append(docs, r.Properties["PolicyDocument"])
		}
		for _, doc := range docs {
			for _, st := range ListOf(MapOf(doc)["Statement"]) {
				s := MapOf(st)
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
					if isWildcardResource(res) {
						add("%s grants the wildcard resource %q", id, res)
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// strings2 returns the literal strings of a string-or-list value, and the
// template strings of !Sub values, for the wildcard checks.
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
		}
	}
	walk(v)
	return out
}

// SortedKeys returns a map's keys in order, for deterministic iteration.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
	parts := strings.SplitN(subVar.ReplaceAllString(res, "x"), ":", 6)
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
func checkEventSources(t *Template) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	timeout := func(id string) int {
		for _, v := range []any{t.Resources[id].Properties["Timeout"], MapOf(t.Globals["Function"])["Timeout"]} {
			if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
				return n
			}
		}
		return 3
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		events := MapOf(t.Resources[id].Properties["Events"])
		for _, name := range SortedKeys(events) {
			e := MapOf(events[name])
			p := MapOf(e["Properties"])
			switch e["Type"] {
			case "DynamoDB":
				if MapOf(MapOf(p["DestinationConfig"])["OnFailure"])["Destination"] == nil {
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
				q := ListOf(MapOf(p["Queue"])["Fn::GetAtt"])
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
	for _, v := range ListOf(list) {
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
func RetainedWithFixedNames(t *Template) []string {
	var ids []string
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		r := t.Resources[id]
		if r.DeletionPolicy == "Retain" && r.Properties["TableName"] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}
