// Package template reads the project's CloudFormation/SAM template: it
// turns YAML short-form intrinsics (!Ref, !Sub, ...) into their long form,
// and resolves intrinsics against the values the local stack gives its
// resources. It knows the template's shapes, not the project's wiring.
package template

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template.
type Template struct {
	Parameters map[string]Parameter
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Parameter is a template parameter.
type Parameter struct {
	Type    string
	Default any
}

// Resource is a template resource.
type Resource struct {
	Type           string
	Properties     map[string]any
	Condition      string
	Metadata       map[string]any
	DeletionPolicy string
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", err)
	}
	return Parse(b)
}

// Parse parses template YAML (or JSON, which is YAML).
func Parse(b []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parsing template: %w", err)
	}
	v, err := convert(&root)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is not a mapping")
	}
	t := &Template{Parameters: map[string]Parameter{}, Resources: map[string]Resource{}, Conditions: mapOf(doc["Conditions"]), Globals: mapOf(doc["Globals"]), Outputs: mapOf(doc["Outputs"])}
	for name, p := range mapOf(doc["Parameters"]) {
		pm := mapOf(p)
		typ, _ := pm["Type"].(string)
		t.Parameters[name] = Parameter{Type: typ, Default: pm["Default"]}
	}
	for name, r := range mapOf(doc["Resources"]) {
		rm := mapOf(r)
		typ, _ := rm["Type"].(string)
		cond, _ := rm["Condition"].(string)
		policy, _ := rm["DeletionPolicy"].(string)
		t.Resources[name] = Resource{Type: typ, Properties: mapOf(rm["Properties"]), Condition: cond, Metadata: mapOf(rm["Metadata"]), DeletionPolicy: policy}
	}
	return t, nil
}

// OfType returns the logical ids of the resources of a type, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// MapOf returns v as a mapping, or an empty one.
func MapOf(v any) map[string]any { return mapOf(v) }

// ListOf returns v as a list, or nil.
func ListOf(v any) []any { l, _ := v.([]any); return l }

var shortForms = map[string]string{
	"!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap", "!Condition": "Condition", "!ImportValue": "Fn::ImportValue",
	"!GetAZs": "Fn::GetAZs", "!Base64": "Fn::Base64",
}

// convert turns a YAML node into plain values with long-form intrinsics.
func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if isCustomTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	long, ok := shortForms[n.Tag]
	if !ok {
		if isCustomTag(n.Tag) {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		return v, nil
	}
	if long == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			parts := strings.SplitN(s, ".", 2)
			if len(parts) != 2 {
				return nil, fmt.Errorf("line %d: !GetAtt %q needs Resource.Attribute", n.Line, s)
			}
			v = []any{parts[0], parts[1]}
		}
	}
	return map[string]any{long: v}, nil
}

// isCustomTag reports a CloudFormation tag (!Ref), as opposed to a YAML
// core tag (!!str, !!bool).
func isCustomTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
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
