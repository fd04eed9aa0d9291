package nodeauth

import (
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxNonces is how many unexpired nonces a Verifier remembers when
// its config gives no limit: about 35,000 internal requests a second with
// the default skew, in about 32 MiB at most.
const DefaultMaxNonces = 1 << 20

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Key is the key from DeriveKey(clusterKey, PurposeRPC); without one
	// the Verifier accepts nothing.
	Key []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Skew is how far a signature's timestamp may be from Now; default
	// DefaultSkew.
	Skew time.Duration
	// MaxNonces caps the nonces remembered; default DefaultMaxNonces.
	MaxNonces int
}

// Verifier checks signatures like Verify and also accepts each nonce only
// once: a request captured and sent again within the skew window is refused
// with ErrReplayed. It remembers a nonce until its timestamp is out of the
// window, after which Verify refuses the request as expired anyway. As it
// cannot know the nonces an earlier process accepted, it also refuses, as
// expired, signatures from a second before the one it was made in: a
// request captured before a node restarts cannot be replayed after. It is
// safe for concurrent use.
type Verifier struct {
	key       []byte
	now       func() time.Time
	skew      time.Duration
	maxNonces int
	// since is the second the Verifier was made in. The nonces seen
	// before, by an earlier process of this node, are unknown, so a
	// signature made earlier is refused.
	since int64

	mu sync.Mutex
	// bySecond holds the nonces accepted, by the second they were signed
	// at, so that a whole second is forgotten at once when it leaves the
	// window.
	bySecond map[int64]map[[nonceLen]byte]struct{}
	count    int   // nonces in bySecond
	oldest   int64 // smallest key of bySecond; MaxInt64 when empty
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxNonces <= 0 {
		cfg.MaxNonces = DefaultMaxNonces
	}
	return &Verifier{
		key: cfg.Key, now: cfg.Now, skew: cfg.Skew, maxNonces: cfg.MaxNonces, since: cfg.Now().Unix(),
		bySecond: map[int64]map[[nonceLen]byte]struct{}{}, oldest: math.MaxInt64,
	}
}

// Verify returns nil if header is a genuine, recent signature of the
// request (method, target as built by Target, body) whose nonce this
// Verifier has not accepted before; it then remembers the nonce. Otherwise
// it returns an error wrapping one of Verify's, ErrReplayed or
// ErrTooManyNonces. It is VerifyHead and then Check of the body.
func (v *Verifier) Verify(header, method, target string, body []byte) error {
	sum, err := v.VerifyHead(header, method, target)
	if err != nil {
		return err
	}
	return sum.Check(body)
}

// VerifyHead is Verify without the body: it checks the signature over the
// body hash the header claims, the time, and the nonce, and remembers the
// nonce. A receiver calls it before reading any of the body, so that no
// one without the key can make it buffer one, and then checks the body it
// reads with the returned BodySum's Check. Only genuine signatures reach
// the nonce set, so only holders of the key can fill it.
func (v *Verifier) VerifyHead(header, method, target string) (BodySum, error) {
	now := v.now()
	unix, nonceHex, sum, err := verifyHead(v.key, header, method, target, now, v.skew)
	if err != nil {
		return BodySum{}, err
	}
	if unix < v.since {
		return BodySum{}, fmt.Errorf("%w: signed at %d, before this node started at %d", ErrExpired, unix, v.since)
	}
	var nonce [nonceLen]byte
	if _, err := hex.Decode(nonce[:], []byte(nonceHex)); err != nil {
		return BodySum{}, ErrMalformed // parse has checked it; unreachable
	}
	if err := v.remember(unix, nonce, now); err != nil {
		return BodySum{}, err
	}
	return sum, nil
}

// remember records nonce, signed at unix, unless it is already there.
func (v *Verifier) remember(unix int64, nonce [nonceLen]byte, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forget(now)
	second := v.bySecond[unix]
	if _, seen := second[nonce]; seen {
		return ErrReplayed
	}
	if v.count >= v.maxNonces {
		return ErrTooManyNonces
	}
	if second == nil {
		second = map[[nonceLen]byte]struct{}{}
		v.bySecond[unix] = second
		v.oldest = min(v.oldest, unix)
	}
	second[nonce] = struct{}{}
	v.count++
	return nil
}

// forget drops the seconds that verify would now refuse as expired. A
// second t is dropped only once now-t is more than the skew whatever the
// fraction of a second, so nothing still acceptable is forgotten. The
// sweep runs at most about once a second, when the oldest second leaves
// the window.
func (v *Verifier) forget(now time.Time) {
	cutoff := now.Add(-v.skew).Unix()
	if v.oldest >= cutoff {
		return
	}
	v.oldest = math.MaxInt64
	for t, second := range v.bySecond {
		if t < cutoff {
			v.count -= len(second)
			delete(v.bySecond, t)
		} else {
			v.oldest = min(v.oldest, t)
		}
	}
}
