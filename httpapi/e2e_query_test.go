package httpapi_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/store/points"
)

// The query tests write a known set of points and check every answer of
// POST /api/data/query against values computed here, independently of the
// server, from the points written.

// qpoint is a point the test wrote.
type qpoint struct {
	src    string
	at     time.Time
	values obj
	meta   obj
}

// queryAnswer is a decoded 200 answer of the query endpoint.
type queryAnswer struct {
	Data     []obj
	Metadata obj
	body     []byte
}

const noMatchBody = `{"data":[],"metadata":{"count":0}}`

// queryOK posts body to the query endpoint and checks the envelope.
func queryOK(t testing.TB, n *testnode.Node, key string, body any) queryAnswer {
	t.Helper()
	r := asKey(t, n, key, "POST", "/api/data/query", body)
	data := wantData(t, r, http.StatusOK)
	a := queryAnswer{body: r.Body}
	if err := json.Unmarshal(data, &a.Data); err != nil || a.Data == nil {
		t.Fatalf("data = %s, want an array", data)
	}
	var env struct {
		Metadata obj `json:"metadata"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatal(err)
	}
	a.Metadata = env.Metadata
	return a
}

// wantNoMatch checks the exact answer to a query matching nothing.
func wantNoMatch(t testing.TB, a queryAnswer) {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, a.body); err != nil || compact.String() != noMatchBody {
		t.Errorf("answer = %s, want %s", a.body, noMatchBody)
	}
}

// rawQuery runs a query expected to answer points (or no match).
func rawQuery(t testing.TB, n *testnode.Node, key string, body any) queryAnswer {
	t.Helper()
	a := queryOK(t, n, key, body)
	if len(a.Data) == 0 && a.Metadata["total"] == nil {
		wantNoMatch(t, a)
		return a
	}
	wantFields(t, "metadata", a.Metadata, "count", "total", "limit", "offset", "hasMore")
	if a.Metadata["count"] != float64(len(a.Data)) {
		t.Errorf("metadata.count = %v, want %d", a.Metadata["count"], len(a.Data))
	}
	for _, row := range a.Data {
		wantFields(t, "point", row, "_id", "dataSourceId", "timestamp", "values", "metadata")
		wantTime(t, row, "timestamp")
	}
	return a
}

// aggQuery runs a query expected to answer aggregated rows (or no match).
func aggQuery(t testing.TB, n *testnode.Node, key string, body any) queryAnswer {
	t.Helper()
	a := queryOK(t, n, key, body)
	if len(a.Data) == 0 {
		wantNoMatch(t, a)
		return a
	}
	if a.Metadata["downsamplingApplied"] != nil {
		wantFields(t, "metadata", a.Metadata, "count", "aggregation", "groupBy", "downsamplingApplied")
	} else {
		wantFields(t, "metadata", a.Metadata, "count", "aggregation", "groupBy")
	}
	if a.Metadata["count"] != float64(len(a.Data)) {
		t.Errorf("metadata.count = %v, want %d", a.Metadata["count"], len(a.Data))
	}
	for _, row := range a.Data {
		wantFields(t, "row", row, "dataSourceId", "timestamp", "values", "count")
		wantTime(t, row, "timestamp")
	}
	return a
}

// writePoints stores pts through the client, in batches of at most 1000.
func writeQPoints(t testing.TB, n *testnode.Node, bucketID string, pts []qpoint) {
	t.Helper()
	for i := 0; i < len(pts); i += 1000 {
		var in []client.PointInput
		for _, p := range pts[i:min(i+1000, len(pts))] {
			in = append(in, client.PointInput{DataSourceID: p.src, Timestamp: p.at, Values: p.values, Metadata: p.meta})
		}
		if _, err := n.Admin.WriteBatch(t.Context(), client.WriteBatchRequest{BucketID: bucketID, DataPoints: in}); err != nil {
			t.Fatalf("write batch: %v", err)
		}
	}
}

// windowOf is the start of the groupBy window holding at, computed with the
// calendar rather than the server's arithmetic: weeks start Monday, UTC.
func windowOf(groupBy string, at time.Time) time.Time {
	at = at.UTC()
	y, m, d := at.Date()
	switch groupBy {
	case "minute":
		return time.Date(y, m, d, at.Hour(), at.Minute(), 0, 0, time.UTC)
	case "hour":
		return time.Date(y, m, d, at.Hour(), 0, 0, 0, time.UTC)
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case "week":
		back := (int(at.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{} // one window for the whole range
}

// expRow is an expected aggregated row.
type expRow struct {
	src    string
	start  time.Time
	count  int
	values obj
}

// expectRows aggregates pts in [start, end) as the API promises.
func expectRows(pts []qpoint, start, end time.Time, agg, groupBy string, fields []string, desc bool) []expRow {
	type key struct {
		src string
		win time.Time
	}
	groups := map[key][]qpoint{}
	for _, p := range pts {
		if p.at.Before(start) || !p.at.Before(end) {
			continue
		}
		k := key{p.src, windowOf(groupBy, p.at)}
		groups[k] = append(groups[k], p)
	}
	var rows []expRow
	for k, g := range groups {
		slices.SortFunc(g, func(a, b qpoint) int { return a.at.Compare(b.at) })
		row := expRow{src: k.src, start: k.win, count: len(g), values: obj{}}
		if groupBy == "" {
			row.start = g[0].at // the whole range: the first point's time
		}
		names := map[string]bool{}
		for _, p := range g {
			for f := range p.values {
				names[f] = true
			}
		}
		for f := range names {
			if fields != nil && !slices.Contains(fields, f) {
				continue
			}
			var have []any
			for _, p := range g {
				if v, ok := p.values[f]; ok {
					have = append(have, v)
				}
			}
			_, numeric := have[0].(float64)
			sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
			if numeric {
				for _, v := range have {
					x := v.(float64)
					sum += x
					lo, hi = min(lo, x), max(hi, x)
				}
			}
			switch agg {
			case "avg", "min", "max", "sum":
				if numeric {
					row.values[f] = map[string]float64{"avg": sum / float64(len(have)), "min": lo, "max": hi, "sum": sum}[agg]
				}
			case "count":
				row.values[f] = float64(len(have))
			case "first":
				row.values[f] = have[0]
			case "last":
				row.values[f] = have[len(have)-1]
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b expRow) int {
		c := cmp.Or(a.start.Compare(b.start), cmp.Compare(a.src, b.src))
		if desc {
			return -c
		}
		return c
	})
	return rows
}

// wantRows compares an aggregated answer with expected rows, in order.
func wantRows(t testing.TB, a queryAnswer, want []expRow) {
	t.Helper()
	if len(a.Data) != len(want) {
		t.Fatalf("got %d rows, want %d:\n got %v\nwant %v", len(a.Data), len(want), a.Data, want)
	}
	for i, w := range want {
		g := a.Data[i]
		if g["dataSourceId"] != w.src || g["timestamp"] != tstr(w.start) || g["count"] != float64(w.count) {
			t.Errorf("row %d = %v %v count %v, want %s %s count %d", i, g["dataSourceId"], g["timestamp"], g["count"], w.src, tstr(w.start), w.count)
		}
		if !reflect.DeepEqual(g["values"], w.values) {
			t.Errorf("row %d (%s %s) values = %v, want %v", i, w.src, tstr(w.start), g["values"], w.values)
		}
	}
}

// expectPoints selects pts in [start, end) of the given sources, ordered by
// time then source, keeping only fields (nil: all).
func expectPoints(pts []qpoint, srcs []string, start, end time.Time, fields []string, desc bool) []qpoint {
	var out []qpoint
	for _, p := range pts {
		if p.at.Before(start) || !p.at.Before(end) || !slices.Contains(srcs, p.src) {
			continue
		}
		if fields != nil {
			v := obj{}
			for _, f := range fields {
				if x, ok := p.values[f]; ok {
					v[f] = x
				}
			}
			p.values = v
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b qpoint) int {
		c := cmp.Or(a.at.Compare(b.at), cmp.Compare(a.src, b.src))
		if desc {
			return -c
		}
		return c
	})
	return out
}

// wantPoints compares raw rows with expected points, in order.
func wantPoints(t testing.TB, rows []obj, want []qpoint) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("got %d points, want %d", len(rows), len(want))
	}
	for i, w := range want {
		g := rows[i]
		meta := w.meta
		if meta == nil {
			meta = obj{}
		}
		if g["_id"] != points.PointID(w.src, w.at.UnixNano()) || g["dataSourceId"] != w.src || g["timestamp"] != tstr(w.at) ||
			!reflect.DeepEqual(g["values"], w.values) || !reflect.DeepEqual(g["metadata"], meta) {
			t.Fatalf("point %d = %v, want %s %s %v %v", i, g, w.src, tstr(w.at), w.values, meta)
		}
	}
}

// queryFixture is a bucket with two sources and points spread over more
// than two months of last year (so that February, 28 or 29 days, is inside),
// with points on the edges of every window kind.
type queryFixture struct {
	dataBucket
	second     string
	pts        []qpoint
	start, end time.Time // a range that cuts some points off at both ends
	sunday     time.Time
}

func newQueryFixture(t *testing.T, n *testnode.Node) *queryFixture {
	f := &queryFixture{dataBucket: mkDataBucket(t, n, nil)}
	f.second = mkSchemaSource(t, n, f.id, unique("second"), obj{"temperature": obj{"type": "number"}, "label": obj{"type": "string"}}, true)
	year := time.Now().UTC().Year() - 1
	at := func(m time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(year, m, d, h, mi, s, ns, time.UTC)
	}
	f.start, f.end = at(time.January, 15, 0, 0, 0, 0), at(time.April, 1, 0, 0, 0, 0)
	f.sunday = at(time.March, 8, 12, 0, 0, 0)
	for f.sunday.Weekday() != time.Sunday {
		f.sunday = f.sunday.AddDate(0, 0, 1)
	}
	monday := time.Date(year, f.sunday.Month(), f.sunday.Day()+1, 0, 0, 0, 0, time.UTC)
	lastOfFeb := at(time.March, 1, 0, 0, 0, 0).AddDate(0, 0, -1)

	special := []time.Time{
		f.start.Add(-time.Nanosecond), f.start, // just outside, and on, the start
		at(time.January, 31, 23, 59, 59, 500_000_000), at(time.February, 1, 0, 0, 0, 0),
		at(time.February, 1, 0, 0, 30, 0), at(time.February, 1, 0, 1, 0, 0),
		at(time.February, 1, 0, 59, 59, 999_999_999), at(time.February, 1, 1, 0, 0, 0),
		lastOfFeb.Add(23*time.Hour + 30*time.Minute), at(time.March, 1, 0, 0, 0, 0),
		f.sunday, f.sunday.Add(12*time.Hour - time.Millisecond), monday, monday.Add(time.Microsecond),
		at(time.March, 31, 23, 0, 0, 0),
		f.end, f.end.Add(time.Nanosecond), // on the end (excluded), and after
	}
	var times []time.Time
	times = append(times, special...)
	for t := at(time.January, 10, 0, 7, 0, 0); t.Before(at(time.April, 10, 0, 0, 0, 0)); t = t.Add(13 * time.Hour) {
		times = append(times, t)
	}
	for i, t := range times {
		v := obj{"temperature": float64((i*7)%41)*0.25 - 3}
		if i%5 != 0 {
			v["humidity"] = float64((i*3)%50) + 0.5
		}
		if i%3 != 0 {
			v["status"] = fmt.Sprint("st", i%7)
		}
		if i%4 != 1 {
			v["ok"] = i%2 == 0
		}
		p := qpoint{src: f.source, at: t, values: v}
		if i%10 == 0 {
			p.meta = obj{"seq": float64(i), "tag": "é\"\n"}
		}
		f.pts = append(f.pts, p)
	}
	// The second source, partly at the same instants as the first.
	f.pts = append(f.pts, qpoint{src: f.second, at: at(time.February, 1, 0, 0, 0, 0), values: obj{"temperature": 100.0, "label": "tie"}})
	i := 0
	for t := at(time.January, 12, 0, 11, 0, 0); t.Before(at(time.April, 5, 0, 0, 0, 0)); t = t.Add(17 * time.Hour) {
		v := obj{"temperature": float64(i%23) * 0.5}
		if i%2 == 0 {
			v["label"] = fmt.Sprint("L", i%4)
		}
		f.pts = append(f.pts, qpoint{src: f.second, at: t, values: v})
		i++
	}
	writeQPoints(t, n, f.id, f.pts)
	return f
}

func TestE2EQuery(t *testing.T) {
	n := testnode.Start(t)
	f := newQueryFixture(t, n)
	both := []string{f.source, f.second}
	rangeFilters := func(extra obj) obj {
		o := obj{"startTime": tstr(f.start), "endTime": tstr(f.end)}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}

	t.Run("aggregations", func(t *testing.T) {
		for _, agg := range []string{"avg", "min", "max", "sum", "count", "first", "last"} {
			for _, groupBy := range []string{"", "minute", "hour", "day", "week", "month"} {
				t.Run(agg+"/"+cmp.Or(groupBy, "all"), func(t *testing.T) {
					body := obj{"bucketId": f.id, "filters": rangeFilters(nil), "aggregation": agg}
					if groupBy != "" {
						body["groupBy"] = groupBy
					}
					a := aggQuery(t, n, f.read, body)
					wantRows(t, a, expectRows(f.pts, f.start, f.end, agg, groupBy, nil, false))
					if a.Metadata["aggregation"] != agg {
						t.Errorf("metadata.aggregation = %v", a.Metadata["aggregation"])
					}
					if want := any(groupBy); groupBy == "" && a.Metadata["groupBy"] != nil || groupBy != "" && a.Metadata["groupBy"] != want {
						t.Errorf("metadata.groupBy = %v, want %q (null when empty)", a.Metadata["groupBy"], groupBy)
					}
				})
			}
		}
	})

	t.Run("the windows split where the calendar does", func(t *testing.T) {
		// Independent of expectRows: the Sunday and the Monday after it
		// fall in different weeks; February has its own month row.
		a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"dataSourceId": f.source}), "aggregation": "count", "groupBy": "week"})
		var starts []string
		for _, row := range a.Data {
			starts = append(starts, row["timestamp"].(string))
			if wd := wantTime(t, row, "timestamp").Weekday(); wd != time.Monday {
				t.Errorf("week row starts on %v", wd)
			}
		}
		monday := f.sunday.AddDate(0, 0, 1).Truncate(24 * time.Hour)
		if !slices.Contains(starts, tstr(monday)) || !slices.Contains(starts, tstr(monday.AddDate(0, 0, -7))) {
			t.Errorf("week starts %v lack %s or the week before", starts, tstr(monday))
		}
		m := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"dataSourceId": f.source}), "aggregation": "count", "groupBy": "month"})
		if len(m.Data) != 3 {
			t.Fatalf("month rows = %d, want January, February, March", len(m.Data))
		}
		for i, mon := range []time.Month{time.January, time.February, time.March} {
			if got := wantTime(t, m.Data[i], "timestamp"); got.Month() != mon || got.Day() != 1 || got.Hour() != 0 {
				t.Errorf("month row %d starts %v", i, got)
			}
		}
	})

	t.Run("desc, fields and groupBy alone", func(t *testing.T) {
		fields := []string{"temperature", "status"}
		for _, agg := range []string{"avg", "last", "count"} {
			a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"fields": fields, "dataSourceIds": both}), "aggregation": agg, "groupBy": "day", "sort": "desc"})
			wantRows(t, a, expectRows(f.pts, f.start, f.end, agg, "day", fields, true))
		}
		a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(nil), "groupBy": "hour"})
		wantRows(t, a, expectRows(f.pts, f.start, f.end, "avg", "hour", nil, false))
		if a.Metadata["aggregation"] != "avg" || a.Metadata["groupBy"] != "hour" {
			t.Errorf("metadata = %v, want avg by hour", a.Metadata)
		}
	})

	t.Run("aggregation and groupBy inside filters; the top level wins", func(t *testing.T) {
		a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"aggregation": "max", "groupBy": "week"})})
		wantRows(t, a, expectRows(f.pts, f.start, f.end, "max", "week", nil, false))
		a = aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"aggregation": "max", "groupBy": "week"}), "aggregation": "min", "groupBy": "month"})
		wantRows(t, a, expectRows(f.pts, f.start, f.end, "min", "month", nil, false))
	})

	t.Run("string and boolean fields", func(t *testing.T) {
		for _, agg := range []string{"first", "last", "count"} {
			a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"dataSourceId": f.source, "fields": []string{"status", "ok"}}), "aggregation": agg, "groupBy": "month"})
			wantRows(t, a, expectRows(expectPoints(f.pts, []string{f.source}, f.start, f.end, nil, false), f.start, f.end, agg, "month", []string{"status", "ok"}, false))
			if _, isString := a.Data[0]["values"].(obj)["status"].(string); agg != "count" && !isString {
				t.Errorf("%s of a string field = %v", agg, a.Data[0]["values"])
			}
		}
		// Numeric aggregations skip them: the rows remain, with no values.
		a := aggQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"dataSourceId": f.source, "fields": []string{"status", "ok"}}), "aggregation": "sum", "groupBy": "month"})
		for _, row := range a.Data {
			if len(row["values"].(obj)) != 0 || row["count"].(float64) == 0 {
				t.Errorf("sum over string and boolean fields = %v", row)
			}
		}
	})

	all := expectPoints(f.pts, both, time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64), nil, false)

	t.Run("raw default page", func(t *testing.T) {
		a := rawQuery(t, n, f.read, obj{"bucketId": f.id})
		wantValues(t, "metadata", a.Metadata, obj{"count": 100.0, "total": float64(len(all)), "limit": 100.0, "offset": 0.0, "hasMore": true})
		wantPoints(t, a.Data, all[:100])
	})

	t.Run("raw paging", func(t *testing.T) {
		for _, sort := range []string{"asc", "desc"} {
			want := expectPoints(f.pts, both, f.start, f.end, nil, sort == "desc")
			var got []obj
			for off := 0; ; off += 37 {
				a := rawQuery(t, n, f.read, obj{"bucketId": f.id, "filters": rangeFilters(obj{"limit": 37, "offset": off}), "sort": sort})
				wantValues(t, "metadata", a.Metadata, obj{"total": float64(len(want)), "limit": 37.0, "offset": float64(off), "hasMore": off+37 < len(want)})
				got = append(got, a.Data...)
				if a.Metadata["hasMore"] != true {
					break
				}
			}
			wantPoints(t, got, want)
		}
	})

	t.Run("raw page past the end", func(t *testing.T) {
		a := rawQuery(t, n, f.read, obj{"bucketId": f.id, "filters": obj{"offset": len(all), "limit": 10}})
		wantValues(t, "metadata", a.Metadata, obj{"count": 0.0, "total": float64(len(all)), "hasMore": false})
	})

	t.Run("raw sources and fields", func(t *testing.T) {
		tests := []struct {
			name    string
			filters obj
			srcs    []string
			fields  []string
		}{
			{"one source", obj{"dataSourceId": f.second}, []string{f.second}, nil},
			{"list of sources", obj{"dataSourceIds": []string{f.second, f.source}}, both, nil},
			{"id and list are a union", obj{"dataSourceId": f.source, "dataSourceIds": []string{f.second, f.source}}, both, nil},
			{"fields", obj{"fields": []string{"temperature"}}, both, []string{"temperature"}},
			{"field of one source only", obj{"fields": []string{"label", "label"}}, both, []string{"label"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.filters["limit"] = 1000
				a := rawQuery(t, n, f.read, obj{"bucketId": f.id, "filters": tc.filters, "sort": "desc"})
				wantPoints(t, a.Data, expectPoints(f.pts, tc.srcs, time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64), tc.fields, true))
			})
		}
	})

	t.Run("no match", func(t *testing.T) {
		empty := mkBucket(t, n, n.AdminKey, obj{"name": unique("empty")})["_id"].(string)
		wantNoMatch(t, queryOK(t, n, n.AdminKey, obj{"bucketId": empty}))
		wantNoMatch(t, queryOK(t, n, n.AdminKey, obj{"bucketId": empty, "aggregation": "avg"}))
		future := obj{"startTime": tstr(time.Now().Add(time.Hour))}
		for _, extra := range []obj{{}, {"aggregation": "count"}, {"groupBy": "day"}, {"filters": obj{"limit": 5}}} {
			body := obj{"bucketId": f.id, "filters": future}
			for k, v := range extra {
				body[k] = v
			}
			if fl, ok := extra["filters"].(obj); ok {
				fl["startTime"] = future["startTime"]
			}
			wantNoMatch(t, queryOK(t, n, f.read, body))
		}
	})

	t.Run("client Query", func(t *testing.T) {
		res, err := n.Client(f.read).Query(t.Context(), client.QueryRequest{BucketID: f.id, Filters: client.QueryFilters{
			DataSourceID: f.source, StartTime: f.start, EndTime: f.end, Limit: 3, Offset: 1,
		}, Sort: "asc"})
		if err != nil {
			t.Fatal(err)
		}
		want := expectPoints(f.pts, []string{f.source}, f.start, f.end, nil, false)[1:4]
		if len(res.Data) != 3 || res.Metadata.Count != 3 || res.Metadata.Limit != 3 || res.Metadata.Offset != 1 || !res.Metadata.HasMore {
			t.Fatalf("Query = %+v", res)
		}
		for i, w := range want {
			if g := res.Data[i]; g.ID != points.PointID(w.src, w.at.UnixNano()) || !g.Timestamp.Equal(w.at) || !reflect.DeepEqual(obj(g.Values), w.values) {
				t.Errorf("row %d = %+v, want %+v", i, g, w)
			}
		}
		agg, err := n.Client(f.read).Query(t.Context(), client.QueryRequest{BucketID: f.id, Filters: client.QueryFilters{
			StartTimeString: tstr(f.start), EndTimeString: tstr(f.end)}, Aggregation: "count"})
		if err != nil {
			t.Fatal(err)
		}
		if agg.Metadata.Aggregation == nil || *agg.Metadata.Aggregation != "count" || agg.Metadata.GroupBy != nil || len(agg.Data) != 2 || agg.Data[0].Count == 0 {
			t.Errorf("aggregated Query = %+v", agg)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		other := mkDataBucket(t, n, nil)
		_, orgKey := mkOrg(t, n, unique("org"))
		body := obj{"bucketId": f.id, "filters": obj{"limit": 1}}
		for _, key := range []string{n.AdminKey, f.write, f.read} {
			if a := rawQuery(t, n, key, body); len(a.Data) != 1 {
				t.Errorf("got %d points", len(a.Data))
			}
		}
		wantError(t, asKey(t, n, other.read, "POST", "/api/data/query", body), 403, "Forbidden", "API key does not have access to this bucket")
		wantError(t, asKey(t, n, other.write, "POST", "/api/data/query", body), 403, "Forbidden", "API key does not have access to this bucket")
		wantError(t, asKey(t, n, orgKey, "POST", "/api/data/query", body), 404, "Not Found", "Bucket not found")
		wantError(t, asKey(t, n, "", "POST", "/api/data/query", body), 401, "Unauthorized", "Invalid or missing API key")
		// A source of another bucket is not found in this one.
		wantError(t, asKey(t, n, n.AdminKey, "POST", "/api/data/query", obj{"bucketId": f.id, "filters": obj{"dataSourceId": other.source}}), 404, "Not Found", "Data source not found")
	})

	t.Run("validation", func(t *testing.T) {
		const vErr = "Validation Error"
		q := func(filters obj, top obj) obj {
			o := obj{"bucketId": f.id}
			if filters != nil {
				o["filters"] = filters
			}
			for k, v := range top {
				o[k] = v
			}
			return o
		}
		tests := []struct {
			name      string
			body      any
			status    int
			typ, msg  string
			path      []any
			detailMsg string
		}{
			{"not JSON", `{`, 400, "Bad Request", "Request body is not valid JSON", nil, ""},
			{"bucketId missing", obj{}, 400, vErr, "Invalid bucket ID format", []any{"body", "bucketId"}, "Required"},
			{"bucketId malformed", obj{"bucketId": "b1"}, 400, vErr, "Invalid bucket ID format", nil, ""},
			{"another bucket, for a bucket key", obj{"bucketId": "0123456789abcdef01234567"}, 403, "Forbidden", "API key does not have access to this bucket", nil, ""},
			{"filters not an object", q(nil, obj{"filters": "x"}), 400, vErr, "Invalid request body", []any{"body", "filters"}, "Expected object, received string"},
			{"dataSourceId malformed", q(obj{"dataSourceId": "zz"}, nil), 400, vErr, "Invalid data source ID format", []any{"body", "filters", "dataSourceId"}, "Invalid data source ID format"},
			{"dataSourceId unknown", q(obj{"dataSourceId": "0123456789abcdef01234567"}, nil), 404, "Not Found", "Data source not found", nil, ""},
			{"dataSourceIds malformed", q(obj{"dataSourceIds": []any{f.source, "zz"}}, nil), 400, vErr, "Invalid data source ID format", []any{"body", "filters", "dataSourceIds", 1}, "Invalid data source ID format"},
			{"dataSourceIds unknown", q(obj{"dataSourceIds": []any{f.source, "0123456789abcdef01234567"}}, nil), 404, "Not Found", "Data source not found", nil, ""},
			{"dataSourceIds not an array", q(obj{"dataSourceIds": f.source}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "dataSourceIds"}, "Expected array, received string"},
			{"dataSourceIds empty", q(obj{"dataSourceIds": []any{}}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "dataSourceIds"}, "at least 1"},
			{"startTime malformed", q(obj{"startTime": "last week"}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "startTime"}, "Invalid timestamp"},
			{"endTime a number", q(obj{"endTime": 5}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "endTime"}, "Expected string, received number"},
			{"startTime equals endTime", q(obj{"startTime": tstr(f.start), "endTime": tstr(f.start)}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "endTime"}, "after startTime"},
			{"startTime after endTime", q(obj{"startTime": tstr(f.end), "endTime": tstr(f.start)}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "endTime"}, "after startTime"},
			{"fields not an array", q(obj{"fields": "temperature"}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "fields"}, "Expected array"},
			{"fields empty string", q(obj{"fields": []any{""}}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "fields", 0}, "at least 1"},
			{"fields unknown", q(obj{"fields": []any{"temperature", "pressure"}}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "fields", 1}, "Unknown field 'pressure'"},
			{"field of an unselected source", q(obj{"dataSourceId": f.source, "fields": []any{"label"}}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "fields", 0}, "Unknown field 'label'"},
			{"limit 0", q(obj{"limit": 0}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "limit"}, "greater than or equal to 1"},
			{"limit 1001", q(obj{"limit": 1001}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "limit"}, "less than or equal to 1000"},
			{"limit a string", q(obj{"limit": "10"}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "limit"}, "Expected number, received string"},
			{"limit a fraction", q(obj{"limit": 1.5}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "limit"}, "Expected integer"},
			{"offset negative", q(obj{"offset": -1}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "offset"}, "greater than or equal to 0"},
			{"offset huge", q(obj{"offset": 1e12}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "offset"}, "less than or equal to"},
			{"aggregation unknown", q(nil, obj{"aggregation": "median"}), 400, vErr, "Invalid request body", []any{"body", "aggregation"}, "Invalid enum value"},
			{"groupBy unknown", q(nil, obj{"groupBy": "year"}), 400, vErr, "Invalid request body", []any{"body", "groupBy"}, "Invalid enum value"},
			{"groupBy unknown in filters", q(obj{"groupBy": "year"}, nil), 400, vErr, "Invalid request body", []any{"body", "filters", "groupBy"}, "Invalid enum value"},
			{"sort unknown", q(nil, obj{"sort": "up"}), 400, vErr, "Invalid request body", []any{"body", "sort"}, "Invalid enum value"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				details := wantError(t, asKey(t, n, f.read, "POST", "/api/data/query", tc.body), tc.status, tc.typ, tc.msg)
				if tc.path != nil {
					wantDetailAt(t, details, tc.detailMsg, tc.path...)
				}
			})
		}
	})

	t.Run("retention applies to queries", func(t *testing.T) {
		b := mkDataBucket(t, n, nil)
		old, fresh := recent(10), recent(1)
		writeQPoints(t, n, b.id, []qpoint{
			{src: b.source, at: old, values: obj{"temperature": 1.0}},
			{src: b.source, at: fresh, values: obj{"temperature": 2.0}},
		})
		if a := rawQuery(t, n, b.read, obj{"bucketId": b.id}); len(a.Data) != 2 {
			t.Fatalf("before shortening retention: %d points", len(a.Data))
		}
		if _, err := n.Admin.UpdateBucket(t.Context(), b.id, client.UpdateBucketRequest{RetentionDays: dataPtr(5)}); err != nil {
			t.Fatal(err)
		}
		a := rawQuery(t, n, b.read, obj{"bucketId": b.id})
		if len(a.Data) != 1 || a.Data[0]["timestamp"] != tstr(fresh) || a.Metadata["total"] != 1.0 {
			t.Errorf("after shortening retention: %s", a.body)
		}
		c := aggQuery(t, n, b.read, obj{"bucketId": b.id, "aggregation": "count"})
		if len(c.Data) != 1 || c.Data[0]["count"] != 1.0 {
			t.Errorf("count after shortening retention: %s", c.body)
		}
	})
}

func TestE2EQueryDownsampling(t *testing.T) {
	n := testnode.Start(t)
	b := mkDataBucket(t, n, nil)
	numbers := obj{"temperature": obj{"type": "number"}, "status": obj{"type": "string"}}
	minuteSrc := mkSchemaSource(t, n, b.id, unique("minute"), numbers, true)
	noDown := mkSchemaSource(t, n, b.id, unique("raw"), numbers, false)
	exact := mkSchemaSource(t, n, b.id, unique("exact"), numbers, true)
	start := recent(30)

	// series makes count points of src every step from start.
	series := func(src string, count int, step time.Duration) []qpoint {
		out := make([]qpoint, count)
		for i := range out {
			out[i] = qpoint{src: src, at: start.Add(time.Duration(i) * step), values: obj{"temperature": float64(i%17) * 0.25, "status": "s"}}
		}
		return out
	}
	hourly := series(b.source, 1200, time.Minute)                    // 1200 minutes, 20 hours
	fine := series(minuteSrc, 600, 10*time.Second)                   // 100 minutes
	plain := series(noDown, 700, time.Minute)                        // downsampling off
	boundary := series(exact, downsampleLimitForTest, 1*time.Second) // exactly at the limit
	var all []qpoint
	for _, s := range [][]qpoint{hourly, fine, plain, boundary} {
		all = append(all, s...)
	}
	writeQPoints(t, n, b.id, all)
	far := start.AddDate(0, 0, 10)

	t.Run("coarsens to the finest window under 500 rows", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			pts     []qpoint
			groupBy string
		}{{"hours", hourly, "hour"}, {"minutes", fine, "minute"}} {
			t.Run(tc.name, func(t *testing.T) {
				src := tc.pts[0].src
				a := aggQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"dataSourceId": src}})
				wantValues(t, "metadata", a.Metadata, obj{"downsamplingApplied": true, "aggregation": "avg", "groupBy": tc.groupBy})
				if len(a.Data) > 500 {
					t.Errorf("%d rows, want at most 500", len(a.Data))
				}
				wantRows(t, a, expectRows(tc.pts, start, far, "avg", tc.groupBy, nil, false))
			})
		}
		a := aggQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"dataSourceIds": []string{b.source, minuteSrc}, "fields": []string{"temperature"}}, "sort": "desc"})
		wantValues(t, "metadata", a.Metadata, obj{"downsamplingApplied": true, "groupBy": "hour"})
		wantRows(t, a, expectRows(append(slices.Clone(hourly), fine...), start, far, "avg", "hour", []string{"temperature"}, true))
	})

	t.Run("not applied", func(t *testing.T) {
		tests := []struct {
			name  string
			body  obj
			total int
		}{
			{"limit given", obj{"filters": obj{"dataSourceId": b.source, "limit": 100}}, len(hourly)},
			{"source without downsampling", obj{"filters": obj{"dataSourceId": noDown}}, len(plain)},
			{"one of the sources without downsampling", obj{"filters": obj{"dataSourceIds": []string{b.source, noDown}}}, len(hourly) + len(plain)},
			{"exactly 500 points", obj{"filters": obj{"dataSourceId": exact}}, len(boundary)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.body["bucketId"] = b.id
				a := rawQuery(t, n, b.read, tc.body)
				wantValues(t, "metadata", a.Metadata, obj{"total": float64(tc.total), "count": 100.0, "limit": 100.0})
			})
		}
		a := aggQuery(t, n, b.read, obj{"bucketId": b.id, "filters": obj{"dataSourceId": b.source}, "aggregation": "max"})
		if a.Metadata["downsamplingApplied"] != nil || len(a.Data) != 1 {
			t.Errorf("explicit aggregation: %s", a.body)
		}
	})

	t.Run("over the whole bucket", func(t *testing.T) {
		// Every source must allow downsampling; one does not.
		a := rawQuery(t, n, b.read, obj{"bucketId": b.id})
		wantValues(t, "metadata", a.Metadata, obj{"total": float64(len(all))})
	})
}

// downsampleLimitForTest is the documented threshold: more than 500 points.
const downsampleLimitForTest = 500
