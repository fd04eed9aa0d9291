package points

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHourEncodeKeepsFields: an hour extended run by run (newer points,
// late points, replacements, points with other fields) holds exactly the
// points written, the later write of a time winning, with their count, the
// replacements counted and their rollup; it encodes, with the field list
// it keeps, to exactly what encoding its points from scratch gives; and the
// list stays known while every point carries the same fields.
func TestHourEncodeKeepsFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	sameFields := func(ts int64) Point {
		return Point{TS: ts, Values: []Value{num("h", float64(rng.IntN(900))/10), num("t", float64(rng.IntN(300))/10)}}
	}
	for round := range 200 {
		h := &hotHour{}
		want := map[int64]Point{}
		odd := round%4 == 3 // these rounds get a point with other fields
		for run := range 1 + rng.IntN(12) {
			var add []Point
			start := int64(rng.IntN(200))
			for ts := start; ts < start+int64(1+rng.IntN(20)); ts++ {
				p := sameFields(ts)
				if odd && run == 2 && ts == start {
					p.Values = []Value{num("h", 1), {Field: "s", Kind: KindString, Str: "x"}}
				}
				add = append(add, p)
			}
			wantReplaced := 0
			for _, p := range add {
				if _, ok := want[p.TS]; ok {
					wantReplaced++
				}
				want[p.TS] = p
			}
			piece, replaced, err := h.extend(nil, add)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(piece, encodeBlock(nil, add)) {
				t.Fatalf("round %d run %d: the run's piece encodes differently with its listed fields", round, run)
			}
			if replaced != wantReplaced {
				t.Fatalf("round %d run %d: %d points replaced, want %d", round, run, replaced, wantReplaced)
			}
			b, err := h.points()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != len(want) || h.count != len(want) {
				t.Fatalf("round %d run %d: %d points decoded, %d counted, want %d", round, run, len(b), h.count, len(want))
			}
			for _, p := range b {
				if w := want[p.TS]; !slices.Equal(p.Values, w.Values) {
					t.Fatalf("round %d run %d: point at %d is %v, want %v", round, run, p.TS, p.Values, w.Values)
				}
			}
			if got, want := h.rollup(), b.rollup(); !sameRollup(got, want) {
				t.Fatalf("round %d run %d: the kept rollup %+v differs from the points' %+v", round, run, got, want)
			}
			if rng.IntN(3) == 0 {
				enc, err := h.encodeWhole()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, encodeBlock(nil, b)) {
					t.Fatalf("round %d run %d: the hour encodes differently with its kept fields", round, run)
				}
			}
			_, uniformNow := blockFields(b)
			if h.fieldsKnown && !uniformNow {
				t.Fatalf("round %d run %d: fields kept as known for an hour whose points differ", round, run)
			}
			if !slices.IsSortedFunc(b, func(a, b Point) int { return int(a.TS - b.TS) }) {
				t.Fatalf("round %d: hour not sorted", round)
			}
		}
		if !odd && !h.fieldsKnown {
			t.Fatalf("round %d: the fields of an hour of uniform points are not kept", round)
		}
	}
}

// sameRollup tells whether two rollups of the same points agree: exactly,
// but for sums, which depend on the order the values were added in.
func sameRollup(a, b *rollup) bool {
	if a.points != b.points || a.minTS != b.minTS || a.maxTS != b.maxTS || len(a.fields) != len(b.fields) {
		return false
	}
	for i := range a.fields {
		x, y := a.fields[i], b.fields[i]
		if math.Abs(x.sum-y.sum) > 1e-9*max(1, math.Abs(y.sum)) {
			return false
		}
		x.sum = y.sum
		if x != y {
			return false
		}
	}
	return true
}

// appendSegment appends seg, a single block's encoding, to a segmented
// block.
func appendSegment(dst, seg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(seg)))
	return append(dst, seg...)
}

// segmentedOf builds the segmented block of runs (each sorted, no time in
// two runs) as the writer of 2026-12-06 stored it: runs sorted by their
// first time, flagged in order when none reaches back into the one before.
func segmentedOf(runs []block) []byte {
	runs = slices.Clone(runs)
	slices.SortFunc(runs, func(a, b block) int { return cmp.Compare(a[0].TS, b[0].TS) })
	flags := segmentsInOrder
	for i := 1; i < len(runs); i++ {
		if runs[i][0].TS <= runs[i-1][len(runs[i-1])-1].TS {
			flags = 0
		}
	}
	out := []byte{segmentedBlock, flags}
	for _, r := range runs {
		out = appendSegment(out, encodeBlock(nil, r))
	}
	return out
}

// TestReadSegmentedBlocks: a segmented block, its runs in order or
// interleaved in time, or each spanning the whole hour (merging them one
// by one would be quadratic), reads back as the hour's points over any
// range, cut at, just before and just after points.
func TestReadSegmentedBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	point := func(ts int64) Point {
		p := Point{TS: ts, Values: []Value{num("h", float64(rng.IntN(900))/10), num("t", float64(rng.IntN(300))/10)}}
		if rng.IntN(8) == 0 {
			p.Metadata = []byte(`{"k":1}`)
		}
		return p
	}
	// runs makes count runs of n points, step apart, the i-th from first(i).
	runs := func(count, n, step int64, first func(i int64) int64) (out []block, all block) {
		for i := range count {
			var r block
			for j := range n {
				r = append(r, point((first(i)+j*step)*10))
			}
			out = append(out, r)
			all = append(all, r...)
		}
		slices.SortFunc(all, func(a, b Point) int { return cmp.Compare(a.TS, b.TS) })
		return out, all
	}
	for _, tc := range []struct {
		name     string
		count, n int64
		step     int64
		first    func(i int64) int64
		flags    byte
	}{
		{"in order", 10, 30, 1, func(i int64) int64 { return i * 30 }, segmentsInOrder},
		{"interleaved", 4, 40, 4, func(i int64) int64 { return i }, 0},
		{"each spanning the hour", 40, 16, 40, func(i int64) int64 { return i }, 0},
	} {
		rs, want := runs(tc.count, tc.n, tc.step, tc.first)
		enc := segmentedOf(rs)
		if enc[1] != tc.flags {
			t.Fatalf("%s: flags %d, want %d", tc.name, enc[1], tc.flags)
		}
		near := func() int64 { return want[rng.IntN(len(want))].TS + rng.Int64N(3) - 1 }
		for range 200 {
			lo, hi := near(), near()
			if rng.IntN(5) == 0 {
				lo, hi = math.MinInt64, math.MaxInt64
			}
			got, err := decodeBlockIn(enc, nil, false, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			var in block
			for _, p := range want {
				if p.TS >= lo && p.TS < hi {
					in = append(in, p)
				}
			}
			if len(got) != len(in) {
				t.Fatalf("%s [%d, %d): %d points, want %d", tc.name, lo, hi, len(got), len(in))
			}
			for i := range in {
				if got[i].TS != in[i].TS || !slices.Equal(got[i].Values, in[i].Values) || string(got[i].Metadata) != string(in[i].Metadata) {
					t.Fatalf("%s [%d, %d) point %d: %+v, want %+v", tc.name, lo, hi, i, got[i], in[i])
				}
			}
		}
	}
}

// TestHotHourEdges: an hour read from disk (one part, fields unknown), an
// empty hour folded and then written, points with metadata, and runs
// encoded into one reused buffer, as the writer does, all keep the hour's
// points, count and rollup.
func TestHotHourEdges(t *testing.T) {
	pt := func(ts int64, v float64, meta string) Point {
		p := Point{TS: ts, Values: []Value{num("v", v)}}
		if meta != "" {
			p.Metadata = []byte(meta)
		}
		return p
	}
	check := func(when string, h *hotHour, want block) {
		t.Helper()
		got, err := h.points()
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if len(got) != len(want) || h.count != len(want) {
			t.Fatalf("%s: %d points decoded, %d counted, want %d", when, len(got), h.count, len(want))
		}
		for i := range want {
			if got[i].TS != want[i].TS || !slices.Equal(got[i].Values, want[i].Values) || string(got[i].Metadata) != string(want[i].Metadata) {
				t.Fatalf("%s: point %d is %+v, want %+v", when, i, got[i], want[i])
			}
		}
		if !sameRollup(h.rollup(), want.rollup()) {
			t.Fatalf("%s: rollup %+v, want %+v", when, h.rollup(), want.rollup())
		}
		enc, err := h.encodeWhole()
		if err != nil || !bytes.Equal(enc, encodeBlock(nil, want)) {
			t.Fatalf("%s: the hour encodes differently as one block (%v)", when, err)
		}
	}

	stored := block{pt(10, 1, `{"a":1}`), pt(20, 2, ""), pt(30, 3, "")}
	h := loadedHour(series{}, 0, stored, 3)
	var dst []byte
	var err error
	runs := [][]Point{
		{pt(40, 4, `{"b":2}`), pt(50, 5, "")},
		{pt(20, 9, `{"c":3}`), pt(45, 6, "")}, // replaces 20, reaches back
		{pt(5, 7, "")},                        // before the hour's first
	}
	want := slices.Clone(stored)
	for i, run := range runs {
		var replaced int
		if dst, replaced, err = h.extend(dst[:0], run); err != nil {
			t.Fatal(err)
		}
		want = mergeBlock(slices.Clone(want), run)
		if wantReplaced := []int{0, 1, 0}[i]; replaced != wantReplaced {
			t.Fatalf("run %d: %d replaced, want %d", i, replaced, wantReplaced)
		}
		check(fmt.Sprintf("an hour read from disk, after run %d", i), h, want)
	}
	if h.pieces != 3+len(runs) {
		t.Fatalf("pieces %d, want %d", h.pieces, 3+len(runs))
	}

	empty := loadedHour(series{}, 0, nil, 2)
	if enc, err := empty.encodeWhole(); err != nil || len(empty.parts) != 0 || empty.count != 0 {
		t.Fatalf("an empty hour folded: %x, %d parts, %d points (%v)", enc, len(empty.parts), empty.count, err)
	}
	run := []Point{pt(7, 1, ""), pt(8, 2, `{"d":4}`)}
	if _, _, err := empty.extend(nil, run); err != nil {
		t.Fatal(err)
	}
	check("an empty hour folded, then written", empty, run)
}
