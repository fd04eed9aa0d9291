package httpapi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The server streams request bodies (fasthttp's StreamRequestBody): it reads
// only the headers and a few KiB before calling dispatch, which checks the
// credentials from the headers and only then reads the body, with readBody.
// An unauthenticated upload is refused without its body ever being buffered:
// the answer goes out at once, and the rest of the body is read off and
// dropped for a while before the connection is closed (lingerUnread).

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

// Bounds of lingerUnread: the connections lingering at once, and how long
// and how far each reads off the body after its answer.
const (
	maxLingering   = 64
	lingerTime     = 2 * time.Second
	lingerMaxBytes = 64 << 20
)

// maxDiscarded is the unread body fasthttp itself reads off after an
// answer to keep the connection (its maxUnreadStreamBodySize).
const maxDiscarded = 256 << 10

// lingerUnread sends the refusal of a request whose body is left unread
// (too large, bad key, over quota...) itself, then reads off and drops what
// the client still sends, for up to lingerTime or lingerMaxBytes, and only
// then closes the connection. Closed at once while the body still arrives,
// the connection is reset by the kernel, and the client (Go's, curl) often
// loses the answer: a 413 on which Telegraf splits its batch became a
// connection error it retried as it was. net/http lingers the same way.
// Past maxLingering connections at once, the connection is closed at once.
func (s *Server) lingerUnread(ctx *fasthttp.RequestCtx) {
	declared := ctx.Request.Header.ContentLength()
	if ctx.RequestBodyStream() == nil || ctx.Response.StatusCode() < 400 || (declared >= 0 && declared <= maxDiscarded) {
		return
	}
	select {
	case s.lingering <- struct{}{}:
	default:
		return
	}
	ctx.Response.Header.SetConnectionClose()
	var answer bytes.Buffer
	w := bufio.NewWriter(&answer)
	if ctx.Response.Write(w) != nil || w.Flush() != nil {
		<-s.lingering
		return
	}
	// The answer is written by the hijacker: fasthttp would close the
	// connection right after writing a "Connection: close" answer itself.
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer func() { <-s.lingering }()
		_ = c.SetWriteDeadline(time.Now().Add(lingerTime))
		if _, err := c.Write(answer.Bytes()); err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, c, lingerMaxBytes)
	})
}
