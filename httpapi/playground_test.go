package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dakkio/dakkio/internal/testnode"
)

// TestPlaygroundPage checks what the node serves at /playground without a
// browser: an HTML page that loads nothing from elsewhere, under a
// Content-Security-Policy that lets it reach this origin only.
func TestPlaygroundPage(t *testing.T) {
	n := testnode.Start(t)
	resp, err := http.Get(n.URL + "/playground")
	if err != nil {
		t.Fatalf("GET /playground: %v", err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /playground: status %d, body %s", resp.StatusCode, page)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "script-src 'sha256-", "style-src 'sha256-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
		t.Errorf("Content-Security-Policy %q allows inline code or another origin", csp)
	}
	// No outside assets: no src/href/url() to another origin.
	outside := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import`)
	if m := outside.Find(page); m != nil {
		t.Errorf("the page refers to an outside asset: %q", m)
	}
	if !strings.Contains(string(page), `fetch("/openapi.json"`) {
		t.Errorf("the page does not build its list from /openapi.json")
	}
}

// chromiumPath finds a Chromium to drive. A missing browser fails the test,
// so that CI cannot pass without running it, unless DAKKIO_SKIP_BROWSER=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("DAKKIO_SKIP_BROWSER") == "1" {
		t.Skip("DAKKIO_SKIP_BROWSER=1: not running the playground in a browser")
	}
	if p := os.Getenv("DAKKIO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found to test the API Playground in a browser: install it " +
		"(Debian: apt-get install -y chromium), point DAKKIO_CHROMIUM at a Chrome binary, " +
		"or set DAKKIO_SKIP_BROWSER=1 to skip this test")
	return ""
}

// pageWatch records, from the browser, what the page must not do: throw,
// log errors (a Content-Security-Policy violation is one), or request
// anything from another origin.
type pageWatch struct {
	origin string
	mu     sync.Mutex
	errs   []string
	urls   []string
}

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
		w.errs = append(w.errs, fmt.Sprintf("uncaught exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, a.Description+string(a.Value))
			}
			w.errs = append(w.errs, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// The answers the user asked for, 401 included, are no fault of
		// the page, though Chromium logs each error status.
		sameOrigin := ev.Entry.URL == w.origin || strings.HasPrefix(ev.Entry.URL, w.origin+"/")
		if ev.Entry.Level == log.EntryLevelError && !(ev.Entry.Source == log.EntrySourceNetwork && sameOrigin) {
			w.errs = append(w.errs, "browser log ("+string(ev.Entry.Source)+"): "+ev.Entry.Text)
		}
	case *network.EventRequestWillBeSent:
		w.urls = append(w.urls, ev.Request.URL)
	}
}

func (w *pageWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.errs {
		t.Errorf("the page reported an error: %s", e)
	}
	for _, u := range w.urls {
		if u != w.origin && !strings.HasPrefix(u, w.origin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, outside %s", u, w.origin)
		}
	}
}

// TestPlaygroundInBrowser drives the playground in headless Chromium as a
// user would: paste the admin key, pick an endpoint, keep or fill its
// parameters and body, press Send, and read the status and body shown.
func TestPlaygroundInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	n := testnode.Start(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe),
			chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
			chromedp.DisableGPU,
			chromedp.WindowSize(1280, 1000),
		)...)
	t.Cleanup(cancelAlloc)
	// One deadline for the whole browser session: generous for a loaded
	// two-core machine, where starting Chromium alone can take seconds.
	deadline, cancelDeadline := context.WithTimeout(alloc, 90*time.Second)
	t.Cleanup(cancelDeadline)
	ctx, cancelCtx := chromedp.NewContext(deadline)
	t.Cleanup(cancelCtx)

	watch := &pageWatch{origin: n.URL}
	if err := chromedp.Listen(ctx, watch.event); err != nil {
		t.Fatalf("cannot start Chromium (%s): %v", exe, err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err },
	} {
		if err := enable(); err != nil {
			t.Fatalf("cannot enable DevTools domains: %v", err)
		}
	}

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	sent := 0
	// pick chooses an endpoint in the list (SetValue fires the select's
	// input and change events, as a user's choice does).
	pick := func(op string) {
		t.Helper()
		do("pick "+op, chromedp.SetValue(chromedp.CSS("#endpoint"), op))
		if got := text("#op-method") + " " + text("#op-path"); got != op {
			t.Fatalf("after picking %q the form shows %q", op, got)
		}
	}
	// send presses Send and waits for the answer to be shown; it returns
	// the status line and the body as displayed.
	send := func() (status, body string) {
		t.Helper()
		sent++
		do("send",
			chromedp.Click(chromedp.CSS("#send")),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById("response").dataset.responses === "%d"`, sent),
				chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)),
		)
		return text("#status"), text("#resp-body")
	}

	do("load /playground",
		chromedp.Navigate(n.URL+"/playground"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #send:enabled`)),
	)
	do("paste the admin key", chromedp.SendKeys(chromedp.CSS("#key"), n.AdminKey))

	// Create a bucket with the example body the page fills in.
	pick("POST /api/buckets")
	example, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#body")))
	if err != nil {
		t.Fatal(err)
	}
	var exBody struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(example), &exBody); err != nil || exBody.Name == "" {
		t.Fatalf("the body is not prefilled with an example bucket: %q", example)
	}
	status, body := send()
	if !strings.HasPrefix(status, "201") {
		t.Fatalf("POST /api/buckets shows status %q, want 201; body %s", status, body)
	}
	var created struct {
		Data struct {
			ID   string `json:"_id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Data.Name != exBody.Name || !idRE.MatchString(created.Data.ID) {
		t.Fatalf("POST /api/buckets shows body %s, want the bucket %q (%v)", body, exBody.Name, err)
	}

	// Read it back through a path parameter.
	pick("GET /api/buckets/{id}")
	do("fill {id}", chromedp.SendKeys(chromedp.CSS("#param-id"), created.Data.ID))
	status, body = send()
	if !strings.HasPrefix(status, "200") || !strings.Contains(body, created.Data.ID) || !strings.Contains(body, `"stats"`) {
		t.Fatalf("GET /api/buckets/{id} shows %q %s, want 200 and the bucket with its stats", status, body)
	}

	// The list holds it.
	pick("GET /api/buckets")
	status, body = send()
	if !strings.HasPrefix(status, "200") || !strings.Contains(body, `"`+exBody.Name+`"`) || !strings.Contains(body, `"pagination"`) {
		t.Fatalf("GET /api/buckets shows %q %s, want 200 and a page holding %q", status, body, exBody.Name)
	}
	headers := text("#resp-headers")
	if !strings.Contains(strings.ToLower(headers), "x-ratelimit-limit") {
		t.Errorf("the response headers shown lack X-RateLimit-Limit: %q", headers)
	}

	// A wrong key shows the server's 401.
	// SetValue replaces the field's text and fires its input event, as a
	// paste over a selection does.
	do("replace the key", chromedp.SetValue(chromedp.CSS("#key"), "dakkio_a_wrong"))
	status, body = send()
	if !strings.HasPrefix(status, "401") || !strings.Contains(body, "Invalid or missing API key") {
		t.Fatalf("with a wrong key the page shows %q %s, want 401 Unauthorized", status, body)
	}
	if curl := text("#curl"); strings.Contains(curl, "dakkio_a_") || !strings.Contains(curl, "$DAKKIO_API_KEY") {
		t.Errorf("the curl command should name the key by a variable, never show it: %q", curl)
	}

	if path := os.Getenv("DAKKIO_PLAYGROUND_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(path, png, 0o644)
		}
		if err != nil {
			t.Logf("cannot write the screenshot: %v", err)
		}
	}
	watch.check(t)
}
