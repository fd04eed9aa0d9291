package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// APIError is a non-2xx answer from the server.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Type is the envelope's "error" field, such as "Validation Error"; empty
	// when the body was not an error envelope.
	Type string
	// Message is the envelope's "message", or the whole body (trimmed) when
	// the body was not an error envelope.
	Message string
	// Details are the envelope's "details", such as per-field validation errors.
	Details []Detail
	// Header is the response's header (Retry-After, X-RateLimit-*, ...).
	Header http.Header
}

// Leader is the base URL of the Raft leader that a node which could not do
// an operator call itself names in its 503 (X-Dakkio-Leader), or "".
func (e *APIError) Leader() string { return e.Header.Get("X-Dakkio-Leader") }

// Detail is one entry of an error's details.
type Detail struct {
	// Path locates the problem, such as ["body", "dataPoints", 3, "values",
	// "temperature"]; integral numbers are decoded as int.
	Path    []any  `json:"path"`
	Message string `json:"message"`
}

// String renders the detail as "body.dataPoints[3].values.temperature: message".
func (d Detail) String() string {
	var b strings.Builder
	for i, e := range d.Path {
		switch v := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	if b.Len() == 0 {
		return d.Message
	}
	return b.String() + ": " + d.Message
}

// Error renders the status, type, message and details on one line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dakkio: %d", e.StatusCode)
	typ := e.Type
	if typ == "" {
		typ = http.StatusText(e.StatusCode)
	}
	if typ != "" {
		b.WriteString(" " + typ)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, d := range e.Details {
		b.WriteString("; " + d.String())
	}
	return b.String()
}

// IsStatus reports whether err is (or wraps) an *APIError with the given status.
func IsStatus(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}

func newAPIError(resp *RawResponse) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Header: resp.Header}
	var env struct {
		Error   *string  `json:"error"`
		Message string   `json:"message"`
		Details []Detail `json:"details"`
	}
	if err := json.Unmarshal(resp.Body, &env); err != nil || env.Error == nil {
		e.Message = strings.TrimSpace(string(resp.Body))
		return e
	}
	e.Type, e.Message, e.Details = *env.Error, env.Message, env.Details
	for _, d := range e.Details {
		for i, v := range d.Path {
			if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				d.Path[i] = int(f)
			}
		}
	}
	return e
}
