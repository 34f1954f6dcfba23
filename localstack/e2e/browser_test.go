package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser returns a chromedp context on a fresh headless Chromium (Debian's
// package, installed by `make browser`).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("Chromium is not installed: run `make browser` (Debian's chromium package)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// run runs one browser action and fails the test with what was being done.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestPatientPageInBrowser: a patient opens the page, starts a chat, sends
// a message and sees it acknowledged, reloads and sees the history.
func TestPatientPageInBrowser(t *testing.T) {
	ctx := browser(t)
	acked := `#messages li[data-status="acked"]`
	run(t, ctx, "opening the page", chromedp.Navigate(env.Outputs.PatientPage))
	run(t, ctx, "waiting for the start form", chromedp.WaitVisible(`#start-form`))
	if v := run(t, ctx, "reading the script version", chromedp.Evaluate[string](`window.PSCChat && window.PSCChat.version || ""`)); v == "" {
		t.Fatal("chat.js did not load (window.PSCChat.version is empty)")
	}
	run(t, ctx, "typing the name", chromedp.SendKeys(`#name`, "Ana Browser"))
	run(t, ctx, "typing the topic", chromedp.SendKeys(`#topic`, "parking"))
	run(t, ctx, "starting", chromedp.Click(`#start`))
	run(t, ctx, "waiting for the composer", chromedp.WaitVisible(`#message-input`))
	run(t, ctx, "typing a message", chromedp.SendKeys(`#message-input`, "Where can I park?"))
	run(t, ctx, "sending", chromedp.Click(`#send`))
	run(t, ctx, "waiting for the acknowledgement", chromedp.WaitVisible(acked))
	if text := run(t, ctx, "reading the message", chromedp.Text(acked)); !strings.Contains(text, "Where can I park?") {
		t.Fatalf("acked message reads %q", text)
	}
	// The bot's greeting and answer render too; every message renders once,
	// the patient's own message exactly once.
	ids := run(t, ctx, "listing messages", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#messages li[data-message-id]')].map(li => li.dataset.messageId)`))
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("message ids on the page = %v (a message must render once, with its id)", ids)
		}
		seen[id] = true
	}
	mine := run(t, ctx, "reading the sent message's id", chromedp.Evaluate[string](`document.querySelector('`+acked+`').dataset.messageId`))
	if n := run(t, ctx, "counting the sent message", chromedp.Evaluate[int](`[...document.querySelectorAll('#messages li')].filter(li => li.textContent.includes("Where can I park?")).length`)); n != 1 {
		t.Fatalf("the sent message renders %d times", n)
	}

	// Reload: the page resumes with its stored session and shows the history.
	run(t, ctx, "reloading", chromedp.Reload())
	run(t, ctx, "waiting for the history", chromedp.WaitVisible(`#messages li[data-message-id="`+mine+`"]`))
	if after := run(t, ctx, "reading the history", chromedp.Text(`#messages`)); strings.Count(after, "Where can I park?") != 1 {
		t.Fatalf("history after reload = %q", after)
	}
}
