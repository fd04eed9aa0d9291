package points

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"sync"
)

// changeLog remembers, per bucket and hour, the last change to its points
// (a write, a retention sweep, the bucket's deletion), numbered in the
// order they were made since the DB opened. Result caches above the store
// ask it whether anything in a span changed since they computed it.
type changeLog struct {
	mu    sync.Mutex
	epoch string // random per Open: marks of two openings never compare equal
	seq   uint64
	hours map[id12]map[int64]uint64
	reset map[id12]uint64 // the bucket's deletion
}

func newChangeLog() *changeLog {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &changeLog{epoch: strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 36),
		hours: make(map[id12]map[int64]uint64), reset: make(map[id12]uint64)}
}

// note records a change to the bucket's points at the given times.
func (c *changeLog) note(bucket id12, ts func(yield func(int64) bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	hs := c.hours[bucket]
	if hs == nil {
		hs = make(map[int64]uint64)
		c.hours[bucket] = hs
	}
	last := int64(minInt64)
	for t := range ts {
		if h := hourOf(t); h != last {
			hs[h], last = c.seq, h
		}
	}
}

func (c *changeLog) dropBucket(bucket id12) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	delete(c.hours, bucket)
	c.reset[bucket] = c.seq
}

// ChangeMark returns a token that stays the same for as long as no point
// of the bucket in [start, end) is written, replaced or deleted (by
// retention or with the bucket). Tokens of two DBs, or of one DB opened
// twice, differ.
func (db *DB) ChangeMark(bucketID string, start, end int64) string {
	bucket, err := parseID(bucketID)
	if err != nil {
		return ""
	}
	c := db.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	mark := c.reset[bucket]
	for h, seq := range c.hours[bucket] {
		if seq > mark && h+hourNS > start && h < end {
			mark = seq
		}
	}
	return c.epoch + "." + strconv.FormatUint(mark, 10)
}
