package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// POST /api/data and /api/data/batch follow docs/api.md; where it is silent:
//   - checks run in this order: JSON, bucketId format, permission, archived
//     bucket (409), then the points, every problem reported (up to 100);
//   - a malformed dataSourceId of a single point is 400 "Invalid data source
//     ID format", an unknown one 404; in a batch both are details of the point;
//   - values must be non-empty; strings at most 1024 characters of valid
//     UTF-8; numbers finite and in JSON's own grammar; duplicate keys are 400;
//   - metadata is an optional object of at most 8 KiB as compact JSON;
//   - a timestamp older than now minus the bucket's retention is 400; future
//     ones are accepted up to year 2261;
//   - in a batch, of two points with the same (dataSourceId, timestamp) the
//     later wins, and count is the number of points sent.

// Ingest limits.
const (
	maxBatchPoints   = 1000
	maxStringValue   = 1024    // characters of a string value
	maxMetadataBytes = 8 << 10 // of a point's metadata, as compact JSON
	maxDetails       = 100     // validation details reported per request
)

var errArchived = &apiError{Status: fasthttp.StatusConflict, Type: typeConflict, Message: "Bucket is archived"}

// ingest answers POST /api/data: one point.
func (s *Server) ingest(c *call) error {
	level, aerr := writeConsistency(c)
	if aerr != nil {
		return aerr
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	bd, aerr := parseWith(p, c.ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	b, err := s.ingestBucket(c, bd)
	if err != nil {
		return err
	}
	srcID, err := bodyID(bd.obj, []any{"body", "dataSourceId"}, "data source")
	if err != nil {
		return err
	}
	src, err := s.readSource()(b.ID, srcID)
	if err != nil {
		return err
	}
	now := s.now()
	r := newPointReader(b, now)
	pt := r.point([]any{"body"}, bd.obj, &src)
	if r.failed > 0 {
		return validationError("Invalid data point", r.details...)
	}
	if err := s.writePoints(b.ID, []points.Point{pt}, level); err != nil {
		return err
	}

	out := make([]byte, 0, 256+len(pt.Metadata))
	out = append(out, `{"data":{"_id":"`...)
	out = append(out, points.PointID(pt.SourceID, pt.TS)...)
	out = append(out, `","bucketId":`...)
	out = appendJSONString(out, b.ID)
	out = append(out, `,"dataSourceId":`...)
	out = appendJSONString(out, pt.SourceID)
	out = append(out, `,"timestamp":"`...)
	out = appendTimestamp(out, pt.TS)
	out = append(out, `","values":`...)
	out = appendPointValues(out, pt.Values)
	out = append(out, `,"metadata":`...)
	out = appendMetadata(out, pt.Metadata)
	out = append(out, `,"createdAt":"`...)
	out = appendTimestamp(out, now.UnixNano())
	out = append(out, `"},"metadata":{}}`...)
	writeRawJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}

// ingestBatch answers POST /api/data/batch: all the points, or none.
func (s *Server) ingestBatch(c *call) error {
	level, aerr := writeConsistency(c)
	if aerr != nil {
		return aerr
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	bd, aerr := parseWith(p, c.ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	b, err := s.ingestBucket(c, bd)
	if err != nil {
		return err
	}
	withdraw := s.cfg.Points.Announce(b.ID)
	defer withdraw()
	listPath := []any{"body", "dataPoints"}
	v := bd.obj.Get("dataPoints")
	if v == nil || v.Type() == fastjson.TypeNull {
		return validationError("Invalid request body", Detail{Path: listPath, Message: "Required"})
	}
	list, err := v.Array()
	if err != nil {
		return validationError("Invalid request body", Detail{Path: listPath, Message: "Expected array, received " + typeName(v)})
	}
	if len(list) == 0 {
		return validationError("Invalid request body", Detail{Path: listPath, Message: "Array must contain at least 1 element(s)"})
	}
	if len(list) > maxBatchPoints {
		return validationError("Invalid request body", Detail{Path: listPath, Message: fmt.Sprintf("Array must contain at most %d element(s)", maxBatchPoints)})
	}

	r := newPointReader(b, s.now())
	lookup := s.readSource()
	pts, err := readBatch(r, list, func(id string) (*store.DataSource, error) {
		d, err := lookup(b.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return &d, err
	})
	if err != nil {
		return err
	}
	if r.failed > 0 {
		return validationError("Invalid data points", r.details...)
	}
	// Two points with the same (source, timestamp): the store keeps the later.
	withdraw()
	if err := s.writePoints(b.ID, pts, level); err != nil {
		return err
	}
	out := append([]byte(`{"data":{"count":`), strconv.Itoa(len(list))...)
	out = append(out, `},"metadata":{}}`...)
	writeRawJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}

// readBatch reads the points of a batch's list; source looks a data source
// up by id and returns nil when the bucket has none of that id. Problems go
// to r; an error is one of the lookup's own.
func readBatch(r *pointReader, list []*fastjson.Value, source func(id string) (*store.DataSource, error)) ([]points.Point, error) {
	sources := make(map[string]*store.DataSource)
	pts := make([]points.Point, 0, len(list))
	// One path slice for the whole batch: problems copy it and put the
	// point's index in place of batchIndex, so a valid batch boxes no index.
	base := []any{"body", "dataPoints", batchIndex{}}
	for i, item := range list {
		r.index = i
		obj, err := item.Object()
		if err != nil {
			r.fail(base, nil, "Expected object, received %s", typeName(item))
			continue
		}
		// Most points name a source seen earlier in the batch: find it by
		// the raw bytes before validating and copying the id.
		var src *store.DataSource
		seen := false
		if v := obj.Get("dataSourceId"); v != nil && v.Type() == fastjson.TypeString {
			src, seen = sources[string(v.GetStringBytes())]
		}
		if !seen {
			srcID, problem := readID(obj, "dataSourceId", "data source")
			if problem != "" {
				r.fail(base, []any{"dataSourceId"}, "%s", problem)
				continue
			}
			if src, err = source(srcID); err != nil {
				return nil, err
			}
			sources[srcID] = src
		}
		if src == nil {
			r.fail(base, []any{"dataSourceId"}, "Data source not found in this bucket")
			continue
		}
		pts = append(pts, r.point(base, obj, src))
	}
	return pts, nil
}

// sharedSources is a Meta that can return a data source whose maps it
// shares, read-only: a batch only reads its sources' schemas, so copying
// them per lookup (as Source does) is waste on the hottest path.
type sharedSources interface {
	SharedSource(bucketID, id string) (store.DataSource, error)
}

// readSource returns the cheapest lookup of a data source that is only read.
func (s *Server) readSource() func(bucketID, id string) (store.DataSource, error) {
	if m, ok := s.cfg.Meta.(sharedSources); ok {
		return m.SharedSource
	}
	return s.cfg.Meta.Source
}

// sharedSourcesByName is sharedSources for lookups by name.
type sharedSourcesByName interface {
	SharedSourceByName(bucketID, name string) (store.DataSource, error)
}

// readSourceByName is readSource for lookups by name.
func (s *Server) readSourceByName() func(bucketID, name string) (store.DataSource, error) {
	if m, ok := s.cfg.Meta.(sharedSourcesByName); ok {
		return m.SharedSourceByName
	}
	return s.cfg.Meta.SourceByName
}

// ingestBucket reads bucketId and loads the bucket a write key may write to.
func (s *Server) ingestBucket(c *call, bd *body) (store.Bucket, error) {
	id, err := bodyID(bd.obj, []any{"body", "bucketId"}, "bucket")
	if err != nil {
		return store.Bucket{}, err
	}
	b, err := s.bucketAccess(c, id, true)
	if err != nil {
		return store.Bucket{}, err
	}
	if b.Status == store.BucketArchived {
		return store.Bucket{}, errArchived
	}
	return b, nil
}

// bodyID reads a required id field of obj, the last element of path; any
// problem with it is a 400 "Invalid <what> ID format".
func bodyID(obj *fastjson.Object, path []any, what string) (string, error) {
	id, problem := readID(obj, path[len(path)-1].(string), what)
	if problem != "" {
		return "", validationError("Invalid "+what+" ID format", Detail{Path: path, Message: problem})
	}
	return id, nil
}

// readID reads a required id field, or says what is wrong with it.
func readID(obj *fastjson.Object, name, what string) (id, problem string) {
	v := obj.Get(name)
	if v == nil || v.Type() == fastjson.TypeNull {
		return "", "Required"
	}
	raw, err := v.StringBytes()
	if err != nil {
		return "", "Expected string, received " + typeName(v)
	}
	if !objectid.Valid(string(raw)) {
		return "", "Invalid " + what + " ID format"
	}
	return string(raw), ""
}

// writePoints stores pts durably at the given consistency, bounded by the
// apply timeout.
func (s *Server) writePoints(bucketID string, pts []points.Point, level replication.Consistency) error {
	if err := s.checkSourcesActive(bucketID, pts); err != nil {
		return err
	}
	return s.storePoints(bucketID, pts, level)
}

// storePoints is writePoints for points whose sources were just found
// active (a series writer checks each source it looked up).
func (s *Server) storePoints(bucketID string, pts []points.Point, level replication.Consistency) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	if err := s.cfg.Points.Write(ctx, bucketID, level, pts); err != nil {
		return pointsError(err)
	}
	s.countIngested(len(pts))
	return nil
}

// writeConsistency reads the optional ?consistency= of a write.
func writeConsistency(c *call) (replication.Consistency, *apiError) {
	raw := c.ctx.QueryArgs().Peek("consistency")
	if raw == nil {
		return replication.ConsistencyDefault, nil
	}
	level, err := replication.ParseConsistency(string(raw))
	if err != nil {
		return 0, validationError("Invalid consistency", Detail{Path: []any{"query", "consistency"}, Message: "Expected 'one' | 'quorum' | 'all'"})
	}
	return level, nil
}

// readNote reads the optional ?allowPartial= of a read and returns the note
// the Points store fills in.
func readNote(c *call) (*replication.ReadNote, *apiError) {
	note := &replication.ReadNote{}
	switch raw := c.ctx.QueryArgs().Peek("allowPartial"); string(raw) {
	case "", "true":
	case "false":
		note.RefusePartial = true
	default:
		return nil, validationError("Invalid allowPartial", Detail{Path: []any{"query", "allowPartial"}, Message: "Expected 'true' | 'false'"})
	}
	return note, nil
}

// appendPartial adds the partial-answer fields to an answer's metadata.
func appendPartial(out []byte, note *replication.ReadNote) []byte {
	if note == nil || !note.Partial {
		return out
	}
	out = append(out, `,"partial":true,"partialReason":`...)
	return appendJSONString(out, note.Reason)
}

// pointsError maps the points store's errors to the wire.
func pointsError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, points.ErrClosed), errors.Is(err, points.ErrDiskFull), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	case errors.Is(err, points.ErrBadQuery):
		return validationError("Invalid query: " + err.Error())
	case errors.Is(err, points.ErrTooLarge):
		return &apiError{Status: fasthttp.StatusRequestEntityTooLarge, Type: typeTooLarge, Message: "Batch too large to store at once; send it in smaller batches"}
	}
	return err
}

// pointReader validates points for one bucket, collecting what is wrong.
type pointReader struct {
	bucket  store.Bucket
	now     int64
	oldest  int64 // points before this are outside retention
	failed  int   // problems found; details holds the first maxDetails
	details []Detail
	index   int // of the batch's point being read, for batchIndex in paths
	names   map[string]string
	valBuf  []points.Value // backs the points' Values; never reused across requests
	numBuf  []byte         // scratch for a number's token
}

func newPointReader(b store.Bucket, now time.Time) *pointReader {
	return &pointReader{
		bucket: b,
		now:    now.UnixNano(),
		oldest: now.Add(-time.Duration(b.RetentionDays) * 24 * time.Hour).UnixNano(),
	}
}

// intern returns k as a string, one allocation per distinct field name in a
// request rather than one per value.
func (r *pointReader) intern(k []byte) string {
	if s, ok := r.names[string(k)]; ok {
		return s
	}
	if r.names == nil {
		r.names = make(map[string]string)
	}
	s := string(k)
	r.names[s] = s
	return s
}

// batchIndex stands in a path for the index of the point being read
// (pointReader.index), filled in only when a problem is reported.
type batchIndex struct{}

func (r *pointReader) fail(base, rel []any, format string, args ...any) {
	r.failed++
	if len(r.details) >= maxDetails {
		return
	}
	path := subPath(base, rel...)
	for i, e := range path {
		if _, ok := e.(batchIndex); ok {
			path[i] = r.index
		}
	}
	r.details = append(r.details, Detail{Path: path, Message: fmt.Sprintf(format, args...)})
}

func appendCapped(ds []Detail, more ...Detail) []Detail {
	for _, d := range more {
		if len(ds) >= maxDetails {
			break
		}
		ds = append(ds, d)
	}
	return ds
}

// subPath returns base followed by rel, in a new slice.
func subPath(base []any, rel ...any) []any {
	out := make([]any, 0, len(base)+len(rel))
	return append(append(out, base...), rel...)
}

// point reads a point of src from obj: timestamp, values and metadata.
// Problems are recorded under base; the point is valid when none were.
// Paths are built only for problems, so a valid batch allocates none.
func (r *pointReader) point(base []any, obj *fastjson.Object, src *store.DataSource) points.Point {
	pt := points.Point{SourceID: src.ID, TS: r.now}
	if v := obj.Get("timestamp"); v != nil && v.Type() != fastjson.TypeNull {
		if ts, ok := r.timestamp(base, v); ok {
			pt.TS = ts
		}
	}
	pt.Values = r.values(base, obj.Get("values"), src.Schema)
	pt.Metadata = r.metadata(base, obj.Get("metadata"))
	return pt
}

func (r *pointReader) timestamp(base []any, v *fastjson.Value) (int64, bool) {
	raw, err := v.StringBytes()
	if err != nil {
		r.fail(base, []any{"timestamp"}, "Expected string, received %s", typeName(v))
		return 0, false
	}
	ts, ok := parseUTCTimestamp(raw)
	problem := ""
	if !ok {
		ts, problem, ok = parseTimestamp(string(raw))
	}
	if !ok {
		r.fail(base, []any{"timestamp"}, "%s", problem)
		return 0, false
	}
	if ts < r.oldest {
		r.fail(base, []any{"timestamp"}, "Timestamp is outside the bucket's retention window (%d days)", r.bucket.RetentionDays)
		return 0, false
	}
	return ts, true
}

// values reads the values object against the source's schema and returns
// them sorted by field.
func (r *pointReader) values(base []any, v *fastjson.Value, schema map[string]store.Field) []points.Value {
	if v == nil || v.Type() == fastjson.TypeNull {
		r.fail(base, []any{"values"}, "Required")
		return nil
	}
	obj, err := v.Object()
	if err != nil {
		r.fail(base, []any{"values"}, "Expected object, received %s", typeName(v))
		return nil
	}
	if obj.Len() == 0 {
		r.fail(base, []any{"values"}, "Values must contain at least one field")
		return nil
	}
	// Carve each point's values out of one buffer per request: a batch of
	// 1000 points makes a handful of allocations, not a thousand.
	if cap(r.valBuf)-len(r.valBuf) < obj.Len() {
		r.valBuf = make([]points.Value, 0, max(obj.Len()*64, 256))
	}
	start := len(r.valBuf)
	vals := r.valBuf[start:start:cap(r.valBuf)]
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		f, ok := schema[string(k)]
		if !ok {
			r.fail(base, []any{"values", string(k)}, "Unknown field '%s' for this data source", k)
			return
		}
		name := r.intern(k)
		if val, problem := r.value(fv, f.Type); problem != "" {
			r.fail(base, []any{"values", name}, "%s", problem)
		} else {
			val.Field = name
			vals = append(vals, val)
		}
	})
	vals = vals[:len(vals):len(vals)]
	r.valBuf = r.valBuf[:start+len(vals)]
	if !slices.IsSortedFunc(vals, func(a, b points.Value) int { return strings.Compare(a.Field, b.Field) }) {
		slices.SortStableFunc(vals, func(a, b points.Value) int { return strings.Compare(a.Field, b.Field) })
	}
	for i := 1; i < len(vals); i++ {
		if vals[i].Field == vals[i-1].Field {
			r.fail(base, []any{"values", vals[i].Field}, "Duplicate field '%s'", vals[i].Field)
		}
	}
	return vals
}

// value reads one value whose schema type is typ, or says why it cannot.
func (r *pointReader) value(v *fastjson.Value, typ string) (points.Value, string) {
	switch typ {
	case "number":
		if v.Type() != fastjson.TypeNumber {
			break
		}
		// The token goes through r's scratch: a buffer on the stack would
		// escape through MarshalTo, one allocation per value.
		r.numBuf = v.MarshalTo(r.numBuf[:0])
		f, problem := jsonNumberBytes(r.numBuf)
		if problem != "" {
			return points.Value{}, problem
		}
		return points.Value{Kind: points.KindNumber, Num: f}, ""
	case "string":
		raw, err := v.StringBytes()
		if err != nil {
			break
		}
		if !utf8.Valid(raw) {
			return points.Value{}, "String must be valid UTF-8"
		}
		if len(raw) > maxStringValue && utf8.RuneCount(raw) > maxStringValue {
			return points.Value{}, fmt.Sprintf("String must contain at most %d character(s)", maxStringValue)
		}
		return points.Value{Kind: points.KindString, Str: string(raw)}, ""
	case "boolean":
		switch v.Type() {
		case fastjson.TypeTrue:
			return points.Value{Kind: points.KindBool, Bool: true}, ""
		case fastjson.TypeFalse:
			return points.Value{Kind: points.KindBool}, ""
		}
	default:
		return points.Value{}, fmt.Sprintf("Field has unsupported schema type '%s'", typ)
	}
	return points.Value{}, fmt.Sprintf("Expected %s, received %s", typ, typeName(v))
}

// jsonNumber returns a number value as float64, or why it is refused.
// fastjson accepts NaN, Inf and loose tokens such as "1-2" as numbers; only
// finite numbers in JSON's own grammar are taken.
func jsonNumber(v *fastjson.Value) (float64, string) {
	var buf [32]byte
	return jsonNumberBytes(v.MarshalTo(buf[:0]))
}

// jsonNumberBytes is jsonNumber of a number's token.
func jsonNumberBytes(raw []byte) (float64, string) {
	if !validJSONNumber(raw) {
		if s := strings.ToLower(string(raw)); strings.Contains(s, "nan") || strings.Contains(s, "inf") {
			return 0, "Number must be finite (NaN and Infinity are not allowed)"
		}
		return 0, "Invalid number"
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, "Number must be finite (NaN and Infinity are not allowed)"
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, "Invalid number"
	}
	return f, ""
}

// validJSONNumber reports whether b follows JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validJSONNumber(b []byte) bool {
	i, n := 0, len(b)
	digits := func() int {
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < n && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n
}

// metadata reads the optional metadata object and returns it as compact
// JSON, or nil when absent or empty.
func (r *pointReader) metadata(base []any, v *fastjson.Value) []byte {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	obj, err := v.Object()
	if err != nil {
		r.fail(base, []any{"metadata"}, "Expected object, received %s", typeName(v))
		return nil
	}
	if obj.Len() == 0 {
		return nil
	}
	out, problem := appendCompactJSON(nil, v)
	if problem != "" {
		r.fail(base, []any{"metadata"}, "%s", problem)
		return nil
	}
	if len(out) > maxMetadataBytes {
		r.fail(base, []any{"metadata"}, "Metadata must be at most %d bytes as JSON", maxMetadataBytes)
		return nil
	}
	return out
}

// appendCompactJSON re-encodes v as compact, strict JSON. fastjson's own
// MarshalTo copies string and number tokens verbatim, and its parser lets
// through tokens JSON forbids (NaN, raw control characters), which would
// make every later answer carrying this metadata invalid JSON.
func appendCompactJSON(dst []byte, v *fastjson.Value) ([]byte, string) {
	switch v.Type() {
	case fastjson.TypeObject:
		obj, _ := v.Object()
		dst = append(dst, '{')
		first, problem := true, ""
		obj.Visit(func(k []byte, fv *fastjson.Value) {
			if problem != "" || len(dst) > maxMetadataBytes {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, string(k))
			dst = append(dst, ':')
			dst, problem = appendCompactJSON(dst, fv)
		})
		return append(dst, '}'), problem
	case fastjson.TypeArray:
		arr, _ := v.Array()
		dst = append(dst, '[')
		for i, item := range arr {
			if len(dst) > maxMetadataBytes {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			var problem string
			if dst, problem = appendCompactJSON(dst, item); problem != "" {
				return dst, problem
			}
		}
		return append(dst, ']'), ""
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return appendJSONString(dst, string(s)), ""
	case fastjson.TypeNumber:
		n := len(dst)
		dst = v.MarshalTo(dst)
		if _, problem := jsonNumberBytes(dst[n:]); problem != "" {
			return dst[:n], problem
		}
		return dst, ""
	default: // true, false, null
		return v.MarshalTo(dst), ""
	}
}

// appendPointValues appends a point's values as a JSON object.
func appendPointValues(dst []byte, vals []points.Value) []byte {
	dst = append(dst, '{')
	for i := range vals {
		v := &vals[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v.Field)
		dst = append(dst, ':')
		switch v.Kind {
		case points.KindNumber:
			dst = appendJSONFloat(dst, v.Num)
		case points.KindString:
			dst = appendJSONString(dst, v.Str)
		case points.KindBool:
			dst = strconv.AppendBool(dst, v.Bool)
		default:
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}')
}

// appendMetadata appends stored metadata, which ingest wrote as compact JSON;
// none is the empty object.
func appendMetadata(dst, md []byte) []byte {
	if len(md) == 0 {
		return append(dst, "{}"...)
	}
	return append(dst, md...)
}
