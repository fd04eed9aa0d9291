package cluster

import (
	"fmt"
	"io"
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
	// hold blocks Apply while HoldApply's caller holds it (tests).
	hold sync.RWMutex
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmd, err := decodeCommand(l.Data)
	if err != nil {
		// A log entry this binary cannot read means the log and the binary
		// disagree; going on would let this replica diverge silently.
		panic(fmt.Sprintf("cannot decode raft log entry %d: %v", l.Index, err))
	}
	f.hold.RLock()
	out := f.apply(cmd)
	f.applied.Store(l.Index)
	f.hold.RUnlock()
	return out
}

func (f *fsm) apply(cmd any) Applied {
	s := f.state
	switch c := cmd.(type) {
	case store.Bootstrap:
		return Applied{Err: s.ApplyBootstrap(c)}
	case store.CreateOrg:
		return Applied{Err: s.ApplyCreateOrg(c)}
	case store.UpdateOrg:
		o, err := s.ApplyUpdateOrg(c)
		return Applied{Value: o, Err: err}
	case store.CreateKey:
		return Applied{Err: s.ApplyCreateKey(c)}
	case store.DeleteKey:
		k, err := s.ApplyDeleteKey(c)
		return Applied{Value: k, Err: err}
	case store.CreateBucket:
		return Applied{Err: s.ApplyCreateBucket(c)}
	case store.UpdateBucket:
		b, err := s.ApplyUpdateBucket(c)
		return Applied{Value: b, Err: err}
	case store.DeleteBucket:
		d, err := s.ApplyDeleteBucket(c)
		if err == nil && f.onDeleteBucket != nil {
			d.DataPoints = f.onDeleteBucket(c.ID)
		}
		return Applied{Value: d, Err: err}
	case store.CreateSource:
		return Applied{Err: s.ApplyCreateSource(c)}
	case store.SetUsage:
		return Applied{Err: s.ApplySetUsage(c)}
	case store.CreateAlert:
		return Applied{Err: s.ApplyCreateAlert(c)}
	case store.UpdateAlert:
		a, err := s.ApplyUpdateAlert(c)
		return Applied{Value: a, Err: err}
	case store.DeleteAlert:
		a, err := s.ApplyDeleteAlert(c)
		return Applied{Value: a, Err: err}
	case store.TriggerAlert:
		e, err := s.ApplyTriggerAlert(c)
		return Applied{Value: e, Err: err}
	case store.RecordDelivery:
		return Applied{Err: s.ApplyRecordDelivery(c)}
	case store.Rebalance:
		return Applied{Err: s.ApplyRebalance(c)}
	case store.ReplicaCaughtUp:
		return Applied{Err: s.ApplyReplicaCaughtUp(c)}
	case store.RestoreState:
		return Applied{Err: s.ApplyRestoreState(c)}
	case store.DeleteAdminKey:
		k, err := s.ApplyDeleteAdminKey(c)
		return Applied{Value: k, Err: err}
	case store.RotateOperatorToken:
		return Applied{Err: s.ApplyRotateOperatorToken(c)}
	}
	panic(fmt.Sprintf("fsm has no apply for %T", cmd))
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
