package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// The analytics tests build organizations through the API, with points
// spread over a hundred days around a fixed clock, and check every field of
// both analytics answers against what they compute from what they sent.

// anaPoint is one stored point as the test knows it.
type anaPoint struct {
	ts     int64
	values map[string]any
}

// anaOrg is an organization of the analytics tests and what it holds.
type anaOrg struct {
	id, name, admin string
	calls           int64 // authenticated calls made with its keys
	keys            map[string]bool
	bucketKeys      int
	adminKeys       int
	buckets         []*anaBucket
	rules           int
}

type anaBucket struct {
	id, name string
	sources  []*anaSource
	rules    []*anaRule // in creation order
}

type anaSource struct {
	id, name string
	numeric  []string
	points   map[int64]anaPoint // by timestamp: a rewrite replaces
}

type anaRule struct {
	id, name  string
	paused    bool
	triggered int
}

// anaFixture talks to one node with a fixed clock and counts every call
// that an organization's quota sees.
type anaFixture struct {
	n    *testnode.Node
	now  time.Time
	orgs []*anaOrg
	hook *httptest.Server
}

// do sends a request with key and counts it against the key's organization
// unless it was refused before authentication (401, 405): every
// authenticated call counts, refused ones (403, 404, 400) included.
func (f *anaFixture) do(t *testing.T, key, method, path string, body any) *client.RawResponse {
	t.Helper()
	r := asKey(t, f.n, key, method, path, body)
	if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusMethodNotAllowed {
		for _, o := range f.orgs {
			if o.keys[key] {
				o.calls++
			}
		}
	}
	return r
}

func (f *anaFixture) addOrg(o *anaOrg) *anaOrg {
	o.keys = map[string]bool{o.admin: true}
	o.adminKeys = 1
	f.orgs = append(f.orgs, o)
	return o
}

func (f *anaFixture) bucket(t *testing.T, o *anaOrg, retention int) *anaBucket {
	t.Helper()
	name := unique("analytics")
	d := dataObj(t, f.do(t, o.admin, "POST", "/api/buckets", obj{"name": name, "retentionDays": retention}), http.StatusCreated)
	b := &anaBucket{id: d["_id"].(string), name: name}
	o.buckets = append(o.buckets, b)
	return b
}

func (f *anaFixture) key(t *testing.T, o *anaOrg, b *anaBucket, typ string) string {
	t.Helper()
	d := dataObj(t, f.do(t, o.admin, "POST", "/api/buckets/"+b.id+"/keys", obj{"name": unique(typ), "type": typ}), http.StatusCreated)
	k := d["key"].(string)
	o.keys[k] = true
	o.bucketKeys++
	return k
}

// source creates a data source; numeric fields are numbers, "label" a
// string and "ok" a boolean when listed.
func (f *anaFixture) source(t *testing.T, o *anaOrg, b *anaBucket, fields ...string) *anaSource {
	t.Helper()
	schema := obj{}
	var numeric []string
	for _, fl := range fields {
		switch fl {
		case "label":
			schema[fl] = obj{"type": "string"}
		case "ok":
			schema[fl] = obj{"type": "boolean"}
		default:
			schema[fl] = obj{"type": "number"}
			numeric = append(numeric, fl)
		}
	}
	name := unique("sensor")
	d := dataObj(t, f.do(t, o.admin, "POST", "/api/buckets/"+b.id+"/sources", obj{"name": name, "schema": schema}), http.StatusCreated)
	s := &anaSource{id: d["_id"].(string), name: name, numeric: numeric, points: map[int64]anaPoint{}}
	b.sources = append(b.sources, s)
	return s
}

// write stores pts through POST /api/data/batch, at most 1000 a request.
func (f *anaFixture) write(t *testing.T, key string, b *anaBucket, src *anaSource, pts []anaPoint) {
	t.Helper()
	for len(pts) > 0 {
		n := min(len(pts), 1000)
		batch := make([]obj, n)
		for i, p := range pts[:n] {
			batch[i] = obj{"dataSourceId": src.id, "timestamp": time.Unix(0, p.ts).UTC().Format(time.RFC3339Nano), "values": p.values}
			src.points[p.ts] = p
		}
		d := dataObj(t, f.do(t, key, "POST", "/api/data/batch", obj{"bucketId": b.id, "dataPoints": batch}), http.StatusCreated)
		if d["count"] != float64(n) {
			t.Fatalf("batch count = %v, want %d", d["count"], n)
		}
		pts = pts[n:]
	}
}

func (f *anaFixture) rule(t *testing.T, o *anaOrg, b *anaBucket, src *anaSource, condition string) *anaRule {
	t.Helper()
	name := unique("rule")
	d := dataObj(t, f.do(t, o.admin, "POST", "/api/alerts", obj{"bucketId": b.id, "dataSourceId": src.id, "name": name,
		"condition": condition, "webhookUrl": f.hook.URL, "cooldownMinutes": 0}), http.StatusCreated)
	r := &anaRule{id: d["_id"].(string), name: name}
	b.rules = append(b.rules, r)
	o.rules++
	return r
}

// anaValue is a number that sums exactly in float64 whatever the order:
// a multiple of 0.25 of modest size.
func anaValue(rng *rand.Rand, lo, hi int) float64 { return float64(lo*4+rng.IntN((hi-lo)*4+1)) / 4 }

func TestE2EAnalytics(t *testing.T) {
	// A fixed clock near real time, not on an hour boundary: periods begin
	// and end in the middle of hours.
	now := time.Now().UTC().Truncate(time.Hour).Add(-2*time.Hour + 23*time.Minute + 17*time.Second + 250*time.Millisecond)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(hook.Close)
	n := testnode.Start(t, func(c *node.Config) { c.Now = func() time.Time { return now } })
	f := &anaFixture{n: n, now: now, hook: hook}

	// Organization A: the initial one (enterprise), with a second admin key.
	orgs, _ := wantList(t, asOperator(t, n, "GET", "/api/operator/orgs", nil))
	a := f.addOrg(&anaOrg{id: orgs[0]["_id"].(string), name: orgs[0]["name"].(string), admin: n.AdminKey})
	ak := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs/"+a.id+"/keys", obj{"name": "second"}), http.StatusCreated)
	a.keys[ak["key"].(string)] = true
	a.adminKeys++
	// Organization B: on the free plan, for a limited quota.
	bd := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs", obj{"name": unique("org-b"), "plan": "free"}), http.StatusCreated)
	b := f.addOrg(&anaOrg{id: bd["organization"].(obj)["_id"].(string), name: bd["organization"].(obj)["name"].(string), admin: bd["adminKey"].(obj)["key"].(string)})

	main := f.bucket(t, a, 365)
	side := f.bucket(t, a, 30)
	empty := f.bucket(t, a, 30)
	foreign := f.bucket(t, b, 30)
	writeKey := f.key(t, a, main, "write")
	readKey := f.key(t, a, main, "read")
	f.key(t, a, side, "read")
	foreignWrite := f.key(t, b, foreign, "write")

	s1 := f.source(t, a, main, "humidity", "label", "ok", "temperature")
	s2 := f.source(t, a, main, "temperature")
	f.source(t, a, main, "temperature") // never written
	sideSrc := f.source(t, a, side, "level")
	foreignSrc := f.source(t, b, foreign, "temperature")
	fires := f.rule(t, a, main, s1, "temperature is greater than 30")
	f.rule(t, a, main, s2, "temperature is less than -100")
	paused := f.rule(t, a, main, s1, "humidity is above 99")
	dataObj(t, f.do(t, a.admin, "PATCH", "/api/alerts/"+paused.id, obj{"status": "paused"}), http.StatusOK)
	paused.paused = true

	// Points: dense over the last 26 hours, sparse back to 100 days, a few
	// on the edges of the periods, one at now (outside every period) and one
	// in the future; then some rewritten with new values.
	rng := rand.New(rand.NewPCG(11, 12))
	at := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	var times []int64
	for i := 0; i < 1500; i++ {
		times = append(times, at(-time.Duration(rng.Int64N(int64(26*time.Hour)))-1))
	}
	for i := 0; i < 600; i++ {
		times = append(times, at(-time.Duration(rng.Int64N(int64(100*24*time.Hour)))-1))
	}
	for _, d := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour} {
		times = append(times, at(-d), at(-d)-1, at(-d)+1)
	}
	times = append(times, at(0), at(10*time.Minute))
	s1Points := func(ts []int64) []anaPoint {
		out := make([]anaPoint, len(ts))
		for i, t := range ts {
			v := map[string]any{"temperature": anaValue(rng, -20, 30), "label": fmt.Sprint("l", rng.IntN(5)), "ok": rng.IntN(2) == 0}
			if rng.IntN(3) > 0 {
				v["humidity"] = anaValue(rng, 0, 99)
			}
			out[i] = anaPoint{ts: t, values: v}
		}
		return out
	}
	f.write(t, writeKey, main, s1, s1Points(times))
	var s2pts []anaPoint
	for _, ts := range times[:900] {
		s2pts = append(s2pts, anaPoint{ts: ts + 7, values: map[string]any{"temperature": anaValue(rng, -50, 50)}})
	}
	f.write(t, a.admin, main, s2, s2pts)
	f.write(t, a.admin, main, s1, s1Points(times[100:160])) // rewrites
	// Three writes that meet "temperature is greater than 30": three triggers
	// (cooldown 0).
	for i := 0; i < 3; i++ {
		f.write(t, writeKey, main, s1, []anaPoint{{ts: at(-time.Duration(i+1) * time.Minute), values: map[string]any{"temperature": 31.5 + float64(i), "label": "hot", "ok": true}}})
		fires.triggered++
	}
	var sidePts []anaPoint
	for i := 0; i < 40; i++ {
		sidePts = append(sidePts, anaPoint{ts: at(-time.Duration(i) * 90 * time.Minute), values: map[string]any{"level": anaValue(rng, 0, 10)}})
	}
	f.write(t, a.admin, side, sideSrc, sidePts)
	f.write(t, foreignWrite, foreign, foreignSrc, []anaPoint{{ts: at(-time.Hour), values: map[string]any{"temperature": 1.5}}})
	// Rules are evaluated after the answer: wait until every write is.
	eventually(t, "alert evaluation of the writes", func() bool {
		q, _, _ := f.n.AlertEvalLag()
		return q == 0
	})

	t.Run("overview", func(t *testing.T) {
		f.checkOverview(t, a)
		f.checkOverview(t, b)
		// Each call counts, this one included.
		f.do(t, readKey, "GET", "/api/buckets/"+main.id+"/sources", nil)
		f.checkOverview(t, a)
	})
	t.Run("bucket", func(t *testing.T) {
		for _, period := range []string{"", "24h", "7d", "30d", "90d"} {
			for _, key := range []string{a.admin, writeKey, readKey} {
				f.checkBucket(t, key, main, period)
			}
			f.checkBucket(t, a.admin, side, period)
			f.checkBucket(t, a.admin, empty, period)
			f.checkBucket(t, b.admin, foreign, period)
		}
	})
	t.Run("permissions", func(t *testing.T) {
		bucketPath := func(b *anaBucket) string { return "/api/analytics/buckets/" + b.id }
		for _, c := range []struct {
			name, key, path string
			status          int
			typ, msg        string
		}{
			{"overview with a write key", writeKey, "/api/analytics/overview", 403, "Forbidden", "This endpoint requires an admin API key"},
			{"overview with a read key", readKey, "/api/analytics/overview", 403, "Forbidden", "This endpoint requires an admin API key"},
			{"overview without a key", "", "/api/analytics/overview", 401, "Unauthorized", "Invalid or missing API key"},
			{"admin on another organization's bucket", a.admin, bucketPath(foreign), 404, "Not Found", "Bucket not found"},
			{"write key on a sibling bucket", writeKey, bucketPath(side), 403, "Forbidden", "API key does not have access to this bucket"},
			{"write key on another organization's bucket", writeKey, bucketPath(foreign), 403, "Forbidden", "API key does not have access to this bucket"},
			{"read key on a sibling bucket", readKey, bucketPath(side), 403, "Forbidden", "API key does not have access to this bucket"},
			{"read key on another organization's bucket", readKey, bucketPath(foreign), 403, "Forbidden", "API key does not have access to this bucket"},
			{"other organization's key on this bucket", foreignWrite, bucketPath(main), 403, "Forbidden", "API key does not have access to this bucket"},
			{"other organization's admin on this bucket", b.admin, bucketPath(main), 404, "Not Found", "Bucket not found"},
			{"unknown bucket", a.admin, "/api/analytics/buckets/0123456789abcdef01234567", 404, "Not Found", "Bucket not found"},
			{"bucket without a key", "", bucketPath(main), 401, "Unauthorized", "Invalid or missing API key"},
			{"malformed bucket id", a.admin, "/api/analytics/buckets/not-an-id", 400, "Validation Error", "Invalid bucket ID format"},
			{"malformed bucket id, read key", readKey, "/api/analytics/buckets/ABCDEF0123456789ABCDEF01", 400, "Validation Error", "Invalid bucket ID format"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, f.do(t, c.key, "GET", c.path, nil), c.status, c.typ, c.msg)
			})
		}
	})
	t.Run("bad period", func(t *testing.T) {
		for _, p := range []string{"1d", "", "7D", "48h", "7d%20", "%20"} {
			r := f.do(t, readKey, "GET", "/api/analytics/buckets/"+main.id+"?period="+p, nil)
			details := wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid query parameters")
			wantDetail(t, details, "Expected '24h' | '7d' | '30d' | '90d'", "query", "period")
		}
		r := f.do(t, a.admin, "POST", "/api/analytics/buckets/"+main.id, nil)
		if r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST status = %d, want 405", r.StatusCode)
		}
	})
	t.Run("client", func(t *testing.T) {
		ov, err := n.Client(a.admin).AnalyticsOverview(t.Context())
		a.calls++
		if err != nil {
			t.Fatal(err)
		}
		if ov.Organization.ID != a.id || ov.Usage.APICallsThisMonth != a.calls || ov.Totals.AlertRules != 3 ||
			ov.RecentActivity.LastAlertTriggered == nil || !ov.RecentActivity.LastAlertTriggered.Equal(now) {
			t.Errorf("overview = %+v", ov)
		}
		ba, err := n.Client(readKey).BucketAnalytics(t.Context(), main.id, client.Period24h)
		a.calls++
		if err != nil {
			t.Fatal(err)
		}
		var perHour int64
		for _, h := range ba.IngestionRate.DataPointsPerHour {
			perHour += h.Count
		}
		if ba.Bucket.ID != main.id || ba.Period != "24h" || len(ba.DataSourceStats) != 3 || ba.DataSourceStats[0].ID != s1.id ||
			perHour != ba.Summary.DataPointsInPeriod || ba.AlertActivity.TotalTriggered != 3 || len(ba.AlertActivity.ByRule) != 3 {
			t.Errorf("bucket analytics = %+v", ba)
		}
		_, err = n.Client(writeKey).AnalyticsOverview(t.Context())
		a.calls++
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden {
			t.Errorf("overview with a write key: %v", err)
		}
	})
	t.Run("overview after", func(t *testing.T) { f.checkOverview(t, a) })
}

// checkOverview asks for the organization's overview with its admin key and
// checks every field.
func (f *anaFixture) checkOverview(t *testing.T, o *anaOrg) {
	t.Helper()
	d := dataObj(t, f.do(t, o.admin, "GET", "/api/analytics/overview", nil), http.StatusOK)
	wantFields(t, "overview", d, "organization", "totals", "usage", "plan", "recentActivity")
	org, _ := d["organization"].(obj)
	wantFields(t, "organization", org, "_id", "name")
	wantValues(t, "organization", org, obj{"_id": o.id, "name": o.name})

	dayAgo, now := f.now.Add(-24*time.Hour).UnixNano(), f.now.UnixNano()
	var sources int
	var points, last24h int64
	last := int64(math.MinInt64)
	for _, b := range o.buckets {
		sources += len(b.sources)
		for _, s := range b.sources {
			points += int64(len(s.points))
			for ts := range s.points {
				last = max(last, ts)
				if ts >= dayAgo && ts < now {
					last24h++
				}
			}
		}
	}
	triggered := 0
	var lastTrigger any
	for _, b := range o.buckets {
		for _, r := range b.rules {
			triggered += r.triggered
			if r.triggered > 0 {
				lastTrigger = f.now.Format(time.RFC3339Nano) // triggers happen at the node's clock
			}
		}
	}
	totals, _ := d["totals"].(obj)
	wantFields(t, "totals", totals, "buckets", "dataSources", "dataPoints", "alertRules", "apiKeys")
	wantValues(t, "totals", totals, obj{"buckets": float64(len(o.buckets)), "dataSources": float64(sources),
		"dataPoints": float64(points), "alertRules": float64(o.rules)})
	if got := totals["apiKeys"]; got != float64(o.bucketKeys+o.adminKeys) {
		t.Errorf("totals.apiKeys = %v, want %d bucket keys + %d admin keys", got, o.bucketKeys, o.adminKeys)
	}

	usage, _ := d["usage"].(obj)
	wantFields(t, "usage", usage, "apiCallsThisMonth", "apiCallsLimit", "apiCallsPercentage", "storageUsedBytes", "storageUsedFormatted")
	limit, pct := -1.0, 0.0
	if o != f.orgs[0] { // organization B is on the free plan
		limit = 10000
		pct = math.Round(float64(o.calls)*100/limit*100) / 100
	}
	wantValues(t, "usage", usage, obj{"apiCallsThisMonth": float64(o.calls), "apiCallsLimit": limit, "apiCallsPercentage": pct})
	size, _ := usage["storageUsedBytes"].(float64)
	if (size > 0) != (points > 0) || size != math.Trunc(size) {
		t.Errorf("storageUsedBytes = %v for %d points", usage["storageUsedBytes"], points)
	}
	if got, want := usage["storageUsedFormatted"], anaFormatBytes(int64(size)); got != want {
		t.Errorf("storageUsedFormatted = %v, want %q (of %v bytes)", got, want, size)
	}

	plan, _ := d["plan"].(obj)
	wantFields(t, "plan", plan, "name", "maxBuckets", "maxRetentionDays", "maxApiCalls")
	if o == f.orgs[0] {
		wantValues(t, "plan", plan, obj{"name": "enterprise", "maxBuckets": -1.0, "maxRetentionDays": 3650.0, "maxApiCalls": -1.0})
	} else {
		wantValues(t, "plan", plan, obj{"name": "free", "maxBuckets": 3.0, "maxRetentionDays": 30.0, "maxApiCalls": 10000.0})
	}

	recent, _ := d["recentActivity"].(obj)
	wantFields(t, "recentActivity", recent, "lastDataIngestion", "lastAlertTriggered", "dataPointsLast24h", "alertsTriggeredLast24h")
	var lastIngestion any
	if points > 0 {
		lastIngestion = time.Unix(0, last).UTC().Format(time.RFC3339Nano)
	}
	wantValues(t, "recentActivity", recent, obj{"lastDataIngestion": lastIngestion, "lastAlertTriggered": lastTrigger,
		"dataPointsLast24h": float64(last24h), "alertsTriggeredLast24h": float64(triggered)})
}

// checkBucket asks for a bucket's analytics over period ("" for the
// default) with key and checks every field.
func (f *anaFixture) checkBucket(t *testing.T, key string, b *anaBucket, period string) {
	t.Helper()
	path := "/api/analytics/buckets/" + b.id
	days := map[string]int{"": 7, "24h": 1, "7d": 7, "30d": 30, "90d": 90}[period]
	if period != "" {
		path += "?period=" + period
	}
	d := dataObj(t, f.do(t, key, "GET", path, nil), http.StatusOK)
	what := fmt.Sprintf("bucket %s period %q", b.name, period)
	wantFields(t, what, d, "bucket", "period", "summary", "dataSourceStats", "ingestionRate", "alertActivity")
	wantValues(t, what, d, obj{"bucket": obj{"_id": b.id, "name": b.name}, "period": cmpOr(period, "7d")})

	start, end := f.now.Add(-time.Duration(days)*24*time.Hour).UnixNano(), f.now.UnixNano()
	var total, inPeriod int64
	hourly := map[int64]int64{}
	var stats []obj
	for _, s := range b.sources {
		st := obj{"_id": s.id, "name": s.name, "dataPointCount": 0.0, "lastDataPoint": nil,
			"avgValues": obj{}, "minValues": obj{}, "maxValues": obj{}}
		sum, cnt := map[string]float64{}, map[string]int{}
		newest := int64(math.MinInt64)
		for ts, p := range s.points {
			total++
			newest = max(newest, ts)
			if ts < start || ts >= end {
				continue
			}
			inPeriod++
			st["dataPointCount"] = st["dataPointCount"].(float64) + 1
			hourly[ts-ts%int64(time.Hour)]++ // times are after 1970
			for _, fl := range s.numeric {
				v, ok := p.values[fl].(float64)
				if !ok {
					continue
				}
				mn, mx := st["minValues"].(obj), st["maxValues"].(obj)
				if cnt[fl] == 0 || v < mn[fl].(float64) {
					mn[fl] = v
				}
				if cnt[fl] == 0 || v > mx[fl].(float64) {
					mx[fl] = v
				}
				sum[fl] += v
				cnt[fl]++
			}
		}
		for fl, s := range sum {
			st["avgValues"].(obj)[fl] = s / float64(cnt[fl])
		}
		if len(s.points) > 0 {
			st["lastDataPoint"] = time.Unix(0, newest).UTC().Format(time.RFC3339Nano)
		}
		stats = append(stats, st)
	}
	active, triggered := 0, 0
	byRule := []any{}
	for _, r := range b.rules {
		if !r.paused {
			active++
		}
		triggered += r.triggered
		byRule = append(byRule, obj{"name": r.name, "count": float64(r.triggered)})
	}
	summary, _ := d["summary"].(obj)
	wantFields(t, what+" summary", summary, "totalDataPoints", "dataPointsInPeriod", "avgDataPointsPerDay", "dataSources", "activeAlerts")
	perDay := math.Round(float64(inPeriod)/float64(days)*100) / 100
	wantValues(t, what+" summary", summary, obj{"totalDataPoints": float64(total), "dataPointsInPeriod": float64(inPeriod),
		"avgDataPointsPerDay": perDay, "dataSources": float64(len(b.sources)), "activeAlerts": float64(active)})

	var gotStats []obj
	if err := json.Unmarshal(mustJSON(t, d["dataSourceStats"]), &gotStats); err != nil || gotStats == nil {
		t.Fatalf("%s: dataSourceStats = %v", what, d["dataSourceStats"])
	}
	if len(gotStats) != len(stats) {
		t.Fatalf("%s: %d dataSourceStats, want %d", what, len(gotStats), len(stats))
	}
	for i, st := range stats {
		wantFields(t, what+" dataSourceStats", gotStats[i], "_id", "name", "dataPointCount", "lastDataPoint", "avgValues", "minValues", "maxValues")
		wantValues(t, fmt.Sprintf("%s dataSourceStats[%d]", what, i), gotStats[i], st)
	}

	rate, _ := d["ingestionRate"].(obj)
	wantFields(t, what+" ingestionRate", rate, "dataPointsPerHour")
	hours := slices.Sorted(func(yield func(int64) bool) {
		for h := range hourly {
			if !yield(h) {
				return
			}
		}
	})
	perHour := []any{}
	for _, h := range hours {
		perHour = append(perHour, obj{"hour": time.Unix(0, h).UTC().Format(time.RFC3339), "count": float64(hourly[h])})
	}
	wantValues(t, what+" ingestionRate", rate, obj{"dataPointsPerHour": perHour})

	alerts, _ := d["alertActivity"].(obj)
	wantFields(t, what+" alertActivity", alerts, "totalTriggered", "byRule")
	wantValues(t, what+" alertActivity", alerts, obj{"totalTriggered": float64(triggered), "byRule": byRule})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// anaFormatBytes is what storageUsedFormatted must say: 1024-based units,
// one decimal, bytes whole.
func anaFormatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KB", "MB", "GB", "TB", "PB"}
	v, i := float64(n)/1024, 0
	for i < len(units)-1 && v >= 1024 {
		v /= 1024
		i++
	}
	if s := fmt.Sprintf("%.1f", v); s == "1024.0" && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
