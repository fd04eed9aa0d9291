package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
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
	zip blockZip // how blocks are stored (blockzip.go)

	// writeMu serializes every change: the writer's group commits, bucket
	// deletes and retention sweeps. With one writer, Badger transactions never
	// conflict and "is this point new?" has one answer, which keeps counts exact.
	writeMu sync.Mutex
	hot     map[hourKey]*hotHour // hours recently written; writeMu
	scratch commitScratch        // writeMu
	nextTxn *badger.Txn          // writeMu; see takeTxn
	eval    evalQueue            // evalqueue.go

	writerCounters writerCounters // writerstats.go

	changes *changeLog // changes.go

	infoMu sync.RWMutex
	series map[series]*seriesInfo

	writeCh     chan *writeReq
	coming      atomic.Int64 // writes announced and not yet handed on (arrivals.go)
	trimPasses  atomic.Int64 // the table trimmer's passes (pageout.go), for tests to wait on
	lingerTimer *time.Timer  // the writer's only
	minFree     int64        // bytes kept free on the filesystem (0: no check)
	closeMu     sync.RWMutex
	closed      bool
	stop        chan struct{}
	wg          sync.WaitGroup
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
	// eval, if set, is queued for evaluation in the points' commit
	// (evalqueue.go).
	eval *evalReq
}

// Limits of one group commit: enough to amortize a commit over several
// requests, small enough to stay far below Badger's transaction size limit.
const (
	maxGroupPoints = 16 << 10
	maxHotHours    = 4096
	// The cache's points, encoded (hothour.go): past either bound it keeps
	// only the hours just written.
	maxHotBytes = 32 << 20
)

// Badger's memory: memtables (each an arena of memTableSize, a second one
// while the first is flushed), the block cache and the table index and
// bloom filter cache. memTableSize also sets Badger's transaction limit,
// 15% of it (9.6 MiB, counting values under 1 MiB whole): the largest
// batch the API takes, 1000 points with 8 KiB of metadata each over many
// sources, must fit (TestE2ELargestBatchIsStored). With random printable
// metadata, which compression barely shrinks, it is stored with memtables
// of 54 MiB and up and refused as too large at 52 MiB: 64 MiB leaves room.
// Smaller memtables would lower the node's peak (README, "Where the memory
// peak comes from").
const (
	memTableSize   = 64 << 20
	numMemtables   = 2
	blockCacheSize = 32 << 20
	indexCacheSize = 32 << 20
)

// badgerCompression is how Badger compresses the tables it writes: not at
// all, since blocks arrive compressed. A test sets it to write tables as
// earlier releases did.
var badgerCompression = options.None

// Open opens (or creates) the store in cfg.Dir and starts its writer and
// retention sweeper.
func Open(cfg Config) (*DB, error) {
	if cfg.Dir == "" && !cfg.InMemory {
		return nil, errors.New("points: Dir is required")
	}
	if cfg.Retention == nil {
		return nil, errors.New("points: Retention is required")
	}
	zip, err := newBlockZip(cfg.Compression)
	if err != nil {
		return nil, err
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
	if cfg.MaxLinger == 0 {
		cfg.MaxLinger = defaultMaxLinger
	}
	db := &DB{
		cfg: cfg, log: cfg.Logger.With("component", "points"), zip: zip,
		hot: map[hourKey]*hotHour{}, series: map[series]*seriesInfo{}, changes: newChangeLog(),
		writeCh: make(chan *writeReq, 64), stop: make(chan struct{}),
		minFree: cfg.MinFreeBytes,
	}
	if db.minFree == 0 {
		db.minFree = defaultMinFree
	}
	if cfg.InMemory {
		db.minFree = 0
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithInMemory(cfg.InMemory).
		WithSyncWrites(cfg.SyncWrites).
		WithDetectConflicts(false). // one writer: nothing to detect
		WithNumVersionsToKeep(1).
		// Blocks are compressed as they are written (blockzip.go); tables
		// written by earlier releases keep their own compression, which
		// Badger's manifest records.
		WithCompression(badgerCompression).
		// Bounded memory, whatever the data stored: Badger's defaults
		// (5 memtables of 64 MiB, every table index held in memory) alone
		// exceed the node's memory budget.
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		// Two compactions at a time, not Badger's four: each builds its
		// output tables in memory, and those buffers are the largest part
		// of the node's anonymous peak. Ingest was the same or faster in
		// three pairs of sustained runs on 2 cores (0.97 M against 0.97 M,
		// 0.93 M against 0.82 M, 1.08 M against 0.92 M values/s).
		WithNumCompactors(2).
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
	err = db.storeStaleRollups()
	if err == nil {
		err = errors.Join(db.loadSeries(), db.loadEval())
	}
	if err != nil {
		bdb.Close()
		return nil, err
	}
	db.wg.Add(2)
	go db.writer()
	go db.sweeper()
	if !cfg.InMemory && !cfg.KeepTablePages {
		db.wg.Add(1)
		go db.tableTrimmer()
	}
	return db, nil
}

// storeStaleRollups stores the rollups of the hours left with a stale mark
// (keys.go) by a process that stopped before folding them, each hour in a
// transaction of its own, so that loadSeries can count from rollups alone.
// Only hours being written when the process stopped carry a mark: a few
// per source.
func (db *DB) storeStaleRollups() error {
	var stale [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagRollup}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); isStaleKey(k) {
				stale = append(stale, slices.Clone(k))
			}
		}
		return nil
	})
	for _, k := range stale {
		if err != nil {
			break
		}
		s, hour := keySeries(k), keyTime(k)
		err = db.bdb.Update(func(txn *badger.Txn) error {
			b, _, err := readHour(txn, s, hour, nil, false)
			if err != nil {
				return err
			}
			return storeRollup(txn, s, hour, b.rollup())
		})
	}
	if err != nil {
		return fmt.Errorf("cannot store the rollups of the hours being written: %w", err)
	}
	return nil
}

// loadSeries rebuilds the per-source counts and time bounds from the stored
// rollups, which are committed with the points they count (or, for the
// hours being written, stored by storeStaleRollups before).
func (db *DB) loadSeries() error {
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagRollup}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if isStaleKey(item.Key()) {
				continue // none is left after storeStaleRollups
			}
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

func (db *DB) write(ctx context.Context, bucketID string, pts []Point, eval *evalReq) error {
	if len(pts) == 0 {
		return nil
	}
	bucket, err := parseID(bucketID)
	if err != nil {
		return err
	}
	req := &writeReq{bucket: bucket, pts: pts, srcs: make([]id12, len(pts)), done: make(chan error, 1), eval: eval}
	for i := range pts {
		if req.srcs[i], err = parseID(pts[i].SourceID); err != nil {
			return err
		}
	}
	if err := db.checkSpace(); err != nil {
		return err
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
	db.changes.dropBucket(bucket)
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

// sourceDeleted tells whether the replicated metadata remembers the source
// as deleted (Config.SourceDeleted). The node leaves out deleted sources'
// points before a write queues (node/alerting), but a write can reach the
// writer after its source was deleted all the same: its points would be
// stored under a source nobody lists, counted in the bucket but in no
// source (a cluster test saw a bucket of 297 points whose sources held
// 296). The metadata marks a source deleted before DeleteSource runs,
// under writeMu like every group commit, so a group either commits first
// and loses its points to DeleteSource, or finds the source deleted and
// leaves them out; the write is answered as if it had come just before the
// delete.
func (db *DB) sourceDeleted(src id12) bool {
	return db.cfg.SourceDeleted != nil && db.cfg.SourceDeleted(src.String())
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
	hours := slices.Collect(maps.Values(db.hot))
	db.compactHours(hours)
	var failed int
	for _, h := range hours {
		if h.needsFold() {
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
