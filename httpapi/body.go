package httpapi

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// The server streams request bodies (fasthttp's StreamRequestBody): it reads
// only the headers and a few KiB before calling dispatch, which checks the
// credentials from the headers and only then reads the body, with readBody.
// An unauthenticated upload is refused without its body ever being buffered,
// and the connection is closed rather than drained.

// bodyBudget bounds the bytes of request bodies in flight over all
// connections.
type bodyBudget struct {
	limit int64
	used  atomic.Int64
}

// take reserves n bytes, or reports that they would exceed the bound.
func (b *bodyBudget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *bodyBudget) give(n int64) { b.used.Add(-n) }

// bodyTooLarge reports a declared body over the maximum: it is refused
// before anything else, and never read.
func (s *Server) bodyTooLarge(ctx *fasthttp.RequestCtx) bool {
	return ctx.Request.Header.ContentLength() > s.cfg.MaxBodyBytes
}

// bodyBufferPool holds the buffers bodies are read into. Buffers grown
// past keepBufferBytes are left to the collector, so a burst of large
// uploads does not pin its memory.
var bodyBufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const keepBufferBytes = 1 << 20

// reserveBody counts the request's body against the bound of bodies in
// flight, before it is read: its declared size, or the maximum when it is
// chunked. release gives it back once the handler is done.
func (s *Server) reserveBody(ctx *fasthttp.RequestCtx) (release func(), aerr *apiError) {
	declared := ctx.Request.Header.ContentLength()
	if declared == 0 || ctx.RequestBodyStream() == nil {
		return func() {}, nil
	}
	n := int64(s.cfg.MaxBodyBytes) // chunked: the size is not known yet
	if declared > 0 {
		n = int64(declared)
	}
	if !s.bodies.take(n) {
		ctx.Response.Header.Set("Retry-After", "1")
		ctx.SetConnectionClose() // the unread body must not be parsed as a request
		return func() {}, errBodiesInFlight
	}
	return func() { s.bodies.give(n) }, nil
}

// readBody reads the request's body, at most MaxBodyBytes, and makes it the
// request's body for the handlers (ctx.PostBody). release returns its buffer
// once the handler is done.
func (s *Server) readBody(ctx *fasthttp.RequestCtx) (release func(), aerr *apiError) {
	declared := ctx.Request.Header.ContentLength()
	stream := ctx.RequestBodyStream()
	if declared == 0 || stream == nil {
		ctx.Request.SetBodyRaw(nil)
		return func() {}, nil
	}
	buf := bodyBufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	release = func() {
		ctx.Request.SetBodyRaw(nil) // the buffer goes back to the pool
		if buf.Cap() <= keepBufferBytes {
			bodyBufferPool.Put(buf)
		}
	}
	if declared > 0 {
		buf.Grow(declared)
	}
	n, err := buf.ReadFrom(io.LimitReader(stream, int64(s.cfg.MaxBodyBytes)+1))
	switch {
	case n > int64(s.cfg.MaxBodyBytes):
		ctx.SetConnectionClose()
		return release, errTooLarge
	case err != nil:
		ctx.SetConnectionClose()
		return release, &apiError{Status: fasthttp.StatusBadRequest, Type: typeBadRequest, Message: "Could not read the request body"}
	}
	ctx.Request.SetBodyRaw(buf.Bytes())
	return release, nil
}
