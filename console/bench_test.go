package console_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// BenchmarkConsoleFirstChart loads the console's explore page for 30 days
// of hourly data (720 points of one field) on a local node, in headless
// Chromium, and reports the time from the start of navigation to the chart
// in the page (first-chart-ms: page, scripts, the source list, the query
// and the drawing). The target is under 500 ms. page-ready-ms (the page and
// its scripts loaded) and query-ms (the query's round trip) say where the
// time goes.
func BenchmarkConsoleFirstChart(b *testing.B) {
	n := testnode.Start(b)
	ctx := context.Background()
	retention := 90
	bk, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "month", RetentionDays: &retention})
	if err != nil {
		b.Fatal(err)
	}
	src, err := n.Admin.CreateSource(ctx, bk.ID, client.CreateSourceRequest{Name: "meter", Schema: map[string]client.Field{"power": {Type: "number", Unit: "W"}}})
	if err != nil {
		b.Fatal(err)
	}
	const hours = 30 * 24
	now := time.Now().UTC().Truncate(time.Hour)
	pts := make([]client.PointInput, 0, hours)
	for i := range hours {
		pts = append(pts, client.PointInput{DataSourceID: src.ID, Timestamp: now.Add(-time.Duration(i) * time.Hour), Values: map[string]any{"power": float64(1000 + i%97)}})
	}
	if _, err := n.Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bk.ID, DataPoints: pts}); err != nil {
		b.Fatal(err)
	}

	br := newBrowser(b, n.URL, 10*time.Minute)
	br.do("load /console", chromedp.Navigate(n.URL+"/console"))
	br.waitView("signin")
	br.signIn(n.AdminKey, "", false, "overview")
	page := fmt.Sprintf("%s/console#/buckets/%s/explore?range=30d&agg=avg&group=hour&view=chart", n.URL, bk.ID)

	var total, scripts, query float64
	runs := 0
	for b.Loop() {
		br.do("leave", chromedp.Navigate("about:blank"))
		br.do("load the chart", chromedp.Navigate(page))
		br.wait("the first chart", `document.body.dataset.firstChartMs`)
		ms := evalJS[float64](br, `Number(document.body.dataset.firstChartMs)`)
		if pts := evalJS[int](br, `Number(document.querySelector("#query-chart svg").dataset.points)`); pts != hours {
			b.Fatalf("the chart has %d points, want %d", pts, hours)
		}
		total += ms
		// Where the time goes: the page and its scripts, and the query.
		parts := evalJS[[]float64](br, `[performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
			performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/data/query")).map((e) => e.responseEnd - e.startTime)[0] || 0]`)
		scripts += parts[0]
		query += parts[1]
		runs++
	}
	b.ReportMetric(total/float64(runs), "first-chart-ms")
	b.ReportMetric(scripts/float64(runs), "page-ready-ms")
	b.ReportMetric(query/float64(runs), "query-ms")
	br.check()
}
