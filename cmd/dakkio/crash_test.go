package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/node"
)

// crashModel is what a source must hold: point n (at start + n seconds)
// and its value.
type crashModel map[int]float64

// TestSIGKILLRepeatedIngest: sustained batch ingest through the real
// process, killed with SIGKILL at a random moment 20 times. The batches
// overlap the one before with new values, so every crash lands amid
// replacements, hours in pieces, compactions and sources moving on to a
// new hour. After each restart: every acknowledged point is there with its
// last acknowledged value (a batch in flight at the kill is all there or
// not at all), the bucket's count is exact, and the hourly count, sum, min
// and max, served from the rollups, equal the points.
func TestSIGKILLRepeatedIngest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t)
	s := startServer(t, "first start", dir, nil, nil)
	adminKey := string(bytes.TrimSpace(credFile(t, dir, node.InitialAdminKeyFile)))
	admin := s.client(adminKey)
	bucket := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "crash", RetentionDays: ptr(3650)}))

	const (
		rounds     = 20
		workers    = 3   // one source each
		batch      = 100 // points a request
		step       = 70  // a batch starts this far after the one before: 30 points overlap
		maxBatches = 12  // a worker's batches a round, to bound the run
	)
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	value := func(w, n, k int) float64 { return float64((w*7919 + n*31 + k*17) % 1000) }
	sources := make([]string, workers)
	for w := range sources {
		src := must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{
			Name: fmt.Sprintf("s%d", w), Schema: map[string]client.Field{"v": {Type: "number"}}}))
		sources[w] = src.ID
	}
	models := make([]crashModel, workers)
	for w := range models {
		models[w] = crashModel{}
	}
	next := make([]int, workers) // each worker's next batch number
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	for round := range rounds {
		c := s.client(adminKey)
		var (
			mu       sync.Mutex
			acked    int
			inflight = make([]int, workers) // the batch sent without an answer, or -1
			from     = perWorker(workers, func(w int) int { return next[w] * step })
			killAt   = 1 + rng.IntN(workers*maxBatches)
			kill     = make(chan struct{})
			killOnce sync.Once
			wg       sync.WaitGroup
		)
		for w := range workers {
			inflight[w] = -1
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range maxBatches {
					k := next[w]
					pts := make([]client.PointInput, batch)
					for i := range pts {
						n := k*step + i
						pts[i] = client.PointInput{DataSourceID: sources[w], Timestamp: start.Add(time.Duration(n) * time.Second),
							Values: map[string]any{"v": value(w, n, k)}}
					}
					mu.Lock()
					inflight[w] = k
					mu.Unlock()
					if _, err := c.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}); err != nil {
						return // the node is gone: the batch stays in flight
					}
					mu.Lock()
					inflight[w] = -1
					for i := range pts {
						models[w][k*step+i] = value(w, k*step+i, k)
					}
					next[w]++
					if acked++; acked == killAt {
						killOnce.Do(func() { close(kill) })
					}
					mu.Unlock()
				}
			}()
		}
		allDone := make(chan struct{})
		go func() { wg.Wait(); close(allDone) }()
		select {
		case <-kill:
		case <-allDone:
		case <-ctx.Done():
			t.Fatal("clients did not get enough acknowledgements")
		}
		s.signal(syscall.SIGKILL, 10*time.Second)
		wg.Wait()

		s = startServer(t, fmt.Sprintf("restart %d after SIGKILL", round+1), dir, nil, s)
		c = s.client(adminKey)
		for w := range workers {
			// This round's span: the acknowledged points exactly, and the
			// batch in flight whole or not at all.
			lo, hi := from[w]-step, next[w]*step+batch
			if k := inflight[w]; k >= 0 {
				hi = max(hi, k*step+batch)
			}
			lo = max(lo, 0)
			got := readPoints(t, ctx, c, bucket.ID, sources[w], start, lo, hi)
			without := span(models[w], lo, hi)
			if k := inflight[w]; k >= 0 {
				with := maps.Clone(without)
				for i := range batch {
					with[k*step+i] = value(w, k*step+i, k)
				}
				if maps.Equal(got, with) {
					for i := range batch {
						models[w][k*step+i] = value(w, k*step+i, k)
					}
					next[w] = k + 1
					continue
				}
			}
			if !maps.Equal(got, without) {
				t.Fatalf("round %d, source %d: points [%d, %d) after restart differ from the acknowledged ones (in flight: batch %d): %s",
					round+1, w, lo, hi, inflight[w], diffModels(got, without))
			}
		}
		checkCountsAndRollups(t, ctx, c, bucket.ID, sources, start, models, fmt.Sprintf("round %d", round+1))
	}
	// At the end, the rollups against every point read back.
	c := s.client(adminKey)
	readBack := make([]crashModel, workers)
	for w := range workers {
		readBack[w] = readPoints(t, ctx, c, bucket.ID, sources[w], start, 0, next[w]*step+batch)
		if !maps.Equal(readBack[w], models[w]) {
			t.Fatalf("source %d: points read back differ from the acknowledged ones: %s", w, diffModels(readBack[w], models[w]))
		}
	}
	checkCountsAndRollups(t, ctx, c, bucket.ID, sources, start, readBack, "at the end, against the points read back")
	var total int
	for _, m := range models {
		total += len(m)
	}
	t.Logf("%d kills; %d points stored", rounds, total)
}

func perWorker(n int, f func(int) int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// span is the part of m in [lo, hi).
func span(m crashModel, lo, hi int) crashModel {
	out := crashModel{}
	for n, v := range m {
		if n >= lo && n < hi {
			out[n] = v
		}
	}
	return out
}

// readPoints reads a source's points n in [lo, hi) back, raw, page by page.
func readPoints(t *testing.T, ctx context.Context, c *client.Client, bucketID, src string, start time.Time, lo, hi int) crashModel {
	t.Helper()
	out := crashModel{}
	for offset := 0; ; offset += 1000 {
		res := must[*client.QueryResult](t, "raw")(c.Query(ctx, client.QueryRequest{BucketID: bucketID, Filters: client.QueryFilters{
			DataSourceID: src, Limit: 1000, Offset: offset,
			StartTime: start.Add(time.Duration(lo) * time.Second), EndTime: start.Add(time.Duration(hi) * time.Second)}}))
		for _, p := range res.Data {
			n := int(p.Timestamp.Sub(start) / time.Second)
			v, ok := p.Values["v"].(float64)
			if _, dup := out[n]; dup || !ok {
				t.Fatalf("point %d read back twice or without its value: %+v", n, p)
			}
			out[n] = v
		}
		if !res.Metadata.HasMore {
			return out
		}
	}
}

// checkCountsAndRollups compares the bucket's count and the hourly count,
// sum, min and max of every source with models.
func checkCountsAndRollups(t *testing.T, ctx context.Context, c *client.Client, bucketID string, sources []string, start time.Time, models []crashModel, when string) {
	t.Helper()
	type key struct {
		src  string
		hour time.Time
	}
	type agg struct {
		count         int64
		sum, min, max float64
	}
	want := map[key]agg{}
	var total int64
	for w, m := range models {
		for n, v := range m {
			k := key{sources[w], start.Add(time.Duration(n) * time.Second).Truncate(time.Hour).UTC()}
			a, ok := want[k]
			if !ok {
				a.min, a.max = v, v
			}
			a.count++
			a.sum += v
			a.min, a.max = min(a.min, v), max(a.max, v)
			want[k] = a
			total++
		}
	}
	b := must[*client.BucketWithStats](t, "get bucket")(c.GetBucket(ctx, bucketID))
	if b.Stats.DataPointCount != total {
		t.Fatalf("%s: dataPointCount = %d, want %d", when, b.Stats.DataPointCount, total)
	}
	got := map[key]agg{}
	for _, aggregation := range []string{"count", "sum", "min", "max"} {
		res := must[*client.QueryResult](t, "hourly "+aggregation)(c.Query(ctx, client.QueryRequest{BucketID: bucketID, Aggregation: client.Aggregation(aggregation), GroupBy: "hour",
			Filters: client.QueryFilters{DataSourceIDs: sources, StartTime: start, EndTime: start.Add(30 * 24 * time.Hour)}}))
		for _, row := range res.Data {
			k := key{row.DataSourceID, row.Timestamp.UTC()}
			a := got[k]
			v, _ := row.Values["v"].(float64)
			switch aggregation {
			case "count":
				a.count = row.Count
			case "sum":
				a.sum = v
			case "min":
				a.min = v
			case "max":
				a.max = v
			}
			got[k] = a
		}
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: source %s hour %v: rollup count %d sum %v min %v max %v, points say %d %v %v %v",
				when, k.src, k.hour, g.count, g.sum, g.min, g.max, w.count, w.sum, w.min, w.max)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: source %s hour %v has a rollup but no points", when, k.src, k.hour)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// diffModels names the first few points that differ.
func diffModels(got, want crashModel) string {
	var out []string
	for n, v := range want {
		if g, ok := got[n]; !ok {
			out = append(out, fmt.Sprintf("%d missing", n))
		} else if g != v {
			out = append(out, fmt.Sprintf("%d = %v, want %v", n, g, v))
		}
		if len(out) >= 5 {
			break
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok && len(out) < 8 {
			out = append(out, fmt.Sprintf("%d not acknowledged", n))
		}
	}
	return fmt.Sprintf("%d got, %d want; %v", len(got), len(want), out)
}
