package replication

import "errors"

// ErrHintsFull means a hint was dropped: its queue is at its size bound.
var ErrHintsFull = errors.New("hint queue full")

// ErrUnavailable is returned by a write or read that cannot meet its
// consistency now, and by anything else that cannot serve now (no leader,
// shutting down); the client may retry.
var ErrUnavailable = errors.New("service unavailable")
