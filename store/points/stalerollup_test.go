package points

import (
	"context"
	"errors"
	"math"
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
	stale := func(db *DB) (marks int) {
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

	// The last hour is being written: marked, and summarized from blocks.
	if n := stale(db); n == 0 {
		t.Fatal("no hour carries a stale mark while being written")
	}
	check(db, "while written")

	// A crash: the process dies with hours not folded. Emptying the cache
	// leaves Close nothing to fold, as a kill would.
	db.writeMu.Lock()
	clear(db.hot)
	db.writeMu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	if n := stale(db); n != 0 {
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
	if n := stale(db); n != 1 {
		t.Fatalf("%d stale marks after writing to a stored hour, want 1", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	if n := stale(db); n != 0 {
		t.Fatalf("%d stale marks after a clean close", n)
	}
	check(db, "after a clean close")
}

func mustID(s string) id12 {
	id, err := parseID(s)
	if err != nil {
		panic(errors.New(s + ": " + err.Error()))
	}
	return id
}
