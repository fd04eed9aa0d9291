package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/internal/testnode"
)

// writeTemps writes count points of one temperature each, a second apart
// from start, through POST /api/data/batch.
func writeTemps(t testing.TB, n *testnode.Node, key, bucketID, sourceID string, start time.Time, count int) {
	t.Helper()
	var pts []obj
	for i := range count {
		pts = append(pts, obj{"dataSourceId": sourceID, "timestamp": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), "values": obj{"temperature": float64(i)}})
	}
	wantData(t, asKey(t, n, key, "POST", "/api/data/batch", obj{"bucketId": bucketID, "dataPoints": pts}), http.StatusCreated)
}

func TestE2ESourceGetUpdateDelete(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	bid := mkBucket(t, n, admin, obj{"name": unique("src")})["_id"].(string)
	_, wkey := mkKey(t, n, admin, bid, "write")
	src := mkSource(t, n, admin, bid, "probe")
	sid := src["_id"].(string)
	path := "/api/buckets/" + bid + "/sources/" + sid

	// Without points: stats are zero and null.
	got := dataObj(t, asKey(t, n, wkey, "GET", path, nil), http.StatusOK)
	wantFields(t, "source", got, "_id", "bucketId", "name", "type", "description", "schema", "downsampling", "status", "createdAt", "updatedAt", "stats")
	wantValues(t, "stats", got["stats"].(obj), obj{"dataPointCount": 0.0, "firstDataPoint": nil, "lastDataPoint": nil})

	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	writeTemps(t, n, wkey, bid, sid, start, 3)
	got = dataObj(t, asKey(t, n, wkey, "GET", path, nil), http.StatusOK)
	wantValues(t, "stats", got["stats"].(obj), obj{"dataPointCount": 3.0,
		"firstDataPoint": start.Format(time.RFC3339Nano), "lastDataPoint": start.Add(2 * time.Second).Format(time.RFC3339Nano)})

	// PATCH: rename, describe, add a field, change a unit.
	upd := dataObj(t, asKey(t, n, wkey, "PATCH", path, obj{"name": "probe-2", "description": "north wall",
		"schema": obj{"humidity": obj{"type": "number", "unit": "%"}, "temperature": obj{"type": "number", "unit": "kelvin"}}}), http.StatusOK)
	wantValues(t, "updated source", upd, obj{"name": "probe-2", "description": "north wall", "status": "active",
		"schema": obj{"humidity": obj{"type": "number", "unit": "%"}, "temperature": obj{"type": "number", "unit": "kelvin"}}})
	if upd["updatedAt"] == src["updatedAt"] {
		t.Errorf("updatedAt did not move: %v", upd["updatedAt"])
	}
	// The new field takes points at once.
	wantData(t, asKey(t, n, wkey, "POST", "/api/data", obj{"bucketId": bid, "dataSourceId": sid, "values": obj{"humidity": 40}}), http.StatusCreated)

	// A field's type cannot change once the source has points...
	wantError(t, asKey(t, n, wkey, "PATCH", path, obj{"schema": obj{"temperature": obj{"type": "string"}}}), http.StatusConflict, "Conflict", "Field 'temperature' is a number and the data source has points: its type cannot change")
	// ...but may before.
	empty := mkSource(t, n, admin, bid, "empty")
	retyped := dataObj(t, asKey(t, n, wkey, "PATCH", "/api/buckets/"+bid+"/sources/"+empty["_id"].(string), obj{"schema": obj{"temperature": obj{"type": "string"}}}), http.StatusOK)
	wantValues(t, "retyped", retyped, obj{"schema": obj{"temperature": obj{"type": "string"}}})

	// Errors: nothing to change, bad values, a taken name, unknown ids.
	before := world(t, n, admin)
	wantError(t, asKey(t, n, wkey, "PATCH", path, obj{}), http.StatusBadRequest, "Validation Error", "Invalid request body")
	wantError(t, asKey(t, n, wkey, "PATCH", path, obj{"description": nil}), http.StatusBadRequest, "Validation Error", "Invalid request body")
	d := wantError(t, asKey(t, n, wkey, "PATCH", path, obj{"status": "sleeping", "type": "robot", "downsampling": "yes", "name": ""}), http.StatusBadRequest, "Validation Error", "Invalid request body")
	if len(d) != 4 {
		t.Errorf("details = %v, want 4", d)
	}
	wantError(t, asKey(t, n, wkey, "PATCH", path, obj{"schema": obj{"bad name": obj{"type": "number"}}}), http.StatusBadRequest, "Validation Error", "Invalid request body")
	wantError(t, asKey(t, n, wkey, "PATCH", path, `{"name":`), http.StatusBadRequest, "Bad Request", "Request body is not valid JSON")
	wantError(t, asKey(t, n, wkey, "PATCH", path, obj{"name": "empty"}), http.StatusConflict, "Conflict", `A data source named "empty" already exists in this bucket`)
	wantError(t, asKey(t, n, wkey, "PATCH", "/api/buckets/"+bid+"/sources/nothex", obj{"name": "x"}), http.StatusBadRequest, "Validation Error", "Invalid data source ID format")
	wantError(t, asKey(t, n, wkey, "GET", "/api/buckets/"+bid+"/sources/"+bid, nil), http.StatusNotFound, "Not Found", "Data source not found")
	unchanged(t, n, before, admin)

	// DELETE: the points and the alert rules go, and every count follows.
	wantData(t, asKey(t, n, admin, "POST", "/api/alerts", obj{"bucketId": bid, "dataSourceId": sid, "name": "hot",
		"condition": "temperature exceeds 1000", "webhookUrl": "https://example.com/hook"}), http.StatusCreated)
	other := mkSource(t, n, admin, bid, "kept")
	writeTemps(t, n, wkey, bid, other["_id"].(string), start, 5)
	wantError(t, asKey(t, n, wkey, "DELETE", path, nil), http.StatusForbidden, "Forbidden", "This endpoint requires an admin API key")
	del := dataObj(t, asKey(t, n, admin, "DELETE", path, nil), http.StatusOK)
	wantValues(t, "delete", del, obj{"deletedDataSource": obj{"_id": sid, "name": "probe-2"}, "deletedResources": obj{"dataPoints": 4.0, "alertRules": 1.0}})
	wantError(t, asKey(t, n, admin, "GET", path, nil), http.StatusNotFound, "Not Found", "Data source not found")
	wantError(t, asKey(t, n, admin, "DELETE", path, nil), http.StatusNotFound, "Not Found", "Data source not found")
	bucket := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+bid, nil), http.StatusOK)
	wantValues(t, "bucket stats", bucket["stats"].(obj), obj{"dataSourceCount": 2.0, "dataPointCount": 5.0})
	alerts, _ := wantList(t, asKey(t, n, admin, "GET", "/api/buckets/"+bid+"/alerts", nil))
	if len(alerts) != 0 {
		t.Errorf("alert rules after the delete: %v", alerts)
	}
	an := dataObj(t, asKey(t, n, admin, "GET", "/api/analytics/buckets/"+bid+"?period=24h", nil), http.StatusOK)
	wantValues(t, "analytics summary", an["summary"].(obj), obj{"totalDataPoints": 5.0, "dataPointsInPeriod": 5.0, "dataSources": 2.0, "activeAlerts": 0.0})
	if stats := an["dataSourceStats"].([]any); len(stats) != 2 {
		t.Errorf("dataSourceStats = %v, want the 2 sources left", stats)
	}
	// Points sent for the deleted source now name an unknown source.
	wantError(t, asKey(t, n, wkey, "POST", "/api/data", obj{"bucketId": bid, "dataSourceId": sid, "values": obj{"temperature": 1}}), http.StatusNotFound, "Not Found", "Data source not found")
}

// TestE2EInactiveSourceRefusesPoints: every ingest path refuses points of an
// inactive source with 409, and takes them again once it is active.
func TestE2EInactiveSourceRefusesPoints(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	bid := mkBucket(t, n, admin, obj{"name": unique("inactive")})["_id"].(string)
	_, wkey := mkKey(t, n, admin, bid, "write")
	sid := mkSource(t, n, admin, bid, "probe")["_id"].(string)
	path := "/api/buckets/" + bid + "/sources/" + sid
	// Sources the line protocol and remote write create, written once.
	if status, out, _ := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, "cpu,host=a usage=1", nil); status != http.StatusNoContent {
		t.Fatalf("line protocol: %d %s", status, out)
	}
	now := time.Now().UnixMilli()
	rw := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("up", map[string]string{"job": "node"}, prompb.Sample{Value: 1, Timestamp: now})}}
	if status, out := rwPost(t, n, wkey, "", rw); status != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", status, out)
	}
	srcs := sourcesByName(t, n, wkey, bid)
	lpID, rwID := srcs["cpu,host=a"]["_id"].(string), srcs[`{job="node"}`]["_id"].(string)
	for _, id := range []string{sid, lpID, rwID} {
		got := dataObj(t, asKey(t, n, wkey, "PATCH", "/api/buckets/"+bid+"/sources/"+id, obj{"status": "inactive"}), http.StatusOK)
		wantValues(t, "patched", got, obj{"status": "inactive"})
	}
	before := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+bid, nil), http.StatusOK)["stats"].(obj)["dataPointCount"]

	wantError(t, asKey(t, n, wkey, "POST", "/api/data", obj{"bucketId": bid, "dataSourceId": sid, "values": obj{"temperature": 1}}), http.StatusConflict, "Conflict", "Data source 'probe' is inactive")
	wantError(t, asKey(t, n, wkey, "POST", "/api/data/batch", obj{"bucketId": bid, "dataPoints": []obj{{"dataSourceId": sid, "values": obj{"temperature": 1}}}}), http.StatusConflict, "Conflict", "Data source 'probe' is inactive")
	if status, out, _ := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, "cpu,host=a usage=2", nil); status != http.StatusConflict {
		t.Errorf("line protocol into an inactive source: %d %s, want 409", status, out)
	}
	rw.Timeseries[0].Samples[0].Timestamp = now + 1000
	if status, out := rwPost(t, n, wkey, "", rw); status != http.StatusConflict {
		t.Errorf("remote write into an inactive source: %d %s, want 409", status, out)
	}
	after := dataObj(t, asKey(t, n, admin, "GET", "/api/buckets/"+bid, nil), http.StatusOK)["stats"].(obj)["dataPointCount"]
	if after != before {
		t.Errorf("points stored while inactive: %v -> %v", before, after)
	}
	wantData(t, asKey(t, n, wkey, "PATCH", path, obj{"status": "active"}), http.StatusOK)
	wantData(t, asKey(t, n, wkey, "POST", "/api/data", obj{"bucketId": bid, "dataSourceId": sid, "values": obj{"temperature": 1}}), http.StatusCreated)
}

// TestE2ESourcePermissions: the permission matrix of the source endpoints.
func TestE2ESourcePermissions(t *testing.T) {
	t.Parallel()
	n := testnode.Start(t)
	admin := n.AdminKey
	bid := mkBucket(t, n, admin, obj{"name": unique("perm")})["_id"].(string)
	otherBid := mkBucket(t, n, admin, obj{"name": unique("perm")})["_id"].(string)
	_, wkey := mkKey(t, n, admin, bid, "write")
	_, rkey := mkKey(t, n, admin, bid, "read")
	_, otherW := mkKey(t, n, admin, otherBid, "write")
	_, otherAdmin := mkOrg(t, n, unique("org"))
	sid := mkSource(t, n, admin, bid, "probe")["_id"].(string)
	path := "/api/buckets/" + bid + "/sources/" + sid
	patch := obj{"description": "x"}
	cases := []struct {
		name, key, method string
		body              any
		status            int
		msg               string
	}{
		{"read key gets", rkey, "GET", nil, 200, ""},
		{"write key gets", wkey, "GET", nil, 200, ""},
		{"read key patches", rkey, "PATCH", patch, 403, "API key does not have write permission"},
		{"write key patches", wkey, "PATCH", patch, 200, ""},
		{"read key deletes", rkey, "DELETE", nil, 403, "This endpoint requires an admin API key"},
		{"write key deletes", wkey, "DELETE", nil, 403, "This endpoint requires an admin API key"},
		{"other bucket's key gets", otherW, "GET", nil, 403, "API key does not have access to this bucket"},
		{"other bucket's key patches", otherW, "PATCH", patch, 403, "API key does not have access to this bucket"},
		{"other org gets", otherAdmin, "GET", nil, 404, "Bucket not found"},
		{"other org patches", otherAdmin, "PATCH", patch, 404, "Bucket not found"},
		{"other org deletes", otherAdmin, "DELETE", nil, 404, "Bucket not found"},
		{"no key", "", "GET", nil, 401, "Invalid or missing API key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := asKey(t, n, c.key, c.method, path, c.body)
			if c.status == 200 {
				wantData(t, r, 200)
				return
			}
			typ := map[int]string{401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}[c.status]
			wantError(t, r, c.status, typ, c.msg)
		})
	}
	// The source still exists after every refused delete.
	wantData(t, asKey(t, n, admin, "GET", path, nil), 200)
	wantError(t, asKey(t, n, admin, "GET", "/api/buckets/"+otherBid+"/sources/"+sid, nil), 404, "Not Found", "Data source not found")
}

// TestE2ESourceDeleteCluster: in a 3-node cluster a source's delete counts
// its points exactly, removes them from every replica, and every node's
// counts and analytics follow.
func TestE2ESourceDeleteCluster(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3)
	admin := nodes[0].AdminKey
	bid := createRetry(t, nodes[0], admin, "/api/buckets", obj{"name": unique("delc")})["_id"].(string)
	mk := func(name string) string {
		body := obj{"name": name, "schema": obj{"temperature": obj{"type": "number"}}}
		return createRetry(t, nodes[0], admin, "/api/buckets/"+bid+"/sources", body)["_id"].(string)
	}
	doomed, kept := mk("doomed"), mk("kept")
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	// All replicas acknowledge, so every copy holds every point.
	for _, src := range []string{doomed, kept} {
		var pts []obj
		for i := range 40 {
			pts = append(pts, obj{"dataSourceId": src, "timestamp": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), "values": obj{"temperature": i}})
		}
		wantData(t, retry503(t, nodes[1], admin, "POST", "/api/data/batch?consistency=all", obj{"bucketId": bid, "dataPoints": pts}), http.StatusCreated)
	}
	path := "/api/buckets/" + bid + "/sources/" + doomed
	retried := false
	eventually(t, "the delete", func() bool {
		r := asKey(t, nodes[2], admin, "DELETE", path, nil)
		switch {
		case r.StatusCode == http.StatusServiceUnavailable:
			retried = true
			return false
		case r.StatusCode == http.StatusNotFound && retried:
			return true // applied by the try answered 503: its count is lost
		}
		del := dataObj(t, r, http.StatusOK)
		wantValues(t, "delete", del, obj{"deletedResources": obj{"dataPoints": 40.0, "alertRules": 0.0}})
		return true
	})
	for _, n := range nodes {
		var stats obj
		eventually(t, n.Config.NodeID+" counting 40 points", func() bool {
			r := asKey(t, n, admin, "GET", "/api/buckets/"+bid, nil)
			if r.StatusCode == http.StatusServiceUnavailable {
				return false
			}
			stats = dataObj(t, r, http.StatusOK)["stats"].(obj)
			return stats["dataPointCount"] == 40.0
		})
		wantValues(t, n.Config.NodeID+" stats", stats, obj{"dataSourceCount": 1.0, "dataPointCount": 40.0})
		// Each node's own copy dropped the source's points.
		status, out := ownPoints(t, n, []byte(`{"op":"bucketcount","bucket":"`+bid+`"}`))
		var ans struct{ Result int64 }
		if err := json.Unmarshal(out, &ans); status != http.StatusOK || err != nil || ans.Result != 40 {
			t.Errorf("%s's own copy: %d %s, want 40 points", n.Config.NodeID, status, out)
		}
		an := dataObj(t, retry503(t, n, admin, "GET", "/api/analytics/buckets/"+bid+"?period=24h", nil), http.StatusOK)
		wantValues(t, n.Config.NodeID+" analytics", an["summary"].(obj), obj{"totalDataPoints": 40.0, "dataPointsInPeriod": 40.0, "dataSources": 1.0})
	}
}

// ownPoints asks node n about its own copy of the points, as another node
// does: a signed call to its internal points endpoint.
func ownPoints(t *testing.T, n *testnode.Node, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL+peerrpc.PathPoints, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	nodeauth.SignRequest(nodeauth.DeriveKey(n.Config.ClusterKey, nodeauth.PurposeRPC), req, body, time.Now())
	resp, err := n.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}
