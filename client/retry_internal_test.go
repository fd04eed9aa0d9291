package client

import (
	"net/http"
	"testing"
	"time"
)

// FuzzRetryHeaders: whatever Retry-After and X-RateLimit-* a server sends,
// the client reads a bounded, non-negative wait or none, never panics.
func FuzzRetryHeaders(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "864000", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Second}
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); ok && d < 0 {
			t.Fatalf("Retry-After %q: wait %v", v, d)
		}
		h := http.Header{"Retry-After": {v}, "X-Ratelimit-Limit": {v}, "X-Ratelimit-Remaining": {v}, "X-Ratelimit-Reset": {v}}
		_, _ = ParseRateLimit(h)
		for _, status := range []int{429, 503} {
			if d, again := p.retryWait(&RawResponse{StatusCode: status, Header: h}, 2, now); again && (d < 0 || d > p.MaxDelay) {
				t.Fatalf("Retry-After %q: retry after %v, beyond the policy's %v", v, d, p.MaxDelay)
			}
		}
	})
}
