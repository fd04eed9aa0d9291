package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// status answers the HTTP status of a GET with key, to check what the
// browser did from outside it.
func status(t *testing.T, n *testnode.Node, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", n.URL+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signIn types a credential into the sign-in form, by keyboard, and waits
// for the view it leads to.
func (b *browser) signIn(secret, bucketID string, operator bool, view string) {
	b.tb.Helper()
	b.open("/signin", "signin")
	b.do("clear the field", chromedp.Evaluate[chromedp.Void](`document.getElementById("secret").value = ""`))
	b.do("type the key", chromedp.SendKeys(chromedp.CSS("#secret"), secret))
	if bucketID != "" {
		b.wait("the bucket field", `!document.querySelector("#signin-bucket").closest("label").hidden`)
		b.do("type the bucket", chromedp.SendKeys(chromedp.CSS("#signin-bucket"), bucketID))
	}
	if operator {
		b.wait("the operator box ticked", `document.getElementById("as-operator").checked`)
	}
	b.do("press Enter", chromedp.SendKeys(chromedp.CSS("#secret"), kb.Enter))
	b.waitView(view)
}

// TestConsoleInBrowser drives every view of the console in headless
// Chromium against a real node, as an admin, a bucket's read key and the
// operator, at desktop and phone widths and in dark mode, and saves a
// screenshot of each view.
func TestConsoleInBrowser(t *testing.T) {
	n := testnode.Start(t)
	s := seed(t, n)
	b := newBrowser(t, n.URL, 5*time.Minute)
	ctx := context.Background()

	// Sign in, by keyboard, with the admin key.
	b.do("load /console", chromedp.Navigate(n.URL+"/console"))
	b.wait("the console", `document.body.dataset.ready === "true"`)
	b.waitView("signin")
	b.shot("signin")
	b.signIn(n.AdminKey, "", false, "overview")
	if href := evalJS[string](b, `location.href`); strings.Contains(href, "dakkio_") {
		t.Errorf("the key is in the URL: %s", href)
	}
	if stored := evalJS[string](b, `sessionStorage.getItem("dakkio.console.session")`); !strings.Contains(stored, n.AdminKey) {
		t.Errorf("the key is not kept in sessionStorage: %q", stored)
	}
	if v := evalJS[string](b, `localStorage.length + " " + document.cookie`); v != "0 " {
		t.Errorf("the console keeps something in localStorage or cookies: %q", v)
	}

	// By keyboard: the first Tab reaches the skip link, which moves focus
	// to the view without changing the route.
	// (Reloaded: the session outlives a reload of the tab.)
	b.do("reload", chromedp.Reload())
	b.waitView("overview")
	b.do("Tab", chromedp.KeyEvent(kb.Tab))
	if got := evalJS[string](b, `document.activeElement.getAttribute("class") || document.activeElement.tagName`); got != "skip" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}
	b.do("Enter", chromedp.KeyEvent(kb.Enter))
	if got := evalJS[string](b, `document.activeElement.id + " " + location.hash`); got != "main #/overview" {
		t.Errorf("after the skip link, focus and route are %q", got)
	}

	// Overview: totals, calls against the plan, storage, ingestion per hour.
	b.wait("the ingestion chart", `document.querySelector("#chart-ingestion svg")`)
	if got := b.text("#totals"); !strings.Contains(got, "49data points") && !strings.Contains(got, "49 data points") {
		t.Errorf("the totals show %q, want 49 data points", got)
	}
	if bars := evalJS[int](b, `Number(document.querySelector("#chart-ingestion svg").dataset.bars)`); bars < 48 {
		t.Errorf("the ingestion chart has %d hourly bars, want at least 48", bars)
	}
	if got := b.text("#usage-calls"); !strings.Contains(got, "plan without a limit") {
		t.Errorf("the API calls panel shows %q; the default org's enterprise plan has no limit", got)
	}
	if got := b.text("#points-by-bucket"); !strings.Contains(got, "greenhouse") || !strings.Contains(got, "49 points") {
		t.Errorf("points by bucket shows %q", got)
	}
	b.shot("overview")

	// Buckets: create, edit, archive, and delete with the cascade shown.
	b.open("/buckets", "buckets")
	b.setValue("#bucket-create #bucket-name", "scratch")
	b.setValue("#bucket-create #bucket-retention", "7")
	b.click("#bucket-create button[type=submit]")
	b.wait("the new bucket", `document.querySelector('tr[data-name="scratch"]')`)
	scratch := evalJS[string](b, `document.querySelector('tr[data-name="scratch"]').dataset.bucket`)
	sb, err := n.Admin.GetBucket(ctx, scratch)
	if err != nil || sb.RetentionDays != 7 {
		t.Fatalf("the bucket made in the console: %+v, %v", sb, err)
	}
	b.click(`tr[data-name="scratch"] button[data-act="edit"]`)
	b.wait("the edit dialog", `document.getElementById("dialog").open`)
	b.setValue("#dialog #bucket-description", "throwaway")
	b.confirm()
	b.wait("the description", `document.querySelector('tr[data-name="scratch"]') && document.querySelector('tr[data-name="scratch"]').textContent.includes("throwaway")`)
	b.click(`tr[data-name="scratch"] button[data-act="archive"]`)
	b.wait("archived", `(document.querySelector('tr[data-name="scratch"]') || {textContent: ""}).textContent.includes("archived")`)
	if got := evalJS[string](b, `document.activeElement.textContent`); got != "Unarchive" {
		t.Errorf("after archiving, focus is on %q, want the bucket's Unarchive button", got)
	}
	if sb, _ := n.Admin.GetBucket(ctx, scratch); sb == nil || sb.Status != "archived" || sb.Description != "throwaway" {
		t.Errorf("after edit and archive the bucket is %+v", sb)
	}
	b.click(`tr[data-name="scratch"] button[data-act="archive"]`)
	b.wait("active again", `(document.querySelector('tr[data-name="scratch"]') || {textContent: ""}).textContent.includes("active")`)
	// Something to cascade: a source with three points, a key, a rule.
	src, err := n.Admin.CreateSource(ctx, scratch, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}
	var pts []client.PointInput
	for i := range 3 {
		pts = append(pts, client.PointInput{DataSourceID: src.ID, Timestamp: time.Now().Add(-time.Duration(i+1) * time.Minute), Values: map[string]any{"v": float64(i)}})
	}
	if _, err := n.Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: scratch, DataPoints: pts}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Admin.CreateKey(ctx, scratch, client.CreateKeyRequest{Name: "k", Type: "read"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Admin.CreateAlert(ctx, client.CreateAlertRequest{BucketID: scratch, DataSourceID: src.ID, Name: "r", Condition: "v exceeds 9", WebhookURL: "https://example.com/h"}); err != nil {
		t.Fatal(err)
	}
	b.click(`tr[data-name="scratch"] button[data-act="delete"]`)
	b.wait("the cascade", `document.getElementById("dialog").open && document.getElementById("cascade")`)
	for sel, want := range map[string]string{"#cascade-sources": "1 data sources", "#cascade-points": "3 data points", "#cascade-keys": "1 API keys", "#cascade-alerts": "1 alert rules"} {
		if got := b.text(sel); !strings.HasPrefix(got, want) {
			t.Errorf("the delete dialog shows %q, want %q", got, want)
		}
	}
	b.shot("bucket-delete")
	b.confirm()
	b.wait("the bucket gone", `document.body.dataset.view === "buckets" && document.querySelector('tr[data-name="greenhouse"]') && !document.querySelector('tr[data-name="scratch"]')`)
	if code := status(t, n, "/api/buckets/"+scratch, n.AdminKey); code != http.StatusNotFound {
		t.Errorf("after delete, GET the bucket answers %d, want 404", code)
	}
	b.shot("buckets")

	// A bucket: its sources with counts and last point, and analytics.
	b.open("/buckets/"+s.bucket, "bucket")
	row := b.text(`#sources-table tr[data-source="` + s.source + `"]`)
	for _, want := range []string{"sensor-1", "temperature (number, C)", fmt.Sprint(s.points), "temperature = 35.5"} {
		if !strings.Contains(row, want) {
			t.Errorf("the source's row %q lacks %q", row, want)
		}
	}
	if got := b.text("#bucket-info"); !strings.Contains(got, "retention 30 days") || !strings.Contains(got, "2 keys") {
		t.Errorf("the bucket's summary shows %q", got)
	}
	if bars := evalJS[int](b, `Number(document.querySelector("#chart-bucket-ingestion svg").dataset.bars)`); bars < 48 {
		t.Errorf("the bucket's ingestion chart has %d bars, want at least 48", bars)
	}
	if got := b.text("#source-stats"); !strings.Contains(got, "temperature") {
		t.Errorf("the source statistics show %q", got)
	}
	if got := b.text("#alerts-by-rule"); !strings.Contains(got, "hot") || !strings.Contains(got, "1") {
		t.Errorf("alert activity shows %q, want rule hot with one trigger", got)
	}
	b.setValue("#period", "30d")
	b.wait("the 30-day period", `location.hash.includes("period=30d") && document.body.dataset.view === "bucket"`)
	b.shot("bucket")
	b.setValue("#source-create input[name=name]", "tank")
	b.setValue("#source-create input[name=schema]", "level:number:m, pump:boolean")
	b.click("#source-create button[type=submit]")
	b.wait("the new source", `document.querySelector('#sources-table tr[data-name="tank"]')`)
	if got := b.text(`#sources-table tr[data-name="tank"]`); !strings.Contains(got, "level (number, m)") || !strings.Contains(got, "pump (boolean)") {
		t.Errorf("the new source's row shows %q", got)
	}
	tank := evalJS[string](b, `document.querySelector('#sources-table tr[data-name="tank"]').dataset.source`)
	write := func(v float64) error {
		_, err := n.Admin.WritePoint(ctx, client.WritePointRequest{BucketID: s.bucket, DataSourceID: tank, Values: map[string]any{"level": v}})
		return err
	}
	for i := range 2 {
		if err := write(float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Deactivated in the console, the source refuses points.
	b.click(`tr[data-name="tank"] button[data-act="toggle"]`)
	b.wait("inactive", `(document.querySelector('tr[data-name="tank"]') || {textContent: ""}).textContent.includes("inactive")`)
	if err := write(3); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("a point for the source deactivated in the console: %v, want 409", err)
	}
	// Deleted, with its points counted first.
	b.click(`tr[data-name="tank"] button[data-act="delete"]`)
	b.wait("the cascade", `document.getElementById("dialog").open && document.getElementById("cascade")`)
	if got := b.text("#cascade-points"); !strings.HasPrefix(got, "2 data points") {
		t.Errorf("the delete dialog shows %q, want 2 data points", got)
	}
	b.confirm()
	b.wait("the source gone", `document.body.dataset.view === "bucket" && document.querySelector("#sources-table") && !document.querySelector('tr[data-name="tank"]')`)
	if code := status(t, n, "/api/buckets/"+s.bucket+"/sources/"+tank, n.AdminKey); code != http.StatusNotFound {
		t.Errorf("the source deleted in the console answers %d, want 404", code)
	}

	// Explore: a chart of a query, then raw points, a table, CSV, a custom
	// range and auto-refresh.
	b.open("/buckets/"+s.bucket+"/explore?range=7d&sources="+s.source, "explore")
	b.wait("the chart", `document.querySelector("#query-chart svg")`)
	// avg per hour over 7 days: one window per point, three numeric fields
	// (door is boolean: not charted).
	if got := evalJS[string](b, `document.querySelector("#query-chart svg").dataset.points + "/" + document.querySelector("#query-chart svg").dataset.series`); got != fmt.Sprintf("%d/2", 2*s.points) {
		t.Errorf("the chart draws %s points/series, want %d/2", got, 2*s.points)
	}
	if got := b.text("#query-status"); !strings.Contains(got, "avg per hour") {
		t.Errorf("the status says %q, want avg per hour", got)
	}
	// Keyboard: focus the chart and step back from the newest value.
	b.do("focus the chart", chromedp.Focus(chromedp.CSS("#query-chart svg")))
	b.do("arrow left", chromedp.KeyEvent(kb.ArrowLeft))
	if got := b.text("#query-chart .readout"); !strings.Contains(got, "sensor-1 · temperature") {
		t.Errorf("the keyboard readout shows %q", got)
	}
	b.shot("explore-chart")
	runs := evalJS[int](b, `Number(document.getElementById("result").dataset.runs)`)
	b.setValue("#agg", "none")
	b.wait("raw points", fmt.Sprintf(`Number(document.getElementById("result").dataset.runs) > %d`, runs))
	if got := evalJS[string](b, `document.querySelector("#query-chart svg").dataset.points`); got != fmt.Sprint(2*s.points) {
		t.Errorf("raw, the chart draws %s points, want %d", got, 2*s.points)
	}
	b.click("#fields input[data-field=temperature]")
	b.wait("one field", `document.querySelector("#query-chart svg") && document.querySelector("#query-chart svg").dataset.series === "1"`)
	b.click("#show-table")
	b.wait("the table", `document.querySelector("#query-table")`)
	if rows := evalJS[int](b, `document.querySelectorAll("#query-table tbody tr").length`); rows != s.points {
		t.Errorf("the table shows %d rows, want %d", rows, s.points)
	}
	b.shot("explore-table")
	href := evalJS[string](b, `document.getElementById("csv-download").href`)
	csv, err := url.PathUnescape(strings.TrimPrefix(href, "data:text/csv;charset=utf-8,"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if lines[0] != "timestamp,source,temperature" || len(lines) != s.points+1 || !strings.Contains(csv, ",sensor-1,35.5") {
		t.Errorf("the CSV has %d lines, header %q; want %d rows of timestamp,source,temperature with 35.5", len(lines), lines[0], s.points)
	}
	if dl := evalJS[string](b, `document.getElementById("csv-download").download`); !strings.HasSuffix(dl, ".csv") {
		t.Errorf("the CSV link downloads %q", dl)
	}
	// Custom range: the last 10 hours before the newest hour.
	now := time.Now().UTC().Truncate(time.Hour)
	b.setValue("#range", "custom")
	b.setValue("#custom-from", now.Add(-10*time.Hour).Format("2006-01-02T15:04"))
	b.setValue("#custom-to", now.Format("2006-01-02T15:04"))
	runs = evalJS[int](b, `Number(document.getElementById("result").dataset.runs)`)
	b.click("#apply-custom")
	b.wait("the custom range", fmt.Sprintf(`Number(document.getElementById("result").dataset.runs) > %d`, runs))
	if rows := evalJS[int](b, `document.querySelectorAll("#query-table tbody tr").length`); rows != 10 {
		t.Errorf("the custom range [now-10h, now) shows %d rows, want 10", rows)
	}
	b.click("#show-chart")
	runs = evalJS[int](b, `Number(document.getElementById("result").dataset.runs)`)
	b.setValue("#refresh", "5")
	b.wait("an auto-refresh", fmt.Sprintf(`Number(document.getElementById("result").dataset.runs) > %d`, runs))
	if h := evalJS[string](b, `location.hash`); !strings.Contains(h, "refresh=5") || !strings.Contains(h, "range=custom") {
		t.Errorf("the query is not kept in the URL's fragment: %s", h)
	}
	b.setValue("#refresh", "0")

	// Alert rules: a live preview while typing, create, pause, resume,
	// edit, delete; then a rule's events.
	b.open("/alerts?bucket="+s.bucket, "alerts")
	if got := b.text(`#alerts-table tr[data-alert="` + s.rule + `"]`); !strings.Contains(got, "temperature > 30") {
		t.Errorf("the rule's row shows %q", got)
	}
	b.setValue("#alert-source", s.source)
	for _, tc := range []struct{ typed, ok, want string }{
		{"temperature exceeds", "false", `expected a number after "exceeds"`},
		{"door exceeds 1", "false", "Field 'door' is not numeric"},
		{"room temp exceeds 3", "false", "field names cannot contain spaces"},
		{"pressure is above 3", "false", "Field 'pressure' is not in the data source's schema"},
		{"temperature is at least 25 for 2 hours", "true", "temperature >= 25 for 2 hours"},
		{"No data received for 90 minutes.", "true", "no data for 90 minutes"},
		{"humidity drops below 20 for 5 minutes", "true", "humidity < 20 for 5 minutes"},
	} {
		b.setValue("#alert-condition", tc.typed)
		ok, got := evalJS[string](b, `document.getElementById("alert-condition-preview").dataset.ok`), b.text("#alert-condition-preview")
		if ok != tc.ok || !strings.Contains(got, tc.want) {
			t.Errorf("typing %q previews %q (ok=%s), want %q (ok=%s)", tc.typed, got, ok, tc.want, tc.ok)
		}
	}
	b.setValue("#alert-name", "dry")
	b.setValue("#alert-webhook", "https://example.com/dry")
	b.click("#alert-create button[type=submit]")
	b.wait("the new rule", `document.querySelector('#alerts-table tr[data-name="dry"]')`)
	rules, err := n.Admin.ListAlerts(ctx, s.bucket, client.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var dry string
	for _, r := range rules.Data {
		if r.Name == "dry" {
			dry = r.ID
			if r.ParsedCondition.Operator != "lt" || r.ParsedCondition.DurationMinutes != 5 {
				t.Errorf("the server parsed the rule as %+v", r.ParsedCondition)
			}
		}
	}
	if dry == "" {
		t.Fatal("the rule made in the console is not on the server")
	}
	b.click(`tr[data-name="dry"] button[data-act="toggle"]`)
	b.wait("paused", `(document.querySelector('tr[data-name="dry"]') || {dataset: {}}).dataset.status === "paused"`)
	// The list is redrawn; the keyboard's place is kept.
	if got := evalJS[string](b, `document.activeElement.textContent + " in " + document.activeElement.closest("tr").dataset.name`); got != "Resume in dry" {
		t.Errorf("after pausing, focus is on %q, want the rule's Resume button", got)
	}
	b.click(`tr[data-name="dry"] button[data-act="toggle"]`)
	b.wait("resumed", `(document.querySelector('tr[data-name="dry"]') || {dataset: {}}).dataset.status === "active"`)
	b.click(`tr[data-name="dry"] button[data-act="edit"]`)
	b.wait("the edit dialog", `document.getElementById("dialog").open`)
	b.setValue("#edit-condition", "humidity is below 15")
	if got := b.text("#edit-condition-preview"); !strings.Contains(got, "humidity < 15") {
		t.Errorf("the edit dialog previews %q", got)
	}
	b.confirm()
	b.wait("the edited rule", `(document.querySelector('tr[data-name="dry"]') || {textContent: ""}).textContent.includes("humidity is below 15")`)
	b.shot("alerts")
	b.click(`tr[data-name="dry"] button[data-act="delete"]`)
	b.confirm()
	b.wait("the rule gone", `document.querySelector("#alerts-table") && !document.querySelector('tr[data-name="dry"]')`)
	if _, err := n.Admin.GetAlert(ctx, dry); err == nil {
		t.Error("the rule deleted in the console is still on the server")
	}
	b.click(`tr[data-alert="` + s.rule + `"] a`)
	b.waitView("alert")
	if n := evalJS[int](b, `Number(document.querySelector("#events-timeline svg").dataset.events)`); n != 1 {
		t.Errorf("the timeline shows %d events, want 1", n)
	}
	if got := b.text("#events-table"); !strings.Contains(got, "delivered") || !strings.Contains(got, "35.5") {
		t.Errorf("the events table shows %q", got)
	}
	b.shot("alert-events")

	// Keys: create (shown once, copied), listed with last use, revoked.
	b.open("/keys?bucket="+s.bucket, "keys")
	b.setValue("#key-name", "device-7")
	b.setValue("#key-type", "write")
	b.click("#key-create button[type=submit]")
	b.wait("the new key", `document.getElementById("secret-value")`)
	newKey := b.value("#secret-value")
	if !strings.HasPrefix(newKey, "dakkio_w_") {
		t.Fatalf("the key shown is %q", newKey)
	}
	b.click("#copy-secret")
	b.wait("copied", `document.getElementById("copy-status").textContent === "Copied"`)
	if code := status(t, n, "/api/buckets/"+s.bucket+"/sources", newKey); code != http.StatusOK {
		t.Errorf("the key made in the console answers %d", code)
	}
	// Its last use shows once the node has counted it.
	for deadline := time.Now().Add(30 * time.Second); ; {
		b.open("/buckets", "buckets")
		b.open("/keys?bucket="+s.bucket, "keys")
		got := b.text(`#keys-table tr[data-name="device-7"]`)
		if !strings.Contains(got, "never") && strings.Contains(got, newKey[:12]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key's row shows %q, want its prefix and its last use", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(b.text("#keys-table"), newKey) {
		t.Error("the key list shows a whole key")
	}
	b.shot("keys")
	// Escape leaves the confirmation without revoking.
	b.click(`tr[data-name="device-7"] button[data-act="revoke"]`)
	b.wait("the dialog", `document.getElementById("dialog").open`)
	b.do("Escape", chromedp.KeyEvent(kb.Escape))
	b.wait("the dialog closed", `!document.getElementById("dialog").open`)
	if code := status(t, n, "/api/buckets/"+s.bucket+"/sources", newKey); code != http.StatusOK {
		t.Errorf("after Escape the key answers %d; it should not be revoked", code)
	}
	b.click(`tr[data-name="device-7"] button[data-act="revoke"]`)
	b.confirm()
	b.wait("the key gone", `document.querySelector("#keys-table") && !document.querySelector('tr[data-name="device-7"]')`)
	if code := status(t, n, "/api/buckets/"+s.bucket+"/sources", newKey); code != http.StatusUnauthorized {
		t.Errorf("the key revoked in the console answers %d, want 401", code)
	}

	// Webhooks: offered only where the node serves /api/webhooks.
	if status(t, n, "/api/webhooks", n.AdminKey) == http.StatusNotFound {
		if evalJS[bool](b, `!!document.querySelector('#nav a[data-nav="webhooks"]')`) {
			t.Error("the node has no /api/webhooks, yet the console offers the webhooks view")
		}
	} else {
		driveWebhooks(t, b, n, s)
	}

	// Phone width and dark mode.
	b.viewport(390, 844)
	b.open("/overview", "overview")
	b.wait("the ingestion chart", `document.querySelector("#chart-ingestion svg")`)
	if w := evalJS[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at phone width the page is %d px wide in a %d px window: it scrolls sideways", w[0], w[1])
	}
	b.shot("overview-phone")
	b.open("/buckets/"+s.bucket+"/explore?range=7d", "explore")
	b.wait("the chart", `document.querySelector("#query-chart svg")`)
	if w := evalJS[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at phone width the explore page is %d px wide in a %d px window", w[0], w[1])
	}
	b.shot("explore-phone")
	b.viewport(1280, 800)
	b.darkMode(true)
	b.open("/buckets/"+s.bucket, "bucket")
	if bg := evalJS[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(15, 18, 23)" {
		t.Errorf("in dark mode the background is %s", bg)
	}
	b.shot("bucket-dark")
	b.darkMode(false)

	// Sign out: the key is forgotten.
	b.click("#signout")
	b.waitView("signin")
	if v := evalJS[string](b, `sessionStorage.getItem("dakkio.console.session") || ""`); v != "" {
		t.Errorf("after signing out sessionStorage holds %q", v)
	}

	// A read key: its bucket only, nothing it may not do is offered.
	b.signIn(s.readKey, s.bucket, false, "bucket")
	navs := evalJS[[]string](b, `[...document.querySelectorAll("#nav a")].map((a) => a.dataset.nav)`)
	if strings.Join(navs, ",") != "bucket,alerts" {
		t.Errorf("a read key is offered %v, want bucket and alerts", navs)
	}
	if evalJS[bool](b, `!!document.getElementById("source-create")`) {
		t.Error("a read key is offered to create a source")
	}
	b.open("/alerts", "alerts")
	if evalJS[bool](b, `!!document.getElementById("alert-create") || !!document.querySelector('#alerts-table button')`) {
		t.Error("a read key is offered to create, pause, edit or delete rules")
	}
	b.shot("read-key")
	b.open("/keys", "forbidden")
	b.click("#signout")

	// A write key may create rules and sources, but not manage keys.
	b.signIn(s.writeKey, s.bucket, false, "bucket")
	if !evalJS[bool](b, `!!document.getElementById("source-create")`) {
		t.Error("a write key is not offered to create a source")
	}
	b.open("/alerts", "alerts")
	if !evalJS[bool](b, `!!document.getElementById("alert-create")`) {
		t.Error("a write key is not offered to create a rule")
	}
	// Revoked while signed in: the next call's 401 ends the session.
	keys, err := n.Admin.ListKeys(ctx, s.bucket, client.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Data {
		if k.Name == "device" {
			if _, err := n.Admin.DeleteKey(ctx, s.bucket, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.open("/buckets/"+s.bucket, "signin")
	if got := b.text("#toast"); !strings.Contains(got, "refused (401)") {
		t.Errorf("after the key is revoked the page says %q", got)
	}
	if v := evalJS[string](b, `sessionStorage.getItem("dakkio.console.session") || ""`); v != "" {
		t.Errorf("after a 401 sessionStorage still holds %q", v)
	}

	// A wrong key is refused with the server's answer.
	b.open("/signin", "signin")
	b.do("type a wrong key", chromedp.SendKeys(chromedp.CSS("#secret"), "dakkio_a_wrongwrongwrongwrongwrongwrongwrong"+kb.Enter))
	b.wait("the refusal", `document.querySelector("#signin-form .error").textContent.includes("Invalid or missing API key")`)

	// The operator: organizations and plans, and the cluster.
	b.signIn(n.OperatorToken, "", true, "cluster")
	b.open("/operator/orgs", "orgs")
	b.setValue("#org-name", "acme")
	b.setValue("#org-plan", "pro")
	b.click("#org-create button[type=submit]")
	b.wait("acme's key", `document.getElementById("secret-value") && document.querySelector('tr[data-name="acme"]')`)
	acmeKey := b.value("#secret-value")
	if !strings.HasPrefix(acmeKey, "dakkio_a_") || status(t, n, "/api/buckets", acmeKey) != http.StatusOK {
		t.Errorf("the admin key shown for acme (%q) does not work", acmeKey)
	}
	// acme's admin sees its calls against the pro plan's limit.
	b.click("#signout")
	b.signIn(acmeKey, "", false, "overview")
	if got := b.text("#usage-calls"); !strings.Contains(got, "of 1,000,000") {
		t.Errorf("on the pro plan the API calls panel shows %q", got)
	}
	if v := evalJS[string](b, `document.querySelector('#usage-calls [role="meter"]').getAttribute("aria-valuemax")`); v != "100" {
		t.Errorf("the calls meter's aria-valuemax is %q", v)
	}
	b.click("#signout")
	b.signIn(n.OperatorToken, "", true, "cluster")
	b.open("/operator/orgs", "orgs")
	b.setValue(`tr[data-name="acme"] select`, "enterprise")
	deadline := time.Now().Add(30 * time.Second)
	for {
		orgs, err := n.Operator.ListOrgs(ctx, client.Page{})
		if err != nil {
			t.Fatal(err)
		}
		plan := ""
		for _, o := range orgs.Data {
			if o.Name == "acme" {
				plan = o.Plan
			}
		}
		if plan == "enterprise" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's plan is %q after the change in the console", plan)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// acme's admin keys, with the first one's last use; revoke it.
	b.click(`tr[data-name="acme"] button[data-act="keys"]`)
	b.wait("acme's keys", `document.querySelector('#org-keys-table tr[data-name="admin"]')`)
	if got := b.text(`#org-keys-table tr[data-name="admin"]`); !strings.Contains(got, acmeKey[:12]) {
		t.Errorf("acme's admin key row shows %q, want its prefix %s", got, acmeKey[:12])
	}
	b.shot("orgs")
	b.click(`#org-keys-table tr[data-name="admin"] button[data-act="revoke"]`)
	b.confirm()
	b.wait("the key gone", `document.querySelector("#org-keys-table") && !document.querySelector('#org-keys-table tr[data-name="admin"]')`)
	for deadline := time.Now().Add(30 * time.Second); status(t, n, "/api/buckets", acmeKey) != http.StatusUnauthorized; {
		if time.Now().After(deadline) {
			t.Fatal("the admin key revoked in the console still works")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.open("/operator/cluster", "cluster")
	if got := b.text("#nodes-table"); !strings.Contains(got, "node1") || !strings.Contains(got, "healthy") {
		t.Errorf("the cluster page shows %q", got)
	}
	b.check()
}

// driveWebhooks creates a webhook in the console, sends it a test event,
// reads its deliveries, pauses it and deletes it.
func driveWebhooks(t *testing.T, b *browser, n *testnode.Node, s seeded) {
	t.Helper()
	b.open("/webhooks?bucket="+s.bucket, "webhooks")
	b.setValue("#webhook-url", s.hookURL+"/subscriber")
	b.setValue("#webhook-create input[name=name]", "subscriber")
	b.click(`#webhook-create input[value="data.received"]`)
	b.click("#webhook-create button[type=submit]")
	b.wait("the new webhook", `document.querySelector('#webhooks-table tr[data-name="subscriber"]')`)
	if got := b.text(`#webhooks-table tr[data-name="subscriber"]`); !strings.Contains(got, "alert.triggered, data.received") || !strings.Contains(got, "active") {
		t.Errorf("the webhook's row shows %q", got)
	}
	before := s.hooks.Load()
	b.click(`tr[data-name="subscriber"] button[data-act="test"]`)
	b.wait("the test delivery", `document.querySelector("#deliveries-table") && document.querySelector("#deliveries-table").textContent.includes("webhook.test")`)
	if got := b.text("#deliveries-table"); !strings.Contains(got, "delivered") {
		t.Errorf("the deliveries show %q, want the test event delivered", got)
	}
	if s.hooks.Load() == before {
		t.Error("the receiver got nothing from the test event")
	}
	b.shot("webhooks")
	b.click(`tr[data-name="subscriber"] button[data-act="toggle"]`)
	b.wait("paused", `(document.querySelector('tr[data-name="subscriber"]') || {textContent: ""}).textContent.includes("paused")`)
	b.click(`tr[data-name="subscriber"] button[data-act="delete"]`)
	b.confirm()
	b.wait("the webhook gone", `document.querySelector("#webhooks-table") && !document.querySelector('tr[data-name="subscriber"]')`)
	if code := status(t, n, "/api/webhooks?bucketId="+s.bucket, n.AdminKey); code != http.StatusOK {
		t.Errorf("listing webhooks answers %d", code)
	}
}
