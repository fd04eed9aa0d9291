package points

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"

	"github.com/dakkio/dakkio/internal/pageout"
)

// tableTrimInterval is how often, at least, the store looks for tables
// Badger wrote since, to hand their pages back (internal/pageout) on the
// look that finds them and the one after, and keeps the pages reads bring
// back within tablePageBudget; the walk over the mappings that the budget
// needs is only made when file-backed memory grew (shedSlack).
//
// Between those passes it reads the process's file-backed RSS every
// trimGlance (one small read of /proc) and makes a pass as soon as it grew
// by trimGrowth since the last: a compaction writes and reads hundreds of
// MiB of tables within a second, and passes every 250 ms alone left
// 100–180 MiB of them in the node at its peaks (a sustained ingest of 1 s
// points, 23rd session).
const (
	tableTrimInterval = 250 * time.Millisecond
	trimGlance        = 50 * time.Millisecond
	trimGrowth        = 8 << 20
)

// tablePageBudget bounds the pages of the store's tables that stay mapped
// resident in the node, whoever faulted them in: a compaction reads its
// inputs through their mappings and, without a bound, their pages (up to
// 270 MiB in a sustained ingest of 1 s points) count in the node's RSS
// until the inputs are deleted. Past it the most resident tables are paged
// out; their pages come back from the page cache if a read needs them
// again (holdTables), or from disk for a table paged out.
//
// The memtables' write-ahead files (.mem) count against it too: Badger
// writes them through their mappings and reads them only when it reopens
// after a crash, yet each memtable's 64 MiB stayed resident until its
// flush (54-64 MiB of the node at its peak). Their pages are still dirty;
// MADV_PAGEOUT only unmaps those (the kernel keeps them in the page cache
// until written back, or until the file is deleted after the flush), so a
// kill loses nothing, and the page being written faults back in from
// memory (from disk under --sync-writes, whose msync leaves it clean).
const tablePageBudget = 32 << 20

// trimmedSuffixes are the files whose pages the store hands back: Badger's
// tables and its memtables' write-ahead files.
var trimmedSuffixes = []string{".sst", ".mem"}

// tableTrimmer pages out every table and write-ahead file Badger writes,
// once, so that the node's RSS holds what reads use, not every table it
// wrote (without it, RSS grows with the data stored), and keeps what reads
// fault back in within tablePageBudget.
func (db *DB) tableTrimmer() {
	defer db.wg.Done()
	tr := pageout.New(db.cfg.Dir, trimmedSuffixes...)
	pin := &tablePin{wg: &db.wg, hold: db.holdTables}
	tr.SetPin(pin.pin)
	var trimWarned, budgetWarned bool
	// failed reports err and tells whether to stop: a kernel without
	// MADV_PAGEOUT (found by Trim or Shed, whichever advises first) ends
	// the trimmer; /proc unreadable (out of file descriptors?) is said
	// once and tried again at every tick.
	failed := func(err error, msg string, warned *bool) bool {
		if errors.Is(err, pageout.ErrUnsupported) {
			db.log.Warn("tables' and write-ahead files' pages stay resident; RSS will grow with the data stored", "err", err)
			return true
		}
		if !*warned {
			db.log.Warn(msg, "err", err)
			*warned = true
		}
		return false
	}
	budget := budgetLook{baseline: -1}
	t := time.NewTicker(trimGlance)
	defer t.Stop()
	var lastPass time.Time
	var fileAfterPass int64
	for {
		select {
		case <-db.stop:
			return
		case now := <-t.C:
			if now.Sub(lastPass) < tableTrimInterval {
				file, err := pageout.FileResident()
				if err == nil && file-fileAfterPass < trimGrowth {
					// Growth counts from the lowest since the pass: tables
					// deleted must not hide tables written.
					fileAfterPass = min(fileAfterPass, file)
					continue
				}
			}
			lastPass = now
			db.trimPasses.Add(1)
			if _, err := tr.Trim(); err != nil {
				if failed(err, "cannot list the mapped tables to hand their pages back", &trimWarned) {
					return
				}
				continue
			}
			if err := budget.look(tr); err != nil &&
				failed(err, "cannot measure the mapped tables' pages to keep them within budget", &budgetWarned) {
				return
			}
			if file, err := pageout.FileResident(); err == nil {
				fileAfterPass = file
			}
		}
	}
}

// The walk over the process's mappings that the budget needs (Shed) costs
// with every mapping: 1.1 ms with 300 tables, 18 ms under the race
// detector, whose shadow memory it walks too. A look makes it only when
// the process's file-backed RSS, one cheap read, grew by shedSlack since
// the last walk that left the tables within budget (or the lowest seen
// since), and at least every shedRecheck, since other files shrinking can
// hide the tables' growth.
const (
	shedSlack   = 16 << 20
	shedRecheck = 10 * time.Second
)

// budgetLook decides, at each tick, whether to walk the mappings.
type budgetLook struct {
	baseline int64 // file-backed RSS after a walk that found the tables within budget; -1: walk at the next look
	skipped  int   // passes since the last walk (at most tableTrimInterval apart)
}

func (l *budgetLook) look(tr *pageout.Trimmer) error {
	file, err := pageout.FileResident()
	if err != nil {
		return err
	}
	l.skipped++
	if l.baseline >= 0 && file-l.baseline <= shedSlack && time.Duration(l.skipped)*tableTrimInterval < shedRecheck {
		l.baseline = min(l.baseline, file)
		return nil
	}
	l.skipped = 0
	found, shed, err := tr.Shed(tablePageBudget)
	if err != nil {
		return err
	}
	if shed > 0 || found > tablePageBudget {
		// Walk again at the next look: the kernel may have kept pages
		// still being written back, and a baseline taken now would count
		// them as allowed.
		l.baseline = -1
		return nil
	}
	l.baseline = file
	return nil
}

// pinWait bounds how long the trimmer waits to pin the tables. Making a
// read transaction waits for the commits in flight, through a write stall
// too, and making an iterator waits out a DropPrefix (a bucket or source
// delete) and its compactions: the moments when compactions read their
// inputs whole and the budget matters most. A pass that cannot pin in
// time pages out, as before pinning.
const pinWait = 50 * time.Millisecond

// tablePin is the trimmer's pageout.Pin: hold (holdTables), in a goroutine
// of its own that the store's Close waits for, and no longer than pinWait.
// A hold that comes too late is released by that goroutine; until it is,
// no other is started.
type tablePin struct {
	wg   *sync.WaitGroup
	hold func() (held func(name string) bool, release func())
	busy atomic.Bool
}

func (p *tablePin) pin() (held func(name string) bool, release func()) {
	if !p.busy.CompareAndSwap(false, true) {
		return nil, nil // an earlier hold is still waiting on Badger
	}
	type holding struct {
		held    func(string) bool
		release func()
	}
	got, late := make(chan holding), make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var h holding
		h.held, h.release = p.hold()
		select {
		case got <- h:
		case <-late:
			h.release()
			p.busy.Store(false)
		}
	}()
	timer := time.NewTimer(pinWait)
	defer timer.Stop()
	select {
	case h := <-got:
		p.busy.Store(false)
		return h.held, h.release
	case <-timer.C:
		close(late)
		return nil, nil
	}
}

// holdTables holds the tables in Badger's levels mapped until release, so
// the trimmer can drop their pages from the node and leave them in the
// page cache: a query after an ingest, or after a budget shed, then reads
// them from memory, not from disk. An iterator over the whole store (no
// prefix) takes a reference on every table in the levels when it is made,
// and Badger unmaps a table only when its last reference goes. A table
// listed in the levels both before and after the iterator was made was
// there when it was made, so it is held; one that came or went in between
// (a compaction's) is not, and is paged out as before. A table stays at
// one mapping all its life, and while a process runs Badger names each
// new table with a new id (it counts ids again only after DropAll, which
// the store never calls, and from the highest left after a restart).
func (db *DB) holdTables() (held func(name string) bool, release func()) {
	before := db.bdb.Tables()
	txn := db.bdb.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{})
	after := db.bdb.Tables()
	listed := make(map[uint64]bool, len(before))
	for _, ti := range before {
		listed[ti.ID] = true
	}
	names := make(map[string]bool, len(after))
	for _, ti := range after {
		if listed[ti.ID] {
			names[table.IDToFilename(ti.ID)] = true
		}
	}
	return func(name string) bool { return names[name] }, func() {
		it.Close()
		txn.Discard()
	}
}
