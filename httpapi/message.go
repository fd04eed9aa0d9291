package httpapi

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store/points"
)

// Messages from a broker (MQTT): the same checks and storage as the HTTP
// ingest protocols, for subscribers running in the node.

// Message is one broker message to store: the bucket (id or name) and the
// source its topic names, and its payload, a JSON object of values
// ({"temperature":21.5}) or {"timestamp"?, "values", "metadata"?}.
type Message struct {
	Bucket, Source string
	Payload        []byte
}

// IngestMessages stores a batch of messages authorized by key and says
// what became of each: errs[i] is nil once message i is stored. Each
// message is checked on its own and counts as one call of the key's
// organization; a missing source is created as for line protocol. The
// valid messages of a bucket are then stored together, in one write: a
// broker hands over messages one by one, and a write each would pay a
// group commit per point. An error tells with Retryable whether trying
// that message again may succeed.
func (s *Server) IngestMessages(key string, msgs []Message) []error {
	errs := make([]error, len(msgs))
	type bucketWrite struct {
		pts     []points.Point
		members []int
	}
	var writes []*bucketWrite
	byBucket := map[string]*bucketWrite{}
	for i, m := range msgs {
		bucketID, pts, err := s.prepareMessage(key, m.Bucket, m.Source, m.Payload)
		if err != nil {
			errs[i] = err
			continue
		}
		bw := byBucket[bucketID]
		if bw == nil {
			bw = &bucketWrite{}
			byBucket[bucketID] = bw
			writes = append(writes, bw)
		}
		bw.pts = append(bw.pts, pts...)
		bw.members = append(bw.members, i)
	}
	for bucketID, bw := range byBucket {
		// Points of one source at one time in two messages: the store
		// keeps the later, as for two writes.
		if err := s.writePoints(bucketID, bw.pts, replication.ConsistencyDefault); err != nil {
			for _, i := range bw.members {
				errs[i] = err
			}
		}
	}
	return errs
}

// prepareMessage checks one message and returns its bucket's id and its
// points, creating its source if it is missing.
func (s *Server) prepareMessage(key, bucketID, source string, payload []byte) (string, []points.Point, error) {
	if err := s.cfg.Node.KeyLease(); err != nil {
		return "", nil, fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	}
	if !secret.WellFormed(key) {
		return "", nil, errUnauthorized
	}
	p, ok := s.cfg.Meta.Authenticate(secret.Hash(key))
	if !ok {
		return "", nil, errUnauthorized
	}
	if _, ok := s.cfg.Limiter.Allow(p.OrgID); !ok {
		s.countRateLimited()
		return "", nil, &apiError{Status: fasthttp.StatusTooManyRequests, Type: typeTooMany, Message: "Rate limit exceeded"}
	}
	s.cfg.Usage.Touch(p.KeyID, s.now())
	c := &call{principal: p}
	b, err := s.ingestBucketNamed(c, bucketID)
	if err != nil {
		return "", nil, err
	}
	if source == "" {
		return "", nil, validationError("The topic names no data source")
	}

	pp := parserPool.Get()
	defer parserPool.Put(pp)
	v, err := pp.ParseBytes(payload)
	if err != nil {
		return "", nil, validationError("Payload is not JSON: " + err.Error())
	}
	if esc, ok := loneSurrogate(payload); ok {
		return "", nil, validationError("Payload is not valid JSON: " + loneSurrogateProblem(esc))
	}
	obj, err := v.Object()
	if err != nil {
		return "", nil, validationError("Payload must be a JSON object")
	}
	w := s.newSeriesWriter(b)
	// Released once its points are built: they keep none of its buffers,
	// and its announcement of the write ends there.
	defer w.release()
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
			return "", nil, validationError("Invalid message", r.details...)
		}
	}
	if values.Len() == 0 {
		return "", nil, validationError("Values must contain at least one field")
	}
	acc, err := w.source([]byte(source), func() map[string]string { return nil })
	if err != nil {
		return "", nil, err
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
			sb := fv.GetStringBytes()
			if !utf8.Valid(sb) { // as every other ingest path refuses it
				problem = rowErrorf("field %q: string must be valid UTF-8", k)
				return
			}
			val = points.Value{Kind: points.KindString, Str: string(sb)}
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
		return "", nil, validationError(re.msg)
	}
	if problem != nil {
		return "", nil, problem
	}
	w.pts[len(w.pts)-1].md = md
	pts, err := w.points()
	if err != nil {
		return "", nil, err
	}
	return b.ID, pts, nil
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
