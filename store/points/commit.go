package points

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The write path: one writer goroutine takes the queued requests as a group
// and commits them in one Badger transaction, in these steps (commitGroup):
//
//  1. sortBySource: the group's points by source, each source's in time
//     order, the later write of a time last.
//  2. writeRuns: per run (one source's points in one hour) the hour's next
//     piece and its new rollup, into the transaction; the cached hour is
//     updated in place.
//  3. retire: the hours their sources have moved on from.
//  4. foldCompactions: small hours due for compaction, folded into the
//     same transaction.
//  5. the evaluation queue's marks, then the commit.
//  6. publish: counts and the hour cache take the committed state.
//  7. compactAfter: hours too big to fold, compacted in transactions of
//     their own; the cache trimmed to its bounds.
//
// A failed commit forgets every hour the group touched from the cache (step
// 2 changed them in place); the next write of such an hour reads it back.

// hourKey names one source's hour in the writer's maps.
type hourKey struct {
	s    series
	hour int64
}

// writer commits queued requests in groups: every request that arrived while
// the previous group was committing goes into the next transaction.
func (db *DB) writer() {
	defer db.wg.Done()
	for {
		var group []*writeReq
		select {
		case req := <-db.writeCh:
			group = append(group, req)
		case <-db.stop:
			db.writeMu.Lock()
			if db.nextTxn != nil {
				db.nextTxn.Discard()
				db.nextTxn = nil
			}
			db.writeMu.Unlock()
			for {
				select {
				case req := <-db.writeCh:
					req.done <- ErrClosed
				default:
					return
				}
			}
		}
		n := len(group[0].pts)
	drain:
		for n < maxGroupPoints {
			select {
			case req := <-db.writeCh:
				group = append(group, req)
				n += len(req.pts)
			default:
				break drain
			}
		}
		group = db.linger(group, n)
		db.writeMu.Lock()
		db.commitSplitting(group)
		db.writeMu.Unlock()
	}
}

// commitSplitting commits a group and answers its requests. A group too big
// for one Badger transaction is split between requests, each half committed
// on its own; a single request too big for a transaction is refused.
func (db *DB) commitSplitting(group []*writeReq) {
	err := db.commitGroup(group)
	if errors.Is(err, badger.ErrTxnTooBig) {
		if len(group) > 1 {
			db.commitSplitting(group[:len(group)/2])
			db.commitSplitting(group[len(group)/2:])
			return
		}
		err = fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	for _, req := range group {
		if err == nil {
			db.changes.note(req.bucket, func(yield func(int64) bool) {
				for i := range req.pts {
					if !yield(req.pts[i].TS) {
						return
					}
				}
			})
		}
		req.done <- err
	}
}

type groupEntry struct {
	s series
	p *Point
}

// commitScratch is the writer's reusable memory: one group commit's
// sorting and run buffers, kept between commits so that the steady state
// allocates only what it stores. Used under writeMu only.
type commitScratch struct {
	slot    map[series]int // a source's index in runs
	runs    [][]*Point     // each source's points, in arrival order
	order   []series
	entries []groupEntry
	add     []Point
	block   []byte // one hour encoded for compaction
	sealed  []byte // block's stored form
}

// reset drops the references to the last group's points, keeping capacity.
func (c *commitScratch) reset() {
	clear(c.slot)
	for i := range c.runs {
		clear(c.runs[i])
		c.runs[i] = c.runs[i][:0]
	}
	c.runs = c.runs[:0]
	c.order = c.order[:0]
	clear(c.entries)
	c.entries = c.entries[:0]
	clear(c.add)
	c.add = c.add[:0]
}

// Compactions folded into a group commit's own transaction: an hour is
// folded only while its encoding is this small and the group's folded
// bytes and entries stay under the other bounds, far below Badger's
// transaction limits; bigger ones are compacted after the commit, each in
// its own transaction.
const (
	maxFoldedHour    = 256 << 10
	maxFoldedGroup   = 1 << 20
	maxFoldedEntries = 4096 // Badger also limits a transaction's entries
)

// groupArenaChunk is the size of the buffers a group's keys and values are
// encoded into: Badger keeps them until the commit, so each group has its
// own, one allocation for many entries.
const groupArenaChunk = 64 << 10

// groupCommit is one group commit's state, from its points to the cache
// updates after it.
type groupCommit struct {
	db          *DB
	read        *badger.Txn // cold hours are read outside txn; nil until one is
	txn         *badger.Txn
	arena       []byte
	infos       map[series]seriesInfo
	written     map[hourKey]*hotHour // the hours this group wrote, as written
	retired     []hourKey            // hours their sources have moved on from
	compactions []hourKey            // hours that reached maxPieces
	folded      map[hourKey]bool
	queued      []evalItem
	runs        int // runs written (WriterStats)
}

func (db *DB) commitGroup(group []*writeReq) (err error) {
	start := time.Now()
	sc := &db.scratch
	defer sc.reset()
	sc.sortBySource(group, db.sourceDeleted)
	g := &groupCommit{
		db: db, txn: db.takeTxn(),
		infos: map[series]seriesInfo{}, written: map[hourKey]*hotHour{}, folded: map[hourKey]bool{},
	}
	defer func() {
		if g.read != nil {
			g.read.Discard()
		}
	}()
	defer g.txn.Discard()
	defer func() {
		if err != nil {
			g.forgetWritten()
		}
	}()
	if err := g.writeRuns(sc); err != nil {
		return err
	}
	g.retire()
	if err := g.foldCompactions(); err != nil {
		return err
	}
	if g.queued, err = db.queueEval(g.txn, group); err != nil {
		return err
	}
	db.nextTxn = db.bdb.NewTransaction(true)
	if err := g.txn.Commit(); err != nil {
		return fmt.Errorf("cannot commit points: %w", err)
	}
	g.publish()
	g.compactAfter()
	db.writerCounters.note(len(sc.entries), g.runs, time.Since(start))
	return nil
}

// takeTxn returns the transaction begun for this group during the last
// group's commit, or a new one. Beginning a transaction waits until Badger's
// watermark has taken in every earlier commit, a hand-off to another
// goroutine that, right after a commit, often waits for a core; begun
// before the last commit, the transaction has nothing to wait for. Its
// earlier read time does not matter: the group only writes through it
// (cold hours are read through g.read), and with conflict detection off
// the read time checks nothing.
func (db *DB) takeTxn() *badger.Txn {
	txn := db.nextTxn
	db.nextTxn = nil
	if txn == nil {
		txn = db.bdb.NewTransaction(true)
	}
	return txn
}

// sortBySource fills c.entries with the group's points grouped by source
// (sources in order of arrival) and each source's points in time order,
// the later write of the same time after the earlier. It leaves out the
// points of sources deleted (DB.sourceDeleted), asking once per source.
func (c *commitScratch) sortBySource(group []*writeReq, deleted func(id12) bool) {
	if c.slot == nil {
		c.slot = map[series]int{}
	}
	for _, req := range group {
		for i := range req.pts {
			s := series{bucket: req.bucket, source: req.srcs[i]}
			k, ok := c.slot[s]
			if !ok {
				k = len(c.runs)
				if deleted(s.source) {
					k = -1
				} else {
					c.order = append(c.order, s)
					if k < cap(c.runs) {
						c.runs = c.runs[:k+1]
					} else {
						c.runs = append(c.runs, nil)
					}
				}
				c.slot[s] = k
			}
			if k < 0 {
				continue
			}
			c.runs[k] = append(c.runs[k], &req.pts[i])
		}
	}
	byTime := func(a, b *Point) int { return cmp.Compare(a.TS, b.TS) }
	for k, s := range c.order {
		pts := c.runs[k]
		if !slices.IsSortedFunc(pts, byTime) {
			slices.SortStableFunc(pts, byTime)
		}
		for _, p := range pts {
			c.entries = append(c.entries, groupEntry{s: s, p: p})
		}
	}
}

// alloc returns n bytes of the group's arena, for a key or value that
// Badger keeps until the commit.
func (g *groupCommit) alloc(n int) []byte {
	if cap(g.arena)-len(g.arena) < n {
		g.arena = make([]byte, 0, max(groupArenaChunk, n))
	}
	start := len(g.arena)
	g.arena = g.arena[:start+n]
	return g.arena[start : start+n : start+n]
}

// keep copies b into the arena.
func (g *groupCommit) keep(b []byte) []byte {
	out := g.alloc(len(b))
	copy(out, b)
	return out
}

// keepSealed copies block b's stored form (blockzip.go) into the arena.
func (g *groupCommit) keepSealed(b []byte) []byte {
	sc := &g.db.scratch
	sc.sealed = g.db.zip.seal(sc.sealed[:0], b)
	return g.keep(sc.sealed)
}

// writeRuns writes each run of the sorted entries as the hour's next piece
// (only the run's points), marks the hour's rollup stale if it is not yet,
// and updates the hour's cached points and the source's count and time
// bounds.
func (g *groupCommit) writeRuns(sc *commitScratch) error {
	entries := sc.entries
	var key []byte
	for i := 0; i < len(entries); {
		// One run: the points of one source in one hour. add is scratch:
		// everything below copies what it keeps.
		s, hour := entries[i].s, hourOf(entries[i].p.TS)
		add := sc.add[:0]
		for ; i < len(entries) && entries[i].s == s && hourOf(entries[i].p.TS) == hour; i++ {
			if n := len(add); n > 0 && add[n-1].TS == entries[i].p.TS {
				add[n-1] = *entries[i].p // same point again: the later write wins
				continue
			}
			add = append(add, *entries[i].p)
		}
		sc.add = add
		g.runs++
		hk := hourKey{s, hour}
		h, err := g.loadHour(hk)
		if err != nil {
			return err
		}
		// Written from here on, even if this group fails below: extend
		// changes the cached hour, which a failed commit must forget.
		g.written[hk] = h
		seq := h.pieces
		var replaced int
		sc.block, replaced, err = h.extend(sc.block[:0], add)
		if err != nil {
			return fmt.Errorf("cannot extend hour: %w", err)
		}
		key = s.appendBlockKey(key[:0], hour, uint32(seq))
		if err := g.txn.Set(g.keep(key), g.keepSealed(sc.block)); err != nil {
			return fmt.Errorf("cannot write block: %w", err)
		}
		if h.pieces >= maxPieces {
			g.compactions = append(g.compactions, hk)
		}
		// The hour's rollup is stored when it is folded (keys.go); until
		// then a stale mark sends readers to its blocks. Writing the rollup
		// with every piece doubled the Badger entries of a run and added
		// about 200 bytes to each (a skiplist insert, the WAL, the flush).
		if !h.stale {
			key = append(s.appendKey(key[:0], tagRollup, hour), staleSuffix)
			if err := g.txn.Set(g.keep(key), nil); err != nil {
				return fmt.Errorf("cannot mark rollup stale: %w", err)
			}
			h.stale = true
		}
		info := g.info(s)
		// The source has moved on to a later hour: the hours before its
		// last two are compacted and no longer cached (see retire for the
		// previous one; a later point is read back from disk).
		if last := hourOf(info.maxTS); info.count > 0 && last < hour-hourNS {
			g.retired = append(g.retired, hourKey{s, last})
		}
		info.count += int64(len(add) - replaced)
		info.minTS = min(info.minTS, add[0].TS)
		info.maxTS = max(info.maxTS, add[len(add)-1].TS)
		g.infos[s] = info
	}
	return nil
}

// previousHourCommits is how many pieces a source's current hour has
// before its previous hour is retired.
const previousHourCommits = 4

// retire lists, besides the hours retired while writing, each written
// source's hour two before its latest (and its previous hour, see
// previousHourCommits), and the late writes to hours before a source's
// previous one (read back from disk), or such hours would pile up in the
// cache.
func (g *groupCommit) retire() {
	for s, info := range g.infos {
		cur := hourOf(info.maxTS)
		g.retired = append(g.retired, hourKey{s, cur - 2*hourNS})
		// Late writes to the previous hour come from concurrent clients at
		// the turn of the hour; once the current hour has taken a few
		// commits, the previous one is retired too, or sources writing
		// every second would keep two full hours each in the cache.
		if h := g.db.hotHourOf(g.written, hourKey{s, cur}); h != nil && h.pieces >= previousHourCommits {
			g.retired = append(g.retired, hourKey{s, cur - hourNS})
		}
	}
	for hk := range g.written {
		if hk.hour < hourOf(g.infos[hk.s].maxTS)-hourNS {
			g.retired = append(g.retired, hk)
		}
	}
}

// foldCompactions compacts, in the group's own transaction, the hours due
// for compaction and the retired ones, while small: compactions change no
// data, so they ride in this commit (one fsync with SyncWrites) instead of
// one each. They take each hour as it stands at the end of the group.
func (g *groupCommit) foldCompactions() error {
	var foldedBytes, foldedEntries int
	fold := func(hk hourKey) error {
		h := g.db.hotHourOf(g.written, hk)
		if h == nil || !h.needsFold() || g.folded[hk] || foldedBytes >= maxFoldedGroup || foldedEntries+h.pieces+2 > maxFoldedEntries {
			return nil
		}
		f, err := g.db.prepareFold(h)
		if err != nil {
			// Its points are stored, in pieces that reads merge: the hour
			// leaves the cache (the next write reads it back from disk)
			// rather than failing this group and every later one.
			g.db.log.Warn("cannot compact hour; it stays in pieces and is read back from disk", "hour", time.Unix(0, h.hour).UTC(), "err", err)
			delete(g.db.hot, hk)
			delete(g.written, hk)
			return nil
		}
		if len(f.block) > maxFoldedHour {
			return nil
		}
		if err := f.apply(g.txn); err != nil {
			return err
		}
		g.folded[hk] = true
		foldedBytes += f.size()
		foldedEntries += f.entries()
		return nil
	}
	for _, list := range [][]hourKey{g.compactions, g.retired} {
		for _, hk := range list {
			if err := fold(hk); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish makes the committed group visible to the counts, the evaluation
// queue and the hour cache.
func (g *groupCommit) publish() {
	db := g.db
	db.afterEval(g.queued)
	db.infoMu.Lock()
	for s, info := range g.infos {
		cur := db.series[s]
		if cur == nil {
			cur = &seriesInfo{}
			db.series[s] = cur
		}
		*cur = info
	}
	db.infoMu.Unlock()
	for hk := range g.folded {
		h := g.db.hotHourOf(g.written, hk)
		h.pieces, h.stale = 1, false
	}
	maps.Copy(db.hot, g.written)
}

// forgetWritten drops the hours the group touched from the cache after a
// failed commit: they were changed in place and no longer match the store.
func (g *groupCommit) forgetWritten() {
	for hk := range g.written {
		delete(g.db.hot, hk)
	}
}

// compactAfter runs the compactions the group could not fold, in
// transactions of their own (the points are committed and acknowledged
// whatever happens here: an hour whose compaction fails stays in pieces,
// which reads merge, until a later one), uncaches the retired hours, and
// trims the cache to its bounds.
func (g *groupCommit) compactAfter() {
	db := g.db
	var due []*hotHour
	for _, list := range [][]hourKey{g.compactions, g.retired} {
		for _, hk := range list {
			if h := db.hot[hk]; h != nil {
				due = append(due, h)
			}
		}
	}
	db.compactHours(due)
	for _, hk := range g.retired {
		if h := db.hot[hk]; h != nil && !h.needsFold() {
			delete(db.hot, hk)
		}
	}
	if len(db.hot) > maxHotHours || db.hotBytes() > maxHotBytes {
		due = due[:0]
		for hk, h := range db.hot {
			if _, ok := g.written[hk]; !ok {
				due = append(due, h)
			}
		}
		db.compactHours(due)
		clear(db.hot)
		maps.Copy(db.hot, g.written)
	}
}

// compactHours stores each hour that is in pieces or has a stale rollup as
// one block with its rollup, many hours to a transaction, within the
// bounds of the folds of a group commit: evicting the cache or closing
// compacts up to thousands of hours, most of them, with rollups stored at
// the fold, one piece with a stale rollup; a transaction each would cost a
// commit each, and an fsync each with SyncWrites. An hour whose
// compaction fails stays as it is (needsFold tells).
func (db *DB) compactHours(hours []*hotHour) {
	var batch []foldWrite
	var entries, size int
	commit := func() {
		if len(batch) == 0 {
			return
		}
		err := db.bdb.Update(func(txn *badger.Txn) error {
			for _, f := range batch {
				if err := f.apply(txn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.log.Warn("cannot compact hours; they stay in pieces, their rollups summarized from them", "hours", len(batch), "first", time.Unix(0, batch[0].h.hour).UTC(), "err", err)
		} else {
			for _, f := range batch {
				f.h.pieces, f.h.stale = 1, false
			}
		}
		clear(batch)
		batch, entries, size = batch[:0], 0, 0
	}
	seen := make(map[*hotHour]bool, len(hours))
	for _, h := range hours {
		if !h.needsFold() || seen[h] {
			continue
		}
		seen[h] = true
		f, err := db.prepareFold(h)
		if err != nil {
			db.log.Warn("cannot compact hour; it stays in pieces, its rollup summarized from them", "hour", time.Unix(0, h.hour).UTC(), "err", err)
			continue
		}
		if len(batch) > 0 && (entries+f.entries() > maxFoldedEntries || size+f.size() > maxFoldedGroup) {
			commit()
		}
		batch = append(batch, f)
		entries += f.entries()
		size += f.size()
	}
	commit()
}

// An hour stored in this many blocks is compacted into one. Compacting
// re-encodes the whole hour: a source writing every second fills an hour
// in about 45 group commits, and at 16 pieces each hour was encoded three
// times over; readers append pieces that follow one another in time.
const maxPieces = 48

// foldWrite is an hour's compaction, encoded: its block, if it is in
// pieces, and its rollup, if stale; folded into a group's transaction
// (foldCompactions) or packed with others into one of their own
// (compactHours).
type foldWrite struct {
	h      *hotHour
	block  []byte // the hour as one block, stored form; nil: in one piece
	stale  bool   // the rollup is stale: store it
	rollup []byte // the rollup's stored form; nil: the hour has no points
}

func (db *DB) prepareFold(h *hotHour) (foldWrite, error) {
	f := foldWrite{h: h}
	if h.pieces > 1 {
		enc, err := h.encodeWhole()
		if err != nil {
			return f, fmt.Errorf("cannot encode hour: %w", err)
		}
		f.block = db.zip.seal(nil, enc)
	}
	if h.stale {
		f.stale, f.rollup = true, encodedRollup(h.rollup())
	}
	return f, nil
}

// entries and size bound what apply adds to a transaction.
func (f foldWrite) entries() int { return f.h.pieces + 2 }
func (f foldWrite) size() int {
	return len(f.block) + len(f.rollup) + f.entries()*(blockKeyLen+16)
}

// apply stores the hour as one block at seq 0, deleting its other blocks
// (seq 1..pieces-1), and its rollup if stale, deleting its stale mark.
func (f foldWrite) apply(txn *badger.Txn) error {
	h := f.h
	if f.block != nil {
		for seq := 1; seq < h.pieces; seq++ {
			if err := txn.Delete(h.s.blockKey(h.hour, uint32(seq))); err != nil {
				return fmt.Errorf("cannot compact block: %w", err)
			}
		}
		if err := txn.Set(h.s.blockKey(h.hour, 0), f.block); err != nil {
			return fmt.Errorf("cannot compact block: %w", err)
		}
	}
	if f.stale {
		return storeEncodedRollup(txn, h.s, h.hour, f.rollup)
	}
	return nil
}

// storeRollup stores the hour's rollup r and deletes its stale mark, if
// any; an hour without points has no rollup.
func storeRollup(txn *badger.Txn, s series, hour int64, r *rollup) error {
	return storeEncodedRollup(txn, s, hour, encodedRollup(r))
}

// encodedRollup is r's stored form, or nil for a rollup of no points.
func encodedRollup(r *rollup) []byte {
	if r.points == 0 {
		return nil
	}
	return r.encode(nil)
}

// storeEncodedRollup is storeRollup of an encoded rollup (nil: none).
func storeEncodedRollup(txn *badger.Txn, s series, hour int64, enc []byte) error {
	var err error
	if enc == nil {
		err = txn.Delete(s.key(tagRollup, hour))
	} else {
		err = txn.Set(s.key(tagRollup, hour), enc)
	}
	if err == nil {
		err = txn.Delete(s.staleKey(hour))
	}
	if err != nil {
		return fmt.Errorf("cannot store rollup: %w", err)
	}
	return nil
}

// hotBytes counts the bytes the cached hours' encoded points hold.
func (db *DB) hotBytes() int {
	n := 0
	for _, h := range db.hot {
		n += cap(h.enc)
	}
	return n
}

func (db *DB) hotHourOf(written map[hourKey]*hotHour, hk hourKey) *hotHour {
	if h, ok := written[hk]; ok {
		return h
	}
	return db.hot[hk]
}

func (db *DB) info(s series) seriesInfo {
	db.infoMu.RLock()
	defer db.infoMu.RUnlock()
	if cur := db.series[s]; cur != nil {
		return *cur
	}
	return seriesInfo{minTS: math.MaxInt64, maxTS: math.MinInt64}
}

// info is the source's count and time bounds as this group has left them.
func (g *groupCommit) info(s series) seriesInfo {
	if info, ok := g.infos[s]; ok {
		return info
	}
	return g.db.info(s)
}

// loadHour returns the hour as last written in this group, else as cached,
// else as stored.
func (g *groupCommit) loadHour(hk hourKey) (*hotHour, error) {
	if h := g.db.hotHourOf(g.written, hk); h != nil {
		return h, nil
	}
	var b block
	pieces := 0
	// An hour after the source's newest stored point, or before its oldest,
	// holds nothing: no read. That is every new hour of time-ordered ingest.
	if info := g.info(hk.s); info.count > 0 && hk.hour <= hourOf(info.maxTS) && hk.hour+hourNS > info.minTS {
		// Cold hours are read outside the write transaction: its iterators
		// would sort every pending write each time, and no hour read here
		// was written earlier in this group (those come from written). It
		// is begun only for a cold hour: each transaction begun is a round
		// trip through Badger's watermark goroutine, and most groups find
		// every hour cached.
		if g.read == nil {
			g.read = g.db.bdb.NewTransaction(false)
		}
		var err error
		if b, pieces, err = readHour(g.read, hk.s, hk.hour, nil, false); err != nil {
			return nil, err
		}
	}
	return loadedHour(hk.s, hk.hour, b, pieces), nil
}

// readHour reads and merges the stored blocks of one source's hour.
func readHour(txn *badger.Txn, s series, hour int64, keep func(string) bool, timesOnly bool) (block, int, error) {
	prefix := s.key(tagBlock, hour)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var out block
	pieces := 0
	for it.Rewind(); it.Valid(); it.Next() {
		var b block
		err := it.Item().Value(func(v []byte) (err error) { b, err = decodeBlock(v, keep, timesOnly); return err })
		if err != nil {
			return nil, 0, fmt.Errorf("cannot decode block %x: %w", it.Item().Key(), err)
		}
		out = mergeBlock(out, b)
		pieces++
	}
	return out, pieces, nil
}

// mergeInto merges add (sorted by TS, unique times) into b in place, from
// the back, so that points of add newer than most of b move only b's tail;
// a point of add replaces b's at the same time. replaced is the number of
// add's times b holds.
func mergeInto(b block, add []Point, replaced int) block {
	old := len(b)
	n := old + len(add) - replaced
	b = slices.Grow(b, n-old)[:n]
	i, j, k := old-1, len(add)-1, n-1
	for ; j >= 0; k-- {
		switch {
		case i >= 0 && b[i].TS > add[j].TS:
			b[k] = b[i]
			i--
		case i >= 0 && b[i].TS == add[j].TS:
			b[k] = add[j]
			i--
			j--
		default:
			b[k] = add[j]
			j--
		}
	}
	return b
}
