package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/dakkio/dakkio/store"
)

// Applied is what applying one command produced: a value, or a business error
// (not found, conflict) that every replica reached alike.
type Applied struct {
	Value any
	Err   error
}

// fsm applies log entries to a store.State. It holds no state of its own
// beyond the index of the last command it applied.
type fsm struct {
	state *store.State
	// applied is the index of the last command applied to state (raft's
	// own AppliedIndex counts entries handed to the FSM, not yet applied);
	// restored is set by a snapshot restore, whose index only raft knows.
	applied  atomic.Uint64
	restored atomic.Bool
	// onDeleteBucket runs inside Apply after a bucket is removed from the
	// metadata, so that its points go in the same log order on every replica.
	onDeleteBucket func(bucketID string) (points int64)
	// onDeleteSource does the same for a deleted data source's points.
	onDeleteSource func(bucketID, sourceID string) (points int64)
	// hold blocks Apply while HoldApply's caller holds it (tests).
	hold sync.RWMutex
	// skipped counts entries applied as no-ops.
	skipped atomic.Uint64
	log     *slog.Logger
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.hold.RLock()
	defer f.hold.RUnlock()
	out := f.applyEntry(l)
	f.applied.Store(l.Index)
	return out
}

// applyEntry applies one command entry. An entry this binary cannot decode,
// or whose apply panics, becomes a logged, counted no-op: every node runs the
// same code over the same bytes, so every node skips it alike, and no entry
// in the log can stop a node from starting. The entry's own bytes decide,
// so the no-op is as deterministic as any other command.
func (f *fsm) applyEntry(l *raft.Log) (out Applied) {
	cmd, err := decodeCommand(l.Data)
	if err != nil {
		return f.skip(l, err)
	}
	defer func() {
		if p := recover(); p != nil {
			out = f.skip(l, fmt.Errorf("%w: %T panicked: %v", errApplyPanic, cmd, p))
		}
	}()
	return f.apply(cmd)
}

func (f *fsm) skip(l *raft.Log, err error) Applied {
	f.skipped.Add(1)
	if f.log != nil {
		f.log.Error("skipped a raft log entry it cannot apply", "index", l.Index, "term", l.Term, "bytes", len(l.Data), "err", err)
	}
	return Applied{Err: fmt.Errorf("%w: %w", ErrBadEntry, err)}
}

// apply applies a decoded command through its entry in the command table.
func (f *fsm) apply(cmd any) Applied {
	c, err := commands.of(cmd)
	if err != nil {
		return Applied{Err: fmt.Errorf("fsm cannot apply: %w", err)}
	}
	return c.apply(f, cmd)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.state.Snapshot()}, nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	if err := f.state.Restore(r); err != nil {
		return err
	}
	f.restored.Store(true)
	return nil
}

type fsmSnapshot struct{ snap any }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := store.WriteSnapshot(sink, s.snap); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cannot write metadata snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
