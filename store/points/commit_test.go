package points

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// mergeInto, in place from the back, gives what mergeBlock gives: every
// time once, add's point winning a tie.
func TestMergeIntoMatchesMergeBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	times := func(n int, tag float64) []Point {
		seen := map[int64]bool{}
		var out []Point
		for range n {
			ts := rng.Int64N(200)
			if !seen[ts] {
				seen[ts] = true
				out = append(out, Point{TS: ts, Values: []Value{num("v", tag)}})
			}
		}
		slices.SortFunc(out, func(a, b Point) int { return int(a.TS - b.TS) })
		return out
	}
	for i := range 2000 {
		old, add := times(rng.IntN(120), 1), times(1+rng.IntN(60), 2)
		want := mergeBlock(old, add)
		replaced := len(old) + len(add) - len(want)
		// Spare capacity or not: both paths of the in-place merge.
		b := make(block, len(old), len(old)+rng.IntN(2*len(add)+1))
		copy(b, old)
		if got := mergeInto(b, add, replaced); !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: mergeInto(%v, %v) = %v, want %v", i, old, add, got, want)
		}
	}
}

// A write refused after the writer has changed its cached hours in place
// (too large for one transaction) leaves no trace: the cached hours are
// dropped and read back, so counts, rollups and points equal the writes
// that were stored.
func TestRefusedWriteLeavesCacheAsStored(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	hour := now.Truncate(time.Hour).UnixNano()
	pt := func(sec int, v float64, meta []byte) Point {
		return Point{SourceID: srcA, TS: hour + int64(sec)*int64(time.Second), Values: []Value{num("v", v)}, Metadata: meta}
	}
	// Cached, out of order afterwards: the refused write merges into the
	// middle of the hour and replaces a point.
	stored := []Point{pt(10, 1, nil), pt(20, 2, nil), pt(30, 3, nil)}
	if err := db.Write(ctx, testBucket, stored); err != nil {
		t.Fatal(err)
	}
	// Past Badger's transaction limit: 500 later hours of 32 KiB each
	// (values that small count whole), random so that they do not compress.
	rnd := rand.New(rand.NewPCG(1, 2))
	huge := []Point{pt(15, 100, nil), pt(20, 200, nil)}
	for i := range 500 {
		pad := make([]byte, 32<<10)
		for j := range pad {
			pad[j] = 'a' + byte(rnd.IntN(26))
		}
		huge = append(huge, pt(3600*(i+1), 7, append(append([]byte(`{"pad":"`), pad...), `"}`...)))
	}
	if err := db.Write(ctx, testBucket, huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge write: %v, want ErrTooLarge", err)
	}
	later := []Point{pt(25, 4, nil)}
	if err := db.Write(ctx, testBucket, later); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(stored[:2]), later[0], stored[2])
	if got := db.SourcePointCount(testBucket, srcA); got != int64(len(want)) {
		t.Fatalf("count %d, want %d", got, len(want))
	}
	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: math.MinInt64, End: math.MaxInt64}
	res, err := db.Raw(ctx, RawQuery{Range: r, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != len(want) {
		t.Fatalf("raw: %d points, want %d", len(res.Points), len(want))
	}
	for i, p := range res.Points {
		if p.TS != want[i].TS || p.Values[0].Num != want[i].Values[0].Num {
			t.Fatalf("raw point %d = %d %v, want %d %v", i, p.TS, p.Values, want[i].TS, want[i].Values)
		}
	}
	rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggSum, Window: WindowHour})
	if err != nil || len(rows) != 1 || rows[0].Count != 4 || rows[0].Values["v"] != 10.0 {
		t.Fatalf("hourly sum = %+v (%v), want one hour of 4 points summing to 10", rows, err)
	}
}
