package points

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// An hour being written keeps a stale mark instead of a rollup written with
// every piece (keys.go): aggregates and counts summarize its blocks, the
// fold stores its rollup and clears the mark, and a process that dies
// before folding leaves marks that the next open turns into rollups.
func TestStaleRollupsSummarizedAndStoredOnReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC).UnixNano()
	at := func(sec int) int64 { return base + int64(sec)*int64(time.Second) }
	// Three hours of one source, written in batches of 60 points, so each
	// hour is stored in pieces; then a point of the last hour replaced by a
	// larger value, which a rollup can only take in by summarizing again.
	want := map[int64]struct {
		n   int64
		max float64
	}{}
	for batch := 0; batch < 30; batch++ {
		var pts []Point
		for i := 0; i < 60; i++ {
			sec := (batch*60 + i) * 6
			v := float64(sec%500) / 10
			pts = append(pts, Point{SourceID: srcA, TS: at(sec), Values: []Value{num("t", v)}})
			w := want[hourOf(at(sec))]
			w.n++
			w.max = math.Max(w.max, v)
			want[hourOf(at(sec))] = w
		}
		if err := db.Write(ctx, testBucket, pts); err != nil {
			t.Fatal(err)
		}
	}
	last := hourOf(at(3*3600 - 6))
	if err := db.Write(ctx, testBucket, []Point{{SourceID: srcA, TS: at(2*3600 + 60), Values: []Value{num("t", 999)}}}); err != nil {
		t.Fatal(err)
	}
	w := want[last]
	w.max = 999
	want[last] = w
	if len(want) != 3 {
		t.Fatalf("the points span %d hours, want 3", len(want))
	}

	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB, when string) {
		t.Helper()
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggMax, Window: WindowHour})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: %d hour rows, want %d", when, len(rows), len(want))
		}
		for _, row := range rows {
			w := want[row.Start]
			if row.Count != w.n || row.Values["t"] != w.max {
				t.Errorf("%s: hour %v: count %d max %v, want %d %v", when, time.Unix(0, row.Start).UTC(), row.Count, row.Values["t"], w.n, w.max)
			}
		}
		// One hour whole: served by edgeRollup.
		one := r
		one.Start, one.End = last, last+hourNS
		if n, err := db.Count(ctx, one); err != nil || n != want[last].n {
			t.Errorf("%s: count of the last hour = %d, %v; want %d", when, n, err, want[last].n)
		}
		if got := db.SourcePointCount(testBucket, srcA); got != 1800 {
			t.Errorf("%s: source count %d, want 1800", when, got)
		}
	}

	// The last hour is being written: marked, and summarized from blocks.
	if n := staleMarks(t, db); n == 0 {
		t.Fatal("no hour carries a stale mark while being written")
	}
	check(db, "while written")

	// A crash: the process dies with hours not folded.
	db = killAndReopen(t, db, dir, &now)
	if n := staleMarks(t, db); n != 0 {
		t.Fatalf("%d stale marks left after reopening", n)
	}
	check(db, "after a crash and reopen")
	err := db.bdb.View(func(txn *badger.Txn) error {
		_, err := txn.Get(series{mustID(testBucket), mustID(srcA)}.key(tagRollup, last))
		return err
	})
	if err != nil {
		t.Fatalf("the last hour's rollup after reopening: %v", err)
	}

	// Writing on marks the hour again; a clean Close folds and clears it.
	if err := db.Write(ctx, testBucket, []Point{{SourceID: srcA, TS: at(2*3600 + 66), Values: []Value{num("t", 1)}}}); err != nil {
		t.Fatal(err)
	}
	if n := staleMarks(t, db); n != 1 {
		t.Fatalf("%d stale marks after writing to a stored hour, want 1", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	if n := staleMarks(t, db); n != 0 {
		t.Fatalf("%d stale marks after a clean close", n)
	}
	check(db, "after a clean close")
}

// killAndReopen closes db as a kill would leave it, with no cached hour
// folded (the cache emptied leaves Close nothing to fold), and opens it
// again.
func killAndReopen(t *testing.T, db *DB, dir string, now *time.Time) *DB {
	t.Helper()
	db.writeMu.Lock()
	clear(db.hot)
	db.writeMu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return openTest(t, dir, now)
}

// staleMarks counts the stale marks stored.
func staleMarks(t *testing.T, db *DB) (marks int) {
	t.Helper()
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagRollup}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if isStaleKey(it.Item().Key()) {
				marks++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return marks
}

func mustID(s string) id12 {
	id, err := parseID(s)
	if err != nil {
		panic(errors.New(s + ": " + err.Error()))
	}
	return id
}

// A sweep whose cutoff is the first instant of a cached hour rewrites that
// hour (and stores its rollup, clearing its stale mark): the writer must
// not go on from its cached state, or the hour's next piece would leave
// the stored rollup behind with no mark.
func TestSweepAtAnHourBoundaryLeavesRollupsRight(t *testing.T) {
	ctx := context.Background()
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := hour.Add(30 * 24 * time.Hour) // the cutoff is the hour's start
	dir := t.TempDir()
	db := openTest(t, dir, &now)
	at := func(sec int) int64 { return hour.Add(time.Duration(sec) * time.Second).UnixNano() }
	// A point of the hour before, which the sweep deletes: the source is
	// swept only if it holds an expired point.
	if err := db.Write(ctx, testBucket, []Point{{SourceID: srcA, TS: at(-1800), Values: []Value{num("t", 9)}}}); err != nil {
		t.Fatal(err)
	}
	for w := 0; w < 3; w++ {
		if err := db.Write(ctx, testBucket, []Point{{SourceID: srcA, TS: at(10 * (w + 1)), Values: []Value{num("t", 1)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, testBucket, []Point{{SourceID: srcA, TS: at(3000), Values: []Value{num("t", 5)}}}); err != nil {
		t.Fatal(err)
	}
	// The hour whole, so that its rollup serves, before and after a crash.
	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: hour.UnixNano(), End: hour.Add(2 * time.Hour).UnixNano()}
	check := func(db *DB, when string) {
		t.Helper()
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggMax, Window: WindowAll})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Count != 4 || rows[0].Values["t"] != 5.0 {
			t.Errorf("%s: rows = %+v, want one of 4 points, max 5", when, rows)
		}
		if n := db.SourcePointCount(testBucket, srcA); n != 4 {
			t.Errorf("%s: source count %d, want 4", when, n)
		}
	}
	check(db, "after the sweep and a write")
	db = killAndReopen(t, db, dir, &now)
	defer db.Close()
	check(db, "after a crash")
}

// Evicting the cache compacts every hour it drops, most of them one piece
// with a stale rollup, many hours to a transaction: afterwards only the
// hours still cached carry marks, and counts and rollups agree with the
// points, after a crash too.
func TestCacheEvictionStoresStaleRollups(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	db := openTest(t, dir, &now)
	n := maxHotHours + 500 // sources, one point each: each its own cached hour
	var pts []Point
	var sources []string
	for i := range n {
		src := fmt.Sprintf("%024x", i+1)
		sources = append(sources, src)
		pts = append(pts, Point{SourceID: src, TS: now.Add(-time.Hour).UnixNano(), Values: []Value{num("t", float64(i))}})
	}
	if err := db.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	// The next write finds the cache over its bound and evicts them.
	if err := db.Write(ctx, testBucket, []Point{{SourceID: srcB, TS: now.Add(-time.Minute).UnixNano(), Values: []Value{num("t", 1)}}}); err != nil {
		t.Fatal(err)
	}
	if marks := staleMarks(t, db); marks != 1 {
		t.Fatalf("%d stale marks after the eviction; want 1, the hour still cached", marks)
	}
	r := Range{BucketID: testBucket, SourceIDs: sources, Start: now.Add(-2 * time.Hour).UnixNano(), End: now.UnixNano()}
	check := func(db *DB, when string) {
		t.Helper()
		if got, err := db.Count(ctx, r); err != nil || got != int64(n) {
			t.Errorf("%s: count %d, %v; want %d", when, got, err, n)
		}
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggMax, Window: WindowHour})
		if err != nil || len(rows) != n {
			t.Fatalf("%s: %d rows, %v; want %d", when, len(rows), err, n)
		}
		for _, row := range rows {
			i := slices.Index(sources, row.SourceID)
			if row.Count != 1 || row.Values["t"] != float64(i) {
				t.Fatalf("%s: row %+v, want 1 point, max %d", when, row, i)
			}
		}
	}
	check(db, "after the eviction")
	db = killAndReopen(t, db, dir, &now)
	defer db.Close()
	check(db, "after a crash")
}
