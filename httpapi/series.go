package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// seriesWriter gathers the rows of an ingest protocol (line protocol,
// Prometheus remote write, MQTT) for one bucket: each row names its data
// source by series name, and sources missing get created before anything
// is written. It serves one request at a time; release hands it back for
// the next, keeping its buffers.
//
// Problems with a row are *rowError: the protocol adds where the row was.
type seriesWriter struct {
	s      *Server
	bucket store.Bucket
	oldest int64
	series map[string]*seriesAcc
	fresh  []*seriesAcc // sources to create, in first-seen order
	pts    []pendingPoint
	at     map[pointKey]int // index in pts of a series' point at a time; nil while rows come in order
	names  map[string]string
	valBuf []points.Value
	spare  []*seriesAcc // accumulators of earlier requests, to reuse
	used   []*seriesAcc // this request's, handed back by release
	// withdraw ends the announcement of this request's write to the store
	// (Points.Announce), once its points are handed on.
	withdraw func()
}

// seriesAcc is one series of the request and its data source.
type seriesAcc struct {
	name   string
	src    *store.DataSource // nil until created; else &srcVal
	srcVal store.DataSource
	tags   map[string]string
	fields map[string]store.Field // fields seen, for a source to create
	last   int                    // index in pts of its newest point; -1: none
	lastTS int64
	// checked are the fields already accepted for this series in the
	// request: rows of a series repeat the same few fields, and a short
	// scan spares the schema and name lookups of every value.
	checked    []checkedField
	checkedBuf [4]checkedField
}

type checkedField struct{ name, typ string }

// maxChecked bounds acc.checked; a series with more fields takes the
// lookups for the rest.
const maxChecked = 16

// knownField returns the interned name of field if it was accepted as typ.
func (acc *seriesAcc) knownField(field []byte, typ string) (string, bool) {
	for _, c := range acc.checked {
		if c.name == string(field) {
			return c.name, c.typ == typ
		}
	}
	return "", false
}

type pointKey struct {
	acc *seriesAcc
	ts  int64
}

type pendingPoint struct {
	acc  *seriesAcc
	ts   int64
	vals []points.Value
	md   []byte // compact JSON metadata, if any
}

// rowError is a problem with one row; the request is refused with 400.
type rowError struct{ msg string }

func (e *rowError) Error() string { return e.msg }

func rowErrorf(format string, args ...any) error {
	return &rowError{msg: fmt.Sprintf(format, args...)}
}

// seriesWriters keeps writers between requests: a request of a thousand
// lines otherwise allocates its pending points and series again.
var seriesWriters = sync.Pool{New: func() any {
	return &seriesWriter{series: make(map[string]*seriesAcc), names: make(map[string]string)}
}}

// Bounds on what a pooled writer keeps.
const (
	maxPooledPending = 1 << 14
	maxPooledNames   = 1 << 10
	maxPooledSeries  = 1 << 12
)

func (s *Server) newSeriesWriter(b store.Bucket) *seriesWriter {
	w := seriesWriters.Get().(*seriesWriter)
	w.s, w.bucket, w.oldest = s, b, newPointReader(b, s.now()).oldest
	w.withdraw = s.cfg.Points.Announce(b.ID)
	return w
}

// release hands w back to the pool once its request is done with it.
// What the store keeps is not reused: the values carved from valBuf
// (each carved slice is full, so nothing appends into another's room),
// the interned names (strings), and the sources' schemas and tags.
func (w *seriesWriter) release() {
	w.withdraw()
	w.withdraw = nil
	clear(w.pts)
	w.pts = w.pts[:0]
	if cap(w.pts) > maxPooledPending {
		w.pts = nil
	}
	for _, acc := range w.used {
		*acc = seriesAcc{}
	}
	if len(w.spare)+len(w.used) <= maxPooledSeries {
		w.spare = append(w.spare, w.used...)
	}
	clear(w.used)
	w.used = w.used[:0]
	clear(w.series)
	clear(w.fresh)
	w.fresh = w.fresh[:0]
	if len(w.names) > maxPooledNames {
		clear(w.names)
	}
	w.s, w.bucket, w.at = nil, store.Bucket{}, nil
	seriesWriters.Put(w)
}

// newAcc returns a zeroed accumulator, reused if there is one.
func (w *seriesWriter) newAcc() *seriesAcc {
	var acc *seriesAcc
	if n := len(w.spare); n > 0 {
		acc, w.spare = w.spare[n-1], w.spare[:n-1]
	} else {
		acc = new(seriesAcc)
	}
	w.used = append(w.used, acc)
	return acc
}

func (w *seriesWriter) intern(b []byte) string {
	if s, ok := w.names[string(b)]; ok {
		return s
	}
	s := string(b)
	w.names[s] = s
	return s
}

// source returns the series' accumulator, looking its source up on first
// sight; tags builds the tags a new source keeps.
func (w *seriesWriter) source(name []byte, tags func() map[string]string) (*seriesAcc, error) {
	if acc, ok := w.series[string(name)]; ok {
		return acc, nil
	}
	if n := utf8.RuneCount(name); n > maxNameLen {
		return nil, rowErrorf("series %s names a data source of %d characters; at most %d are allowed", quoteClipped(name), n, maxNameLen)
	}
	acc := w.newAcc()
	acc.name, acc.last = string(name), -1
	src, err := w.s.readSourceByName()(w.bucket.ID, acc.name) // only read
	switch {
	case err == nil:
		acc.srcVal = src
		acc.src = &acc.srcVal
	case errors.Is(err, store.ErrNotFound):
		acc.tags = tags()
		acc.fields = make(map[string]store.Field)
		w.fresh = append(w.fresh, acc)
	default:
		return nil, err
	}
	w.series[acc.name] = acc
	return acc, nil
}

// add records one value of the series at ts. Values of a series at one
// time merge into one point; of one field, the later wins.
// hint is how many values the row has, to size a new point's.
func (w *seriesWriter) add(acc *seriesAcc, ts int64, field []byte, v points.Value, hint int) error {
	if ts < minTimestampNS || ts > maxTimestampNS {
		return rowErrorf("timestamp %d ns is out of range: year must be between %d and %d", ts, minTimestampYear, maxTimestampYear)
	}
	if ts < w.oldest {
		return rowErrorf("timestamp %s is outside the bucket's retention window (%d days)", string(appendTimestamp(nil, ts)), w.bucket.RetentionDays)
	}
	typ := kindType(v.Kind)
	name, ok := acc.knownField(field, typ)
	if !ok {
		if err := w.checkField(acc, field, typ); err != nil {
			return err
		}
		name = w.intern(field)
		if acc.checked == nil {
			acc.checked = acc.checkedBuf[:0]
		}
		if len(acc.checked) < maxChecked {
			acc.checked = append(acc.checked, checkedField{name, typ})
		}
	}
	if v.Kind == points.KindString && utf8.RuneCountInString(v.Str) > maxStringValue {
		return rowErrorf("field %q: string must contain at most %d character(s)", field, maxStringValue)
	}
	v.Field = name
	if p := w.find(acc, ts); p != nil {
		for j := range p.vals {
			if p.vals[j].Field == v.Field {
				p.vals[j] = v
				return nil
			}
		}
		p.vals = append(p.vals, v) // beyond its hint, append copies: no neighbour is touched
		return nil
	}
	// Carve the values of points out of shared chunks, hint slots each: a
	// request of a thousand lines makes a handful of allocations. Chunks
	// start small and double, so a one-point message (MQTT) does not pay
	// for a thousand.
	hint = max(hint, 1)
	if cap(w.valBuf)-len(w.valBuf) < hint {
		w.valBuf = make([]points.Value, 0, min(max(hint*4, 2*cap(w.valBuf)), max(hint*256, 1024)))
	}
	start := len(w.valBuf)
	w.valBuf = w.valBuf[:start+hint]
	vals := append(w.valBuf[start:start:start+hint], v)
	if w.at != nil {
		w.at[pointKey{acc, ts}] = len(w.pts)
	}
	acc.last, acc.lastTS = len(w.pts), ts
	w.pts = append(w.pts, pendingPoint{acc: acc, ts: ts, vals: vals})
	return nil
}

// checkField accepts field as typ for acc: against its source's schema,
// or, for a source to create, against the series' earlier rows.
func (w *seriesWriter) checkField(acc *seriesAcc, field []byte, typ string) error {
	if acc.src != nil {
		f, ok := acc.src.Schema[string(field)]
		if !ok {
			return rowErrorf("field %q is not in the schema of data source %q", field, acc.name)
		}
		if f.Type != typ {
			return rowErrorf("field %q is a %s; the schema of data source %q says %s", field, typ, acc.name, f.Type)
		}
		return nil
	}
	if f, ok := acc.fields[string(field)]; ok {
		if f.Type != typ {
			return rowErrorf("field %q is a %s here and a %s in an earlier line of series %q", field, typ, f.Type, acc.name)
		}
		return nil
	}
	if !fieldNameRE.Match(field) {
		return rowErrorf("field name %s: it must start with a letter or underscore and contain only letters, digits, '_', '.', '-' (at most 64 characters)", quoteClipped(field))
	}
	if len(acc.fields) >= maxSchemaFields {
		return rowErrorf("series %q has more than %d fields", acc.name, maxSchemaFields)
	}
	acc.fields[string(field)] = store.Field{Type: typ}
	return nil
}

// find returns the series' point at ts already in the request, if any.
// Rows mostly come in time order per series: the series' newest point
// answers without a map, which is built only once a row goes back in time.
func (w *seriesWriter) find(acc *seriesAcc, ts int64) *pendingPoint {
	if acc.last < 0 {
		return nil
	}
	if ts == acc.lastTS {
		return &w.pts[acc.last]
	}
	if ts > acc.lastTS && w.at == nil {
		return nil
	}
	if w.at == nil {
		w.at = make(map[pointKey]int, len(w.pts))
		for i, p := range w.pts {
			w.at[pointKey{p.acc, p.ts}] = i
		}
	}
	if i, ok := w.at[pointKey{acc, ts}]; ok {
		return &w.pts[i]
	}
	return nil
}

func kindType(k points.Kind) string {
	switch k {
	case points.KindString:
		return "string"
	case points.KindBool:
		return "boolean"
	}
	return "number"
}

// commit creates the missing sources (one Raft round each), then stores
// every point at once: all of them or none.
func (w *seriesWriter) commit(level replication.Consistency) error {
	pts, err := w.points()
	w.withdraw()
	if err != nil || len(pts) == 0 {
		return err
	}
	return w.s.storePoints(w.bucket.ID, pts, level)
}

// points creates the missing sources and returns the points to store.
func (w *seriesWriter) points() ([]points.Point, error) {
	if len(w.pts) == 0 {
		return nil, nil
	}
	// An inactive source refuses the whole request (409), which must then
	// leave none of its new sources behind: checked before creating them.
	for _, acc := range w.used {
		if acc.src != nil && acc.src.Status == store.SourceInactive {
			return nil, errSourceInactive(acc.name)
		}
	}
	if err := w.createSources(); err != nil {
		return nil, err
	}
	pts := make([]points.Point, len(w.pts))
	for i, p := range w.pts {
		if cmp := func(a, b points.Value) int { return strings.Compare(a.Field, b.Field) }; !slices.IsSortedFunc(p.vals, cmp) {
			slices.SortFunc(p.vals, cmp)
		}
		pts[i] = points.Point{SourceID: p.acc.src.ID, TS: p.ts, Values: p.vals, Metadata: p.md}
	}
	return pts, nil
}

func (w *seriesWriter) createSources() error {
	if len(w.fresh) == 0 {
		return nil
	}
	b := w.bucket
	_, limits := w.s.cfg.Limiter.Plan(b.OrganizationID)
	// Refuse before creating any, so that a request over the limit leaves
	// nothing behind; the state machine checks again for races.
	if max := limits.MaxDataSources; max > 0 && w.s.cfg.Meta.OrgSourceCount(b.OrganizationID)+len(w.fresh) > max {
		return forbidden(fmt.Sprintf("Plan limit reached: the plan allows %d data sources; this request needs %d new ones", max, len(w.fresh)))
	}
	// Each source is its own Raft round; a few run at once, so a first
	// write of many series does not wait for them one by one.
	sem := make(chan struct{}, createParallelism)
	errs := make([]error, len(w.fresh))
	var wg sync.WaitGroup
	for i, acc := range w.fresh {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.createSource(acc, limits)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createParallelism bounds the CreateSource rounds one request runs at once.
const createParallelism = 8

// createSource creates acc's source, or adopts the one a concurrent
// request created under the same name if its schema takes these values.
func (w *seriesWriter) createSource(acc *seriesAcc, limits store.PlanLimits) error {
	b := w.bucket
	now := w.s.now()
	src := store.DataSource{
		ID: objectid.New(now), BucketID: b.ID, OrganizationID: b.OrganizationID, Name: acc.name,
		Type: "api", Schema: acc.fields, Tags: acc.tags, Downsampling: true, Status: "active",
		CreatedAt: now, UpdatedAt: now,
	}
	_, err := w.s.apply(store.CreateSource{Source: src, Limits: limits})
	if errors.Is(err, store.ErrConflict) {
		got, lerr := w.s.cfg.Meta.SourceByName(b.ID, acc.name)
		if lerr != nil {
			return err
		}
		for name, f := range acc.fields {
			if have, ok := got.Schema[name]; !ok || have.Type != f.Type {
				return &apiError{Status: fasthttp.StatusBadRequest, Type: typeValidation,
					Message: fmt.Sprintf("field %q (%s) does not fit the schema of data source %q, created meanwhile", name, f.Type, acc.name)}
			}
		}
		src, err = got, nil
	}
	if err != nil {
		return err
	}
	acc.srcVal = src
	acc.src = &acc.srcVal
	return nil
}

// quoteClipped quotes an input that failed a length or form check for an
// error message, cut to its first clipRunes characters: the input may be
// megabytes long, and the answer need not be.
func quoteClipped(b []byte) string {
	const clipRunes = 80
	s := string(b)
	if utf8.RuneCountInString(s) <= clipRunes {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:clipRunes])) + "…"
}
