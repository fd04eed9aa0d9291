package points

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The evaluation queue holds written points that still wait for something
// outside the store to look at them (the alert engine), committed in the
// same transaction as the points, so that a write acknowledged is a write
// queued. Its keys sort in commit order:
//
//	'e' seq -> enqueue time (8 bytes), bucket (12 bytes), the points in wire form
//
// The consumer reads from the front (EvalQueue) and deletes what it has
// handled (EvalDone): what is left is its durable position.
const tagEval byte = 'e'

// EvalRecord is one queued batch.
type EvalRecord struct {
	Seq    uint64
	At     time.Time // when it was committed
	Bucket string
	Points []Point
	// Err is set, and Points empty, when the record cannot be decoded; the
	// consumer should drop it rather than stop on it.
	Err error
}

// evalQueue is the in-memory view of the queued records: their count,
// bytes and commit times, for the metrics and the bound.
type evalQueue struct {
	mu    sync.Mutex
	seq   uint64 // the last seq assigned; writer only
	items []evalMeta
	bytes int64
	ready chan struct{}
}

type evalMeta struct {
	seq  uint64
	at   int64
	size int64
}

func evalKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tagEval}, seq)
}

// ErrEvalQueueFull is returned by WriteEval when the queue holds
// maxBytes or more: nothing is written then.
var ErrEvalQueueFull = errors.New("points: evaluation queue full")

// WriteEval is Write that also queues eval (the points of pts that need
// evaluating, usually all of them) in the same commit. It refuses with
// ErrEvalQueueFull, writing nothing, when the queue already holds maxBytes
// (0: no bound); the caller then writes the points alone.
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
	rec := binary.BigEndian.AppendUint64(make([]byte, 0, 64), uint64(db.cfg.Now().UnixNano()))
	rec = append(rec, bucket[:]...)
	if rec, err = EncodeBatch(rec, eval); err != nil {
		return err
	}
	return db.write(ctx, bucketID, pts, rec)
}

// queueEval sets the group's queue records in txn, numbered after the last
// committed one; afterEval records them once txn has committed.
func (db *DB) queueEval(txn *badger.Txn, group []*writeReq) ([]evalMeta, error) {
	var metas []evalMeta
	seq := db.eval.seq
	for _, req := range group {
		if req.evalRec == nil {
			continue
		}
		seq++
		if err := txn.Set(evalKey(seq), req.evalRec); err != nil {
			return nil, fmt.Errorf("cannot queue points for evaluation: %w", err)
		}
		at := int64(binary.BigEndian.Uint64(req.evalRec))
		metas = append(metas, evalMeta{seq: seq, at: at, size: int64(len(req.evalRec))})
	}
	return metas, nil
}

func (db *DB) afterEval(metas []evalMeta) {
	if len(metas) == 0 {
		return
	}
	q := &db.eval
	q.mu.Lock()
	q.seq = metas[len(metas)-1].seq
	q.items = append(q.items, metas...)
	for _, m := range metas {
		q.bytes += m.size
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// loadEval rebuilds the queue's in-memory view from the stored records.
func (db *DB) loadEval() error {
	db.eval.ready = make(chan struct{}, 1)
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEval}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var at int64
			err := item.Value(func(v []byte) error {
				if len(v) < 8 {
					return fmt.Errorf("evaluation record %x is too short", item.Key())
				}
				at = int64(binary.BigEndian.Uint64(v))
				return nil
			})
			if err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(item.Key()[1:])
			db.eval.items = append(db.eval.items, evalMeta{seq: seq, at: at, size: item.ValueSize()})
			db.eval.bytes += item.ValueSize()
			db.eval.seq = seq
		}
		return nil
	})
}

// EvalReady is signalled after a commit that queued records.
func (db *DB) EvalReady() <-chan struct{} { return db.eval.ready }

// EvalQueue returns up to max queued records with a seq above after, oldest
// first. A record that cannot be decoded comes with Err set.
func (db *DB) EvalQueue(after uint64, max int) ([]EvalRecord, error) {
	var out []EvalRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagEval}})
		defer it.Close()
		for it.Seek(evalKey(after + 1)); it.Valid() && len(out) < max; it.Next() {
			item := it.Item()
			rec := EvalRecord{Seq: binary.BigEndian.Uint64(item.Key()[1:])}
			err := item.Value(func(v []byte) (err error) {
				if len(v) < 8+idLen {
					return errBadBatch
				}
				rec.At = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
				var b id12
				copy(b[:], v[8:8+idLen])
				rec.Bucket = b.String()
				rec.Points, err = DecodeBatch(bytes.Clone(v[8+idLen:]))
				return err
			})
			if err != nil {
				rec.Points, rec.Err = nil, fmt.Errorf("cannot read evaluation record %d: %w", rec.Seq, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
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
		i, found := slices.BinarySearchFunc(q.items, s, func(m evalMeta, s uint64) int { return cmp.Compare(m.seq, s) })
		if !found {
			continue
		}
		q.bytes -= q.items[i].size
		if i == 0 {
			q.items = q.items[1:] // the usual case: done in order
		} else {
			q.items = slices.Delete(q.items, i, i+1)
		}
	}
	q.mu.Unlock()
	return nil
}

// EvalQueueStats returns how many records are queued, their bytes, and when
// the oldest was committed (zero if none).
func (db *DB) EvalQueueStats() (n int, size int64, oldest time.Time) {
	q := &db.eval
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		oldest = time.Unix(0, q.items[0].at)
	}
	return len(q.items), q.bytes, oldest
}
