package points

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHourEncodeKeepsFields: an hour extended run by run (newer points,
// late points, replacements, points with other fields) encodes, with the
// field list it keeps, to exactly what encoding its points from scratch
// gives; and the list stays known while every point carries the same fields.
func TestHourEncodeKeepsFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	sameFields := func(ts int64) Point {
		return Point{TS: ts, Values: []Value{num("h", float64(rng.IntN(900))/10), num("t", float64(rng.IntN(300))/10)}}
	}
	for round := range 200 {
		h := &hotHour{}
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
			if piece, _ := h.extend(nil, add); !bytes.Equal(piece, encodeBlock(nil, add)) {
				t.Fatalf("round %d run %d: the run's piece encodes differently with its listed fields", round, run)
			}
			got, want := h.encode(nil), encodeBlock(nil, h.b)
			if got[0] == segmentedBlock {
				// Folded from its pieces: it must read back as the hour does.
				back, err := decodeBlock(got, nil, false)
				if err != nil {
					t.Fatalf("round %d run %d: %v", round, run, err)
				}
				got = encodeBlock(nil, back)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d run %d: the hour encodes differently with its kept fields", round, run)
			}
			_, uniformNow := blockFields(h.b)
			if h.fieldsKnown && !uniformNow {
				t.Fatalf("round %d run %d: fields kept as known for an hour whose points differ", round, run)
			}
		}
		if !odd && !h.fieldsKnown {
			t.Fatalf("round %d: the fields of an hour of uniform points are not kept", round)
		}
		if !slices.IsSortedFunc(h.b, func(a, b Point) int { return int(a.TS - b.TS) }) {
			t.Fatalf("round %d: hour not sorted", round)
		}
	}
}

// TestHourFoldsBySegments: an hour written in runs that share no point,
// in any order, folds to its pieces' encodings back to back (a segmented
// block), which reads back as the hour's points over any range: in time
// order, with the segments outside a range skipped, when no two runs span
// overlapping times, else sorted. A run replacing a point, or runs too
// small, make the fold encode every point again, after which later runs
// are segments that follow it.
func TestHourFoldsBySegments(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	point := func(ts int64) Point {
		p := Point{TS: ts, Values: []Value{num("h", float64(rng.IntN(900))/10), num("t", float64(rng.IntN(300))/10)}}
		if rng.IntN(8) == 0 {
			p.Metadata = []byte(`{"k":1}`)
		}
		return p
	}
	// run writes n points from from on, step apart, as one piece.
	run := func(h *hotHour, from, n, step int64) {
		var add []Point
		for i := range n {
			add = append(add, point((from+i*step)*10))
		}
		h.extend(nil, add)
	}
	readsBack := func(h *hotHour, enc []byte) {
		t.Helper()
		// Ranges start and end at, just before and just after points, where
		// a segment skipped by mistake would lose one.
		near := func() int64 { return h.b[rng.IntN(len(h.b))].TS + rng.Int64N(3) - 1 }
		for range 200 {
			lo, hi := near(), near()
			if rng.IntN(5) == 0 {
				lo, hi = math.MinInt64, math.MaxInt64
			}
			got, err := decodeBlockIn(enc, nil, false, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			var want block
			for _, p := range h.b {
				if p.TS >= lo && p.TS < hi {
					want = append(want, p)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("[%d, %d): %d points, want %d", lo, hi, len(got), len(want))
			}
			for i := range want {
				if got[i].TS != want[i].TS || !slices.Equal(got[i].Values, want[i].Values) || string(got[i].Metadata) != string(want[i].Metadata) {
					t.Fatalf("[%d, %d) point %d: %+v, want %+v", lo, hi, i, got[i], want[i])
				}
			}
		}
	}
	segmented := func(what string, h *hotHour, segments int, flags byte) {
		t.Helper()
		enc := h.encode(nil)
		if enc[0] != segmentedBlock || enc[1] != flags || len(h.segs.segs) != segments {
			t.Fatalf("%s: folded to %x… from %d segments, want a segmented block of %d, flags %d", what, enc[:2], len(h.segs.segs), segments, flags)
		}
		readsBack(h, enc)
	}
	whole := func(what string, h *hotHour) {
		t.Helper()
		enc := h.encode(nil)
		if enc[0] == segmentedBlock || len(h.segs.segs) != 1 {
			t.Fatalf("%s: folded to %x…, want the hour encoded whole", what, enc[:2])
		}
		readsBack(h, enc)
	}

	h := &hotHour{segs: newHourSegments(nil)}
	for _, i := range []int64{0, 1, 2, 4, 3, 5, 7, 6, 8, 9} { // batches arriving out of order
		run(h, i*30, 30, 1)
	}
	segmented("runs of 30 points, out of order", h, 10, segmentsInOrder)
	run(h, 150, 30, 1) // replaces points
	whole("a run over earlier points", h)
	run(h, 300, 20, 1)
	run(h, 320, 20, 1)
	segmented("runs after a whole fold", h, 3, segmentsInOrder)

	interleaved := &hotHour{segs: newHourSegments(nil)}
	for i := range int64(4) {
		run(interleaved, i, 40, 4) // times i, i+4, i+8…: every run spans the others
	}
	segmented("runs interleaved in time", interleaved, 4, 0)

	strided := &hotHour{segs: newHourSegments(nil)}
	for i := range int64(40) {
		run(strided, i, 16, 40) // each run spans the hour: merging them all would be quadratic
	}
	segmented("40 runs each spanning the hour", strided, 40, 0)

	small := &hotHour{segs: newHourSegments(nil)}
	for i := range int64(20) {
		run(small, i*3, 3, 1)
	}
	whole("runs of 3 points", small)

	cold := &hotHour{}
	run(cold, 0, 40, 1)
	whole("an hour read back from disk", cold)
}
