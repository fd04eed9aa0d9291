package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

// flaky starts a server that answers the i-th request (from 0) with
// answers[i] (the last one repeats) and records the bodies it got.
type flakyAnswer struct {
	status     int
	retryAfter string
}

func flaky(t *testing.T, answers ...flakyAnswer) (url string, bodies func() []string) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		i := len(got)
		got = append(got, string(b))
		mu.Unlock()
		a := answers[min(i, len(answers)-1)]
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(99-i))
		w.Header().Set("X-RateLimit-Reset", "1767225600")
		w.WriteHeader(a.status)
		if a.status < 300 {
			io.WriteString(w, `{"data": {"_id": "65a1f0c2e4b0a1b2c3d4e5f6", "name": "b"}, "metadata": {}}`)
			return
		}
		fmt.Fprintf(w, `{"error": %q, "message": "try later"}`, http.StatusText(a.status))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	url, bodies := flaky(t, flakyAnswer{503, "1"}, flakyAnswer{429, "1"}, flakyAnswer{201, ""})
	c := client.New(url, client.WithAPIKey("k"),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Second}))
	var info client.ResponseInfo
	start := time.Now()
	b, err := c.CreateBucket(client.CaptureResponse(t.Context(), &info), client.CreateBucketRequest{Name: "b"})
	if err != nil {
		t.Fatalf("CreateBucket after two refusals: %v", err)
	}
	if b.Name != "b" {
		t.Errorf("bucket %+v", b)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("took %v: the two Retry-After: 1 were not waited for", took)
	}
	got := bodies()
	if len(got) != 3 || got[0] != got[2] || !strings.Contains(got[2], `"name":"b"`) {
		t.Errorf("the server got %q; want the same body three times", got)
	}
	if info.Attempts != 3 || info.StatusCode != 201 || !info.HasRateLimit || info.RateLimit.Remaining != 97 || info.RateLimit.Limit != 100 {
		t.Errorf("response info %+v; want 3 attempts, 201, 97 of 100 left", info)
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	url, bodies := flaky(t, flakyAnswer{429, ""})
	c := client.New(url, client.WithRetry(client.RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond}))
	_, err := c.ListBuckets(t.Context(), client.Page{})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 429 {
		t.Fatalf("err = %v; want the last 429", err)
	}
	if rl, ok := ae.RateLimit(); !ok || rl.Remaining != 97 {
		t.Errorf("the error's rate limit = %+v, %v; want 97 left", rl, ok)
	}
	if n := len(bodies()); n != 3 {
		t.Errorf("%d requests; want 3", n)
	}
}

func TestRetryNotPastMaxDelay(t *testing.T) {
	// A spent monthly quota: Retry-After is days away.
	url, bodies := flaky(t, flakyAnswer{429, "864000"})
	c := client.New(url, client.WithRetry(client.RetryPolicy{MaxAttempts: 5, MaxDelay: 30 * time.Second}))
	start := time.Now()
	_, err := c.ListBuckets(t.Context(), client.Page{})
	if !client.IsStatus(err, 429) {
		t.Fatalf("err = %v; want 429", err)
	}
	if n := len(bodies()); n != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("%d requests in %v; want 1, at once", n, time.Since(start))
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	url, bodies := flaky(t, flakyAnswer{503, "20"})
	c := client.New(url, client.WithRetry(client.RetryPolicy{MaxAttempts: 5, MaxDelay: time.Minute}))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListBuckets(ctx, client.Page{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the context's deadline", err)
	}
	if took := time.Since(start); took > 15*time.Second || len(bodies()) != 1 {
		t.Errorf("%d requests in %v; want 1, ended by the context", len(bodies()), took)
	}
}

func TestRetryOffByDefault(t *testing.T) {
	url, bodies := flaky(t, flakyAnswer{503, "1"}, flakyAnswer{201, ""})
	_, err := client.New(url).CreateBucket(t.Context(), client.CreateBucketRequest{Name: "b"})
	if !client.IsStatus(err, 503) || len(bodies()) != 1 {
		t.Errorf("err = %v after %d requests; want one 503", err, len(bodies()))
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	url, bodies := flaky(t, flakyAnswer{503, time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat)}, flakyAnswer{201, ""})
	c := client.New(url, client.WithRetry(client.RetryPolicy{BaseDelay: time.Millisecond}))
	start := time.Now()
	if _, err := c.CreateBucket(t.Context(), client.CreateBucketRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	// The date has a one-second resolution: the wait is at least ~0.5 s.
	if took := time.Since(start); took < 400*time.Millisecond || len(bodies()) != 2 {
		t.Errorf("%d requests in %v; want 2, after waiting for the date", len(bodies()), took)
	}
}

// TestIteratorsAgainstNode walks lists larger than a page on a real node.
func TestIteratorsAgainstNode(t *testing.T) {
	ctx := t.Context()
	op := client.New(nodeURL, client.WithOperatorToken(operatorToken))
	org, err := op.CreateOrg(ctx, client.CreateOrgRequest{Name: "iterate", Plan: client.PlanEnterprise})
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(nodeURL, client.WithAPIKey(org.AdminKey.Key))
	want := map[string]bool{}
	for i := range 7 {
		name := fmt.Sprintf("b%d", i)
		if _, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	got := map[string]bool{}
	for b, err := range c.AllBuckets(ctx, 3) {
		if err != nil {
			t.Fatal(err)
		}
		if got[b.Name] {
			t.Errorf("bucket %s seen twice", b.Name)
		}
		got[b.Name] = true
	}
	if len(got) != len(want) {
		t.Errorf("walked %v; want %v", got, want)
	}

	// Stopping early is allowed.
	n := 0
	for _, err := range c.AllBuckets(ctx, 2) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("stopped after %d", n)
	}

	var bucket string
	for b := range c.AllBuckets(ctx, 0) {
		bucket = b.ID
		break
	}
	for i := range 5 {
		if _, err := c.CreateSource(ctx, bucket, client.CreateSourceRequest{Name: fmt.Sprint("s", i),
			Schema: map[string]client.Field{"v": {Type: client.FieldTypeNumber}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateKey(ctx, bucket, client.CreateKeyRequest{Name: fmt.Sprint("k", i), Type: client.KeyTypeRead}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(seq func(func(string, error) bool)) int {
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if n := count(func(yield func(string, error) bool) {
		for s, err := range c.AllSources(ctx, bucket, 2) {
			if !yield(s.ID, err) {
				return
			}
		}
	}); n != 5 {
		t.Errorf("AllSources walked %d; want 5", n)
	}
	if n := count(func(yield func(string, error) bool) {
		for k, err := range c.AllKeys(ctx, bucket, 2) {
			if !yield(k.ID, err) {
				return
			}
		}
	}); n != 5 {
		t.Errorf("AllKeys walked %d; want 5", n)
	}
	if n := count(func(yield func(string, error) bool) {
		for o, err := range op.AllOrgs(ctx, 1) {
			if !yield(o.ID, err) {
				return
			}
		}
	}); n < 2 {
		t.Errorf("AllOrgs walked %d; want the default and this test's", n)
	}

	// A failed page ends the walk with its error.
	var errs []error
	for _, err := range client.New(nodeURL, client.WithAPIKey("dakkio_a_wrong")).AllBuckets(ctx, 2) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !client.IsStatus(errs[0], http.StatusUnauthorized) {
		t.Errorf("walk with a wrong key yielded %v; want one 401", errs)
	}
}
