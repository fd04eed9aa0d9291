// Package nodeauth authenticates node-to-node HTTP requests with a key
// derived from the shared cluster key: the sender signs the method, the
// request target, a timestamp, a nonce and a hash of the body, and the
// receiver checks the signature and that the timestamp is recent.
//
// Header format (one line, in the header named HeaderName):
//
//	v2 t=<unix seconds>,n=<32 lowercase hex nonce>,b=<64 lowercase hex SHA-256(body)>,s=<64 lowercase hex HMAC-SHA256>
//
// where s is HMAC-SHA256, under a key from DeriveKey(clusterKey, PurposeRPC),
// over these fields, each preceded by its length as 8 bytes big-endian:
//
//	"v2", method, target, t, n, b (the 32 bytes the header claims)
//
// The body's hash is in the header so that the receiver can check the
// signature, the time and the nonce from the headers alone, before it reads
// or buffers any of the body (Verifier.VerifyHead), and check the body
// against the hash once read (BodySum.Check). v1, which carried no hash and
// so could only be checked after the body was read, is no longer accepted.
//
// The target is Target(path, rawQuery): the path as sent, still escaped,
// and "?" and the raw query when there is one. Senders sign with
// SignRequest, which takes both from the request URI the HTTP client
// writes; the receiver rebuilds it from the request line, not from the
// decoded path, so no part of the query goes unsigned.
//
// The lengths make the input unambiguous whatever the method and target hold.
// The encoding is canonical (lowercase hex, decimal without leading zeros,
// fields in this order, nothing else), so exactly one header string carries
// a given signature.
//
// # Replay
//
// Verify keeps no state; a Verifier, which the internal handlers use, also
// accepts each nonce only once. It remembers the nonces of the signatures
// it accepted until their timestamps leave the skew window (the window is
// two-sided, so a nonce is kept up to a minute by default), grouped by
// second so that a whole second is forgotten at once, and at most
// MaxNonces of them: when full it refuses new requests (ErrTooManyNonces)
// rather than forget a nonce that could still be replayed. Only genuine
// signatures are remembered, so only a cluster member can fill it. Every
// attempt of a node-to-node call is signed afresh, so a retry is never
// taken for a replay.
//
// The nonce set lives in memory, so a restarted node does not know what it
// accepted before; its Verifier therefore refuses signatures made in a
// second before it was created, which costs a peer whose clock lags at
// most that lag's worth of refused (and retried) calls after a restart.
//
// What the Verifier does not stop: a signature does not name the node it
// was meant for, so a request captured on its way to one node can be sent
// once to another within the window. TLS between nodes closes that, as it
// keeps the requests from being captured at all.
package nodeauth
