package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// BenchmarkIngestHTTP drives POST /api/data/batch on a real node over
// loopback with 8 keep-alive connections: batches of 1000 three-field points
// of 100 sources. It reports points/s; run with -cpuprofile to see where the
// node spends its time.
func BenchmarkIngestHTTP(b *testing.B) {
	n := testnode.Start(b)
	ctx := context.Background()
	bucket, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "bench", RetentionDays: ptr(3650)})
	if err != nil {
		b.Fatal(err)
	}
	schema := map[string]client.Field{"temperature": {Type: "number"}, "humidity": {Type: "number"}, "pressure": {Type: "number"}}
	var sources []string
	for i := 0; i < 100; i++ {
		src, err := n.Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: fmt.Sprintf("s%d", i), Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		sources = append(sources, src.ID)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute)
	bodies := make([][]byte, b.N)
	tick := 0
	for i := range bodies {
		body := []byte(`{"bucketId":"` + bucket.ID + `","dataPoints":[`)
		for j := 0; j < 1000; j++ {
			if j > 0 {
				body = append(body, ',')
			}
			ts := start.Add(time.Duration(tick/100) * 10 * time.Second)
			body = append(body, `{"dataSourceId":"`...)
			body = append(body, sources[tick%100]...)
			body = append(body, `","timestamp":"`...)
			body = ts.UTC().AppendFormat(body, time.RFC3339)
			body = append(body, `","values":{"temperature":`...)
			body = strconv.AppendFloat(body, float64(rng.IntN(3000))/100, 'f', -1, 64)
			body = append(body, `,"humidity":`...)
			body = strconv.AppendFloat(body, float64(rng.IntN(1000))/10, 'f', -1, 64)
			body = append(body, `,"pressure":`...)
			body = strconv.AppendFloat(body, 990+float64(rng.IntN(4000))/100, 'f', -1, 64)
			body = append(body, `}}`...)
			tick++
		}
		bodies[i] = append(body, `]}`...)
	}
	hc := &fasthttp.HostClient{Addr: n.HTTPAddr(), MaxConns: 8}
	next := make(chan []byte)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for body := range next {
				req.SetRequestURI("http://" + n.HTTPAddr() + "/api/data/batch")
				req.Header.SetMethod("POST")
				req.Header.Set("X-API-Key", n.AdminKey)
				req.SetBodyRaw(body)
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 201 {
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
}

func ptr[T any](v T) *T { return &v }
