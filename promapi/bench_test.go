//go:build unix

package promapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// benchAPI is an API over an in-memory store of nSources sources holding
// 30 days of points every 10 minutes (the hour rollups' cost does not
// depend on the points an hour holds; cmd/dakkio-bench --promql measures
// the full workload over HTTP).
func benchAPI(b *testing.B, nSources int) (*API, Scope, int64) {
	b.Helper()
	bucket := store.Bucket{ID: "65a1f0d8e4b0a1b2c3d4e5f6", Name: "bench", RetentionDays: 60}
	db, err := points.Open(points.Config{InMemory: true, Retention: func(string) (time.Duration, bool) { return 60 * 24 * time.Hour, true }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	cat := &staticCatalog{buckets: []store.Bucket{bucket}, sources: map[string][]store.DataSource{}}
	end := time.Now().Truncate(time.Hour)
	for i := range nSources {
		id := fmt.Sprintf("65a1f0d8e4b0a1b2c3%06x", i)
		cat.sources[bucket.ID] = append(cat.sources[bucket.ID], store.DataSource{ID: id, BucketID: bucket.ID, Name: fmt.Sprintf("sensor-%03d", i+1),
			Schema: map[string]store.Field{"temperature": {Type: "number"}}})
		var pts []points.Point
		for t := end.Add(-30 * 24 * time.Hour); t.Before(end); t = t.Add(10 * time.Minute) {
			pts = append(pts, points.Point{SourceID: id, TS: t.UnixNano(), Values: []points.Value{{Field: "temperature", Kind: points.KindNumber, Num: float64(t.Unix()%97) / 4}}})
		}
		if err := db.Write(context.Background(), bucket.ID, pts); err != nil {
			b.Fatal(err)
		}
	}
	a, err := New(Config{Catalog: cat, Points: db})
	if err != nil {
		b.Fatal(err)
	}
	return a, Scope{OrgID: "org"}, end.Unix()
}

func benchRange(b *testing.B, a *API, sc Scope, query string, end int64, nocache bool) {
	form := url.Values{"query": {query}, "start": {strconv.FormatInt(end-30*24*3600, 10)}, "end": {strconv.FormatInt(end, 10)}, "step": {"3600"}}
	if nocache {
		form.Set("nocache", "1")
	}
	// The process's CPU time per query, next to the wall time: on a
	// shared machine the wall time waits for the CPU as much as it uses it.
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	n := 0
	for b.Loop() {
		resp, err := a.Serve(sc, EndpointQueryRange, "", form)
		if err != nil || resp.Status != 200 {
			b.Fatalf("%v %d %s", err, resp.Status, resp.Body)
		}
		n++
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(n, 1)), "cpu-ns/op")
}

// BenchmarkAvgOverTimeOneSource: issue 17's first target, 30 days at 1 h
// of one series, from the hour rollups.
func BenchmarkAvgOverTimeOneSource(b *testing.B) {
	a, sc, end := benchAPI(b, 100)
	benchRange(b, a, sc, `avg_over_time(temperature{source="sensor-042"}[1h])`, end, true)
}

// BenchmarkAvgByBucket100Sources: the second, over all 100 sources.
func BenchmarkAvgByBucket100Sources(b *testing.B) {
	a, sc, end := benchAPI(b, 100)
	benchRange(b, a, sc, `avg by (bucket) (avg_over_time(temperature[1h]))`, end, true)
}

// BenchmarkRepeatedCached: the one-source query repeated, served by the
// result cache (the benchmark above is the same without it).
func BenchmarkRepeatedCached(b *testing.B) {
	a, sc, end := benchAPI(b, 100)
	benchRange(b, a, sc, `avg_over_time(temperature{source="sensor-042"}[1h])`, end, false)
}
