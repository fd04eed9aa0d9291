package httpapi

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// POST /api/data/query follows docs/api.md; where it is silent:
//   - aggregation, groupBy and sort may also sit inside filters; the top level
//     wins when both are given;
//   - dataSourceId and dataSourceIds are united; an empty dataSourceIds is a
//     400 (not "every source"); neither means every source of the bucket;
//   - every name in fields must be in the schema of a selected source;
//   - limit and offset page raw answers only; a valid limit given with an
//     aggregation is ignored, but any limit turns auto-downsampling off;
//   - with several sources, auto-downsampling needs all of them to allow it;
//   - for one window over the whole range, a row's timestamp is the time of
//     its source's first point in the range;
//   - a raw page past the end of a non-empty result keeps its paging
//     metadata (count 0, total N); only a query matching nothing at all gets
//     {"data":[],"metadata":{"count":0}};
//   - an aggregate JSON cannot hold (an overflowing sum) is written as null.

// Query limits.
const (
	// downsampleRows is both the point count above which an unbounded raw
	// query is downsampled and the most rows the downsampled answer may have.
	downsampleRows   = 500
	maxQuerySources  = 1000
	maxQueryFields   = 100
	queryTimeout     = 30 * time.Second
	sourcesPageLimit = 1000
)

var (
	aggregationNames = []string{"avg", "min", "max", "sum", "count", "first", "last"}
	groupByNames     = []string{"minute", "hour", "day", "week", "month"}
)

const msgBadSourceID = "Invalid data source ID format"

// queryRequest is a validated POST /api/data/query body.
type queryRequest struct {
	sourceIDs   []string // as asked, deduplicated; empty: every source
	start, end  int64
	fields      []string
	fieldPaths  [][]any
	limit       int
	limitSet    bool
	offset      int
	aggregation string // "" when not asked
	groupBy     string // "" when not asked
	desc        bool
}

// readQuery reads everything but bucketId, already checked.
func readQuery(b *body) queryRequest {
	q := queryRequest{start: math.MinInt64, end: math.MaxInt64, limit: defaultLimit}
	var f *body
	if v := b.lookup("filters", false); v != nil {
		obj, err := v.Object()
		if err != nil {
			b.fail([]any{"filters"}, "Expected object, received %s", typeName(v))
		} else {
			f = &body{obj: obj}
		}
	}
	// aggregation, groupBy and sort may sit at the top level or in filters;
	// the top level wins.
	pick := func(name string, allowed []string) string {
		if b.has(name) || f == nil {
			s, _ := b.enum(name, false, allowed...)
			return s
		}
		s, _ := f.enum(name, false, allowed...)
		return s
	}
	q.aggregation = pick("aggregation", aggregationNames)
	q.groupBy = pick("groupBy", groupByNames)
	q.desc = pick("sort", []string{"asc", "desc"}) == "desc"
	if f == nil {
		return q
	}

	seen := map[string]bool{}
	addSource := func(id string) {
		if !seen[id] {
			seen[id] = true
			q.sourceIDs = append(q.sourceIDs, id)
		}
	}
	if v := f.lookup("dataSourceId", false); v != nil {
		if id, ok := checkQueryID(f, []any{"dataSourceId"}, v); ok {
			addSource(id)
		}
	}
	if v := f.lookup("dataSourceIds", false); v != nil {
		if arr, ok := checkArray(f, []any{"dataSourceIds"}, v, maxQuerySources); ok {
			for i, item := range arr {
				if id, ok := checkQueryID(f, []any{"dataSourceIds", i}, item); ok {
					addSource(id)
				}
			}
		}
	}
	startSet, endSet := false, false
	if v := f.lookup("startTime", false); v != nil {
		q.start, startSet = checkTime(f, "startTime", v)
	}
	if v := f.lookup("endTime", false); v != nil {
		q.end, endSet = checkTime(f, "endTime", v)
	}
	if startSet && endSet && q.start >= q.end {
		f.fail([]any{"endTime"}, "endTime must be after startTime")
	}
	if v := f.lookup("fields", false); v != nil {
		if arr, ok := checkArray(f, []any{"fields"}, v, maxQueryFields); ok {
			dup := map[string]bool{}
			for i, item := range arr {
				name, ok := checkText(f, []any{"fields", i}, item, 1, 64)
				if ok && !dup[name] {
					dup[name] = true
					q.fields = append(q.fields, name)
					q.fieldPaths = append(q.fieldPaths, []any{"body", "filters", "fields", i})
				}
			}
		}
	}
	if n, ok := f.integer("limit", false, 1, maxLimit); ok {
		q.limit, q.limitSet = n, true
	} else if f.has("limit") {
		q.limitSet = true // invalid, reported; still not "absent"
	}
	if n, ok := f.integer("offset", false, 0, maxOffset); ok {
		q.offset = n
	}
	for _, d := range f.details {
		b.details = append(b.details, Detail{Path: append([]any{"body", "filters"}, d.Path[1:]...), Message: d.Message})
	}
	return q
}

func checkQueryID(b *body, path []any, v *fastjson.Value) (string, bool) {
	raw, err := v.StringBytes()
	if err != nil {
		b.fail(path, "Expected string, received %s", typeName(v))
		return "", false
	}
	if !objectid.Valid(string(raw)) {
		b.fail(path, msgBadSourceID)
		return "", false
	}
	return string(raw), true
}

func checkArray(b *body, path []any, v *fastjson.Value, maxLen int) ([]*fastjson.Value, bool) {
	arr, err := v.Array()
	switch {
	case err != nil:
		b.fail(path, "Expected array, received %s", typeName(v))
		return nil, false
	case len(arr) == 0:
		b.fail(path, "Array must contain at least 1 element(s)")
		return nil, false
	case len(arr) > maxLen:
		b.fail(path, "Array must contain at most %d element(s)", maxLen)
		return nil, false
	}
	return arr, true
}

func checkTime(b *body, name string, v *fastjson.Value) (int64, bool) {
	raw, err := v.StringBytes()
	if err != nil {
		b.fail([]any{name}, "Expected string, received %s", typeName(v))
		return 0, false
	}
	ts, problem, ok := parseTimestamp(string(raw))
	if !ok {
		b.fail([]any{name}, "%s", problem)
		return 0, false
	}
	return ts, true
}

// query answers POST /api/data/query.
func (s *Server) query(c *call) error {
	note, aerr := readNote(c)
	if aerr != nil {
		return aerr
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	bd, aerr := parseWith(p, c.ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	bucketID, aerr := queryBucketID(bd)
	if aerr != nil {
		return aerr
	}
	b, err := s.bucketAccess(c, bucketID, false)
	if err != nil {
		return err
	}
	q := readQuery(bd)
	if aerr := bd.err(); aerr != nil {
		return sourceIDError(aerr)
	}
	srcs, err := s.querySources(b.ID, q.sourceIDs)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		writeNoMatch(c.ctx, nil)
		return nil
	}
	if aerr := checkFields(q, srcs); aerr != nil {
		return aerr
	}

	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	r := points.Range{BucketID: b.ID, Start: q.start, End: q.end, SourceIDs: make([]string, len(srcs))}
	for i, src := range srcs {
		r.SourceIDs[i] = src.ID
	}

	if q.aggregation != "" || q.groupBy != "" {
		agg := points.AggAvg
		if q.aggregation != "" {
			agg, _ = points.ParseAggregation(q.aggregation)
		}
		w := points.WindowAll
		if q.groupBy != "" {
			w, _ = points.ParseWindow(q.groupBy)
		}
		rows, err := s.cfg.Points.Aggregate(ctx, points.AggQuery{Range: r, Fields: q.fields, Aggregation: agg, Window: w, Desc: q.desc}, note)
		if err != nil {
			return pointsError(err)
		}
		s.countReturned(len(rows))
		writeAggAnswer(c.ctx, rows, agg.String(), q.groupBy, false, note)
		return nil
	}

	if !q.limitSet && allDownsampling(srcs) {
		n, err := s.cfg.Points.Count(ctx, r, note)
		if err != nil {
			return pointsError(err)
		}
		if n > downsampleRows {
			w, err := s.cfg.Points.FinestWindow(ctx, r, downsampleRows, note)
			if err != nil {
				return pointsError(err)
			}
			rows, err := s.cfg.Points.Aggregate(ctx, points.AggQuery{Range: r, Fields: q.fields, Aggregation: points.AggAvg, Window: w, Desc: q.desc}, note)
			if err != nil {
				return pointsError(err)
			}
			s.countReturned(len(rows))
			writeAggAnswer(c.ctx, rows, points.AggAvg.String(), w.String(), true, note)
			return nil
		}
	}

	res, err := s.cfg.Points.Raw(ctx, points.RawQuery{Range: r, Fields: q.fields, Offset: q.offset, Limit: q.limit, Desc: q.desc}, note)
	if err != nil {
		return pointsError(err)
	}
	s.countReturned(len(res.Points))
	writeRawAnswer(c.ctx, res, q.limit, q.offset, note)
	return nil
}

// queryBucketID reads bucketId; a problem with it is "Invalid bucket ID format".
func queryBucketID(b *body) (string, *apiError) {
	id, problem := readID(b.obj, "bucketId", "bucket")
	if problem != "" {
		return "", validationError("Invalid bucket ID format", Detail{Path: []any{"body", "bucketId"}, Message: problem})
	}
	return id, nil
}

// sourceIDError names malformed source ids in the message, as a malformed
// id in a path is, when they are all that is wrong.
func sourceIDError(e *apiError) *apiError {
	for _, d := range e.Details {
		if d.Message != msgBadSourceID {
			return e
		}
	}
	e.Message = msgBadSourceID
	return e
}

// querySources loads the asked sources of the bucket, or all of them.
func (s *Server) querySources(bucketID string, ids []string) ([]store.DataSource, error) {
	if len(ids) == 0 {
		var all []store.DataSource
		for off := 0; ; off += sourcesPageLimit {
			page, total := s.cfg.Meta.Sources(bucketID, off, sourcesPageLimit)
			all = append(all, page...)
			if len(page) == 0 || off+len(page) >= total {
				return all, nil
			}
		}
	}
	srcs := make([]store.DataSource, 0, len(ids))
	for _, id := range ids {
		src, err := s.cfg.Meta.Source(bucketID, id)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// checkFields requires every asked field in the schema of a selected source.
func checkFields(q queryRequest, srcs []store.DataSource) *apiError {
	var details []Detail
	for i, name := range q.fields {
		found := false
		for _, src := range srcs {
			if _, ok := src.Schema[name]; ok {
				found = true
				break
			}
		}
		if !found {
			details = append(details, Detail{Path: q.fieldPaths[i], Message: fmt.Sprintf("Unknown field '%s' for the selected data sources", name)})
		}
	}
	if details != nil {
		return validationError("Invalid request body", details...)
	}
	return nil
}

// allDownsampling reports whether every selected source allows downsampling.
func allDownsampling(srcs []store.DataSource) bool {
	for _, src := range srcs {
		if !src.Downsampling {
			return false
		}
	}
	return true
}

func writeNoMatch(ctx *fasthttp.RequestCtx, note *replication.ReadNote) {
	if note == nil || !note.Partial {
		writeRawJSON(ctx, fasthttp.StatusOK, []byte(`{"data":[],"metadata":{"count":0}}`))
		return
	}
	out := appendPartial([]byte(`{"data":[],"metadata":{"count":0`), note)
	writeRawJSON(ctx, fasthttp.StatusOK, append(out, `}}`...))
}

// writeRawAnswer answers a raw query. No match at all (total 0) is the
// documented empty answer; a page past the end of a non-empty result keeps
// the paging metadata, so the client sees the total.
func writeRawAnswer(ctx *fasthttp.RequestCtx, res points.RawResult, limit, offset int, note *replication.ReadNote) {
	if res.Total == 0 {
		writeNoMatch(ctx, note)
		return
	}
	size := 128
	for i := range res.Points {
		size += 160 + 32*len(res.Points[i].Values) + len(res.Points[i].Metadata)
	}
	out := slices.Grow(responseBuffer(ctx), size)
	out = append(out, `{"data":[`...)
	var ts timestampAppender
	var source string // the last point's, quoted in out[quoted:quotedEnd]
	quoted, quotedEnd := 0, 0
	for i := range res.Points {
		pt := &res.Points[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"_id":"`...)
		out = points.AppendPointID(out, pt.SourceID, pt.TS)
		out = append(out, `","dataSourceId":`...)
		if i == 0 || pt.SourceID != source {
			source, quoted = pt.SourceID, len(out)
			out = appendJSONString(out, pt.SourceID)
			quotedEnd = len(out)
		} else {
			out = append(out, out[quoted:quotedEnd]...)
		}
		out = append(out, `,"timestamp":"`...)
		out = ts.append(out, pt.TS)
		out = append(out, `","values":`...)
		out = appendPointValues(out, pt.Values)
		out = append(out, `,"metadata":`...)
		out = appendMetadata(out, pt.Metadata)
		out = append(out, '}')
	}
	n := len(res.Points)
	out = append(out, `],"metadata":{"count":`...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, `,"total":`...)
	out = strconv.AppendInt(out, res.Total, 10)
	out = append(out, `,"limit":`...)
	out = strconv.AppendInt(out, int64(limit), 10)
	out = append(out, `,"offset":`...)
	out = strconv.AppendInt(out, int64(offset), 10)
	out = append(out, `,"hasMore":`...)
	out = strconv.AppendBool(out, int64(offset)+int64(n) < res.Total)
	out = appendPartial(out, note)
	out = append(out, `}}`...)
	writeResponseBuffer(ctx, fasthttp.StatusOK, out)
}

// writeAggAnswer answers an aggregated query; groupBy "" is written as null.
func writeAggAnswer(ctx *fasthttp.RequestCtx, rows []points.Row, agg, groupBy string, downsampled bool, note *replication.ReadNote) {
	if len(rows) == 0 {
		writeNoMatch(ctx, note)
		return
	}
	out := make([]byte, 0, 128+len(rows)*(120+24*len(rows[0].Values)))
	out = append(out, `{"data":[`...)
	for i := range rows {
		row := &rows[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"dataSourceId":`...)
		out = appendJSONString(out, row.SourceID)
		out = append(out, `,"timestamp":"`...)
		out = appendTimestamp(out, row.Start)
		out = append(out, `","values":`...)
		out = appendJSONMap(out, row.Values)
		out = append(out, `,"count":`...)
		out = strconv.AppendInt(out, row.Count, 10)
		out = append(out, '}')
	}
	out = append(out, `],"metadata":{"count":`...)
	out = strconv.AppendInt(out, int64(len(rows)), 10)
	out = append(out, `,"aggregation":`...)
	out = appendJSONString(out, agg)
	out = append(out, `,"groupBy":`...)
	if groupBy == "" {
		out = append(out, "null"...)
	} else {
		out = appendJSONString(out, groupBy)
	}
	if downsampled {
		out = append(out, `,"downsamplingApplied":true`...)
	}
	out = appendPartial(out, note)
	out = append(out, `}}`...)
	writeRawJSON(ctx, fasthttp.StatusOK, out)
}
