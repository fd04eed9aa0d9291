package points

import (
	"context"
	"encoding/binary"
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

// A record that cannot be read back (here after a reopen, when the queue
// holds no points in memory) is returned with Err, not as an error that
// would stop the queue behind it.
func TestEvalQueueBadRecord(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	db := openTest(t, dir, &now)
	p := []Point{{SourceID: srcA, TS: now.UnixNano(), Values: []Value{num("t", 1)}}}
	for range 2 {
		if err := db.WriteEval(ctx, testBucket, p, p, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(evalKey(1), []byte("short but 8 bytes long at least")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	recs, err := db.EvalQueue(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Err == nil || recs[1].Err != nil || !reflect.DeepEqual(recs[1].Points, p) {
		t.Fatalf("records = %+v, want the bad one with Err, then the good one", recs)
	}
}

// A queued write's points come from memory, as written, while the queue
// holds them; after a reopen (a crash), from the store: each source's
// stored points over the write's time span, as last written.
func TestEvalQueueReadsBackAfterReopen(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	db := openTest(t, dir, &now)
	base := now.Add(-2 * time.Hour).UnixNano()
	pt := func(src string, sec int, v float64) Point {
		return Point{SourceID: src, TS: base + int64(sec)*int64(time.Second), Values: []Value{num("t", v)}}
	}
	// Interleaved sources, out of time order, across an hour boundary.
	w := []Point{pt(srcA, 3601, 1), pt(srcB, 5, 2), pt(srcA, 10, 3), pt(srcB, 3, 4)}
	other := []Point{pt(srcA, 7200, 5)} // outside srcA's span: not read back
	if err := db.WriteEval(ctx, testBucket, w, w, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, testBucket, other); err != nil {
		t.Fatal(err)
	}
	recs, err := db.EvalQueue(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !reflect.DeepEqual(recs[0].Points, w) {
		t.Fatalf("records before reopen = %+v, want the written points", recs)
	}
	// A later write replaces one of them: read back, it is the later one.
	if err := db.Write(ctx, testBucket, []Point{pt(srcB, 5, 20)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	recs, err = db.EvalQueue(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{pt(srcA, 10, 3), pt(srcA, 3601, 1), pt(srcB, 3, 4), pt(srcB, 5, 20)}
	if len(recs) != 1 || recs[0].Err != nil || recs[0].Bucket != testBucket || !reflect.DeepEqual(recs[0].Points, want) {
		t.Fatalf("records after reopen = %+v, want bucket %s and points %+v", recs, testBucket, want)
	}
	if n, size, _ := db.EvalQueueStats(); n != 1 || size <= 0 {
		t.Fatalf("stats after reopen = %d records, %d bytes", n, size)
	}
}

// A record stored by a version that queued the points themselves (wire
// form) is still read.
func TestEvalQueueReadsLegacyRecord(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	db := openTest(t, dir, &now)
	p := []Point{{SourceID: srcA, TS: now.UnixNano(), Values: []Value{num("t", 1)}, Metadata: []byte(`{"a":1}`)}}
	bucket, _ := parseID(testBucket)
	rec := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	rec = append(rec, bucket[:]...)
	rec, err := EncodeBatch(rec, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(evalKey(7), rec) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	recs, err := db.EvalQueue(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Seq != 7 || recs[0].Err != nil || recs[0].Bucket != testBucket || !reflect.DeepEqual(recs[0].Points, p) {
		t.Fatalf("records = %+v, want the legacy record's points", recs)
	}
}

// Past maxHeldEvalPoints the queue stops holding points in memory: the
// consumer still gets every queued write's points, read back.
func TestEvalQueueBeyondHeldPoints(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	base := now.Add(-time.Hour).UnixNano()
	const per = 1000
	writes := maxHeldEvalPoints/per + 2
	for w := range writes {
		pts := make([]Point, per)
		for i := range pts {
			pts[i] = Point{SourceID: srcA, TS: base + int64(w*per+i)*int64(time.Millisecond), Values: []Value{num("t", float64(i))}}
		}
		if err := db.WriteEval(ctx, testBucket, pts, pts, 0); err != nil {
			t.Fatal(err)
		}
	}
	if held := db.eval.held; held > maxHeldEvalPoints {
		t.Fatalf("%d points held in memory, bound %d", held, maxHeldEvalPoints)
	}
	recs, err := db.EvalQueue(0, writes)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != writes {
		t.Fatalf("%d records, want %d", len(recs), writes)
	}
	for w, r := range recs {
		if r.Err != nil || len(r.Points) != per || r.Points[0].TS != base+int64(w*per)*int64(time.Millisecond) {
			t.Fatalf("record %d: err %v, %d points, want %d from the write's first", w, r.Err, len(r.Points), per)
		}
	}
	seqs := make([]uint64, len(recs))
	for i, r := range recs {
		seqs[i] = r.Seq
	}
	if err := db.EvalDone(seqs...); err != nil {
		t.Fatal(err)
	}
	if n, size, _ := db.EvalQueueStats(); n != 0 || size != 0 || db.eval.held != 0 {
		t.Fatalf("after done: %d records, %d bytes, %d points held", n, size, db.eval.held)
	}
}
