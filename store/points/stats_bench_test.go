package points

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// BenchmarkBucketAnalytics measures what GET /api/analytics/buckets/:id asks
// of the store, on a bucket of 10 million points: 100 sources × 100,000
// points 10 s apart (11.6 days), three sensor-like fields each, written
// through DB.Write in batches of 1000 and then reopened, so that reads go
// through SST tables, compacted, as on a node that has been running. Loading takes a
// minute or so; the target is < 50 ms an analytics call. Run it with
//
//	go test -run '^$' -bench BucketAnalytics ./store/points/
//
// (go test without -bench does not run benchmarks).
func BenchmarkBucketAnalytics(b *testing.B) {
	const (
		nSources  = 100
		perSource = 100_000
		step      = 10 * time.Second
	)
	ctx := context.Background()
	// Not on an hour boundary, so every period has partial hours at both ends.
	now := time.Date(2026, 3, 10, 12, 17, 35, 0, time.UTC)
	base := now.Add(-perSource * step).Add(5 * time.Second)
	dir := b.TempDir()
	open := func() *DB {
		db, err := Open(Config{Dir: dir, Retention: func(string) (time.Duration, bool) { return 3650 * 24 * time.Hour, true },
			Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	sources := benchSources(nSources)

	db := open()
	loadStart := time.Now()
	batches := make(chan []Point, 16)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if err := db.Write(ctx, testBucket, batch); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(7, 1))
	round := func(f float64, d int) float64 { p := math.Pow10(d); return math.Round(f*p) / p }
	var cur []Point
	for tick := 0; tick < perSource; tick++ {
		ts := base.Add(time.Duration(tick) * step).UnixNano()
		for _, src := range sources {
			cur = append(cur, Point{SourceID: src, TS: ts, Values: []Value{
				num("humidity", round(30+rng.Float64()*50, 1)),
				num("pressure", round(990+rng.Float64()*40, 2)),
				num("temperature", round(15+rng.Float64()*15, 2)),
			}})
			if len(cur) == 1000 {
				batches <- cur
				cur = nil
			}
		}
	}
	close(batches)
	wg.Wait()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	db = open()
	defer db.Close()
	// Settle the LSM tree as on a node that has been running a while, so that
	// compactions left over from loading do not compete with the timed calls.
	if err := db.bdb.Flatten(2); err != nil {
		b.Fatal(err)
	}
	if n := db.BucketPointCount(testBucket); n != nSources*perSource {
		b.Fatalf("bucket holds %d points, want %d", n, nSources*perSource)
	}
	lsm, _ := db.bdb.Size()
	b.Logf("loaded %d points in %v; bucket size estimate %d bytes, LSM tables %d bytes",
		nSources*perSource, time.Since(loadStart).Round(time.Second), db.BucketSize(testBucket), lsm)

	period := func(d time.Duration) Range {
		return Range{BucketID: testBucket, SourceIDs: sources, Start: now.Add(-d).UnixNano(), End: now.UnixNano()}
	}
	periodStats := func(b *testing.B, d time.Duration) {
		var n int64
		for b.Loop() {
			st, err := db.PeriodStats(ctx, period(d))
			if err != nil {
				b.Fatal(err)
			}
			n = 0
			for _, s := range st {
				n += s.Count
			}
		}
		b.ReportMetric(float64(n), "points")
	}
	b.Run("PeriodStats24h", func(b *testing.B) { periodStats(b, 24*time.Hour) })
	b.Run("PeriodStats7d", func(b *testing.B) { periodStats(b, 7*24*time.Hour) })
	b.Run("PeriodStats90d", func(b *testing.B) { periodStats(b, 90*24*time.Hour) })
	// Every store call the bucket analytics handler makes for a 7d period.
	b.Run("Handler7d", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.PeriodStats(ctx, period(7*24*time.Hour)); err != nil {
				b.Fatal(err)
			}
			db.BucketPointCount(testBucket)
			for _, src := range sources {
				db.LastPointTime(testBucket, src)
			}
		}
	})
	// What the overview asks of the store for this bucket.
	b.Run("Overview", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Count(ctx, period(24*time.Hour)); err != nil {
				b.Fatal(err)
			}
			db.BucketPointCount(testBucket)
			db.BucketSize(testBucket)
			for _, src := range sources {
				db.LastPointTime(testBucket, src)
			}
		}
	})
}
