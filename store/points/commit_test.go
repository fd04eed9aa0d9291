package points

import (
	"bytes"
	"context"
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

// A write too big for one transaction fails its first commit after the
// writer has changed its cached hours in place, and is then stored in
// parts (staged.go): the cached hours are dropped and read back, so counts,
// rollups and points equal all the writes.
func TestTooBigWriteLeavesCacheAsStored(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	hour := now.Truncate(time.Hour).UnixNano()
	pt := func(sec int, v float64, meta []byte) Point {
		return Point{SourceID: srcA, TS: hour + int64(sec)*int64(time.Second), Values: []Value{num("v", v)}, Metadata: meta}
	}
	// Cached, out of order afterwards: the big write merges into the
	// middle of the hour and replaces a point.
	stored := []Point{pt(10, 1, nil), pt(20, 2, nil), pt(30, 3, nil)}
	if err := db.Write(ctx, testBucket, stored); err != nil {
		t.Fatal(err)
	}
	huge := hugeWrite(pt, pt(15, 100, nil), pt(20, 200, nil))
	if err := db.Write(ctx, testBucket, huge); err != nil {
		t.Fatalf("huge write: %v", err)
	}
	later := []Point{pt(25, 4, nil)}
	if err := db.Write(ctx, testBucket, later); err != nil {
		t.Fatal(err)
	}
	want := []Point{stored[0], huge[0], huge[1], later[0], stored[2]}
	if got, wantN := db.SourcePointCount(testBucket, srcA), int64(len(want)+len(huge)-2); got != wantN {
		t.Fatalf("count %d, want %d", got, wantN)
	}
	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: hour, End: hour + int64(time.Hour)}
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
	if err != nil || len(rows) != 1 || rows[0].Count != 5 || rows[0].Values["v"] != 308.0 {
		t.Fatalf("hourly sum = %+v (%v), want one hour of 5 points summing to 308", rows, err)
	}
}

// hugeWrite is first followed by 500 later hours of one point with 32 KiB
// of metadata each: past Badger's transaction limit, since values that
// small count whole.
func hugeWrite(pt func(sec int, v float64, meta []byte) Point, first ...Point) []Point {
	big := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 32<<10)...), `"}`...)
	out := slices.Clone(first)
	for i := range 500 {
		out = append(out, pt(3600*(i+1), 7, big))
	}
	return out
}
