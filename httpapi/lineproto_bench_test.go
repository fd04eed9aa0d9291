package httpapi

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/lineproto"
	"github.com/dakkio/dakkio/store"
)

// BenchmarkLineProtocolBatch measures what the node spends on a line
// protocol body before the store: parsing 1000 lines of 100 series × 3
// fields (dakkio-bench --protocol lp's shape) and gathering their points.
func BenchmarkLineProtocolBatch(b *testing.B) {
	schema := map[string]store.Field{"temperature": {Type: "number"}, "humidity": {Type: "number"}, "pressure": {Type: "number"}}
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprintf("sensor-%03d", i+1))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute).UnixNano()
	var body []byte
	for j := range 1000 {
		body = AppendBenchLine(body, names[j%100], start+int64(j/100)*10e9, rng)
	}
	bucket := store.Bucket{ID: "650000000000000000000002", RetentionDays: 3650}
	srv := &Server{cfg: Config{Now: time.Now}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := ProcessCPU()
	for b.Loop() {
		w := srv.newSeriesWriter(bucket)
		for i, n := range names {
			// Known sources: no metadata lookups.
			src := &store.DataSource{ID: fmt.Sprintf("66%022x", i), BucketID: bucket.ID, Name: n, Schema: schema}
			w.series[n] = &seriesAcc{name: n, src: src, last: -1}
		}
		p := lineParsers.Get().(*lineproto.Parser)
		err := p.Parse(body, time.Nanosecond, time.Now().UnixNano(), func(l *lineproto.Line) error {
			return w.addLine(l)
		})
		lineParsers.Put(p)
		if err != nil {
			b.Fatal(err)
		}
		if pts, err := w.points(); err != nil || len(pts) != 1000 {
			b.Fatal(err, len(pts))
		}
		w.release()
	}
	b.ReportMetric(float64(ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}
