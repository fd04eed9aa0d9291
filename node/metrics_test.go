package node_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// scrape reads n's /metrics.
func scrape(t *testing.T, n *testnode.Node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := n.HTTP.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not in Prometheus' text format: %v", err)
	}
	return mfs
}

// metric returns the value of the family's series with the given labels
// (name=value pairs), and whether there is one.
func metric(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: every node serves Prometheus metrics that tell what it
// did: requests by route and status with latencies, points ingested and
// queried, Raft, gossip, the hint queue for a stopped replica, repair
// passes, disk.
func TestMetrics(t *testing.T) {
	nodes := testnode.StartCluster(t, 3, fastReplication)
	ctx := context.Background()
	leader, others := leaderOf(t, nodes)
	coordinator, victim := others[0], others[1]
	bucket, src := numberSeries(t, coordinator, "metered")
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(k int) {
		t.Helper()
		pts := make([]client.PointInput, 25)
		for j := range pts {
			pts[j] = client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(k*25+j) * time.Second), Values: map[string]any{"v": 1.0}}
		}
		if _, err := coordinator.Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	write(1)
	q, err := coordinator.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID, Limit: 1000}})
	if err != nil || len(q.Data) != 50 {
		t.Fatalf("query: %v, %d rows", err, len(q.Data))
	}
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	write(2)

	// The hint for the stopped replica is queued when its write fails,
	// which may come after the answer.
	eventually(t, "a hint queued", func() error {
		if v, _ := metric(scrape(t, coordinator), "dakkio_hinted_handoff_hints", "target", victim.Config.NodeID); v != 1 {
			return fmt.Errorf("%v hints", v)
		}
		return nil
	})
	mfs := scrape(t, coordinator)
	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
		what   string
	}{
		{"dakkio_http_requests_total", []string{"route", "/api/data/batch", "method", "POST", "status", "201"}, eq(3), "3 batches"},
		{"dakkio_http_request_duration_seconds", []string{"route", "/api/data/query", "method", "POST"}, eq(1), "1 query timed"},
		{"dakkio_points_ingested_total", nil, eq(75), "75 points"},
		{"dakkio_points_queried_total", nil, eq(50), "50 rows"},
		{"dakkio_raft_state", []string{"state", "Follower"}, eq(1), "a follower"},
		{"dakkio_raft_applied_index", nil, gt(0), "entries applied"},
		{"dakkio_raft_servers", nil, eq(3), "3 servers"},
		{"dakkio_raft_entries_skipped_total", nil, eq(0), "no log entry skipped on a healthy cluster"},
		{"dakkio_raft_leader_changes_seen_total", nil, ge(1), "at least the first election seen"},
		{"dakkio_build_info", []string{"goversion", runtime.Version()}, eq(1), "build info"},
		{"dakkio_webhook_delivery_attempts_total", []string{"outcome", "delivered"}, eq(0), "no webhook called"},
		{"dakkio_hinted_handoff_hints", []string{"target", victim.Config.NodeID}, eq(1), "one batch missed the stopped replica"},
		{"dakkio_replicated_writes_total", []string{"outcome", "acknowledged"}, eq(3), "3 writes acknowledged"},
		{"dakkio_disk_bytes", []string{"store", "points_lsm"}, ge(0), "disk size"},
		{"dakkio_store_lsm_tables", []string{"level", "6"}, ge(0), "the last of the LSM tree's 7 levels"},
		{"dakkio_store_lsm_compaction_score", []string{"level", "0"}, ge(0), "level 0's score"},
		{"dakkio_metadata_confirmed_age_seconds", nil, func(v float64) bool { return v >= 0 && v <= 5 }, "confirmed within the 5s key lease"},
		{"go_goroutines", nil, gt(0), "Go runtime"},
	}
	for _, c := range checks {
		v, ok := metric(mfs, c.name, c.labels...)
		if !ok || !c.want(v) {
			t.Errorf("%s%v = %v (present: %v), want %s", c.name, c.labels, v, ok, c.what)
		}
	}
	if v, ok := metric(scrape(t, leader), "dakkio_raft_state", "state", "Leader"); !ok || v != 1 {
		t.Errorf("the leader's dakkio_raft_state{state=Leader} = %v", v)
	}
	eventually(t, "a repair pass counted", func() error {
		if v, _ := metric(scrape(t, coordinator), "dakkio_repair_passes_total"); v < 1 {
			return fmt.Errorf("%v passes", v)
		}
		return nil
	})
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(min float64) func(float64) bool  { return func(v float64) bool { return v > min } }
func ge(min float64) func(float64) bool  { return func(v float64) bool { return v >= min } }

// TestMetricsSingleNode: a single node has no gossip, hints or peers, yet
// every family is there from the start at 0 (it used to stop after the
// Raft and disk ones). That the disk figures count allocated blocks, not
// the value log's sparse length, is diskusage's test.
func TestMetricsSingleNode(t *testing.T) {
	n := testnode.Start(t)
	mfs := scrape(t, n)
	for _, c := range []struct {
		name   string
		labels []string
		want   func(float64) bool
	}{
		{"dakkio_gossip_members", []string{"state", "alive"}, eq(0)},
		{"dakkio_disk_bytes", []string{"store", "hints"}, eq(0)},
		{"dakkio_disk_bytes", []string{"store", "points_vlog"}, func(v float64) bool { return v >= 0 && v < 64<<20 }},
		{"dakkio_disk_bytes", []string{"store", "points_lsm"}, ge(0)},
		{"dakkio_repair_passes_total", nil, eq(0)},
		{"dakkio_repair_running", nil, eq(0)},
		{"dakkio_replicated_writes_total", []string{"outcome", "acknowledged"}, eq(0)},
		{"dakkio_replicated_reads_total", []string{"event", "failover"}, eq(0)},
		{"dakkio_metadata_confirmed_age_seconds", nil, eq(0)},
		{"dakkio_raft_leader_changes_seen_total", nil, ge(1)},
		{"dakkio_build_info", []string{"goversion", runtime.Version()}, eq(1)},
		{"dakkio_webhook_delivery_attempts_total", []string{"outcome", "blocked"}, eq(0)},
	} {
		if v, ok := metric(mfs, c.name, c.labels...); !ok || !c.want(v) {
			t.Errorf("%s%v = %v (present %v)", c.name, c.labels, v, ok)
		}
	}
}
