package httpapi_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/condition"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

var (
	alertFields      = []string{"_id", "bucketId", "dataSourceId", "name", "condition", "parsedCondition", "webhookUrl", "status", "cooldownMinutes", "hasSecret", "lastTriggeredAt", "createdAt", "updatedAt"}
	eventFields      = []string{"_id", "alertId", "value", "triggeredAt", "payload", "delivery"}
	deliveryFields   = []string{"state", "attempts", "lastAttemptAt", "lastStatus", "lastError", "nextAttemptAt", "deliveredAt"}
	webhookFields    = []string{"event", "timestamp", "bucketId", "data"}
	webhookDataField = []string{"alertId", "alertName", "dataSourceId", "dataSourceName", "condition", "currentValue", "threshold", "operator", "triggeredAt", "dataPoint"}
)

// alertSchema has a number, a string and a boolean field, so conditions on
// each kind can be tried.
var alertSchema = obj{
	"temperature": obj{"type": "number", "unit": "celsius"},
	"status":      obj{"type": "string"},
	"ok":          obj{"type": "boolean"},
}

// testClock is real time shifted by an offset that tests move forward, so
// that timers keep running (webhook retries) while no-data windows and
// cooldowns can be jumped over. The node uses it for retention and monthly
// quotas too, so it only ever moves by minutes.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// alertNode starts a node whose webhook retries and no-data checks are fast,
// on an injected clock.
func alertNode(t testing.TB, opts ...func(*node.Config)) (*testnode.Node, *testClock) {
	t.Helper()
	clk := &testClock{}
	opts = append([]func(*node.Config){func(cfg *node.Config) {
		cfg.WebhookBackoff = 50 * time.Millisecond
		cfg.NoDataInterval = 100 * time.Millisecond
		cfg.Now = clk.Now
	}}, opts...)
	return testnode.Start(t, opts...), clk
}

// hookRequest is one webhook call as the receiver saw it.
type hookRequest struct {
	body   []byte
	header http.Header
}

// receiver is a webhook endpoint recording what it is sent; it answers 500
// to its first failFirst requests, then 200.
type receiver struct {
	srv       *httptest.Server
	failFirst int

	mu      sync.Mutex
	got     []hookRequest
	arrived chan struct{} // signalled after each request
}

func newReceiver(t testing.TB, failFirst int) *receiver {
	t.Helper()
	r := &receiver{failFirst: failFirst, arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{body: b, header: req.Header.Clone()})
		fail := len(r.got) <= r.failFirst
		r.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		select {
		case r.arrived <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

// failUntil makes the receiver fail until it has had n requests in all.
func (r *receiver) failUntil(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failFirst = n
}

func (r *receiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// wait returns the requests once at least n have arrived, failing after a
// deadline.
func (r *receiver) wait(t testing.TB, n int) []hookRequest {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		if got := r.requests(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline.C:
			t.Fatalf("webhook received %d requests, want %d", len(r.requests()), n)
		}
	}
}

// eventually polls cond until it holds, failing after a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// alertEnv is a bucket with one source of alertSchema and a write and a
// read key.
type alertEnv struct {
	n                 *testnode.Node
	bucketID, srcID   string
	writeKey, readKey string
}

func newAlertEnv(t testing.TB, n *testnode.Node) alertEnv {
	t.Helper()
	b := mkBucket(t, n, n.AdminKey, obj{"name": unique("alerts")})["_id"].(string)
	src := dataObj(t, asKey(t, n, n.AdminKey, "POST", "/api/buckets/"+b+"/sources", obj{"name": unique("src"), "schema": alertSchema}), http.StatusCreated)
	_, w := mkKey(t, n, n.AdminKey, b, "write")
	_, r := mkKey(t, n, n.AdminKey, b, "read")
	return alertEnv{n: n, bucketID: b, srcID: src["_id"].(string), writeKey: w, readKey: r}
}

// source adds another source of alertSchema to the bucket and returns its id.
func (e alertEnv) source(t testing.TB) string {
	t.Helper()
	return dataObj(t, asKey(t, e.n, e.n.AdminKey, "POST", "/api/buckets/"+e.bucketID+"/sources", obj{"name": unique("src"), "schema": alertSchema}), http.StatusCreated)["_id"].(string)
}

// rule is a valid create body for the env's source, changed by extra.
func (e alertEnv) rule(extra obj) obj {
	b := obj{"bucketId": e.bucketID, "dataSourceId": e.srcID, "name": unique("rule"),
		"condition": "temperature exceeds 30", "webhookUrl": "https://example.com/hook"}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

func (e alertEnv) create(t testing.TB, extra obj) obj {
	t.Helper()
	return dataObj(t, asKey(t, e.n, e.n.AdminKey, "POST", "/api/alerts", e.rule(extra)), http.StatusCreated)
}

// write ingests one point of source srcID through the public API.
func (e alertEnv) write(t testing.TB, srcID string, at time.Time, values obj) {
	t.Helper()
	body := obj{"bucketId": e.bucketID, "dataSourceId": srcID, "values": values}
	if !at.IsZero() {
		body["timestamp"] = tstr(at)
	}
	wantData(t, asKey(t, e.n, e.writeKey, "POST", "/api/data", body), http.StatusCreated)
}

// events lists a rule's events, newest first, as an admin key sees them.
func (e alertEnv) events(t testing.TB, alertID string) []obj {
	t.Helper()
	items, p := wantList(t, asKey(t, e.n, e.n.AdminKey, "GET", "/api/alerts/"+alertID+"/events?limit=1000", nil))
	if p.Total != len(items) {
		t.Fatalf("events total %d, listed %d", p.Total, len(items))
	}
	return items
}

func (e alertEnv) get(t testing.TB, alertID string) obj {
	t.Helper()
	return dataObj(t, asKey(t, e.n, e.n.AdminKey, "GET", "/api/alerts/"+alertID, nil), http.StatusOK)
}

// wantEventCount checks how many events a rule has once the node has
// evaluated every write it acknowledged: evaluation follows the answer
// (docs/api.md), and a write is queued for it before the answer, so an
// empty queue means every earlier write was evaluated.
func (e alertEnv) wantEventCount(t testing.TB, alertID string, want int) []obj {
	t.Helper()
	e.evaluated(t)
	evs := e.events(t, alertID)
	if len(evs) != want {
		t.Fatalf("rule has %d events, want %d: %v", len(evs), want, evs)
	}
	return evs
}

// evaluated waits until the node has evaluated every write it acknowledged.
func (e alertEnv) evaluated(t testing.TB) {
	t.Helper()
	eventually(t, "alert evaluation of the acknowledged writes", func() bool {
		q, _, _ := e.n.AlertEvalLag()
		return q == 0
	})
}

// delivered waits until the rule's newest event is delivered and returns it.
func (e alertEnv) delivered(t testing.TB, alertID string) obj {
	t.Helper()
	var ev obj
	eventually(t, "delivery of an event of "+alertID, func() bool {
		evs := e.events(t, alertID)
		if len(evs) == 0 {
			return false
		}
		ev = evs[0]
		return ev["delivery"].(obj)["state"] == "delivered"
	})
	return ev
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func parseError(t testing.TB, cond string) string {
	t.Helper()
	_, err := condition.Parse(cond)
	if err == nil {
		t.Fatalf("condition %q parses", cond)
	}
	return err.Error()
}

func TestE2EAlerts(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	env := newAlertEnv(t, n)
	admin := n.AdminKey

	t.Run("create shape", func(t *testing.T) {
		tests := []struct {
			name   string
			extra  obj
			parsed obj
			want   obj
		}{
			{"threshold, defaults", obj{}, obj{"field": "temperature", "operator": "gt", "value": 30.0},
				obj{"cooldownMinutes": 5.0, "hasSecret": false, "condition": "temperature exceeds 30"}},
			{"duration, secret, cooldown", obj{"condition": "  temperature drops below -2.5 for 2 hours. ", "secret": " s3cret ", "cooldownMinutes": 0},
				obj{"field": "temperature", "operator": "lt", "value": -2.5, "durationMinutes": 120.0},
				obj{"cooldownMinutes": 0.0, "hasSecret": true, "condition": "temperature drops below -2.5 for 2 hours."}},
			{"at most, exponent, longest cooldown", obj{"condition": "temperature is at most 1e3", "cooldownMinutes": 1440},
				obj{"field": "temperature", "operator": "lte", "value": 1000.0}, obj{"cooldownMinutes": 1440.0}},
			{"no data", obj{"condition": "No data received for 10 minutes"},
				obj{"field": nil, "operator": "nodata", "value": nil, "durationMinutes": 10.0}, obj{"condition": "No data received for 10 minutes"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := time.Now()
				body := env.rule(tt.extra)
				a := dataObj(t, asKey(t, n, admin, "POST", "/api/alerts", body), http.StatusCreated)
				wantFields(t, "rule", a, alertFields...)
				id := wantID(t, a, "_id")
				wantIDTime(t, id, wantTime(t, a, "createdAt"))
				created := wantTime(t, a, "createdAt")
				if created.Before(before.Truncate(time.Second)) || created.After(time.Now()) {
					t.Errorf("createdAt = %v, want about now", created)
				}
				if a["updatedAt"] != a["createdAt"] {
					t.Errorf("updatedAt %v != createdAt %v", a["updatedAt"], a["createdAt"])
				}
				wantValues(t, "rule", a, obj{"bucketId": env.bucketID, "dataSourceId": env.srcID, "name": body["name"],
					"webhookUrl": "https://example.com/hook", "status": "active", "lastTriggeredAt": nil})
				wantValues(t, "rule", a, tt.want)
				pc, _ := a["parsedCondition"].(obj)
				if !reflect.DeepEqual(pc, tt.parsed) {
					t.Errorf("parsedCondition = %v, want %v", pc, tt.parsed)
				}
				if s, ok := body["secret"].(string); ok {
					r := asKey(t, n, admin, "GET", "/api/alerts/"+id, nil)
					if strings.Contains(string(r.Body), s) || strings.Contains(string(r.Body), `"secret"`) {
						t.Errorf("rule shows its secret: %s", r.Body)
					}
				}
				// GET answers the same document; to a read key, with the
				// webhook URL reduced to scheme and host.
				if got := dataObj(t, asKey(t, n, env.writeKey, "GET", "/api/alerts/"+id, nil), http.StatusOK); !reflect.DeepEqual(got, a) {
					t.Errorf("GET = %v\nPOST = %v", got, a)
				}
				reduced := maps.Clone(a)
				reduced["webhookUrl"] = "https://example.com"
				if got := dataObj(t, asKey(t, n, env.readKey, "GET", "/api/alerts/"+id, nil), http.StatusOK); !reflect.DeepEqual(got, reduced) {
					t.Errorf("GET with a read key = %v\nwant %v", got, reduced)
				}
			})
		}
	})

	t.Run("write key creates", func(t *testing.T) {
		a := dataObj(t, asKey(t, n, env.writeKey, "POST", "/api/alerts", env.rule(nil)), http.StatusCreated)
		wantValues(t, "rule", a, obj{"bucketId": env.bucketID, "status": "active"})
	})

	t.Run("naturalLanguageQuery", func(t *testing.T) {
		a := env.create(t, obj{"condition": nil, "naturalLanguageQuery": "temperature is above 40"})
		wantValues(t, "rule", a, obj{"condition": "temperature is above 40"})
		wantValues(t, "parsed", a["parsedCondition"].(obj), obj{"operator": "gt", "value": 40.0})
		// Both given: condition wins, the other is not even checked.
		a = env.create(t, obj{"condition": "temperature is below 5", "naturalLanguageQuery": "nonsense"})
		wantValues(t, "rule", a, obj{"condition": "temperature is below 5"})
		// A null condition is absent, so the alias counts.
		a = env.create(t, obj{"condition": nil, "naturalLanguageQuery": "temperature equals 7"})
		wantValues(t, "parsed", a["parsedCondition"].(obj), obj{"operator": "eq", "value": 7.0})
	})

	t.Run("list", func(t *testing.T) {
		e := newAlertEnv(t, n)
		items, p := wantList(t, asKey(t, n, e.readKey, "GET", "/api/buckets/"+e.bucketID+"/alerts", nil))
		if len(items) != 0 || p != (pagination{Limit: 100, Offset: 0, Total: 0, HasMore: false}) {
			t.Fatalf("empty bucket lists %v %+v", items, p)
		}
		var made []obj
		for range 3 {
			made = append(made, e.create(t, nil))
		}
		items, p = wantList(t, asKey(t, n, e.writeKey, "GET", "/api/buckets/"+e.bucketID+"/alerts", nil))
		if !reflect.DeepEqual(items, made) || p.Total != 3 || p.HasMore {
			t.Fatalf("list = %v %+v, want %v", items, p, made)
		}
		items, p = wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+e.bucketID+"/alerts?limit=2&offset=1", nil))
		if !reflect.DeepEqual(items, made[1:]) || p != (pagination{Limit: 2, Offset: 1, Total: 3, HasMore: false}) {
			t.Errorf("page = %v %+v", items, p)
		}
		items, p = wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+e.bucketID+"/alerts?limit=1", nil))
		if len(items) != 1 || items[0]["_id"] != made[0]["_id"] || !p.HasMore {
			t.Errorf("first page = %v %+v", items, p)
		}
		for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "limit=x"} {
			r := asKey(t, n, admin, "GET", "/api/buckets/"+e.bucketID+"/alerts?"+q, nil)
			wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid pagination parameters")
		}
		wantError(t, asKey(t, n, admin, "GET", "/api/buckets/nope/alerts", nil), http.StatusBadRequest, "Validation Error", "Invalid bucket ID format")
		wantError(t, asKey(t, n, admin, "GET", "/api/buckets/"+missingBucket+"/alerts", nil), http.StatusNotFound, "Not Found", "Bucket not found")
	})

	t.Run("patch", func(t *testing.T) {
		a := env.create(t, nil)
		id := a["_id"].(string)
		path := "/api/alerts/" + id
		steps := []struct {
			name string
			body obj
			want obj // members of the answer
		}{
			{"name", obj{"name": "  renamed  "}, obj{"name": "renamed"}},
			{"condition", obj{"condition": "temperature is at least 12.5 for 3 minutes"},
				obj{"condition": "temperature is at least 12.5 for 3 minutes",
					"parsedCondition": obj{"field": "temperature", "operator": "gte", "value": 12.5, "durationMinutes": 3.0}}},
			{"naturalLanguageQuery", obj{"naturalLanguageQuery": "no data for 1 hour"},
				obj{"condition": "no data for 1 hour", "parsedCondition": obj{"field": nil, "operator": "nodata", "value": nil, "durationMinutes": 60.0}}},
			{"webhookUrl", obj{"webhookUrl": "http://127.0.0.1:9/other?x=1"}, obj{"webhookUrl": "http://127.0.0.1:9/other?x=1"}},
			{"cooldown", obj{"cooldownMinutes": 0}, obj{"cooldownMinutes": 0.0}},
			{"pause", obj{"status": "paused"}, obj{"status": "paused"}},
			{"secret", obj{"secret": "abc"}, obj{"hasSecret": true}},
			{"clear secret", obj{"secret": ""}, obj{"hasSecret": false}},
			{"several at once", obj{"status": "active", "name": "both", "cooldownMinutes": 30, "unknown": 1},
				obj{"status": "active", "name": "both", "cooldownMinutes": 30.0}},
		}
		prev := a
		for _, st := range steps {
			got := dataObj(t, asKey(t, n, env.writeKey, "PATCH", path, st.body), http.StatusOK)
			wantFields(t, st.name, got, alertFields...)
			want := obj{}
			for k, v := range prev {
				want[k] = v
			}
			for k, v := range st.want {
				want[k] = v
			}
			want["updatedAt"] = got["updatedAt"]
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: PATCH = %v\nwant %v", st.name, got, want)
			}
			if !wantTime(t, got, "updatedAt").After(wantTime(t, prev, "updatedAt")) {
				t.Errorf("%s: updatedAt %v not after %v", st.name, got["updatedAt"], prev["updatedAt"])
			}
			if g := env.get(t, id); !reflect.DeepEqual(g, got) {
				t.Errorf("%s: GET = %v, PATCH answered %v", st.name, g, got)
			}
			prev = got
		}
	})

	t.Run("delete", func(t *testing.T) {
		a := env.create(t, nil)
		id := a["_id"].(string)
		d := dataObj(t, asKey(t, n, env.writeKey, "DELETE", "/api/alerts/"+id, nil), http.StatusOK)
		wantFields(t, "delete answer", d, "deletedAlert")
		if !reflect.DeepEqual(d["deletedAlert"], obj{"_id": id, "name": a["name"]}) {
			t.Errorf("deletedAlert = %v", d["deletedAlert"])
		}
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			wantError(t, asKey(t, n, admin, m, "/api/alerts/"+id, obj{"name": "x"}), http.StatusNotFound, "Not Found", "Alert rule not found")
		}
		wantError(t, asKey(t, n, admin, "GET", "/api/alerts/"+id+"/events", nil), http.StatusNotFound, "Not Found", "Alert rule not found")
		items, _ := wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+env.bucketID+"/alerts?limit=1000", nil))
		for _, it := range items {
			if it["_id"] == id {
				t.Errorf("deleted rule still listed")
			}
		}
	})

	t.Run("events of a new rule", func(t *testing.T) {
		a := env.create(t, nil)
		items, p := wantList(t, asKey(t, n, env.readKey, "GET", "/api/alerts/"+a["_id"].(string)+"/events", nil))
		if len(items) != 0 || p != (pagination{Limit: 100, Total: 0}) {
			t.Errorf("events = %v %+v", items, p)
		}
		r := asKey(t, n, env.readKey, "GET", "/api/alerts/"+a["_id"].(string)+"/events?limit=0", nil)
		wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid pagination parameters")
	})

	t.Run("alert ids", func(t *testing.T) {
		routes := []struct{ method, suffix string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"GET", "/events"}}
		for _, rt := range routes {
			for _, bad := range []string{"nope", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "0123456789abcdef012345678"} {
				r := asKey(t, n, admin, rt.method, "/api/alerts/"+bad+rt.suffix, obj{"name": "x"})
				wantError(t, r, http.StatusBadRequest, "Validation Error", "Invalid alert ID format")
			}
			r := asKey(t, n, admin, rt.method, "/api/alerts/"+missingBucket+rt.suffix, obj{"name": "x"})
			wantError(t, r, http.StatusNotFound, "Not Found", "Alert rule not found")
		}
	})

	t.Run("archived bucket", func(t *testing.T) {
		e := newAlertEnv(t, n)
		a := e.create(t, nil)
		dataObj(t, asKey(t, n, admin, "PATCH", "/api/buckets/"+e.bucketID, obj{"status": "archived"}), http.StatusOK)
		wantError(t, asKey(t, n, admin, "POST", "/api/alerts", e.rule(nil)), http.StatusConflict, "Conflict", "Bucket is archived")
		wantError(t, asKey(t, n, e.writeKey, "POST", "/api/alerts", e.rule(nil)), http.StatusConflict, "Conflict", "Bucket is archived")
		// Its rules can still be read, paused and removed.
		e.get(t, a["_id"].(string))
		dataObj(t, asKey(t, n, e.writeKey, "PATCH", "/api/alerts/"+a["_id"].(string), obj{"status": "paused"}), http.StatusOK)
		dataObj(t, asKey(t, n, e.writeKey, "DELETE", "/api/alerts/"+a["_id"].(string), nil), http.StatusOK)
	})

	t.Run("deleting the bucket deletes its rules", func(t *testing.T) {
		e := newAlertEnv(t, n)
		a1, a2 := e.create(t, nil), e.create(t, obj{"condition": "no data received for 5 minutes"})
		d := dataObj(t, asKey(t, n, admin, "DELETE", "/api/buckets/"+e.bucketID, nil), http.StatusOK)
		if got := d["deletedResources"].(obj)["alertRules"]; got != 2.0 {
			t.Errorf("deletedResources.alertRules = %v, want 2", got)
		}
		for _, a := range []obj{a1, a2} {
			id := a["_id"].(string)
			wantError(t, asKey(t, n, admin, "GET", "/api/alerts/"+id, nil), http.StatusNotFound, "Not Found", "Alert rule not found")
			wantError(t, asKey(t, n, admin, "GET", "/api/alerts/"+id+"/events", nil), http.StatusNotFound, "Not Found", "Alert rule not found")
		}
		wantError(t, asKey(t, n, admin, "GET", "/api/buckets/"+e.bucketID+"/alerts", nil), http.StatusNotFound, "Not Found", "Bucket not found")
	})

	t.Run("client round trip", func(t *testing.T) {
		e := newAlertEnv(t, n)
		ctx := t.Context()
		w := n.Client(e.writeKey)
		cooldown := 0
		a, err := w.CreateAlert(ctx, client.CreateAlertRequest{BucketID: e.bucketID, DataSourceID: e.srcID, Name: "hot",
			Condition: "temperature exceeds 30 for 5 minutes", WebhookURL: "https://example.com/h", CooldownMinutes: &cooldown, Secret: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if a.ParsedCondition != (client.ParsedCondition{Field: "temperature", Operator: "gt", Value: 30, DurationMinutes: 5}) ||
			!a.HasSecret || a.CooldownMinutes != 0 || a.Status != "active" || a.LastTriggeredAt != nil || a.CreatedAt.IsZero() {
			t.Errorf("created = %+v", a)
		}
		paused := "paused"
		u, err := w.UpdateAlert(ctx, a.ID, client.UpdateAlertRequest{Status: &paused})
		if err != nil || u.Status != "paused" || u.Name != "hot" {
			t.Fatalf("update = %+v, %v", u, err)
		}
		r := n.Client(e.readKey)
		l, err := r.ListAlerts(ctx, e.bucketID, client.Page{Limit: 10})
		if err != nil || len(l.Data) != 1 || l.Data[0].ID != a.ID || l.Pagination.Total != 1 {
			t.Fatalf("list = %+v, %v", l, err)
		}
		g, err := r.GetAlert(ctx, a.ID)
		reduced := *u
		reduced.WebhookURL = "https://example.com" // a read key sees scheme and host
		if err != nil || !reflect.DeepEqual(*g, reduced) {
			t.Fatalf("get = %+v, %v; updated %+v", g, err, u)
		}
		evs, err := r.ListAlertEvents(ctx, a.ID, client.Page{})
		if err != nil || len(evs.Data) != 0 {
			t.Fatalf("events = %+v, %v", evs, err)
		}
		if _, err := r.DeleteAlert(ctx, a.ID); !client.IsStatus(err, http.StatusForbidden) {
			t.Errorf("read key delete: %v, want 403", err)
		}
		d, err := w.DeleteAlert(ctx, a.ID)
		if err != nil || *d != (client.DeletedAlert{ID: a.ID, Name: "hot"}) {
			t.Fatalf("delete = %+v, %v", d, err)
		}
		if _, err := r.GetAlert(ctx, a.ID); !client.IsStatus(err, http.StatusNotFound) {
			t.Errorf("get after delete: %v, want 404", err)
		}
	})
}

func TestE2EAlertValidation(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	env := newAlertEnv(t, n)
	other := newAlertEnv(t, n)
	admin := n.AdminKey
	long := func(c byte, k int) string { return strings.Repeat(string(c), k) }
	longURL := func(k int) string { return "https://example.com/" + long('a', k-len("https://example.com/")) }

	const invalid = "Invalid request body"
	type badCase struct {
		name       string
		body       any // obj changes to a valid body, or a raw string
		status     int
		typ, msg   string
		detailPath []any  // expected detail path, if any
		detailMsg  string // contained in that detail's message
	}
	bad := func(name string, extra obj, path []any, detailMsg string) badCase {
		return badCase{name, extra, 400, "Validation Error", invalid, path, detailMsg}
	}
	badCond := func(name, cond string) badCase {
		return bad(name, obj{"condition": cond}, []any{"body", "condition"}, parseError(t, cond))
	}
	fieldErr := func(name, cond, msg string) badCase {
		return badCase{name, obj{"condition": cond}, 400, "Validation Error", msg, []any{"body", "condition"}, msg}
	}
	cases := []badCase{
		{"not JSON", `{"bucketId":`, 400, "Bad Request", "Request body is not valid JSON", nil, ""},
		{"array", `[]`, 400, "Validation Error", invalid, []any{"body"}, "Expected object, received array"},
		{"no bucketId", obj{"bucketId": nil}, 400, "Validation Error", "Invalid bucket ID format", []any{"body", "bucketId"}, "Required"},
		{"bad bucketId", obj{"bucketId": "b1"}, 400, "Validation Error", "Invalid bucket ID format", []any{"body", "bucketId"}, "Invalid bucket ID format"},
		{"numeric bucketId", obj{"bucketId": 5}, 400, "Validation Error", "Invalid bucket ID format", []any{"body", "bucketId"}, "Expected string, received number"},
		{"unknown bucket", obj{"bucketId": missingBucket}, 404, "Not Found", "Bucket not found", nil, ""},
		{"no dataSourceId", obj{"dataSourceId": nil}, 400, "Validation Error", "Invalid data source ID format", []any{"body", "dataSourceId"}, "Required"},
		{"bad dataSourceId", obj{"dataSourceId": "s"}, 400, "Validation Error", "Invalid data source ID format", []any{"body", "dataSourceId"}, "Invalid data source ID format"},
		{"unknown source", obj{"dataSourceId": missingBucket}, 404, "Not Found", "Data source not found", nil, ""},
		{"source of another bucket", obj{"dataSourceId": other.srcID}, 404, "Not Found", "Data source not found", nil, ""},
		bad("no name", obj{"name": nil}, []any{"body", "name"}, "Required"),
		bad("empty name", obj{"name": "  "}, []any{"body", "name"}, "at least 1 character"),
		bad("long name", obj{"name": long('n', 101)}, []any{"body", "name"}, "at most 100 character"),
		bad("numeric name", obj{"name": 1}, []any{"body", "name"}, "Expected string, received number"),
		bad("no condition", obj{"condition": nil}, []any{"body", "condition"}, "Required"),
		bad("numeric condition", obj{"condition": 30}, []any{"body", "condition"}, "Expected string, received number"),
		badCond("empty condition", ""),
		badCond("no comparison", "temperature is hot"),
		badCond("no number", "temperature exceeds"),
		badCond("word for number", "temperature exceeds thirty"),
		badCond("zero duration", "temperature exceeds 30 for 0 minutes"),
		badCond("bad unit", "temperature exceeds 30 for 5 days"),
		badCond("spaced field", "room temp exceeds 30"),
		badCond("no data without window", "no data received"),
		badCond("too long", "temperature exceeds 3"+long(' ', 480)+"0 for 5 minutes"+long('x', 10)),
		bad("bad alias", obj{"condition": nil, "naturalLanguageQuery": "temperature is warm"},
			[]any{"body", "naturalLanguageQuery"}, parseError(t, "temperature is warm")),
		fieldErr("field not in schema", "humidity exceeds 80", "Field 'humidity' is not in the data source's schema"),
		fieldErr("field case matters", "Temperature exceeds 80", "Field 'Temperature' is not in the data source's schema"),
		fieldErr("string field", "status exceeds 3", "Field 'status' is not numeric"),
		fieldErr("boolean field", "ok equals 1", "Field 'ok' is not numeric"),
		fieldErr("string field with duration", "status is below 3 for 5 minutes", "Field 'status' is not numeric"),
		bad("no webhookUrl", obj{"webhookUrl": nil}, []any{"body", "webhookUrl"}, "Required"),
		bad("empty webhookUrl", obj{"webhookUrl": ""}, []any{"body", "webhookUrl"}, "at least 1 character"),
		bad("numeric webhookUrl", obj{"webhookUrl": 80}, []any{"body", "webhookUrl"}, "Expected string, received number"),
		bad("long webhookUrl", obj{"webhookUrl": longURL(2049)}, []any{"body", "webhookUrl"}, "at most 2048 character"),
		bad("ftp webhookUrl", obj{"webhookUrl": "ftp://example.com/hook"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("javascript webhookUrl", obj{"webhookUrl": "javascript:alert(1)"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("file webhookUrl", obj{"webhookUrl": "file:///etc/passwd"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("mailto webhookUrl", obj{"webhookUrl": "mailto:ops@example.com"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("relative webhookUrl", obj{"webhookUrl": "/hook"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("no scheme", obj{"webhookUrl": "example.com/hook"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("no host", obj{"webhookUrl": "http:///hook"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("port only", obj{"webhookUrl": "http://:8080/hook"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("unparsable URL", obj{"webhookUrl": "http://exa mple.com/%zz"}, []any{"body", "webhookUrl"}, "webhookUrl must be an http(s) URL"),
		bad("negative cooldown", obj{"cooldownMinutes": -1}, []any{"body", "cooldownMinutes"}, "greater than or equal to 0"),
		bad("cooldown over a day", obj{"cooldownMinutes": 1441}, []any{"body", "cooldownMinutes"}, "less than or equal to 1440"),
		bad("fractional cooldown", obj{"cooldownMinutes": 1.5}, []any{"body", "cooldownMinutes"}, "Expected integer, received float"),
		bad("string cooldown", obj{"cooldownMinutes": "5"}, []any{"body", "cooldownMinutes"}, "Expected number, received string"),
		bad("empty secret", obj{"secret": ""}, []any{"body", "secret"}, "at least 1 character"),
		bad("long secret", obj{"secret": long('s', 257)}, []any{"body", "secret"}, "at most 256 character"),
		bad("numeric secret", obj{"secret": 5}, []any{"body", "secret"}, "Expected string, received number"),
	}
	before := world(t, n, admin)
	listBefore := asKey(t, n, admin, "GET", "/api/buckets/"+env.bucketID+"/alerts", nil).Body
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if extra, ok := tc.body.(obj); ok {
				body = env.rule(extra)
			}
			keys := []string{admin, env.writeKey}
			if tc.name == "unknown bucket" {
				keys = keys[:1] // the write key may not even ask: 403
			}
			for _, key := range keys {
				r := asKey(t, n, key, "POST", "/api/alerts", body)
				details := wantError(t, r, tc.status, tc.typ, tc.msg)
				if tc.detailPath != nil {
					wantDetail(t, details, tc.detailMsg, tc.detailPath...)
				}
			}
		})
	}

	t.Run("every problem reported", func(t *testing.T) {
		r := asKey(t, n, admin, "POST", "/api/alerts", env.rule(obj{"name": "", "condition": "x", "webhookUrl": "ftp://x", "cooldownMinutes": -1, "secret": ""}))
		details := wantError(t, r, 400, "Validation Error", invalid)
		if len(details) != 5 {
			t.Errorf("details = %+v, want 5", details)
		}
		wantDetail(t, details, "cannot parse condition", "body", "condition")
		wantDetail(t, details, "http(s)", "body", "webhookUrl")
	})

	t.Run("read key cannot create", func(t *testing.T) {
		r := asKey(t, n, env.readKey, "POST", "/api/alerts", env.rule(obj{"name": ""}))
		wantError(t, r, http.StatusForbidden, "Forbidden", "API key does not have write permission")
	})

	if t.Failed() {
		return
	}
	unchanged(t, n, before, admin)
	if after := asKey(t, n, admin, "GET", "/api/buckets/"+env.bucketID+"/alerts", nil).Body; !bytes.Equal(after, listBefore) {
		t.Errorf("refused creates changed the rules: %s -> %s", listBefore, after)
	}

	t.Run("limits accepted", func(t *testing.T) {
		a := env.create(t, obj{"name": long('n', 100), "webhookUrl": longURL(2048), "secret": long('s', 256), "cooldownMinutes": 1440,
			"condition": "temperature exceeds 1 for 168 hours"})
		wantValues(t, "rule", a, obj{"hasSecret": true, "cooldownMinutes": 1440.0, "webhookUrl": longURL(2048)})
		wantValues(t, "parsed", a["parsedCondition"].(obj), obj{"durationMinutes": 10080.0})
		a = env.create(t, obj{"webhookUrl": "HTTP://Example.COM:8443/a?b=c#d", "condition": "no data received for 1 minute"})
		wantValues(t, "rule", a, obj{"webhookUrl": "HTTP://Example.COM:8443/a?b=c#d"})
	})

	t.Run("patch", func(t *testing.T) {
		a := env.create(t, obj{"secret": "keep"})
		path := "/api/alerts/" + a["_id"].(string)
		atLeastOne := "At least one of name, condition, webhookUrl, cooldownMinutes, status or secret is required"
		cases := []badCase{
			{"not JSON", `{`, 400, "Bad Request", "Request body is not valid JSON", nil, ""},
			{"empty", obj{}, 400, "Validation Error", invalid, []any{"body"}, atLeastOne},
			{"only unknown fields", obj{"bucketId": other.bucketID, "foo": 1}, 400, "Validation Error", invalid, []any{"body"}, atLeastOne},
			{"only nulls", obj{"name": nil, "secret": nil}, 400, "Validation Error", invalid, []any{"body"}, atLeastOne},
			bad("empty name", obj{"name": ""}, []any{"body", "name"}, "at least 1 character"),
			bad("bad condition", obj{"condition": "temperature rises"}, []any{"body", "condition"}, parseError(t, "temperature rises")),
			bad("bad alias", obj{"naturalLanguageQuery": "rises"}, []any{"body", "naturalLanguageQuery"}, parseError(t, "rises")),
			fieldErr("field not in schema", "humidity exceeds 80", "Field 'humidity' is not in the data source's schema"),
			fieldErr("string field", "status is at least 2", "Field 'status' is not numeric"),
			bad("bad status", obj{"status": "off"}, []any{"body", "status"}, "Invalid enum value"),
			bad("bad url", obj{"webhookUrl": "javascript:alert(1)"}, []any{"body", "webhookUrl"}, "http(s)"),
			bad("bad cooldown", obj{"cooldownMinutes": 1441}, []any{"body", "cooldownMinutes"}, "less than or equal to 1440"),
			bad("long secret", obj{"secret": long('s', 257)}, []any{"body", "secret"}, "at most 256"),
			bad("numeric secret", obj{"secret": 1}, []any{"body", "secret"}, "Expected string"),
			bad("one bad field spoils the rest", obj{"name": "fine", "cooldownMinutes": 1.5}, []any{"body", "cooldownMinutes"}, "Expected integer"),
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := asKey(t, n, env.writeKey, "PATCH", path, tc.body)
				details := wantError(t, r, tc.status, tc.typ, tc.msg)
				if tc.detailPath != nil {
					wantDetail(t, details, tc.detailMsg, tc.detailPath...)
				}
				if got := env.get(t, a["_id"].(string)); !reflect.DeepEqual(got, a) {
					t.Errorf("refused PATCH changed the rule: %v -> %v", a, got)
				}
			})
		}
	})
}

// alertPermFixture has, like permFixture, buckets "own" (of the write and
// read keys) and "sibling" in the initial organization and "foreign" in a
// second one; each has a source and a rule.
type alertPermFixture struct {
	n              *testnode.Node
	adminA, adminB string
	bucket         map[string]string // target -> bucket id
	source         map[string]string // target -> source id
	rule           map[string]string // target -> rule id
	keys           map[string]string // kind -> key
}

var alertTargets = []string{"own", "sibling", "foreign"}

func newAlertPermFixture(t *testing.T, n *testnode.Node, adminB string) *alertPermFixture {
	t.Helper()
	f := &alertPermFixture{n: n, adminA: n.AdminKey, adminB: adminB, bucket: map[string]string{}, source: map[string]string{},
		rule: map[string]string{}, keys: map[string]string{"admin": n.AdminKey}}
	for _, target := range alertTargets {
		admin := f.admin(target)
		b := mkBucket(t, n, admin, obj{"name": unique(target)})["_id"].(string)
		f.bucket[target] = b
		f.source[target] = mkSource(t, n, admin, b, "s")["_id"].(string)
		f.rule[target] = dataObj(t, asKey(t, n, admin, "POST", "/api/alerts", f.body(target)), http.StatusCreated)["_id"].(string)
	}
	_, f.keys["write"] = mkKey(t, n, f.adminA, f.bucket["own"], "write")
	_, f.keys["read"] = mkKey(t, n, f.adminA, f.bucket["own"], "read")
	return f
}

func (f *alertPermFixture) admin(target string) string {
	if target == "foreign" {
		return f.adminB
	}
	return f.adminA
}

func (f *alertPermFixture) body(target string) obj {
	return obj{"bucketId": f.bucket[target], "dataSourceId": f.source[target], "name": unique("r"),
		"condition": "temperature exceeds 30", "webhookUrl": "http://127.0.0.1:9/hook"}
}

// state renders every rule of the fixture's buckets and their events.
func (f *alertPermFixture) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, target := range alertTargets {
		admin := f.admin(target)
		r := asKey(t, f.n, admin, "GET", "/api/buckets/"+f.bucket[target]+"/alerts?limit=1000", nil)
		b.Write(r.Body)
		b.Write(asKey(t, f.n, admin, "GET", "/api/alerts/"+f.rule[target]+"/events", nil).Body)
	}
	return b.String()
}

func TestE2EAlertPermissions(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	_, adminB := mkOrg(t, n, "alert-other-org")
	hidden := permOutcome{status: http.StatusNotFound, typ: "Not Found", msg: "Alert rule not found"}
	byBucket := func(write bool, success permOutcome) map[string]permOutcome {
		readOwn := success
		if write {
			readOwn = permNoWrite
		}
		return map[string]permOutcome{
			"admin/own": success, "admin/sibling": success, "admin/foreign": permHidden,
			"write/own": success, "write/sibling": permNoAccess, "write/foreign": permNoAccess,
			"read/own": readOwn, "read/sibling": permNoAccess, "read/foreign": permNoAccess,
		}
	}
	// Rules are reached through the caller's organization first: another
	// organization's rule is unknown to every key.
	byRule := func(write bool, success permOutcome) map[string]permOutcome {
		row := byBucket(write, success)
		row["admin/foreign"], row["write/foreign"], row["read/foreign"] = hidden, hidden, hidden
		return row
	}
	type endpoint struct {
		name, method string
		path         func(f *alertPermFixture, target string) string
		body         func(f *alertPermFixture, target string) any
		byBucket     bool // addressed by bucket id, not rule id
		want         map[string]permOutcome
	}
	rulePath := func(suffix string) func(*alertPermFixture, string) string {
		return func(f *alertPermFixture, target string) string { return "/api/alerts/" + f.rule[target] + suffix }
	}
	endpoints := []endpoint{
		{"create", "POST", func(*alertPermFixture, string) string { return "/api/alerts" },
			func(f *alertPermFixture, target string) any { return f.body(target) }, true, byBucket(true, permCreated)},
		{"list", "GET", func(f *alertPermFixture, target string) string { return "/api/buckets/" + f.bucket[target] + "/alerts" },
			nil, true, byBucket(false, permListed)},
		{"get", "GET", rulePath(""), nil, false, byRule(false, permOK)},
		{"patch", "PATCH", rulePath(""), func(*alertPermFixture, string) any { return obj{"name": unique("p")} }, false, byRule(true, permOK)},
		{"delete", "DELETE", rulePath(""), nil, false, byRule(true, permOK)},
		{"events", "GET", rulePath("/events"), nil, false, byRule(false, permListed)},
	}
	// ghost addresses a bucket or rule that does not exist.
	ghost := func(e endpoint, f *alertPermFixture) (string, any) {
		g := &alertPermFixture{bucket: map[string]string{"x": missingBucket}, source: map[string]string{"x": missingBucket},
			rule: map[string]string{"x": missingBucket}}
		var body any
		if e.body != nil {
			body = e.body(g, "x")
		}
		return e.path(g, "x"), body
	}

	shared := newAlertPermFixture(t, n, adminB)
	for _, e := range endpoints {
		for _, kind := range []string{"admin", "write", "read"} {
			for _, target := range alertTargets {
				want := e.want[kind+"/"+target]
				t.Run(e.name+"/"+kind+"/"+target, func(t *testing.T) {
					f := shared
					if e.method == "DELETE" && want.success {
						f = newAlertPermFixture(t, n, adminB)
					}
					var body any
					if e.body != nil {
						body = e.body(f, target)
					}
					key := f.keys[kind]
					before := f.state(t)
					r := asKey(t, n, key, e.method, e.path(f, target), body)
					switch {
					case want.list:
						wantList(t, r)
						return
					case want.success:
						wantData(t, r, want.status)
						return
					}
					wantError(t, r, want.status, want.typ, want.msg)
					if s := f.state(t); s != before {
						t.Errorf("refused request changed state:\nbefore:\n%s\nafter:\n%s", before, s)
					}
					// What a key may not reach answers exactly as what does
					// not exist, except a rule of a sibling bucket, which a
					// bucket key learns exists (403, not 404).
					if target == "foreign" || (target == "sibling" && e.byBucket) {
						path, body := ghost(e, f)
						g := asKey(t, n, key, e.method, path, body)
						if g.StatusCode != r.StatusCode || !bytes.Equal(g.Body, r.Body) {
							t.Errorf("missing target answers %d %s, existing one %d %s", g.StatusCode, g.Body, r.StatusCode, r.Body)
						}
					}
				})
			}
		}
	}

	t.Run("effects", func(t *testing.T) {
		f := newAlertPermFixture(t, n, adminB)
		a := dataObj(t, asKey(t, n, f.keys["write"], "POST", "/api/alerts", f.body("own")), http.StatusCreated)
		items, _ := wantList(t, asKey(t, n, f.keys["read"], "GET", "/api/buckets/"+f.bucket["own"]+"/alerts", nil))
		if len(items) != 2 || items[1]["_id"] != a["_id"] {
			t.Errorf("read key lists %v", items)
		}
		// The second organization's admin cannot use the first's source in
		// a bucket of its own.
		body := f.body("foreign")
		body["dataSourceId"] = f.source["own"]
		wantError(t, asKey(t, n, adminB, "POST", "/api/alerts", body), http.StatusNotFound, "Not Found", "Data source not found")
		// Nor see the first's rules, whichever way it asks.
		wantError(t, asKey(t, n, adminB, "GET", "/api/alerts/"+f.rule["own"], nil), http.StatusNotFound, "Not Found", "Alert rule not found")
		wantError(t, asKey(t, n, adminB, "GET", "/api/buckets/"+f.bucket["own"]+"/alerts", nil), http.StatusNotFound, "Not Found", "Bucket not found")
	})
}

func TestE2EAlertFiring(t *testing.T) {
	t.Parallel()
	n, clk := alertNode(t)

	t.Run("threshold fires once with the documented payload", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		const secret = "  top secret "
		a := env.create(t, obj{"name": "Too hot", "condition": "temperature is greater than 30", "webhookUrl": hook.url(), "secret": secret})
		id := a["_id"].(string)
		at := clk.Now().Add(-time.Minute).Truncate(time.Millisecond)
		before := clk.Now()
		wantData(t, asKey(t, n, env.writeKey, "POST", "/api/data", obj{"bucketId": env.bucketID, "dataSourceId": env.srcID,
			"timestamp": tstr(at), "values": obj{"temperature": 31.5, "status": "hot"}, "metadata": obj{"site": "north"}}), http.StatusCreated)
		// Evaluation follows the answer, so the trigger's time is bounded by
		// the moment its event is seen, not by the write's answer.
		evs := env.wantEventCount(t, id, 1)
		after := clk.Now()

		req := hook.wait(t, 1)[0]
		if got, want := req.header.Get("X-Dakkio-Signature"), sign(secret, req.body); got != want {
			t.Errorf("X-Dakkio-Signature = %q, want %q", got, want)
		}
		if ct := req.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if ev := req.header.Get("X-Dakkio-Event"); ev != "alert.triggered" {
			t.Errorf("X-Dakkio-Event = %q", ev)
		}
		if d := req.header.Get("X-Dakkio-Delivery"); d != evs[0]["_id"] {
			t.Errorf("X-Dakkio-Delivery = %q, want the event id %v", d, evs[0]["_id"])
		}
		if !bytes.Contains(req.body, []byte(`"operator":">"`)) {
			t.Errorf("body does not hold \"operator\":\">\" literally: %s", req.body)
		}
		var p obj
		if err := json.Unmarshal(req.body, &p); err != nil {
			t.Fatalf("webhook body is not JSON: %v: %s", err, req.body)
		}
		wantFields(t, "webhook", p, webhookFields...)
		wantValues(t, "webhook", p, obj{"event": "alert.triggered", "bucketId": env.bucketID})
		sent := wantTime(t, p, "timestamp")
		if sent.Before(before.Truncate(time.Second)) || sent.After(after) {
			t.Errorf("timestamp %v not between %v and %v", sent, before, after)
		}
		d := p["data"].(obj)
		wantFields(t, "webhook data", d, webhookDataField...)
		wantValues(t, "webhook data", d, obj{"alertId": id, "alertName": "Too hot", "dataSourceId": env.srcID,
			"condition": "temperature is greater than 30", "currentValue": 31.5, "threshold": 30.0, "operator": ">",
			"triggeredAt": p["timestamp"]})
		if name, _ := d["dataSourceName"].(string); !strings.HasPrefix(name, "src-") {
			t.Errorf("dataSourceName = %v", d["dataSourceName"])
		}
		dp, _ := d["dataPoint"].(obj)
		wantFields(t, "dataPoint", dp, "timestamp", "values", "metadata")
		wantValues(t, "dataPoint", dp, obj{"timestamp": tstr(at), "values": obj{"temperature": 31.5, "status": "hot"}, "metadata": obj{"site": "north"}})

		// The event shows the same payload, byte for byte, and its delivery.
		ev := env.delivered(t, id)
		wantFields(t, "event", ev, eventFields...)
		wantValues(t, "event", ev, obj{"alertId": id, "value": 31.5, "triggeredAt": p["timestamp"]})
		wantIDTime(t, wantID(t, ev, "_id"), wantTime(t, ev, "triggeredAt"))
		dl := ev["delivery"].(obj)
		wantFields(t, "delivery", dl, deliveryFields...)
		wantValues(t, "delivery", dl, obj{"state": "delivered", "attempts": 1.0, "lastStatus": 200.0, "lastError": nil, "nextAttemptAt": nil})
		wantTime(t, dl, "lastAttemptAt")
		wantTime(t, dl, "deliveredAt")
		var raw struct {
			Data []struct {
				Payload json.RawMessage `json:"payload"`
			} `json:"data"`
		}
		r := asKey(t, n, env.readKey, "GET", "/api/alerts/"+id+"/events", nil)
		if err := json.Unmarshal(r.Body, &raw); err != nil || len(raw.Data) != 1 {
			t.Fatalf("events = %s", r.Body)
		}
		if !bytes.Equal(raw.Data[0].Payload, req.body) {
			t.Errorf("event payload %s\nwebhook body  %s", raw.Data[0].Payload, req.body)
		}
		// The rule shows when it last triggered.
		wantValues(t, "rule", env.get(t, id), obj{"lastTriggeredAt": p["timestamp"]})
		if got := len(hook.requests()); got != 1 {
			t.Errorf("webhook called %d times, want 1", got)
		}
	})

	t.Run("not for points that do not match", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"condition": "temperature exceeds 30", "webhookUrl": hook.url(), "cooldownMinutes": 0})
		id := a["_id"].(string)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 30})          // not above
		env.write(t, env.srcID, time.Time{}, obj{"temperature": -40.5})       // far below
		env.write(t, env.srcID, time.Time{}, obj{"status": "31", "ok": true}) // no temperature
		env.write(t, env.source(t), time.Time{}, obj{"temperature": 99})      // another source
		wantData(t, asKey(t, n, env.writeKey, "POST", "/api/data/batch", obj{"bucketId": env.bucketID, "dataPoints": []obj{
			{"dataSourceId": env.srcID, "values": obj{"temperature": 1}},
			{"dataSourceId": env.srcID, "timestamp": tstr(clk.Now().Add(-time.Hour)), "values": obj{"temperature": 2}},
		}}), http.StatusCreated)
		env.wantEventCount(t, id, 0)
		wantValues(t, "rule", env.get(t, id), obj{"lastTriggeredAt": nil})
		if got := len(hook.requests()); got != 0 {
			t.Errorf("webhook called %d times", got)
		}
	})

	t.Run("a write triggers at most once; cooldown 0 fires on every write", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"condition": "temperature is at least 10", "webhookUrl": hook.url(), "cooldownMinutes": 0})
		id := a["_id"].(string)
		base := clk.Now().Add(-10 * time.Minute)
		wantData(t, asKey(t, n, env.writeKey, "POST", "/api/data/batch", obj{"bucketId": env.bucketID, "dataPoints": []obj{
			{"dataSourceId": env.srcID, "timestamp": tstr(base.Add(2 * time.Second)), "values": obj{"temperature": 12}},
			{"dataSourceId": env.srcID, "timestamp": tstr(base.Add(time.Second)), "values": obj{"temperature": 11}},
			{"dataSourceId": env.srcID, "timestamp": tstr(base), "values": obj{"temperature": 9}},
		}}), http.StatusCreated)
		evs := env.wantEventCount(t, id, 1)
		// The first matching point in time order.
		wantValues(t, "event", evs[0], obj{"value": 11.0})
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 10})
		evs = env.wantEventCount(t, id, 2)
		wantValues(t, "newest event", evs[0], obj{"value": 10.0})
		hook.wait(t, 2)
	})

	t.Run("cooldown suppresses the next trigger", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"condition": "temperature exceeds 30", "webhookUrl": hook.url()})
		id := a["_id"].(string)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 35})
		env.wantEventCount(t, id, 1)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 36})
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 37})
		env.wantEventCount(t, id, 1)
		env.delivered(t, id)
		if got := len(hook.requests()); got != 1 {
			t.Errorf("webhook called %d times, want 1", got)
		}
	})

	t.Run("paused rule does not fire", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"condition": "temperature exceeds 30", "webhookUrl": hook.url()})
		id := a["_id"].(string)
		dataObj(t, asKey(t, n, env.writeKey, "PATCH", "/api/alerts/"+id, obj{"status": "paused"}), http.StatusOK)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 35})
		env.wantEventCount(t, id, 0)
		dataObj(t, asKey(t, n, env.writeKey, "PATCH", "/api/alerts/"+id, obj{"status": "active"}), http.StatusOK)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 36})
		evs := env.wantEventCount(t, id, 1)
		wantValues(t, "event", evs[0], obj{"value": 36.0})
		hook.wait(t, 1)
	})

	t.Run("updated condition applies to the next write", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		a := env.create(t, obj{"condition": "temperature exceeds 30", "webhookUrl": newReceiver(t, 0).url(), "cooldownMinutes": 0})
		id := a["_id"].(string)
		dataObj(t, asKey(t, n, env.writeKey, "PATCH", "/api/alerts/"+id, obj{"condition": "temperature is below 0"}), http.StatusOK)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 35})
		env.wantEventCount(t, id, 0)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": -1})
		env.wantEventCount(t, id, 1)
	})

	t.Run("for N minutes", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		const cond = "temperature exceeds 30 for 5 minutes"
		base := clk.Now().Add(-time.Hour).Truncate(time.Second)
		at := func(m float64) string { return tstr(base.Add(time.Duration(m * float64(time.Minute)))) }
		batch := func(src string, pts map[float64]float64) {
			t.Helper()
			var dps []obj
			for m, v := range pts {
				dps = append(dps, obj{"dataSourceId": src, "timestamp": at(m), "values": obj{"temperature": v}})
			}
			wantData(t, asKey(t, n, env.writeKey, "POST", "/api/data/batch", obj{"bucketId": env.bucketID, "dataPoints": dps}), http.StatusCreated)
		}
		rule := func(src string) string {
			return env.create(t, obj{"dataSourceId": src, "condition": cond, "webhookUrl": hook.url()})["_id"].(string)
		}

		held := rule(env.srcID)
		batch(env.srcID, map[float64]float64{0: 31, 1.5: 35, 3: 40, 4.5: 33, 6: 34})
		evs := env.wantEventCount(t, held, 1)
		wantValues(t, "event", evs[0], obj{"value": 34.0})
		var p obj
		if err := json.Unmarshal(hook.wait(t, 1)[0].body, &p); err != nil {
			t.Fatal(err)
		}
		wantValues(t, "dataPoint", p["data"].(obj)["dataPoint"].(obj), obj{"timestamp": at(6)})

		broken := env.source(t)
		brokenRule := rule(broken)
		batch(broken, map[float64]float64{0: 31, 1.5: 35, 3: 29.5, 4.5: 33, 6: 34})
		env.wantEventCount(t, brokenRule, 0)
		// The run restarted at 4.5; it has held for 5 minutes at 9.5.
		batch(broken, map[float64]float64{8: 38})
		env.wantEventCount(t, brokenRule, 0)
		batch(broken, map[float64]float64{9.5: 31})
		evs = env.wantEventCount(t, brokenRule, 1)
		wantValues(t, "event", evs[0], obj{"value": 31.0})

		short := env.source(t)
		shortRule := rule(short)
		batch(short, map[float64]float64{0: 31, 2: 32, 4: 33})
		env.wantEventCount(t, shortRule, 0)
		// Single writes extend the run until it spans 5 minutes.
		env.write(t, short, base.Add(5*time.Minute), obj{"temperature": 36})
		env.wantEventCount(t, shortRule, 1)
	})

	t.Run("delivery retried until the webhook accepts", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 2)
		a := env.create(t, obj{"condition": "temperature exceeds 30", "webhookUrl": hook.url(), "secret": "k"})
		id := a["_id"].(string)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 31})
		reqs := hook.wait(t, 3)
		ev := env.delivered(t, id)
		wantValues(t, "delivery", ev["delivery"].(obj), obj{"state": "delivered", "attempts": 3.0, "lastStatus": 200.0, "lastError": nil, "nextAttemptAt": nil})
		wantTime(t, ev["delivery"].(obj), "deliveredAt")
		for i, r := range reqs {
			if !bytes.Equal(r.body, reqs[0].body) || r.header.Get("X-Dakkio-Delivery") != ev["_id"] || r.header.Get("X-Dakkio-Signature") != sign("k", r.body) {
				t.Errorf("attempt %d differs: %s %v", i+1, r.body, r.header)
			}
		}
		if len(reqs) != 3 {
			t.Errorf("webhook called %d times, want 3", len(reqs))
		}
		env.wantEventCount(t, id, 1)
	})

	t.Run("no signature without a secret", func(t *testing.T) {
		t.Parallel()
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"webhookUrl": hook.url(), "secret": "first"})
		id := a["_id"].(string)
		dataObj(t, asKey(t, n, env.writeKey, "PATCH", "/api/alerts/"+id, obj{"secret": ""}), http.StatusOK)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 31})
		if h := hook.wait(t, 1)[0].header; h.Get("X-Dakkio-Signature") != "" {
			t.Errorf("unsigned rule sent X-Dakkio-Signature %q", h.Get("X-Dakkio-Signature"))
		}
	})
}

func TestE2EAlertClock(t *testing.T) {
	t.Parallel()

	t.Run("cooldown ends", func(t *testing.T) {
		t.Parallel()
		n, clk := alertNode(t)
		env := newAlertEnv(t, n)
		hook := newReceiver(t, 0)
		a := env.create(t, obj{"webhookUrl": hook.url(), "cooldownMinutes": 5})
		id := a["_id"].(string)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 31})
		first := env.wantEventCount(t, id, 1)[0]
		clk.Advance(4 * time.Minute)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 32})
		env.wantEventCount(t, id, 1)
		clk.Advance(90 * time.Second)
		env.write(t, env.srcID, time.Time{}, obj{"temperature": 33})
		evs := env.wantEventCount(t, id, 2)
		wantValues(t, "newest event", evs[0], obj{"value": 33.0})
		if !wantTime(t, evs[0], "triggeredAt").After(wantTime(t, first, "triggeredAt").Add(5 * time.Minute)) {
			t.Errorf("second trigger %v within the cooldown of %v", evs[0]["triggeredAt"], first["triggeredAt"])
		}
		wantValues(t, "rule", env.get(t, id), obj{"lastTriggeredAt": evs[0]["triggeredAt"]})
		hook.wait(t, 2)
	})

	t.Run("no data", func(t *testing.T) {
		t.Parallel()
		n, clk := alertNode(t)
		env := newAlertEnv(t, n)
		hook10, hook5, hookFed := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
		silent10 := env.create(t, obj{"name": "quiet", "condition": "no data received for 10 minutes", "webhookUrl": hook10.url()})["_id"].(string)
		silent5 := env.create(t, obj{"dataSourceId": env.source(t), "condition": "no data received for 5 minutes", "webhookUrl": hook5.url()})["_id"].(string)
		fedSrc := env.source(t)
		fed := env.create(t, obj{"dataSourceId": fedSrc, "condition": "no data for 5 minutes", "webhookUrl": hookFed.url()})["_id"].(string)

		clk.Advance(4 * time.Minute)
		env.write(t, fedSrc, time.Time{}, obj{"temperature": 1}) // restarts fed's window
		clk.Advance(2 * time.Minute)                             // 6 minutes since the rules were made
		hook5.wait(t, 1)
		// The pass that fired silent5 saw the same clock for the others:
		// neither 10 minutes of silence nor 5 since fed's point.
		env.wantEventCount(t, silent5, 1)
		env.wantEventCount(t, silent10, 0)
		env.wantEventCount(t, fed, 0)

		clk.Advance(5 * time.Minute) // 11 minutes; 7 since fed's point
		req := hook10.wait(t, 1)[0]
		hookFed.wait(t, 1)
		evs := env.wantEventCount(t, silent10, 1)
		wantValues(t, "event", evs[0], obj{"value": nil})
		var p obj
		if err := json.Unmarshal(req.body, &p); err != nil {
			t.Fatal(err)
		}
		d := p["data"].(obj)
		wantFields(t, "webhook data", d, webhookDataField...)
		wantValues(t, "webhook data", d, obj{"alertId": silent10, "alertName": "quiet", "dataSourceId": env.srcID,
			"condition": "no data received for 10 minutes", "currentValue": nil, "threshold": nil, "operator": "nodata", "dataPoint": nil})
		if got := req.header.Get("X-Dakkio-Signature"); got != "" {
			t.Errorf("unsigned rule sent a signature %q", got)
		}
		env.delivered(t, silent10)
	})
}

// TestE2EAlertDeliverySurvivesRestart: a delivery still pending when the
// node stops is made by the node that starts on its data.
func TestE2EAlertDeliverySurvivesRestart(t *testing.T) {
	t.Parallel()
	n, _ := alertNode(t)
	env := newAlertEnv(t, n)
	hook := newReceiver(t, 1<<30)
	a := env.create(t, obj{"webhookUrl": hook.url(), "secret": "restart"})
	id := a["_id"].(string)
	env.write(t, env.srcID, time.Time{}, obj{"temperature": 40})
	hook.wait(t, 2) // failed twice, so at least one failure is recorded
	eventually(t, "a recorded failed attempt", func() bool {
		d := env.events(t, id)[0]["delivery"].(obj)
		return d["attempts"].(float64) >= 1 && d["state"] == "pending"
	})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	failed := len(hook.requests())
	hook.failUntil(failed)

	n2, _ := alertNode(t, func(cfg *node.Config) {
		cfg.DataDir, cfg.InitialAdminKey, cfg.OperatorToken = n.Config.DataDir, n.AdminKey, n.OperatorToken
	})
	env.n = n2
	ev := env.delivered(t, id)
	env.wantEventCount(t, id, 1)
	reqs := hook.requests()
	if att := ev["delivery"].(obj)["attempts"].(float64); int(att) < 2 || int(att) > len(reqs) {
		t.Errorf("attempts = %v after %d requests", att, len(reqs))
	}
	last := reqs[len(reqs)-1]
	if !bytes.Equal(last.body, reqs[0].body) || last.header.Get("X-Dakkio-Signature") != sign("restart", last.body) {
		t.Errorf("delivery after restart differs: %s", last.body)
	}
}
