package points

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// cursor walks the points of one series in [lo, end), in time order
// (reversed if desc), decoding one block at a time.
type cursor struct {
	id        string
	it        *badger.Iterator
	lo, end   int64
	desc      bool
	keep      func(string) bool
	timesOnly bool
	blk       block
	i         int
	err       error
}

func newCursor(txn *badger.Txn, s series, id string, lo, end int64, desc bool, keep func(string) bool, timesOnly bool) *cursor {
	c := &cursor{id: id, lo: lo, end: end, desc: desc, keep: keep, timesOnly: timesOnly}
	// No value prefetching: blocks are stored inline in the LSM tree (far
	// below Badger's value threshold), where prefetching would only start a
	// goroutine per item and copy each value twice.
	c.it = txn.NewIterator(badger.IteratorOptions{Prefix: s.prefix(tagBlock), Reverse: desc})
	if lo >= end {
		return c
	}
	if desc {
		// Reverse seek lands on the last key at or before the seek key: the
		// last block of end's hour, whatever its seq.
		c.it.Seek(s.blockKey(hourOf(end-1), math.MaxUint32))
	} else {
		c.it.Seek(s.key(tagBlock, hourOf(lo)))
	}
	return c
}

func (c *cursor) close() { c.it.Close() }

// point is the current point after next returned true.
func (c *cursor) point() *Point { return &c.blk[c.i] }

// next moves to the next point in range; false at the end or on error (err).
func (c *cursor) next() bool {
	if c.lo >= c.end {
		return false
	}
	step := 1
	if c.desc {
		step = -1
	}
	for {
		c.i += step
		if c.i >= 0 && c.i < len(c.blk) {
			ts := c.blk[c.i].TS
			switch {
			case ts >= c.end:
				if !c.desc {
					return false
				}
			case ts < c.lo:
				if c.desc {
					return false
				}
			default:
				return true
			}
			continue
		}
		if !c.it.Valid() {
			return false
		}
		h := keyTime(c.it.Item().Key())
		if (!c.desc && h >= c.end) || (c.desc && h+hourNS <= c.lo) {
			return false
		}
		// Merge every block of this hour, oldest (lowest seq) first.
		var pieces []block
		for ; c.it.Valid() && keyTime(c.it.Item().Key()) == h; c.it.Next() {
			var b block
			c.err = c.it.Item().Value(func(v []byte) (err error) { b, err = decodeBlockIn(v, c.keep, c.timesOnly, c.lo, c.end); return err })
			if c.err != nil {
				c.err = fmt.Errorf("cannot decode block: %w", c.err)
				return false
			}
			pieces = append(pieces, b)
		}
		if c.desc {
			slices.Reverse(pieces)
		}
		if len(pieces) == 1 {
			c.blk = pieces[0] // a compacted hour: nothing to merge
		} else {
			c.blk = nil
			for _, b := range pieces {
				c.blk = mergeBlock(c.blk, b)
			}
		}
		c.i = -1
		if c.desc {
			c.i = len(c.blk)
		}
	}
}

// scanPoints calls fn for each stored point of s in [start, end), in time
// order; fn returns false to stop.
func scanPoints(txn *badger.Txn, s series, start, end int64, keep func(string) bool, timesOnly bool, fn func(p *Point) bool) error {
	c := newCursor(txn, s, "", start, end, false, keep, timesOnly)
	defer c.close()
	for c.next() {
		if !fn(c.point()) {
			break
		}
	}
	return c.err
}

// scanRollups calls fn for each stored hour rollup of s with hour start in
// [start, end), in time order. Every hour is decoded into the same rollup:
// fn must not keep r beyond the call.
func scanRollups(txn *badger.Txn, s series, start, end int64, fn func(hour int64, r *rollup) error) error {
	if start >= end {
		return nil
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: s.prefix(tagRollup)}) // inline values: see newCursor
	defer it.Close()
	r := newRollup()
	for it.Seek(s.key(tagRollup, start)); it.Valid(); {
		item := it.Item()
		h := keyTime(item.Key())
		if h >= end {
			break
		}
		// An hour's stale mark follows its rollup, if it has one (keys.go).
		stale := isStaleKey(item.Key())
		if !stale {
			if err := item.Value(r.decode); err != nil {
				return fmt.Errorf("cannot decode rollup: %w", err)
			}
			it.Next()
			if it.Valid() && isStaleKey(it.Item().Key()) && keyTime(it.Item().Key()) == h {
				stale = true
			}
		}
		if stale {
			it.Next()
			if err := summarizeHour(txn, s, h, r); err != nil {
				return err
			}
			if r.points == 0 {
				continue
			}
		}
		if err := fn(h, r); err != nil {
			return err
		}
	}
	return nil
}

// summarizeHour sets r to the rollup of the hour's stored points: the
// rollup of an hour whose stored one is stale.
func summarizeHour(txn *badger.Txn, s series, hour int64, r *rollup) error {
	b, _, err := readHour(txn, s, hour, nil, false)
	if err != nil {
		return err
	}
	r.reset()
	for i := range b {
		r.add(b[i].TS, b[i].Values)
	}
	return nil
}

// fullHours splits [start, end) into a head before the first whole hour, the
// whole hours [h0, h1), and a tail from h1. When no whole hour fits, h0 == h1
// == end and the head is the whole range.
func fullHours(start, end int64) (h0, h1 int64) {
	h0 = hourOf(start)
	if h0 < start {
		h0 += hourNS
	}
	h1 = hourOf(end)
	if h0 >= h1 {
		return end, end
	}
	return h0, h1
}

// cutoff is the oldest time the bucket still returns.
func (db *DB) cutoff(bucket id12) int64 {
	ret, ok := db.cfg.Retention(bucket.String())
	if !ok {
		return math.MaxInt64 // unknown bucket: nothing to return
	}
	return db.cfg.Now().UnixNano() - int64(ret)
}

// resolve parses a range, clamps it to retention and returns its series.
func (db *DB) resolve(r Range) ([]series, int64, int64, error) {
	bucket, err := parseID(r.BucketID)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	out := make([]series, len(r.SourceIDs))
	for i, id := range r.SourceIDs {
		src, err := parseID(id)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: %v", ErrBadQuery, err)
		}
		out[i] = series{bucket: bucket, source: src}
	}
	return out, max(r.Start, db.cutoff(bucket)), r.End, nil
}

// countRange counts the points of s in [start, end): whole hours from their
// rollups, the partial hours at either end from the keys (or from their
// rollups too, when every point of the hour is in range).
func countRange(txn *badger.Txn, s series, start, end int64) (int64, error) {
	var n int64
	hour := newRollup()
	countKeys := func(a, b int64) error {
		whole, err := edgeRollup(txn, s, a, b, hour)
		if err != nil {
			return err
		}
		if whole {
			n += hour.points
			return nil
		}
		return scanPoints(txn, s, a, b, nil, true, func(*Point) bool { n++; return true })
	}
	h0, h1 := fullHours(start, end)
	if err := countKeys(start, h0); err != nil {
		return 0, err
	}
	if err := scanRollups(txn, s, h0, h1, func(_ int64, r *rollup) error { n += r.points; return nil }); err != nil {
		return 0, err
	}
	return n, countKeys(h1, end)
}

// Count returns how many points match r.
func (db *DB) Count(ctx context.Context, r Range) (int64, error) {
	ss, start, end, err := db.resolve(r)
	if err != nil {
		return 0, err
	}
	var total int64
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, s := range ss {
			n, err := countRange(txn, s, start, end)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

func fieldFilter(fields []string) func(string) bool {
	if fields == nil {
		return nil
	}
	return func(name string) bool { return slices.Contains(fields, name) }
}

// rawPrealloc bounds the points Raw makes room for before it knows how many
// match: a page of the API's largest limit.
const rawPrealloc = 1000

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].point().TS, h[j].point().TS
	if a != b {
		return (a < b) != h[i].desc
	}
	return (h[i].id < h[j].id) != h[i].desc
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// Raw returns a page of points in time order across the sources (ties broken
// by source id), and how many match in all.
func (db *DB) Raw(ctx context.Context, q RawQuery) (RawResult, error) {
	if q.Limit <= 0 || q.Offset < 0 {
		return RawResult{}, fmt.Errorf("%w: limit must be positive and offset not negative", ErrBadQuery)
	}
	ss, start, end, err := db.resolve(q.Range)
	if err != nil {
		return RawResult{}, err
	}
	res := RawResult{Points: make([]Point, 0, min(q.Limit, rawPrealloc))}
	keep := fieldFilter(q.Fields)
	err = db.bdb.View(func(txn *badger.Txn) error {
		count := func() error {
			for _, s := range ss {
				n, err := countRange(txn, s, start, end)
				if err != nil {
					return err
				}
				res.Total += n
			}
			return nil
		}
		// A page past the end is answered from the count alone; a first
		// page usually needs no count (see below).
		counted := q.Offset > 0
		if counted {
			if err := count(); err != nil || int64(q.Offset) >= res.Total {
				return err
			}
		}
		h := make(cursorHeap, 0, len(ss))
		cursors := make([]*cursor, 0, len(ss))
		defer func() {
			for _, c := range cursors {
				c.close()
			}
		}()
		for i, s := range ss {
			c := newCursor(txn, s, q.SourceIDs[i], start, end, q.Desc, keep, false)
			cursors = append(cursors, c)
			if c.next() {
				h = append(h, c)
			} else if c.err != nil {
				return c.err
			}
		}
		heap.Init(&h)
		walked := int64(0)
		for ; h.Len() > 0 && len(res.Points) < q.Limit; walked++ {
			c := h[0]
			if walked >= int64(q.Offset) {
				p := *c.point()
				p.SourceID = c.id
				res.Points = append(res.Points, p)
			}
			if c.next() {
				heap.Fix(&h, 0)
			} else {
				if c.err != nil {
					return c.err
				}
				heap.Pop(&h)
			}
		}
		switch {
		case counted:
			return nil
		case h.Len() == 0:
			// The walk passed every point in range: it counted them.
			res.Total = walked
			return nil
		}
		return count()
	})
	return res, err
}

// windowRollups returns, in time order, one rollup per window of w holding
// points of s in [start, end), as forWindows computes them.
func windowRollups(txn *badger.Txn, s series, start, end int64, w Window) ([]windowed, error) {
	var out []windowed
	err := forWindows(txn, s, start, end, w, func(ws int64, r *rollup) {
		out = append(out, windowed{start: ws, r: r.clone()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forWindows calls fn, in time order, with the rollup of each window of w
// holding points of s in [start, end). Minute windows come from the points;
// coarser ones from the stored hour rollups, with the partial hours at either
// end of the range summarized from the points, or from their rollups when
// every point of the hour is in range (the current hour, usually). fn must
// not keep r, which is reused: a pass allocates nothing per hour.
func forWindows(txn *badger.Txn, s series, start, end int64, w Window, fn func(ws int64, r *rollup)) error {
	cur, curStart, open := newRollup(), int64(0), false
	// flush hands the current window, if any, to fn.
	flush := func() {
		if open && cur.points > 0 {
			fn(curStart, cur)
		}
		open = false
	}
	// enter makes the window starting at ws current, handing the one before
	// to fn. Windows come in time order, so a window is never entered twice.
	enter := func(ws int64) {
		if open && curStart == ws {
			return
		}
		flush()
		cur.reset()
		curStart, open = ws, true
	}
	fromPoints := func(a, b int64, win Window) error {
		return scanPoints(txn, s, a, b, nil, false, func(p *Point) bool {
			enter(windowStart(win, p.TS))
			cur.add(p.TS, p.Values)
			return true
		})
	}
	addHour := func(h int64, r *rollup) {
		switch {
		case r.points == 0:
		case w == WindowHour: // the hour is a window of its own: no copy
			flush()
			fn(h, r)
		default:
			enter(windowStart(w, h))
			cur.merge(r)
		}
	}
	hour := newRollup()
	edge := func(a, b int64) error {
		whole, err := edgeRollup(txn, s, a, b, hour)
		if err != nil {
			return err
		}
		if whole {
			addHour(hourOf(a), hour)
			return nil
		}
		return fromPoints(a, b, w)
	}
	var err error
	if w == WindowMinute {
		err = fromPoints(start, end, WindowMinute)
	} else {
		h0, h1 := fullHours(start, end)
		err = edge(start, h0)
		if err == nil {
			err = scanRollups(txn, s, h0, h1, func(h int64, r *rollup) error { addHour(h, r); return nil })
		}
		if err == nil {
			err = edge(h1, end)
		}
	}
	if err != nil {
		return err
	}
	flush()
	return nil
}

// edgeRollup reads into r the rollup of the hour holding [a, b), and reports
// whether r summarizes [a, b) exactly: when the range lies within one hour
// and holds every point of the hour (or the hour holds none), so that the
// hour need not be read point by point.
func edgeRollup(txn *badger.Txn, s series, a, b int64, r *rollup) (bool, error) {
	r.reset()
	if a >= b {
		return true, nil
	}
	if hourOf(a) != hourOf(b-1) {
		return false, nil
	}
	hour := hourOf(a)
	_, err := txn.Get(s.staleKey(hour))
	switch {
	case err == nil:
		if err := summarizeHour(txn, s, hour, r); err != nil {
			return false, err
		}
	case errors.Is(err, badger.ErrKeyNotFound):
		item, err := txn.Get(s.key(tagRollup, hour))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("cannot read rollup: %w", err)
		}
		if err := item.Value(r.decode); err != nil {
			return false, fmt.Errorf("cannot decode rollup: %w", err)
		}
	default:
		return false, fmt.Errorf("cannot read rollup: %w", err)
	}
	return r.points == 0 || (r.minTS >= a && r.maxTS < b), nil
}

type windowed struct {
	start int64
	r     *rollup
}

// Aggregate returns one row per source per window holding points, ordered by
// window start and then source id (both reversed if Desc). For WindowAll the
// row's Start is the time of its first point.
func (db *DB) Aggregate(ctx context.Context, q AggQuery) ([]Row, error) {
	if q.Aggregation < AggAvg || q.Aggregation > AggLast || q.Window > WindowMonth {
		return nil, fmt.Errorf("%w: unknown aggregation or window", ErrBadQuery)
	}
	ss, start, end, err := db.resolve(q.Range)
	if err != nil {
		return nil, err
	}
	keep := fieldFilter(q.Fields)
	rows := []Row{}
	err = db.bdb.View(func(txn *badger.Txn) error {
		for i, s := range ss {
			// Rows are built as the windows come: no copy of each rollup.
			err := forWindows(txn, s, start, end, q.Window, func(ws int64, r *rollup) {
				row := Row{SourceID: q.SourceIDs[i], Start: ws, Count: r.points}
				if q.Stats {
					row.Stats = r.stats(keep)
				} else {
					row.Values = r.result(q.Aggregation, keep)
				}
				if q.Window == WindowAll {
					row.Start = r.minTS
				}
				rows = append(rows, row)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if q.Stats {
		return rows, nil // source by source, each in time order
	}
	slices.SortFunc(rows, func(a, b Row) int {
		c := cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.SourceID, b.SourceID))
		if q.Desc {
			return -c
		}
		return c
	})
	return rows, nil
}

// FinestWindow returns the finest window, minute to month, for which the
// sources' points fall in at most maxRows (source, window) pairs. Minute
// windows are counted from the keys, stopping as soon as there are too many;
// coarser ones from the hours that hold points.
func (db *DB) FinestWindow(ctx context.Context, r Range, maxRows int) (Window, error) {
	ss, start, end, err := db.resolve(r)
	if err != nil {
		return 0, err
	}
	best := WindowMonth
	err = db.bdb.View(func(txn *badger.Txn) error {
		rows := 0
		for _, s := range ss {
			last := int64(math.MinInt64)
			err := scanPoints(txn, s, start, end, nil, true, func(p *Point) bool {
				if m := windowStart(WindowMinute, p.TS); m != last {
					last = m
					rows++
				}
				return rows <= maxRows
			})
			if err != nil {
				return err
			}
			if rows > maxRows {
				break
			}
		}
		if rows <= maxRows {
			best = WindowMinute
			return nil
		}
		hours := make([][]int64, len(ss))
		for i, s := range ss {
			ws, err := windowRollups(txn, s, start, end, WindowHour)
			if err != nil {
				return err
			}
			for _, w := range ws {
				hours[i] = append(hours[i], w.start)
			}
		}
		for w := WindowHour; w < WindowMonth; w++ {
			rows := 0
			for _, hs := range hours {
				last := int64(math.MinInt64)
				for _, h := range hs {
					if ws := windowStart(w, h); ws != last {
						last = ws
						rows++
					}
				}
			}
			if rows <= maxRows {
				best = w
				return nil
			}
		}
		return nil
	})
	return best, err
}
