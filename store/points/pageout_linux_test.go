package points

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/pageout"
	"github.com/dakkio/dakkio/internal/pageout/pageouttest"
)

// TestStoreHandsBackWrittenTables: an open store pages out a table that
// appears in its directory, mapped and written as Badger writes one, and
// keeps it resident when told to.
func TestStoreHandsBackWrittenTables(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := pageouttest.DiskDir(t)
		db, err := Open(Config{Dir: dir, KeepTablePages: keep, Retention: func(string) (time.Duration, bool) { return time.Hour, true }})
		if err != nil {
			t.Fatal(err)
		}
		// Written under another name and renamed in, so that the store's
		// trimmer, already running, first sees it whole.
		table := pageouttest.WriteMapped(t, filepath.Join(dir, "999999.tmp"), 2<<20)
		if err := os.Rename(filepath.Join(dir, "999999.tmp"), filepath.Join(dir, "999999.sst")); err != nil {
			t.Fatal(err)
		}
		if keep {
			// Three trims' time, and the table is still whole in memory.
			for deadline := time.Now().Add(3*tableTrimInterval + 500*time.Millisecond); time.Now().Before(deadline); {
				if r := pageouttest.Resident(t, table); r < 0.9 {
					t.Fatalf("with KeepTablePages the table fell to %.0f%% resident", r*100)
				}
				time.Sleep(50 * time.Millisecond)
			}
		} else {
			for deadline := time.Now().Add(10 * time.Second); pageouttest.Resident(t, table) > 0.1; {
				if time.Now().After(deadline) {
					t.Fatalf("the table is %.0f%% resident 10 s after it was written", pageouttest.Resident(t, table)*100)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreBoundsTablePagesReadBack: pages of the store's tables that
// reads fault back in (as a compaction reads its inputs through) are
// paged out again once they come to more than tablePageBudget, give or
// take the growth the store waits for before it looks (shedSlack).
func TestStoreBoundsTablePagesReadBack(t *testing.T) {
	dir := pageouttest.DiskDir(t)
	db, err := Open(Config{Dir: dir, Retention: func(string) (time.Duration, bool) { return time.Hour, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const size, bound = tablePageBudget + shedSlack + 4<<20, tablePageBudget + shedSlack
	table := pageouttest.WriteMapped(t, filepath.Join(dir, "999999.tmp"), size)
	if err := os.Rename(filepath.Join(dir, "999999.tmp"), filepath.Join(dir, "999999.sst")); err != nil {
		t.Fatal(err)
	}
	// Within the bound within 10 s: with the table written, and again
	// after a read faults all of it back in. (A look in the middle of the
	// read may leave less than the whole table resident, and up to
	// shedSlack over the budget.)
	waitWithinBudget := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); pageouttest.Resident(t, table)*size > bound; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %.1f MiB of the table is resident after 10 s, over the bound of %d MiB",
					what, pageouttest.Resident(t, table)*size/(1<<20), bound>>20)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitWithinBudget("written")
	for i := 0; i < size; i += 4096 {
		if table[i] != byte(i) {
			t.Fatalf("byte %d reads %d, want %d", i, table[i], byte(i))
		}
	}
	if r := pageouttest.Resident(t, table); r*size <= bound {
		t.Logf("a look ran during the read: %.0f%% resident after it", r*100)
	}
	waitWithinBudget("read back whole")
}

// TestStoreHandsBackMemtableLog: the pages of a memtable's write-ahead
// file, written through its mapping and never synced (as Badger writes
// one), leave the process's RSS once they come to more than the budget,
// and the file keeps every byte.
func TestStoreHandsBackMemtableLog(t *testing.T) {
	dir := pageouttest.DiskDir(t)
	db, err := Open(Config{Dir: dir, Retention: func(string) (time.Duration, bool) { return time.Hour, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const size, bound = tablePageBudget + shedSlack + 8<<20, tablePageBudget + shedSlack
	// Written under a name the store leaves alone, then renamed in.
	tmp, path := filepath.Join(dir, "99999.tmp"), filepath.Join(dir, "99999.mem")
	pageouttest.WriteMappedDirty(t, tmp, size)
	// mincore counts pages in the page cache, where dirty pages stay; what
	// the process maps is smaps' Rss, which Shed reports.
	mapped := func(suffix string) int64 {
		found, _, err := pageout.New(dir, suffix).Shed(math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if m := mapped(".tmp"); m < size*9/10 {
		t.Fatalf("a file just written through its mapping has %d of %d bytes mapped; the test cannot tell a page-out from none", m, size)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); mapped(".mem") > bound; {
		if time.Now().After(deadline) {
			t.Fatalf("%.1f MiB of the write-ahead file is mapped resident after 10 s, over the bound of %d MiB",
				float64(mapped(".mem"))/(1<<20), bound>>20)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d of the file reads %d after the page-out, want %d", i, got[i], byte(i))
		}
	}
}

// TestStoreKeepsItsTablesInThePageCache: pages of the store's tables,
// real Badger tables in its levels, that reads bring back and a shed
// hands back leave the process's RSS and stay in the page cache
// (holdTables), so reading them again needs no disk; the points read back
// whole after it.
func TestStoreKeepsItsTablesInThePageCache(t *testing.T) {
	ctx := context.Background()
	dir := pageouttest.DiskDir(t)
	now := time.Now()
	db := openTest(t, dir, &now)
	from := now.Add(-48 * time.Hour).Truncate(time.Hour).UnixNano()
	const sources, each = 50, 2000
	ids := make([]string, sources)
	for i := range ids {
		ids[i] = idN(i)
		if err := db.Write(ctx, testBucket, seq(ids[i], from, each)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	tables, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(tables) == 0 {
		t.Fatalf("no table after reopening (%v)", err)
	}
	readAll := func(when string) {
		t.Helper()
		res, err := db.Raw(ctx, RawQuery{Range: Range{BucketID: testBucket, SourceIDs: ids, Start: from, End: now.UnixNano()}, Limit: sources * each})
		if err != nil || len(res.Points) != sources*each {
			t.Fatalf("%s: the store reads %d points (%v), want %d", when, len(res.Points), err, sources*each)
		}
	}
	// A trimmer of the test's own, pinning as the store's does, so that
	// the test says when to shed.
	tr := pageout.New(dir, ".sst")
	tr.SetPin(db.holdTables)
	mapped := func() int64 {
		found, _, err := pageout.New(dir, ".sst").Shed(math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	var size int64
	for _, path := range tables {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size += st.Size()
	}
	// The store's own trimmer hands back the pages the opening read, on
	// the pass that finds the tables and on the next, and no more; then a
	// read maps the tables' pages again.
	for deadline := time.Now().Add(10 * time.Second); mapped() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of the tables are still mapped resident 10 s after the store opened", mapped())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for passes, deadline := db.trimPasses.Load(), time.Now().Add(10*time.Second); db.trimPasses.Load() < passes+2; {
		if time.Now().After(deadline) {
			t.Fatal("the store's trimmer made no second pass in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	readAll("reopened")
	if m := mapped(); m < size/2 {
		t.Fatalf("after reading every point %d of the tables' %d bytes are mapped; the test cannot tell a shed from none", m, size)
	}
	if _, shed, err := tr.Shed(0); err != nil || shed == 0 {
		t.Fatalf("Shed(0) shed %d bytes (%v)", shed, err)
	}
	if m := mapped(); m > size/10 {
		t.Errorf("after the shed %d of the tables' %d bytes are still mapped", m, size)
	}
	for _, path := range tables {
		if r := pageouttest.Cached(t, path); r < 0.9 {
			t.Errorf("table %s is %.0f%% in the page cache after the shed, want it kept", filepath.Base(path), r*100)
		}
	}
	readAll("after the shed")
}

// TestTablePinNeverWaitsOnBadger: a hold that Badger keeps waiting (a
// write stall, a DropPrefix) leaves the pass unpinned after pinWait, no
// second hold starts while it waits, and the late hold is released.
func TestTablePinNeverWaitsOnBadger(t *testing.T) {
	var wg sync.WaitGroup
	unblock := make(chan struct{})
	var holds, releases atomic.Int32
	p := &tablePin{wg: &wg, hold: func() (func(string) bool, func()) {
		holds.Add(1)
		<-unblock
		return func(string) bool { return true }, func() { releases.Add(1) }
	}}
	start := time.Now()
	if held, release := p.pin(); held != nil || release != nil {
		t.Fatal("a hold still waiting on Badger pinned the pass")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the pass waited %v for a blocked hold", waited)
	}
	if held, _ := p.pin(); held != nil || holds.Load() != 1 {
		t.Fatalf("a pass while the first hold waits: pinned %v, %d holds started, want none pinned and 1 hold", held != nil, holds.Load())
	}
	close(unblock)
	wg.Wait()
	if releases.Load() != 1 {
		t.Fatalf("the late hold was released %d times, want once", releases.Load())
	}
	held, release := p.pin()
	if held == nil || !held("000001.sst") || holds.Load() != 2 {
		t.Fatalf("a pass after the late hold was released did not pin (%d holds)", holds.Load())
	}
	release()
	if releases.Load() != 2 {
		t.Fatalf("released %d times, want 2", releases.Load())
	}
}
