// Package nodeauth authenticates node-to-node HTTP requests with a key
// derived from the shared cluster key: the sender signs the method, the
// request target, a timestamp, a nonce and a hash of the body, and the
// receiver checks the signature and that the timestamp is recent.
//
// Header format (one line, in the header named HeaderName):
//
//	v1 t=<unix seconds>,n=<32 lowercase hex nonce>,s=<64 lowercase hex HMAC-SHA256>
//
// where s is HMAC-SHA256, under a key from DeriveKey(clusterKey, PurposeRPC),
// over these fields, each preceded by its length as 8 bytes big-endian:
//
//	"v1", method, target (path and query), t, n, SHA-256(body)
//
// The lengths make the input unambiguous whatever the method and target hold.
// The encoding is canonical (lowercase hex, decimal without leading zeros,
// fields in this order, nothing else), so exactly one header string carries
// a given signature.
//
// # Replay
//
// Verify keeps no state, so a request captured on the internal network can
// be replayed unchanged within the skew window (30s by default; the window
// is two-sided, so up to a minute). That is accepted at this stage because
// what the internal requests do is safe to repeat: point writes are keyed
// by (dataSourceId, timestamp), usage shipments carry absolute counts that
// only grow, delivery records carry attempt numbers that only grow, and
// forwarded creates carry the ids their proposer chose, so a second one is
// refused as a conflict. The exceptions: a forwarded update (rename, pause,
// plan change) replayed after a later update of the same resource undoes
// that one; and a TriggerAlert for a rule with a cooldown of 0 is recorded
// again (the FSM does not deduplicate events by id; an ordinary retry after
// a timeout does the same). An attacker who can capture internal traffic can also
// read it, so the answer to that threat is TLS between nodes; the nonce is
// in the header so that a receiver can add a set of nonces seen in the
// window (rate × 2 × skew entries) without a change of format.
package nodeauth
