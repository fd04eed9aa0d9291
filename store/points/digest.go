package points

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// HourDigest summarizes one source's points in one hour, so that two
// replicas can tell whether they hold the same points without sending them.
type HourDigest struct {
	Source string `json:"s"`
	Hour   int64  `json:"h"` // start of the hour, Unix ns
	Count  int64  `json:"n"`
	Hash   uint64 `json:"x"` // sum of the points' hashes: order does not matter
}

// Digests returns a digest per source and hour holding points in the hours
// overlapping [start, end), ordered by source then hour. Hours are read from
// the blocks themselves, not the rollups: a rollup's sums depend on the order
// in which the points arrived, which differs between replicas.
func (db *DB) Digests(ctx context.Context, bucketID string, start, end int64) ([]HourDigest, error) {
	bucket, err := parseID(bucketID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	// Expired points may linger on one replica until its sweep: not a
	// difference worth repairing.
	start = max(start, db.cutoff(bucket))
	var all []series
	db.infoMu.RLock()
	for s, info := range db.series {
		if s.bucket == bucket && info.count > 0 && info.minTS < end && info.maxTS >= start {
			all = append(all, s)
		}
	}
	db.infoMu.RUnlock()
	slices.SortFunc(all, func(a, b series) int { return bytes.Compare(a.source[:], b.source[:]) })

	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	var out []HourDigest
	for _, s := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src := s.source.String()
		err := scanHours(txn, s, hourOf(start), end, func(hour int64, b block) {
			d := HourDigest{Source: src, Hour: hour}
			for i := range b {
				if b[i].TS >= start && b[i].TS < end {
					d.Count++
					d.Hash += pointHash(&b[i])
				}
			}
			if d.Count > 0 {
				out = append(out, d)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanHours calls fn with each stored hour of s from hour h0 until end, its
// blocks merged.
func scanHours(txn *badger.Txn, s series, h0, end int64, fn func(hour int64, b block)) error {
	prefix := s.prefix(tagBlock)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var cur block
	curHour, have := int64(0), false
	for it.Seek(s.key(tagBlock, h0)); it.Valid(); it.Next() {
		k := it.Item().Key()
		hour := keyTime(k)
		if hour >= end {
			break
		}
		if have && hour != curHour {
			fn(curHour, cur)
			cur = nil
		}
		curHour, have = hour, true
		var b block
		if err := it.Item().Value(func(v []byte) (err error) { b, err = decodeBlock(v, nil, false); return err }); err != nil {
			return fmt.Errorf("cannot decode block %x: %w", k, err)
		}
		cur = mergeBlock(cur, b)
	}
	if have {
		fn(curHour, cur)
	}
	return nil
}

// pointHash hashes a point's time, values and metadata.
func pointHash(p *Point) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(p.TS))
	h.Write(b[:])
	for i := range p.Values {
		v := &p.Values[i]
		h.Write([]byte(v.Field))
		h.Write([]byte{0, byte(v.Kind)})
		switch v.Kind {
		case KindNumber:
			binary.BigEndian.PutUint64(b[:], math.Float64bits(v.Num))
			h.Write(b[:])
		case KindString:
			h.Write([]byte(v.Str))
			h.Write([]byte{0})
		case KindBool:
			if v.Bool {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
		}
	}
	h.Write(p.Metadata)
	return h.Sum64()
}

// HourPoints returns every point of one source in the hour starting at hour.
func (db *DB) HourPoints(ctx context.Context, bucketID, sourceID string, hour int64) ([]Point, error) {
	bucket, err1 := parseID(bucketID)
	source, err2 := parseID(sourceID)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: bad bucket or source id", ErrBadQuery)
	}
	s := series{bucket: bucket, source: source}
	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	b, _, err := readHour(txn, s, hourOf(hour), nil, false)
	if err != nil {
		return nil, err
	}
	for i := range b {
		b[i].SourceID = sourceID
	}
	return b, ctx.Err()
}

// Merge stores the points another replica holds that this one lacks: a
// point whose time is not here yet is written; one that is here with other
// values is written only when its hash is greater, so that replicas which
// copy from each other settle on the same version whatever the order.
// It returns how many points it wrote.
func (db *DB) Merge(ctx context.Context, bucketID string, pts []Point) (int, error) {
	bucket, err := parseID(bucketID)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	slices.SortFunc(pts, func(a, b Point) int {
		return cmp.Or(cmp.Compare(a.SourceID, b.SourceID), cmp.Compare(a.TS, b.TS))
	})
	cutoff := db.cutoff(bucket)
	pts = slices.DeleteFunc(pts, func(p Point) bool { return p.TS < cutoff })
	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	var keep []Point
	for i := 0; i < len(pts); {
		src, hour := pts[i].SourceID, hourOf(pts[i].TS)
		j := i
		for j < len(pts) && pts[j].SourceID == src && hourOf(pts[j].TS) == hour {
			j++
		}
		source, err := parseID(src)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBadQuery, err)
		}
		have, _, err := readHour(txn, series{bucket: bucket, source: source}, hour, nil, false)
		if err != nil {
			return 0, err
		}
		for k := i; k < j; k++ {
			p := &pts[k]
			at, found := have.search(p.TS)
			if !found || pointHash(p) > pointHash(&have[at]) {
				keep = append(keep, *p)
			}
		}
		i = j
	}
	txn.Discard()
	if len(keep) == 0 {
		return 0, nil
	}
	return len(keep), db.Write(ctx, bucketID, keep)
}
