package points

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Staged writes: a single write too big for one Badger transaction (whose
// limit is 15% of a memtable, and memtables are kept small to bound the
// node's memory) is committed in parts, still all or nothing across a
// crash. The whole write is first stored as one staged record (a value
// this large goes to Badger's value log, so it takes a few bytes of the
// transaction's limit), then its points are committed in parts, and a last
// commit deletes the record and queues the write's evaluation. A crash in
// between leaves the record, and Open applies it again: applying twice
// stores the same points, since a point replaces the one at its (source,
// time). Readers may see a staged write in part while it is applied.
//
//	's' seq -> bucket, the evaluation mark (may be empty), the points in
//	           the batch wire form (wire.go)
const tagStaged byte = 's'

func stagedKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tagStaged}, seq)
}

func encodeStaged(req *writeReq) ([]byte, error) {
	rec := append([]byte(nil), req.bucket[:]...)
	var mark []byte
	if req.eval != nil {
		mark = req.eval.mark
	}
	rec = binary.AppendUvarint(rec, uint64(len(mark)))
	rec = append(rec, mark...)
	return EncodeBatch(rec, req.pts)
}

// decodeStaged returns the write a staged record holds; its evaluation, if
// any, without points (the evaluator reads them back from the store).
func decodeStaged(rec []byte) (*writeReq, error) {
	d := decoder{b: rec}
	var bucket id12
	copy(bucket[:], d.bytes(idLen))
	mark := d.bytes(d.uvarint())
	if d.err != nil {
		return nil, errors.New("malformed staged write")
	}
	pts, err := DecodeBatch(d.b)
	if err != nil {
		return nil, fmt.Errorf("staged write: %w", err)
	}
	req := &writeReq{bucket: bucket, pts: pts, srcs: make([]id12, len(pts))}
	for i := range pts {
		if req.srcs[i], err = parseID(pts[i].SourceID); err != nil {
			return nil, err
		}
	}
	if len(mark) > 0 {
		req.eval = &evalReq{mark: append([]byte(nil), mark...), bucket: bucket.String()}
	}
	return req, nil
}

// commitStaged stages req, then applies it. Under writeMu.
func (db *DB) commitStaged(req *writeReq) error {
	rec, err := encodeStaged(req)
	if err != nil {
		return err
	}
	db.stagedSeq++
	key := stagedKey(db.stagedSeq)
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(key, rec) }); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			err = fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return fmt.Errorf("cannot stage write: %w", err)
	}
	return db.applyStaged(key, req)
}

// applyStaged commits req's points in parts, then deletes its staged record
// and queues its evaluation in one last commit. On an error the record
// stays, for the next Open to apply. Under writeMu.
func (db *DB) applyStaged(key []byte, req *writeReq) error {
	if err := db.commitParts(req.bucket, req.pts, req.srcs); err != nil {
		return err
	}
	return db.commitGroup([]*writeReq{{bucket: req.bucket, eval: req.eval, unstage: key}})
}

// commitParts commits pts, halved until each part fits a transaction.
func (db *DB) commitParts(bucket id12, pts []Point, srcs []id12) error {
	err := db.commitGroup([]*writeReq{{bucket: bucket, pts: pts, srcs: srcs}})
	if !errors.Is(err, badger.ErrTxnTooBig) || len(pts) < 2 {
		return err
	}
	h := len(pts) / 2
	if err := db.commitParts(bucket, pts[:h], srcs[:h]); err != nil {
		return err
	}
	if db.afterStagedPart != nil {
		if err := db.afterStagedPart(); err != nil {
			return err
		}
	}
	return db.commitParts(bucket, pts[h:], srcs[h:])
}

// applyStagedOnOpen applies the writes a crash left staged, before the
// writer starts. One that fails is logged and stays for the next Open.
func (db *DB) applyStagedOnOpen() error {
	type staged struct{ key, rec []byte }
	var all []staged
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagStaged}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			rec, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, staged{key: it.Item().KeyCopy(nil), rec: rec})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot read staged writes: %w", err)
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	for _, s := range all {
		db.stagedSeq = max(db.stagedSeq, binary.BigEndian.Uint64(s.key[1:]))
		req, err := decodeStaged(s.rec)
		if err == nil {
			err = db.applyStaged(s.key, req)
		}
		if err != nil {
			db.log.Error("cannot apply staged write; it stays staged", "key", fmt.Sprintf("%x", s.key), "err", err)
			continue
		}
		db.log.Info("applied a staged write", "points", len(req.pts))
	}
	return nil
}
