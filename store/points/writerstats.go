package points

import (
	"sync/atomic"
	"time"
)

// WriterStats counts the writer's group commits since the store opened:
// how many, how many points and runs (one source's points in one hour: a
// piece and a rollup in Badger each) they held, and how long the writer
// spent in them; and how many groups waited for writes announced to be on
// their way (arrivals.go). Points per commit is how well group commit
// amortizes; busy time growing as fast as the clock means the writer is
// saturated.
type WriterStats struct {
	Commits uint64
	Points  uint64
	Runs    uint64
	Busy    time.Duration
	Lingers uint64
}

// writerCounters are WriterStats as the writer updates them.
type writerCounters struct {
	commits, points, runs, lingers atomic.Uint64
	busyNS                         atomic.Int64
}

func (c *writerCounters) note(points, runs int, busy time.Duration) {
	c.commits.Add(1)
	c.points.Add(uint64(points))
	c.runs.Add(uint64(runs))
	c.busyNS.Add(int64(busy))
}

// WriterStats returns the writer's counters.
func (db *DB) WriterStats() WriterStats {
	c := &db.writerCounters
	return WriterStats{Commits: c.commits.Load(), Points: c.points.Load(), Runs: c.runs.Load(), Busy: time.Duration(c.busyNS.Load()), Lingers: c.lingers.Load()}
}
