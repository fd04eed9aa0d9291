package points

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzBlockRoundTrip: any column of numbers, short decimals or not, mixed
// in any order, comes back from a block with identical bits; a decimal
// scale chosen from the first values and not fitting a later one falls
// back to floats, never to a rounded value.
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

// FuzzDecodeBlock: a stored block read back corrupt is an error, never a
// panic.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(encodeBlock(nil, block{{TS: 1, Values: []Value{num("x", 21.5), {Field: "s", Kind: KindString, Str: "a"}}, Metadata: []byte(`{}`)}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeBlock(data, nil, false)
		_, _ = decodeBlock(data, nil, true)
	})
}
