package points

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The evaluation queue keeps, in commit order and across a reopen, what
// WriteEval queued with its points, until EvalDone; plain writes queue
// nothing; a full queue refuses the write whole.
func TestEvalQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := now.Add(-time.Hour).UnixNano()
	pt := func(src string, i int) Point {
		return Point{SourceID: src, TS: base + int64(i)*int64(time.Second), Values: []Value{num("t", float64(i))}, Metadata: []byte(`{"i":1}`)}
	}
	a := []Point{pt(srcA, 1), pt(srcB, 1)}
	if err := db.WriteEval(ctx, testBucket, a, a[:1], 0); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, testBucket, []Point{pt(srcA, 2)}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	b := []Point{pt(srcB, 3)}
	if err := db.WriteEval(ctx, testBucket, b, b, 0); err != nil {
		t.Fatal(err)
	}
	if n, size, oldest := db.EvalQueueStats(); n != 2 || size <= 0 || !oldest.Equal(now.Add(-time.Second)) {
		t.Fatalf("stats = %d records, %d bytes, oldest %v; want 2, >0, %v", n, size, oldest, now.Add(-time.Second))
	}
	if got := db.BucketPointCount(testBucket); got != 4 {
		t.Fatalf("%d points stored, want 4", got)
	}
	check := func(db *DB, after uint64, want ...[]Point) []EvalRecord {
		t.Helper()
		recs, err := db.EvalQueue(after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(want) {
			t.Fatalf("%d records after %d, want %d: %+v", len(recs), after, len(want), recs)
		}
		for i, r := range recs {
			if r.Bucket != testBucket || !reflect.DeepEqual(r.Points, want[i]) || (i > 0 && r.Seq <= recs[i-1].Seq) {
				t.Fatalf("record %d = %+v, want bucket %s and points %+v in seq order", i, r, testBucket, want[i])
			}
		}
		return recs
	}
	recs := check(db, 0, a[:1], b)
	check(db, recs[0].Seq, b)

	// Reopened: the same records, numbering goes on after them.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	check(db, 0, a[:1], b)
	if err := db.EvalDone(recs[0].Seq); err != nil {
		t.Fatal(err)
	}
	c := []Point{pt(srcA, 4)}
	if err := db.WriteEval(ctx, testBucket, c, c, 0); err != nil {
		t.Fatal(err)
	}
	later := check(db, 0, b, c)
	if later[1].Seq <= recs[1].Seq {
		t.Fatalf("seq %d after a reopen does not follow %d", later[1].Seq, recs[1].Seq)
	}
	if n, _, _ := db.EvalQueueStats(); n != 2 {
		t.Fatalf("%d records queued, want 2", n)
	}

	// Full: refused, nothing stored.
	_, size, _ := db.EvalQueueStats()
	d := []Point{pt(srcA, 5)}
	if err := db.WriteEval(ctx, testBucket, d, d, size); !errors.Is(err, ErrEvalQueueFull) {
		t.Fatalf("write past the bound: %v, want ErrEvalQueueFull", err)
	}
	if got := db.BucketPointCount(testBucket); got != 5 {
		t.Fatalf("%d points stored after a refused write, want 5", got)
	}

	if err := db.EvalDone(later[0].Seq, later[1].Seq); err != nil {
		t.Fatal(err)
	}
	check(db, 0)
	if n, size, oldest := db.EvalQueueStats(); n != 0 || size != 0 || !oldest.IsZero() {
		t.Fatalf("empty queue stats = %d, %d, %v", n, size, oldest)
	}
}

// Under concurrent writers, every queued write is there once, in the order
// of its commit.
func TestEvalQueueConcurrent(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	base := now.Add(-time.Hour).UnixNano()
	const writers, each = 4, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				p := []Point{{SourceID: srcA, TS: base + int64(w*each+i), Values: []Value{num("t", 1)}}}
				if err := db.WriteEval(ctx, testBucket, p, p, 0); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.EvalQueue(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i, r := range recs {
		if i > 0 && r.Seq != recs[i-1].Seq+1 {
			t.Fatalf("seq %d follows %d", r.Seq, recs[i-1].Seq)
		}
		seen[r.Points[0].TS] = true
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d records of %d distinct points, want %d", len(recs), len(seen), writers*each)
	}
}

// A record that cannot be decoded is returned with Err, not as an error
// that would stop the queue behind it.
func TestEvalQueueBadRecord(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	p := []Point{{SourceID: srcA, TS: now.UnixNano(), Values: []Value{num("t", 1)}}}
	if err := db.WriteEval(ctx, testBucket, p, p, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(evalKey(1), []byte("short")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteEval(ctx, testBucket, p, p, 0); err != nil {
		t.Fatal(err)
	}
	recs, err := db.EvalQueue(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Err == nil || recs[1].Err != nil || len(recs[1].Points) != 1 {
		t.Fatalf("records = %+v, want the bad one with Err, then the good one", recs)
	}
}
