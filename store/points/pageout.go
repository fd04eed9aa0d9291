package points

import (
	"errors"
	"time"

	"github.com/dakkio/dakkio/internal/pageout"
)

// tableTrimInterval is how often the store looks for tables Badger wrote
// since, to hand their pages back (internal/pageout) on the look after the
// one that found them, and to keep the pages reads bring back within
// tablePageBudget. A compaction writes and reads hundreds of MiB of
// tables within a second; looking four times a second keeps those spikes
// short; the walk over the mappings that the budget needs is only made
// when file-backed memory grew (shedSlack).
const tableTrimInterval = 250 * time.Millisecond

// tablePageBudget bounds the pages of the store's tables that stay mapped
// resident in the node, whoever faulted them in: a compaction reads its
// inputs through their mappings and, without a bound, their pages (up to
// 270 MiB in a sustained ingest of 1 s points) count in the node's RSS
// until the inputs are deleted. Past it the most resident tables are paged
// out; their pages come back from disk if a read needs them again.
const tablePageBudget = 32 << 20

// tableTrimmer pages out every table Badger writes, once, so that the
// node's RSS holds what reads use, not every table it wrote (without it,
// RSS grows with the data stored), and keeps what reads fault back in
// within tablePageBudget.
func (db *DB) tableTrimmer() {
	defer db.wg.Done()
	tr := pageout.New(db.cfg.Dir, ".sst")
	t := time.NewTicker(tableTrimInterval)
	defer t.Stop()
	warned := false
	shed := budgetLook{baseline: -1}
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			_, err := tr.Trim()
			if err == nil {
				err = shed.look(tr)
			}
			switch {
			case errors.Is(err, pageout.ErrUnsupported):
				db.log.Warn("tables' pages stay resident; RSS will grow with the data stored", "err", err)
				return
			case err != nil && !warned:
				// Reading /proc/self/maps failed (out of file descriptors?):
				// said once, tried again at every tick.
				db.log.Warn("cannot list the mapped tables to hand their pages back", "err", err)
				warned = true
			}
		}
	}
}

// shedSlack is how much the process's file-backed RSS grows before the
// store walks its mappings again to keep its tables within
// tablePageBudget: the walk (Shed) costs with every mapping of the process,
// 1.1 ms with 300 tables and 18 ms under the race detector, whose shadow
// memory it walks too, while the growth is one cheap read. The tables'
// resident pages stay within tablePageBudget plus shedSlack.
const shedSlack = 16 << 20

// budgetLook remembers the file-backed RSS after the last Shed, or the
// lowest seen since: a node that is not faulting tables in (idle, or
// writing only its memtable files) walks nothing.
type budgetLook struct{ baseline int64 }

func (l *budgetLook) look(tr *pageout.Trimmer) error {
	file, err := pageout.FileResident()
	if err != nil {
		return err
	}
	if l.baseline >= 0 && file-l.baseline <= shedSlack {
		l.baseline = min(l.baseline, file)
		return nil
	}
	if _, err := tr.Shed(tablePageBudget); err != nil {
		return err
	}
	l.baseline, err = pageout.FileResident()
	return err
}
