package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's browser build, which make tools fetches (pinned
// by version and hash) into .tools/axe.
func axeSource(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", ".tools", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is missing (run make tools): %v", err)
	}
	return string(b)
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// accessible runs axe-core's WCAG 2.1 A and AA rules, and its best
// practices, on the page as it stands and fails the test with every
// violation found, naming the state the page is in.
func accessible(t *testing.T, page context.Context, state string) {
	t.Helper()
	src := axeSource(t)
	run(t, page, "loading axe-core", chromedp.Evaluate[bool](`(() => { if (!window.axe) { `+src+`
 } return true; })()`))
	out := run(t, page, "running axe-core on "+state, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}, resultTypes: ["violations"]}).then((r) => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	var violations []axeViolation
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("reading axe-core's answer on %s: %v", state, err)
	}
	var lines []string
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s — %s", v.ID, v.Impact, v.Help, strings.Join(where, ", ")))
	}
	if len(lines) > 0 {
		t.Errorf("axe-core on %s found %d violations:\n%s", state, len(lines), strings.Join(lines, "\n"))
	}
}
