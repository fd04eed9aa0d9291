package points

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestDigestsAndMerge: two replicas that were written different subsets
// (in different orders, one with a conflicting version of a point) differ
// in their digests exactly where they differ, and merging each one's hours
// into the other makes the digests equal.
func TestDigestsAndMerge(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	a := openTest(t, t.TempDir(), &now)
	defer a.Close()
	b := openTest(t, t.TempDir(), &now)
	defer b.Close()
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()
	var pts []Point
	for i := range 3000 {
		src := srcA
		if i%2 == 1 {
			src = srcB
		}
		pts = append(pts, Point{SourceID: src, TS: base + int64(i)*int64(20*time.Second), Values: []Value{num("t", float64(i%13)+0.5)}, Metadata: []byte(`{"k":1}`)})
	}
	// a gets everything in order; b misses every 7th point, gets the rest
	// backwards in small batches, and holds another version of point 10.
	if err := a.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	var partial []Point
	for i, p := range pts {
		if i%7 != 3 {
			partial = append(partial, p)
		}
	}
	slices.Reverse(partial)
	for i := 0; i < len(partial); i += 100 {
		if err := b.Write(ctx, testBucket, partial[i:min(i+100, len(partial))]); err != nil {
			t.Fatal(err)
		}
	}
	other := pts[10]
	other.Values = []Value{num("t", 99)}
	if err := b.Write(ctx, testBucket, []Point{other}); err != nil {
		t.Fatal(err)
	}

	from, to := base, base+int64(24*time.Hour)
	da, err := a.Digests(ctx, testBucket, from, to)
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Digests(ctx, testBucket, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, d := range da {
		total += d.Count
	}
	if total != 3000 || len(da) != len(db) {
		t.Fatalf("a's digests count %d points in %d hours; b has %d hours", total, len(da), len(db))
	}
	if slices.Equal(da, db) {
		t.Fatal("digests of different replicas are equal")
	}
	// Copy every differing hour both ways, as repair does.
	sync := func(from, to *DB, dFrom, dTo []HourDigest) {
		t.Helper()
		for i := range dFrom {
			if i < len(dTo) && dFrom[i] == dTo[i] {
				continue
			}
			hp, err := from.HourPoints(ctx, testBucket, dFrom[i].Source, dFrom[i].Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := to.Merge(ctx, testBucket, hp); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync(a, b, da, db)
	db, _ = b.Digests(ctx, testBucket, from, to)
	sync(b, a, db, da)
	da, _ = a.Digests(ctx, testBucket, from, to)
	db, _ = b.Digests(ctx, testBucket, from, to)
	if !slices.Equal(da, db) {
		t.Fatal("digests still differ after merging both ways")
	}
	if a.BucketPointCount(testBucket) != 3000 || b.BucketPointCount(testBucket) != 3000 {
		t.Fatalf("counts %d and %d after repair, want 3000", a.BucketPointCount(testBucket), b.BucketPointCount(testBucket))
	}
	// A second merge of the same hours changes nothing.
	hp, _ := a.HourPoints(ctx, testBucket, srcA, da[0].Hour)
	if n, err := b.Merge(ctx, testBucket, hp); err != nil || n != 0 {
		t.Fatalf("merging equal points wrote %d (%v), want 0", n, err)
	}
}
