package replication

import "errors"

// ErrHintsFull means a hint was dropped: its queue is at its size bound.
var ErrHintsFull = errors.New("hint queue full")

// ErrUnavailable is returned by a write or read that cannot meet its
// consistency now, and by anything else that cannot serve now (no leader,
// shutting down); the client may retry.
var ErrUnavailable = errors.New("service unavailable")

// NotLeaderError says that only the Raft leader can make a change (such as
// removing a node) and names it for the caller to retry there. It wraps
// ErrUnavailable: the HTTP API answers 503, with the leader's URL, when
// known, in the message and in a header.
type NotLeaderError struct {
	// Reason says why this node does not make the change, in lower case.
	Reason string
	// LeaderURL is the leader's HTTP base URL, such as
	// "http://10.0.0.2:8080"; empty when no leader is known.
	LeaderURL string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderURL == "" {
		return e.Reason + "; no leader is known now, retry later"
	}
	return e.Reason + "; send this request to the leader at " + e.LeaderURL
}

func (e *NotLeaderError) Unwrap() error { return ErrUnavailable }
