package points

import (
	"bytes"
	"context"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// HourCount is how many points of a range fall in one clock hour (UTC).
type HourCount struct {
	Hour  int64 // start of the hour, Unix ns
	Count int64
}

// SourceStats summarizes one source's points in a range.
type SourceStats struct {
	SourceID string
	Count    int64       // points in the range
	Hourly   []HourCount // the hours holding points in the range, ascending
	// Avg, Min and Max hold the aggregate of each numeric field over the
	// range; they are empty, not nil, when the range holds no number.
	Avg, Min, Max map[string]float64
}

// PeriodStats returns, for each source of r in r's order, its point count,
// its count per hour and the average, minimum and maximum of each numeric
// field in r (clamped to the bucket's retention, as every query is). It is
// one pass per source over the hour windows as Aggregate computes them
// (forWindows, under windowRollups): whole hours from the stored rollups, the
// partial hours at either end of the range from their points, or from their
// rollups when every point of the hour is in range. It allocates nothing
// per hour beyond the HourCount.
func (db *DB) PeriodStats(ctx context.Context, r Range) ([]SourceStats, error) {
	ss, start, end, err := db.resolve(r)
	if err != nil {
		return nil, err
	}
	out := make([]SourceStats, len(ss))
	err = db.bdb.View(func(txn *badger.Txn) error {
		for i, s := range ss {
			if err := ctx.Err(); err != nil {
				return err
			}
			st := SourceStats{SourceID: r.SourceIDs[i], Avg: map[string]float64{}, Min: map[string]float64{}, Max: map[string]float64{}}
			// A source that never held a point needs no scan.
			if info := db.info(s); info.count > 0 && info.maxTS >= start && info.minTS < end {
				total := newRollup()
				err := forWindows(txn, s, start, end, WindowHour, func(h int64, r *rollup) {
					st.Hourly = append(st.Hourly, HourCount{Hour: h, Count: r.points})
					total.merge(r)
				})
				if err != nil {
					return err
				}
				st.Count = total.points
				for k := range total.fields {
					f := &total.fields[k]
					if f.kind != KindNumber || f.count == 0 {
						continue
					}
					st.Avg[f.name] = f.sum / float64(f.count)
					st.Min[f.name] = f.min
					st.Max[f.name] = f.max
				}
			}
			out[i] = st
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// BucketSize estimates the bytes the bucket's points and rollups take on
// disk. SST tables that hold nothing but the bucket's keys (of one kind)
// count by their size on disk, compressed, as Badger's EstimateSize reports
// them. The bucket's other keys count by their stored size, key and value,
// before compression: those outside its own tables' key ranges (in tables
// shared with other buckets, or in memtables not yet flushed), and those
// among them written after the newest of its own tables (memtables, newer
// shared tables). It reads no values, and walks only those keys (plus at
// most one table), so its cost does not grow with the bucket.
//
// It is an estimate: superseded versions count while tables still hold them;
// the bucket's keys in a shared table older than its newest own table, and
// among its own tables' keys, are missed (a transient state of level 0,
// until compaction sorts it out); and the value log is left out (blocks are
// far below Badger's value threshold, so they live in tables).
func (db *DB) BucketSize(bucketID string) int64 {
	bucket, err := parseID(bucketID)
	if err != nil {
		return 0
	}
	tables := db.bdb.Tables()
	var size int64
	_ = db.bdb.View(func(txn *badger.Txn) error {
		for _, tag := range []byte{tagBlock, tagRollup} {
			prefix := bucketPrefix(tag, bucket)
			var own []keySpan
			var newest uint64 // the newest version in an own table
			for _, t := range tables {
				if bytes.HasPrefix(t.Left, prefix) && bytes.HasPrefix(t.Right, prefix) {
					size += int64(t.OnDiskSize)
					own = append(own, keySpan{lo: userKey(t.Left), hi: userKey(t.Right)})
					newest = max(newest, t.MaxVersion)
				}
			}
			own = unionSpans(own)
			// Every key outside the own tables' ranges, skipping over them.
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			for it.Rewind(); it.Valid(); {
				if i, in := spanOf(own, it.Item().Key()); in {
					it.Seek(append(slices.Clip(own[i].hi), 0)) // the first key after the span
					continue
				}
				size += it.Item().EstimatedSize()
				it.Next()
			}
			it.Close()
			if len(own) == 0 {
				continue
			}
			// The keys among them written after the newest own table. With
			// SinceTs, Badger skips every table older than it.
			it = txn.NewIterator(badger.IteratorOptions{Prefix: prefix, SinceTs: newest})
			for it.Rewind(); it.Valid(); it.Next() {
				if _, in := spanOf(own, it.Item().Key()); in {
					size += it.Item().EstimatedSize()
				}
			}
			it.Close()
		}
		return nil
	})
	return size
}

// spanOf returns the span of spans (disjoint, in order) holding k.
func spanOf(spans []keySpan, k []byte) (int, bool) {
	// The first span that does not end before k.
	i, _ := slices.BinarySearchFunc(spans, k, func(s keySpan, k []byte) int { return bytes.Compare(s.hi, k) })
	return i, i < len(spans) && bytes.Compare(spans[i].lo, k) <= 0
}

// keySpan is a closed range of user keys, [lo, hi].
type keySpan struct{ lo, hi []byte }

// userKey strips the 8-byte version Badger appends to the keys it stores.
func userKey(k []byte) []byte {
	if len(k) < 8 {
		return k
	}
	return k[:len(k)-8]
}

// unionSpans returns the union of spans as disjoint spans in key order.
func unionSpans(spans []keySpan) []keySpan {
	slices.SortFunc(spans, func(a, b keySpan) int { return bytes.Compare(a.lo, b.lo) })
	var out []keySpan
	for _, s := range spans {
		if n := len(out); n > 0 && bytes.Compare(s.lo, out[n-1].hi) <= 0 {
			if bytes.Compare(s.hi, out[n-1].hi) > 0 {
				out[n-1].hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
