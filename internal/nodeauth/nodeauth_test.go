package nodeauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	testKey  = DeriveKey("correct horse battery staple", PurposeRPC)
	otherKey = DeriveKey("another cluster", PurposeRPC)
	now      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

const testNonce = "00112233445566778899aabbccddeeff"

// Golden values, computed independently (Python hmac/hashlib) from the
// format in doc.go.
const (
	goldenBody    = "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5" // SHA-256("body")
	goldenSig     = "fc3f045157e1be63c8f1ac92520cf9689ca7dd5633741d7e9984cae2f1bf09b0"
	goldenDerived = "e320148a602e0fd5a59681c42e439fa44e2ec3854b60cc23c8fcf108225e6693"
)

var headerRE = regexp.MustCompile(`^v2 t=[0-9]+,n=[0-9a-f]{32},b=[0-9a-f]{64},s=[0-9a-f]{64}$`)

func TestSignFormat(t *testing.T) {
	h := Sign(testKey, "POST", "/internal/points?consistency=quorum", []byte(`{"a":1}`), now)
	if !headerRE.MatchString(h) {
		t.Fatalf("header %q does not match %s", h, headerRE)
	}
	if want := "v2 t=" + strconv.FormatInt(now.Unix(), 10) + ","; !strings.HasPrefix(h, want) {
		t.Fatalf("header %q, want prefix %q", h, want)
	}
	if h2 := Sign(testKey, "POST", "/internal/points?consistency=quorum", []byte(`{"a":1}`), now); h2 == h {
		t.Fatalf("two signatures share a nonce: %q", h)
	}
}

// TestSignGolden pins the MAC input: nodes of different versions must agree.
func TestSignGolden(t *testing.T) {
	got := sign([]byte("k"), "POST", "/internal/forward", []byte("body"), 1700000000, testNonce)
	want := "v2 t=1700000000,n=" + testNonce + ",b=" + goldenBody + ",s=" + goldenSig
	if got != want {
		t.Fatalf("sign = %q\nwant %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	const method, target = "POST", "/internal/forward?x=1"
	body := []byte(`{"bucket":"b1"}`)
	good := Sign(testKey, method, target, body, now)
	ts := strconv.FormatInt(now.Unix(), 10)
	goodSig := good[strings.Index(good, ",s=")+3:]
	goodNonce := good[strings.Index(good, ",n=")+3 : strings.Index(good, ",b=")]
	goodBody := good[strings.Index(good, ",b=")+3 : strings.Index(good, ",s=")]
	nb := ",n=" + goodNonce + ",b=" + goodBody // nonce and body hash, as signed
	otherSum := sha256.Sum256([]byte(`{"bucket":"b2"}`))
	otherBody := hex.EncodeToString(otherSum[:])
	tests := []struct {
		name   string
		key    []byte // nil: testKey
		nilKey bool   // use a nil key after all
		header string
		method string
		target string
		body   []byte
		now    time.Time
		skew   time.Duration
		want   error
	}{
		{name: "valid", header: good},
		{name: "valid, empty body", header: Sign(testKey, method, target, nil, now), body: []byte{}},
		{name: "valid at the edge of the past", header: good, now: now.Add(30 * time.Second)},
		{name: "valid at the edge of the future", header: good, now: now.Add(-30 * time.Second)},
		{name: "valid with a custom skew", header: good, now: now.Add(5 * time.Minute), skew: 10 * time.Minute},

		{name: "no key", key: []byte{}, header: good, want: ErrNoKey},
		{name: "nil key (from an empty cluster key)", nilKey: true, header: good, want: ErrNoKey},
		{name: "missing", header: "", want: ErrMissing},

		{name: "no version", header: strings.TrimPrefix(good, "v2 "), want: ErrMalformed},
		{name: "v1 (no body hash)", header: "v1 t=" + ts + ",n=" + goodNonce + ",s=" + goodSig, want: ErrMalformed},
		{name: "v1 label on v2 fields", header: "v1" + strings.TrimPrefix(good, "v2"), want: ErrMalformed},
		{name: "v3", header: "v3" + strings.TrimPrefix(good, "v2"), want: ErrMalformed},
		{name: "bearer token", header: "Bearer dakkio_a_abc", want: ErrMalformed},
		{name: "only the version", header: "v2 ", want: ErrMalformed},
		{name: "two spaces", header: "v2  " + strings.TrimPrefix(good, "v2 "), want: ErrMalformed},
		{name: "trailing space", header: good + " ", want: ErrMalformed},
		{name: "trailing comma", header: good + ",", want: ErrMalformed},
		{name: "extra field", header: good + ",x=1", want: ErrMalformed},
		{name: "missing signature", header: "v2 t=" + ts + nb, want: ErrMalformed},
		{name: "missing body hash", header: "v2 t=" + ts + ",n=" + goodNonce + ",s=" + goodSig, want: ErrMalformed},
		{name: "fields reordered", header: "v2 n=" + goodNonce + ",t=" + ts + ",b=" + goodBody + ",s=" + goodSig, want: ErrMalformed},
		{name: "body hash after signature", header: "v2 t=" + ts + ",n=" + goodNonce + ",s=" + goodSig + ",b=" + goodBody, want: ErrMalformed},
		{name: "timestamp with leading zero", header: "v2 t=0" + ts + nb + ",s=" + goodSig, want: ErrMalformed},
		{name: "timestamp with plus", header: "v2 t=+" + ts + nb + ",s=" + goodSig, want: ErrMalformed},
		{name: "negative timestamp", header: "v2 t=-1" + nb + ",s=" + goodSig, want: ErrMalformed},
		{name: "timestamp not a number", header: "v2 t=now" + nb + ",s=" + goodSig, want: ErrMalformed},
		{name: "timestamp overflows", header: "v2 t=99999999999999999999" + nb + ",s=" + goodSig, want: ErrMalformed},
		{name: "short nonce", header: "v2 t=" + ts + ",n=abcd,b=" + goodBody + ",s=" + goodSig, want: ErrMalformed},
		{name: "nonce not hex", header: "v2 t=" + ts + ",n=" + strings.Repeat("z", 32) + ",b=" + goodBody + ",s=" + goodSig, want: ErrMalformed},
		{name: "short body hash", header: "v2 t=" + ts + ",n=" + goodNonce + ",b=" + goodBody[2:] + ",s=" + goodSig, want: ErrMalformed},
		{name: "upper-case body hash", header: "v2 t=" + ts + ",n=" + goodNonce + ",b=" + strings.ToUpper(goodBody) + ",s=" + goodSig, want: ErrMalformed},
		{name: "body hash not hex", header: "v2 t=" + ts + ",n=" + goodNonce + ",b=" + strings.Repeat("z", 64) + ",s=" + goodSig, want: ErrMalformed},
		{name: "upper-case signature", header: "v2 t=" + ts + nb + ",s=" + strings.ToUpper(goodSig), want: ErrMalformed},
		{name: "short signature", header: strings.TrimSuffix(good, good[len(good)-2:]), want: ErrMalformed},
		{name: "long signature", header: good + "00", want: ErrMalformed},
		{name: "huge header", header: good + strings.Repeat("0", 1<<16), want: ErrMalformed},

		{name: "wrong key", key: otherKey, header: good, want: ErrBadSignature},
		{name: "gossip key", key: DeriveKey("correct horse battery staple", PurposeGossip), header: good, want: ErrBadSignature},
		{name: "other method", header: good, method: "PUT", want: ErrBadSignature},
		{name: "other target", header: good, target: "/internal/forward?x=2", want: ErrBadSignature},
		{name: "no query", header: good, target: "/internal/forward", want: ErrBadSignature},
		{name: "other body", header: good, body: []byte(`{"bucket":"b2"}`), want: ErrBadSignature},
		{name: "empty body", header: good, body: []byte{}, want: ErrBadSignature},
		{name: "other timestamp", header: "v2 t=" + strconv.FormatInt(now.Unix()+1, 10) + nb + ",s=" + goodSig, want: ErrBadSignature},
		{name: "other nonce", header: "v2 t=" + ts + ",n=" + strings.Repeat("0", 32) + ",b=" + goodBody + ",s=" + goodSig, want: ErrBadSignature},
		{name: "other body with its hash claimed", header: "v2 t=" + ts + ",n=" + goodNonce + ",b=" + otherBody + ",s=" + goodSig, body: []byte(`{"bucket":"b2"}`), want: ErrBadSignature},
		{name: "flipped signature bit", header: good[:len(good)-1] + flipHex(good[len(good)-1]), want: ErrBadSignature},
		{name: "method moved into target", header: Sign(testKey, "POST\n/a", "b", body, now), method: "POST", target: "/a\nb", want: ErrBadSignature},

		{name: "too old", header: good, now: now.Add(31 * time.Second), want: ErrExpired},
		{name: "from the future", header: good, now: now.Add(-31 * time.Second), want: ErrExpired},
		{name: "old under a custom skew", header: good, now: now.Add(11 * time.Second), skew: 10 * time.Second, want: ErrExpired},
		{name: "negative skew means default", header: good, now: now.Add(31 * time.Second), skew: -time.Hour, want: ErrExpired},
		{name: "forged and old: signature first", header: good, key: otherKey, now: now.Add(time.Hour), want: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, m, tg, b, at := testKey, method, target, body, now
			if tt.key != nil || tt.nilKey {
				key = tt.key
			}
			if tt.method != "" {
				m = tt.method
			}
			if tt.target != "" {
				tg = tt.target
			}
			if tt.body != nil {
				b = tt.body
			}
			if !tt.now.IsZero() {
				at = tt.now
			}
			err := Verify(key, tt.header, m, tg, b, at, tt.skew)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify(%q) = %v, want nil", tt.header, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tt.header, err, tt.want)
			}
			for _, other := range sentinels {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("Verify error %v is also %v", err, other)
				}
			}
		})
	}
}

var sentinels = []error{ErrNoKey, ErrMissing, ErrMalformed, ErrBadSignature, ErrExpired, ErrReplayed, ErrTooManyNonces}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestDeriveKey(t *testing.T) {
	tests := []struct {
		name     string
		a, b     [2]string // (clusterKey, purpose) pairs
		wantSame bool
	}{
		{"same inputs", [2]string{"k", PurposeRPC}, [2]string{"k", PurposeRPC}, true},
		{"purposes differ", [2]string{"k", PurposeRPC}, [2]string{"k", PurposeGossip}, false},
		{"cluster keys differ", [2]string{"k1", PurposeRPC}, [2]string{"k2", PurposeRPC}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := DeriveKey(tt.a[0], tt.a[1]), DeriveKey(tt.b[0], tt.b[1])
			if len(a) != 32 || len(b) != 32 {
				t.Fatalf("key lengths %d and %d, want 32", len(a), len(b))
			}
			if bytes.Equal(a, b) != tt.wantSame {
				t.Fatalf("DeriveKey%q = %x, DeriveKey%q = %x, want same: %v", tt.a, a, tt.b, b, tt.wantSame)
			}
		})
	}
	if k := DeriveKey("", PurposeRPC); k != nil {
		t.Fatalf("DeriveKey of an empty cluster key = %x, want nil", k)
	}
	// Pinned: nodes of different versions must derive the same keys.
	if got := DeriveKey("k", PurposeRPC); hex.EncodeToString(got) != goldenDerived {
		t.Fatalf("DeriveKey(k, rpc) = %s, want %s", hex.EncodeToString(got), goldenDerived)
	}
}

// FuzzVerify: Verify never panics, returns only its sentinels, and accepts a
// header only if Sign made exactly that header for the same key, method,
// target and body, within the skew.
func FuzzVerify(f *testing.F) {
	type request struct {
		method, target, body string
	}
	seeds := []request{
		{"POST", "/internal/forward", `{"x":1}`},
		{"GET", "/internal/points?bucket=b&from=1", ""},
		{"PUT", "/", "\x00\xff"},
	}
	// Headers made with fixed nonces, so the set is the same in every run
	// and in the fuzzing workers.
	signed := map[string]request{}
	for i, r := range seeds {
		nonce := strings.Repeat(strconv.Itoa(i), 32)
		h := sign(testKey, r.method, r.target, []byte(r.body), now.Unix(), nonce)
		signed[h] = r
		f.Add(h, r.method, r.target, []byte(r.body), int64(0))
		f.Add(h, r.method, r.target, []byte(r.body+"x"), int64(0))
		f.Add(h, r.method, r.target, []byte(r.body), int64(31))
		f.Add(strings.ToUpper(h), r.method, r.target, []byte(r.body), int64(-5))
	}
	f.Add("", "GET", "/", []byte(nil), int64(0))
	f.Add("v2 t=0,n=,b=,s=", "GET", "/", []byte(nil), int64(0))
	f.Add("v1 t=0,n=,s=", "GET", "/", []byte(nil), int64(0))
	f.Fuzz(func(t *testing.T, header, method, target string, body []byte, dt int64) {
		dt = max(-1e6, min(1e6, dt))
		at := now.Add(time.Duration(dt) * time.Second)
		err := Verify(testKey, header, method, target, body, at, 0)
		if err == nil {
			r, ok := signed[header]
			if !ok || r != (request{method, target, string(body)}) || dt > 30 || dt < -30 {
				t.Fatalf("Verify accepted %q for %s %q body %q at now%+ds, which Sign did not make", header, method, target, body, dt)
			}
		} else if !isSentinel(err) {
			t.Fatalf("Verify(%q) = %v, not one of the sentinels", header, err)
		}
		// A genuine signature of the fuzzed request verifies, and no
		// other key or body does.
		h := Sign(testKey, method, target, body, at)
		if err := Verify(testKey, h, method, target, body, at, 0); err != nil {
			t.Fatalf("own signature %q of %s %q refused: %v", h, method, target, err)
		}
		if err := Verify(otherKey, h, method, target, body, at, 0); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("signature verified under another key: %v", err)
		}
		if err := Verify(testKey, h, method, target, append(bytes.Clone(body), 0), at, 0); !errors.Is(err, ErrBodyMismatch) {
			t.Fatalf("signature verified with a longer body: %v", err)
		}
		// A Verifier takes it once.
		c := &clock{t: at.Add(-time.Minute)} // made before the signature
		v := NewVerifier(VerifierConfig{Key: testKey, Now: c.now})
		c.set(at)
		if err := v.Verify(h, method, target, body); err != nil {
			t.Fatalf("Verifier refused own signature %q: %v", h, err)
		}
		if err := v.Verify(h, method, target, body); !errors.Is(err, ErrReplayed) {
			t.Fatalf("Verifier took %q twice: %v", h, err)
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	h := Sign(testKey, "POST", "/internal/points", body, now)
	for b.Loop() {
		if err := Verify(testKey, h, "POST", "/internal/points", body, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifier is BenchmarkVerify plus the replay check, from parallel
// callers as the internal handlers are; the difference is the nonce set's
// cost.
func BenchmarkVerifier(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	headers := make([]string, b.N)
	for i := range headers {
		headers[i] = Sign(testKey, "POST", "/internal/points", body, now)
	}
	v := NewVerifier(VerifierConfig{Key: testKey, Now: func() time.Time { return now }, MaxNonces: max(b.N, 1)})
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.Verify(headers[next.Add(1)-1], "POST", "/internal/points", body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
