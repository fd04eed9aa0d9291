package points

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// benchSources makes n source ids.
func benchSources(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("6b09673a9aad6cf0%08x", i)
	}
	return out
}

// sensorBatches yields batches of size points: every tick, one point per
// source, 10 s apart, three sensor-like fields with one or two decimals.
func sensorBatches(sources []string, start int64, size, count int, seed uint64) [][]Point {
	rng := rand.New(rand.NewPCG(seed, 1))
	round := func(f float64, d int) float64 { p := math.Pow10(d); return math.Round(f*p) / p }
	var out [][]Point
	var cur []Point
	for tick := 0; len(out) < count; tick++ {
		ts := start + int64(tick)*int64(10*time.Second)
		for _, src := range sources {
			cur = append(cur, Point{SourceID: src, TS: ts, Values: []Value{
				num("humidity", round(30+rng.Float64()*50, 1)),
				num("pressure", round(990+rng.Float64()*40, 2)),
				num("temperature", round(15+rng.Float64()*15, 2)),
			}})
			if len(cur) == size {
				out = append(out, cur)
				cur = nil
				if len(out) == count {
					break
				}
			}
		}
	}
	return out
}

// BenchmarkWrite measures the store's write path alone (no HTTP, no JSON):
// 8 writers, batches of 1000 three-field points.
func BenchmarkWrite(b *testing.B) {
	now := time.Now()
	db, err := Open(Config{Dir: b.TempDir(), Retention: func(string) (time.Duration, bool) { return 3650 * 24 * time.Hour, true }, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batches := sensorBatches(benchSources(100), now.Add(-60*24*time.Hour).UnixNano(), 1000, b.N, 1)
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan []Point)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range next {
				if err := db.Write(context.Background(), testBucket, batch); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, batch := range batches {
		next <- batch
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkEncodeHour measures encoding one source's hour of sensor points
// (360 points, three decimal fields), as a fold of the hour does.
func BenchmarkEncodeHour(b *testing.B) {
	src := benchSources(1)
	var hour block
	for _, batch := range sensorBatches(src, 0, 360, 1, 1) {
		hour = append(hour, batch...)
	}
	fields, uniform := blockFields(hour)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = encodeBlockAs(dst[:0], hour, fields, uniform)
	}
	b.SetBytes(int64(len(hour)))
}
