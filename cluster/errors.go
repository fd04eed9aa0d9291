package cluster

import "errors"

var (
	// ErrNotLeader: this node cannot apply commands because it is not the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader: no leader was known before the deadline.
	ErrNoLeader = errors.New("no raft leader")
	// ErrUnknownCommand: a command value of a type the codec does not know.
	ErrUnknownCommand = errors.New("unknown command type")
	// ErrNoKey: Raft was configured without a key to authenticate its connections.
	ErrNoKey = errors.New("cluster: raft needs a key of at least 16 bytes")
	// ErrBadEntry: a committed log entry could not be applied (undecodable,
	// unknown type, or its apply panicked) and was skipped as a no-op.
	ErrBadEntry = errors.New("raft log entry skipped")

	// errApplyPanic: applying a decoded command panicked.
	errApplyPanic = errors.New("apply panicked")
)
