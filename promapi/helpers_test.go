package promapi_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// sample is one value at a time in milliseconds.
type sample struct {
	t int64
	f float64
}

// fixtureSeries is one series written to both dakkio and Prometheus.
type fixtureSeries struct {
	bucket, source, field string
	samples               []sample
}

// fixture is a node holding the fixture's series.
type fixture struct {
	n       *testnode.Node
	buckets map[string]string // name -> id
	sources map[string]string // bucket/source -> id
	series  []fixtureSeries
}

// newFixture starts a node and writes series: sources are created with
// every field of theirs in the schema, points are grouped by (source, time).
func newFixture(t *testing.T, series []fixtureSeries) *fixture {
	t.Helper()
	n := testnode.Start(t)
	ctx := context.Background()
	f := &fixture{n: n, buckets: map[string]string{}, sources: map[string]string{}, series: series}
	schemas := map[string]map[string]client.Field{}
	var order []string
	for _, s := range series {
		if _, ok := f.buckets[s.bucket]; !ok {
			b, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: s.bucket})
			if err != nil {
				t.Fatal(err)
			}
			f.buckets[s.bucket] = b.ID
		}
		k := s.bucket + "/" + s.source
		if schemas[k] == nil {
			schemas[k] = map[string]client.Field{}
			order = append(order, k)
		}
		schemas[k][s.field] = client.Field{Type: "number", Unit: "u"}
	}
	for _, k := range order {
		bucket, source, _ := strings.Cut(k, "/")
		src, err := n.Admin.CreateSource(ctx, f.buckets[bucket], client.CreateSourceRequest{Name: source, Schema: schemas[k]})
		if err != nil {
			t.Fatal(err)
		}
		f.sources[k] = src.ID
	}
	// One point per (source, time) holding every field written then.
	type key struct {
		src string
		t   int64
	}
	byBucket := map[string]map[key]map[string]any{}
	for _, s := range series {
		pts := byBucket[s.bucket]
		if pts == nil {
			pts = map[key]map[string]any{}
			byBucket[s.bucket] = pts
		}
		for _, smp := range s.samples {
			k := key{f.sources[s.bucket+"/"+s.source], smp.t}
			if pts[k] == nil {
				pts[k] = map[string]any{}
			}
			pts[k][s.field] = smp.f
		}
	}
	for bucket, pts := range byBucket {
		keys := make([]key, 0, len(pts))
		for k := range pts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].t < keys[j].t || keys[i].t == keys[j].t && keys[i].src < keys[j].src
		})
		for len(keys) > 0 {
			m := min(len(keys), 1000)
			batch := client.WriteBatchRequest{BucketID: f.buckets[bucket]}
			for _, k := range keys[:m] {
				batch.DataPoints = append(batch.DataPoints, client.PointInput{DataSourceID: k.src, Timestamp: time.UnixMilli(k.t), Values: pts[k]})
			}
			if _, err := n.Admin.WriteBatch(ctx, batch); err != nil {
				t.Fatal(err)
			}
			keys = keys[m:]
		}
	}
	return f
}

// promCall calls a Prometheus endpoint with the key in X-API-Key (GET)
// and returns the status and body.
func promCall(t testing.TB, base, key, method, path string, params url.Values) (int, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, base+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, base+path, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// promResult is a decoded query answer: every series by its labels.
type promResult struct {
	resultType string
	series     map[string][]sample
}

func decodeResult(t testing.TB, body []byte) promResult {
	t.Helper()
	var doc struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Status != "success" {
		t.Fatalf("not a success answer (%v): %s", err, body)
	}
	r := promResult{resultType: doc.Data.ResultType, series: map[string][]sample{}}
	switch doc.Data.ResultType {
	case "scalar":
		var p []any
		if err := json.Unmarshal(doc.Data.Result, &p); err != nil {
			t.Fatal(err)
		}
		r.series["{}"] = []sample{pair(t, p)}
	case "vector", "matrix":
		var rows []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		}
		if err := json.Unmarshal(doc.Data.Result, &rows); err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			k := labelKey(row.Metric)
			if _, dup := r.series[k]; dup {
				t.Fatalf("series %s twice in %s", k, body)
			}
			if row.Value != nil {
				r.series[k] = []sample{pair(t, row.Value)}
			}
			for _, v := range row.Values {
				r.series[k] = append(r.series[k], pair(t, v))
			}
		}
	default:
		t.Fatalf("unknown resultType in %s", body)
	}
	return r
}

func pair(t testing.TB, p []any) sample {
	t.Helper()
	ts, ok1 := p[0].(float64)
	vs, ok2 := p[1].(string)
	if len(p) != 2 || !ok1 || !ok2 {
		t.Fatalf("bad sample %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		t.Fatalf("bad value %q", vs)
	}
	return sample{t: int64(math.Round(ts * 1000)), f: v}
}

func labelKey(m map[string]string) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// close reports whether two values agree within 1e-9, relatively.
func closeEnough(a, b float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b
	}
	d := math.Abs(a - b)
	return d <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-12
}

func io_copy(b *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(b, resp.Body)
}

// promCallServed is promCall for cluster tests: a 503 (a peer's answer did
// not arrive in time on a loaded machine) is retried until a deadline, and
// anything but 200 then fails the test.
func promCallServed(t testing.TB, base, key, method, path string, params url.Values) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body := promCall(t, base, key, method, path, params)
		if status == http.StatusOK {
			return body
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("%s %s: %d %s", path, params.Get("query"), status, body)
		}
		time.Sleep(200 * time.Millisecond) // back-off between polls
	}
}
