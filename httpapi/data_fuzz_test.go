package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// The data fuzz targets send arbitrary bodies to the ingest and query
// endpoints of a server over a real in-memory state and points store, with
// a fixed clock and fixed ids (so seeds can name them), and check that the
// handler never panics or answers 500, that every answer is the documented
// JSON envelope (the hand-written encoder included), that a refused write
// stores nothing, and that an accepted one stores what it reports.

// Fixed ids and keys of the data fuzz environment.
const (
	dfOrg       = "650000000000000000000001"
	dfBucket    = "650000000000000000000b01"
	dfArchived  = "650000000000000000000b02"
	dfOther     = "650000000000000000000b03" // another bucket of the org
	dfNumSource = "650000000000000000000c01" // temperature, humidity: numbers
	dfMixSource = "650000000000000000000c02" // temperature, status, ok; no downsampling
	dfArchSrc   = "650000000000000000000c03"
	dfOtherSrc  = "650000000000000000000c04"
	dfAdminKey  = "dakkio_a_fuzzAdminKeyfuzzAdminKeyfuzzAdminKey"
	dfWriteKey  = "dakkio_w_fuzzWriteKeyfuzzWriteKeyfuzzWriteKey"
	dfReadKey   = "dakkio_r_fuzzReadKeyfuzzReadKeyfuzzReadKeyfu"
)

// dfNow is the fixed clock; the main bucket keeps 365 days.
var dfNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type dataEnv struct {
	*fuzzEnv
	db *points.DB
}

func newDataEnv(t testing.TB) *dataEnv {
	t.Helper()
	state := store.NewState(1 << 20)
	db, err := points.Open(points.Config{
		InMemory: true,
		Retention: func(id string) (time.Duration, bool) {
			days, ok := state.BucketRetention(id)
			return time.Duration(days) * 24 * time.Hour, ok
		},
		Now:    func() time.Time { return dfNow },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	s, err := New(Config{
		Meta: state, Applier: cluster.NewLocalApplier(state), Points: localPoints{db}, Node: fakeNode{}, Usage: &fakeUsage{}, Limiter: fakeLimiter{},
		Now: func() time.Time { return dfNow }, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &dataEnv{fuzzEnv: &fuzzEnv{s: s, state: state, logs: logs}, db: db}
	apply := func(cmd any) {
		t.Helper()
		if _, err := s.apply(cmd); err != nil {
			t.Fatalf("seeding %T: %v", cmd, err)
		}
	}
	key := func(id, k string, typ store.KeyType, bucket string) store.APIKey {
		return store.APIKey{ID: id, Name: string(typ), Type: typ, Hash: secret.Hash(k), KeyPrefix: secret.DisplayPrefix(k),
			OrganizationID: dfOrg, BucketID: bucket, CreatedAt: dfNow}
	}
	apply(store.Bootstrap{Org: store.Org{ID: dfOrg, Name: "default", Plan: store.PlanEnterprise, CreatedAt: dfNow, UpdatedAt: dfNow},
		AdminKey: key("650000000000000000000a01", dfAdminKey, store.KeyAdmin, ""), OperatorTokenHash: secret.Hash("op")})
	for _, b := range []struct {
		id, status string
		days       int // the archived one is archived once its source exists
	}{{dfBucket, store.BucketActive, 365}, {dfArchived, store.BucketActive, 30}, {dfOther, store.BucketActive, 30}} {
		apply(store.CreateBucket{Bucket: store.Bucket{ID: b.id, Name: b.id, OrganizationID: dfOrg, RetentionDays: b.days, Status: b.status, CreatedAt: dfNow, UpdatedAt: dfNow}})
	}
	apply(store.CreateKey{Key: key("650000000000000000000a02", dfWriteKey, store.KeyWrite, dfBucket)})
	apply(store.CreateKey{Key: key("650000000000000000000a03", dfReadKey, store.KeyRead, dfBucket)})
	num := map[string]store.Field{"temperature": {Type: "number"}, "humidity": {Type: "number"}}
	mix := map[string]store.Field{"temperature": {Type: "number"}, "status": {Type: "string"}, "ok": {Type: "boolean"}}
	for _, src := range []struct {
		id, bucket string
		schema     map[string]store.Field
		down       bool
	}{{dfNumSource, dfBucket, num, true}, {dfMixSource, dfBucket, mix, false}, {dfArchSrc, dfArchived, num, true}, {dfOtherSrc, dfOther, num, true}} {
		apply(store.CreateSource{Source: store.DataSource{ID: src.id, BucketID: src.bucket, OrganizationID: dfOrg, Name: src.id, Type: "sensor",
			Schema: src.schema, Downsampling: src.down, Status: "active", CreatedAt: dfNow, UpdatedAt: dfNow}})
	}
	archived := store.BucketArchived
	apply(store.UpdateBucket{OrgID: dfOrg, ID: dfArchived, Status: &archived, At: dfNow})
	// Points for the queries to find: 600 minutes of the numeric source (so
	// downsampling triggers), and awkward strings and metadata.
	var pts []points.Point
	start := dfNow.Add(-48 * time.Hour).UnixNano()
	for i := range 600 {
		pts = append(pts, points.Point{SourceID: dfNumSource, TS: start + int64(i)*int64(time.Minute),
			Values: []points.Value{{Field: "temperature", Kind: points.KindNumber, Num: float64(i) / 3}}})
	}
	for i, s := range []string{"plain", "quote\" back\\slash", "ctl\x00\x01\x1f", "\u2028\u2029", "日本", "<&>", ""} {
		pts = append(pts, points.Point{SourceID: dfMixSource, TS: start + int64(i)*int64(time.Second), Metadata: []byte(`{"k":"v\n","n":[1,-2.5e-9,null]}`),
			Values: []points.Value{{Field: "ok", Kind: points.KindBool, Bool: i%2 == 0}, {Field: "status", Kind: points.KindString, Str: s},
				{Field: "temperature", Kind: points.KindNumber, Num: []float64{0, math.Copysign(0, -1), 1e300, -1e-300, math.MaxFloat64, 5e-324, 123456789.125}[i]}}})
	}
	if err := db.Write(context.Background(), dfBucket, pts); err != nil {
		t.Fatal(err)
	}
	return e
}

// dataEnvFor returns a getter of the target's environment, rebuilt once
// fuzzed writes have grown its store enough to slow every request down.
func dataEnvFor(f *testing.F) func(t *testing.T) *dataEnv {
	env := newDataEnv(f)
	f.Cleanup(func() { env.db.Close() })
	return func(t *testing.T) *dataEnv {
		if env.points() > 50_000 {
			env.db.Close()
			env = newDataEnv(t)
		}
		env.logs.Reset()
		return env
	}
}

// points counts the points of every bucket.
func (e *dataEnv) points() int64 {
	return e.db.BucketPointCount(dfBucket) + e.db.BucketPointCount(dfArchived) + e.db.BucketPointCount(dfOther)
}

// seedPoint is a valid point body for the numeric source, with extra fields.
func seedPoint(extra string) string {
	return `{"dataSourceId":"` + dfNumSource + `","timestamp":"2025-05-01T10:00:00Z","values":{"temperature":21.5}` + extra + `}`
}

var ingestSeeds = []string{
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":21.5,"humidity":40}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":"2025-05-01T10:00:00.123456Z","values":{"temperature":-0.0},"metadata":{"a":[1,{"b":null}],"s":"\u0000\n"}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfMixSource + `","timestamp":"2025-05-01T10:00:00+05:30","values":{"status":"\ud83d\ude00 \"x\"","ok":true,"temperature":1e308}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfMixSource + `","values":{"status":"\udfff"}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfMixSource + `","values":{"status":"` + strings.Repeat("x", 1025) + `"}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":NaN}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":-inf}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1e999}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1-2}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":01}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1,"temperature":2}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"pressure":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1},"metadata":{"x":nan}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1},"metadata":[]}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","values":{"temperature":1},"metadata":{"x":"` + strings.Repeat("m", 8200) + `"}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":"2024-01-01T00:00:00Z","values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":"2261-12-31T23:59:59.999999999Z","values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":"2262-04-12T00:00:00Z","values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":"2025-05-01T10:00:00.1234567891Z","values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfNumSource + `","timestamp":1714557600,"values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"` + dfOtherSrc + `","values":{"temperature":1}}`,
	`{"bucketId":"` + dfBucket + `","dataSourceId":"650000000000000000000C01","values":{"temperature":1}}`,
	`{"bucketId":"` + dfArchived + `","dataSourceId":"` + dfArchSrc + `","values":{"temperature":1}}`,
	`{"bucketId":"` + dfOther + `","dataSourceId":"` + dfOtherSrc + `","values":{"temperature":1}}`,
	`{"bucketId":"000000000000000000000000","dataSourceId":"` + dfNumSource + `","values":{"temperature":1}}`,
	`{"bucketId":null}`, `{"bucketId":["` + dfBucket + `"]}`,
}

func FuzzIngest(f *testing.F) {
	for _, who := range []uint8{0, 1, 2} {
		for _, b := range append(append([]string(nil), junkBodies...), ingestSeeds...) {
			f.Add([]byte(b), who)
		}
	}
	envFor := dataEnvFor(f)
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		e := envFor(t)
		key := []string{dfAdminKey, dfWriteKey, dfReadKey}[who%3]
		req := fmt.Sprintf("POST /api/data (key %d) %q", who%3, body)
		before := e.points()
		status, ctype, resp := e.do("POST", "/api/data", body, header{"X-API-Key", key})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400, 403, 404, 409)
		after := e.points()
		if status != 201 {
			if after != before {
				t.Fatalf("%s\nrefused, but the buckets went from %d to %d points", req, before, after)
			}
			return
		}
		if after != before && after != before+1 {
			t.Fatalf("%s\none point took the buckets from %d to %d points", req, before, after)
		}
		var got struct {
			ID           string          `json:"_id"`
			BucketID     string          `json:"bucketId"`
			DataSourceID string          `json:"dataSourceId"`
			Timestamp    string          `json:"timestamp"`
			Values       json.RawMessage `json:"values"`
			Metadata     json.RawMessage `json:"metadata"`
			CreatedAt    string          `json:"createdAt"`
		}
		if err := json.Unmarshal(r.data, &got); err != nil {
			t.Fatalf("%s\n%v", req, err)
		}
		ns, _, ok := parseTimestamp(got.Timestamp)
		if !ok || got.Timestamp != formatTimestamp(ns) || got.ID != points.PointID(got.DataSourceID, ns) || (got.BucketID != dfBucket && got.BucketID != dfOther) {
			t.Fatalf("%s\nresponse %s is inconsistent", req, r.data)
		}
		res, err := e.db.Raw(context.Background(), points.RawQuery{Range: points.Range{BucketID: got.BucketID, SourceIDs: []string{got.DataSourceID}, Start: ns, End: ns + 1}, Limit: 1})
		if err != nil || len(res.Points) != 1 {
			t.Fatalf("%s\nstored point not found: %v %+v", req, err, res)
		}
		p := res.Points[0]
		if stored := appendPointValues(nil, p.Values); !bytes.Equal(stored, got.Values) {
			t.Fatalf("%s\nanswered values %s, stored %s", req, got.Values, stored)
		}
		if stored := appendMetadata(nil, p.Metadata); !bytes.Equal(stored, got.Metadata) {
			t.Fatalf("%s\nanswered metadata %s, stored %s", req, got.Metadata, stored)
		}
	})
}

func FuzzIngestBatch(f *testing.F) {
	seeds := []string{
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + seedPoint("") + `]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + seedPoint("") + `,` + seedPoint(`,"metadata":{"x":1}`) + `]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + seedPoint("") + `,{"dataSourceId":"` + dfMixSource + `","values":{"status":"s","ok":false}}]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + seedPoint("") + `,{"dataSourceId":"` + dfOtherSrc + `","values":{"temperature":1}}]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + seedPoint("") + `,{"dataSourceId":"` + dfNumSource + `","values":{"temperature":"x"}}]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[1,null,"x",[],{}]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":{}}`,
		`{"bucketId":"` + dfBucket + `"}`,
		`{"bucketId":"` + dfArchived + `","dataPoints":[` + seedPoint("") + `]}`,
		`{"bucketId":"` + dfBucket + `","dataPoints":[` + strings.TrimSuffix(strings.Repeat(seedPoint("")+",", 1001), ",") + `]}`,
	}
	var bad []string
	for range 120 {
		bad = append(bad, `{"dataSourceId":"`+dfNumSource+`","values":{"temperature":true}}`)
	}
	seeds = append(seeds, `{"bucketId":"`+dfBucket+`","dataPoints":[`+strings.Join(bad, ",")+`]}`)
	for _, s := range ingestSeeds {
		// Each single-point seed, minus its bucketId, as a batch of one.
		if p, ok := strings.CutPrefix(s, `{"bucketId":"`+dfBucket+`",`); ok {
			seeds = append(seeds, `{"bucketId":"`+dfBucket+`","dataPoints":[{`+p+`]}`)
		}
	}
	for _, who := range []uint8{0, 1, 2} {
		for _, b := range append(append([]string(nil), junkBodies...), seeds...) {
			f.Add([]byte(b), who)
		}
	}
	envFor := dataEnvFor(f)
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		e := envFor(t)
		key := []string{dfAdminKey, dfWriteKey, dfReadKey}[who%3]
		req := fmt.Sprintf("POST /api/data/batch (key %d) %q", who%3, body)
		before := e.points()
		status, ctype, resp := e.do("POST", "/api/data/batch", body, header{"X-API-Key", key})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400, 403, 404, 409)
		after := e.points()
		if status != 201 {
			if after != before {
				t.Fatalf("%s\nrefused, but the buckets went from %d to %d points", req, before, after)
			}
			if status == 400 && len(r.details) > maxDetails {
				t.Fatalf("%s\n%d details, want at most %d", req, len(r.details), maxDetails)
			}
			return
		}
		var got struct {
			Count int64 `json:"count"`
		}
		if err := json.Unmarshal(r.data, &got); err != nil {
			t.Fatalf("%s\n%v", req, err)
		}
		if got.Count < 1 || got.Count > maxBatchPoints || after < before || after > before+got.Count {
			t.Fatalf("%s\ncount %d took the buckets from %d to %d points", req, got.Count, before, after)
		}
	})
}

func FuzzQuery(f *testing.F) {
	q := func(rest string) string { return `{"bucketId":"` + dfBucket + `"` + rest + `}` }
	seeds := []string{
		q(``), q(`,"filters":{}`), q(`,"filters":null`), q(`,"filters":[]`),
		q(`,"filters":{"dataSourceId":"` + dfMixSource + `","limit":1000}`),
		q(`,"filters":{"dataSourceId":"` + dfNumSource + `"}`),
		q(`,"filters":{"dataSourceIds":["` + dfNumSource + `","` + dfMixSource + `","` + dfNumSource + `"],"fields":["temperature","status"]}`),
		q(`,"filters":{"dataSourceIds":["` + dfOtherSrc + `"]}`), q(`,"filters":{"dataSourceIds":[]}`), q(`,"filters":{"dataSourceIds":[1]}`),
		q(`,"filters":{"startTime":"2025-05-30T00:00:00Z","endTime":"2025-05-31T00:00:00.5+02:00","limit":7,"offset":3}`),
		q(`,"filters":{"startTime":"2025-05-31T00:00:00Z","endTime":"2025-05-30T00:00:00Z"}`),
		q(`,"filters":{"startTime":"1678-01-01T00:00:00Z","endTime":"2261-12-31T23:59:59.999999999Z"}`),
		q(`,"filters":{"limit":0,"offset":-1}`), q(`,"filters":{"limit":1e3,"offset":1e9}`), q(`,"filters":{"limit":"5"}`),
		q(`,"filters":{"fields":["nope"]}`), q(`,"filters":{"fields":[""]}`), q(`,"filters":{"fields":"temperature"}`),
		q(`,"filters":{"fields":["ok"]},"aggregation":"first"`), q(`,"filters":{"fields":["status"]},"aggregation":"sum"`),
		q(`,"aggregation":"sum","groupBy":"minute","sort":"desc"`), q(`,"aggregation":"avg"`), q(`,"groupBy":"week"`),
		q(`,"filters":{"aggregation":"last","groupBy":"month"}`), q(`,"filters":{"aggregation":"last"},"aggregation":"count"`),
		q(`,"aggregation":"median"`), q(`,"groupBy":"year"`), q(`,"sort":"DESC"`), q(`,"aggregation":null,"groupBy":null,"sort":null`),
		`{"bucketId":"` + dfOther + `"}`, `{"bucketId":"` + dfArchived + `","aggregation":"count"}`, `{"bucketId":"000000000000000000000000"}`,
		`{"bucketId":"xyz"}`, `{}`,
	}
	for _, agg := range aggregationNames {
		for _, g := range groupByNames {
			seeds = append(seeds, q(`,"aggregation":"`+agg+`","groupBy":"`+g+`"`))
		}
	}
	for _, who := range []uint8{0, 1, 2} {
		for _, b := range append(append([]string(nil), junkBodies...), seeds...) {
			f.Add([]byte(b), who)
		}
	}
	envFor := dataEnvFor(f)
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		e := envFor(t)
		key := []string{dfAdminKey, dfWriteKey, dfReadKey}[who%3]
		req := fmt.Sprintf("POST /api/data/query (key %d) %q", who%3, body)
		before := e.points()
		status, ctype, resp := e.do("POST", "/api/data/query", body, header{"X-API-Key", key})
		r := e.check(t, req, status, ctype, resp, "body", 200, 400, 403, 404)
		if after := e.points(); after != before {
			t.Fatalf("%s\na query changed the point count from %d to %d", req, before, after)
		}
		if status != 200 {
			return
		}
		var rows []map[string]json.RawMessage
		if err := json.Unmarshal(r.data, &rows); err != nil {
			t.Fatalf("%s\ndata is not an array of objects: %v", req, err)
		}
		for _, row := range rows {
			var at string
			if err := json.Unmarshal(row["timestamp"], &at); err != nil {
				t.Fatalf("%s\nrow without a timestamp: %v", req, err)
			}
			if ns, _, ok := parseTimestamp(at); !ok || formatTimestamp(ns) != at {
				t.Fatalf("%s\nrow timestamp %q is not in the output form", req, at)
			}
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123Z", "2024-01-15T10:30:00.123456Z", "2024-01-15T10:30:00.123456789Z",
		"2024-01-15T10:30:00.1234567891Z", "2024-01-15T10:30:00.120Z", "2024-01-15T10:30:00,5Z", "2024-01-15T10:30:00+05:30",
		"2024-01-15T10:30:00-23:59", "2024-01-15T10:30:00+24:00", "2024-01-15t10:30:00z", "2024-01-15 10:30:00Z",
		"2024-01-15T10:30:00", "2024-01-15", "1677-09-21T00:12:43.145224192Z", "1678-01-01T00:00:00Z", "1677-12-31T23:59:59.999999999Z",
		"2261-12-31T23:59:59.999999999Z", "2262-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-15T10:30:60Z", "", "Z", "2024-01-15T10:30:00.Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, problem, ok := parseTimestamp(s)
		if !ok {
			if problem == "" {
				t.Fatalf("%q refused without a reason", s)
			}
			return
		}
		out := formatTimestamp(ns)
		back, _, ok := parseTimestamp(out)
		if !ok || back != ns {
			t.Fatalf("%q -> %d -> %q -> %d, %v: does not round-trip", s, ns, out, back, ok)
		}
		if y := time.Unix(0, ns).UTC().Year(); y < minTimestampYear || y > maxTimestampYear {
			t.Fatalf("%q accepted with year %d", s, y)
		}
		if len(s) >= 20 && s == out {
			return // already canonical
		}
		if want, err := time.Parse(time.RFC3339Nano, s); err != nil || want.UnixNano() != ns {
			t.Fatalf("%q parsed to %d; time.Parse says %v, %v", s, ns, want, err)
		}
	})
}

func TestAppendJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash /", "\x00\x01\x1f\x7f", "\n\r\t\b\f", "\u2028\u2029", "日本 😀",
		"bad \xff\xfe utf8", "\xed\xa0\x80", "<script>&amp;</script>"} {
		got := appendJSONString(nil, s)
		if !json.Valid(got) {
			t.Errorf("appendJSONString(%q) = %s: not JSON", s, got)
			continue
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s) // encoding/json also writes invalid UTF-8 as U+FFFD
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendJSONString(%q) reads back as %q, encoding/json's as %q", s, back, wantBack)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, -1e-300, 21.37} {
		got := string(appendJSONFloat(nil, x))
		want, _ := json.Marshal(x)
		if got != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, encoding/json writes %s", x, got, want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != x {
			t.Errorf("appendJSONFloat(%v) = %s reads back as %v", x, got, back)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendJSONFloat(nil, x)); got != "null" {
			t.Errorf("appendJSONFloat(%v) = %s, want null", x, got)
		}
	}
	m := map[string]any{"b": int64(3), "a": "x", "c": true, "d": 1.5, "e": nil}
	if got := string(appendJSONMap(nil, m)); got != `{"a":"x","b":3,"c":true,"d":1.5,"e":null}` {
		t.Errorf("appendJSONMap = %s", got)
	}
}

func TestValidJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "1": true, "10": true, "1.5": true, "-1.5e10": true, "1E+2": true, "1e-2": true, "0.0": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "+1": false, "1e": false, "1e+": false, "1-2": false,
		"NaN": false, "Inf": false, "-inf": false, "0x10": false, "1.5.": false, "--1": false,
	} {
		if got := validJSONNumber([]byte(s)); got != want {
			t.Errorf("validJSONNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// The benchmarks measure the HTTP side of the data path (parsing,
// validation, encoding) over the in-memory store.

func BenchmarkIngestBatch(b *testing.B) {
	e := newDataEnv(b)
	defer e.db.Close()
	var sb strings.Builder
	sb.WriteString(`{"bucketId":"` + dfBucket + `","dataPoints":[`)
	at := dfNow.Add(-time.Hour)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"dataSourceId":"%s","timestamp":"%s","values":{"temperature":%d.25,"status":"ok","ok":true}}`,
			dfMixSource, formatTimestamp(at.Add(time.Duration(i)*time.Second).UnixNano()), i%40)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if status, _, resp := e.do("POST", "/api/data/batch", body, header{"X-API-Key", dfWriteKey}); status != 201 {
			b.Fatalf("%d %s", status, resp)
		}
	}
}

func BenchmarkQueryRaw(b *testing.B) {
	e := newDataEnv(b)
	defer e.db.Close()
	body := []byte(`{"bucketId":"` + dfBucket + `","filters":{"dataSourceIds":["` + dfNumSource + `","` + dfMixSource + `"],"limit":1000}}`)
	b.ReportAllocs()
	for b.Loop() {
		if status, _, resp := e.do("POST", "/api/data/query", body, header{"X-API-Key", dfReadKey}); status != 200 {
			b.Fatalf("%d %s", status, resp)
		}
	}
}

// The names the query endpoint accepts are the ones the store parses.
func TestQueryNames(t *testing.T) {
	for _, name := range aggregationNames {
		if a, ok := points.ParseAggregation(name); !ok || a.String() != name {
			t.Errorf("aggregation %q: store parses %v, %v", name, a, ok)
		}
	}
	for _, name := range groupByNames {
		if w, ok := points.ParseWindow(name); !ok || w.String() != name {
			t.Errorf("groupBy %q: store parses %v, %v", name, w, ok)
		}
	}
}

// localPoints serves Points from one local store, as a single node does:
// its counts cannot fail.
type localPoints struct{ *points.DB }

func (l localPoints) Write(ctx context.Context, bucketID string, _ replication.Consistency, pts []points.Point) error {
	return l.DB.Write(ctx, bucketID, pts)
}

func (l localPoints) Announce(string) func() { return l.DB.Announce() }

func (l localPoints) BucketPointCount(_ context.Context, bucketID string) (int64, error) {
	return l.DB.BucketPointCount(bucketID), nil
}

func (l localPoints) BucketSize(_ context.Context, bucketID string) (int64, error) {
	return l.DB.BucketSize(bucketID), nil
}

func (l localPoints) LastPointTime(_ context.Context, bucketID, sourceID string) (int64, bool, error) {
	ts, ok := l.DB.LastPointTime(bucketID, sourceID)
	return ts, ok, nil
}

// One local store is always in sync: its answers are never partial.

func (l localPoints) Raw(ctx context.Context, q points.RawQuery, _ *replication.ReadNote) (points.RawResult, error) {
	return l.DB.Raw(ctx, q)
}

func (l localPoints) Aggregate(ctx context.Context, q points.AggQuery, _ *replication.ReadNote) ([]points.Row, error) {
	return l.DB.Aggregate(ctx, q)
}

func (l localPoints) Count(ctx context.Context, r points.Range, _ *replication.ReadNote) (int64, error) {
	return l.DB.Count(ctx, r)
}

func (l localPoints) FinestWindow(ctx context.Context, r points.Range, maxRows int, _ *replication.ReadNote) (points.Window, error) {
	return l.DB.FinestWindow(ctx, r, maxRows)
}

func (l localPoints) PeriodStats(ctx context.Context, r points.Range, _ *replication.ReadNote) ([]points.SourceStats, error) {
	return l.DB.PeriodStats(ctx, r)
}
