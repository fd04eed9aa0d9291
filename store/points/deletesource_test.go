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
	checkReopened(t, db, dir, &now, check)
}

// TestWritesRacingDeleteSource: writes validated before a source's delete
// and committed after it store nothing of that source, and the bucket's
// count stays the sum of its sources' counts, reopened too. Without the
// writer's check the writes after the delete stored points under the
// deleted source.
func TestWritesRacingDeleteSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()

	const writers, batches, perBatch = 4, 40, 10
	deleted := make(chan struct{})
	halfway := make(chan struct{}, writers)
	errs := make(chan error, writers)
	var wrote [writers][]Point // each writer's last batch, to check it was not changed
	for w := range writers {
		go func() {
			for b := range batches {
				if b == batches/2 {
					halfway <- struct{}{}
					<-deleted
				}
				var pts []Point
				for i := range perBatch {
					ts := base + int64(((w*batches+b)*perBatch+i))*int64(time.Second)
					pts = append(pts,
						Point{SourceID: srcA, TS: ts, Values: []Value{num("t", 1)}},
						Point{SourceID: srcB, TS: ts, Values: []Value{num("t", 2)}})
				}
				if err := db.Write(ctx, testBucket, pts); err != nil {
					errs <- err
					return
				}
				wrote[w] = pts
			}
			errs <- nil
		}()
	}
	for range writers {
		<-halfway
	}
	db.DeleteSource(testBucket, srcA)
	close(deleted)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for w := range writers {
		if len(wrote[w]) != 2*perBatch || wrote[w][0].SourceID != srcA {
			t.Fatalf("writer %d's batch was changed by the write: %d points, first of source %s", w, len(wrote[w]), wrote[w][0].SourceID)
		}
	}

	all := Range{BucketID: testBucket, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB) {
		t.Helper()
		const wantB = writers * batches * perBatch
		a, err := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: all.Start, End: all.End})
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcB}, Start: all.Start, End: all.End})
		if err != nil {
			t.Fatal(err)
		}
		if a != 0 || b != wantB {
			t.Fatalf("counts: deleted source %d, other %d; want 0 and %d", a, b, wantB)
		}
		if n := db.BucketPointCount(testBucket); n != b {
			t.Fatalf("bucket count = %d, want the other source's %d", n, b)
		}
		if _, ok := db.LastPointTime(testBucket, srcA); ok {
			t.Fatal("the deleted source has a last point")
		}
	}
	checkReopened(t, db, dir, &now, check)
}

// TestWriteAfterDeleteBucket: a write queued before its bucket's delete and
// committed after it stores nothing.
func TestWriteAfterDeleteBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	ts := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()
	pt := func(src string) Point { return Point{SourceID: src, TS: ts, Values: []Value{num("t", 1)}} }
	if err := db.Write(ctx, testBucket, []Point{pt(srcA)}); err != nil {
		t.Fatal(err)
	}
	if got := db.DeleteBucket(testBucket); got != 1 {
		t.Fatalf("DeleteBucket = %d, want 1", got)
	}
	if err := db.Write(ctx, testBucket, []Point{pt(srcA), pt(srcB)}); err != nil {
		t.Fatal(err)
	}
	check := func(db *DB) {
		t.Helper()
		if n := db.BucketPointCount(testBucket); n != 0 {
			t.Fatalf("the deleted bucket counts %d points", n)
		}
		n, err := db.Count(ctx, Range{BucketID: testBucket, Start: math.MinInt64, End: math.MaxInt64})
		if err != nil || n != 0 {
			t.Fatalf("the deleted bucket holds %d points (%v)", n, err)
		}
	}
	checkReopened(t, db, dir, &now, check)
}

// checkReopened runs check on db, then on the store reopened from dir.
func checkReopened(t *testing.T, db *DB, dir string, now *time.Time, check func(*DB)) {
	t.Helper()
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, now)
	defer db.Close()
	check(db)
}
