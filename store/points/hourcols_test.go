package points

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// hourReadings are numbers that stress the decimal scale a column is
// stored at: short decimals of every scale, values no scale holds, and the
// ones mantissa refuses (-0, NaN, infinities, from maxExact on).
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
// from its second run on (the fold copies them, not every value again),
// and they encode byte for byte as its points do from scratch, through
// decimal scales that grow late in the hour, values no scale holds,
// strings and booleans. A run before every point the columns remember, or
// with other fields or metadata, in order or late, drops them for good,
// and the hour still encodes right.
func TestHourColumnsEncodeAsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	floaty := 0 // rounds whose column "a" may take values no scale holds
	reading := func(i int) float64 {
		if floaty > 0 && rng.IntN(40) == 0 {
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
	run := func(from int64) []Point {
		var add []Point
		for i := range 1 + rng.IntN(12) {
			add = append(add, point(from, i))
			from += 1 + int64(rng.IntN(3))*int64(rng.IntN(1000))
		}
		return add
	}
	// Late runs, and those that kept the columns, by how many runs back
	// they landed. One run back always keeps them; further back, unless
	// the marks in between went (a late run drops the marks after the one
	// it goes back to, and only the last maxHourMarks are kept).
	late, kept := map[int]int{}, map[int]int{}
	for round := range 400 {
		floaty = round % 2
		h := &hotHour{}
		var starts []int64 // where each run began
		last := int64(rng.IntN(1000))
		for r := range 2 + rng.IntN(30) {
			from, back := last+1, 1+rng.IntN(maxHourMarks)
			if r < back || rng.IntN(3) > 0 {
				back = 0 // in order
			} else {
				// Among the points of the run back runs ago, from its
				// first on.
				from = starts[r-back] + int64(rng.IntN(3))
				late[back]++
			}
			add := run(from)
			starts = append(starts, from)
			last = max(last, add[len(add)-1].TS)
			extendAndCheck(t, h, add, "in order or late")
			switch {
			case h.cols != nil:
				kept[back]++
			case r > 0 && back <= 1:
				t.Fatalf("round %d run %d: an hour of uniform points keeps no columns (%d runs back)", round, r, back)
			default:
				h.noColumns = false // the writer would not build them again; the test does, for more late runs
			}
		}
		var add []Point
		switch round % 5 {
		case 1: // before every point the columns remember
			for range maxHourMarks {
				last++
				extendAndCheck(t, h, []Point{point(last, 0)}, "in order")
			}
			add = []Point{point(h.b[0].TS-1, 0)}
		case 2:
			add = run(last + 1)
			add[len(add)-1].Metadata = []byte("m")
		case 3:
			add = []Point{{TS: last + 1, Values: []Value{num("a", 1)}}}
		case 4: // late, with metadata
			add = run(h.b[len(h.b)/2].TS)
			add[0].Metadata = []byte("m")
		default:
			continue
		}
		extendAndCheck(t, h, add, "a run the columns cannot follow")
		if h.cols != nil {
			t.Fatalf("round %d: columns kept after a run they cannot follow", round)
		}
		extendAndCheck(t, h, run(h.b[len(h.b)-1].TS+1), "after")
		if h.cols != nil {
			t.Fatalf("round %d: columns built again after being dropped", round)
		}
	}
	for back := 1; back <= maxHourMarks; back++ {
		if late[back] < 20 || kept[back] == 0 {
			t.Fatalf("late runs by runs back: %v, those that kept the columns: %v; want at least 20 of each, and some kept", late, kept)
		}
	}
}

// TestHourInOneRunKeepsNoColumns: an hour written in one run (a backfill)
// is never folded, so it keeps no columns to fold from.
func TestHourInOneRunKeepsNoColumns(t *testing.T) {
	h := &hotHour{}
	extendAndCheck(t, h, []Point{{TS: 1, Values: []Value{num("v", 1)}}, {TS: 2, Values: []Value{num("v", 2)}}}, "one run")
	if h.cols != nil {
		t.Fatal("an hour of one run keeps columns")
	}
}

// FuzzHourColumns: whatever numbers runs carry, newer or reaching back
// among the hour's points, the hour's kept columns encode as its points do.
// Each run is a header byte (its length; the top bit: late, landing on or
// before the hour's last point, by the low six bits), then 9 bytes a point.
func FuzzHourColumns(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 11, 12, 13, 14, 15, 16, 17, 18, 1, 21, 22, 23, 24, 25, 26, 27, 28,
		0x82, 0, 31, 32, 33, 34, 35, 36, 37, 38, 1, 41, 42, 43, 44, 45, 46, 47, 48})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &hotHour{}
		last := int64(0)
		for len(data) >= 10 {
			head := data[0]
			n, ts := 1+int(head%8), last+1
			if head&0x80 != 0 && len(h.b) > 0 {
				ts = last - int64(head&0x3f)
			}
			data = data[1:]
			var add []Point
			for ; n > 0 && len(data) >= 9; n-- {
				v := math.Float64frombits(binary.LittleEndian.Uint64(data[1:9]))
				if data[1]&1 == 0 { // a short decimal, as sensors send
					v = float64(int64(data[2])<<8|int64(data[3])) / math.Pow10(int(data[4]%6))
				}
				add = append(add, Point{TS: ts, Values: []Value{num("u", float64(data[0])/4), num("v", v)}})
				ts += 1 + int64(data[0]%4)
				data = data[9:]
			}
			if len(add) == 0 {
				break
			}
			last = max(last, add[len(add)-1].TS)
			extendAndCheck(t, h, add, "fuzz")
		}
	})
}
