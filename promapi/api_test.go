package promapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

func secs(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) }

// regular is a series sampled every step in [from, to).
func regular(bucket, source, field string, from, to, step int64, v func(int64) float64) fixtureSeries {
	s := fixtureSeries{bucket: bucket, source: source, field: field}
	for t := from; t < to; t += step {
		s.samples = append(s.samples, sample{t, v(t)})
	}
	return s
}

// TestScopeReadKeySeesOnlyItsBucket: a read key of one bucket never sees
// another bucket's series, names or fields through any endpoint, nor an
// admin key another organization's; write keys read their bucket too.
func TestScopeReadKeySeesOnlyItsBucket(t *testing.T) {
	now := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	f := newFixture(t, []fixtureSeries{
		regular("scope-a", "visible", "temperature", now-30*60_000, now, 60_000, func(int64) float64 { return 1 }),
		regular("scope-b", "secret-src", "secretfield", now-30*60_000, now, 60_000, func(int64) float64 { return 2 }),
		regular("scope-b", "secret-src", "temperature", now-30*60_000, now, 60_000, func(int64) float64 { return 3 }),
	})
	ctx := context.Background()
	mk := func(typ string) string {
		k, err := f.n.Admin.CreateKey(ctx, f.buckets["scope-a"], client.CreateKeyRequest{Name: typ, Type: client.KeyType(typ)})
		if err != nil {
			t.Fatal(err)
		}
		return k.Key
	}
	readKey, writeKey := mk("read"), mk("write")
	other, err := f.n.Operator.CreateOrg(ctx, client.CreateOrgRequest{Name: "other-org", Plan: "enterprise"})
	if err != nil {
		t.Fatal(err)
	}
	at := secs(now - 60_000)
	calls := []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", url.Values{"query": {`{__name__=~".+"}`}, "time": {at}}},
		{"/api/v1/query", url.Values{"query": {`sum by (bucket, source, __name__) (last_over_time({__name__=~".+"}[10m]))`}, "time": {at}}},
		{"/api/v1/query_range", url.Values{"query": {`{source=~".+"}`}, "start": {secs(now - 20*60_000)}, "end": {at}, "step": {"60"}}},
		{"/api/v1/series", url.Values{"match[]": {`{__name__=~".+"}`, `{bucket="scope-b"}`}}},
		{"/api/v1/labels", nil},
		{"/api/v1/label/__name__/values", nil},
		{"/api/v1/label/bucket/values", nil},
		{"/api/v1/label/source/values", nil},
		{"/api/v1/metadata", nil},
	}
	for _, c := range calls {
		for _, key := range []string{readKey, writeKey} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				if strings.Contains(c.path, "/label/") && method == http.MethodPost {
					continue
				}
				status, body := promCall(t, f.n.URL, key, method, c.path, c.params)
				if status != http.StatusOK {
					t.Fatalf("%s %s: status %d: %s", method, c.path, status, body)
				}
				for _, secret := range []string{"scope-b", "secret-src", "secretfield", `"3"`} {
					if strings.Contains(string(body), secret) {
						t.Errorf("%s %s with a key of scope-a shows %s: %s", method, c.path, secret, body)
					}
				}
				if !strings.Contains(string(body), "temperature") && !strings.Contains(string(body), "visible") && !strings.Contains(string(body), "scope-a") && !strings.Contains(string(body), "__name__") {
					t.Errorf("%s %s: the key's own bucket is missing: %s", method, c.path, body)
				}
			}
		}
		// The other organization's admin key sees nothing of this one.
		status, body := promCall(t, f.n.URL, other.AdminKey.Key, http.MethodGet, c.path, c.params)
		if status != http.StatusOK {
			t.Fatalf("other org %s: status %d: %s", c.path, status, body)
		}
		for _, secret := range []string{"scope-a", "scope-b", "visible", "secret", "temperature"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s with another organization's key shows %s: %s", c.path, secret, body)
			}
		}
	}
	// The org's admin key sees both buckets.
	_, body := promCall(t, f.n.URL, f.n.AdminKey, http.MethodGet, "/api/v1/label/bucket/values", nil)
	if got := string(body); got != `{"status":"success","data":["scope-a","scope-b"]}` {
		t.Errorf("admin key's buckets: %s", got)
	}
}

// TestAuthForms: the key as Bearer, as basic auth's password, and as
// X-API-Key; a missing or wrong key is 401 in Prometheus' format.
func TestAuthForms(t *testing.T) {
	f := newFixture(t, nil)
	get := func(h http.Header) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, f.n.URL+"/api/v1/labels", nil)
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io_copy(&b, resp)
		return resp.StatusCode, b.String()
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("grafana:"+f.n.AdminKey))
	for name, h := range map[string]http.Header{
		"bearer": {"Authorization": {"Bearer " + f.n.AdminKey}},
		"basic":  {"Authorization": {basic}},
		"header": {"X-Api-Key": {f.n.AdminKey}},
	} {
		if status, body := get(h); status != http.StatusOK || !strings.HasPrefix(body, `{"status":"success"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	// Every call counts against the organization's plan.
	org, err := f.n.Operator.CreateOrg(context.Background(), client.CreateOrgRequest{Name: "counted", Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	remaining := func() int {
		req, _ := http.NewRequest(http.MethodGet, f.n.URL+"/api/v1/query?query=1%2B1", nil)
		req.Header.Set("Authorization", "Bearer "+org.AdminKey.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("status %d, X-RateLimit-Remaining %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
		}
		return n
	}
	if a, b := remaining(), remaining(); b != a-1 {
		t.Errorf("X-RateLimit-Remaining went from %d to %d over one call", a, b)
	}
	for name, h := range map[string]http.Header{
		"none":  {},
		"wrong": {"Authorization": {"Bearer dakkio_a_" + strings.Repeat("x", 40)}},
	} {
		status, body := get(h)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"status":"error"`) || !strings.Contains(body, `"errorType"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
}

// TestBadInputAndUnsupported: bad parameters are 400 bad_data, PromQL
// outside the subset and limits are 422 execution naming what, and
// nothing answers 500.
func TestBadInputAndUnsupported(t *testing.T) {
	now := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	f := newFixture(t, []fixtureSeries{regular("bad", "s", "v", now-3600_000, now, 10_000, func(t int64) float64 { return float64(t % 7) })})
	cases := []struct {
		path   string
		params url.Values
		status int
		typ    string
		says   string
	}{
		{"/api/v1/query", url.Values{}, 400, "bad_data", "empty query"},
		{"/api/v1/query", url.Values{"query": {"v{"}}, 400, "bad_data", "parse error"},
		{"/api/v1/query", url.Values{"query": {"v"}, "time": {"yesterday"}}, 400, "bad_data", "yesterday"},
		{"/api/v1/query", url.Values{"query": {"v"}, "time": {"1e300"}}, 400, "bad_data", "out of range"},
		{"/api/v1/query", url.Values{"query": {"v", "v"}}, 400, "bad_data", "given 2 times"},
		{"/api/v1/query_range", url.Values{"query": {"v"}, "start": {"10"}, "end": {"5"}, "step": {"1"}}, 400, "bad_data", "before start"},
		{"/api/v1/query_range", url.Values{"query": {"v"}, "start": {"10"}, "end": {"20"}, "step": {"0"}}, 400, "bad_data", "step"},
		{"/api/v1/query_range", url.Values{"query": {"v"}, "start": {"10"}, "end": {"20"}}, 400, "bad_data", "step"},
		{"/api/v1/query_range", url.Values{"query": {"v"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, 422, "execution", "maximum resolution"},
		{"/api/v1/series", url.Values{}, 400, "bad_data", "match[]"},
		{"/api/v1/series", url.Values{"match[]": {"{"}}, 400, "bad_data", "match[]"},
		{"/api/v1/labels", url.Values{"limit": {"-1"}}, 400, "bad_data", "limit"},
		{"/api/v1/query", url.Values{"query": {"topk(3, v)"}}, 422, "execution", "topk"},
		{"/api/v1/query", url.Values{"query": {"histogram_quantile(0.9, v)"}}, 422, "execution", "histogram_quantile"},
		{"/api/v1/query", url.Values{"query": {"v + v"}}, 422, "execution", "two vectors"},
		{"/api/v1/query", url.Values{"query": {"v @ 100"}}, 422, "execution", "@ modifier"},
		{"/api/v1/query", url.Values{"query": {"max_over_time(v[10m:1m])"}}, 422, "execution", "subquer"},
		{"/api/v1/query", url.Values{"query": {"v[5m]"}}, 422, "execution", "range vector"},
		{"/api/v1/query", url.Values{"query": {`"text"`}}, 422, "execution", "string"},
		{"/api/v1/query", url.Values{"query": {"v and v"}}, 422, "execution", "two vectors"},
		{"/api/v1/query", url.Values{"query": {"rate(v[5m])"}}, 200, "", ""},
		{"/api/v1/query", url.Values{"query": {"count_over_time({__name__=\"v\"}[100000d])"}}, 200, "", ""},
	}
	for _, c := range cases {
		status, body := promCall(t, f.n.URL, f.n.AdminKey, http.MethodGet, c.path, c.params)
		if status != c.status {
			t.Errorf("%s %v: status %d, want %d: %s", c.path, c.params, status, c.status, body)
			continue
		}
		if c.typ == "" {
			continue
		}
		var e struct{ Status, ErrorType, Error string }
		if err := json.Unmarshal(body, &e); err != nil || e.Status != "error" || e.ErrorType != c.typ || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s %v: %s; want %s saying %q", c.path, c.params, body, c.typ, c.says)
		}
	}
}

// TestResultCacheInvalidation: a repeated range query is served from the
// cache; a late point in a cached window and a shortened retention each
// change the answer at once.
func TestResultCacheInvalidation(t *testing.T) {
	now := time.Now().Truncate(time.Minute).UnixMilli()
	const min = 60_000
	old := regular("cache", "s", "v", now-75*60*min, now-70*60*min, min, func(int64) float64 { return 1 })
	recent := regular("cache", "s", "v", now-5*60*min, now-60*min, min, func(int64) float64 { return 1 })
	old.samples = append(old.samples, recent.samples...)
	f := newFixture(t, []fixtureSeries{old})
	params := url.Values{"query": {"count_over_time(v[1h])"}, "start": {secs(now - 74*60*min)}, "end": {secs(now - 2*60*min)}, "step": {"3600"}}
	query := func() (map[int64]float64, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.n.URL+"/api/v1/query_range?"+params.Encode(), nil)
		req.Header.Set("X-API-Key", f.n.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io_copy(&b, resp)
		r := decodeResult(t, []byte(b.String()))
		out := map[int64]float64{}
		for _, s := range r.series {
			for _, p := range s {
				out[p.t] = p.f
			}
		}
		return out, resp.Header.Get("X-Dakkio-Cache")
	}
	first, how := query()
	if how != "miss" || first[now-71*60*min] != 60 || first[now-2*60*min] != 60 {
		t.Fatalf("first answer (%s): %v", how, first)
	}
	again, how := query()
	if how != "hit" || len(again) != len(first) {
		t.Fatalf("repeated answer (%s): %v", how, again)
	}
	// A late point half a minute into a cached window.
	late := now - 3*60*min + 30_000
	_, err := f.n.Admin.WriteBatch(context.Background(), client.WriteBatchRequest{BucketID: f.buckets["cache"],
		DataPoints: []client.PointInput{{DataSourceID: f.sources["cache/s"], Timestamp: time.UnixMilli(late), Values: map[string]any{"v": 5.0}}}})
	if err != nil {
		t.Fatal(err)
	}
	after, how := query()
	if how == "hit" || after[now-2*60*min] != 61 || after[now-3*60*min] != 60 {
		t.Fatalf("after a late point (%s): at -2h %v (want 61), at -3h %v (want 60)", how, after[now-2*60*min], after[now-3*60*min])
	}
	if _, how = query(); how != "hit" {
		t.Fatalf("the answer after the late point is not cached again: %s", how)
	}
	// Points of now, outside every cached window, leave the cache whole.
	_, err = f.n.Admin.WriteBatch(context.Background(), client.WriteBatchRequest{BucketID: f.buckets["cache"],
		DataPoints: []client.PointInput{{DataSourceID: f.sources["cache/s"], Timestamp: time.Now(), Values: map[string]any{"v": 7.0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, how = query(); how != "hit" {
		t.Fatalf("a point of now invalidated windows hours older: %s", how)
	}
	// Retention shortened to 2 days: the points of 70-75 hours ago are gone.
	days := 2
	if _, err := f.n.Admin.UpdateBucket(context.Background(), f.buckets["cache"], client.UpdateBucketRequest{RetentionDays: &days}); err != nil {
		t.Fatal(err)
	}
	dropped, how := query()
	if how == "hit" {
		t.Errorf("after the retention change the answer came whole from the cache")
	}
	for ts, v := range dropped {
		if ts < now-48*60*min {
			t.Errorf("after the retention change, %d points at %s", int(v), time.UnixMilli(ts).UTC())
		}
	}
	if dropped[now-2*60*min] != 61 {
		t.Errorf("recent windows lost: %v", dropped)
	}
}
