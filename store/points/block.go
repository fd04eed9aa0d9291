package points

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
)

// A block holds every point of one source in one hour, sorted by time, and is
// stored column by column: times as delta-of-delta varints (regular sampling
// costs one byte a point), then each field's presence and values, then the
// metadata. A numeric column whose values are all short decimals is stored as
// varint deltas of the mantissas at one shared scale, which for sensor data
// is one or two bytes a value; other columns fall back to 8-byte floats.
//
//	uvarint n
//	varint ts[0]; varint dod[1..n-1]
//	uvarint fields; per field: name, kind, presence, values
//	byte hasMeta; per point: uvarint len, bytes
type block []Point

const (
	presentAll    byte = 0
	presentBitmap byte = 1

	numScaled byte = 0
	numFloat  byte = 1
)

// encodeBlock appends the stored form of b, whose points are sorted by TS.
func encodeBlock(dst []byte, b block) []byte {
	fields, uniform := blockFields(b)
	return encodeBlockAs(dst, b, fields, uniform)
}

// encodeBlockAs is encodeBlock with b's fields already listed, as
// blockFields lists them: the writer keeps them for the hours it extends,
// since that pass over every point's values was half of encoding a whole
// hour (the values of an hour's points lie scattered over the heap).
func encodeBlockAs(dst []byte, b block, fields []blockField, uniform bool) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	var prev, prevDelta int64
	for i := range b {
		switch i {
		case 0:
			dst = binary.AppendVarint(dst, b[i].TS)
		default:
			d := b[i].TS - prev
			dst = binary.AppendVarint(dst, d-prevDelta)
			prevDelta = d
		}
		prev = b[i].TS
	}
	dst = binary.AppendUvarint(dst, uint64(len(fields)))
	col := make([]*Value, len(b))
	for j, f := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(f.name)))
		dst = append(dst, f.name...)
		dst = append(dst, byte(f.kind))
		present := 0
		for i := range b {
			if uniform {
				col[i] = &b[i].Values[j]
			} else {
				col[i] = b[i].find(f.name)
			}
			if col[i] != nil {
				present++
			}
		}
		if present == len(b) {
			dst = append(dst, presentAll)
		} else {
			dst = append(dst, presentBitmap)
			bits := make([]byte, (len(b)+7)/8)
			for i, v := range col {
				if v != nil {
					bits[i/8] |= 1 << (i % 8)
				}
			}
			dst = append(dst, bits...)
		}
		dst = appendColumn(dst, f.kind, col)
	}
	hasMeta := slices.ContainsFunc(b, func(p Point) bool { return len(p.Metadata) > 0 })
	if !hasMeta {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	for i := range b {
		dst = binary.AppendUvarint(dst, uint64(len(b[i].Metadata)))
		dst = append(dst, b[i].Metadata...)
	}
	return dst
}

type blockField struct {
	name string
	kind Kind
}

// blockFields lists the fields of b's points, sorted by name, and reports
// whether every point has exactly those fields (the usual case, which lets
// the encoder index values by position). A source's schema fixes each
// field's kind, so the first seen is the kind.
func blockFields(b block) ([]blockField, bool) {
	if len(b) == 0 {
		return nil, true
	}
	first := b[0].Values
	uniform := true
	for i := 1; i < len(b) && uniform; i++ {
		vs := b[i].Values
		if len(vs) != len(first) {
			uniform = false
			break
		}
		for j := range vs {
			if vs[j].Field != first[j].Field || vs[j].Kind != first[j].Kind {
				uniform = false
				break
			}
		}
	}
	if uniform {
		out := make([]blockField, len(first))
		for j, v := range first {
			out[j] = blockField{name: v.Field, kind: v.Kind}
		}
		return out, true
	}
	var out []blockField
	for i := range b {
		for _, v := range b[i].Values {
			j, found := slices.BinarySearchFunc(out, v.Field, func(f blockField, name string) int {
				return strings.Compare(f.name, name)
			})
			if !found {
				out = slices.Insert(out, j, blockField{name: v.Field, kind: v.Kind})
			}
		}
	}
	return out, false
}

func (p *Point) find(field string) *Value {
	for i := range p.Values {
		if p.Values[i].Field == field {
			return &p.Values[i]
		}
	}
	return nil
}

// appendScaled appends a number column as varint deltas of integer
// mantissas at one decimal scale, the smallest at which every value is
// exact, in one pass over the values: a value that needs a finer scale
// than the ones before it starts the column again at that scale (rare,
// and cheap at the first value, where it usually happens). It returns
// false, having appended nothing, if no scale fits every value.
func appendScaled(dst []byte, col []*Value) ([]byte, bool) {
	start := len(dst)
	for scale := 0; scale < len(pow10); {
		dst = append(dst[:start], numScaled, byte(scale))
		finer := scale
		var prev int64
		for _, v := range col {
			if v == nil {
				continue
			}
			if m, ok := mantissa(v.Num, scale); ok {
				dst = binary.AppendVarint(dst, m-prev)
				prev = m
				continue
			}
			for finer++; finer < len(pow10); finer++ {
				if _, ok := mantissa(v.Num, finer); ok {
					break
				}
			}
			break
		}
		if finer == scale {
			return dst, true
		}
		scale = finer
	}
	return dst[:start], false
}

// mantissa returns m with m / 10^scale == f exactly (so decoding gives back
// f), if there is one below maxExact; never for -0.
//
// RoundToEven compiles to one instruction on amd64 (ROUNDSD), and leaves
// mantissa cheap enough to inline, where math.Round does neither:
// BenchmarkEncodeHour took 23% less time. Below 2^51 both find the same m
// (TestMantissaRoundingHalfWay); above, where the product's own rounding
// can land half-way, one may miss an m the other finds, which only costs
// a finer scale or 8-byte floats: the check below keeps every encoding
// exact.
func mantissa(f float64, scale int) (int64, bool) {
	m := math.RoundToEven(f * pow10[scale])
	if math.Abs(m) >= maxExact || m/pow10[scale] != f || (f == 0 && math.Signbit(f)) {
		return 0, false
	}
	return int64(m), true
}

func appendColumn(dst []byte, kind Kind, col []*Value) []byte {
	switch kind {
	case KindNumber:
		if scaled, ok := appendScaled(dst, col); ok {
			return scaled
		}
		dst = append(dst, numFloat)
		for _, v := range col {
			if v != nil {
				dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Num))
			}
		}
	case KindString:
		for _, v := range col {
			if v != nil {
				dst = binary.AppendUvarint(dst, uint64(len(v.Str)))
				dst = append(dst, v.Str...)
			}
		}
	default:
		for _, v := range col {
			if v != nil {
				if v.Bool {
					dst = append(dst, 1)
				} else {
					dst = append(dst, 0)
				}
			}
		}
	}
	return dst
}

// A segmented block is an hour folded from pieces no two of which hold a
// point at the same time: the pieces' encodings back to back, as they were
// stored, instead of every point encoded again. Builds of 2026-12-06
// (b169233 to 45d5c55) wrote them; the writer no longer does (DESIGN.md,
// "Folding without encoding again"), and reads still take them. It starts
// with a zero byte, which starts no single block that holds a point, then
// a byte of flags, then per segment its length and a single block's
// encoding:
//
//	byte 0; byte flags; per segment: uvarint len, block
//
// With segmentsInOrder set, each segment's points all come before the next
// segment's first, and reads skip the segments outside their range
// undecoded; without it (concurrent clients' batches interleaved in time),
// reads decode every segment and sort the points.
const (
	segmentedBlock  byte = 0
	segmentsInOrder byte = 1
)

// decodeBlock reads a block. With keep set, only fields it accepts are kept;
// with timesOnly, values and metadata are skipped.
func decodeBlock(src []byte, keep func(string) bool, timesOnly bool) (block, error) {
	return decodeBlockIn(src, keep, timesOnly, math.MinInt64, math.MaxInt64)
}

// decodeBlockIn reads the points of a block with times in [lo, hi), as
// decodeBlock does; the values of the others are read past, never built: a
// query's range usually cuts its first and last hours.
func decodeBlockIn(src []byte, keep func(string) bool, timesOnly bool, lo, hi int64) (block, error) {
	r := blockReaders.Get().(*blockReader)
	defer r.release()
	r.keep, r.timesOnly, r.lo, r.hi = keep, timesOnly, lo, hi
	if isZipped(src) {
		plain, err := unzipBlock(r.zip[:0], src)
		if err != nil {
			return nil, err
		}
		r.zip = plain
		return r.appendBlock(nil, plain, 0)
	}
	if len(src) > 0 && src[0] == segmentedBlock {
		return r.segments(src[1:])
	}
	return r.appendBlock(nil, src, 0)
}

// blockReaders keep readers' scratch memory between reads: a query reads
// an hour at a time.
var blockReaders = sync.Pool{New: func() any { return new(blockReader) }}

// Bounds on what a pooled reader keeps: points' worth of scratch, field
// names.
const (
	maxPooledScratch = 1 << 14
	maxPooledNames   = 64
	maxPooledZip     = 1 << 18 // bytes of a compressed block, decompressed
)

// release hands r back to the pool, keeping only scratch memory: the
// values belong to the points returned, and nothing may keep the stored
// bytes the segments point into.
func (r *blockReader) release() {
	r.keep, r.vals = nil, nil
	clear(r.scratch)
	clear(r.segs)
	r.scratch, r.segs = r.scratch[:0], r.segs[:0]
	if cap(r.times) > maxPooledScratch || cap(r.scratch) > maxPooledScratch || cap(r.segs) > maxPooledScratch || len(r.names) > maxPooledNames || cap(r.zip) > maxPooledZip {
		*r = blockReader{}
	}
	blockReaders.Put(r)
}

// segment is one segment of a segmented block and the time it starts at.
type segment struct {
	enc   []byte
	n     uint64
	first int64
}

// maxValueReserve bounds the room for values a segment's read reserves for
// the segments after it, whose point counts are not checked yet.
const maxValueReserve = 1 << 16

// blockReader decodes blocks, appending the points in [lo, hi) to one
// output; its scratch memory serves every segment of a segmented block.
type blockReader struct {
	keep      func(string) bool
	timesOnly bool
	lo, hi    int64
	times     []int64
	present   []bool
	vals      []Value // room for values, handed out to points in windows
	scratch   block   // a segment to merge into the output
	segs      []segment
	names     []string
	zip       []byte // a compressed block's plain bytes
}

// name returns the field name b as a string, the one the last block read
// had at index f when equal: segments repeat their fields.
func (r *blockReader) name(f int, b []byte) string {
	if f < len(r.names) && r.names[f] == string(b) {
		return r.names[f]
	}
	name := string(b)
	if f < len(r.names) {
		r.names[f] = name
	} else if f == len(r.names) {
		r.names = append(r.names, name)
	}
	return name
}

// segments reads a segmented block's flags and segments.
func (r *blockReader) segments(src []byte) (block, error) {
	d := decoder{b: src}
	inOrder := d.byte1()&segmentsInOrder != 0
	segs := r.segs[:0]
	size := 0
	for len(d.b) > 0 && d.err == nil {
		enc := d.bytes(d.uvarint())
		if len(enc) == 0 {
			continue
		}
		h := decoder{b: enc}
		s := segment{enc: enc, n: h.uvarint(), first: h.varint()}
		if h.err != nil || s.n > uint64(len(enc)) {
			return nil, errCorrupt
		}
		segs = append(segs, s)
		size += int(s.n)
	}
	r.segs = segs
	if d.err != nil {
		return nil, d.err
	}
	out := make(block, 0, size)
	var err error
	// moved counts the points merging has moved; past a few times the
	// hour's, segments each spanning most of the hour (a strided backfill)
	// would make merging quadratic, and the rest are appended and sorted.
	moved, sortAtEnd := 0, false
	budget := 4 * size
	for i, s := range segs {
		if inOrder && s.first >= r.hi {
			break
		}
		if inOrder && i+1 < len(segs) && segs[i+1].first <= r.lo {
			continue // every point of s comes before lo
		}
		size -= int(s.n)
		if n := len(out); n > 0 && s.first <= out[n-1].TS && !sortAtEnd {
			// The segment reaches back among the points read so far: merge
			// it in from the back, as the writer merged it into the hour.
			at, _ := out.search(s.first)
			moved += len(out) - at
			if sortAtEnd = moved > budget; !sortAtEnd {
				if r.scratch, err = r.appendBlock(r.scratch[:0], s.enc, size); err != nil {
					return nil, err
				}
				out = mergeInto(out, r.scratch, 0)
				continue
			}
		}
		if out, err = r.appendBlock(out, s.enc, size); err != nil {
			return nil, err
		}
	}
	if sortAtEnd {
		slices.SortFunc(out, func(a, b Point) int { return cmp.Compare(a.TS, b.TS) })
	}
	return out, nil
}

// appendBlock appends the points in [lo, hi) of a single (not segmented)
// block to out; more is how many points later blocks may bring, which
// sizes the room it makes for values.
func (r *blockReader) appendBlock(out block, src []byte, more int) (block, error) {
	d := decoder{b: src}
	n := d.uvarint()
	if n > uint64(len(src)) {
		return nil, errCorrupt
	}
	r.times = slices.Grow(r.times[:0], int(n))[:n]
	var prev, prevDelta int64
	for i := range r.times {
		if i == 0 {
			prev = d.varint()
		} else {
			prevDelta += d.varint()
			prev += prevDelta
		}
		r.times[i] = prev
	}
	if d.err != nil {
		return nil, d.err
	}
	// Times are sorted in a block that is not corrupt; in one that is, the
	// cut is merely wrong, never out of bounds.
	i0, _ := slices.BinarySearch(r.times, r.lo)
	i1, _ := slices.BinarySearch(r.times[i0:], r.hi)
	start := len(out)
	out = slices.Grow(out, i1)[:start+i1]
	kept := out[start:]
	clear(kept)
	for i := range kept {
		kept[i].TS = r.times[i0+i]
	}
	if r.timesOnly {
		return out, nil
	}
	nf := d.uvarint()
	// A field takes at least its name's length, kind and presence; and at
	// least a bit a point (a presence bitmap) or a byte a point (values):
	// so a corrupt count never sizes an allocation far beyond the block.
	if nf > uint64(len(d.b))/3 || n*nf > 8*uint64(len(src)) {
		return nil, errCorrupt
	}
	// One array holds the kept points' values, each point its own capped
	// window of it: one allocation for a block, or a segmented block,
	// instead of one a point.
	need := uint64(len(kept)) * nf
	if uint64(cap(r.vals)-len(r.vals)) < need {
		r.vals = make([]Value, 0, need+min(uint64(more)*nf, maxValueReserve))
	}
	vals := r.vals[len(r.vals) : uint64(len(r.vals))+need]
	r.vals = r.vals[:uint64(len(r.vals))+need]
	for i := range kept {
		kept[i].Values = vals[uint64(i)*nf : uint64(i)*nf : uint64(i+1)*nf]
	}
	present := slices.Grow(r.present[:0], int(n))[:n]
	r.present = present
	for f := uint64(0); f < nf && d.err == nil; f++ {
		name := r.name(int(f), d.bytes(d.uvarint()))
		kind := Kind(d.byte1())
		switch d.byte1() {
		case presentAll:
			for i := range present {
				present[i] = true
			}
		case presentBitmap:
			bits := d.bytes((n + 7) / 8)
			for i := range present {
				present[i] = d.err == nil && bits[i/8]&(1<<(i%8)) != 0
			}
		default:
			d.err = errCorrupt
		}
		col := column{out: kept, first: i0, name: name}
		if r.keep != nil && !r.keep(name) {
			col.out = nil // read past
		}
		readColumn(&d, kind, present, &col)
	}
	if d.byte1() == 1 {
		// The kept metadata is copied out of src in one piece, as the
		// values are: a first pass sizes it.
		from, size := d, 0
		for i := range n {
			if m := d.bytes(d.uvarint()); i >= uint64(i0) && i < uint64(i0+i1) {
				size += len(m)
			}
		}
		d = from
		all := make([]byte, 0, size)
		for i := range n {
			if m := d.bytes(d.uvarint()); len(m) > 0 && i >= uint64(i0) && i < uint64(i0+i1) {
				all = append(all, m...)
				kept[i-uint64(i0)].Metadata = all[len(all)-len(m) : len(all) : len(all)]
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// column is where readColumn puts a field's values: out holds the block's
// points from index first on; values of other points are dropped.
type column struct {
	out   block
	first int
	name  string
}

func (c *column) put(i int, v Value) {
	if j := i - c.first; j >= 0 && j < len(c.out) {
		v.Field = c.name
		p := &c.out[j]
		p.Values = append(p.Values, v)
	}
}

func readColumn(d *decoder, kind Kind, present []bool, col *column) {
	switch kind {
	case KindNumber:
		switch d.byte1() {
		case numFloat:
			for i, ok := range present {
				if ok {
					col.put(i, Value{Kind: KindNumber, Num: math.Float64frombits(d.u64())})
				}
			}
		case numScaled:
			scale := d.byte1()
			if scale >= byte(len(pow10)) {
				d.err = errCorrupt
				return
			}
			var m int64
			for i, ok := range present {
				if ok {
					m += d.varint()
					col.put(i, Value{Kind: KindNumber, Num: float64(m) / pow10[scale]})
				}
			}
		default:
			d.err = errCorrupt
		}
	case KindString:
		for i, ok := range present {
			if ok {
				s := d.bytes(d.uvarint())
				if j := i - col.first; j >= 0 && j < len(col.out) {
					col.put(i, Value{Kind: KindString, Str: string(s)})
				}
			}
		}
	case KindBool:
		for i, ok := range present {
			if ok {
				col.put(i, Value{Kind: KindBool, Bool: d.byte1() == 1})
			}
		}
	default:
		d.err = errCorrupt
	}
}

// mergeBlock returns old with the points of add (sorted by TS, unique)
// inserted; a point of add replaces the point of old at the same time. The
// result may share memory with either: callers own both.
func mergeBlock(old block, add []Point) block {
	// An hour's pieces usually follow one another in time: then merging is
	// appending, and an hour of many pieces is not copied once per piece.
	switch {
	case len(old) == 0:
		return add
	case len(add) == 0 || old[len(old)-1].TS < add[0].TS:
		return append(old, add...)
	}
	out := make(block, 0, len(old)+len(add))
	i, j := 0, 0
	for i < len(old) || j < len(add) {
		switch {
		case j == len(add) || (i < len(old) && old[i].TS < add[j].TS):
			out = append(out, old[i])
			i++
		case i == len(old) || add[j].TS < old[i].TS:
			out = append(out, add[j])
			j++
		default: // same time: the new point wins
			out = append(out, add[j])
			i++
			j++
		}
	}
	return out
}

// search returns where ts is, or would be, among b's points (sorted by
// time), and whether a point of b is at ts.
func (b block) search(ts int64) (int, bool) {
	return slices.BinarySearchFunc(b, ts, func(p Point, t int64) int { return cmp.Compare(p.TS, t) })
}

func (b block) rollup() *rollup {
	r := newRollup()
	for i := range b {
		r.add(b[i].TS, b[i].Values)
	}
	return r
}
