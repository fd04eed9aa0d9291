package nodeauth

import "errors"

var (
	// ErrMissing: the request carries no node signature.
	ErrMissing = errors.New("missing node signature")
	// ErrMalformed: the signature header is not in the v1 format.
	ErrMalformed = errors.New("malformed node signature")
	// ErrBadSignature: the signature does not match the request under this
	// node's key (another key, or a changed method, target or body).
	ErrBadSignature = errors.New("bad node signature")
	// ErrExpired: the signature is genuine but its timestamp is further from
	// this node's clock than the allowed skew (replay, or clocks apart).
	ErrExpired = errors.New("node signature expired")
	// ErrNoKey: the verifying node has no key, so nothing can verify; the
	// cluster key is not configured.
	ErrNoKey = errors.New("no cluster key configured")
)
