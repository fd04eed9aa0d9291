package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
	"github.com/dakkio/dakkio/store"
)

// The rate-limit tests run nodes on a settable clock, so that month
// boundaries and Retry-After are exact, and with small call allowances where
// the real one is not the point.

var (
	// rlStart is one hour before a monthly reset: Retry-After is 3600.
	rlStart  = time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	rlFeb    = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	rlMarch  = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rlHeader = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
)

// rlClock is a node's clock, set by the test.
type rlClock struct {
	mu  sync.Mutex
	now time.Time
}

func newRLClock(at time.Time) *rlClock { return &rlClock{now: at} }

func (c *rlClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *rlClock) Set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
}

// rlPlans returns store.DefaultPlans with the monthly call limits of some
// plans replaced.
func rlPlans(calls map[string]int64) map[string]store.PlanLimits {
	plans := maps.Clone(store.DefaultPlans)
	for p, n := range calls {
		l := plans[p]
		l.MaxAPICalls = n
		plans[p] = l
	}
	return plans
}

// rlNode starts a node on clock with plans (nil: the defaults), shipping
// usage every 20ms; opts apply after those settings.
func rlNode(t testing.TB, clock *rlClock, plans map[string]store.PlanLimits, opts ...func(*node.Config)) *testnode.Node {
	t.Helper()
	base := func(c *node.Config) {
		c.Now = clock.Now
		c.Plans = plans
		c.UsageInterval = 20 * time.Millisecond
	}
	return testnode.Start(t, append([]func(*node.Config){base}, opts...)...)
}

// mkPlanOrg creates an organization on plan and returns its id and admin key.
func mkPlanOrg(t testing.TB, n *testnode.Node, plan string) (id, adminKey string) {
	t.Helper()
	d := dataObj(t, asOperator(t, n, "POST", "/api/operator/orgs", obj{"name": unique(plan), "plan": plan}), http.StatusCreated)
	org := d["organization"].(obj)
	if org["plan"] != plan {
		t.Fatalf("created organization on plan %v, want %s", org["plan"], plan)
	}
	return org["_id"].(string), d["adminKey"].(obj)["key"].(string)
}

// setPlan moves an organization to plan through the operator endpoint.
func setPlan(t testing.TB, n *testnode.Node, orgID, plan string) {
	t.Helper()
	org := dataObj(t, asOperator(t, n, "PATCH", "/api/operator/orgs/"+orgID, obj{"plan": plan}), http.StatusOK)
	if org["plan"] != plan {
		t.Fatalf("plan after PATCH = %v, want %s", org["plan"], plan)
	}
}

// quota is what the rate-limit headers of one answer say.
type quota struct{ Limit, Remaining, Reset int64 }

// parseQuota reads the rate-limit headers; it is safe in any goroutine.
func parseQuota(r *client.RawResponse) (quota, error) {
	var v [3]int64
	for i, h := range rlHeader {
		s := r.Header.Get(h)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return quota{}, fmt.Errorf("header %s = %q, want an integer (status %d)", h, s, r.StatusCode)
		}
		v[i] = n
	}
	return quota{Limit: v[0], Remaining: v[1], Reset: v[2]}, nil
}

// wantQuota checks r's status and rate-limit headers.
func wantQuota(t testing.TB, r *client.RawResponse, status int, want quota) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.Body)
	}
	got, err := parseQuota(r)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("quota headers = %+v, want %+v", got, want)
	}
}

// wantNoQuota checks that r carries no rate-limit header and no Retry-After.
func wantNoQuota(t testing.TB, r *client.RawResponse) {
	t.Helper()
	for _, h := range append(slices.Clone(rlHeader), "Retry-After") {
		if v, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
			t.Errorf("%s: %v on an answer that must not carry it (status %d)", h, v, r.StatusCode)
		}
	}
}

// wantRateLimited checks a 429: envelope, message naming reset, Retry-After
// and the headers of a spent quota.
func wantRateLimited(t testing.TB, r *client.RawResponse, limit int64, reset time.Time, retryAfter string) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, "Too Many Requests", "Rate limit exceeded. Resets at "+reset.Format(time.RFC3339))
	wantQuota(t, r, http.StatusTooManyRequests, quota{Limit: limit, Remaining: 0, Reset: reset.Unix()})
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
}

// ping is the cheap counted call the tests spend quota with.
func ping(t testing.TB, n *testnode.Node, key string) *client.RawResponse {
	t.Helper()
	return asKey(t, n, key, "GET", "/api/buckets?limit=1", nil)
}

// TestE2ERateLimitFreePlanMonth spends the real free plan: exactly 10,000
// calls succeed, counted down exactly even under concurrency, then 429.
func TestE2ERateLimitFreePlanMonth(t *testing.T) {
	t.Parallel()
	const limit = 10_000
	if store.DefaultPlans[store.PlanFree].MaxAPICalls != limit {
		t.Fatalf("free plan allows %d calls, docs/api.md says %d", store.DefaultPlans[store.PlanFree].MaxAPICalls, limit)
	}
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, nil)
	_, key := mkPlanOrg(t, n, "free")

	// The first calls one by one: Remaining = limit - k after call k.
	const sequential = 3
	for k := int64(1); k <= sequential; k++ {
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - k, Reset: rlFeb.Unix()})
	}

	// The rest from 8 goroutines over keep-alive connections, each going
	// until refused. The meter counts under one lock, so every success has
	// its own Remaining: together exactly limit-sequential-1 .. 0.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 16, MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	c := client.New(n.URL, client.WithAPIKey(key), client.WithHTTPClient(hc))
	var (
		mu        sync.Mutex
		remaining []int64
		refused   int
		errs      []error
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for range 8 {
		wg.Go(func() {
			var mine []int64
			defer func() {
				mu.Lock()
				remaining = append(remaining, mine...)
				mu.Unlock()
			}()
			for {
				r, err := c.Do(ctx, "GET", "/api/buckets?limit=1", nil, nil)
				if err == nil && r.StatusCode != http.StatusOK && r.StatusCode != http.StatusTooManyRequests {
					err = fmt.Errorf("status %d: %s", r.StatusCode, r.Body)
				}
				var q quota
				if err == nil {
					q, err = parseQuota(r)
				}
				if err == nil && (q.Limit != limit || q.Reset != rlFeb.Unix()) {
					err = fmt.Errorf("quota headers %+v", q)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if r.StatusCode == http.StatusTooManyRequests {
					mu.Lock()
					refused++
					mu.Unlock()
					return
				}
				mine = append(mine, q.Remaining)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := sequential + len(remaining); got != limit {
		t.Fatalf("%d calls succeeded, want exactly %d", got, limit)
	}
	slices.Sort(remaining)
	for i, r := range remaining {
		if r != int64(i) {
			t.Fatalf("successful calls reported Remaining %d where %d was due: each value from %d down to 0 must appear once",
				r, i, limit-sequential-1)
		}
	}
	if refused != 8 {
		t.Errorf("%d goroutines were refused, want 8", refused)
	}

	t.Run("then refused until the month ends", func(t *testing.T) {
		wantRateLimited(t, ping(t, n, key), limit, rlFeb, "3600")
		// Retry-After rounds up: 3599.5 seconds before the reset is 3600.
		clock.Set(rlStart.Add(500 * time.Millisecond))
		wantRateLimited(t, ping(t, n, key), limit, rlFeb, "3600")
		// Every endpoint is refused alike, before it validates anything.
		wantRateLimited(t, asKey(t, n, key, "POST", "/api/buckets", "not json"), limit, rlFeb, "3600")
	})
}

// TestE2ERateLimitMonthBoundary: the quota belongs to a calendar month
// (UTC); the first call of the next month starts from zero.
func TestE2ERateLimitMonthBoundary(t *testing.T) {
	t.Parallel()
	const limit = 3
	clock := newRLClock(time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC))
	n := rlNode(t, clock, rlPlans(map[string]int64{store.PlanFree: limit}))
	_, key := mkPlanOrg(t, n, "free")

	for k := int64(1); k <= limit; k++ {
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - k, Reset: rlFeb.Unix()})
	}
	wantRateLimited(t, ping(t, n, key), limit, rlFeb, "60")
	clock.Set(rlFeb.Add(-time.Nanosecond))
	wantRateLimited(t, ping(t, n, key), limit, rlFeb, "1")

	clock.Set(rlFeb)
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - 1, Reset: rlMarch.Unix()})
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - 2, Reset: rlMarch.Unix()})
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: 0, Reset: rlMarch.Unix()})
	wantRateLimited(t, ping(t, n, key), limit, rlMarch, strconv.Itoa(28*24*3600))
}

// TestE2ERateLimitResetHeader: X-RateLimit-Reset is the first instant of
// the next calendar month, UTC, wherever in the month the call falls.
func TestE2ERateLimitResetHeader(t *testing.T) {
	t.Parallel()
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, nil)
	tests := []struct {
		name      string
		now, want time.Time
	}{
		{"mid-month", time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), rlFeb},
		{"last nanosecond of the month", rlFeb.Add(-time.Nanosecond), rlFeb},
		{"first instant of a month", rlFeb, rlMarch},
		{"February of a leap year", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"December", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(tt.now)
			// The initial organization is on the enterprise plan.
			wantQuota(t, ping(t, n, n.AdminKey), http.StatusOK, quota{Limit: -1, Remaining: -1, Reset: tt.want.Unix()})
		})
	}
}

// TestE2ERateLimitWhatCounts: which answers carry the headers and which
// calls spend the quota.
func TestE2ERateLimitWhatCounts(t *testing.T) {
	t.Parallel()
	const limit = 1000
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, rlPlans(map[string]int64{store.PlanFree: limit, store.PlanEnterprise: -1}))
	_, key := mkPlanOrg(t, n, "free")
	_, otherKey := mkPlanOrg(t, n, "free")
	bucketID := mkBucket(t, n, key, obj{"name": "counted"})["_id"].(string)
	_, readKey := mkKey(t, n, key, bucketID, "read")
	revokedID, revoked := mkKey(t, n, key, bucketID, "write")
	dataObj(t, asKey(t, n, key, "DELETE", "/api/buckets/"+bucketID+"/keys/"+revokedID, nil), http.StatusOK)

	t.Run("enterprise is unlimited", func(t *testing.T) {
		for range 20 {
			wantQuota(t, ping(t, n, n.AdminKey), http.StatusOK, quota{Limit: -1, Remaining: -1, Reset: rlFeb.Unix()})
		}
	})

	const operatorToken = "operator" // as: send the operator token instead of a key
	tests := []struct {
		name         string
		as           string // API key, operatorToken, or "" for none
		method, path string
		body         any
		status       int
		counted      bool // and so carries the headers
	}{
		{"health", key, "GET", "/health", nil, 200, false},
		{"ready", key, "GET", "/ready", nil, 200, false},
		{"operator endpoint", operatorToken, "GET", "/api/operator/orgs", nil, 200, false},
		{"operator endpoint with an API key", key, "GET", "/api/operator/orgs", nil, 401, false},
		{"no key", "", "GET", "/api/buckets", nil, 401, false},
		{"malformed key", "dakkio_a_short", "GET", "/api/buckets", nil, 401, false},
		{"unknown key", secret.New(secret.AdminPrefix), "GET", "/api/buckets", nil, 401, false},
		{"revoked key", revoked, "GET", "/api/buckets/" + bucketID + "/sources", nil, 401, false},
		{"unknown route", key, "GET", "/api/nothing", nil, 404, false},
		{"wrong method", key, "PUT", "/api/buckets", nil, 405, false},
		// Sent by postRaw, which does not return headers: only the count is checked.
		{"body too large", key, "POST", "/api/buckets", paddedBucket("big", 10<<20+1), 413, false},
		{"another organization's call", otherKey, "GET", "/api/buckets", nil, 200, false},
		{"success", key, "GET", "/api/buckets", nil, 200, true},
		{"bucket key", readKey, "GET", "/api/buckets/" + bucketID + "/sources", nil, 200, true},
		{"validation error", key, "GET", "/api/buckets?limit=0", nil, 400, true},
		{"unparsable body", key, "POST", "/api/buckets", "{", 400, true},
		{"forbidden", readKey, "POST", "/api/buckets", obj{"name": "x"}, 403, true},
		{"not found", key, "GET", "/api/buckets/ffffffffffffffffffffffff", nil, 404, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := parseQuota(ping(t, n, key))
			if err != nil {
				t.Fatal(err)
			}
			var r *client.RawResponse
			switch {
			case tt.status == http.StatusRequestEntityTooLarge:
				status, body := postRaw(t, n, tt.as, tt.path, tt.body.([]byte))
				r = &client.RawResponse{StatusCode: status, Body: body}
			case tt.as == operatorToken:
				r = asOperator(t, n, tt.method, tt.path, tt.body)
			default:
				r = asKey(t, n, tt.as, tt.method, tt.path, tt.body)
			}
			if r.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.StatusCode, tt.status, r.Body)
			}
			spent := int64(0)
			if tt.counted {
				spent = 1
				wantQuota(t, r, tt.status, quota{Limit: limit, Remaining: before.Remaining - 1, Reset: rlFeb.Unix()})
			} else if tt.as != otherKey {
				wantNoQuota(t, r)
			}
			wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: before.Remaining - spent - 1, Reset: rlFeb.Unix()})
		})
	}

	// A chunked body is found too large only while it is read: it is not
	// counted either, as the same upload with its length declared is not.
	t.Run("chunked body too large", func(t *testing.T) {
		before, err := parseQuota(ping(t, n, key))
		if err != nil {
			t.Fatal(err)
		}
		chunk := strings.Repeat(" ", 64<<10)
		var body strings.Builder
		for range 10<<20/len(chunk) + 1 {
			fmt.Fprintf(&body, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		body.WriteString("0\r\n\r\n")
		resp, got := rawExchange(t, hostOf(n), "POST /api/data HTTP/1.1\r\nHost: x\r\nX-API-Key: "+key+"\r\nTransfer-Encoding: chunked", []byte(body.String()), 10*time.Second)
		wantRawError(t, resp, got, http.StatusRequestEntityTooLarge, "Payload Too Large")
		if h := resp.Header.Get("X-RateLimit-Remaining"); h != "" {
			t.Errorf("the 413 carries X-RateLimit-Remaining %s", h)
		}
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: before.Remaining - 1, Reset: rlFeb.Unix()})
	})
}

// TestE2ERateLimitPlanChange: the operator's plan change applies to the
// next call, both ways, and refused calls were never counted.
func TestE2ERateLimitPlanChange(t *testing.T) {
	t.Parallel()
	const freeLimit, proLimit = 3, 10
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, rlPlans(map[string]int64{store.PlanFree: freeLimit, store.PlanPro: proLimit}))
	orgID, key := mkPlanOrg(t, n, "free")

	for k := int64(1); k <= freeLimit; k++ {
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: freeLimit, Remaining: freeLimit - k, Reset: rlFeb.Unix()})
	}
	for range 5 {
		wantRateLimited(t, ping(t, n, key), freeLimit, rlFeb, "3600")
	}

	setPlan(t, n, orgID, "pro")
	// 3 counted, 5 refused and not counted, then this one.
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: proLimit, Remaining: proLimit - freeLimit - 1, Reset: rlFeb.Unix()})

	setPlan(t, n, orgID, "enterprise")
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: -1, Remaining: -1, Reset: rlFeb.Unix()})

	// Back on a small plan: the calls made meanwhile still count.
	setPlan(t, n, orgID, "pro")
	wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: proLimit, Remaining: proLimit - freeLimit - 3, Reset: rlFeb.Unix()})
	setPlan(t, n, orgID, "free")
	wantRateLimited(t, ping(t, n, key), freeLimit, rlFeb, "3600")
}

// TestE2ERateLimitSurvivesRestart: the month's count and the keys'
// lastUsedAt are shipped through Raft and outlive the node process.
func TestE2ERateLimitSurvivesRestart(t *testing.T) {
	t.Parallel()
	const limit = 1000
	clock := newRLClock(rlStart)
	plans := rlPlans(map[string]int64{store.PlanFree: limit})
	dir := t.TempDir()
	adminKey, opToken := secret.New(secret.AdminPrefix), secret.New(secret.OperatorPrefix)
	start := func() *testnode.Node {
		return rlNode(t, clock, plans, func(c *node.Config) {
			c.DataDir, c.InitialAdminKey, c.OperatorToken = dir, adminKey, opToken
		})
	}

	n := start()
	_, key := mkPlanOrg(t, n, "free")
	bucketID := mkBucket(t, n, key, obj{"name": "restart"})["_id"].(string)
	writeID, writeKey := mkKey(t, n, key, bucketID, "write")
	unusedID, _ := mkKey(t, n, key, bucketID, "read")
	used := int64(3)

	usedAt := rlStart.Add(10*time.Minute + 123456789*time.Nanosecond)
	clock.Set(usedAt)
	wantList(t, asKey(t, n, writeKey, "GET", "/api/buckets/"+bucketID+"/sources", nil))
	used++
	clock.Set(rlStart.Add(20 * time.Minute))
	for range 20 {
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - used - 1, Reset: rlFeb.Unix()})
		used++
	}

	lastUsed := func(t *testing.T, n *testnode.Node) map[string]any {
		t.Helper()
		items, _ := wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+bucketID+"/keys", nil))
		used++
		out := map[string]any{}
		for _, it := range items {
			out[it["_id"].(string)] = it["lastUsedAt"]
		}
		return out
	}
	want := map[string]any{writeID: "2026-01-31T23:10:00.123456789Z", unusedID: nil}
	if got := lastUsed(t, n); !maps.Equal(got, want) {
		t.Fatalf("lastUsedAt before restart = %v, want %v", got, want)
	}

	for restart := 1; restart <= 2; restart++ {
		if err := n.Close(); err != nil {
			t.Fatalf("closing node: %v", err)
		}
		n = start()
		wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - used - 1, Reset: rlFeb.Unix()})
		used++
		if got := lastUsed(t, n); !maps.Equal(got, want) {
			t.Fatalf("lastUsedAt after restart %d = %v, want %v", restart, got, want)
		}
		for range 5 {
			wantQuota(t, ping(t, n, key), http.StatusOK, quota{Limit: limit, Remaining: limit - used - 1, Reset: rlFeb.Unix()})
			used++
		}
	}
}

// TestE2ERateLimitRefusedCallsLeaveLastUsed: a refused call is not a use of
// the key.
func TestE2ERateLimitRefusedCallsLeaveLastUsed(t *testing.T) {
	t.Parallel()
	const limit = 4
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, rlPlans(map[string]int64{store.PlanFree: limit}))
	orgID, key := mkPlanOrg(t, n, "free")
	bucketID := mkBucket(t, n, key, obj{"name": "b"})["_id"].(string)
	readID, readKey := mkKey(t, n, key, bucketID, "read")
	sources := "/api/buckets/" + bucketID + "/sources"
	clock.Set(rlStart.Add(time.Minute))
	wantList(t, asKey(t, n, readKey, "GET", sources, nil))
	wantList(t, asKey(t, n, readKey, "GET", sources, nil))
	clock.Set(rlStart.Add(2 * time.Minute))
	wantRateLimited(t, asKey(t, n, readKey, "GET", sources, nil), limit, rlFeb, strconv.Itoa(58*60))

	setPlan(t, n, orgID, "enterprise")
	items, _ := wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+bucketID+"/keys", nil))
	if len(items) != 1 || items[0]["_id"] != readID || items[0]["lastUsedAt"] != "2026-01-31T23:01:00Z" {
		t.Fatalf("keys = %v, want the read key last used at 2026-01-31T23:01:00Z", items)
	}
}

// TestE2EPlanLimits: a plan bounds buckets, data sources and retention;
// refusals are 403 with a message naming the limit, and leave nothing behind.
func TestE2EPlanLimits(t *testing.T) {
	t.Parallel()
	n := rlNode(t, newRLClock(rlStart), nil)
	free := store.DefaultPlans[store.PlanFree]
	if free.MaxBuckets != 3 || free.MaxDataSources != 10 || free.MaxRetentionDays != 30 {
		t.Fatalf("free plan = %+v; this test expects 3 buckets, 10 sources, 30 days", free)
	}
	const (
		bucketLimitMsg = "Plan limit reached: the free plan allows 3 buckets"
		sourceLimitMsg = "Plan limit reached: the free plan allows 10 data sources"
		freeRetention  = "Plan limit reached: the free plan allows a retention of at most 30 days"
	)

	t.Run("buckets", func(t *testing.T) {
		orgID, key := mkPlanOrg(t, n, "free")
		var ids []string
		for i := range 3 {
			ids = append(ids, mkBucket(t, n, key, obj{"name": fmt.Sprintf("b%d", i)})["_id"].(string))
		}
		before := world(t, n, key)
		wantError(t, asKey(t, n, key, "POST", "/api/buckets", obj{"name": "b3"}), http.StatusForbidden, "Forbidden", bucketLimitMsg)
		unchanged(t, n, before, key)
		// An archived bucket still counts.
		dataObj(t, asKey(t, n, key, "PATCH", "/api/buckets/"+ids[0], obj{"status": "archived"}), http.StatusOK)
		before = world(t, n, key)
		wantError(t, asKey(t, n, key, "POST", "/api/buckets", obj{"name": "b3", "status": "archived"}), http.StatusForbidden, "Forbidden", bucketLimitMsg)
		unchanged(t, n, before, key)
		if _, p := wantList(t, asKey(t, n, key, "GET", "/api/buckets", nil)); p.Total != 3 {
			t.Fatalf("%d buckets listed, want 3", p.Total)
		}
		// Deleting one makes room again.
		dataObj(t, asKey(t, n, key, "DELETE", "/api/buckets/"+ids[1], nil), http.StatusOK)
		mkBucket(t, n, key, obj{"name": "b3"})
		wantError(t, asKey(t, n, key, "POST", "/api/buckets", obj{"name": "b4"}), http.StatusForbidden, "Forbidden", bucketLimitMsg)
		// A bigger plan lifts the limit at once; going back keeps what exists.
		setPlan(t, n, orgID, "pro")
		mkBucket(t, n, key, obj{"name": "b4"})
		setPlan(t, n, orgID, "free")
		wantError(t, asKey(t, n, key, "POST", "/api/buckets", obj{"name": "b5"}), http.StatusForbidden, "Forbidden", bucketLimitMsg)
		if _, p := wantList(t, asKey(t, n, key, "GET", "/api/buckets", nil)); p.Total != 4 {
			t.Fatalf("%d buckets listed, want 4", p.Total)
		}
	})

	t.Run("concurrent bucket creates stop at the limit", func(t *testing.T) {
		_, key := mkPlanOrg(t, n, "free")
		c := client.New(n.URL, client.WithAPIKey(key))
		statuses := make([]int, 8)
		bodies := make([]string, 8)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				r, err := c.Do(t.Context(), "POST", "/api/buckets", fmt.Appendf(nil, `{"name":"c%d"}`, i), nil)
				if err != nil {
					bodies[i] = err.Error()
					return
				}
				statuses[i], bodies[i] = r.StatusCode, string(r.Body)
			})
		}
		wg.Wait()
		created := 0
		for i, st := range statuses {
			switch st {
			case http.StatusCreated:
				created++
			case http.StatusForbidden:
				if want := `{"error":"Forbidden","message":"` + bucketLimitMsg + `"}`; bodies[i] != want {
					t.Errorf("refused create: %s, want %s", bodies[i], want)
				}
			default:
				t.Errorf("create %d: status %d: %s", i, st, bodies[i])
			}
		}
		if created != 3 {
			t.Errorf("%d concurrent creates succeeded, want exactly 3", created)
		}
		if items, p := wantList(t, asKey(t, n, key, "GET", "/api/buckets", nil)); p.Total != 3 || len(items) != 3 {
			t.Errorf("%d buckets listed, want 3", p.Total)
		}
	})

	t.Run("data sources across the organization", func(t *testing.T) {
		_, key := mkPlanOrg(t, n, "free")
		b1 := mkBucket(t, n, key, obj{"name": "one"})["_id"].(string)
		b2 := mkBucket(t, n, key, obj{"name": "two"})["_id"].(string)
		b3 := mkBucket(t, n, key, obj{"name": "three"})["_id"].(string)
		_, writeKey := mkKey(t, n, key, b3, "write")
		for i := range 10 {
			mkSource(t, n, key, []string{b1, b2}[i%2], fmt.Sprintf("s%d", i))
		}
		before := world(t, n, key)
		body := obj{"name": "s10", "schema": obj{"v": obj{"type": "number"}}}
		wantError(t, asKey(t, n, key, "POST", "/api/buckets/"+b3+"/sources", body), http.StatusForbidden, "Forbidden", sourceLimitMsg)
		wantError(t, asKey(t, n, writeKey, "POST", "/api/buckets/"+b3+"/sources", body), http.StatusForbidden, "Forbidden", sourceLimitMsg)
		unchanged(t, n, before, key)
		// Validation comes first: an invalid source is a 400 even at the limit.
		wantError(t, asKey(t, n, key, "POST", "/api/buckets/"+b3+"/sources", obj{"name": "s10"}), http.StatusBadRequest, "Validation Error", "Invalid request body")
		// Deleting a bucket frees its sources' places.
		dataObj(t, asKey(t, n, key, "DELETE", "/api/buckets/"+b2, nil), http.StatusOK)
		mkSource(t, n, key, b3, "s10")
	})

	t.Run("concurrent source creates stop at the limit", func(t *testing.T) {
		_, key := mkPlanOrg(t, n, "free")
		b := mkBucket(t, n, key, obj{"name": "many"})["_id"].(string)
		c := client.New(n.URL, client.WithAPIKey(key))
		var created, refused, other sync.Map
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				r, err := c.Do(t.Context(), "POST", "/api/buckets/"+b+"/sources",
					fmt.Appendf(nil, `{"name":"s%d","schema":{"v":{"type":"number"}}}`, i), nil)
				switch {
				case err != nil:
					other.Store(i, err.Error())
				case r.StatusCode == http.StatusCreated:
					created.Store(i, true)
				case r.StatusCode == http.StatusForbidden:
					refused.Store(i, true)
				default:
					other.Store(i, fmt.Sprintf("%d %s", r.StatusCode, r.Body))
				}
			})
		}
		wg.Wait()
		count := func(m *sync.Map) (n int) {
			m.Range(func(any, any) bool { n++; return true })
			return n
		}
		other.Range(func(k, v any) bool { t.Errorf("create %v: %v", k, v); return true })
		if c, r := count(&created), count(&refused); c != 10 || r != 6 {
			t.Errorf("%d created and %d refused, want 10 and 6", c, r)
		}
		if _, p := wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+b+"/sources", nil)); p.Total != 10 {
			t.Errorf("%d sources listed, want 10", p.Total)
		}
	})

	t.Run("retention", func(t *testing.T) {
		orgs := map[string]string{}
		for _, plan := range []string{"free", "pro", "enterprise"} {
			_, orgs[plan] = mkPlanOrg(t, n, plan)
		}
		tests := []struct {
			name, plan string
			body       obj
			status     int
			retention  float64 // of the created bucket
			msg        string
		}{
			{"free default", "free", obj{}, 201, 30, ""},
			{"free at the cap", "free", obj{"retentionDays": 30}, 201, 30, ""},
			{"free over the cap", "free", obj{"retentionDays": 31}, 403, 0, freeRetention},
			{"free far over the cap", "free", obj{"retentionDays": 3650}, 403, 0, freeRetention},
			{"beyond any plan is a validation error", "free", obj{"retentionDays": 3651}, 400, 0, "Invalid request body"},
			{"pro default", "pro", obj{}, 201, 30, ""},
			{"pro at the cap", "pro", obj{"retentionDays": 365}, 201, 365, ""},
			{"pro over the cap", "pro", obj{"retentionDays": 366}, 403, 0, "Plan limit reached: the pro plan allows a retention of at most 365 days"},
			{"enterprise maximum", "enterprise", obj{"retentionDays": 3650}, 201, 3650, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := orgs[tt.plan]
				body := maps.Clone(tt.body)
				body["name"] = unique("r")
				if tt.status != http.StatusCreated {
					typ := map[int]string{400: "Validation Error", 403: "Forbidden"}[tt.status]
					before := world(t, n, key)
					wantError(t, asKey(t, n, key, "POST", "/api/buckets", body), tt.status, typ, tt.msg)
					unchanged(t, n, before, key)
					return
				}
				b := dataObj(t, asKey(t, n, key, "POST", "/api/buckets", body), http.StatusCreated)
				wantValues(t, "bucket", b, obj{"retentionDays": tt.retention})
			})
		}
	})

	t.Run("retention on update", func(t *testing.T) {
		orgID, key := mkPlanOrg(t, n, "free")
		b := mkBucket(t, n, key, obj{"name": "upd", "retentionDays": 7})
		path := "/api/buckets/" + b["_id"].(string)
		before := world(t, n, key)
		wantError(t, asKey(t, n, key, "PATCH", path, obj{"retentionDays": 31}), http.StatusForbidden, "Forbidden", freeRetention)
		// Nothing of a refused update applies, not even its other fields.
		wantError(t, asKey(t, n, key, "PATCH", path, obj{"retentionDays": 31, "name": "renamed"}), http.StatusForbidden, "Forbidden", freeRetention)
		unchanged(t, n, before, key)
		got := dataObj(t, asKey(t, n, key, "PATCH", path, obj{"retentionDays": 30}), http.StatusOK)
		wantValues(t, "bucket", got, obj{"retentionDays": float64(30)})

		// A downgrade keeps a longer retention already set, and only a
		// change of retention is checked against the new plan.
		setPlan(t, n, orgID, "pro")
		dataObj(t, asKey(t, n, key, "PATCH", path, obj{"retentionDays": 365}), http.StatusOK)
		setPlan(t, n, orgID, "free")
		got = dataObj(t, asKey(t, n, key, "PATCH", path, obj{"name": "still-365"}), http.StatusOK)
		wantValues(t, "bucket", got, obj{"retentionDays": float64(365), "name": "still-365"})
		wantError(t, asKey(t, n, key, "PATCH", path, obj{"retentionDays": 100}), http.StatusForbidden, "Forbidden", freeRetention)
	})
}
