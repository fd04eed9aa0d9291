package points

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The evaluation queue tracks written points that still wait for something
// outside the store to look at them (the alert engine), so that a write
// acknowledged is a write that will be evaluated, even across a crash.
//
// The points themselves are not stored a second time. Each queued write
// commits, in the same transaction as its points, a small mark saying where
// they are:
//
//	'e' seq -> enqueue time (8 bytes), bucket (12 bytes), evalMarkVersion,
//	           per source: source (12 bytes), first and last time (8 each)
//
// and keeps the points themselves in memory for the consumer. The consumer
// reads from the front (EvalQueue), gets the points from memory, and
// deletes the marks it has handled (EvalDone): the marks left are its
// durable position. Only after a restart (or when the consumer has fallen
// so far behind that the queue stopped holding points in memory) are a
// mark's points read back from the store: each source's stored points
// between its first and last time. Those include the write's own points,
// as last written, and possibly other points of the same time span; the
// consumer must accept a point evaluated again (the alert engine records an
// event of a rule and a point once).
const tagEval byte = 'e'

// Format bytes after a record's enqueue time and bucket. Version 1 records
// (from before marks) carry the points in batch wire form (wire.go); they
// are still read.
const (
	evalMarkVersion = 2
	evalMarkEntry   = idLen + 16
)

// maxHeldEvalPoints bounds the points the queue keeps in memory for the
// consumer: past it, new marks are queued without their points, which the
// consumer then reads back from the store. The consumer normally keeps up
// and the queue holds a few writes.
const maxHeldEvalPoints = 64 << 10

// EvalRecord is one queued write.
type EvalRecord struct {
	Seq    uint64
	At     time.Time // when it was committed
	Bucket string
	// Points are the write's points that were queued, or after a restart
	// the stored points of their sources over the same time spans.
	Points []Point
	// Err is set, and Points empty, when the record cannot be read; the
	// consumer should drop it rather than stop on it.
	Err error
}

// evalQueue is the in-memory side of the queued records, in seq order.
type evalQueue struct {
	mu    sync.Mutex
	seq   uint64 // the last seq assigned; writer only
	items []evalItem
	bytes int64 // of the stored marks
	held  int   // points held in items
	ready chan struct{}
}

type evalItem struct {
	seq    uint64
	at     int64
	size   int64
	bucket string
	pts    []Point // nil: read them back from the store
}

func evalKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tagEval}, seq)
}

// ErrEvalQueueFull is returned by WriteEval when the queue holds
// maxBytes or more: nothing is written then.
var ErrEvalQueueFull = errors.New("points: evaluation queue full")

// evalReq is what a write queues for evaluation.
type evalReq struct {
	mark   []byte
	bucket string
	pts    []Point
}

// WriteEval is Write that also queues eval (the points of pts that need
// evaluating, usually all of them) in the same commit. It refuses with
// ErrEvalQueueFull, writing nothing, when the stored marks already take
// maxBytes (0: no bound); the caller then writes the points alone. The
// queue keeps eval itself for the consumer: the caller must not change it
// after the call.
func (db *DB) WriteEval(ctx context.Context, bucketID string, pts, eval []Point, maxBytes int64) error {
	if len(eval) == 0 {
		return db.Write(ctx, bucketID, pts)
	}
	bucket, err := parseID(bucketID)
	if err != nil {
		return err
	}
	if maxBytes > 0 {
		if _, size, _ := db.EvalQueueStats(); size >= maxBytes {
			return ErrEvalQueueFull
		}
	}
	// Encoded here, by the caller's goroutine, not by the single writer.
	mark, err := encodeEvalMark(db.cfg.Now().UnixNano(), bucket, eval)
	if err != nil {
		return err
	}
	return db.write(ctx, bucketID, pts, &evalReq{mark: mark, bucket: bucketID, pts: eval})
}

// encodeEvalMark encodes a record: per source of pts (in order of first
// appearance) its first and last time.
func encodeEvalMark(at int64, bucket id12, pts []Point) ([]byte, error) {
	type span struct {
		src    id12
		lo, hi int64
	}
	var spans []span
	index := map[string]int{}
	k := -1
	for i := range pts {
		p := &pts[i]
		if k < 0 || p.SourceID != pts[i-1].SourceID {
			var ok bool
			if k, ok = index[p.SourceID]; !ok {
				src, err := parseID(p.SourceID)
				if err != nil {
					return nil, err
				}
				k = len(spans)
				index[p.SourceID] = k
				spans = append(spans, span{src: src, lo: p.TS, hi: p.TS})
			}
		}
		spans[k].lo, spans[k].hi = min(spans[k].lo, p.TS), max(spans[k].hi, p.TS)
	}
	rec := make([]byte, 0, 8+idLen+1+len(spans)*evalMarkEntry)
	rec = binary.BigEndian.AppendUint64(rec, uint64(at))
	rec = append(rec, bucket[:]...)
	rec = append(rec, evalMarkVersion)
	for _, s := range spans {
		rec = append(rec, s.src[:]...)
		rec = binary.BigEndian.AppendUint64(rec, uint64(s.lo))
		rec = binary.BigEndian.AppendUint64(rec, uint64(s.hi))
	}
	return rec, nil
}

// queueEval sets the group's marks in txn, numbered after the last
// committed one; afterEval records them once txn has committed.
func (db *DB) queueEval(txn *badger.Txn, group []*writeReq) ([]evalItem, error) {
	var items []evalItem
	seq := db.eval.seq
	for _, req := range group {
		if req.eval == nil {
			continue
		}
		seq++
		if err := txn.Set(evalKey(seq), req.eval.mark); err != nil {
			return nil, fmt.Errorf("cannot queue points for evaluation: %w", err)
		}
		at := int64(binary.BigEndian.Uint64(req.eval.mark))
		items = append(items, evalItem{seq: seq, at: at, size: int64(len(req.eval.mark)), bucket: req.eval.bucket, pts: req.eval.pts})
	}
	return items, nil
}

func (db *DB) afterEval(items []evalItem) {
	if len(items) == 0 {
		return
	}
	q := &db.eval
	q.mu.Lock()
	q.seq = items[len(items)-1].seq
	for _, it := range items {
		if q.held+len(it.pts) > maxHeldEvalPoints {
			it.pts = nil // the consumer reads them back
		}
		q.held += len(it.pts)
		q.bytes += it.size
		q.items = append(q.items, it)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// loadEval rebuilds the queue's in-memory side from the stored marks,
// without their points.
func (db *DB) loadEval() error {
	db.eval.ready = make(chan struct{}, 1)
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEval}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var at int64
			var bucket id12
			err := item.Value(func(v []byte) error {
				if len(v) < 8 {
					return fmt.Errorf("evaluation record %x is too short", item.Key())
				}
				at = int64(binary.BigEndian.Uint64(v))
				copy(bucket[:], v[8:])
				return nil
			})
			if err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(item.Key()[1:])
			db.eval.items = append(db.eval.items, evalItem{seq: seq, at: at, size: item.ValueSize(), bucket: bucket.String()})
			db.eval.bytes += item.ValueSize()
			db.eval.seq = seq
		}
		return nil
	})
}

// EvalReady is signalled after a commit that queued records.
func (db *DB) EvalReady() <-chan struct{} { return db.eval.ready }

// EvalQueue returns up to max queued records with a seq above after, oldest
// first. A record that cannot be read comes with Err set.
func (db *DB) EvalQueue(after uint64, max int) ([]EvalRecord, error) {
	q := &db.eval
	q.mu.Lock()
	i, _ := slices.BinarySearchFunc(q.items, after+1, func(it evalItem, s uint64) int { return cmp.Compare(it.seq, s) })
	items := slices.Clone(q.items[i:min(len(q.items), i+max)])
	q.mu.Unlock()
	out := make([]EvalRecord, len(items))
	var txn *badger.Txn
	defer func() {
		if txn != nil {
			txn.Discard()
		}
	}()
	for k, it := range items {
		out[k] = EvalRecord{Seq: it.seq, At: time.Unix(0, it.at), Bucket: it.bucket, Points: it.pts}
		if it.pts != nil {
			continue
		}
		if txn == nil {
			txn = db.bdb.NewTransaction(false)
		}
		var err error
		if out[k].Points, err = db.readEvalRecord(txn, it.seq); err != nil {
			out[k].Points, out[k].Err = nil, fmt.Errorf("cannot read evaluation record %d: %w", it.seq, err)
		}
	}
	return out, nil
}

// readEvalRecord reads a record's points back from the store.
func (db *DB) readEvalRecord(txn *badger.Txn, seq uint64) ([]Point, error) {
	item, err := txn.Get(evalKey(seq))
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	if len(v) < 8+idLen+1 {
		return nil, errBadBatch
	}
	var bucket id12
	copy(bucket[:], v[8:])
	body := v[8+idLen:]
	if body[0] != evalMarkVersion {
		return DecodeBatch(body) // a record from before marks
	}
	body = body[1:]
	if len(body)%evalMarkEntry != 0 {
		return nil, fmt.Errorf("%w: evaluation mark of %d bytes", errBadBatch, len(v))
	}
	var out []Point
	for ; len(body) > 0; body = body[evalMarkEntry:] {
		s := series{bucket: bucket}
		copy(s.source[:], body)
		lo := int64(binary.BigEndian.Uint64(body[idLen:]))
		hi := int64(binary.BigEndian.Uint64(body[idLen+8:]))
		if lo > hi || hi == math.MaxInt64 {
			return nil, fmt.Errorf("%w: evaluation span %d..%d", errBadBatch, lo, hi)
		}
		id := s.source.String()
		err := scanPoints(txn, s, lo, hi+1, nil, false, func(p *Point) bool {
			c := *p
			c.SourceID = id
			out = append(out, c)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EvalDone deletes handled records. It does not take the writer's lock: the
// queue's keys are not the points', so it never conflicts with a commit.
func (db *DB) EvalDone(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, s := range seqs {
			if err := txn.Delete(evalKey(s)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot remove evaluated records: %w", err)
	}
	q := &db.eval
	q.mu.Lock()
	for _, s := range slices.Sorted(slices.Values(seqs)) {
		i, found := slices.BinarySearchFunc(q.items, s, func(it evalItem, s uint64) int { return cmp.Compare(it.seq, s) })
		if !found {
			continue
		}
		q.bytes -= q.items[i].size
		q.held -= len(q.items[i].pts)
		q.items[i] = evalItem{} // drop the points
		if i == 0 {
			q.items = q.items[1:] // the usual case: done in order
		} else {
			q.items = slices.Delete(q.items, i, i+1)
		}
	}
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	}
	q.mu.Unlock()
	return nil
}

// EvalQueueStats returns how many records are queued, their stored bytes,
// and when the oldest was committed (zero if none).
func (db *DB) EvalQueueStats() (n int, size int64, oldest time.Time) {
	q := &db.eval
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		oldest = time.Unix(0, q.items[0].at)
	}
	return len(q.items), q.bytes, oldest
}
