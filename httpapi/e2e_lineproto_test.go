package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/store"
)

// lpWrite posts a line-protocol body to path (with its query) as key, in
// Authorization: Token form unless header says otherwise.
func lpWrite(t testing.TB, n *testnode.Node, key, path, body string, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", n.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Token "+key)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := n.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), resp.Header
}

// wantInfluxError checks an InfluxDB error answer: status, code, and a
// message containing msg.
func wantInfluxError(t testing.TB, status int, body string, wantStatus int, code, msg string) {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != wantStatus || e["code"] != code || !strings.Contains(e["message"], msg) || len(e) != 2 {
		t.Fatalf("answer %d %s, want %d {code:%q, message containing %q}", status, body, wantStatus, code, msg)
	}
}

// sourcesByName lists a bucket's sources by name.
func sourcesByName(t testing.TB, n *testnode.Node, key, bucketID string) map[string]obj {
	t.Helper()
	list, _ := wantList(t, asKey(t, n, key, "GET", "/api/buckets/"+bucketID+"/sources?limit=1000", nil))
	out := map[string]obj{}
	for _, s := range list {
		out[s["name"].(string)] = s
	}
	return out
}

// rawPoints queries a source's raw points in time order.
func rawPoints(t testing.TB, n *testnode.Node, key, bucketID, sourceID string) []obj {
	t.Helper()
	r := asKey(t, n, key, "POST", "/api/data/query", obj{"bucketId": bucketID,
		"filters": obj{"dataSourceId": sourceID, "startTime": "2000-01-01T00:00:00Z", "limit": 1000}})
	var pts []obj
	if err := json.Unmarshal(wantData(t, r, http.StatusOK), &pts); err != nil {
		t.Fatal(err)
	}
	return pts
}

func TestE2ELineProtocolInfluxClient(t *testing.T) {
	n := testnode.Start(t)
	b := mkBucket(t, n, n.AdminKey, obj{"name": unique("telegraf")})
	bid, bname := b["_id"].(string), b["name"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")

	// The official client, as Telegraf's outputs.influxdb_v2 talks: token,
	// org (ignored), bucket by name, nanoseconds, gzip.
	cl := influxdb2.NewClientWithOptions(n.URL, wkey, influxdb2.DefaultOptions().SetUseGZip(true).SetPrecision(time.Nanosecond))
	defer cl.Close()
	api := cl.WriteAPIBlocking("any-org", bname)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	p1 := influxdb2.NewPoint("weather", map[string]string{"site": "north", "alt": "high"},
		map[string]any{"temp": 21.5, "n": int64(3), "u": uint64(7), "ok": true, "note": "fine"}, at)
	p2 := influxdb2.NewPoint("weather", map[string]string{"alt": "high", "site": "north"},
		map[string]any{"hum": 40.0}, at) // same series and time: merges
	p3 := influxdb2.NewPoint("cpu", nil, map[string]any{"usage": 0.25}, at.Add(time.Second))
	if err := api.WritePoint(context.Background(), p1, p2, p3); err != nil {
		t.Fatalf("influx client write: %v", err)
	}
	// The line-protocol text form too, microseconds.
	if err := cl.WriteAPIBlocking("o", bid).WriteRecord(context.Background(),
		fmt.Sprintf("cpu usage=0.5 %d", at.Add(2*time.Second).UnixNano())); err != nil {
		t.Fatalf("influx client record: %v", err)
	}

	srcs := sourcesByName(t, n, wkey, bid)
	w, ok := srcs["weather,alt=high,site=north"]
	if !ok || len(srcs) != 2 {
		t.Fatalf("sources = %v, want weather,alt=high,site=north and cpu", sortedKeys(srcs))
	}
	if w["type"] != "api" || fmt.Sprint(w["tags"]) != "map[alt:high site:north]" {
		t.Errorf("weather source type %v tags %v, want api and its tags", w["type"], w["tags"])
	}
	schema := w["schema"].(obj)
	for f, typ := range map[string]string{"temp": "number", "n": "number", "u": "number", "ok": "boolean", "note": "string", "hum": "number"} {
		if got := schema[f].(obj)["type"]; got != typ {
			t.Errorf("schema %s = %v, want %s", f, got, typ)
		}
	}
	pts := rawPoints(t, n, wkey, bid, w["_id"].(string))
	if len(pts) != 1 {
		t.Fatalf("weather points = %v, want one merged point", pts)
	}
	wantValues(t, "weather point", pts[0]["values"].(obj), obj{"temp": 21.5, "n": 3.0, "u": 7.0, "ok": true, "note": "fine", "hum": 40.0})
	if ts := pts[0]["timestamp"]; ts != at.Format(time.RFC3339Nano) {
		t.Errorf("timestamp %v, want %s", ts, at.Format(time.RFC3339Nano))
	}
	if cpu := rawPoints(t, n, wkey, bid, srcs["cpu"]["_id"].(string)); len(cpu) != 2 {
		t.Errorf("cpu points = %v, want 2", cpu)
	}

	// InfluxDB 1: /write?db= with ?u=&p= and with basic auth; precision s.
	sec := at.Add(time.Hour).Unix()
	for i, how := range []struct {
		query  string
		header http.Header
	}{
		{"&u=telegraf&p=" + url.QueryEscape(wkey), nil},
		{"", http.Header{"Authorization": {"Basic " + basic("telegraf", wkey)}}},
	} {
		status, body, _ := lpWrite(t, n, "", "/write?db="+bname+"&rp=autogen&precision=s"+how.query,
			fmt.Sprintf("cpu usage=%d %d\n", i, sec+int64(i)), how.header)
		if status != http.StatusNoContent || body != "" {
			t.Fatalf("v1 write %d: %d %s, want 204 and no body", i, status, body)
		}
	}
	if cpu := rawPoints(t, n, wkey, bid, srcs["cpu"]["_id"].(string)); len(cpu) != 4 || cpu[3]["timestamp"] != time.Unix(sec+1, 0).UTC().Format(time.RFC3339) {
		t.Errorf("cpu points after v1 writes = %v", cpu)
	}

	// Ping.
	resp, err := n.HTTP.Get(n.URL + "/ping")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("GET /ping: %v %v", resp, err)
	}
	resp.Body.Close()
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestE2ELineProtocolErrors(t *testing.T) {
	n := testnode.Start(t)
	b := mkBucket(t, n, n.AdminKey, obj{"name": unique("lp")})
	bid := b["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	other := mkBucket(t, n, n.AdminKey, obj{"name": unique("other")})
	_, rkey := mkKey(t, n, n.AdminKey, bid, "read")
	q := "/api/v2/write?bucket=" + bid
	now := time.Now().UnixNano()

	// Seed one source and point.
	if status, body, _ := lpWrite(t, n, wkey, q, fmt.Sprintf("m,k=v f=1 %d", now), nil); status != http.StatusNoContent {
		t.Fatalf("seed: %d %s", status, body)
	}
	before := world(t, n, n.AdminKey)
	src := sourcesByName(t, n, wkey, bid)["m,k=v"]
	countPts := func() int { return len(rawPoints(t, n, wkey, bid, src["_id"].(string))) }

	cases := []struct {
		name, path, key, body string
		header                http.Header
		status                int
		code, msg             string
	}{
		{"bad line names its line", q, wkey, fmt.Sprintf("m,k=v f=2 %d\nnew f=1\n\nm,k=v f= %d\n", now+1, now+2), nil, 400, "invalid", "line 4"},
		{"type conflict with schema", q, wkey, fmt.Sprintf("new2 g=1\nm,k=v f=\"x\" %d", now+3), nil, 400, "invalid", `line 2: field "f" is a string; the schema of data source "m,k=v" says number`},
		{"type conflict with schema after a good line", q, wkey, fmt.Sprintf("m,k=v f=1 %d\nm,k=v f=\"x\" %d", now+4, now+5), nil, 400, "invalid", `line 2: field "f" is a string; the schema of data source "m,k=v" says number`},
		{"unknown field", q, wkey, "m,k=v zz=1", nil, 400, "invalid", "line 1: field \"zz\" is not in the schema"},
		{"type conflict inside request", q, wkey, "n f=1\nn f=true", nil, 400, "invalid", "line 2"},
		{"bad field name", q, wkey, "n f\\ x=1", nil, 400, "invalid", "line 1: field name"},
		{"outside retention", q, wkey, "m,k=v f=1 1000000000", nil, 400, "invalid", "retention"},
		// The JSON API's range (years 1678..2261) holds here too: the last
		// nanoseconds an int64 holds were once taken and then never found.
		{"timestamp past 2261", q, wkey, "new3 f=1\nm,k=v f=1 9223372036854775807", nil, 400, "invalid", "line 2: timestamp 9223372036854775807 ns is out of range"},
		{"timestamp in 2262", q, wkey, "m,k=v f=1 9223372036854775806", nil, 400, "invalid", "out of range"},
		{"bad precision", q + "&precision=d", wkey, "m,k=v f=1", nil, 400, "invalid", "precision"},
		{"write key for another bucket", "/api/v2/write?bucket=" + other["_id"].(string), wkey, "m f=1", nil, 403, "forbidden", "does not have access"},
		{"write key for another bucket by name", "/api/v2/write?bucket=" + other["name"].(string), wkey, "m f=1", nil, 403, "forbidden", "does not have access"},
		{"read key", q, rkey, "m f=1", nil, 403, "forbidden", "write permission"},
		{"no key", q, "", "m f=1", nil, 401, "unauthorized", "API key"},
		{"unknown bucket", "/api/v2/write?bucket=nosuchbucket", n.AdminKey, "m f=1", nil, 404, "not found", "Bucket"},
		{"admin key without bucket", "/api/v2/write", n.AdminKey, "m f=1", nil, 400, "invalid", "bucket is required"},
		{"bad gzip", q, wkey, "not gzip", http.Header{"Content-Encoding": {"gzip"}}, 400, "invalid", "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := lpWrite(t, n, tc.key, tc.path, tc.body, tc.header)
			wantInfluxError(t, status, body, tc.status, tc.code, tc.msg)
		})
	}
	if got := countPts(); got != 1 {
		t.Errorf("points after refused writes = %d, want 1 (nothing stored)", got)
	}
	unchanged(t, n, before, n.AdminKey)

	// An over-long name is refused without being echoed whole.
	status, body, _ := lpWrite(t, n, wkey, q, strings.Repeat("m", 1<<20)+" f=1", nil)
	wantInfluxError(t, status, body, 400, "invalid", "at most")
	if len(body) > 2000 {
		t.Errorf("the refusal of a 1 MiB series name is %d bytes long", len(body))
	}

	// A request that also names an inactive source is refused whole: its
	// new series must not become sources either.
	dataObj(t, asKey(t, n, wkey, "PATCH", "/api/buckets/"+bid+"/sources/"+src["_id"].(string), obj{"status": "inactive"}), http.StatusOK)
	before = world(t, n, n.AdminKey)
	status, body, _ = lpWrite(t, n, wkey, q, fmt.Sprintf("fresh f=3 %d\nm,k=v f=4 %d", now+6, now+6), nil)
	wantInfluxError(t, status, body, 409, "conflict", "inactive")
	unchanged(t, n, before, n.AdminKey)
	if _, ok := sourcesByName(t, n, wkey, bid)["fresh"]; ok {
		t.Error("a request refused for an inactive source created its new source")
	}
	dataObj(t, asKey(t, n, wkey, "PATCH", "/api/buckets/"+bid+"/sources/"+src["_id"].(string), obj{"status": "active"}), http.StatusOK)

	// A gzip bomb: small on the wire, over the body limit unpacked.
	limit := n.Config.MaxBodyBytes
	if limit == 0 {
		limit = 10 << 20
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	line := fmt.Appendf(nil, "m,k=v f=1 %d\n", now)
	for range limit/len(line) + 1 {
		_, _ = zw.Write(line)
	}
	zw.Close()
	if zb.Len() >= limit {
		t.Fatalf("compressed body of %d bytes is not under the limit", zb.Len())
	}
	status, body, _ = lpWrite(t, n, wkey, q, zb.String(), http.Header{"Content-Encoding": {"gzip"}})
	wantInfluxError(t, status, body, 413, "request too large", "maximum size")
	if got := countPts(); got != 1 {
		t.Errorf("points after the bomb = %d, want 1", got)
	}
}

func TestE2ELineProtocolPlanLimits(t *testing.T) {
	clock := newRLClock(rlStart)
	n := rlNode(t, clock, rlPlans(map[string]int64{store.PlanFree: 4}))
	_, admin := mkPlanOrg(t, n, "free")
	b := mkBucket(t, n, admin, obj{"name": unique("small")})
	bid := b["_id"].(string)
	_, wkey := mkKey(t, n, admin, bid, "write") // calls 1, 2
	// The free plan allows 10 sources: 11 series in one request are 403,
	// and none of them is created.
	var lines []string
	for i := range 11 {
		lines = append(lines, fmt.Sprintf("s%d f=1", i))
	}
	status, body, _ := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, strings.Join(lines, "\n"), nil) // call 3
	wantInfluxError(t, status, body, 403, "forbidden", "Plan limit")
	if srcs := sourcesByName(t, n, admin, bid); len(srcs) != 0 { // call 4
		t.Errorf("sources after a refused request: %v", sortedKeys(srcs))
	}
	// Call 5 is over the month's 4: Telegraf and Prometheus retry on 429.
	status, body, h := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, "s f=1", nil)
	wantInfluxError(t, status, body, 429, "too many requests", "Rate limit")
	if h.Get("Retry-After") != "3600" {
		t.Errorf("Retry-After = %q, want 3600", h.Get("Retry-After"))
	}
}

// Concurrent first writes of the same new series all succeed and share
// one source: the loser of the CreateSource race reuses the winner's.
func TestE2ELineProtocolConcurrentNewSeries(t *testing.T) {
	n := testnode.Start(t)
	bid := mkBucket(t, n, n.AdminKey, obj{"name": unique("race")})["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	const writers = 8
	base := time.Now().UnixNano()
	errs := make(chan string, writers)
	start := make(chan struct{})
	for i := range writers {
		go func() {
			<-start
			body := fmt.Sprintf("race,host=a v=%d %d\nrace,host=b v=1 %d", i, base+int64(i), base+int64(i))
			status, out, _ := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, body, nil)
			if status != http.StatusNoContent {
				errs <- fmt.Sprintf("writer %d: %d %s", i, status, out)
				return
			}
			errs <- ""
		}()
	}
	close(start)
	for range writers {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	srcs := sourcesByName(t, n, wkey, bid)
	if len(srcs) != 2 {
		t.Fatalf("sources = %v, want race,host=a and race,host=b", sortedKeys(srcs))
	}
	if pts := rawPoints(t, n, wkey, bid, srcs["race,host=a"]["_id"].(string)); len(pts) != writers {
		t.Errorf("points of race,host=a = %d, want %d", len(pts), writers)
	}
}

// Lines of one series at one time merge into one point, also when other
// times come between them.
func TestE2ELineProtocolMergeOutOfOrder(t *testing.T) {
	n := testnode.Start(t)
	bid := mkBucket(t, n, n.AdminKey, obj{"name": unique("merge")})["_id"].(string)
	_, wkey := mkKey(t, n, n.AdminKey, bid, "write")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).Unix()
	body := fmt.Sprintf("a f=1 %d\na f=2 %d\na g=3 %d\na f=4,g=5 %d\na g=6 %d\n", t0+2, t0+1, t0+2, t0+1, t0+3)
	if status, out, _ := lpWrite(t, n, wkey, "/api/v2/write?precision=s", body, nil); status != http.StatusNoContent {
		t.Fatalf("write: %d %s", status, out)
	}
	pts := rawPoints(t, n, wkey, bid, sourcesByName(t, n, wkey, bid)["a"]["_id"].(string))
	if len(pts) != 3 {
		t.Fatalf("points = %v, want 3", pts)
	}
	wantValues(t, "t0+1", pts[0]["values"].(obj), obj{"f": 4.0, "g": 5.0})
	wantValues(t, "t0+2", pts[1]["values"].(obj), obj{"f": 1.0, "g": 3.0})
	wantValues(t, "t0+3", pts[2]["values"].(obj), obj{"g": 6.0})
}

// In a cluster, any node takes line protocol: new sources go through Raft
// from whichever node received the write, and every node reads them back.
func TestE2ELineProtocolCluster(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	admin := nodes[0].AdminKey
	bid := mkBucket(t, nodes[0], admin, obj{"name": unique("lpc")})["_id"].(string)
	_, wkey := mkKey(t, nodes[0], admin, bid, "write")
	at := time.Now().Add(-time.Minute).UnixNano()
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("cpu,host=h%02d usage=%d %d", i, i, at))
	}
	// The last node first: the sources are created through it.
	for i := range nodes {
		n := nodes[len(nodes)-1-i]
		body := strings.ReplaceAll(strings.Join(lines, "\n"), fmt.Sprint(at), fmt.Sprint(at+int64(i)))
		if status, out, _ := lpWrite(t, n, wkey, "/api/v2/write?bucket="+bid, body, nil); status != http.StatusNoContent {
			t.Fatalf("write through %s: %d %s", n.Config.NodeID, status, out)
		}
	}
	for _, n := range nodes {
		srcs := sourcesByName(t, n, wkey, bid)
		if len(srcs) != 20 {
			t.Fatalf("%s lists %d sources, want 20", n.Config.NodeID, len(srcs))
		}
		if pts := rawPoints(t, n, wkey, bid, srcs["cpu,host=h07"]["_id"].(string)); len(pts) != 3 {
			t.Fatalf("%s reads %d points of cpu,host=h07, want 3", n.Config.NodeID, len(pts))
		}
	}
}
