package client

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// RateLimit is an organization's monthly quota of API calls, from the
// X-RateLimit-* headers of every answer to a call made with an API key.
type RateLimit struct {
	Limit int64
	// Remaining is the calls left this month after this one; -1 when the
	// plan has no limit.
	Remaining int64
	// Reset is when the quota is renewed.
	Reset time.Time
}

// Unlimited reports whether the organization's plan has no call limit.
func (r RateLimit) Unlimited() bool { return r.Remaining < 0 }

// ParseRateLimit reads the X-RateLimit-* headers; false when they are
// absent (operator and health calls) or malformed.
func ParseRateLimit(h http.Header) (RateLimit, bool) {
	limit, err1 := strconv.ParseInt(h.Get("X-RateLimit-Limit"), 10, 64)
	remaining, err2 := strconv.ParseInt(h.Get("X-RateLimit-Remaining"), 10, 64)
	reset, err3 := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return RateLimit{}, false
	}
	return RateLimit{Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0).UTC()}, true
}

// RateLimit reads the answer's X-RateLimit-* headers.
func (r *RawResponse) RateLimit() (RateLimit, bool) { return ParseRateLimit(r.Header) }

// RateLimit reads the error answer's X-RateLimit-* headers.
func (e *APIError) RateLimit() (RateLimit, bool) { return ParseRateLimit(e.Header) }

// ResponseInfo is what the server said besides the data, for the typed
// methods, which return the data only. See CaptureResponse.
type ResponseInfo struct {
	// StatusCode and Header are those of the last answer.
	StatusCode int
	Header     http.Header
	// RateLimit is read from Header; HasRateLimit is false when it has none.
	RateLimit    RateLimit
	HasRateLimit bool
	// Attempts counts the requests sent (more than 1 after retries).
	Attempts int
}

type responseInfoKey struct{}

// CaptureResponse returns a context that makes the calls made with it fill
// info with their answer's status, headers and rate limit:
//
//	var info client.ResponseInfo
//	b, err := c.CreateBucket(client.CaptureResponse(ctx, &info), req)
//	fmt.Println(info.RateLimit.Remaining)
//
// A context is for one call at a time: concurrent calls would overwrite
// each other's info.
func CaptureResponse(ctx context.Context, info *ResponseInfo) context.Context {
	return context.WithValue(ctx, responseInfoKey{}, info)
}

func recordResponse(ctx context.Context, resp *RawResponse, attempts int) {
	info, _ := ctx.Value(responseInfoKey{}).(*ResponseInfo)
	if info == nil {
		return
	}
	rl, ok := resp.RateLimit()
	*info = ResponseInfo{StatusCode: resp.StatusCode, Header: resp.Header, RateLimit: rl, HasRateLimit: ok, Attempts: attempts}
}
