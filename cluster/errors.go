package cluster

import "errors"

var (
	// ErrNotLeader: this node cannot apply commands because it is not the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader: no leader was known before the deadline.
	ErrNoLeader = errors.New("no raft leader")
	// ErrUnknownCommand: a command value of a type the codec does not know.
	ErrUnknownCommand = errors.New("unknown command type")
)
