package points

import (
	"errors"
	"time"

	"github.com/dakkio/dakkio/internal/pageout"
)

// tableTrimInterval is how often the store looks for tables Badger wrote
// since, to hand their pages back (internal/pageout) on the look after the
// one that found them: a table is resident for its writing's sake for one
// to two seconds.
const tableTrimInterval = time.Second

// tableTrimmer pages out every table Badger writes, once, so that the
// node's RSS holds what reads use, not every table it wrote: without it,
// RSS grows with the data stored.
func (db *DB) tableTrimmer() {
	defer db.wg.Done()
	tr := pageout.New(db.cfg.Dir, ".sst")
	t := time.NewTicker(tableTrimInterval)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			_, err := tr.Trim()
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
