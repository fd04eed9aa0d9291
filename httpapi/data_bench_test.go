package httpapi

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
)

// BenchmarkReadBatch measures what the node spends on a batch before the
// store: parsing and validating 1000 three-field points of 100 sources,
// the shape BenchmarkIngestHTTP and dakkio-bench send.
func BenchmarkReadBatch(b *testing.B) {
	schema := map[string]store.Field{"temperature": {Type: "number"}, "humidity": {Type: "number"}, "pressure": {Type: "number"}}
	sources := map[string]*store.DataSource{}
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("66%022x", i)
		sources[id] = &store.DataSource{ID: id, BucketID: "b", Schema: schema}
		ids = append(ids, id)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute)
	body := []byte(`{"bucketId":"650000000000000000000002","dataPoints":[`)
	for j := range 1000 {
		if j > 0 {
			body = append(body, ',')
		}
		body = AppendBenchPoint(body, ids[j%100], start.Add(time.Duration(j/100)*10*time.Second), rng)
	}
	body = append(body, `]}`...)
	bucket := store.Bucket{ID: "650000000000000000000002", RetentionDays: 3650}
	lookup := func(id string) (*store.DataSource, error) { return sources[id], nil }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := ProcessCPU()
	for b.Loop() {
		p := parserPool.Get()
		bd, aerr := parseWith(p, body)
		if aerr != nil {
			b.Fatal(aerr)
		}
		list, err := bd.obj.Get("dataPoints").Array()
		if err != nil {
			b.Fatal(err)
		}
		r := newPointReader(bucket, time.Now())
		pts, err := readBatch(r, list, lookup)
		if err != nil || r.failed > 0 || len(pts) != 1000 {
			b.Fatal(err, r.details, len(pts))
		}
		parserPool.Put(p)
	}
	// CPU time, GC included, is steadier than wall time on a shared machine.
	b.ReportMetric(float64(ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// AppendBenchPoint appends one point of the benchmarks' shape (three
// sensor-like fields, as dakkio-bench sends) to a batch body. Exported for
// the benchmarks of package httpapi_test.
func AppendBenchPoint(body []byte, sourceID string, ts time.Time, rng *rand.Rand) []byte {
	body = append(body, `{"dataSourceId":"`...)
	body = append(body, sourceID...)
	body = append(body, `","timestamp":"`...)
	body = ts.UTC().AppendFormat(body, time.RFC3339)
	body = append(body, `","values":{"temperature":`...)
	body = strconv.AppendFloat(body, float64(rng.IntN(3000))/100, 'f', -1, 64)
	body = append(body, `,"humidity":`...)
	body = strconv.AppendFloat(body, float64(rng.IntN(1000))/10, 'f', -1, 64)
	body = append(body, `,"pressure":`...)
	body = strconv.AppendFloat(body, 990+float64(rng.IntN(4000))/100, 'f', -1, 64)
	return append(body, `}}`...)
}

// AppendBenchLine is AppendBenchPoint as a line of line protocol, series
// naming the source.
func AppendBenchLine(body []byte, series string, ts int64, rng *rand.Rand) []byte {
	body = append(body, series...)
	body = append(body, " temperature="...)
	body = strconv.AppendFloat(body, float64(rng.IntN(3000))/100, 'f', -1, 64)
	body = append(body, ",humidity="...)
	body = strconv.AppendFloat(body, float64(rng.IntN(1000))/10, 'f', -1, 64)
	body = append(body, ",pressure="...)
	body = strconv.AppendFloat(body, 990+float64(rng.IntN(4000))/100, 'f', -1, 64)
	body = append(body, ' ')
	body = strconv.AppendInt(body, ts, 10)
	return append(body, '\n')
}

// ProcessCPU returns the CPU time, user and system, the process has used:
// steadier than wall time on a shared machine.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
