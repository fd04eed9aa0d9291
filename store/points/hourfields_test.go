package points

import (
	"bytes"
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
			_, fields, uniform := h.extend(add)
			if got, want := encodeBlockAs(nil, add, fields, uniform), encodeBlock(nil, add); !bytes.Equal(got, want) {
				t.Fatalf("round %d run %d: the run's piece encodes differently with its listed fields", round, run)
			}
			if got, want := h.encode(nil), encodeBlock(nil, h.b); !bytes.Equal(got, want) {
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
