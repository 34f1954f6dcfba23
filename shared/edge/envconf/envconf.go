// Package envconf reads a function's configuration from its environment
// once, at start, and reports every wrong variable by name.
package envconf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env reads variables and collects what is wrong with them.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New reads the process environment.
func New() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads a map, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Required returns a variable that must be set and non-empty.
func (e *Env) Required(name string) string {
	v, _ := e.lookup(name)
	if v == "" {
		e.errs = append(e.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

// Optional returns a variable, "" when unset.
func (e *Env) Optional(name string) string {
	v, _ := e.lookup(name)
	return v
}

// Duration returns a Go duration ("90s", "24h"), def when unset.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a positive duration like 90s or 24h", name, v))
		return def
	}
	return d
}

// Int returns a positive integer, def when unset.
func (e *Env) Int(name string, def int) int {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a positive integer", name, v))
		return def
	}
	return n
}

// Err returns every problem found, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}
