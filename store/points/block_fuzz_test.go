package points

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzBlockRoundTrip: any column of numbers, short decimals or not, mixed
// in any order, comes back from a block with identical bits; a later value
// needing a finer decimal scale than the first ones starts the column
// again at that scale, or falls back to floats, never to a rounded value.
func FuzzBlockRoundTrip(f *testing.F) {
	seed := func(vals ...float64) []byte {
		var b []byte
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add(seed(21.5, 0.1, 1.0/3))
	f.Add(seed(1, 2.25, 1e300, -0.01))
	f.Add(seed(math.Copysign(0, -1), 5))
	f.Add(seed(9007199254740993, 0.5))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b block
		for i := 0; i+8 <= len(data) && len(b) < 512; i += 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue // the API refuses them
			}
			b = append(b, Point{TS: int64(len(b)) * 10, Values: []Value{num("x", v)}})
		}
		if len(b) == 0 {
			return
		}
		got, err := decodeBlock(encodeBlock(nil, b), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(b) {
			t.Fatalf("%d points back, want %d", len(got), len(b))
		}
		for i := range b {
			if w, g := b[i].Values[0].Num, got[i].Values[0].Num; math.Float64bits(w) != math.Float64bits(g) || got[i].TS != b[i].TS {
				t.Fatalf("point %d: %v at %d came back as %v at %d", i, w, b[i].TS, g, got[i].TS)
			}
		}
	})
}

// TestScaledColumn: a column of short decimals is stored as mantissas at
// the finest scale any of its values needs, found in one pass even when
// that value comes last, and a column no scale fits as floats.
func TestScaledColumn(t *testing.T) {
	col := func(vals ...float64) []*Value {
		out := make([]*Value, len(vals))
		for i, v := range vals {
			out[i] = &Value{Num: v}
		}
		return out
	}
	for _, tc := range []struct {
		vals  []float64
		scale int // -1: floats
	}{
		{[]float64{20, 21, 22}, 0},
		{[]float64{21.5, 0.25, 3}, 2},
		{[]float64{1, 2, 3, 0.125}, 3},
		{[]float64{1, 2, 1.0 / 3}, -1},
		{[]float64{0.5, 1e300}, -1},
		{[]float64{1, math.Copysign(0, -1)}, -1},
	} {
		got := appendColumn(nil, KindNumber, col(tc.vals...))
		switch {
		case tc.scale < 0 && got[0] != numFloat:
			t.Errorf("%v: encoded as %x, want floats", tc.vals, got)
		case tc.scale >= 0 && (got[0] != numScaled || int(got[1]) != tc.scale):
			t.Errorf("%v: encoded as %x, want mantissas at scale %d", tc.vals, got, tc.scale)
		}
	}
}

// FuzzDecodeBlock: a stored block read back corrupt is an error, never a
// panic.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(encodeBlock(nil, block{{TS: 1, Values: []Value{num("x", 21.5), {Field: "s", Kind: KindString, Str: "a"}}, Metadata: []byte(`{}`)}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	two := block{{TS: 1, Values: []Value{num("x", 1)}}, {TS: 9, Values: []Value{num("x", 2.5)}}}
	f.Add(appendSegment(appendSegment([]byte{segmentedBlock, segmentsInOrder}, encodeBlock(nil, two[:1])), encodeBlock(nil, two[1:])))
	f.Add(appendSegment(appendSegment([]byte{segmentedBlock, 0}, encodeBlock(nil, two[1:])), encodeBlock(nil, two[:1])))
	f.Add([]byte{segmentedBlock, 0, 0, 3, 1, 2})
	many := make(block, 200)
	for i := range many {
		many[i] = Point{TS: int64(i), Values: []Value{num("x", float64(i%7))}}
	}
	for _, c := range []string{"snappy", "zstd"} {
		z, _ := newBlockZip(c)
		f.Add(z.seal(nil, encodeBlock(nil, many)))
	}
	f.Add([]byte{segmentedBlock, blockSnappy, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeBlock(data, nil, false)
		_, _ = decodeBlock(data, nil, true)
		_, _ = decodeBlockIn(data, func(s string) bool { return s == "x" }, false, 3, 7)
	})
}

// TestDecodeBlockIn: the points of a range, cut from blocks of every column
// kind, with gaps (bitmaps) and metadata, are the whole block's points in
// that range, value for value.
func TestDecodeBlockIn(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		var b block
		ts := rng.Int64N(100)
		for i := range 1 + rng.IntN(60) {
			ts += 1 + rng.Int64N(5)
			p := Point{TS: ts}
			if rng.IntN(4) > 0 {
				p.Values = append(p.Values, Value{Field: "b", Kind: KindBool, Bool: i%2 == 0})
			}
			if rng.IntN(4) > 0 {
				p.Values = append(p.Values, num("n", float64(rng.IntN(1000))/10))
			}
			if rng.IntN(4) > 0 {
				p.Values = append(p.Values, Value{Field: "s", Kind: KindString, Str: fmt.Sprint("v", i)})
			}
			if rng.IntN(3) == 0 {
				p.Metadata = fmt.Appendf(nil, `{"i":%d}`, i)
			}
			b = append(b, p)
		}
		src := encodeBlock(nil, b)
		lo := b[0].TS - 2 + rng.Int64N(b[len(b)-1].TS-b[0].TS+4)
		hi := lo + rng.Int64N(b[len(b)-1].TS-b[0].TS+4)
		keep := func(name string) bool { return name != "s" }
		all, err := decodeBlock(src, keep, false)
		if err != nil {
			t.Fatal(err)
		}
		var want block
		for _, p := range all {
			if p.TS >= lo && p.TS < hi {
				want = append(want, p)
			}
		}
		got, err := decodeBlockIn(src, keep, false, lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("[%d, %d): %d points, want %d", lo, hi, len(got), len(want))
		}
		for i := range want {
			if got[i].TS != want[i].TS || !slices.Equal(got[i].Values, want[i].Values) || string(got[i].Metadata) != string(want[i].Metadata) {
				t.Fatalf("[%d, %d) point %d: %+v, want %+v", lo, hi, i, got[i], want[i])
			}
		}
		times, err := decodeBlockIn(src, nil, true, lo, hi)
		if err != nil || len(times) != len(want) {
			t.Fatalf("times only: %d points, %v; want %d", len(times), err, len(want))
		}
	}
}

// mantissa rounds half to even: below 2^51 it finds the mantissas that
// rounding half away from zero finds, half-way values included; above, it
// may miss one (the product itself can land half-way), never returning an
// inexact one.
func TestMantissaRoundingHalfWay(t *testing.T) {
	away := func(f float64, scale int) (int64, bool) {
		m := math.Round(f * pow10[scale])
		if math.Abs(m) >= maxExact || m/pow10[scale] != f || (f == 0 && math.Signbit(f)) {
			return 0, false
		}
		return int64(m), true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	values := []float64{0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 0.375, 12.345, 1e15 + 0.5, 4503599627370495.5, 0, 1e-300}
	for range 100_000 {
		values = append(values,
			float64(rng.IntN(2_000_001)-1_000_000)/float64(int64(1)<<rng.IntN(12)), // binary fractions: half-way products
			float64(rng.IntN(2_000_001)-1_000_000)/pow10[rng.IntN(7)],              // sensor readings
			rng.NormFloat64()*1e4)
	}
	for _, f := range values {
		for scale := range pow10 {
			m1, ok1 := mantissa(f, scale)
			m2, ok2 := away(f, scale)
			if ok1 && float64(m1)/pow10[scale] != f {
				t.Fatalf("mantissa(%v, %d) = %d, which is not exact", f, scale, m1)
			}
			if (m1 != m2 || ok1 != ok2) && math.Abs(f*pow10[scale]) < 1<<51 {
				t.Fatalf("mantissa(%v, %d) = %d, %v; rounding half away from zero gives %d, %v", f, scale, m1, ok1, m2, ok2)
			}
		}
	}
}
