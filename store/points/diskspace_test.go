package points

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// TestWriteRefusedWhenDiskShort: a store whose filesystem has less free
// space than its reserve refuses writes with ErrDiskFull and stores
// nothing, instead of letting Badger fault on a memory-mapped page of a
// full disk (the chaos suite's disk nemesis, seed 5, killed a node so).
// The reserve here exceeds any real disk; statfs is the real one.
func TestWriteRefusedWhenDiskShort(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Config{Dir: dir, Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true }, MinFreeBytes: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bucket, source := "65a4f0c2a1b2c3d4e5000001", "65a4f0c2a1b2c3d4e5000002"
	now := time.Now().Add(-time.Minute).UnixNano()
	err = db.Write(context.Background(), bucket, []Point{{SourceID: source, TS: now, Values: []Value{num("v", 1)}}})
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write with a reserve larger than the disk: err %v, want ErrDiskFull", err)
	}
	n, err := db.Count(context.Background(), Range{BucketID: bucket, SourceIDs: []string{source}, Start: math.MinInt64, End: math.MaxInt64})
	if err != nil || n != 0 {
		t.Fatalf("after the refused write: count %d, err %v; want 0 stored", n, err)
	}
}

// TestWriteAcceptedWithRoomToSpare: the default reserve lets writes
// through on a filesystem with room.
func TestWriteAcceptedWithRoomToSpare(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFree(dir, DefaultMinFree); err != nil {
		t.Fatalf("the test needs %d MiB free in the temp dir: %v", DefaultMinFree>>20, err)
	}
	db, err := Open(Config{Dir: dir, Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bucket, source := "65a4f0c2a1b2c3d4e5000001", "65a4f0c2a1b2c3d4e5000002"
	now := time.Now().Add(-time.Minute).UnixNano()
	if err := db.Write(context.Background(), bucket, []Point{{SourceID: source, TS: now, Values: []Value{num("v", 1)}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Count(context.Background(), Range{BucketID: bucket, SourceIDs: []string{source}, Start: math.MinInt64, End: math.MaxInt64}); err != nil || n != 1 {
		t.Fatalf("count %d, err %v; want 1", n, err)
	}
}
