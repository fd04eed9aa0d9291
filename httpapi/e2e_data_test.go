package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/store/points"
)

// The data tests write points through POST /api/data and /api/data/batch and
// check them against docs/api.md and the ingest contract: shapes, validation with
// the offending index and field in details, all-or-nothing batches, and
// idempotent retries.

var pointFields = []string{"_id", "bucketId", "dataSourceId", "timestamp", "values", "metadata", "createdAt"}

// weatherSchema is the schema of the sources the data tests write to.
var weatherSchema = obj{
	"temperature": obj{"type": "number", "unit": "celsius"},
	"humidity":    obj{"type": "number"},
	"status":      obj{"type": "string"},
	"ok":          obj{"type": "boolean"},
}

// dataBucket is a bucket with keys and a source, for the data tests.
type dataBucket struct {
	id, write, read, source string
}

// mkDataBucket creates a bucket (3650 days of retention unless body says
// otherwise), a write and a read key, and a source with weatherSchema.
func mkDataBucket(t testing.TB, n *testnode.Node, body obj) dataBucket {
	t.Helper()
	if body == nil {
		body = obj{}
	}
	if body["name"] == nil {
		body["name"] = unique("data")
	}
	if body["retentionDays"] == nil {
		body["retentionDays"] = 3650
	}
	b := mkBucket(t, n, n.AdminKey, body)
	id := b["_id"].(string)
	_, w := mkKey(t, n, n.AdminKey, id, "write")
	_, r := mkKey(t, n, n.AdminKey, id, "read")
	src := mkSchemaSource(t, n, id, unique("weather"), weatherSchema, true)
	return dataBucket{id: id, write: w, read: r, source: src}
}

// mkSchemaSource creates a source with the given schema and downsampling.
func mkSchemaSource(t testing.TB, n *testnode.Node, bucketID, name string, schema obj, downsampling bool) string {
	t.Helper()
	body := obj{"name": name, "schema": schema, "downsampling": downsampling}
	return dataObj(t, asKey(t, n, n.AdminKey, "POST", "/api/buckets/"+bucketID+"/sources", body), http.StatusCreated)["_id"].(string)
}

// pointCount is the bucket's stats.dataPointCount.
func pointCount(t testing.TB, n *testnode.Node, bucketID string) int64 {
	t.Helper()
	b, err := n.Admin.GetBucket(t.Context(), bucketID)
	if err != nil {
		t.Fatalf("get bucket: %v", err)
	}
	return b.Stats.DataPointCount
}

// wantCount fails unless the bucket holds want points.
func wantCount(t testing.TB, n *testnode.Node, bucketID string, want int64) {
	t.Helper()
	if got := pointCount(t, n, bucketID); got != want {
		t.Errorf("dataPointCount = %d, want %d", got, want)
	}
}

// recent is a fixed instant well inside a long retention: the current hour
// minus days.
func recent(days int) time.Time {
	return time.Now().UTC().Truncate(time.Hour).AddDate(0, 0, -days)
}

func tstr(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestE2EIngest(t *testing.T) {
	n := testnode.Start(t)
	b := mkDataBucket(t, n, nil)
	at := recent(3).Add(90 * time.Second)

	t.Run("shape", func(t *testing.T) {
		before := time.Now()
		r := asKey(t, n, b.write, "POST", "/api/data", obj{
			"bucketId": b.id, "dataSourceId": b.source, "timestamp": tstr(at),
			"values":   obj{"temperature": 21.5, "humidity": 40, "status": "fine \"quoted\" \u2028 <tag>", "ok": true},
			"metadata": obj{"firmware": "1.2.3", "nested": obj{"a": []any{1, "x", nil, false}}},
		})
		d := dataObj(t, r, http.StatusCreated)
		wantFields(t, "point", d, pointFields...)
		if id := wantID(t, d, "_id"); id != points.PointID(b.source, at.UnixNano()) {
			t.Errorf("_id = %s, want the id derived from (source, timestamp)", id)
		}
		wantValues(t, "point", d, obj{"bucketId": b.id, "dataSourceId": b.source, "timestamp": tstr(at)})
		wantValues(t, "values", d["values"].(obj), obj{"temperature": 21.5, "humidity": 40.0, "status": "fine \"quoted\" \u2028 <tag>", "ok": true})
		wantFields(t, "values", d["values"].(obj), "temperature", "humidity", "status", "ok")
		wantValues(t, "metadata", d["metadata"].(obj), obj{"firmware": "1.2.3", "nested": obj{"a": []any{1.0, "x", nil, false}}})
		created := wantTime(t, d, "createdAt")
		if created.Before(before.Add(-time.Second)) || created.After(time.Now().Add(time.Second)) {
			t.Errorf("createdAt = %v, want about now", created)
		}
	})

	t.Run("defaults: timestamp now, metadata empty object", func(t *testing.T) {
		before := time.Now()
		d := dataObj(t, asKey(t, n, b.write, "POST", "/api/data", obj{
			"bucketId": b.id, "dataSourceId": b.source, "values": obj{"temperature": 1}, "metadata": nil,
		}), http.StatusCreated)
		got := wantTime(t, d, "timestamp")
		if got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
			t.Errorf("timestamp = %v, want the server's now", got)
		}
		if m, ok := d["metadata"].(obj); !ok || len(m) != 0 {
			t.Errorf("metadata = %#v, want {}", d["metadata"])
		}
	})

	t.Run("retry returns the same _id and replaces the values", func(t *testing.T) {
		when := recent(4).Add(7 * time.Minute)
		before := pointCount(t, n, b.id)
		var ids []string
		for _, temp := range []float64{10, 11} {
			d := dataObj(t, asKey(t, n, b.write, "POST", "/api/data", obj{
				"bucketId": b.id, "dataSourceId": b.source, "timestamp": tstr(when), "values": obj{"temperature": temp},
			}), http.StatusCreated)
			ids = append(ids, d["_id"].(string))
		}
		if ids[0] != ids[1] {
			t.Errorf("retry _id = %s, first = %s", ids[1], ids[0])
		}
		wantCount(t, n, b.id, before+1)
		res, err := n.Admin.Query(t.Context(), client.QueryRequest{BucketID: b.id, Filters: client.QueryFilters{
			DataSourceID: b.source, StartTime: when, EndTime: when.Add(time.Nanosecond), Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 1 || res.Data[0].Values["temperature"] != 11.0 || res.Data[0].ID != ids[0] {
			t.Errorf("query after retry = %+v, want one point with temperature 11 and _id %s", res.Data, ids[0])
		}
	})

	t.Run("timestamp formats", func(t *testing.T) {
		day := recent(5).Format("2006-01-02T15")
		offsetTime := recent(5).Add(37*time.Minute + 7*time.Second).In(time.FixedZone("", 5*3600+1800))
		tests := []struct{ name, in, out string }{
			{"seconds", day + ":30:00Z", day + ":30:00Z"},
			{"milliseconds keep the instant, drop the trailing zero", day + ":30:01.120Z", day + ":30:01.12Z"},
			{"milliseconds", day + ":30:02.123Z", day + ":30:02.123Z"},
			{"microseconds round-trip", day + ":30:03.123456Z", day + ":30:03.123456Z"},
			{"nanoseconds round-trip", day + ":30:04.123456789Z", day + ":30:04.123456789Z"},
			{"all-zero fraction", day + ":30:05.000Z", day + ":30:05Z"},
			{"comma separator", day + ":30:06,5Z", day + ":30:06.5Z"},
			{"half-hour offset", offsetTime.Format("2006-01-02T15:04:05-07:00"), tstr(offsetTime)},
			{"offset with fraction", offsetTime.Add(250 * time.Millisecond).Format("2006-01-02T15:04:05.000-07:00"), tstr(offsetTime.Add(250 * time.Millisecond))},
			{"negative zero offset", day + ":30:08-00:00", day + ":30:08Z"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				d := dataObj(t, asKey(t, n, b.write, "POST", "/api/data", obj{
					"bucketId": b.id, "dataSourceId": b.source, "timestamp": tc.in, "values": obj{"temperature": 1},
				}), http.StatusCreated)
				if d["timestamp"] != tc.out {
					t.Errorf("timestamp = %v, want %s", d["timestamp"], tc.out)
				}
				start, _ := time.Parse(time.RFC3339Nano, tc.out)
				got := rawQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{
					"dataSourceId": b.source, "startTime": tc.out, "endTime": tstr(start.Add(time.Nanosecond)), "limit": 5}})
				if len(got.Data) != 1 || got.Data[0]["timestamp"] != tc.out {
					t.Errorf("query returned %v, want one point at %s", got.Data, tc.out)
				}
			})
		}
	})

	t.Run("permissions", func(t *testing.T) {
		other := mkDataBucket(t, n, nil)
		_, orgKey := mkOrg(t, n, unique("org"))
		body := obj{"bucketId": b.id, "dataSourceId": b.source, "values": obj{"temperature": 1}}
		dataObj(t, asKey(t, n, n.AdminKey, "POST", "/api/data", body), http.StatusCreated)
		dataObj(t, asKey(t, n, b.write, "POST", "/api/data", body), http.StatusCreated)
		wantError(t, asKey(t, n, b.read, "POST", "/api/data", body), 403, "Forbidden", "API key does not have write permission")
		wantError(t, asKey(t, n, b.read, "POST", "/api/data/batch", obj{"bucketId": b.id, "dataPoints": []any{body}}), 403, "Forbidden", "API key does not have write permission")
		wantError(t, asKey(t, n, other.write, "POST", "/api/data", body), 403, "Forbidden", "API key does not have access to this bucket")
		wantError(t, asKey(t, n, other.write, "POST", "/api/data/batch", obj{"bucketId": b.id, "dataPoints": []any{body}}), 403, "Forbidden", "API key does not have access to this bucket")
		wantError(t, asKey(t, n, orgKey, "POST", "/api/data", body), 404, "Not Found", "Bucket not found")
		wantError(t, asKey(t, n, "", "POST", "/api/data", body), 401, "Unauthorized", "Invalid or missing API key")
		// The source must belong to the bucket named.
		wantError(t, asKey(t, n, n.AdminKey, "POST", "/api/data", obj{"bucketId": b.id, "dataSourceId": other.source, "values": obj{"temperature": 1}}),
			404, "Not Found", "Data source not found")
	})

	t.Run("archived bucket", func(t *testing.T) {
		a := mkDataBucket(t, n, nil)
		if _, err := n.Admin.UpdateBucket(t.Context(), a.id, client.UpdateBucketRequest{Status: dataPtr("archived")}); err != nil {
			t.Fatal(err)
		}
		body := obj{"bucketId": a.id, "dataSourceId": a.source, "values": obj{"temperature": 1}}
		wantError(t, asKey(t, n, a.write, "POST", "/api/data", body), 409, "Conflict", "Bucket is archived")
		wantError(t, asKey(t, n, a.write, "POST", "/api/data/batch", obj{"bucketId": a.id, "dataPoints": []any{body}}), 409, "Conflict", "Bucket is archived")
		wantCount(t, n, a.id, 0)
	})

	t.Run("validation", func(t *testing.T) {
		short := mkDataBucket(t, n, obj{"retentionDays": 2})
		good := func(extra obj) obj {
			o := obj{"bucketId": b.id, "dataSourceId": b.source, "values": obj{"temperature": 1}}
			for k, v := range extra {
				o[k] = v
			}
			return o
		}
		const vErr = "Validation Error"
		tests := []struct {
			name      string
			body      any
			status    int
			typ, msg  string
			path      []any
			detailMsg string
		}{
			{"not JSON", `{"bucketId":`, 400, "Bad Request", "Request body is not valid JSON", nil, ""},
			{"not an object", `[1]`, 400, vErr, "Invalid request body", []any{"body"}, "Expected object, received array"},
			{"bucketId missing", obj{"dataSourceId": b.source, "values": obj{"temperature": 1}}, 400, vErr, "Invalid bucket ID format", []any{"body", "bucketId"}, "Required"},
			{"bucketId malformed", good(obj{"bucketId": "xyz"}), 400, vErr, "Invalid bucket ID format", []any{"body", "bucketId"}, ""},
			{"bucketId upper case", good(obj{"bucketId": strings.ToUpper(b.id)}), 400, vErr, "Invalid bucket ID format", nil, ""},
			{"bucketId a number", good(obj{"bucketId": 12}), 400, vErr, "Invalid bucket ID format", []any{"body", "bucketId"}, "Expected string, received number"},
			{"bucket unknown", good(obj{"bucketId": "0123456789abcdef01234567"}), 404, "Not Found", "Bucket not found", nil, ""},
			{"dataSourceId missing", obj{"bucketId": b.id, "values": obj{"temperature": 1}}, 400, vErr, "Invalid data source ID format", []any{"body", "dataSourceId"}, "Required"},
			{"dataSourceId malformed", good(obj{"dataSourceId": "nope"}), 400, vErr, "Invalid data source ID format", nil, ""},
			{"dataSourceId unknown", good(obj{"dataSourceId": "0123456789abcdef01234567"}), 404, "Not Found", "Data source not found", nil, ""},
			{"values missing", obj{"bucketId": b.id, "dataSourceId": b.source}, 400, vErr, "Invalid data point", []any{"body", "values"}, "Required"},
			{"values null", good(obj{"values": nil}), 400, vErr, "Invalid data point", []any{"body", "values"}, "Required"},
			{"values empty", good(obj{"values": obj{}}), 400, vErr, "Invalid data point", []any{"body", "values"}, "at least one field"},
			{"values an array", good(obj{"values": []any{1}}), 400, vErr, "Invalid data point", []any{"body", "values"}, "Expected object, received array"},
			{"unknown field", good(obj{"values": obj{"temperature": 1, "pressure": 2}}), 400, vErr, "Invalid data point", []any{"body", "values", "pressure"}, "Unknown field 'pressure' for this data source"},
			{"number as string", good(obj{"values": obj{"temperature": "21"}}), 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "Expected number, received string"},
			{"number null", good(obj{"values": obj{"temperature": nil}}), 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "Expected number, received null"},
			{"string as number", good(obj{"values": obj{"status": 3}}), 400, vErr, "Invalid data point", []any{"body", "values", "status"}, "Expected string, received number"},
			{"boolean as string", good(obj{"values": obj{"ok": "true"}}), 400, vErr, "Invalid data point", []any{"body", "values", "ok"}, "Expected boolean, received string"},
			{"NaN", `{"bucketId":"` + b.id + `","dataSourceId":"` + b.source + `","values":{"temperature":NaN}}`, 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "finite"},
			{"-Inf", `{"bucketId":"` + b.id + `","dataSourceId":"` + b.source + `","values":{"temperature":-Inf}}`, 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "finite"},
			{"overflow", `{"bucketId":"` + b.id + `","dataSourceId":"` + b.source + `","values":{"temperature":1e999}}`, 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "finite"},
			{"loose number", `{"bucketId":"` + b.id + `","dataSourceId":"` + b.source + `","values":{"temperature":1-2}}`, 400, vErr, "Invalid data point", []any{"body", "values", "temperature"}, "Invalid number"},
			{"string too long", good(obj{"values": obj{"status": strings.Repeat("é", 1025)}}), 400, vErr, "Invalid data point", []any{"body", "values", "status"}, "at most 1024"},
			{"metadata an array", good(obj{"metadata": []any{}}), 400, vErr, "Invalid data point", []any{"body", "metadata"}, "Expected object, received array"},
			{"metadata a string", good(obj{"metadata": "x"}), 400, vErr, "Invalid data point", []any{"body", "metadata"}, "Expected object, received string"},
			{"metadata too large", good(obj{"metadata": obj{"blob": strings.Repeat("x", 8200)}}), 400, vErr, "Invalid data point", []any{"body", "metadata"}, "at most 8192 bytes"},
			{"metadata NaN", `{"bucketId":"` + b.id + `","dataSourceId":"` + b.source + `","values":{"temperature":1},"metadata":{"a":[nan]}}`, 400, vErr, "Invalid data point", []any{"body", "metadata"}, "finite"},
			{"timestamp a number", good(obj{"timestamp": 1705314600000}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "Expected string, received number"},
			{"timestamp without zone", good(obj{"timestamp": "2024-01-15T10:30:00"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "Invalid timestamp"},
			{"timestamp date only", good(obj{"timestamp": "2024-01-15"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "Invalid timestamp"},
			{"timestamp day out of range", good(obj{"timestamp": "2024-02-30T10:30:00Z"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "Invalid timestamp"},
			{"timestamp ten fractional digits", good(obj{"timestamp": tstr(recent(1))[:19] + ".1234567891Z"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "at most 9 fractional digits"},
			{"timestamp offset of 24 hours", good(obj{"timestamp": tstr(recent(1))[:19] + "+24:00"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "offset"},
			{"timestamp year 2300", good(obj{"timestamp": "2300-01-01T00:00:00Z"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "year must be between 1678 and 2261"},
			{"timestamp year 1500", good(obj{"timestamp": "1500-01-01T00:00:00Z"}), 400, vErr, "Invalid data point", []any{"body", "timestamp"}, "year must be between 1678 and 2261"},
			{"timestamp before retention", obj{"bucketId": short.id, "dataSourceId": short.source, "timestamp": tstr(time.Now().AddDate(0, 0, -3)), "values": obj{"temperature": 1}},
				400, vErr, "Invalid data point", []any{"body", "timestamp"}, "Timestamp is outside the bucket's retention window (2 days)"},
			{"timestamp just before retention", obj{"bucketId": short.id, "dataSourceId": short.source, "timestamp": tstr(time.Now().Add(-48*time.Hour - time.Second)), "values": obj{"temperature": 1}},
				400, vErr, "Invalid data point", []any{"body", "timestamp"}, "retention window"},
		}
		before, beforeShort := pointCount(t, n, b.id), pointCount(t, n, short.id)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				details := wantError(t, asKey(t, n, n.AdminKey, "POST", "/api/data", tc.body), tc.status, tc.typ, tc.msg)
				if tc.path != nil {
					wantDetailAt(t, details, tc.detailMsg, tc.path...)
				}
			})
		}
		wantCount(t, n, b.id, before)
		wantCount(t, n, short.id, beforeShort)

		t.Run("every problem of a point is reported", func(t *testing.T) {
			details := wantError(t, asKey(t, n, b.write, "POST", "/api/data", obj{
				"bucketId": b.id, "dataSourceId": b.source, "timestamp": "yesterday",
				"values": obj{"temperature": "hot", "ok": 1, "wind": 3}, "metadata": 5,
			}), 400, vErr, "Invalid data point")
			if len(details) != 5 {
				t.Errorf("details = %+v, want 5", details)
			}
			wantDetailAt(t, details, "Invalid timestamp", "body", "timestamp")
			wantDetailAt(t, details, "Expected number, received string", "body", "values", "temperature")
			wantDetailAt(t, details, "Expected boolean, received number", "body", "values", "ok")
			wantDetailAt(t, details, "Unknown field 'wind'", "body", "values", "wind")
			wantDetailAt(t, details, "Expected object, received number", "body", "metadata")
		})

		t.Run("within retention", func(t *testing.T) {
			dataObj(t, asKey(t, n, short.write, "POST", "/api/data", obj{
				"bucketId": short.id, "dataSourceId": short.source, "timestamp": tstr(time.Now().Add(-47 * time.Hour)), "values": obj{"temperature": 1},
			}), http.StatusCreated)
			wantCount(t, n, short.id, beforeShort+1)
		})
	})

	t.Run("wrong content type is accepted", func(t *testing.T) {
		body, _ := json.Marshal(obj{"bucketId": b.id, "dataSourceId": b.source, "values": obj{"temperature": 2}})
		r := send(t, n.Admin, "POST", "/api/data", body, http.Header{"Content-Type": {"text/plain"}})
		dataObj(t, r, http.StatusCreated)
	})

	t.Run("client WritePoint", func(t *testing.T) {
		when := recent(6).Add(123456 * time.Microsecond)
		p, err := n.Client(b.write).WritePoint(t.Context(), client.WritePointRequest{
			BucketID: b.id, DataSourceID: b.source, Timestamp: when,
			Values: map[string]any{"temperature": -4.25, "status": "cold"}, Metadata: map[string]any{"k": "v"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Timestamp.Equal(when) || p.ID != points.PointID(b.source, when.UnixNano()) || p.Values["temperature"] != -4.25 || p.Metadata["k"] != "v" {
			t.Errorf("WritePoint = %+v", p)
		}
		_, err = n.Client(b.read).WritePoint(t.Context(), client.WritePointRequest{BucketID: b.id, DataSourceID: b.source, Values: map[string]any{"temperature": 1}})
		if !client.IsStatus(err, 403) {
			t.Errorf("WritePoint with a read key: err = %v, want 403", err)
		}
	})
}

func TestE2EIngestBatch(t *testing.T) {
	n := testnode.Start(t)
	b := mkDataBucket(t, n, nil)
	second := mkSchemaSource(t, n, b.id, unique("second"), obj{"temperature": obj{"type": "number"}, "label": obj{"type": "string"}}, true)
	base := recent(20)

	// batch makes count points of the weather source, a minute apart from start.
	batch := func(start time.Time, count int) []any {
		pts := make([]any, count)
		for i := range pts {
			pts[i] = obj{"dataSourceId": b.source, "timestamp": tstr(start.Add(time.Duration(i) * time.Minute)),
				"values": obj{"temperature": float64(i) / 4, "status": fmt.Sprint("s", i), "ok": i%2 == 0}}
		}
		return pts
	}
	post := func(key string, body any) *client.RawResponse {
		return asKey(t, n, key, "POST", "/api/data/batch", body)
	}
	wantBatch := func(t *testing.T, r *client.RawResponse, count int) {
		t.Helper()
		d := dataObj(t, r, http.StatusCreated)
		wantFields(t, "batch", d, "count")
		if d["count"] != float64(count) {
			t.Errorf("count = %v, want %d", d["count"], count)
		}
	}

	t.Run("stores every point, across sources", func(t *testing.T) {
		before := pointCount(t, n, b.id)
		pts := batch(base, 5)
		pts = append(pts, obj{"dataSourceId": second, "timestamp": tstr(base), "values": obj{"temperature": 3, "label": "x"}, "metadata": obj{"m": 1}})
		wantBatch(t, post(b.write, obj{"bucketId": b.id, "dataPoints": pts}), 6)
		wantCount(t, n, b.id, before+6)
		got := rawQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"startTime": tstr(base), "endTime": tstr(base.Add(5 * time.Minute)), "limit": 100}})
		if len(got.Data) != 6 {
			t.Fatalf("query found %d points, want 6", len(got.Data))
		}
	})

	t.Run("resending a batch changes no count", func(t *testing.T) {
		pts := batch(base.Add(time.Hour), 50)
		body := obj{"bucketId": b.id, "dataPoints": pts}
		wantBatch(t, post(b.write, body), 50)
		after := pointCount(t, n, b.id)
		wantBatch(t, post(b.write, body), 50)
		wantBatch(t, post(n.AdminKey, body), 50)
		wantCount(t, n, b.id, after)
	})

	t.Run("one bad point stores nothing", func(t *testing.T) {
		before := pointCount(t, n, b.id)
		pts := batch(base.Add(2*time.Hour), 10)
		pts[3].(obj)["values"] = obj{"temperature": "warm"}
		details := wantError(t, post(b.write, obj{"bucketId": b.id, "dataPoints": pts}), 400, "Validation Error", "Invalid data points")
		if len(details) != 1 {
			t.Errorf("details = %+v, want exactly one", details)
		}
		wantDetailAt(t, details, "Expected number, received string", "body", "dataPoints", 3, "values", "temperature")
		wantCount(t, n, b.id, before)
		got := rawQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"startTime": tstr(base.Add(2 * time.Hour)), "endTime": tstr(base.Add(3 * time.Hour))}})
		if len(got.Data) != 0 {
			t.Errorf("query found %d points of a refused batch", len(got.Data))
		}
	})

	t.Run("every bad point is named", func(t *testing.T) {
		before := pointCount(t, n, b.id)
		pts := batch(base.Add(3*time.Hour), 8)
		pts[0] = 42
		pts[1].(obj)["dataSourceId"] = "0123456789abcdef01234567"
		pts[2].(obj)["dataSourceId"] = "bad"
		delete(pts[3].(obj), "dataSourceId")
		pts[4].(obj)["timestamp"] = tstr(time.Now().AddDate(-20, 0, 0))
		pts[5].(obj)["values"] = obj{}
		pts[6].(obj)["values"] = obj{"nope": 1}
		pts[7].(obj)["metadata"] = []any{}
		details := wantError(t, post(b.write, obj{"bucketId": b.id, "dataPoints": pts}), 400, "Validation Error", "Invalid data points")
		wantDetailAt(t, details, "Expected object, received number", "body", "dataPoints", 0)
		wantDetailAt(t, details, "Data source not found in this bucket", "body", "dataPoints", 1, "dataSourceId")
		wantDetailAt(t, details, "Invalid data source ID format", "body", "dataPoints", 2, "dataSourceId")
		wantDetailAt(t, details, "Required", "body", "dataPoints", 3, "dataSourceId")
		wantDetailAt(t, details, "retention window (3650 days)", "body", "dataPoints", 4, "timestamp")
		wantDetailAt(t, details, "at least one field", "body", "dataPoints", 5, "values")
		wantDetailAt(t, details, "Unknown field 'nope' for this data source", "body", "dataPoints", 6, "values", "nope")
		wantDetailAt(t, details, "Expected object, received array", "body", "dataPoints", 7, "metadata")
		if len(details) != 8 {
			t.Errorf("details = %+v, want 8", details)
		}
		wantCount(t, n, b.id, before)
	})

	t.Run("a source of another bucket is not found", func(t *testing.T) {
		other := mkDataBucket(t, n, nil)
		pts := batch(base.Add(4*time.Hour), 2)
		pts[1].(obj)["dataSourceId"] = other.source
		details := wantError(t, post(n.AdminKey, obj{"bucketId": b.id, "dataPoints": pts}), 400, "Validation Error", "Invalid data points")
		wantDetailAt(t, details, "Data source not found in this bucket", "body", "dataPoints", 1, "dataSourceId")
	})

	t.Run("details are capped at 100", func(t *testing.T) {
		pts := batch(base.Add(5*time.Hour), 150)
		for _, p := range pts {
			p.(obj)["values"] = obj{"temperature": true}
		}
		details := wantError(t, post(b.write, obj{"bucketId": b.id, "dataPoints": pts}), 400, "Validation Error", "Invalid data points")
		if len(details) != 100 {
			t.Errorf("got %d details, want 100", len(details))
		}
		wantDetailAt(t, details, "Expected number, received boolean", "body", "dataPoints", 99, "values", "temperature")
	})

	t.Run("size limits", func(t *testing.T) {
		tests := []struct {
			name string
			list any
			msg  string
		}{
			{"missing", nil, "Required"},
			{"not an array", obj{}, "Expected array, received object"},
			{"empty", []any{}, "at least 1"},
			{"1001 points", batch(base.Add(6*time.Hour), 1001), "at most 1000"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				body := obj{"bucketId": b.id}
				if tc.list != nil {
					body["dataPoints"] = tc.list
				}
				details := wantError(t, post(b.write, body), 400, "Validation Error", "Invalid request body")
				wantDetailAt(t, details, tc.msg, "body", "dataPoints")
			})
		}
		before := pointCount(t, n, b.id)
		wantBatch(t, post(b.write, obj{"bucketId": b.id, "dataPoints": batch(base.Add(7*time.Hour), 1000)}), 1000)
		wantCount(t, n, b.id, before+1000)
	})

	t.Run("the later of two equal points in a batch wins", func(t *testing.T) {
		before := pointCount(t, n, b.id)
		at := tstr(base.Add(30 * time.Hour))
		pts := []any{
			obj{"dataSourceId": b.source, "timestamp": at, "values": obj{"temperature": 1, "status": "first"}},
			obj{"dataSourceId": second, "timestamp": at, "values": obj{"temperature": 5}},
			obj{"dataSourceId": b.source, "timestamp": at, "values": obj{"temperature": 2}},
		}
		wantBatch(t, post(b.write, obj{"bucketId": b.id, "dataPoints": pts}), 3)
		wantCount(t, n, b.id, before+2)
		got := rawQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"dataSourceId": b.source, "startTime": at, "endTime": tstr(base.Add(30*time.Hour + 1)), "limit": 10}})
		if len(got.Data) != 1 {
			t.Fatalf("got %d points, want 1", len(got.Data))
		}
		if v := got.Data[0]["values"].(obj); len(v) != 1 || v["temperature"] != 2.0 {
			t.Errorf("values = %v, want only the later point's {temperature: 2}", v)
		}
		// The aggregates see the replacement too.
		agg := aggQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"dataSourceId": b.source, "startTime": at, "endTime": tstr(base.Add(30*time.Hour + 1))}, "aggregation": "sum"})
		if len(agg.Data) != 1 || agg.Data[0]["values"].(obj)["temperature"] != 2.0 || agg.Data[0]["count"] != 1.0 {
			t.Errorf("sum after replacement = %v", agg.Data)
		}
	})

	t.Run("client WriteBatch", func(t *testing.T) {
		before := pointCount(t, n, b.id)
		start := base.Add(40 * time.Hour)
		c := n.Client(b.write)
		count, err := c.WriteBatch(t.Context(), client.WriteBatchRequest{BucketID: b.id, DataPoints: []client.PointInput{
			{DataSourceID: b.source, Timestamp: start, Values: map[string]any{"temperature": 1.5}},
			{DataSourceID: second, TimestampString: tstr(start)[:19] + ".500Z", Values: map[string]any{"label": "x"}},
		}})
		if err != nil || count != 2 {
			t.Fatalf("WriteBatch = %d, %v", count, err)
		}
		wantCount(t, n, b.id, before+2)
		_, err = c.WriteBatch(t.Context(), client.WriteBatchRequest{BucketID: b.id, DataPoints: []client.PointInput{
			{DataSourceID: b.source, Values: map[string]any{"temperature": "x"}},
		}})
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || len(ae.Details) != 1 || fmt.Sprint(ae.Details[0].Path) != "[body dataPoints 0 values temperature]" {
			t.Errorf("WriteBatch of a bad point: %v", err)
		}
	})
}

func dataPtr[T any](v T) *T { return &v }

// wantDetailAt is wantDetail with integer path elements given as ints:
// decoded JSON holds them as float64.
func wantDetailAt(t testing.TB, details []detail, msg string, path ...any) {
	t.Helper()
	p := make([]any, len(path))
	for i, e := range path {
		if n, ok := e.(int); ok {
			p[i] = float64(n)
		} else {
			p[i] = e
		}
	}
	wantDetail(t, details, msg, p...)
}
