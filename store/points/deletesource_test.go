package points

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestDeleteSource: one source's points and rollups go, the other's stay,
// and the counts hold after a reopen.
func TestDeleteSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()
	var pts []Point
	for i := range 300 {
		src := srcA
		if i%3 == 0 {
			src = srcB
		}
		pts = append(pts, Point{SourceID: src, TS: base + int64(i)*int64(time.Minute), Values: []Value{num("t", float64(i))}})
	}
	if err := db.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	if got := db.DeleteSource(testBucket, srcA); got != 200 {
		t.Fatalf("DeleteSource = %d, want 200", got)
	}
	if got := db.DeleteSource(testBucket, srcA); got != 0 {
		t.Fatalf("DeleteSource again = %d, want 0", got)
	}
	all := Range{BucketID: testBucket, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB) {
		t.Helper()
		if n := db.BucketPointCount(testBucket); n != 100 {
			t.Fatalf("bucket count = %d, want 100", n)
		}
		if n, _ := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: all.Start, End: all.End}); n != 0 {
			t.Fatalf("deleted source still counts %d", n)
		}
		both := all
		both.SourceIDs = []string{srcA, srcB}
		rows, err := db.Aggregate(ctx, AggQuery{Range: both, Aggregation: AggCount, Window: WindowHour})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, r := range rows {
			if r.SourceID == srcA {
				t.Fatalf("a rollup row of the deleted source: %+v", r)
			}
			total += r.Count
		}
		if total != 100 {
			t.Fatalf("rolled-up count = %d, want 100", total)
		}
		if _, ok := db.LastPointTime(testBucket, srcA); ok {
			t.Fatal("the deleted source has a last point")
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	check(db)
}
