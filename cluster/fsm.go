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
	case store.UpdateSource:
		v, err := s.ApplyUpdateSource(c)
		return Applied{Value: v, Err: err}
	case store.DeleteSource:
		d, err := s.ApplyDeleteSource(c)
		if err == nil && f.onDeleteSource != nil {
			d.DataPoints = f.onDeleteSource(c.BucketID, c.ID)
		}
		return Applied{Value: d, Err: err}
	case store.CreateWebhook:
		return Applied{Err: s.ApplyCreateWebhook(c)}
	case store.UpdateWebhook:
		v, err := s.ApplyUpdateWebhook(c)
		return Applied{Value: v, Err: err}
	case store.DeleteWebhook:
		v, err := s.ApplyDeleteWebhook(c)
		return Applied{Value: v, Err: err}
	case store.PublishEvent:
		n, err := s.ApplyPublishEvent(c)
		return Applied{Value: n, Err: err}
	case store.TestWebhook:
		v, err := s.ApplyTestWebhook(c)
		return Applied{Value: v, Err: err}
	case store.RecordWebhookDelivery:
		return Applied{Err: s.ApplyRecordWebhookDelivery(c)}
	}
	return Applied{Err: fmt.Errorf("fsm has no apply for %T: %w", cmd, ErrUnknownCommand)}
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
