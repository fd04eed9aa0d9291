package points

import (
	"math"
	"slices"
)

// hotHour is one source's hour as the writer last wrote it: its points as
// block encodings, its rollup, and how many blocks it is stored in. Cached
// so that a group commit neither reads nor decodes the hours it extends.
// Only the writer uses it, under writeMu, and changes it in place.
//
// The points are kept encoded, not decoded: a decoded point of 3 fields
// took 216 bytes (the point, its values, and the request buffers they were
// carved from), so a hundred sources writing every second kept 60–120 MiB
// of the node's heap in their current hours (heap profiles of a sustained
// ingest); encoded, an hour takes a few bytes a point. Time-ordered runs
// are added without decoding anything; a run reaching back into the hour
// decodes the times it may replace, and the fold, or a run that replaces
// points, decodes the whole hour.
type hotHour struct {
	s    series
	hour int64
	// enc holds the hour's points as plain block encodings back to back,
	// one part each: the hour as it was loaded or last folded, then each
	// run written since. A later part's point replaces an earlier one's at
	// the same time, as a later piece's does on disk.
	enc   []byte
	parts []hourPart
	count int     // points in the hour
	r     *rollup // the hour's rollup
	// pieces: blocks stored at seq 0..pieces-1.
	pieces int
	// stale: the hour's stale mark is stored (keys.go), so its stored
	// rollup is behind the points until a fold stores it. An hour read from
	// disk starts false even if a mark is stored: its next piece writes the
	// mark again, which costs one entry and is never wrong.
	stale bool
	// fields are the fields every point of the hour carries, when
	// fieldsKnown.
	fields      []blockField
	fieldsKnown bool
}

// hourPart is one encoding in hotHour.enc: it ends at end, and its points'
// times run from first to last.
type hourPart struct {
	end         int
	first, last int64
}

// loadedHour is a hot hour holding b, an hour read from disk in pieces
// blocks.
func loadedHour(s series, hour int64, b block, pieces int) *hotHour {
	h := &hotHour{s: s, hour: hour, pieces: pieces, r: b.rollup()}
	h.setPoints(encodeBlock(nil, b), b)
	return h
}

// setPoints makes enc, the encoding of b, the hour's only part; an hour
// of no points has none (a part must hold points: the next run's would
// start after enc's header).
func (h *hotHour) setPoints(enc []byte, b block) {
	h.enc, h.parts, h.count = enc, h.parts[:0], len(b)
	if len(b) == 0 {
		h.enc = nil
		return
	}
	h.parts = append(h.parts, hourPart{end: len(enc), first: b[0].TS, last: b[len(b)-1].TS})
}

// addPart appends a run's encoding (points sorted, unique times) as the
// hour's last part.
func (h *hotHour) addPart(enc []byte, run []Point) {
	h.enc = append(h.enc, enc...)
	h.parts = append(h.parts, hourPart{end: len(h.enc), first: run[0].TS, last: run[len(run)-1].TS})
}

// newest is the time of the hour's newest point (MinInt64 if none).
func (h *hotHour) newest() int64 {
	t := int64(math.MinInt64)
	for _, p := range h.parts {
		t = max(t, p.last)
	}
	return t
}

// part returns the i-th part's encoding.
func (h *hotHour) part(i int) []byte {
	start := 0
	if i > 0 {
		start = h.parts[i-1].end
	}
	return h.enc[start:h.parts[i].end]
}

// points decodes the hour's points, in time order.
func (h *hotHour) points() (block, error) {
	r := blockReaders.Get().(*blockReader)
	defer r.release()
	r.keep, r.timesOnly, r.lo, r.hi = nil, false, math.MinInt64, math.MaxInt64
	out := make(block, 0, h.count)
	var err error
	for i, p := range h.parts {
		if len(out) == 0 || p.first > out[len(out)-1].TS {
			// The usual case: the part follows the parts before it in time.
			if out, err = r.appendBlock(out, h.part(i), h.count-len(out)); err != nil {
				return nil, err
			}
			continue
		}
		// The part reaches back among the points read so far (concurrent
		// clients' batches interleave in time): merged in from the back,
		// as the writer merged it, it moves only the points after its
		// first.
		if r.scratch, err = r.appendBlock(r.scratch[:0], h.part(i), 0); err != nil {
			return nil, err
		}
		out = mergeInto(out, r.scratch, countReplaced(out, r.scratch))
	}
	return out, nil
}

// countReplaced counts the points of add (sorted, unique times) whose time
// b (sorted, unique times) holds.
func countReplaced(b block, add []Point) int {
	if len(add) == 0 {
		return 0
	}
	i, _ := b.search(add[0].TS)
	n := 0
	for j := 0; i < len(b) && j < len(add); {
		switch {
		case b[i].TS < add[j].TS:
			i++
		case b[i].TS > add[j].TS:
			j++
		default:
			n++
			i++
			j++
		}
	}
	return n
}

// timesIn returns the times of the hour's points in [lo, hi], sorted and
// unique, decoding only the parts that reach into that range.
func (h *hotHour) timesIn(lo, hi int64) ([]int64, error) {
	r := blockReaders.Get().(*blockReader)
	defer r.release()
	r.keep, r.timesOnly, r.lo, r.hi = nil, true, lo, hi
	if hi < math.MaxInt64 {
		r.hi = hi + 1
	}
	var times []int64
	var got block
	for i, p := range h.parts {
		if p.last < lo || p.first > hi {
			continue
		}
		var err error
		if got, err = r.appendBlock(got[:0], h.part(i), 0); err != nil {
			return nil, err
		}
		for j := range got {
			times = append(times, got[j].TS)
		}
	}
	slices.Sort(times)
	return slices.Compact(times), nil
}

// extend adds a run's points (sorted, unique times) to the hour as one
// more piece, in place, and appends the piece's encoding to dst; it
// returns that and how many of the run's points replaced a point.
func (h *hotHour) extend(dst []byte, add []Point) (piece []byte, replaced int, err error) {
	if h.count == 0 {
		h.r = newRollup()
	}
	fields, uniform := blockFields(add)
	h.noteFields(fields, uniform)
	if h.count > 0 && add[0].TS <= h.newest() {
		// The run reaches back into the hour (concurrent clients' batches
		// interleave in time): count the points it replaces.
		times, err := h.timesIn(add[0].TS, add[len(add)-1].TS)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range add {
			if _, found := slices.BinarySearch(times, p.TS); found {
				replaced++
			}
		}
	}
	piece = encodeBlockAs(dst, add, fields, uniform)
	h.addPart(piece, add)
	h.count += len(add) - replaced
	h.pieces++
	// The rollup is kept as the hour grows, for the fold to store: adding
	// each run's points cost less than one pass over the whole hour at the
	// fold (0.31 against 0.50 s of an 8 s profile of line-protocol ingest).
	// A replaced point takes its values out of the sums, minima and maxima:
	// the hour is summarized again.
	if replaced == 0 {
		for j := range add {
			h.r.add(add[j].TS, add[j].Values)
		}
		return piece, 0, nil
	}
	b, err := h.points()
	if err != nil {
		return nil, 0, err
	}
	h.r = b.rollup()
	return piece, replaced, nil
}

// noteFields keeps the hour's field list up to date with a run about to be
// added: it stays known while every point carries the same fields, which is
// when knowing it saves a pass; otherwise encoding lists them again. Points
// replaced by the run do not matter: removing points from a block whose
// points all carry the same fields leaves it so.
func (h *hotHour) noteFields(fields []blockField, uniform bool) {
	switch {
	case h.count == 0:
		h.fields, h.fieldsKnown = fields, uniform
	case h.fieldsKnown && (!uniform || !slices.Equal(h.fields, fields)):
		h.fields, h.fieldsKnown = nil, false
	}
}

// encodeWhole returns the hour's encoding as one block, and keeps it as
// the hour's only part: the fold stores it. The caller must not change it.
func (h *hotHour) encodeWhole() ([]byte, error) {
	if len(h.parts) == 1 {
		// Already one block (an hour folded once, whose fold did not fit
		// its group, is folded again after it): a part encodes its points
		// as encodeBlock does, field list or not.
		end := h.parts[0].end
		return h.enc[:end:end], nil
	}
	b, err := h.points()
	if err != nil {
		return nil, err
	}
	var enc []byte
	if h.fieldsKnown {
		enc = encodeBlockAs(nil, b, h.fields, true)
	} else {
		enc = encodeBlock(nil, b)
	}
	h.setPoints(enc, b)
	return enc[:len(enc):len(enc)], nil
}

// rollup returns the hour's rollup.
func (h *hotHour) rollup() *rollup {
	if h.r == nil {
		h.r = newRollup()
	}
	return h.r
}

// needsFold tells whether the hour is in pieces or its rollup is stale.
func (h *hotHour) needsFold() bool { return h.pieces > 1 || h.stale }
