package points

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// hourReadings are numbers that stress the decimal scale a column is
// stored at: short decimals of every scale, values no scale holds, and the
// ones mantissa refuses (-0, NaN, infinities, beyond maxExact).
var hourReadings = []float64{
	0, 1, 21.5, 21.37, 1012.45, 0.001, 123.4567, -7.25, 1e-9, 1.0 / 3,
	math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e300, maxExact, -maxExact + 1,
}

// extendAndCheck adds add to h and checks that the hour encodes to what
// encoding its points from scratch gives.
func extendAndCheck(t *testing.T, h *hotHour, add []Point, what string) {
	t.Helper()
	h.extend(nil, add)
	if got, want := h.encode(nil), encodeBlock(nil, h.b); !bytes.Equal(got, want) {
		t.Fatalf("%s: the hour encodes to %x, its points to %x", what, got, want)
	}
}

// TestHourColumnsEncodeAsWhole: an hour extended by runs of newer points,
// and by runs that land among its last runs' points (concurrent clients'
// batches, a little out of order, some repeating times), keeps its columns
// (the fold copies them, not every value again), and they encode byte for
// byte as its points do from scratch, through decimal scales that grow
// late in the hour, values no scale holds, strings and booleans. A point
// before the hour's first, a point with other fields or with metadata
// drops them, and the hour still encodes right.
func TestHourColumnsEncodeAsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	reading := func(i int) float64 {
		if rng.IntN(8) == 0 {
			return hourReadings[rng.IntN(len(hourReadings))]
		}
		// Mostly one decimal, so the scale often has to grow later on.
		return float64(rng.IntN(2000)-1000) / 10 * float64(1+i%2)
	}
	point := func(ts int64, i int) Point {
		return Point{TS: ts, Values: []Value{
			num("a", reading(i)),
			{Field: "b", Kind: KindBool, Bool: rng.IntN(2) == 0},
			num("c", float64(rng.IntN(100))),
			{Field: "s", Kind: KindString, Str: string(rune('a' + rng.IntN(26)))},
		}}
	}
	late := 0
	for round := range 300 {
		h := &hotHour{}
		ts := int64(rng.IntN(1000))
		lastRun := int64(0) // where the last run began
		for run := range 1 + rng.IntN(30) {
			var add []Point
			from := ts + 1
			if run > 0 && rng.IntN(3) == 0 {
				// Back into the last run, on one of its times or between.
				from = lastRun + int64(rng.IntN(int(ts-lastRun)+1))
				late++
			}
			next := from
			for i := range 1 + rng.IntN(12) {
				add = append(add, point(next, i))
				next += 1 + int64(rng.IntN(3))*int64(rng.IntN(1000))
			}
			lastRun = from
			ts = max(ts, add[len(add)-1].TS)
			extendAndCheck(t, h, add, "in order or a little late")
			if h.cols == nil {
				t.Fatalf("round %d run %d: an hour of uniform points keeps no columns", round, run)
			}
		}
		switch round % 4 {
		case 1: // before every point the columns remember
			for range maxHourMarks {
				ts++
				extendAndCheck(t, h, []Point{point(ts, 0)}, "in order")
			}
			extendAndCheck(t, h, []Point{point(h.b[0].TS-1, 0)}, "before the hour's first")
		case 2:
			p := point(ts+1, 0)
			p.Metadata = []byte("m")
			extendAndCheck(t, h, []Point{p}, "metadata")
		case 3:
			extendAndCheck(t, h, []Point{{TS: ts + 1, Values: []Value{num("a", 1)}}}, "other fields")
		default:
			continue
		}
		if h.cols != nil {
			t.Fatalf("round %d: columns kept after a write they cannot follow", round)
		}
		extendAndCheck(t, h, []Point{point(h.b[len(h.b)-1].TS+1, 0)}, "after")
	}
	if late < 100 {
		t.Fatalf("only %d late runs", late)
	}
}

// FuzzHourColumns: whatever numbers runs carry, newer or reaching back
// among the hour's points, the hour's kept columns encode as its points do.
func FuzzHourColumns(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &hotHour{}
		ts := int64(0)
		for len(data) >= 9 {
			n := 1 + int(data[0]%8)
			if data[0]&0x80 != 0 {
				ts -= int64(data[0] & 0x3f) // a late run
			}
			var add []Point
			for ; n > 0 && len(data) >= 9; n-- {
				v := math.Float64frombits(uint64(data[1]) | uint64(data[2])<<8 | uint64(data[3])<<16 | uint64(data[4])<<24 |
					uint64(data[5])<<32 | uint64(data[6])<<40 | uint64(data[7])<<48 | uint64(data[8])<<56)
				if data[1]&1 == 0 { // a short decimal, as sensors send
					v = float64(int64(data[2])<<8|int64(data[3])) / math.Pow10(int(data[4]%6))
				}
				ts += 1 + int64(data[0])
				add = append(add, Point{TS: ts, Values: []Value{num("v", v)}})
				data = data[9:]
			}
			extendAndCheck(t, h, add, "fuzz")
		}
	})
}
