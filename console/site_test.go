package console_test

import (
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/dakkio/dakkio/console"
	"github.com/dakkio/dakkio/internal/testnode"
)

// maxWeight is the budget of everything the console's page loads,
// uncompressed (issue 18).
const maxWeight = 300 << 10

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestConsoleServed checks, without a browser, what a node serves under
// /console: the page and each asset it names, all under a CSP that allows
// this origin only and no inline code, each asset pinned by the integrity
// hash the page gives, nothing from elsewhere, and within the weight budget.
func TestConsoleServed(t *testing.T) {
	n := testnode.Start(t)
	resp, page := get(t, n.URL+"/console")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /console: status %d, body %s", resp.StatusCode, page)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
		"frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q allows inline code, eval or another origin", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", resp.Header.Get("X-Content-Type-Options"))
	}
	if regexp.MustCompile(`<script>|<style>|\son[a-z]+=|style=`).Match(page) {
		t.Errorf("the page holds inline script, style or handlers")
	}
	outside := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import`)
	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)" integrity="(sha384-[^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("the page names %d assets with integrity hashes; want its script bundle and its style sheet", len(refs))
	}
	total := len(page)
	for _, m := range refs {
		path, sri := html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2]))
		resp, body := get(t, n.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
			continue
		}
		if resp.Header.Get("Content-Security-Policy") != csp {
			t.Errorf("GET %s: CSP %q, want the page's", path, resp.Header.Get("Content-Security-Policy"))
		}
		sum := sha512.Sum384(body)
		if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != sri {
			t.Errorf("%s: integrity %s in the page, %s served", path, sri, got)
		}
		if m := outside.Find(body); m != nil {
			t.Errorf("%s refers to an outside asset: %q", path, m)
		}
		if regexp.MustCompile(`\.innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`).Match(body) {
			t.Errorf("%s builds HTML from strings or evaluates code", path)
		}
		total += len(body)
	}
	if total > maxWeight {
		t.Errorf("the console weighs %d bytes uncompressed; the budget is %d", total, maxWeight)
	}
	site, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	if site.Weight() != total {
		t.Errorf("Site.Weight() = %d, but the page and the assets it names weigh %d: an asset is not loaded, or not served", site.Weight(), total)
	}
	// The scripts are served joined, in console.Scripts' order, never one
	// by one.
	for _, path := range []string{"/console/nope.js", "/console/index.html", "/console/..%2fconsole.go", "/console/app.js", "/console/dom.js"} {
		if resp, body := get(t, n.URL+path); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"error":"Not Found"`) {
			t.Errorf("GET %s: status %d %s, want 404 in the error envelope", path, resp.StatusCode, body)
		}
	}
}

// BenchmarkConsoleWeight reports the bytes a browser loads for the console
// (page and assets, uncompressed); it fails over the 300 KB budget.
func BenchmarkConsoleWeight(b *testing.B) {
	var w int
	for b.Loop() {
		site, err := console.New()
		if err != nil {
			b.Fatal(err)
		}
		w = site.Weight()
	}
	b.ReportMetric(float64(w), "bytes")
	if w > maxWeight {
		b.Fatalf("the console weighs %d bytes; the budget is %d", w, maxWeight)
	}
}
