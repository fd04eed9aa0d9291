package points

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// A write too big for one transaction, cut short after its first part as a
// crash would cut it, is applied whole by the next Open: every point once,
// rollups equal to the points, its evaluation queued once, nothing left
// staged; a second Open applies nothing again.
func TestStagedWriteCutShortIsAppliedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	hour := now.Truncate(time.Hour).UnixNano()
	pt := func(sec int, v float64, meta []byte) Point {
		return Point{SourceID: srcA, TS: hour + int64(sec)*int64(time.Second), Values: []Value{num("v", v)}, Metadata: meta}
	}
	huge := hugeWrite(pt, pt(1, 1, nil))
	errCut := errors.New("cut short")
	parts := 0
	db.afterStagedPart = func() error { parts++; return errCut }
	if err := db.WriteEval(ctx, testBucket, huge, huge, 0); !errors.Is(err, errCut) {
		t.Fatalf("write: %v, want it cut short", err)
	}
	if parts != 1 {
		t.Fatalf("cut after %d parts, want 1", parts)
	}
	if got := db.SourcePointCount(testBucket, srcA); got <= 0 || got >= int64(len(huge)) {
		t.Fatalf("%d points stored before the cut, want some of %d", got, len(huge))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for open := 1; open <= 2; open++ {
		db = openTest(t, dir, &now)
		if got := db.SourcePointCount(testBucket, srcA); got != int64(len(huge)) {
			t.Fatalf("open %d: count %d, want %d", open, got, len(huge))
		}
		r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: hour, End: hour + 501*int64(time.Hour)}
		res, err := db.Raw(ctx, RawQuery{Range: r, Limit: 1000})
		if err != nil || len(res.Points) != len(huge) {
			t.Fatalf("open %d: raw %d points (%v), want %d", open, len(res.Points), err, len(huge))
		}
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggSum, Window: WindowHour})
		if err != nil || len(rows) != len(huge) {
			t.Fatalf("open %d: %d hourly rows (%v), want %d", open, len(rows), err, len(huge))
		}
		for i, row := range rows {
			if row.Count != 1 || row.Values["v"] != huge[i].Values[0].Num {
				t.Fatalf("open %d: hour %d rollup %+v, want the point %v", open, i, row, huge[i].Values)
			}
		}
		recs, err := db.EvalQueue(0, 10)
		if err != nil || len(recs) != 1 || len(recs[0].Points) != len(huge) {
			t.Fatalf("open %d: evaluation queue %d records (%v), want one of %d points", open, len(recs), err, len(huge))
		}
		if n := countStaged(t, db); n != 0 {
			t.Fatalf("open %d: %d writes still staged", open, n)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func countStaged(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagStaged}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
