package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy makes a Client send a request again when the server answers
// 429 Too Many Requests or 503 Service Unavailable, which the API documents
// as safe to retry. Other answers and transport errors are returned at once.
type RetryPolicy struct {
	// MaxAttempts counts every try, the first included (default 4).
	MaxAttempts int
	// BaseDelay is the first wait when the answer has no Retry-After; each
	// later wait doubles, with full jitter (default 250ms).
	BaseDelay time.Duration
	// MaxDelay caps one wait. A Retry-After longer than it (a monthly
	// quota spent until the first of next month) is not waited for: the
	// answer is returned as it is (default 30s).
	MaxDelay time.Duration
}

// WithRetry turns on retries of 429 and 503 answers. Waits honour the
// Retry-After header and end early, with the context's error, when the
// call's context is done. Retries are off by default.
func WithRetry(p RetryPolicy) Option {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	return func(c *Client) { c.retry = &p }
}

// retryWait is how long to wait before attempt number next (2, 3, ...)
// after resp, and false when resp is final.
func (p *RetryPolicy) retryWait(resp *RawResponse, next int, now time.Time) (time.Duration, bool) {
	if p == nil || next > p.MaxAttempts {
		return 0, false
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return d, d <= p.MaxDelay
	}
	backoff := p.BaseDelay << (next - 2)
	if backoff > p.MaxDelay || backoff <= 0 {
		backoff = p.MaxDelay
	}
	return rand.N(backoff) + 1, true
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(1<<62/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting to retry: %w", context.Cause(ctx))
	case <-t.C:
		return nil
	}
}
