package points

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/dakkio/dakkio/internal/diskusage"
)

// DB is the points store of one node.
type DB struct {
	cfg Config
	log *slog.Logger
	bdb *badger.DB

	// writeMu serializes every change: the writer's group commits, bucket
	// deletes and retention sweeps. With one writer, Badger transactions never
	// conflict and "is this point new?" has one answer, which keeps counts exact.
	writeMu sync.Mutex
	hot     map[string]*hotHour // hours recently written; writeMu
	scratch commitScratch       // writeMu
	eval    evalQueue           // evalqueue.go

	infoMu sync.RWMutex
	series map[series]*seriesInfo

	writeCh chan *writeReq
	closeMu sync.RWMutex
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// seriesInfo is what the DB keeps in memory per source.
type seriesInfo struct {
	count int64 // points stored
	minTS int64 // no stored point is older (a lower bound after sweeps)
	maxTS int64 // no stored point is newer: a later point is new without a lookup
}

type writeReq struct {
	bucket id12
	pts    []Point
	srcs   []id12
	done   chan error
	// evalRec, if set, is committed with the points to the evaluation
	// queue (evalqueue.go).
	evalRec []byte
}

// Limits of one group commit: enough to amortize a commit over several
// requests, small enough to stay far below Badger's transaction size limit.
const (
	maxGroupPoints = 16 << 10
	maxHotHours    = 4096
	// The cache's points, decoded (about 200 bytes each with 3 fields):
	// past either bound it keeps only the hours just written.
	maxHotPoints = 256 << 10
)

// Badger's memory: memtables (each an arena of memTableSize, a second one
// while the first is flushed), the block cache and the table index and
// bloom filter cache. memTableSize also sets Badger's transaction limit,
// 15% of it (9.6 MiB, counting values under 1 MiB whole): the largest
// batch the API takes, 1000 points with 8 KiB of metadata each over many
// sources, must fit (TestE2ELargestBatchIsStored).
const (
	memTableSize   = 64 << 20
	numMemtables   = 2
	blockCacheSize = 32 << 20
	indexCacheSize = 32 << 20
)

// Open opens (or creates) the store in cfg.Dir and starts its writer and
// retention sweeper.
func Open(cfg Config) (*DB, error) {
	if cfg.Dir == "" && !cfg.InMemory {
		return nil, errors.New("points: Dir is required")
	}
	if cfg.Retention == nil {
		return nil, errors.New("points: Retention is required")
	}
	compression, ok := compressions[cfg.Compression]
	if !ok {
		return nil, fmt.Errorf("points: unknown compression %q (want snappy, zstd or none)", cfg.Compression)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db := &DB{
		cfg: cfg, log: cfg.Logger.With("component", "points"),
		hot: map[string]*hotHour{}, series: map[series]*seriesInfo{},
		writeCh: make(chan *writeReq, 64), stop: make(chan struct{}),
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithInMemory(cfg.InMemory).
		WithSyncWrites(cfg.SyncWrites).
		WithDetectConflicts(false). // one writer: nothing to detect
		WithNumVersionsToKeep(1).
		WithCompression(compression).
		WithZSTDCompressionLevel(1).
		// Bounded memory, whatever the data stored: Badger's defaults
		// (5 memtables of 64 MiB, every table index held in memory) alone
		// exceed the node's memory budget.
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithBlockCacheSize(blockCacheSize).
		WithIndexCacheSize(indexCacheSize).
		WithCompactL0OnClose(true). // a stopped node leaves superseded blocks compacted away
		WithLogger(badgerLogger{db.log.With("component", "badger")})
	if cfg.InMemory {
		opts = opts.WithDir("").WithValueDir("")
	}
	bdb, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open points store in %q: %w", cfg.Dir, err)
	}
	db.bdb = bdb
	if err := errors.Join(db.loadSeries(), db.loadEval()); err != nil {
		bdb.Close()
		return nil, err
	}
	db.wg.Add(2)
	go db.writer()
	go db.sweeper()
	return db, nil
}

// loadSeries rebuilds the per-source counts and time bounds from the stored
// rollups, which are committed with the points they count.
func (db *DB) loadSeries() error {
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagRollup}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			s := keySeries(item.Key())
			var r *rollup
			err := item.Value(func(v []byte) (err error) { r, err = decodeRollup(v); return err })
			if err != nil {
				return fmt.Errorf("cannot read rollup %x: %w", item.Key(), err)
			}
			info := db.series[s]
			if info == nil {
				info = &seriesInfo{minTS: math.MaxInt64, maxTS: math.MinInt64}
				db.series[s] = info
			}
			info.count += r.points
			info.minTS = min(info.minTS, r.minTS)
			info.maxTS = max(info.maxTS, r.maxTS)
		}
		return nil
	})
}

// Write stores pts in the bucket, all or nothing, and returns once they are
// committed (durable against a crash of the process; against power loss too
// with SyncWrites). A point whose (source, time) exists replaces it; within
// pts, the later of two equal points wins. The DB keeps the points' Values
// and Metadata: the caller must not change them after the call.
func (db *DB) Write(ctx context.Context, bucketID string, pts []Point) error {
	return db.write(ctx, bucketID, pts, nil)
}

func (db *DB) write(ctx context.Context, bucketID string, pts []Point, evalRec []byte) error {
	if len(pts) == 0 {
		return nil
	}
	bucket, err := parseID(bucketID)
	if err != nil {
		return err
	}
	req := &writeReq{bucket: bucket, pts: pts, srcs: make([]id12, len(pts)), done: make(chan error, 1), evalRec: evalRec}
	for i := range pts {
		if req.srcs[i], err = parseID(pts[i].SourceID); err != nil {
			return err
		}
	}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	db.writeCh <- req
	db.closeMu.RUnlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
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

func (db *DB) commitGroup(group []*writeReq) error {
	sc := &db.scratch
	defer sc.reset()
	if sc.slot == nil {
		sc.slot = map[series]int{}
	}
	// Group the points by source, in arrival order, then order each source's
	// points by time (usually they already are), the later write last.
	for _, req := range group {
		for i := range req.pts {
			s := series{bucket: req.bucket, source: req.srcs[i]}
			k, ok := sc.slot[s]
			if !ok {
				k = len(sc.runs)
				sc.slot[s] = k
				sc.order = append(sc.order, s)
				if k < cap(sc.runs) {
					sc.runs = sc.runs[:k+1]
				} else {
					sc.runs = append(sc.runs, nil)
				}
			}
			sc.runs[k] = append(sc.runs[k], &req.pts[i])
		}
	}
	entries := sc.entries
	for k, s := range sc.order {
		pts := sc.runs[k]
		if !slices.IsSortedFunc(pts, func(a, b *Point) int { return cmp.Compare(a.TS, b.TS) }) {
			slices.SortStableFunc(pts, func(a, b *Point) int { return cmp.Compare(a.TS, b.TS) })
		}
		for _, p := range pts {
			entries = append(entries, groupEntry{s: s, p: p})
		}
	}
	sc.entries = entries
	// Cold hours are read outside the write transaction: its iterators would
	// sort every pending write each time, and no hour read here was written
	// earlier in this group (those come from the written map).
	read := db.bdb.NewTransaction(false)
	defer read.Discard()

	txn := db.bdb.NewTransaction(true)
	defer txn.Discard()
	infos := map[series]seriesInfo{}
	written := map[string]*hotHour{}
	var retired []string // keys of hours their sources have moved on from
	var compactions []string
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
		hk := string(s.key(tagBlock, hour))
		h, err := db.loadHour(read, written, s, hour)
		if err != nil {
			return err
		}
		next := &hotHour{s: s, hour: hour, pieces: h.pieces + 1}
		replaced := 0
		if n := len(h.b); n == 0 || add[0].TS > h.b[n-1].TS {
			next.b = append(h.b, add...) // the common case: newer points only
		} else {
			for _, p := range add {
				if _, found := slices.BinarySearchFunc(h.b, p.TS, func(q Point, t int64) int { return cmp.Compare(q.TS, t) }); found {
					replaced++
				}
			}
			next.b = mergeBlock(h.b, add)
		}
		if h.r != nil && replaced == 0 {
			next.r = h.r.clone()
			for j := range add {
				next.r.add(add[j].TS, add[j].Values)
			}
		} else {
			next.r = next.b.rollup()
		}
		if err := txn.Set(s.blockKey(hour, uint32(h.pieces)), encodeBlock(nil, add)); err != nil {
			return fmt.Errorf("cannot write block: %w", err)
		}
		if next.pieces >= maxPieces {
			compactions = append(compactions, hk)
		}
		if err := txn.Set(s.key(tagRollup, hour), next.r.encode(nil)); err != nil {
			return fmt.Errorf("cannot write rollup: %w", err)
		}
		written[hk] = next
		info, ok := infos[s]
		if !ok {
			info = db.info(s)
		}
		// The source has moved on to a later hour: the hours before its
		// last two are compacted and no longer cached, so the cache holds
		// about two hours a source (the previous one for late writes from
		// concurrent clients; a later point is read back from disk).
		if last := hourOf(info.maxTS); info.count > 0 && last < hour-hourNS {
			retired = append(retired, string(s.key(tagBlock, last)))
		}
		info.count += int64(len(add) - replaced)
		info.minTS = min(info.minTS, add[0].TS)
		info.maxTS = max(info.maxTS, add[len(add)-1].TS)
		infos[s] = info
	}
	for s, info := range infos {
		retired = append(retired, string(s.key(tagBlock, hourOf(info.maxTS)-2*hourNS)))
	}
	// A late write to an older hour (read back from disk) is retired too,
	// or such hours would pile up in the cache.
	for hk, h := range written {
		if h.hour < hourOf(infos[h.s].maxTS)-hourNS {
			retired = append(retired, hk)
		}
	}
	// Compactions change no data, so the small ones ride in this
	// transaction: one commit (one fsync with SyncWrites) instead of one
	// each. They take each hour as it stands at the end of the group.
	folded := map[string]bool{}
	var foldedBytes, foldedEntries int
	fold := func(hk string) error {
		h := db.hotHourOf(written, hk)
		if h == nil || h.pieces <= 1 || folded[hk] || foldedBytes >= maxFoldedGroup || foldedEntries+h.pieces > maxFoldedEntries {
			return nil
		}
		sc.block = encodeBlock(sc.block[:0], h.b)
		if len(sc.block) > maxFoldedHour {
			return nil
		}
		for seq := 1; seq < h.pieces; seq++ {
			if err := txn.Delete(h.s.blockKey(h.hour, uint32(seq))); err != nil {
				return fmt.Errorf("cannot compact block: %w", err)
			}
		}
		// Badger keeps the value until the commit: it must not be scratch.
		if err := txn.Set(h.s.blockKey(h.hour, 0), slices.Clone(sc.block)); err != nil {
			return fmt.Errorf("cannot compact block: %w", err)
		}
		folded[hk] = true
		foldedBytes += len(sc.block)
		foldedEntries += h.pieces
		return nil
	}
	for _, hk := range compactions {
		if err := fold(hk); err != nil {
			return err
		}
	}
	for _, hk := range retired {
		if err := fold(hk); err != nil {
			return err
		}
	}
	queued, err := db.queueEval(txn, group)
	if err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("cannot commit points: %w", err)
	}
	db.afterEval(queued)
	db.infoMu.Lock()
	for s, info := range infos {
		cur := db.series[s]
		if cur == nil {
			cur = &seriesInfo{}
			db.series[s] = cur
		}
		*cur = info
	}
	db.infoMu.Unlock()
	for hk := range folded {
		db.hotHourOf(written, hk).pieces = 1
	}
	maps.Copy(db.hot, written)

	// The points are committed and acknowledged whatever happens below:
	// compaction changes no data, so the hours too big to fold run in
	// transactions of their own, one hour each, and an hour whose
	// compaction fails stays in pieces (reads merge them) until a later one.
	for _, hk := range compactions {
		if h := db.hot[hk]; h != nil {
			db.compactHour(h)
		}
	}
	for _, hk := range retired {
		if h := db.hot[hk]; h != nil && db.compactHour(h) {
			delete(db.hot, hk)
		}
	}
	if len(db.hot) > maxHotHours || db.hotPoints() > maxHotPoints {
		for _, h := range db.hot {
			if _, ok := written[string(h.s.key(tagBlock, h.hour))]; !ok {
				db.compactHour(h)
			}
		}
		clear(db.hot)
		maps.Copy(db.hot, written)
	}
	return nil
}

// compactHour stores an hour kept in pieces as one block, in a transaction
// of its own, and reports whether the hour is now in one piece.
func (db *DB) compactHour(h *hotHour) bool {
	if h.pieces <= 1 {
		return true
	}
	c := *h
	err := db.bdb.Update(func(txn *badger.Txn) error { return compact(txn, &c, h.pieces) })
	if err != nil {
		db.log.Warn("cannot compact hour; it stays in pieces", "hour", time.Unix(0, h.hour).UTC(), "err", err)
		return false
	}
	h.pieces = 1
	return true
}

// hotHour is one source's hour as the writer last wrote it: its points,
// rollup, and how many blocks it is stored in. Cached so that a group
// commit neither reads nor decodes the hours it extends.
type hotHour struct {
	s      series
	hour   int64
	b      block
	r      *rollup // nil until needed
	pieces int     // blocks stored at seq 0..pieces-1
}

// An hour stored in this many blocks is compacted into one.
const maxPieces = 16

// compact stores h as one block at seq 0, deleting its other stored blocks
// (seq 1..pieces-1), and records that in h.
func compact(txn *badger.Txn, h *hotHour, pieces int) error {
	for seq := 1; seq < pieces; seq++ {
		if err := txn.Delete(h.s.blockKey(h.hour, uint32(seq))); err != nil {
			return fmt.Errorf("cannot compact block: %w", err)
		}
	}
	if err := txn.Set(h.s.blockKey(h.hour, 0), encodeBlock(nil, h.b)); err != nil {
		return fmt.Errorf("cannot compact block: %w", err)
	}
	h.pieces = 1
	return nil
}

// hotPoints counts the cached hours' points.
func (db *DB) hotPoints() int {
	n := 0
	for _, h := range db.hot {
		n += len(h.b)
	}
	return n
}

func (db *DB) hotHourOf(written map[string]*hotHour, hk string) *hotHour {
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

// loadHour returns the hour as last written in this group, else as cached,
// else as stored. Cached blocks are only ever appended to beyond their
// length or replaced, so a failed commit leaves them as they were.
func (db *DB) loadHour(txn *badger.Txn, written map[string]*hotHour, s series, hour int64) (*hotHour, error) {
	if h := db.hotHourOf(written, string(s.key(tagBlock, hour))); h != nil {
		return h, nil
	}
	b, pieces, err := readHour(txn, s, hour, nil, false)
	if err != nil {
		return nil, err
	}
	return &hotHour{s: s, hour: hour, b: b, pieces: pieces}, nil
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

// BucketPointCount returns how many points the bucket holds.
func (db *DB) BucketPointCount(bucketID string) int64 {
	bucket, err := parseID(bucketID)
	if err != nil {
		return 0
	}
	db.infoMu.RLock()
	defer db.infoMu.RUnlock()
	var n int64
	for s, info := range db.series {
		if s.bucket == bucket {
			n += info.count
		}
	}
	return n
}

// SourcePointCount returns how many points a source holds.
func (db *DB) SourcePointCount(bucketID, sourceID string) int64 {
	bucket, err1 := parseID(bucketID)
	source, err2 := parseID(sourceID)
	if err1 != nil || err2 != nil {
		return 0
	}
	db.infoMu.RLock()
	defer db.infoMu.RUnlock()
	if info := db.series[series{bucket, source}]; info != nil {
		return info.count
	}
	return 0
}

// Buckets returns the buckets this store holds points of, in no order.
func (db *DB) Buckets() []string {
	db.infoMu.RLock()
	defer db.infoMu.RUnlock()
	seen := map[id12]bool{}
	var out []string
	for s := range db.series {
		if !seen[s.bucket] {
			seen[s.bucket] = true
			out = append(out, s.bucket.String())
		}
	}
	return out
}

// DeleteBucket removes every point and rollup of the bucket and returns how
// many points it held.
func (db *DB) DeleteBucket(bucketID string) int64 {
	bucket, err := parseID(bucketID)
	if err != nil {
		return 0
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.infoMu.Lock()
	var n int64
	found := false
	for s, info := range db.series {
		if s.bucket == bucket {
			n += info.count
			found = true
			delete(db.series, s)
		}
	}
	db.infoMu.Unlock()
	if !found {
		return 0
	}
	for k, h := range db.hot {
		if h.s.bucket == bucket {
			delete(db.hot, k)
		}
	}
	if err := db.bdb.DropPrefix(bucketPrefix(tagBlock, bucket), bucketPrefix(tagRollup, bucket)); err != nil {
		db.log.Error("cannot drop points of deleted bucket", "bucket", bucketID, "err", err)
	}
	return n
}

// DeleteSource removes every point and rollup of one source of the bucket
// and returns how many points it held.
func (db *DB) DeleteSource(bucketID, sourceID string) int64 {
	bucket, err1 := parseID(bucketID)
	source, err2 := parseID(sourceID)
	if err1 != nil || err2 != nil {
		return 0
	}
	s := series{bucket, source}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.infoMu.Lock()
	var n int64
	info, found := db.series[s]
	if found {
		n = info.count
		delete(db.series, s)
	}
	db.infoMu.Unlock()
	if !found {
		return 0
	}
	for k, h := range db.hot {
		if h.s == s {
			delete(db.hot, k)
		}
	}
	if err := db.bdb.DropPrefix(s.prefix(tagBlock), s.prefix(tagRollup)); err != nil {
		db.log.Error("cannot drop points of deleted data source", "bucket", bucketID, "source", sourceID, "err", err)
	}
	return n
}

// Close stops the writer and sweeper, answering queued writes with ErrClosed,
// and closes Badger.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.stop)
	db.closeMu.Unlock()
	db.wg.Wait()
	return errors.Join(db.compactHot(), db.bdb.Close())
}

// compactHot stores every cached hour that is in pieces as one block, so a
// cleanly stopped node leaves no hour split. Each hour is one transaction:
// a kill during Close leaves every hour whole, in pieces or compacted.
func (db *DB) compactHot() error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	var failed int
	for _, h := range db.hot {
		if !db.compactHour(h) {
			failed++
		}
	}
	clear(db.hot)
	if failed > 0 {
		return fmt.Errorf("cannot compact %d hours on close", failed)
	}
	return nil
}

type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug(fmt.Sprintf(f, a...)) }

// Compressions Badger can apply to table blocks, by Config.Compression name.
var compressions = map[string]options.CompressionType{
	"": options.Snappy, "snappy": options.Snappy, "zstd": options.ZSTD, "none": options.None,
}

// DiskSize returns the bytes the store's LSM tables (with Badger's other
// files) and value log really take on disk: allocated blocks, not apparent
// sizes, since the value log is a sparse file of a fixed length. An
// in-memory store reports Badger's own estimate.
func (db *DB) DiskSize() (lsm, vlog int64) {
	if db.cfg.InMemory {
		return db.bdb.Size()
	}
	u, err := diskusage.Dir(db.cfg.Dir)
	if err != nil {
		db.log.Warn("cannot measure the points store on disk", "dir", db.cfg.Dir, "err", err)
		return db.bdb.Size()
	}
	return u.Tables + u.Other, u.ValueLog
}
