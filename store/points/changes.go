package points

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"sync"
)

// changeLog remembers, per bucket and minute of point time, the last change
// to its points (a write, a retention sweep, the bucket's deletion),
// numbered in the order they were made since the DB opened. Result caches
// above the store ask it whether anything in a span changed since they
// computed it. Minutes keep a cache of whole hours valid while the current
// hour fills; past maxMinuteMarks a bucket's minutes fold into hours (a
// coarser answer, never a wrong one).
type changeLog struct {
	mu      sync.Mutex
	epoch   string // random per Open: marks of two openings never compare equal
	seq     uint64
	buckets map[id12]*bucketChanges
	reset   map[id12]uint64 // the bucket's deletion
}

type bucketChanges struct {
	minutes map[int64]uint64
	hours   map[int64]uint64
}

const maxMinuteMarks = 4096

func newChangeLog() *changeLog {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &changeLog{epoch: strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 36),
		buckets: make(map[id12]*bucketChanges), reset: make(map[id12]uint64)}
}

// note records a change to the bucket's points at the given times.
func (c *changeLog) note(bucket id12, ts func(yield func(int64) bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	bc := c.buckets[bucket]
	if bc == nil {
		bc = &bucketChanges{minutes: make(map[int64]uint64), hours: make(map[int64]uint64)}
		c.buckets[bucket] = bc
	}
	last := int64(minInt64)
	for t := range ts {
		if m := floorDiv(t, minuteNS) * minuteNS; m != last {
			bc.minutes[m], last = c.seq, m
		}
	}
	if len(bc.minutes) > maxMinuteMarks {
		for m, seq := range bc.minutes {
			h := hourOf(m)
			bc.hours[h] = max(bc.hours[h], seq)
		}
		clear(bc.minutes)
	}
}

func (c *changeLog) dropBucket(bucket id12) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	delete(c.buckets, bucket)
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
	if bc := c.buckets[bucket]; bc != nil {
		for m, seq := range bc.minutes {
			if seq > mark && m+minuteNS > start && m < end {
				mark = seq
			}
		}
		for h, seq := range bc.hours {
			if seq > mark && h+hourNS > start && h < end {
				mark = seq
			}
		}
	}
	return c.epoch + "." + strconv.FormatUint(mark, 10)
}
