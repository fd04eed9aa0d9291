package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/lineproto"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// InfluxDB line protocol (docs/api.md, "Ingest from the agents operators
// already run"). Where docs/api.md is silent:
//   - a write key may leave out the bucket (its own is meant); an admin
//     key must name one;
//   - a series name (measurement and sorted tags) is a data source name,
//     so at most 100 characters; a field name follows the schema's rules;
//   - a field the existing source's schema lacks is 400, like in
//     POST /api/data: schemas change only through their owners;
//   - string and tag values may not hold a newline, as in InfluxDB.

func (s *Server) lineProtocolRoutes() {
	r := &s.routes
	r.add("GET", "/ping", public, s.ping)
	r.addForeign("POST", "/api/v2/write", s.writeLineProtocol, ingestKey, writeInfluxError)
	r.addForeign("POST", "/write", s.writeLineProtocol, ingestKey, writeInfluxError)
}

// ping answers InfluxDB's liveness probe, which clients call before writing.
func (s *Server) ping(c *call) error {
	c.ctx.Response.Header.Set("X-Influxdb-Version", "dakkio")
	c.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// ingestKey reads the key from wherever InfluxDB and Prometheus clients put
// it: Authorization "Token <key>" or "Bearer <key>", X-API-Key, InfluxDB
// 1's ?p=, or the password of basic auth.
func ingestKey(ctx *fasthttp.RequestCtx) []byte {
	if k := ctx.Request.Header.Peek("X-API-Key"); len(k) > 0 {
		return k
	}
	auth := ctx.Request.Header.Peek("Authorization")
	for _, scheme := range []string{"Token ", "Bearer "} {
		if len(auth) > len(scheme) && bytes.EqualFold(auth[:len(scheme)], []byte(scheme)) {
			return bytes.TrimSpace(auth[len(scheme):])
		}
	}
	if len(auth) > 6 && bytes.EqualFold(auth[:6], []byte("Basic ")) {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(auth[6:])))
		if i := bytes.IndexByte(raw, ':'); err == nil && i >= 0 {
			return raw[i+1:]
		}
		return nil
	}
	return ctx.QueryArgs().Peek("p")
}

// influxCodes are InfluxDB's error codes by status.
var influxCodes = map[int]string{
	fasthttp.StatusBadRequest:            "invalid",
	fasthttp.StatusUnauthorized:          "unauthorized",
	fasthttp.StatusForbidden:             "forbidden",
	fasthttp.StatusNotFound:              "not found",
	fasthttp.StatusMethodNotAllowed:      "method not allowed",
	fasthttp.StatusConflict:              "conflict",
	fasthttp.StatusRequestEntityTooLarge: "request too large",
	fasthttp.StatusUnsupportedMediaType:  "unsupported media type",
	fasthttp.StatusTooManyRequests:       "too many requests",
	fasthttp.StatusServiceUnavailable:    "unavailable",
}

// writeInfluxError writes e as InfluxDB does: {"code","message"}.
func writeInfluxError(ctx *fasthttp.RequestCtx, e *apiError) {
	code, ok := influxCodes[e.Status]
	if !ok {
		code = "internal error"
	}
	msg := e.Message
	for _, d := range e.Details {
		msg += "; " + d.Message
	}
	out := append([]byte(`{"code":`), appendJSONString(nil, code)...)
	out = append(out, `,"message":`...)
	out = appendJSONString(out, msg)
	out = append(out, '}')
	writeRawJSON(ctx, e.Status, out)
}

// maxPresizedPoints bounds the points a line-protocol body reserves room
// for before parsing (64 bytes each): more grow as they come.
const maxPresizedPoints = 10_000

var lineParsers = sync.Pool{New: func() any { return new(lineproto.Parser) }}

// writeLineProtocol answers POST /api/v2/write and /write.
func (s *Server) writeLineProtocol(c *call) error {
	level, aerr := writeConsistency(c)
	if aerr != nil {
		return aerr
	}
	args := c.ctx.QueryArgs()
	bucketArg := args.Peek("bucket")
	if len(bucketArg) == 0 {
		bucketArg = args.Peek("db")
	}
	b, err := s.ingestBucketNamed(c, string(bucketArg))
	if err != nil {
		return err
	}
	_, unit, err := lineproto.ParsePrecision(string(args.Peek("precision")))
	if err != nil {
		want := "ns, us, ms or s"
		if string(c.ctx.Path()) == "/write" {
			want = "n, u, ms or s" // InfluxDB 1's spelling on /write
		}
		return validationError("Invalid precision: " + err.Error() + "; expected " + want)
	}
	body, err := requestBody(c.ctx, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	w := s.newSeriesWriter(b)
	defer w.release()
	// A line is at most one point: room for them up front, to a bound, so
	// that a body of empty lines does not reserve memory for points.
	if room := min(bytes.Count(body, []byte{'\n'})+1, maxPresizedPoints); cap(w.pts) < room {
		w.pts = make([]pendingPoint, 0, room)
	}
	p := lineParsers.Get().(*lineproto.Parser)
	defer lineParsers.Put(p)
	err = p.Parse(body, unit, s.now().UnixNano(), w.addLine)
	var le *lineproto.Error
	if errors.As(err, &le) {
		return validationError(le.Error())
	}
	if err != nil {
		return err
	}
	if err := w.commit(level); err != nil {
		return err
	}
	c.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// addLine gathers one parsed line's values.
func (w *seriesWriter) addLine(l *lineproto.Line) error {
	acc, err := w.source(l.Series, func() map[string]string {
		tags := make(map[string]string, len(l.Tags))
		for _, t := range l.Tags {
			tags[string(t.Key)] = string(t.Value)
		}
		return tags
	})
	if err != nil {
		return lineError(err)
	}
	for _, f := range l.Fields {
		v := points.Value{Kind: points.KindNumber, Num: f.Num}
		switch f.Kind {
		case lineproto.String:
			v = points.Value{Kind: points.KindString, Str: string(f.Str)}
		case lineproto.Bool:
			v = points.Value{Kind: points.KindBool, Bool: f.Bool}
		}
		if err := w.add(acc, l.TS, f.Key, v, len(l.Fields)); err != nil {
			return lineError(err)
		}
	}
	return nil
}

// lineError hands a row's problem to the parser, which names its line.
func lineError(err error) error {
	var re *rowError
	if errors.As(err, &re) {
		return lineproto.Errorf("%s", re.msg)
	}
	return err
}

// ingestBucketNamed loads the bucket a protocol write names by id or by
// name, or the write key's own when none is named.
func (s *Server) ingestBucketNamed(c *call, ref string) (store.Bucket, error) {
	p := c.principal
	var b store.Bucket
	var err error
	switch {
	case ref == "" && p.Type == store.KeyAdmin:
		return store.Bucket{}, validationError("A bucket is required: name it with ?bucket= (or ?db=)")
	case ref == "":
		b, err = s.bucketAccess(c, p.BucketID, true)
	case objectid.Valid(ref):
		b, err = s.bucketAccess(c, ref, true)
		if errors.Is(err, store.ErrNotFound) {
			b, err = s.bucketByName(c, ref)
		}
	default:
		b, err = s.bucketByName(c, ref)
	}
	if err != nil {
		return store.Bucket{}, err
	}
	if b.Status == store.BucketArchived {
		return store.Bucket{}, errArchived
	}
	return b, nil
}

// bucketByName finds a bucket by name with the permissions of
// bucketAccess: a bucket key reaches only its own bucket.
func (s *Server) bucketByName(c *call, name string) (store.Bucket, error) {
	p := c.principal
	if p.Type == store.KeyAdmin {
		return s.cfg.Meta.BucketByName(p.OrgID, name)
	}
	b, err := s.bucketAccess(c, p.BucketID, true)
	if err != nil {
		return store.Bucket{}, err
	}
	if b.Name != name {
		return store.Bucket{}, errOtherBucket
	}
	return b, nil
}

// requestBody returns the body, gunzipped when so encoded, refusing more
// than max bytes either way (413).
func requestBody(ctx *fasthttp.RequestCtx, max int) ([]byte, error) {
	body := ctx.PostBody()
	switch enc := string(ctx.Request.Header.ContentEncoding()); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, validationError("Invalid gzip body: " + err.Error())
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
		if err != nil {
			return nil, validationError("Invalid gzip body: " + err.Error())
		}
		if len(out) > max {
			return nil, errTooLarge
		}
		return out, nil
	default:
		return nil, &apiError{Status: fasthttp.StatusUnsupportedMediaType, Type: typeBadRequest, Message: "Unsupported Content-Encoding " + enc + "; send gzip or none"}
	}
}
