package template

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Resolver evaluates intrinsic functions. Refs and Attrs hold the values the
// stack gives resources; pseudo parameters (AWS::Region, ...) go in Refs too.
type Resolver struct {
	T     *Template
	Refs  map[string]string
	Attrs map[string]string // "Logical.Attribute" → value
}

// Resolve returns v with every intrinsic evaluated.
func (r *Resolver) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.Resolve(e)
			if err != nil {
				return nil, err
			}
			if rv == noValue {
				continue
			}
			out = append(out, rv)
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
				// {"Condition": "Name"} inside a condition function (a
				// policy's Condition is a mapping, never a name).
				if _, name := arg.(string); k == "Condition" && name {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			rv, err := r.Resolve(e)
			if err != nil {
				return nil, err
			}
			if rv == noValue {
				continue
			}
			out[k] = rv
		}
		return out, nil
	}
	return v, nil
}

// noValue is what AWS::NoValue resolves to: the property is dropped.
var noValue = &struct{}{}

// String resolves v and renders it as a string.
func (r *Resolver) String(v any) (string, error) {
	rv, err := r.Resolve(v)
	if err != nil {
		return "", err
	}
	switch x := rv.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	case []any, map[string]any:
		return "", fmt.Errorf("value %v is not a scalar", x)
	}
	return fmt.Sprint(rv), nil
}

func (r *Resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := r.Refs[name]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("Ref %s: no value", name)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return r.ref(name)
	case "Fn::GetAtt":
		l := ListOf(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt needs [resource, attribute]")
		}
		key := fmt.Sprintf("%v.%v", l[0], l[1])
		if v, ok := r.Attrs[key]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("Fn::GetAtt %s: no value", key)
	case "Fn::Sub":
		tmpl, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::Sub list needs [template, variables]")
			}
			tmpl, _ = a[0].(string)
			vars = MapOf(a[1])
		}
		var firstErr error
		out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			var v any
			var err error
			switch {
			case vars[name] != nil:
				var s string
				s, err = r.String(vars[name])
				v = s
			case strings.Contains(name, ".") && r.Refs[name] == "":
				v, err = r.intrinsic("Fn::GetAtt", []any{strings.SplitN(name, ".", 2)[0], strings.SplitN(name, ".", 2)[1]})
			default:
				v, err = r.ref(name)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return fmt.Sprint(v)
		})
		return strings.ReplaceAll(out, "${!", "${"), firstErr
	case "Fn::Join":
		l := ListOf(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::Join needs [separator, list]")
		}
		sep, _ := l[0].(string)
		items, err := r.Resolve(l[1])
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, it := range ListOf(items) {
			parts = append(parts, fmt.Sprint(it))
		}
		return strings.Join(parts, sep), nil
	case "Fn::If":
		l := ListOf(arg)
		if len(l) != 3 {
			return nil, fmt.Errorf("Fn::If needs [condition, then, else]")
		}
		name, _ := l[0].(string)
		ok, err := r.Condition(name)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.Resolve(l[1])
		}
		return r.Resolve(l[2])
	case "Fn::Equals":
		l := ListOf(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::Equals needs two values")
		}
		a, err := r.String(l[0])
		if err != nil {
			return nil, err
		}
		b, err := r.String(l[1])
		return a == b, err
	case "Fn::Not":
		l := ListOf(arg)
		if len(l) != 1 {
			return nil, fmt.Errorf("Fn::Not needs one condition")
		}
		v, err := r.Resolve(l[0])
		b, _ := v.(bool)
		return !b, err
	case "Fn::And", "Fn::Or":
		l := ListOf(arg)
		if len(l) < 2 {
			return nil, fmt.Errorf("%s needs at least two conditions", fn)
		}
		and := fn == "Fn::And"
		for _, c := range l {
			v, err := r.Resolve(c)
			if err != nil {
				return nil, err
			}
			if b, _ := v.(bool); b != and {
				return !and, nil
			}
		}
		return and, nil
	case "Condition":
		name, _ := arg.(string)
		return r.Condition(name)
	case "Fn::Split":
		l := ListOf(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split needs [delimiter, string]")
		}
		sep, _ := l[0].(string)
		str, err := r.String(l[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(str, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		l := ListOf(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::Select needs [index, list]")
		}
		i, err := strconv.Atoi(fmt.Sprint(l[0]))
		if err != nil {
			return nil, fmt.Errorf("Fn::Select index %v: %w", l[0], err)
		}
		items, err := r.Resolve(l[1])
		if err != nil {
			return nil, err
		}
		list := ListOf(items)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("Fn::Select index %d is outside a list of %d", i, len(list))
		}
		return list[i], nil
	}
	return nil, fmt.Errorf("%s is not supported by the local stack", fn)
}

// Condition evaluates a named condition of the template.
func (r *Resolver) Condition(name string) (bool, error) {
	c, ok := r.T.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	v, err := r.Resolve(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	return b, nil
}

// Blanked replaces each ${Variable} of a Fn::Sub string with "x", to read
// the shape of what it will be (an ARN's parts).
func Blanked(s string) string { return subVar.ReplaceAllString(s, "x") }
