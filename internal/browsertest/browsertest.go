// Package browsertest drives a real headless Chromium for browser tests of the
// widget and the console.
//
// The browser is Debian's chromium at /usr/bin/chromium (SWITCHBOARD_CHROMIUM
// overrides the path). A missing browser fails the test with the install
// command: browser tests are part of the suite, never skipped.
//
// Typical use:
//
//	ctx := browsertest.New(t)
//	browsertest.Run(t, ctx, chromedp.Navigate(url))
//	browsertest.WaitJS(t, ctx, browsertest.Shadow(`[data-sb="launcher"]`)+` != null`, 10*time.Second)
//	browsertest.Click(t, ctx, browsertest.Shadow(`[data-sb="launcher"]`))
//	browsertest.Screenshot(t, ctx, "widget-open")
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package puts the browser.
const DefaultPath = "/usr/bin/chromium"

// InstallHint is the command that provides DefaultPath.
const InstallHint = "apt-get update && apt-get install -y chromium"

// HostID is the id of the widget's shadow host element on the embedding page.
const HostID = "switchboard-widget"

// ExecPath returns the browser to run: $SWITCHBOARD_CHROMIUM or DefaultPath.
func ExecPath() string {
	if p := os.Getenv("SWITCHBOARD_CHROMIUM"); p != "" {
		return p
	}
	return DefaultPath
}

// New starts a fresh headless Chromium with an empty profile in t.TempDir and
// returns the context of its first tab. The browser is closed on cleanup; if the
// test failed, the tab's console output and uncaught exceptions are logged.
func New(t testing.TB) context.Context {
	t.Helper()
	path := ExecPath()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("browsertest: no Chromium at %s (%v); install it with: %s", path, err, InstallHint)
	}
	// The profile lives under t.TempDir; our cleanup (registered later, so run
	// first) removes it after the browser exits, retrying because Chromium's
	// helper processes may still write into it for a moment.
	profile := filepath.Join(t.TempDir(), "chromium-profile")

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is tiny in containers
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp's error log reports protocol events of newer Chromium versions
	// that its cdproto cannot decode; they are noise for tests, so drop them.
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
	logs := attachConsole(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			logs.dump(t, "tab 1")
		}
		cancel()
		cancelAlloc() // waits for the browser process to exit
		removeAll(t, profile)
	})
	// Run with no actions starts the browser and opens the first tab. It must
	// get ctx itself: chromedp ties the browser's life to the context of the
	// first Run, so a timeout context here would kill the browser on return.
	if err := runStart(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v (install with: %s)", path, err, InstallHint)
	}
	return ctx
}

// runStart runs chromedp.Run(ctx) (which starts the browser or opens the tab)
// but gives up after 30 s, so a browser that hangs at start fails the test
// instead of hanging it.
func runStart(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("browser did not start within 30s")
	}
}

var tabSeq struct {
	sync.Mutex
	n int
}

// NewContext opens a tab in a new, independent browser context of the browser
// behind parent (like an incognito window): it shares no cookies, localStorage
// or cache with parent. Use it for a second visitor or an operator next to a
// visitor. It is closed on cleanup.
func NewContext(t testing.TB, parent context.Context) context.Context {
	t.Helper()
	// chromedp.WithNewBrowserContext fails on current headless Chromium ("no
	// browser is open"): a target in a fresh browser context needs its own
	// window. So create both by hand and attach to the target.
	var tid target.ID
	var bid cdp.BrowserContextID
	err := chromedp.Run(parent, chromedp.ActionFunc(func(ctx context.Context) error {
		c := chromedp.FromContext(ctx)
		bctx := cdp.WithExecutor(ctx, c.Browser)
		var err error
		if bid, err = target.CreateBrowserContext().WithDisposeOnDetach(true).Do(bctx); err != nil {
			return fmt.Errorf("create browser context: %w", err)
		}
		tid, err = target.CreateTarget("about:blank").WithBrowserContextID(bid).WithNewWindow(true).Do(bctx)
		if err != nil {
			return fmt.Errorf("create target: %w", err)
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("browsertest: new browser context: %v", err)
	}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithTargetID(tid))
	logs := attachConsole(ctx)
	tabSeq.Lock()
	tabSeq.n++
	name := fmt.Sprintf("context %d", tabSeq.n)
	tabSeq.Unlock()
	t.Cleanup(func() {
		if t.Failed() {
			logs.dump(t, name)
		}
		cancel()
		// Closing the tab leaves the browser context; dispose of it so its
		// storage goes too (the browser may be gone already: ignore errors).
		_ = chromedp.Run(parent, chromedp.ActionFunc(func(ctx context.Context) error {
			return target.DisposeBrowserContext(bid).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		}))
	})
	if err := runStart(ctx); err != nil {
		t.Fatalf("browsertest: attach to new browser context: %v", err)
	}
	return ctx
}

// consoleLog collects a tab's console output for dumping on failure.
type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func attachConsole(ctx context.Context) *consoleLog {
	l := &consoleLog{}
	chromedp.ListenTarget(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			parts := make([]string, 0, len(ev.Args))
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			line = fmt.Sprintf("uncaught: %s (%s:%d)", msg, d.URL, d.LineNumber)
		default:
			return
		}
		l.mu.Lock()
		l.lines = append(l.lines, time.Now().Format("15:04:05.000")+" "+line)
		l.mu.Unlock()
	})
	return l
}

func (l *consoleLog) dump(t testing.TB, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		t.Logf("browser %s: no console output", name)
		return
	}
	t.Logf("browser %s console (%d lines):\n%s", name, len(l.lines), strings.Join(l.lines, "\n"))
}

// Run runs actions with a 30 s limit and fails the test on error.
func Run(t testing.TB, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(rctx, actions...); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
}

// Shadow returns a JavaScript expression for the first element matching the CSS
// selector sel inside the widget's open shadow root (host id HostID), or null.
// Use it with Eval, WaitJS, Click, or as a chromedp.ByJSPath selector.
func Shadow(sel string) string {
	return ShadowIn(HostID, sel)
}

// ShadowAll is like Shadow but yields an array of all matching elements.
func ShadowAll(sel string) string {
	q, _ := json.Marshal(sel)
	return fmt.Sprintf("Array.from(document.getElementById(%q)?.shadowRoot?.querySelectorAll(%s) ?? [])", HostID, q)
}

// ShadowIn is Shadow for the shadow root of the element with the given id.
func ShadowIn(hostID, sel string) string {
	q, _ := json.Marshal(sel)
	return fmt.Sprintf("(document.getElementById(%q)?.shadowRoot?.querySelector(%s) ?? null)", hostID, q)
}

// Eval evaluates the JavaScript expression js in the page (awaiting a promise)
// and stores its JSON value in out, which may be nil. It fails the test on error.
func Eval(t testing.TB, ctx context.Context, js string, out any) {
	t.Helper()
	if err := EvalErr(ctx, js, out); err != nil {
		t.Fatalf("browsertest: eval %s: %v", short(js), err)
	}
}

// EvalErr is Eval returning the error.
func EvalErr(ctx context.Context, js string, out any) error {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var raw json.RawMessage
	err := chromedp.Run(rctx, chromedp.Evaluate(js, &raw, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil {
		// chromedp reports undefined results as an error; callers who ask for
		// nothing don't care.
		if out == nil && errors.Is(err, chromedp.ErrJSUndefined) {
			return nil
		}
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// WaitJS polls the JavaScript condition cond every 50 ms until it is truthy, and
// fails the test (with a screenshot) if it is not within timeout. what says in
// words what was awaited, for the failure message; it may be empty.
func WaitJS(t testing.TB, ctx context.Context, cond string, timeout time.Duration, what ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		var ok bool
		err := EvalErr(ctx, "!!("+cond+")", &ok)
		if err == nil && ok {
			return
		}
		lastErr = err
		if ctx.Err() != nil {
			t.Fatalf("browsertest: waiting for %s: %v", describe(cond, what), ctx.Err())
		}
		if time.Now().After(deadline) {
			name := "timeout-" + sanitize(t.Name())
			Screenshot(t, ctx, name)
			if lastErr != nil {
				t.Fatalf("browsertest: %s not true after %v (last error: %v)", describe(cond, what), timeout, lastErr)
			}
			t.Fatalf("browsertest: %s not true after %v", describe(cond, what), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Text returns the textContent of the element the JavaScript expression el
// yields, failing the test if there is none.
func Text(t testing.TB, ctx context.Context, el string) string {
	t.Helper()
	var s *string
	Eval(t, ctx, "(e => e == null ? null : e.textContent)("+el+")", &s)
	if s == nil {
		t.Fatalf("browsertest: no element %s", short(el))
	}
	return *s
}

// Attr returns attribute name of the element el yields ("" if absent), failing
// the test if there is no element.
func Attr(t testing.TB, ctx context.Context, el, name string) string {
	t.Helper()
	n, _ := json.Marshal(name)
	var s *string
	Eval(t, ctx, fmt.Sprintf("(e => e == null ? null : (e.getAttribute(%s) ?? ''))(%s)", n, el), &s)
	if s == nil {
		t.Fatalf("browsertest: no element %s", short(el))
	}
	return *s
}

// Click waits up to 10 s for the element el (a JavaScript expression such as
// Shadow(sel)) to exist, then clicks it with a real mouse event at its centre.
func Click(t testing.TB, ctx context.Context, el string) {
	t.Helper()
	WaitJS(t, ctx, el+" != null", 10*time.Second, "element "+short(el))
	Run(t, ctx, chromedp.Click(el, chromedp.ByJSPath, chromedp.NodeVisible))
}

// Type focuses the element el and types text into it with real key events.
func Type(t testing.TB, ctx context.Context, el, text string) {
	t.Helper()
	WaitJS(t, ctx, el+" != null", 10*time.Second, "element "+short(el))
	Run(t, ctx, chromedp.SendKeys(el, text, chromedp.ByJSPath, chromedp.NodeVisible))
}

// SetValue sets the value of the form control el and fires input and change
// events, for when typing key by key would be slow or beside the point.
func SetValue(t testing.TB, ctx context.Context, el, value string) {
	t.Helper()
	WaitJS(t, ctx, el+" != null", 10*time.Second, "element "+short(el))
	v, _ := json.Marshal(value)
	Eval(t, ctx, fmt.Sprintf(`(e => { e.focus(); e.value = %s;
		e.dispatchEvent(new Event('input', {bubbles: true, composed: true}));
		e.dispatchEvent(new Event('change', {bubbles: true, composed: true})); return true })(%s)`, v, el), nil)
}

// ArtifactsDir is where screenshots go: $SWITCHBOARD_ARTIFACTS, else
// <repo>/artifacts/screenshots (gitignored), created if missing.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_ARTIFACTS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatalf("browsertest: %v", err)
		}
		dir = filepath.Join(root, "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: artifacts dir: %v", err)
	}
	return dir
}

// Screenshot saves a PNG of the tab's viewport as <ArtifactsDir>/<name>.png and
// logs the path. A failed screenshot is logged, not fatal: it is evidence, not
// the test.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var buf []byte
	if err := chromedp.Run(rctx, chromedp.CaptureScreenshot(&buf)); err != nil {
		t.Logf("browsertest: screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(ArtifactsDir(t), sanitize(name)+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Logf("browsertest: screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// repoRoot finds the module root (the directory holding go.mod) above the
// working directory, which go test sets to the package's directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// removeAll removes dir, retrying for up to 5 s while files still appear in it.
func removeAll(t testing.TB, dir string) {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("browsertest: remove profile %s: %v", dir, err)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

func short(js string) string {
	if len(js) > 160 {
		return js[:160] + "…"
	}
	return js
}

func describe(cond string, what []string) string {
	if len(what) > 0 && what[0] != "" {
		return what[0] + " (" + short(cond) + ")"
	}
	return short(cond)
}
