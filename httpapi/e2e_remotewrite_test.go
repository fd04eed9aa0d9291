package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dakkio/dakkio/internal/remotewrite"
	"github.com/dakkio/dakkio/internal/testnode"
)

// rwPost sends a remote write request as Prometheus does.
func rwPost(t testing.TB, n *testnode.Node, key, query string, req *prompb.WriteRequest) (int, string) {
	t.Helper()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequestWithContext(t.Context(), "POST", n.URL+"/api/v1/write"+query, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	if key != "" {
		hr.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := n.HTTP.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func series(name string, labels map[string]string, samples ...prompb.Sample) prompb.TimeSeries {
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: name}}, Samples: samples}
	for k, v := range labels {
		ts.Labels = append(ts.Labels, prompb.Label{Name: k, Value: v})
	}
	return ts
}

func TestE2ERemoteWrite(t *testing.T) {
	n := testnode.Start(t)
	b := mkBucket(t, n, n.AdminKey, obj{"name": unique("prom")})
	bid := b["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	other := mkBucket(t, n, n.AdminKey, obj{"name": unique("other")})["_id"].(string)
	ms := time.Now().Add(-time.Minute).UnixMilli()
	node := map[string]string{"job": "node", "instance": "a:9100"}
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("up", node, prompb.Sample{Value: 1, Timestamp: ms}, prompb.Sample{Value: math.Float64frombits(remotewrite.StaleNaN), Timestamp: ms + 1000}),
		series("load1", node, prompb.Sample{Value: 0.5, Timestamp: ms}, prompb.Sample{Value: 0.7, Timestamp: ms + 15000}),
	}}
	if status, body := rwPost(t, n, wkey, "", req); status != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", status, body)
	}
	srcs := sourcesByName(t, n, wkey, bid)
	src, ok := srcs[`{instance="a:9100",job="node"}`]
	if !ok || len(srcs) != 1 {
		t.Fatalf("sources = %v", sortedKeys(srcs))
	}
	if fmt.Sprint(src["tags"]) != "map[instance:a:9100 job:node]" || src["type"] != "api" {
		t.Errorf("source tags %v type %v", src["tags"], src["type"])
	}
	pts := rawPoints(t, n, wkey, bid, src["_id"].(string))
	if len(pts) != 2 {
		t.Fatalf("points = %v, want 2 (the staleness marker skipped)", pts)
	}
	wantValues(t, "first point", pts[0]["values"].(obj), obj{"up": 1.0, "load1": 0.5})
	wantValues(t, "second point", pts[1]["values"].(obj), obj{"load1": 0.7})

	// An admin key names the bucket.
	if status, body := rwPost(t, n, n.AdminKey, "?bucket="+bid, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("up", node, prompb.Sample{Value: 0, Timestamp: ms + 30000})}}); status != http.StatusNoContent {
		t.Fatalf("admin remote write: %d %s", status, body)
	}

	before := world(t, n, n.AdminKey)
	for _, tc := range []struct {
		name, key, query string
		req              *prompb.WriteRequest
		status           int
		msg              string
	}{
		{"no __name__", wkey, "", &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("ok_metric", map[string]string{"job": "x"}, prompb.Sample{Value: 1, Timestamp: ms}),
			{Labels: []prompb.Label{{Name: "job", Value: "x"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: ms}}}}}, 400, "series 2"},
		{"bad metric name", wkey, "", &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			series("rule:rate5m", nil, prompb.Sample{Value: 1, Timestamp: ms})}}, 400, "field name"},
		{"another bucket", wkey, "?bucket=" + other, req, 403, "does not have access"},
		{"admin without bucket", n.AdminKey, "", req, 400, "bucket is required"},
		{"no key", "", "", req, 401, "API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rwPost(t, n, tc.key, tc.query, tc.req)
			if status != tc.status || !strings.Contains(body, tc.msg) {
				t.Fatalf("answer %d %q, want %d containing %q", status, body, tc.status, tc.msg)
			}
		})
	}
	unchanged(t, n, before, n.AdminKey)
	if got := len(rawPoints(t, n, wkey, bid, src["_id"].(string))); got != 3 {
		t.Errorf("points after refused writes = %d, want 3", got)
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// needBinary returns the path of a test tool, failing (not skipping) with
// the Debian package to install when it is missing.
func needBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install -y %s (make test installs it)", name, pkg)
	}
	return p
}

// Debian's prometheus scrapes the node's own /metrics and remote-writes
// into a bucket; the series then come back from the query API.
func TestE2ERemoteWritePrometheus(t *testing.T) {
	bin := needBinary(t, "prometheus", "prometheus")
	n := testnode.Start(t)
	bid := mkBucket(t, n, n.AdminKey, obj{"name": unique("scraped")})["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	target := strings.TrimPrefix(n.URL, "http://")

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: dakkio
    static_configs: [{targets: [%q]}]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_goroutines|process_resident_memory_bytes'
        action: keep
remote_write:
  - url: %q
    authorization:
      credentials: %q
    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}
`, target, n.URL+"/api/v1/write", wkey)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", freePort(t)), "--log.level=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	name := fmt.Sprintf(`{instance=%q,job="dakkio"}`, target)
	deadline := time.Now().Add(90 * time.Second)
	for {
		srcs := sourcesByName(t, n, wkey, bid)
		if src, ok := srcs[name]; ok {
			pts := rawPoints(t, n, wkey, bid, src["_id"].(string))
			var withBoth int
			for _, p := range pts {
				v := p["values"].(obj)
				if g, ok := v["go_goroutines"].(float64); ok && g > 0 {
					if _, ok := v["up"]; ok {
						withBoth++
					}
				}
			}
			if withBoth >= 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scraped series %s with go_goroutines and up after 90s; sources %v", name, sortedKeys(srcs))
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
	}
}
