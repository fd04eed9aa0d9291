package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive, as the playground's test does: a
// missing browser fails the test unless DAKKIO_SKIP_BROWSER=1.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("DAKKIO_SKIP_BROWSER") == "1" {
		tb.Skip("DAKKIO_SKIP_BROWSER=1: not running the console in a browser")
	}
	if p := os.Getenv("DAKKIO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("no Chromium found to test the console in a browser: install it " +
		"(Debian: apt-get install -y chromium), point DAKKIO_CHROMIUM at a Chrome binary, " +
		"or set DAKKIO_SKIP_BROWSER=1 to skip this test")
	return ""
}

// screenshotDir is where the browser tests save a screenshot of each view:
// $DAKKIO_SCREENSHOT_DIR, else console/testdata/screenshots (ignored by git).
func screenshotDir(tb testing.TB) string {
	dir := os.Getenv("DAKKIO_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("cannot make the screenshot folder: %v", err)
	}
	return dir
}

// pageProbe runs before the page's own scripts (DevTools-injected, so the
// page's CSP does not apply to it) and records every CSP violation the page
// reports, Trusted Types ones included, and the words of every toast.
const pageProbe = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const v = e.violatedDirective + " " + e.blockedURI + " " + (e.sample || "");
  window.__csp.push(v);
  console.error("CSP violation: " + v);
});
// Toasts go after seconds; keep their words for a failure report.
window.__toasts = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.id !== "toast") continue;
    for (const n of r.addedNodes) window.__toasts.push((n.className ? n.className + ": " : "") + n.textContent);
  }
  window.__toasts.splice(0, window.__toasts.length - 6);
}).observe(document, { childList: true, subtree: true });`

// pageWatch records what the page must not do: throw, log an error (a CSP
// violation is one), or request anything from another origin.
type pageWatch struct {
	origin string
	mu     sync.Mutex
	errs   []string
	urls   []string
	// The last requests, with how each ended, for a failure to show what
	// the page asked of the node just before it.
	recent []*exchange
	byID   map[network.RequestID]*exchange
}

// exchange is one request the page made and how it ended.
type exchange struct{ method, url, outcome string }

// recentKept is how many requests a failure report lists.
const recentKept = 12

func (w *pageWatch) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		w.errs = append(w.errs, fmt.Sprintf("uncaught exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, a.Description+string(a.Value))
			}
			w.errs = append(w.errs, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// Error statuses the console asked for and handles (a 404 while
		// probing for webhooks, a 401 for a revoked key) are logged by
		// Chromium as network errors of this origin; anything else is not
		// the page's to log.
		sameOrigin := ev.Entry.URL == w.origin || strings.HasPrefix(ev.Entry.URL, w.origin+"/")
		if ev.Entry.Level == log.EntryLevelError && !(ev.Entry.Source == log.EntrySourceNetwork && sameOrigin) {
			w.errs = append(w.errs, "browser log ("+string(ev.Entry.Source)+"): "+ev.Entry.Text)
		}
	case *network.EventRequestWillBeSent:
		w.urls = append(w.urls, ev.Request.URL)
		x := &exchange{method: ev.Request.Method, url: strings.TrimPrefix(ev.Request.URL, w.origin), outcome: "no answer yet"}
		if w.byID == nil {
			w.byID = map[network.RequestID]*exchange{}
		}
		w.byID[ev.RequestID] = x
		w.recent = append(w.recent, x)
		if len(w.recent) > recentKept {
			w.recent = w.recent[1:]
		}
	case *network.EventResponseReceived:
		if x := w.byID[ev.RequestID]; x != nil {
			x.outcome = fmt.Sprint(ev.Response.Status)
		}
	case *network.EventLoadingFailed:
		if x := w.byID[ev.RequestID]; x != nil {
			x.outcome = "failed: " + ev.ErrorText
		}
	}
}

// lastRequests lists the page's last requests, one a line.
func (w *pageWatch) lastRequests() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, x := range w.recent {
		fmt.Fprintf(&b, "\n  %s %s: %s", x.method, x.url, x.outcome)
	}
	return b.String()
}

// browser is a headless Chromium tab on one node's console.
type browser struct {
	tb     testing.TB
	ctx    context.Context
	watch  *pageWatch
	origin string
	shots  string
}

func newBrowser(tb testing.TB, origin string, timeout time.Duration) *browser {
	tb.Helper()
	exe := chromiumPath(tb)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe),
			chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
			chromedp.DisableGPU,
			chromedp.WindowSize(1280, 800),
		)...)
	tb.Cleanup(cancelAlloc)
	// One deadline for the whole session, generous for a loaded two-core
	// machine where starting Chromium alone can take seconds.
	deadline, cancelDeadline := context.WithTimeout(alloc, timeout)
	tb.Cleanup(cancelDeadline)
	ctx, cancelCtx := chromedp.NewContext(deadline)
	tb.Cleanup(cancelCtx)
	b := &browser{tb: tb, ctx: ctx, watch: &pageWatch{origin: origin}, origin: origin, shots: screenshotDir(tb)}
	if err := chromedp.Listen(ctx, b.watch.event); err != nil {
		tb.Fatalf("cannot start Chromium (%s): %v", exe, err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err },
		func() error { _, err := chromedp.Call(ctx, page.Enable, page.EnableParams{}); return err },
		func() error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbe})
			return err
		},
	} {
		if err := enable(); err != nil {
			tb.Fatalf("cannot enable DevTools domains: %v", err)
		}
	}
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// fail stops the test with what the page showed then, to see why.
func (b *browser) fail(what string, err error) {
	b.tb.Helper()
	if png, serr := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(filepath.Join(b.shots, "failed.png"), png, 0o644)
	}
	// What the page showed in words: its view and its last toasts, which is
	// where the console reports an action that failed.
	shown := "unknown"
	if v, serr := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`"view " + JSON.stringify(document.body.dataset.view) + ", last toasts " + JSON.stringify(window.__toasts || []) +
			", and in words: " + JSON.stringify(document.getElementById("main").innerText.slice(0, 1500))`)); serr == nil {
		shown = v
	}
	b.watch.mu.Lock()
	errs := strings.Join(b.watch.errs, "\n  ")
	b.watch.mu.Unlock()
	b.tb.Fatalf("%s: %v (the page as it was: %s; %s; its last requests:%s\nits errors so far:\n  %s)",
		what, err, filepath.Join(b.shots, "failed.png"), shown, b.watch.lastRequests(), errs)
}

// act runs a step on a selected node, again if the page redrew that node
// between finding it and acting on it (a list re-rendered after a save):
// the step then finds the node that replaced it.
func (b *browser) act(what string, step chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := chromedp.Do(b.ctx, step)
		if err == nil {
			return
		}
		if !staleNode(err) || time.Now().After(deadline) {
			b.fail(what, err)
		}
		time.Sleep(50 * time.Millisecond) // let the redraw finish, bounded by the deadline
	}
}

// staleNode tells whether err says the node acted on left the document.
func staleNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "Node is detached") ||
		strings.Contains(msg, "No node with given id")
}

// waitTimeout bounds every wait for the page, generous for a loaded
// two-core machine.
const waitTimeout = 45 * time.Second

// wait polls a JavaScript condition until it is true. Each check is its own
// evaluation in the page's main world, so no state of an earlier check (an
// execution context the page has since replaced) can outlive it.
func (b *browser) wait(what, cond string) {
	b.tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("still false after %v", waitTimeout)
			}
			b.fail(what, err)
		}
		if b.ctx.Err() != nil {
			b.fail(what, b.ctx.Err())
		}
		time.Sleep(50 * time.Millisecond) // the next check, bounded by the deadline
	}
}

// open goes to a console path ("/buckets") and waits for its view.
func (b *browser) open(path, view string) {
	b.tb.Helper()
	b.do("open "+path, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, "#"+path)))
	b.waitView(view)
}

func (b *browser) waitView(view string) {
	b.tb.Helper()
	b.wait("the "+view+" view", fmt.Sprintf(`document.body.dataset.view === %q`, view))
}

func (b *browser) text(sel string) string {
	b.tb.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.tb.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func (b *browser) value(sel string) string {
	b.tb.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.tb.Fatalf("reading the value of %s: %v", sel, err)
	}
	return s
}

func evalJS[T any](b *browser, expr string) T {
	b.tb.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.tb.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (b *browser) click(sel string) {
	b.tb.Helper()
	b.act("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) setValue(sel, v string) {
	b.tb.Helper()
	b.act("set "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// confirm presses the dialog's OK button and waits for it to close.
func (b *browser) confirm() {
	b.tb.Helper()
	b.wait("the dialog", `document.getElementById("dialog").open`)
	b.click("#dialog-ok")
	b.wait("the dialog to close", `!document.getElementById("dialog").open`)
}

func (b *browser) viewport(w, h int64) {
	b.tb.Helper()
	b.do("resize", chromedp.EmulateViewport(w, h))
}

func (b *browser) darkMode(on bool) {
	b.tb.Helper()
	value := "light"
	if on {
		value = "dark"
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}}}); err != nil {
		b.tb.Fatalf("emulating prefers-color-scheme %s: %v", value, err)
	}
}

// shot saves a screenshot of the whole page as <dir>/<name>.png.
func (b *browser) shot(name string) {
	b.tb.Helper()
	// Without the toasts of earlier steps, which would hide the view.
	b.do("clear the toasts", chromedp.Evaluate[chromedp.Void](`document.getElementById("toast").replaceChildren()`))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.tb.Fatalf("cannot save screenshot %s: %v", name, err)
	}
}

// check fails the test for every error the page reported, every CSP
// violation, and every request outside the node's origin.
func (b *browser) check() {
	b.tb.Helper()
	if v := evalJS[[]string](b, `window.__csp || []`); len(v) > 0 {
		b.tb.Errorf("Content-Security-Policy violations: %q", v)
	}
	w := b.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.errs {
		b.tb.Errorf("the page reported an error: %s", e)
	}
	for _, u := range w.urls {
		if u != w.origin && !strings.HasPrefix(u, w.origin+"/") && !strings.HasPrefix(u, "data:") {
			b.tb.Errorf("the page requested %s, outside %s", u, w.origin)
		}
	}
}
