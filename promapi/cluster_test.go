package promapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// TestClusterAnyNodeAnswers: on three nodes keeping each bucket on one
// (replication factor 1), every node answers the same, the two without the
// points included, and a late point written through one node is seen by
// the others' cached range queries.
func TestClusterAnyNodeAnswers(t *testing.T) {
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.ReplicationFactor = 1 })
	ctx := context.Background()
	admin := nodes[0].Admin
	b, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "clustered"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Hour).Add(-time.Hour).UnixMilli()
	batch := client.WriteBatchRequest{BucketID: b.ID}
	for m := int64(0); m < 120; m++ {
		batch.DataPoints = append(batch.DataPoints, client.PointInput{DataSourceID: src.ID, Timestamp: time.UnixMilli(now - 120*60_000 + m*60_000), Values: map[string]any{"v": float64(m)}})
	}
	if _, err := admin.WriteBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	queries := []url.Values{
		{"query": {`sum_over_time(v[1h])`}, "start": {secs(now - 3600_000)}, "end": {secs(now)}, "step": {"3600"}}, // hour rollups
		{"query": {`rate(v[5m]) * 60`}, "start": {secs(now - 3600_000)}, "end": {secs(now)}, "step": {"600"}},      // raw points
	}
	for _, q := range queries {
		var first string
		for i, n := range nodes {
			body := promCallServed(t, n.URL, n.AdminKey, http.MethodGet, "/api/v1/query_range", q)
			if i == 0 {
				first = string(body)
				if len(decodeResult(t, body).series) != 1 {
					t.Fatalf("%s: %s", q.Get("query"), body)
				}
			} else if string(body) != first {
				t.Errorf("node %d answers %s, node 1 %s", i+1, body, first)
			}
		}
	}
	// sum_over_time over (now-1h, now]: minutes 61..120, the last at now.
	want := 0.0
	for m := 61; m <= 119; m++ {
		want += float64(m)
	}
	for i, n := range nodes {
		body := promCallServed(t, n.URL, n.AdminKey, http.MethodGet, "/api/v1/query_range", queries[0])
		got := decodeResult(t, body)
		for _, s := range got.series {
			if last := s[len(s)-1]; last.t != now || last.f != want {
				t.Errorf("node %d: %v, want %v at %d", i+1, last, want, now)
			}
		}
	}
	// A late point through node 3 shows on every node's cached query.
	late := client.WriteBatchRequest{BucketID: b.ID, DataPoints: []client.PointInput{{DataSourceID: src.ID, Timestamp: time.UnixMilli(now - 90_500), Values: map[string]any{"v": 1000.0}}}}
	if _, err := nodes[2].Admin.WriteBatch(ctx, late); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		body := promCallServed(t, n.URL, n.AdminKey, http.MethodGet, "/api/v1/query_range", queries[0])
		for _, s := range decodeResult(t, body).series {
			if last := s[len(s)-1]; last.f != want+1000 {
				t.Errorf("node %d after a late point: %v, want %v", i+1, last, want+1000)
			}
		}
	}
}
