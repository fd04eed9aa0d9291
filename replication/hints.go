package replication

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dakkio/dakkio/internal/diskusage"
	"github.com/dakkio/dakkio/store/points"
)

// Hints is the hinted-handoff queue: the writes this node coordinated
// that a replica missed, one ordered queue per target node, kept in a Badger
// store of its own (data/hints) so that they survive a restart of this
// node. Each queue is bounded in bytes when hints are added and in age when
// they are replayed; what falls outside the bounds is dropped and counted,
// and anti-entropy repair copies it instead.
type Hints struct {
	db       *badger.DB
	dir      string
	maxBytes int64
	maxAge   time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex
	seq    uint64
	queues map[string]*hintQueue
}

// hintQueue is what the store knows of one target's queue.
type hintQueue struct {
	count, bytes int64
	oldest       time.Time // of the hint at the head, when count > 0
	dropped      int64     // over the size bound or too old, since start
	replayed     int64     // delivered, since start
}

// Hint is one missed write.
type Hint struct {
	key    []byte
	size   int64          // of the stored value, as the queue counts it
	At     time.Time      `json:"at"`
	Bucket string         `json:"bucket"`
	Points []points.Point `json:"points"`
}

// HintQueueStatus is one target's queue, as cluster status shows it.
type HintQueueStatus struct {
	Target   string     `json:"target"`
	Hints    int64      `json:"hints"`
	Bytes    int64      `json:"bytes"`
	Oldest   *time.Time `json:"oldest,omitempty"`
	Dropped  int64      `json:"dropped"`
	Replayed int64      `json:"replayed"`
}

// HintsConfig configures Hints. Dir is required.
type HintsConfig struct {
	// Dir holds the hints' Badger store.
	Dir string
	// SyncWrites fsyncs every hint before it counts as queued.
	SyncWrites bool
	// MaxBytes bounds each target's queue; a hint past it is dropped.
	MaxBytes int64
	// MaxAge is how long a hint waits for its target.
	MaxAge time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives Badger's logs. Default slog.Default().
	Logger *slog.Logger
}

// OpenHints opens (or creates) the hint store in cfg.Dir and rebuilds its
// queues' counts.
func OpenHints(cfg HintsConfig) (*Hints, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, syncWrites, maxBytes, maxAge, now, log := cfg.Dir, cfg.SyncWrites, cfg.MaxBytes, cfg.MaxAge, cfg.Now, cfg.Logger

	opts := badger.DefaultOptions(dir).
		WithSyncWrites(syncWrites).
		WithNumVersionsToKeep(1).
		WithMemTableSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(4 << 20).
		WithLogger(badgerLogger{log})
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open hints in %q: %w", dir, err)
	}
	h := &Hints{db: db, dir: dir, maxBytes: maxBytes, maxAge: maxAge, now: now, log: log, queues: map[string]*hintQueue{}}
	// Rebuild the queues' sizes and the next sequence number.
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			target, seq, ok := parseHintKey(it.Item().Key())
			if !ok {
				continue
			}
			q := h.queue(target)
			q.count++
			q.bytes += int64(it.Item().ValueSize())
			h.seq = max(h.seq, seq+1)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	for target := range h.queues {
		h.refreshOldest(target)
	}
	return h, nil
}

// Key: target, a zero byte, then the sequence number big-endian, so each
// target's hints are one range in the order they were added.
func hintKey(target string, seq uint64) []byte {
	k := append([]byte(target), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func parseHintKey(k []byte) (string, uint64, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) != i+9 {
		return "", 0, false
	}
	return string(k[:i]), binary.BigEndian.Uint64(k[i+1:]), true
}

func (h *Hints) queue(target string) *hintQueue {
	q := h.queues[target]
	if q == nil {
		q = &hintQueue{}
		h.queues[target] = q
	}
	return q
}

// Add queues a write for target, durably, unless its queue is full.
func (h *Hints) Add(target, bucket string, pts []points.Point) error {
	val, err := json.Marshal(Hint{At: h.now(), Bucket: bucket, Points: pts})
	if err != nil {
		return err
	}
	// A full disk would make Badger's memory-mapped log fault (SIGBUS).
	if err := points.CheckFree(h.dir, points.DefaultMinFree); err != nil {
		return err
	}
	h.mu.Lock()
	q := h.queue(target)
	if q.bytes+int64(len(val)) > h.maxBytes {
		q.dropped++
		h.mu.Unlock()
		return ErrHintsFull
	}
	seq := h.seq
	h.seq++
	q.count++
	q.bytes += int64(len(val))
	if q.count == 1 {
		q.oldest = h.now()
	}
	h.mu.Unlock()
	if err := h.db.Update(func(txn *badger.Txn) error { return txn.Set(hintKey(target, seq), val) }); err != nil {
		h.mu.Lock()
		q.count--
		q.bytes -= int64(len(val))
		q.dropped++
		h.mu.Unlock()
		return err
	}
	return nil
}

// Next returns up to max of target's oldest hints, in order.
func (h *Hints) Next(target string, max int) ([]Hint, error) {
	var out []Hint
	prefix := append([]byte(target), 0)
	err := h.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < max; it.Next() {
			var hn Hint
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &hn) }); err != nil {
				return err
			}
			hn.key, hn.size = it.Item().KeyCopy(nil), int64(it.Item().ValueSize())
			out = append(out, hn)
		}
		return nil
	})
	return out, err
}

// Remove deletes delivered (or expired) hints of target.
func (h *Hints) Remove(target string, hs []Hint, delivered bool) error {
	if len(hs) == 0 {
		return nil
	}
	var size int64
	err := h.db.Update(func(txn *badger.Txn) error {
		for _, hn := range hs {
			size += hn.size
			if err := txn.Delete(hn.key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	q := h.queue(target)
	q.count -= int64(len(hs))
	q.bytes = max(0, q.bytes-size)
	if q.count <= 0 {
		q.count, q.bytes = 0, 0
	}
	if delivered {
		q.replayed += int64(len(hs))
	} else {
		q.dropped += int64(len(hs))
	}
	h.mu.Unlock()
	h.refreshOldest(target)
	return nil
}

// Drop removes a target's whole queue: it left the cluster.
func (h *Hints) Drop(target string) error {
	err := h.db.DropPrefix(append([]byte(target), 0))
	h.mu.Lock()
	if q := h.queues[target]; q != nil {
		q.dropped += q.count
		q.count, q.bytes = 0, 0
	}
	h.mu.Unlock()
	return err
}

func (h *Hints) refreshOldest(target string) {
	first, err := h.Next(target, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queue(target)
	if err == nil && len(first) == 1 {
		q.oldest = first[0].At
	} else {
		q.oldest = time.Time{}
	}
}

// Pending lists the targets with queued hints.
func (h *Hints) Pending() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for t, q := range h.queues {
		if q.count > 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// Status returns every queue this node has had since it started.
func (h *Hints) Status() []HintQueueStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]HintQueueStatus, 0, len(h.queues))
	for _, t := range slices.Sorted(maps.Keys(h.queues)) {
		q := h.queues[t]
		st := HintQueueStatus{Target: t, Hints: q.count, Bytes: q.bytes, Dropped: q.dropped, Replayed: q.replayed}
		if q.count > 0 && !q.oldest.IsZero() {
			o := q.oldest.UTC()
			st.Oldest = &o
		}
		out = append(out, st)
	}
	return out
}

func (h *Hints) Close() error { return h.db.Close() }

// badgerLogger sends Badger's logs to slog; its info is debug here.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug(fmt.Sprintf(f, a...)) }

// DiskSize returns the bytes the hint store really takes on disk (its value
// log is sparse: see diskusage).
func (h *Hints) DiskSize() int64 {
	u, err := diskusage.Dir(h.dir)
	if err != nil {
		lsm, vlog := h.db.Size()
		return lsm + vlog
	}
	return u.Total()
}
