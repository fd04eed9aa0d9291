package points

import (
	"context"
	"testing"
	"time"
)

// TestWriterStats: each write waited for is one group commit, counted with
// its points and its runs (one per source and hour), and the writer's busy
// time grows with them.
func TestWriterStats(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	if st := db.WriterStats(); st != (WriterStats{}) {
		t.Fatalf("a new store's writer stats: %+v", st)
	}
	hour := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC).UnixNano()
	var first []Point
	for i := range 10 {
		ts := hour + int64(i)*int64(10*time.Minute) // 9:00 to 10:30: two hours
		first = append(first, Point{SourceID: srcA, TS: ts, Values: []Value{num("t", 1)}}, Point{SourceID: srcB, TS: ts, Values: []Value{num("t", 2)}})
	}
	if err := db.Write(context.Background(), testBucket, first); err != nil {
		t.Fatal(err)
	}
	if st := db.WriterStats(); st.Commits != 1 || st.Points != 20 || st.Runs != 4 || st.Busy <= 0 {
		t.Fatalf("after one write of 2 sources over 2 hours: %+v, want 1 commit, 20 points, 4 runs", st)
	}
	if err := db.Write(context.Background(), testBucket, first[:1]); err != nil {
		t.Fatal(err)
	}
	if st := db.WriterStats(); st.Commits != 2 || st.Points != 21 || st.Runs != 5 {
		t.Fatalf("after a second write of one point: %+v, want 2 commits, 21 points, 5 runs", st)
	}
}

// TestLevelsCountTheTables: a store's tables show in its levels, level 0
// first.
func TestLevelsCountTheTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	db := openTest(t, dir, &now)
	if err := db.Write(ctx, testBucket, seq(srcA, now.Add(-time.Hour).UnixNano(), 1000)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	levels := db.Levels()
	tables, bytes := 0, int64(0)
	for i, l := range levels {
		if l.Level != i {
			t.Fatalf("level %d listed at %d", l.Level, i)
		}
		tables += l.Tables
		bytes += l.Bytes
	}
	if len(levels) != 7 || tables == 0 || bytes <= 0 {
		t.Fatalf("%d levels with %d tables of %d bytes, want Badger's 7 levels holding the flushed table", len(levels), tables, bytes)
	}
}
