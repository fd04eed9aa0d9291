package replication

import "errors"

// ErrHintsFull means a hint was dropped: its queue is at its size bound.
var ErrHintsFull = errors.New("hint queue full")
