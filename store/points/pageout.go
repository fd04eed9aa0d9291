package points

import (
	"time"

	"github.com/dakkio/dakkio/internal/pageout"
)

// tableTrimInterval is how often the store looks for tables Badger wrote
// since, to hand their pages back (internal/pageout). A flush or a
// compaction writes a table in well under a second's worth of ingest at
// full speed, so one table at most is resident for its writing's sake.
const tableTrimInterval = time.Second

// tableTrimmer pages out every table Badger writes, once, so that the
// node's RSS holds what reads use, not every table it wrote: without it,
// RSS grows with the data stored.
func (db *DB) tableTrimmer() {
	defer db.wg.Done()
	tr := pageout.New(db.cfg.Dir, ".sst")
	t := time.NewTicker(tableTrimInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			if _, err := tr.Trim(); err != nil {
				db.log.Warn("cannot hand written tables' pages back; RSS will grow with the data stored", "err", err)
				return
			}
		}
	}
}
