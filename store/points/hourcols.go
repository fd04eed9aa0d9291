package points

import (
	"encoding/binary"
	"math"
)

// hourColumns is a cached hour's block encoding, column by column, kept up
// to date as the writer extends the hour. Folding the hour then copies these
// bytes instead of walking every point's values again: an hour's values lie
// scattered over the heap, and that walk, on the one writer's path, was 12%
// of a node's CPU under line-protocol ingest. The bytes are encodeBlockAs's,
// so nothing about the stored form changes (unlike the segmented blocks of
// DESIGN.md, "Folding without encoding again"). It covers hours whose
// points all carry the same fields and no metadata; any other hour is
// encoded whole at its fold, as before.
//
// Concurrent clients' batches reach the writer a little out of order, so a
// run often lands before an hour's last points. The columns remember where
// each of the last runs ended (marks) and go back to the last mark before
// the run's first point, then encode the points from there again: the
// hour's newest points, still in the cache.
type hourColumns struct {
	n                 int
	times             []byte
	prevTS, prevDelta int64
	cols              []columnBuf
	marks             []hourMark // oldest first, at most maxHourMarks
}

// columnBuf is one field's column as appendColumn writes it.
type columnBuf struct {
	kind  Kind
	buf   []byte
	prev  int64     // numbers at a decimal scale: the last value's mantissa
	marks []colMark // aligned with hourColumns.marks
}

// hourMark is the state of the columns after n points.
type hourMark struct {
	n, times          int
	prevTS, prevDelta int64
}

// colMark is a column's state at a mark. Its bytes are still the start of
// the column while the column's head (numbers: stored as floats, or at
// which decimal scale) is the same: encoding at one scale is value by value.
type colMark struct {
	len  int
	prev int64
	head [2]byte
}

// maxHourMarks bounds how many runs back a late run can land and still
// keep the columns. Under 8 concurrent writers, late runs landed one or
// two runs back (BenchmarkWrite: 200 and 100 of 300 late runs).
const maxHourMarks = 8

// newHourColumns encodes the columns of b, whose points all carry fields
// (in that order) and are sorted by time; nil if a point has metadata.
func newHourColumns(b block, fields []blockField) *hourColumns {
	// The first mark, before any point, lets a run that lands among the
	// first run's points encode the young hour again.
	c := &hourColumns{cols: make([]columnBuf, len(fields)), marks: []hourMark{{}}}
	for j, f := range fields {
		c.cols[j].kind = f.kind
		c.cols[j].marks = []colMark{{}}
	}
	if !c.append(b, 0) {
		return nil
	}
	return c
}

// append adds the points b[from:] (newer than b[:from], which the columns
// already hold) and marks where they end. It reports false, having left c
// unusable, if one has metadata.
func (c *hourColumns) append(b block, from int) bool {
	for i := from; i < len(b); i++ {
		if len(b[i].Metadata) > 0 {
			return false
		}
		ts := b[i].TS
		if i == 0 {
			c.times = binary.AppendVarint(c.times, ts)
		} else {
			d := ts - c.prevTS
			c.times = binary.AppendVarint(c.times, d-c.prevDelta)
			c.prevDelta = d
		}
		c.prevTS = ts
	}
	c.n = len(b)
	drop := len(c.marks) == maxHourMarks
	if drop {
		copy(c.marks, c.marks[1:])
		c.marks = c.marks[:len(c.marks)-1]
	}
	c.marks = append(c.marks, hourMark{n: c.n, times: len(c.times), prevTS: c.prevTS, prevDelta: c.prevDelta})
	for j := range c.cols {
		col := &c.cols[j]
		col.append(b, from, j)
		if drop {
			copy(col.marks, col.marks[1:])
			col.marks = col.marks[:len(col.marks)-1]
		}
		col.marks = append(col.marks, colMark{len: len(col.buf), prev: col.prev, head: col.head()})
	}
	return true
}

// rewind takes the columns back to the last mark at or before point p
// (the points before it unchanged), reporting false if there is none.
func (c *hourColumns) rewind(p int) bool {
	k := len(c.marks) - 1
	for k >= 0 && c.marks[k].n > p {
		k--
	}
	if k < 0 {
		return false
	}
	m := c.marks[k]
	c.n, c.times, c.prevTS, c.prevDelta = m.n, c.times[:m.times], m.prevTS, m.prevDelta
	c.marks = c.marks[:k+1]
	for j := range c.cols {
		col := &c.cols[j]
		cm := col.marks[k]
		col.marks = col.marks[:k+1]
		if cm.head != col.head() {
			col.buf = col.buf[:0] // encoded again whole by the next append
			continue
		}
		col.buf, col.prev = col.buf[:cm.len], cm.prev
	}
	return true
}

// head is what a column's bytes so far depend on besides the values.
func (col *columnBuf) head() [2]byte {
	if col.kind != KindNumber || len(col.buf) == 0 {
		return [2]byte{}
	}
	if col.buf[0] == numFloat {
		return [2]byte{numFloat}
	}
	return [2]byte{numScaled, col.buf[1]}
}

// append adds field j of the points b[from:]. A number that the column's
// decimal scale cannot hold exactly encodes the whole column again, as
// appendScaled would have from the start; that leaves the bytes equal to
// encoding all of b at once, since appendScaled's choices up to a point
// depend only on the values before it.
func (col *columnBuf) append(b block, from, j int) {
	if from == 0 || len(col.buf) == 0 {
		col.encodeAll(b, j)
		return
	}
	for i := from; i < len(b); i++ {
		v := &b[i].Values[j]
		switch col.kind {
		case KindNumber:
			if col.buf[0] == numFloat {
				col.buf = binary.BigEndian.AppendUint64(col.buf, math.Float64bits(v.Num))
				continue
			}
			m, ok := mantissa(v.Num, int(col.buf[1]))
			if !ok {
				col.encodeAll(b, j)
				return
			}
			col.buf = binary.AppendVarint(col.buf, m-col.prev)
			col.prev = m
		case KindString:
			col.buf = binary.AppendUvarint(col.buf, uint64(len(v.Str)))
			col.buf = append(col.buf, v.Str...)
		default:
			col.buf = append(col.buf, boolByte(v.Bool))
		}
	}
}

// encodeAll encodes field j of every point of b.
func (col *columnBuf) encodeAll(b block, j int) {
	vals := make([]*Value, len(b))
	for i := range b {
		vals[i] = &b[i].Values[j]
	}
	col.buf = appendColumn(col.buf[:0], col.kind, vals)
	if col.kind == KindNumber && col.buf[0] == numScaled && len(b) > 0 {
		col.prev, _ = mantissa(b[len(b)-1].Values[j].Num, int(col.buf[1]))
	}
}

// appendBlock appends the hour's block: encodeBlockAs of all its points.
func (c *hourColumns) appendBlock(dst []byte, fields []blockField) []byte {
	dst = binary.AppendUvarint(dst, uint64(c.n))
	dst = append(dst, c.times...)
	dst = binary.AppendUvarint(dst, uint64(len(fields)))
	for j, f := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(f.name)))
		dst = append(dst, f.name...)
		dst = append(dst, byte(f.kind), presentAll)
		dst = append(dst, c.cols[j].buf...)
	}
	return append(dst, 0) // no metadata
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
