// Package edgetest is the edges' test support: the sample events of the
// repository's events folder, decoded as AWS delivers them.
package edgetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Event decodes the sample event events/<name> into T (an aws-lambda-go
// events type). The path is from a package at shared/edge/<name>, where
// go test runs an edge's tests.
func Event[T any](t testing.TB, name string) T {
	t.Helper()
	var ev T
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}
