package points

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func (db *DB) sweeper() {
	defer db.wg.Done()
	t := time.NewTicker(db.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			if err := db.Sweep(context.Background()); err != nil {
				db.log.Error("retention sweep failed", "err", err)
			}
		}
	}
}

// Sweep deletes every point older than its bucket's retention, with the
// rollups of the hours it empties, and corrects the rollup of the hour the
// cutoff falls in. Each hour is changed in one transaction, so a crash
// mid-sweep leaves points, rollups and counts consistent.
func (db *DB) Sweep(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.infoMu.RLock()
	var todo []series
	for s, info := range db.series {
		// A bucket the metadata does not know (yet: the Raft log may still
		// be replaying) is never swept; deleted buckets go by DeleteBucket.
		if _, known := db.cfg.Retention(s.bucket.String()); known && info.minTS < db.cutoff(s.bucket) {
			todo = append(todo, s)
		}
	}
	db.infoMu.RUnlock()
	if len(todo) == 0 {
		return nil
	}
	for _, s := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		cutoff := db.cutoff(s.bucket)
		for k, h := range db.hot {
			// Every hour sweepSeries may rewrite, the one the cutoff falls
			// in too even when the cutoff is its first instant: a cached
			// hour rewritten underneath would go on from stale pieces and
			// flags.
			if h.s == s && h.hour <= hourOf(cutoff) {
				delete(db.hot, k) // about to change on disk
			}
		}
		if err := db.sweepSeries(s, cutoff); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) sweepSeries(s series, cutoff int64) error {
	var hours []int64
	err := db.bdb.View(func(txn *badger.Txn) error {
		return scanRollups(txn, s, minInt64, hourOf(cutoff)+1, func(h int64, _ *rollup) error {
			hours = append(hours, h)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, h := range hours {
		var deleted int64
		err := db.bdb.Update(func(txn *badger.Txn) error {
			b, pieces, err := readHour(txn, s, h, nil, false)
			if err != nil {
				return err
			}
			i, _ := b.search(cutoff)
			deleted = int64(i)
			for seq := 0; seq < pieces; seq++ {
				if err := txn.Delete(s.blockKey(h, uint32(seq))); err != nil {
					return err
				}
			}
			kept := b[i:]
			if len(kept) > 0 {
				if err := txn.Set(s.blockKey(h, 0), db.zip.seal(nil, encodeBlock(nil, kept))); err != nil {
					return err
				}
			}
			return storeRollup(txn, s, h, kept.rollup())
		})
		if err != nil {
			return fmt.Errorf("cannot sweep expired points: %w", err)
		}
		if deleted > 0 {
			db.changes.note(s.bucket, func(yield func(int64) bool) { yield(h) })
		}
		db.infoMu.Lock()
		if info := db.series[s]; info != nil {
			info.count -= deleted
			info.minTS = max(info.minTS, min(h+hourNS, cutoff))
			if info.count == 0 {
				delete(db.series, s)
			}
		}
		db.infoMu.Unlock()
	}
	return nil
}

const minInt64 = -1 << 63
