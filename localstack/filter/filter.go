// Package filter matches event records against Lambda event filtering
// patterns (an event source mapping's FilterCriteria), so the local stack
// delivers to a function only the records AWS would.
//
// It supports what the template uses and refuses the rest, so a pattern
// never matches differently here without saying so: nested objects (every
// key must match), and at a leaf a list of alternatives — literal strings,
// numbers, booleans and null, and the operators prefix, anything-but and
// exists.
package filter

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Pattern is a compiled filter pattern.
type Pattern struct{ root map[string]any }

// Compile parses a pattern, e.g. {"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}.
func Compile(pattern string) (*Pattern, error) {
	var root map[string]any
	d := json.NewDecoder(strings.NewReader(pattern))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("filter pattern: %w", err)
	}
	if err := check(root, ""); err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

func check(node map[string]any, path string) error {
	if len(node) == 0 {
		return fmt.Errorf("filter pattern: empty object at %q", path)
	}
	for k, v := range node {
		switch v := v.(type) {
		case map[string]any:
			if err := check(v, path+"."+k); err != nil {
				return err
			}
		case []any:
			for _, alt := range v {
				if op, ok := alt.(map[string]any); ok {
					if err := checkOperator(op, path+"."+k); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("filter pattern: %s.%s must be an object or a list", path, k)
		}
	}
	return nil
}

func checkOperator(op map[string]any, path string) error {
	if len(op) != 1 {
		return fmt.Errorf("filter pattern: an operator at %s must have one key", path)
	}
	for name, arg := range op {
		switch name {
		case "prefix":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("filter pattern: prefix at %s takes a string", path)
			}
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("filter pattern: exists at %s takes true or false", path)
			}
		case "anything-but":
			switch arg.(type) {
			case string, json.Number, bool, []any:
			default:
				return fmt.Errorf("filter pattern: anything-but at %s takes a value or a list", path)
			}
		default:
			return fmt.Errorf("filter pattern: operator %q at %s is not supported by the local stack", name, path)
		}
	}
	return nil
}

// Match reports whether a record (its JSON as the function would receive
// it) matches.
func (p *Pattern) Match(record []byte) bool {
	var ev map[string]any
	d := json.NewDecoder(strings.NewReader(string(record)))
	d.UseNumber()
	if d.Decode(&ev) != nil {
		return false
	}
	return matchObject(p.root, ev)
}

func matchObject(pattern map[string]any, ev map[string]any) bool {
	for k, want := range pattern {
		v, present := ev[k]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok || !matchObject(want, sub) {
				return false
			}
		case []any:
			if !matchLeaf(want, v, present) {
				return false
			}
		}
	}
	return true
}

// matchLeaf: any alternative matches the value, or, for a list value, any
// of its elements.
func matchLeaf(alts []any, v any, present bool) bool {
	values := []any{v}
	if list, ok := v.([]any); ok {
		values = list
	}
	for _, alt := range alts {
		if op, ok := alt.(map[string]any); ok {
			if matchOperator(op, values, present) {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, val := range values {
			if equal(alt, val) {
				return true
			}
		}
	}
	return false
}

func matchOperator(op map[string]any, values []any, present bool) bool {
	for name, arg := range op {
		switch name {
		case "exists":
			return arg.(bool) == present
		case "prefix":
			if !present {
				return false
			}
			for _, val := range values {
				if s, ok := val.(string); ok && strings.HasPrefix(s, arg.(string)) {
					return true
				}
			}
		case "anything-but":
			if !present {
				return false
			}
			excluded := []any{arg}
			if list, ok := arg.([]any); ok {
				excluded = list
			}
			for _, val := range values {
				if _, isObject := val.(map[string]any); isObject {
					continue
				}
				hit := false
				for _, x := range excluded {
					hit = hit || equal(x, val)
				}
				if !hit {
					return true
				}
			}
		}
	}
	return false
}

// equal compares JSON scalars; numbers by value.
func equal(a, b any) bool {
	if x, ok := a.(json.Number); ok {
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, errx := x.Float64()
		fy, erry := y.Float64()
		return errx == nil && erry == nil && fx == fy
	}
	return a == b
}
