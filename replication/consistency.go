package replication

import "fmt"

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

// ReadNote goes with a read of the Points store as an argument: the
// caller says whether it accepts a possibly partial answer, the store says
// whether the answer may be partial and why. A nil note accepts partial
// answers and is told nothing.
type ReadNote struct {
	RefusePartial bool
	Partial       bool
	Reason        string
}

// refusesPartial reports whether the read must fail rather than answer
// partially.
func (n *ReadNote) refusesPartial() bool { return n != nil && n.RefusePartial }

// markPartial records that the answer may be partial; the first reason
// stands.
func (n *ReadNote) markPartial(reason string) {
	if n != nil && !n.Partial {
		n.Partial, n.Reason = true, reason
	}
}
