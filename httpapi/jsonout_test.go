package httpapi

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// appendJSONFloat's decimal shortcut must write exactly what encoding/json
// writes, for readings (short decimals) and for any other float.
func TestAppendJSONFloatAgreesWithEncodingJSON(t *testing.T) {
	check := func(f float64) {
		t.Helper()
		want, err := json.Marshal(f)
		if err != nil {
			return // NaN and infinities: TestAppendJSON covers them
		}
		if got := appendJSONFloat([]byte("x"), f); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("appendJSONFloat(%v) = %s, encoding/json writes %s", f, got[1:], want)
		}
	}
	for _, f := range []float64{0.1, 0.2, 0.1 + 0.2, 1.0 / 3, 1e-6, 1.5e-6, 5e-7, 0.000001, 0.0000015, 999999999999999, 1e15,
		999999999999999.9, 99999999999999.99, 123456789012345.6, 9007199254740993, 0.05, -0.05, 10.5, -12.5, 100, 1e14, 21.37,
		math.SmallestNonzeroFloat64, math.MaxFloat64, -1013.25, 0.999999, 1.000001, 4.35, 2.675, 1.005} {
		check(f)
		check(-f)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pow := [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}
	for range 200_000 {
		m := rng.Int64N(int64(1) << rng.IntN(54))
		check(float64(m) / pow[rng.IntN(len(pow))])
		check(-float64(m) / pow[rng.IntN(len(pow))])
		check(math.Float64frombits(rng.Uint64()))
		check(rng.Float64() * pow[rng.IntN(len(pow))])
	}
}

func FuzzAppendJSONFloat(f *testing.F) {
	for _, x := range []float64{0, 0.1, 21.37, -1013.25, 1e-6, 1e15, 123456.000001} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		want, err := json.Marshal(x)
		if err != nil {
			return
		}
		if got := appendJSONFloat(nil, x); string(got) != string(want) {
			t.Fatalf("appendJSONFloat(%v) = %s, encoding/json writes %s", x, got, want)
		}
	})
}

// The timestamp appender reuses a day's date: it must write what
// appendTimestamp writes, across days, backwards and before 1970.
func TestTimestampAppender(t *testing.T) {
	var a timestampAppender
	check := func(ns int64) {
		t.Helper()
		want := string(appendTimestamp(nil, ns))
		if got := string(a.append([]byte("x"), ns)); got != "x"+want {
			t.Fatalf("append(%d) = %s, want %s", ns, got[1:], want)
		}
	}
	lo := time.Date(minTimestampYear, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	hi := time.Date(maxTimestampYear, 12, 31, 23, 59, 59, 999999999, time.UTC).UnixNano()
	for _, ns := range []int64{0, -1, 1, 1e9, -1e9, 86400e9 - 1, 86400e9, -86400e9, -86400e9 + 1, lo, hi, 1_764_000_000_120_000_000, 1_764_000_000_000_000_001} {
		check(ns)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		ns := lo + int64(rng.Uint64N(uint64(hi-lo)-uint64(time.Hour))) // hi-lo wraps past MaxInt64; unsigned, it is right
		switch rng.IntN(3) {
		case 0:
			ns = ns / 1e9 * 1e9
		case 1:
			ns = ns / 1e6 * 1e6
		}
		check(ns)
		check(ns + rng.Int64N(int64(time.Hour))) // often the same day
	}
}
