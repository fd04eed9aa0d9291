package replication

import (
	"context"
	"fmt"
)

// Consistency is how many of a bucket's replicas must store a write before
// it is acknowledged.
type Consistency uint8

// Consistency levels. ConsistencyDefault leaves the choice to the node's
// configuration.
const (
	ConsistencyDefault Consistency = iota
	ConsistencyOne
	ConsistencyQuorum
	ConsistencyAll
)

// ParseConsistency reads "one", "quorum" or "all".
func ParseConsistency(s string) (Consistency, error) {
	switch s {
	case "one":
		return ConsistencyOne, nil
	case "quorum":
		return ConsistencyQuorum, nil
	case "all":
		return ConsistencyAll, nil
	}
	return 0, fmt.Errorf("consistency must be one of one, quorum, all; got %q", s)
}

func (c Consistency) String() string {
	switch c {
	case ConsistencyOne:
		return "one"
	case ConsistencyQuorum:
		return "quorum"
	case ConsistencyAll:
		return "all"
	}
	return "default"
}

// Acks returns how many of n replicas must acknowledge a write.
func (c Consistency) Acks(n int) int {
	switch c {
	case ConsistencyOne:
		return min(1, n)
	case ConsistencyAll:
		return n
	}
	return n/2 + 1
}

// ReadNote travels with a read through the Points store: the handler says
// whether it accepts a possibly partial answer, the store says whether the
// answer may be partial and why.
type ReadNote struct {
	RefusePartial bool
	Partial       bool
	Reason        string
}

type readNoteKey struct{}

// WithReadNote attaches note to ctx for the Points store to fill in.
func WithReadNote(ctx context.Context, note *ReadNote) context.Context {
	return context.WithValue(ctx, readNoteKey{}, note)
}

// ReadNoteFrom returns the note attached to ctx, or nil.
func ReadNoteFrom(ctx context.Context) *ReadNote {
	n, _ := ctx.Value(readNoteKey{}).(*ReadNote)
	return n
}

// MarkPartial records on ctx's note that the answer may be partial.
func MarkPartial(ctx context.Context, reason string) {
	if n := ReadNoteFrom(ctx); n != nil && !n.Partial {
		n.Partial, n.Reason = true, reason
	}
}
