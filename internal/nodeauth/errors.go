package nodeauth

import (
	"errors"
	"fmt"
)

var (
	// ErrMissing: the request carries no node signature.
	ErrMissing = errors.New("missing node signature")
	// ErrMalformed: the signature header is not in the v2 format.
	ErrMalformed = errors.New("malformed node signature")
	// ErrBadSignature: the signature does not match the request under this
	// node's key (another key, or a changed method, target or body).
	ErrBadSignature = errors.New("bad node signature")
	// ErrBodyMismatch: the signature is genuine but the body read is not
	// the one whose hash it carries. It is also ErrBadSignature.
	ErrBodyMismatch = fmt.Errorf("%w: body does not match its signed hash", ErrBadSignature)
	// ErrExpired: the signature is genuine but its timestamp is further from
	// this node's clock than the allowed skew (replay, or clocks apart).
	ErrExpired = errors.New("node signature expired")
	// ErrNoKey: the verifying node has no key, so nothing can verify; the
	// cluster key is not configured.
	ErrNoKey = errors.New("no cluster key configured")
	// ErrReplayed: the signature is genuine and recent, but a Verifier has
	// already accepted a request carrying its nonce.
	ErrReplayed = errors.New("node signature already used")
	// ErrTooManyNonces: the Verifier holds as many unexpired nonces as it
	// may, so it refuses new requests until some expire rather than grow
	// without bound or forget nonces that could still be replayed.
	ErrTooManyNonces = errors.New("too many node signatures in the replay window")
)
