package nodeauth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable clock for a Verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newTestVerifier returns a Verifier made an hour before now, and its clock,
// set to now.
func newTestVerifier(maxNonces int) (*Verifier, *clock) {
	c := &clock{t: now.Add(-time.Hour)}
	v := NewVerifier(VerifierConfig{Key: testKey, Now: c.now, MaxNonces: maxNonces})
	c.set(now)
	return v, c
}

type request struct {
	method, target string
	body           []byte
}

func TestVerifierRefusesChangedRequests(t *testing.T) {
	signed := request{"POST", "/internal/points?consistency=quorum&x=1", []byte(`{"op":"write"}`)}
	tests := []struct {
		name string
		sent request
		want error
	}{
		{"as signed", signed, nil},
		{"query changed", request{signed.method, "/internal/points?consistency=one&x=1", signed.body}, ErrBadSignature},
		{"query dropped", request{signed.method, "/internal/points", signed.body}, ErrBadSignature},
		{"query added to", request{signed.method, signed.target + "&y=2", signed.body}, ErrBadSignature},
		{"path changed", request{signed.method, "/internal/write?consistency=quorum&x=1", signed.body}, ErrBadSignature},
		{"method changed", request{"PUT", signed.target, signed.body}, ErrBadSignature},
		{"body changed", request{signed.method, signed.target, []byte(`{"op":"delete"}`)}, ErrBodyMismatch},
		{"body dropped", request{signed.method, signed.target, nil}, ErrBodyMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newTestVerifier(0)
			h := Sign(testKey, signed.method, signed.target, signed.body, now)
			err := v.Verify(h, tt.sent.method, tt.sent.target, tt.sent.body)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			// A refused request does not use up the nonce: the genuine one
			// still passes, once. A changed body is the exception: it is
			// found only after the signed headers were accepted, and their
			// nonce taken, so that the body need not be read first.
			if tt.want != nil && !errors.Is(tt.want, ErrBodyMismatch) {
				if err := v.Verify(h, signed.method, signed.target, signed.body); err != nil {
					t.Fatalf("the genuine request after a refused one: %v", err)
				}
			}
			if err := v.Verify(h, signed.method, signed.target, signed.body); !errors.Is(err, ErrReplayed) {
				t.Fatalf("the genuine request sent again: %v, want %v", err, ErrReplayed)
			}
		})
	}
}

// TestVerifyHead: the head check needs no body. It refuses another key's
// signature and takes a genuine one's nonce, and the body hash it returns
// accepts only the body signed.
func TestVerifyHead(t *testing.T) {
	const method, target = "POST", "/internal/apply"
	body := []byte(`{"cmd":"x"}`)
	v, _ := newTestVerifier(0)
	if _, err := v.VerifyHead(Sign(otherKey, method, target, body, now), method, target); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyHead of another key's signature = %v, want %v", err, ErrBadSignature)
	}
	h := Sign(testKey, method, target, body, now)
	sum, err := v.VerifyHead(h, method, target)
	if err != nil {
		t.Fatalf("VerifyHead of a genuine signature: %v", err)
	}
	if err := sum.Check(body); err != nil {
		t.Fatalf("Check of the signed body: %v", err)
	}
	for _, other := range [][]byte{nil, []byte(`{"cmd":"y"}`), append(bytes.Clone(body), ' ')} {
		if err := sum.Check(other); !errors.Is(err, ErrBodyMismatch) || !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Check(%q) = %v, want %v (also %v)", other, err, ErrBodyMismatch, ErrBadSignature)
		}
	}
	if _, err := v.VerifyHead(h, method, target); !errors.Is(err, ErrReplayed) {
		t.Fatalf("VerifyHead of the same header again = %v, want %v", err, ErrReplayed)
	}
}

// TestVerifierReplayWindow: a nonce is refused for as long as its signature
// is otherwise acceptable, and forgotten (its memory released) after.
func TestVerifierReplayWindow(t *testing.T) {
	const method, target = "POST", "/internal/write"
	body := []byte("batch")
	tests := []struct {
		name     string
		signedAt time.Duration // from now
		replayAt time.Duration // from now
		want     error
	}{
		{"at once", 0, 0, ErrReplayed},
		{"a second later", 0, time.Second, ErrReplayed},
		{"at the end of the window", 0, DefaultSkew, ErrReplayed},
		{"just before the end of the window", 0, DefaultSkew + 999*time.Millisecond, ErrExpired},
		{"after the window", 0, DefaultSkew + time.Second, ErrExpired},
		{"signed in the future, at the far end", DefaultSkew, 2 * DefaultSkew, ErrReplayed},
		{"signed in the past, clock set back", -DefaultSkew, -DefaultSkew, ErrReplayed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, c := newTestVerifier(0)
			h := Sign(testKey, method, target, body, now.Add(tt.signedAt))
			if err := v.Verify(h, method, target, body); err != nil {
				t.Fatalf("first: %v", err)
			}
			c.set(now.Add(tt.replayAt))
			if err := v.Verify(h, method, target, body); !errors.Is(err, tt.want) {
				t.Fatalf("replay at now%+v: %v, want %v", tt.replayAt, err, tt.want)
			}
		})
	}
}

func TestVerifierForgetsExpiredNonces(t *testing.T) {
	v, c := newTestVerifier(0)
	for i := range 100 {
		at := now.Add(time.Duration(i%10) * time.Second)
		if err := v.Verify(Sign(testKey, "POST", "/internal/write", nil, at), "POST", "/internal/write", nil); err != nil {
			t.Fatal(err)
		}
	}
	if v.count != 100 || len(v.bySecond) != 10 {
		t.Fatalf("after 100 requests over 10 s: %d nonces in %d seconds, want 100 in 10", v.count, len(v.bySecond))
	}
	// Five of the ten seconds leave the window.
	c.set(now.Add(DefaultSkew + 5*time.Second + 500*time.Millisecond))
	if err := v.Verify(Sign(testKey, "POST", "/internal/write", nil, c.now()), "POST", "/internal/write", nil); err != nil {
		t.Fatal(err)
	}
	if v.count != 51 || len(v.bySecond) != 6 {
		t.Fatalf("later: %d nonces in %d seconds, want 51 in 6", v.count, len(v.bySecond))
	}
	c.set(now.Add(time.Hour))
	if err := v.Verify(Sign(testKey, "POST", "/internal/write", nil, c.now()), "POST", "/internal/write", nil); err != nil {
		t.Fatal(err)
	}
	if v.count != 1 || len(v.bySecond) != 1 {
		t.Fatalf("an hour later: %d nonces in %d seconds, want 1 in 1", v.count, len(v.bySecond))
	}
}

// TestVerifierCap: when full, the Verifier refuses new nonces rather than
// forget live ones, and takes them again once old ones expire.
func TestVerifierCap(t *testing.T) {
	v, c := newTestVerifier(3)
	sign := func() string { return Sign(testKey, "POST", "/internal/write", nil, c.now()) }
	for range 3 {
		if err := v.Verify(sign(), "POST", "/internal/write", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(sign(), "POST", "/internal/write", nil); !errors.Is(err, ErrTooManyNonces) {
		t.Fatalf("fourth nonce: %v, want %v", err, ErrTooManyNonces)
	}
	c.set(now.Add(DefaultSkew + 2*time.Second))
	if err := v.Verify(sign(), "POST", "/internal/write", nil); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestVerifierRefusesSignaturesFromBeforeItStarted: a restarted node has
// lost the nonces it saw, so it takes no signature made before it started.
func TestVerifierRefusesSignaturesFromBeforeItStarted(t *testing.T) {
	started := now.Add(300 * time.Millisecond)
	tests := []struct {
		name     string
		signedAt time.Time
		want     error
	}{
		{"a second before", now.Add(-time.Second), ErrExpired},
		{"the start's second", now, nil},
		{"after", now.Add(time.Second), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(VerifierConfig{Key: testKey, Now: func() time.Time { return started }})
			if err := v.Verify(Sign(testKey, "POST", "/internal/write", nil, tt.signedAt), "POST", "/internal/write", nil); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifierWithoutKey(t *testing.T) {
	v := NewVerifier(VerifierConfig{})
	if err := v.Verify(Sign(testKey, "GET", "/", nil, time.Now()), "GET", "/", nil); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Verify = %v, want %v", err, ErrNoKey)
	}
}

// TestVerifierConcurrent: requests raced through many goroutines, each sent
// several times, are each accepted exactly once.
func TestVerifierConcurrent(t *testing.T) {
	v, _ := newTestVerifier(0)
	const requests, senders = 200, 8
	headers := make([]string, requests)
	for i := range headers {
		headers[i] = Sign(testKey, "POST", "/internal/write?i="+strconv.Itoa(i), nil, now)
	}
	accepted := make([]atomic.Int32, requests)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i, h := range headers {
				err := v.Verify(h, "POST", "/internal/write?i="+strconv.Itoa(i), nil)
				switch {
				case err == nil:
					accepted[i].Add(1)
				case !errors.Is(err, ErrReplayed):
					t.Errorf("request %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Fatalf("request %d accepted %d times, want once", i, n)
		}
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"http://h/internal/points", "/internal/points"},
		{"http://h/internal/points?", "/internal/points"},
		{"http://h/internal/points?b=2&a=1", "/internal/points?b=2&a=1"},
		{"http://h/a%2Fb?x=%20y", "/a%2Fb?x=%20y"},
		{"http://h/p?q?r", "/p?q?r"},
		{"http://h", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			SignRequest(testKey, req, []byte("b"), now)
			if err := Verify(testKey, req.Header.Get(HeaderName), "POST", tt.want, []byte("b"), now, 0); err != nil {
				t.Fatalf("SignRequest did not sign target %q: %v", tt.want, err)
			}
		})
	}
}

// BenchmarkNonceSet is the replay check alone: remembering a new nonce,
// with the second's expiry, under the lock.
func BenchmarkNonceSet(b *testing.B) {
	v := NewVerifier(VerifierConfig{Key: testKey, Now: func() time.Time { return now }, MaxNonces: math.MaxInt})
	var i uint64
	for b.Loop() {
		i++
		var nonce [nonceLen]byte
		binary.LittleEndian.PutUint64(nonce[:], i)
		if err := v.remember(now.Unix(), nonce, now); err != nil {
			b.Fatal(err)
		}
	}
}
