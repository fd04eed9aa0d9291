package nodeauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// HeaderName is the HTTP header that carries the signature. It is not
// Authorization, so that a node signature and an API key can never be
// mistaken for one another by the public handlers.
const HeaderName = "X-Dakkio-Node-Auth"

// DefaultSkew is how far a signature's timestamp may be from the verifier's
// clock when Verify is given no skew.
const DefaultSkew = 30 * time.Second

// Purposes for DeriveKey: each use of the cluster key gets its own key, so
// that a message authenticated for one can never pass for another.
const (
	PurposeRPC    = "dakkio/rpc/v1"
	PurposeGossip = "dakkio/gossip/v1"
)

const (
	version      = "v2"
	nonceLen     = 16 // bytes; 32 hex characters
	sigLen       = sha256.Size
	maxHeaderLen = 256 // a v2 header is about 190 bytes
)

// BodySum is the SHA-256 of a request's body as its signature claims it.
// The MAC covers the claim, so a receiver can check the signature from the
// headers alone, before reading any of the body, and then check the body
// against the claim with Check.
type BodySum [sha256.Size]byte

// Check returns nil if body is the one the signature was made over, else
// ErrBodyMismatch (which is also ErrBadSignature).
func (b BodySum) Check(body []byte) error {
	if sha256.Sum256(body) != b {
		return ErrBodyMismatch
	}
	return nil
}

// DeriveKey returns the key for one purpose: HMAC-SHA256 keyed with the
// cluster key over the purpose. The result is 32 bytes, which memberlist
// also accepts as a gossip encryption key. An empty cluster key gives nil,
// with which Verify accepts nothing: a key derived from the empty string
// would be known to everyone.
func DeriveKey(clusterKey, purpose string) []byte {
	if clusterKey == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(clusterKey))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Sign returns the signature header for a request: method, target (the
// request URI as sent: path and query) and body, at time now.
func Sign(key []byte, method, target string, body []byte, now time.Time) string {
	var nonce [nonceLen]byte
	rand.Read(nonce[:]) // never fails; it crashes the program instead
	return sign(key, method, target, body, now.Unix(), hex.EncodeToString(nonce[:]))
}

func sign(key []byte, method, target string, body []byte, unix int64, nonce string) string {
	ts := strconv.FormatInt(unix, 10)
	sum := BodySum(sha256.Sum256(body))
	return version + " t=" + ts + ",n=" + nonce + ",b=" + hex.EncodeToString(sum[:]) +
		",s=" + hex.EncodeToString(mac(key, method, target, ts, nonce, sum))
}

// mac is HMAC-SHA256 over the version, method, target, timestamp, nonce and
// SHA-256 of the body, each preceded by its length, so that no two different
// requests give the same input (a method ending in "\n/x" cannot stand for a
// target starting with "/x").
func mac(key []byte, method, target, ts, nonce string, bodySum BodySum) []byte {
	m := hmac.New(sha256.New, key)
	for _, field := range []string{version, method, target, ts, nonce, string(bodySum[:])} {
		writeField(m, field)
	}
	return m.Sum(nil)
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Verify checks header against the request and returns nil if it was made by
// Sign with the same key, method, target and body, at a time no further from
// now than skew (DefaultSkew when skew <= 0; timestamps have one-second
// resolution). Otherwise it returns an error wrapping ErrNoKey, ErrMissing,
// ErrMalformed, ErrBadSignature (ErrBodyMismatch when only the body differs)
// or ErrExpired. The signature is checked before the time, so only a holder
// of the key can learn that a timestamp was refused. Verify keeps no state:
// a Verifier also refuses replays.
func Verify(key []byte, header, method, target string, body []byte, now time.Time, skew time.Duration) error {
	_, _, sum, err := verifyHead(key, header, method, target, now, skew)
	if err != nil {
		return err
	}
	return sum.Check(body)
}

// verifyHead checks the MAC over the body hash the header claims, and the
// time, without the body. For a genuine signature it returns its
// timestamp, nonce and claimed body hash.
func verifyHead(key []byte, header, method, target string, now time.Time, skew time.Duration) (int64, string, BodySum, error) {
	if len(key) == 0 {
		return 0, "", BodySum{}, ErrNoKey
	}
	if header == "" {
		return 0, "", BodySum{}, ErrMissing
	}
	ts, unix, nonce, sum, sig, err := parse(header)
	if err != nil {
		return 0, "", BodySum{}, err
	}
	if !hmac.Equal(sig, mac(key, method, target, ts, nonce, sum)) {
		return 0, "", BodySum{}, ErrBadSignature
	}
	if skew <= 0 {
		skew = DefaultSkew
	}
	if d := now.Sub(time.Unix(unix, 0)); d > skew || d < -skew {
		return 0, "", BodySum{}, fmt.Errorf("%w: signed at %d, %s from this node's clock (allowed %s)", ErrExpired, unix, d.Round(time.Second), skew)
	}
	return unix, nonce, sum, nil
}

// parse splits a v2 header, accepting only the canonical form Sign writes.
func parse(h string) (ts string, unix int64, nonce string, sum BodySum, sig []byte, err error) {
	malformed := func(what string) (string, int64, string, BodySum, []byte, error) {
		return "", 0, "", BodySum{}, nil, fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	if len(h) > maxHeaderLen {
		return malformed("header too long")
	}
	rest, ok := strings.CutPrefix(h, version+" ")
	if !ok {
		return malformed("not a " + version + " signature")
	}
	fields := strings.Split(rest, ",")
	if len(fields) != 4 {
		return malformed("want the fields t, n, b and s")
	}
	ts, okT := strings.CutPrefix(fields[0], "t=")
	nonce, okN := strings.CutPrefix(fields[1], "n=")
	b, okB := strings.CutPrefix(fields[2], "b=")
	s, okS := strings.CutPrefix(fields[3], "s=")
	if !okT || !okN || !okB || !okS {
		return malformed("want the fields t, n, b and s")
	}
	unix, err = strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || strconv.FormatInt(unix, 10) != ts {
		return malformed("bad timestamp")
	}
	if len(nonce) != 2*nonceLen || !isLowerHex(nonce) {
		return malformed("bad nonce")
	}
	if len(b) != 2*len(sum) || !isLowerHex(b) {
		return malformed("bad body hash encoding")
	}
	if _, err := hex.Decode(sum[:], []byte(b)); err != nil {
		return malformed("bad body hash encoding")
	}
	if len(s) != 2*sigLen || !isLowerHex(s) {
		return malformed("bad signature encoding")
	}
	sig, err = hex.DecodeString(s)
	if err != nil {
		return malformed("bad signature encoding")
	}
	return ts, unix, nonce, sum, sig, nil
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
