package httpapi

import (
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/store/points"
)

// Messages from a broker (MQTT): the same checks and storage as the HTTP
// ingest protocols, for subscribers running in the node.

// IngestMessage stores one message for source of bucket, authorized by key:
// its payload is a JSON object of values ({"temperature":21.5}) or
// {"timestamp"?, "values", "metadata"?}. A missing source is created as
// for line protocol. It counts as one call of the key's organization. The
// error, if any, tells with Retryable whether trying again may succeed.
func (s *Server) IngestMessage(key, bucketID, source string, payload []byte) error {
	if err := s.cfg.Node.KeyLease(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !secret.WellFormed(key) {
		return errUnauthorized
	}
	p, ok := s.cfg.Meta.Authenticate(secret.Hash(key))
	if !ok {
		return errUnauthorized
	}
	if _, ok := s.cfg.Limiter.Allow(p.OrgID); !ok {
		s.countRateLimited()
		return &apiError{Status: fasthttp.StatusTooManyRequests, Type: typeTooMany, Message: "Rate limit exceeded"}
	}
	s.cfg.Usage.Touch(p.KeyID, s.now())
	c := &call{principal: p}
	b, err := s.ingestBucketNamed(c, bucketID)
	if err != nil {
		return err
	}
	if source == "" {
		return validationError("The topic names no data source")
	}

	pp := parserPool.Get()
	defer parserPool.Put(pp)
	v, err := pp.ParseBytes(payload)
	if err != nil {
		return validationError("Payload is not JSON: " + err.Error())
	}
	obj, err := v.Object()
	if err != nil {
		return validationError("Payload must be a JSON object")
	}
	w := s.newSeriesWriter(b)
	ts := s.now().UnixNano()
	values, md := obj, []byte(nil)
	if vv := obj.Get("values"); vv != nil && vv.Type() == fastjson.TypeObject {
		values, _ = vv.Object()
		r := newPointReader(b, s.now())
		if tv := obj.Get("timestamp"); tv != nil && tv.Type() != fastjson.TypeNull {
			if t, ok := r.timestamp([]any{"payload"}, tv); ok {
				ts = t
			}
		}
		md = r.metadata([]any{"payload"}, obj.Get("metadata"))
		if r.failed > 0 {
			return validationError("Invalid message", r.details...)
		}
	}
	if values.Len() == 0 {
		return validationError("Values must contain at least one field")
	}
	acc, err := w.source([]byte(source), func() map[string]string { return nil })
	if err != nil {
		return err
	}
	var problem error
	values.Visit(func(k []byte, fv *fastjson.Value) {
		if problem != nil {
			return
		}
		var val points.Value
		switch fv.Type() {
		case fastjson.TypeNumber:
			f, msg := jsonNumber(fv)
			if msg != "" {
				problem = rowErrorf("field %q: %s", k, msg)
				return
			}
			val = points.Value{Kind: points.KindNumber, Num: f}
		case fastjson.TypeString:
			val = points.Value{Kind: points.KindString, Str: string(fv.GetStringBytes())}
		case fastjson.TypeTrue, fastjson.TypeFalse:
			val = points.Value{Kind: points.KindBool, Bool: fv.GetBool()}
		default:
			problem = rowErrorf("field %q: expected number, string or boolean, received %s", k, typeName(fv))
			return
		}
		problem = w.add(acc, ts, k, val, values.Len())
	})
	var re *rowError
	if errors.As(problem, &re) {
		return validationError(re.msg)
	}
	if problem != nil {
		return problem
	}
	w.pts[len(w.pts)-1].md = md
	return w.commit(ConsistencyDefault)
}

// Retryable reports whether an IngestMessage error may pass on a later
// try (the cluster or this node cannot serve now), as opposed to a message
// that will never be stored (invalid, unauthorized, over the plan).
func Retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	for _, row := range errorTable {
		if errors.Is(err, row.kind) {
			return row.status >= 500
		}
	}
	return err != nil
}
