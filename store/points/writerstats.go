package points

import (
	"sync/atomic"
	"time"
)

// WriterStats counts the writer's group commits since the store opened:
// how many, how many points and runs (one source's points in one hour: a
// piece in Badger each) they held, and how long the writer
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

// LevelStats is one level of the store's LSM tree, as Badger reports it.
type LevelStats struct {
	Level  int
	Tables int
	Bytes  int64
	// Score is how far past its target the level is, once it is 1 or more
	// and Badger will compact it; 0 below that.
	Score float64
}

// Levels returns the LSM tree's levels, level 0 (the memtables' flushes)
// first: a store still compacting (after a restart, a large ingest or a
// bucket delete) has levels with a score of 1 or more, and level 0 tables
// piling up stall writes.
func (db *DB) Levels() []LevelStats {
	info := db.bdb.Levels()
	out := make([]LevelStats, len(info))
	for i, l := range info {
		out[i] = LevelStats{Level: l.Level, Tables: l.NumTables, Bytes: l.Size, Score: l.Score}
	}
	return out
}
