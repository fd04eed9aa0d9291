package peerrpc

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// Paths of the calls, mounted under the node's HTTP port.
const (
	PathApply     = "/internal/apply"
	PathPoints    = "/internal/points"
	PathReadIndex = "/internal/readindex"
	PathWrite     = "/internal/write"
)

// ReadIndexRequest is the body of PathReadIndex. An empty body (a node of
// an earlier version) names no node.
type ReadIndexRequest struct {
	Node string `json:"node"`
}

// DecodeReadIndex reads a PathReadIndex body; an empty one names no node.
func DecodeReadIndex(body []byte) (ReadIndexRequest, error) {
	var r ReadIndexRequest
	if len(body) == 0 {
		return r, nil
	}
	err := json.Unmarshal(body, &r)
	return r, err
}

// IndexHeader carries a Raft index in an answer: of a forwarded command's
// entry, or the leader's read index.
const IndexHeader = "X-Dakkio-Raft-Index"

// Answer is what a node answers to a call.
type Answer struct {
	Status int
	// Index, when not 0, goes in IndexHeader.
	Index uint64
	Body  []byte
}

// ok answers 200 with body.
func ok(body []byte) Answer { return Answer{Status: http.StatusOK, Body: body} }

// fail answers status with err's text.
func fail(status int, err error) Answer { return Answer{Status: status, Body: []byte(err.Error())} }

// Handler serves one call; ctx ends when the call must be answered.
type Handler func(ctx context.Context, body []byte) Answer

// Server routes a verified call to the handler of its path.
type Server struct {
	handlers map[string]Handler
}

// Handlers are the server's handlers by path; a path left nil is not
// served.
type Handlers struct {
	Apply     Handler
	ReadIndex Handler
	Write     Handler
	Points    Handler
}

// NewServer returns the server of h.
func NewServer(h Handlers) *Server {
	s := &Server{handlers: map[string]Handler{}}
	for path, fn := range map[string]Handler{PathApply: h.Apply, PathReadIndex: h.ReadIndex, PathWrite: h.Write, PathPoints: h.Points} {
		if fn != nil {
			s.handlers[path] = fn
		}
	}
	return s
}

// Paths lists the paths the server serves, sorted.
func (s *Server) Paths() []string {
	out := make([]string, 0, len(s.handlers))
	for p := range s.handlers {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Serve answers the call to path with body. The caller has checked the
// signature.
func (s *Server) Serve(ctx context.Context, path string, body []byte) Answer {
	h, found := s.handlers[path]
	if !found {
		return Answer{Status: http.StatusNotFound, Body: []byte("unknown internal call " + strconv.Quote(path))}
	}
	return h(ctx, body)
}
