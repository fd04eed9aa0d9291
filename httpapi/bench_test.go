package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/testnode"
)

// BenchmarkIngestHTTP drives POST /api/data/batch on a real node over
// loopback with 8 keep-alive connections: batches of 1000 three-field points
// of 100 sources. It reports points/s and the process's CPU a point (node
// and load generator); run with -cpuprofile to see where the node spends
// its time.
func BenchmarkIngestHTTP(b *testing.B) {
	n, bucketID, sources := benchNode(b, 100)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute)
	bodies := make([][]byte, b.N)
	tick := 0
	for i := range bodies {
		body := []byte(`{"bucketId":"` + bucketID + `","dataPoints":[`)
		for j := 0; j < 1000; j++ {
			if j > 0 {
				body = append(body, ',')
			}
			body = httpapi.AppendBenchPoint(body, sources[tick%100].ID, start.Add(time.Duration(tick/100)*10*time.Second), rng)
			tick++
		}
		bodies[i] = append(body, `]}`...)
	}
	benchIngest(b, n, "/api/data/batch", "X-API-Key", n.AdminKey, 201, bodies)
}

// BenchmarkIngestLineProtocolHTTP is BenchmarkIngestHTTP through POST
// /api/v2/write: the same points as 1000-line bodies (issue 16's target).
func BenchmarkIngestLineProtocolHTTP(b *testing.B) {
	n, bucketID, sources := benchNode(b, 100)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute).UnixNano()
	bodies := make([][]byte, b.N)
	tick := 0
	for i := range bodies {
		var body []byte
		for j := 0; j < 1000; j++ {
			body = httpapi.AppendBenchLine(body, sources[tick%100].Name, start+int64(tick/100)*10e9, rng)
			tick++
		}
		bodies[i] = body
	}
	benchIngest(b, n, "/api/v2/write?bucket="+bucketID, "Authorization", "Token "+n.AdminKey, 204, bodies)
}

// benchNode starts a node with a bucket of count three-field sources.
func benchNode(b *testing.B, count int) (*testnode.Node, string, []*client.DataSource) {
	n := testnode.Start(b)
	ctx := context.Background()
	bucket, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "bench", RetentionDays: ptr(3650)})
	if err != nil {
		b.Fatal(err)
	}
	schema := map[string]client.Field{"temperature": {Type: "number"}, "humidity": {Type: "number"}, "pressure": {Type: "number"}}
	var sources []*client.DataSource
	for i := 0; i < count; i++ {
		src, err := n.Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: fmt.Sprintf("s%d", i), Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		sources = append(sources, src)
	}
	return n, bucket.ID, sources
}

// benchIngest posts bodies (1000 points each) to path, with the key in
// header, from 8 keep-alive connections, each answered with status.
func benchIngest(b *testing.B, n *testnode.Node, path, header, key string, status int, bodies [][]byte) {
	hc := &fasthttp.HostClient{Addr: n.HTTPAddr(), MaxConns: 8}
	next := make(chan []byte)
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := httpapi.ProcessCPU()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for body := range next {
				req.SetRequestURI("http://" + n.HTTPAddr() + path)
				req.Header.SetMethod("POST")
				req.Header.Set(header, key)
				req.SetBodyRaw(body)
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != status {
					b.Errorf("ingest: %v %d %s", err, resp.StatusCode(), resp.Body())
				}
			}
		}()
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(httpapi.ProcessCPU()-cpu0)/float64(b.N*1000), "cpu-ns/point")
}

func ptr[T any](v T) *T { return &v }

// BenchmarkQueryRawHTTP drives POST /api/data/query on a real node over one
// keep-alive connection: pages of 1000 raw points of one source, at a random
// start within two days of three-field points every 10 s (issue 13's raw
// read). Run with -cpuprofile to see where the node spends a query.
func BenchmarkQueryRawHTTP(b *testing.B) {
	const every, points = 10 * time.Second, 2 * 24 * 360
	n, bucketID, sources := benchNode(b, 1)
	src := sources[0]
	start := time.Now().Add(-3 * 24 * time.Hour).Truncate(time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	hc := &fasthttp.HostClient{Addr: n.HTTPAddr(), MaxConns: 1}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	post := func(path string, body []byte, want int) {
		req.SetRequestURI("http://" + n.HTTPAddr() + path)
		req.Header.SetMethod("POST")
		req.Header.Set("X-API-Key", n.AdminKey)
		req.SetBodyRaw(body)
		if err := hc.Do(req, resp); err != nil || resp.StatusCode() != want {
			b.Fatalf("%s: %v %d %s", path, err, resp.StatusCode(), resp.Body())
		}
	}
	for i := 0; i < points; i += 1000 {
		body := []byte(`{"bucketId":"` + bucketID + `","dataPoints":[`)
		for j := i; j < min(i+1000, points); j++ {
			if j > i {
				body = append(body, ',')
			}
			body = httpapi.AppendBenchPoint(body, src.ID, start.Add(time.Duration(j)*every), rng)
		}
		post("/api/data/batch", append(body, `]}`...), 201)
	}
	queries := make([][]byte, 64)
	for i := range queries {
		from := start.Add(time.Duration(rng.IntN(points-1000)) * every)
		queries[i] = fmt.Appendf(nil, `{"bucketId":%q,"filters":{"dataSourceId":%q,"startTime":%q,"endTime":%q,"limit":1000}}`,
			bucketID, src.ID, from.UTC().Format(time.RFC3339), from.Add(1000*every).UTC().Format(time.RFC3339))
	}
	b.ResetTimer()
	cpu0 := httpapi.ProcessCPU()
	for i := 0; b.Loop(); i++ {
		post("/api/data/query", queries[i%len(queries)], 200)
	}
	b.StopTimer()
	// The node's and this client's CPU: steadier than wall time on a shared
	// machine.
	b.ReportMetric(float64(httpapi.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	if got := strings.Count(string(resp.Body()), `"_id"`); got != 1000 {
		b.Fatalf("%d points in the last answer, want 1000", got)
	}
}
