package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/dakkio/dakkio/store"
)

// Config configures the Raft half of a node.
type Config struct {
	// NodeID names this server in the Raft configuration. Required.
	NodeID string
	// Dir holds raft.db and the snapshots. Required.
	Dir string
	// BindAddr is the TCP address Raft listens on. Required; port 0 picks one.
	BindAddr string
	// AdvertiseAddr is the address other servers dial; defaults to the bound one.
	AdvertiseAddr string
	// Key authenticates every Raft connection (see authStream); nodes of
	// one cluster share it. Required (at least 16 bytes): Raft never
	// listens unauthenticated, not even on a lone node, since whoever can
	// append to the log owns the metadata.
	Key []byte
	// TLS, if set, wraps every Raft connection in mutual TLS before the
	// cluster-key challenge: the config's certificate is shown on both
	// sides, a dialed server is verified against RootCAs (with the host of
	// its address) and a dialing client against ClientCAs.
	TLS *tls.Config
	// BootstrapSelf makes a node with no Raft state bootstrap a cluster with
	// itself as the only voter.
	BootstrapSelf bool
	// Fast shortens Raft's timeouts (tests and single-machine clusters).
	Fast bool
	// ApplyTimeout bounds how long Apply waits for a command to commit. Default 10s.
	ApplyTimeout time.Duration
	// OnDeleteBucket, if set, runs in log order after a bucket is deleted and
	// returns how many points it removed.
	OnDeleteBucket func(bucketID string) int64
	// OnDeleteSource, likewise, runs after a data source is deleted.
	OnDeleteSource func(bucketID, sourceID string) int64
	// Logger receives raft's logs. Default slog.Default().
	Logger *slog.Logger
}

// Raft is this node's member of the metadata Raft group.
type Raft struct {
	cfg       Config
	raft      *raft.Raft
	transport *raft.NetworkTransport
	contacts  *contactTransport // transport, noting which servers answer
	stream    *authStream
	logStore  *raftboltdb.BoltStore
	snaps     *raft.FileSnapshotStore
	fsm       *fsm
	log       *slog.Logger

	leaderReady   atomic.Bool // leader has applied everything before its term
	leaderSince   atomic.Pointer[leaderTerm]
	leaderChanges atomic.Uint64 // leaders this node has seen come and go
	stop          chan struct{}
	wg            sync.WaitGroup
	closeOnce     sync.Once
	closeErr      error
}

// New opens the log store and snapshots under cfg.Dir, starts Raft and, when
// asked and the directory is fresh, bootstraps a one-voter cluster.
func New(cfg Config, state *store.State) (*Raft, error) {
	if cfg.NodeID == "" || cfg.Dir == "" || cfg.BindAddr == "" {
		return nil, errors.New("cluster: NodeID, Dir and BindAddr are required")
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create %q: %w", cfg.Dir, err)
	}
	r := &Raft{cfg: cfg, log: cfg.Logger.With("component", "cluster"), stop: make(chan struct{})}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = newHCLogger("raft", cfg.Logger)
	if cfg.Fast {
		rc.HeartbeatTimeout = 200 * time.Millisecond
		rc.ElectionTimeout = 200 * time.Millisecond
		rc.LeaderLeaseTimeout = 100 * time.Millisecond
		rc.CommitTimeout = 10 * time.Millisecond
	}

	if len(cfg.Key) < 16 {
		return nil, ErrNoKey
	}
	stream, err := newAuthStream(cfg.BindAddr, cfg.AdvertiseAddr, cfg.Key, cfg.TLS, r.log)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for raft on %q: %w", cfg.BindAddr, err)
	}
	r.stream = stream
	r.transport = raft.NewNetworkTransportWithLogger(stream, 3, 10*time.Second, newHCLogger("raft-net", cfg.Logger))
	r.contacts = newContactTransport(r.transport, 2*rc.HeartbeatTimeout)
	// A timeout on the file lock: a second process on the same data dir
	// fails instead of hanging.
	r.logStore, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db"), BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		r.transport.Close()
		return nil, fmt.Errorf("cannot open raft log store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, newHCLogger("raft-snap", cfg.Logger))
	if err != nil {
		r.closeStores()
		return nil, fmt.Errorf("cannot open raft snapshots: %w", err)
	}
	hasState, err := raft.HasExistingState(r.logStore, r.logStore, snaps)
	if err != nil {
		r.closeStores()
		return nil, fmt.Errorf("cannot read raft state: %w", err)
	}
	machine := &fsm{state: state, onDeleteBucket: cfg.OnDeleteBucket, onDeleteSource: cfg.OnDeleteSource, log: r.log}
	r.fsm, r.snaps = machine, snaps
	r.raft, err = raft.NewRaft(rc, machine, r.logStore, r.logStore, snaps, r.contacts)
	if err != nil {
		r.closeStores()
		return nil, fmt.Errorf("cannot start raft: %w", err)
	}
	if !hasState && cfg.BootstrapSelf {
		boot := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: r.transport.LocalAddr()}}}
		if err := r.raft.BootstrapCluster(boot).Error(); err != nil {
			r.Close()
			return nil, fmt.Errorf("cannot bootstrap raft: %w", err)
		}
	}
	r.wg.Add(2)
	go r.watchLeadership()
	go r.countLeaderChanges(r.observeLeaders())
	return r, nil
}

// watchLeadership marks the leader ready once a barrier shows that it has
// applied every entry of earlier terms, so reads on a new leader are not stale.
func (r *Raft) watchLeadership() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case isLeader := <-r.raft.LeaderCh():
			r.leaderReady.Store(false)
			if !isLeader {
				continue
			}
			r.leaderSince.Store(&leaderTerm{term: r.raft.CurrentTerm(), since: time.Now()})
			if err := r.raft.Barrier(r.cfg.ApplyTimeout).Error(); err != nil {
				r.log.Warn("leader barrier failed", "err", err)
				continue
			}
			r.leaderReady.Store(r.raft.State() == raft.Leader)
		}
	}
}

// countLeaderChanges counts every change of leader this node observes (a
// new leader, or none after an election timeout), as etcd's
// leader_changes_seen does: frequent changes mean an unhealthy cluster.
func (r *Raft) countLeaderChanges(ch <-chan raft.Observation, obs *raft.Observer) {
	defer r.wg.Done()
	defer r.raft.DeregisterObserver(obs)
	for {
		select {
		case <-r.stop:
			return
		case <-ch:
			r.leaderChanges.Add(1)
		}
	}
}

// observeLeaders registers, before anything is elected, an observer of
// leader changes; a full channel drops an observation rather than block Raft.
func (r *Raft) observeLeaders() (<-chan raft.Observation, *raft.Observer) {
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.raft.RegisterObserver(obs)
	return ch, obs
}

// LeaderChanges is how many changes of leader this node has observed
// since it started.
func (r *Raft) LeaderChanges() uint64 { return r.leaderChanges.Load() }

// Apply commits cmd (one of store's command types) and returns what applying it
// produced. A business error comes back as the error.
func (r *Raft) Apply(ctx context.Context, cmd any) (any, error) {
	v, _, err := r.ApplyIndexed(ctx, cmd)
	return v, err
}

// ApplyIndexed is Apply that also returns the log index of the entry (0 if
// it was not committed), so that a follower that forwarded the command can
// wait until it has applied it too before it answers.
func (r *Raft) ApplyIndexed(ctx context.Context, cmd any) (any, uint64, error) {
	entry, err := encodeCommand(cmd)
	if err != nil {
		return nil, 0, err
	}
	timeout := r.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return nil, 0, fmt.Errorf("cannot apply %T: %w", cmd, context.DeadlineExceeded)
	}
	f := r.raft.Apply(entry, timeout)
	// raft's timeout bounds only the queueing; bound the commit by ctx too.
	// A command abandoned here may still commit: callers answer 503, which
	// the API documents as safe to retry.
	waited := make(chan error, 1)
	go func() { waited <- f.Error() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("cannot apply %T: %w", cmd, ctx.Err())
	}
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return nil, 0, fmt.Errorf("cannot apply %T: %w", cmd, ErrNotLeader)
		}
		return nil, 0, fmt.Errorf("cannot apply %T: %w", cmd, err)
	}
	res := f.Response().(Applied)
	return res.Value, f.Index(), res.Err
}

// leaderTerm is when this node learned it leads, and in which term.
type leaderTerm struct {
	term  uint64
	since time.Time
}

// LeaderSince returns when this node learned it leads in the current term
// (a moment after the election: never before it), and false unless it
// leads.
func (r *Raft) LeaderSince() (time.Time, bool) {
	lt := r.leaderSince.Load()
	if lt == nil || r.raft.State() != raft.Leader || r.raft.CurrentTerm() != lt.term {
		return time.Time{}, false
	}
	return lt.since, true
}

// IsLeader reports whether this node leads the Raft group.
func (r *Raft) IsLeader() bool { return r.raft.State() == raft.Leader }

// Ready reports whether this node knows a leader and has applied every entry
// it knows to be committed.
func (r *Raft) Ready() bool {
	if r.raft.State() == raft.Leader {
		return r.leaderReady.Load()
	}
	addr, _ := r.raft.LeaderWithID()
	return addr != "" && r.raft.AppliedIndex() > 0 && r.appliedThrough(r.raft.CommitIndex())
}

// WaitReady blocks until Ready or ctx ends.
func (r *Raft) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !r.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for raft: %w", ErrNoLeader)
		case <-t.C:
		}
	}
	return nil
}

// Status is a summary of this node's view of Raft.
type Status struct {
	NodeID       string `json:"nodeId"`
	Address      string `json:"raftAddress"`
	State        string `json:"state"`
	LeaderID     string `json:"leaderId"`
	LeaderAddr   string `json:"leaderAddress"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"lastIndex"`
	CommitIndex  uint64 `json:"commitIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
}

// Status returns this node's view of Raft.
func (r *Raft) Status() Status {
	addr, id := r.raft.LeaderWithID()
	return Status{
		NodeID: r.cfg.NodeID, Address: string(r.transport.LocalAddr()), State: r.raft.State().String(),
		LeaderID: string(id), LeaderAddr: string(addr), Term: r.raft.CurrentTerm(),
		LastIndex: r.raft.LastIndex(), CommitIndex: r.raft.CommitIndex(), AppliedIndex: r.AppliedIndex(),
	}
}

// Addr is the address Raft advertises.
func (r *Raft) Addr() string { return string(r.transport.LocalAddr()) }

// Close stops Raft and closes its stores. Every committed entry is already
// on disk. Later calls return the first call's result.
func (r *Raft) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		r.closeErr = r.raft.Shutdown().Error()
		r.wg.Wait()
		r.closeStores()
	})
	return r.closeErr
}

func (r *Raft) closeStores() {
	if r.transport != nil {
		r.transport.Close()
	}
	if r.logStore != nil {
		r.logStore.Close()
	}
}

// Server is one member of the Raft configuration.
type Server struct {
	ID      string `json:"nodeId"`
	Address string `json:"raftAddress"`
	Voter   bool   `json:"voter"`
}

// Servers returns the current Raft configuration.
func (r *Raft) Servers() ([]Server, error) {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("cannot read raft configuration: %w", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// Bootstrap starts a new cluster with servers as its voters. It fails if
// this node already has Raft state.
func (r *Raft) Bootstrap(servers []NodeMeta) error {
	var cfg raft.Configuration
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.RaftAddr), Suffrage: raft.Voter})
	}
	if err := r.raft.BootstrapCluster(cfg).Error(); err != nil {
		return fmt.Errorf("cannot bootstrap raft: %w", err)
	}
	return nil
}

// HasState reports whether this node has ever been part of a Raft cluster.
func (r *Raft) HasState() bool {
	return r.raft.LastIndex() > 0
}

// Reach opens an authenticated Raft connection to addr and closes it: a
// member that fails it (another cluster's key or CA, a firewall) is not
// added to the configuration.
func (r *Raft) Reach(addr string, timeout time.Duration) error {
	c, err := r.stream.Dial(raft.ServerAddress(addr), timeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// KeepsUp reports whether server id has answered this leader's
// AppendEntries without a break for at least stable, with its log close to
// the leader's: a non-voter fit to promote.
func (r *Raft) KeepsUp(id string, stable time.Duration) bool {
	return r.contacts.keepsUp(id, stable, r.raft.LastIndex(), time.Now())
}

// Reconcile applies the membership actions a leader decided on.
func (r *Raft) Reconcile(actions []ReconcileAction) error {
	var errs []error
	for _, a := range actions {
		var f raft.IndexFuture
		switch a.Kind {
		case ActionAddVoter:
			f = r.raft.AddVoter(raft.ServerID(a.ID), raft.ServerAddress(a.RaftAddr), 0, r.cfg.ApplyTimeout)
		case ActionAddNonvoter:
			f = r.raft.AddNonvoter(raft.ServerID(a.ID), raft.ServerAddress(a.RaftAddr), 0, r.cfg.ApplyTimeout)
		case ActionRemove:
			f = r.raft.RemoveServer(raft.ServerID(a.ID), 0, r.cfg.ApplyTimeout)
		default:
			continue
		}
		if err := f.Error(); err != nil {
			errs = append(errs, fmt.Errorf("cannot %s %s: %w", a.Kind, a.ID, err))
			continue
		}
		r.log.Info("raft membership changed", "action", a.Kind, "node", a.ID)
	}
	return errors.Join(errs...)
}

// RemoveServer removes a node from the Raft configuration (leader only).
func (r *Raft) RemoveServer(id string) error {
	if err := r.raft.RemoveServer(raft.ServerID(id), 0, r.cfg.ApplyTimeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return fmt.Errorf("cannot remove %s: %w", id, ErrNotLeader)
		}
		return fmt.Errorf("cannot remove %s: %w", id, err)
	}
	return nil
}

// TransferLeadership hands leadership to another voter, if this node leads.
func (r *Raft) TransferLeadership() error {
	if r.raft.State() != raft.Leader {
		return nil
	}
	return r.raft.LeadershipTransfer().Error()
}

// WaitApplied blocks until this node's metadata reflects the log up to
// index, or ctx ends. Raft's own AppliedIndex counts entries handed to the
// FSM goroutine, which may not have applied them yet: after it, this waits
// for the FSM to have applied the last command at or before index.
func (r *Raft) WaitApplied(ctx context.Context, index uint64) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !r.appliedThrough(index) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting to apply index %d: %w", index, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// appliedThrough reports whether the metadata reflects the log up to index.
func (r *Raft) appliedThrough(index uint64) bool {
	applied := r.fsmApplied()
	if applied >= index {
		return true // the common case, without reading the log
	}
	return r.raft.AppliedIndex() >= index && applied >= r.lastCommandAtOrBefore(index)
}

// HoldApply stops this node applying committed entries until release is
// called, while Raft goes on taking them and hearing heartbeats: a
// follower whose metadata lags though it is in contact, for tests.
func (r *Raft) HoldApply() (release func()) {
	r.fsm.hold.Lock()
	return r.fsm.hold.Unlock
}

// AppliedIndex is the index of the last command applied to the metadata
// (after a snapshot restore, the snapshot's).
func (r *Raft) AppliedIndex() uint64 { return r.fsmApplied() }

// SkippedEntries is how many committed log entries this node applied as
// no-ops because it could not decode or apply them (see fsm.applyEntry).
func (r *Raft) SkippedEntries() uint64 { return r.fsm.skipped.Load() }

func (r *Raft) fsmApplied() uint64 {
	if r.fsm.restored.Swap(false) {
		// A restore applied everything up to its snapshot's index.
		if list, err := r.snaps.List(); err == nil && len(list) > 0 {
			for {
				cur := r.fsm.applied.Load()
				if list[0].Index <= cur || r.fsm.applied.CompareAndSwap(cur, list[0].Index) {
					break
				}
			}
		}
	}
	return r.fsm.applied.Load()
}

// lastCommandAtOrBefore returns the index of the last command entry at or
// before index (no-ops, barriers and configuration changes do not reach
// the metadata), or 0 when the log holds none: what came before is in a
// snapshot, restored before raft counted it applied.
func (r *Raft) lastCommandAtOrBefore(index uint64) uint64 {
	first, err := r.logStore.FirstIndex()
	if err != nil {
		return 0
	}
	for i := index; i >= first && i > 0; i-- {
		var l raft.Log
		if err := r.logStore.GetLog(i, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

// LastContact is when this node last heard from a leader (now for the leader).
func (r *Raft) LastContact() time.Time {
	if r.raft.State() == raft.Leader {
		return time.Now()
	}
	return r.raft.LastContact()
}

// ReadIndex returns the leader's commit index once it has confirmed it still
// leads: a node that has applied up to it has seen every write acknowledged
// before the call (the read-index of the Raft paper, section 6.4).
//
// A new leader answers only once it has committed an entry of its own term
// (leaderReady, after its barrier): until then its commit index may be
// below writes its predecessor acknowledged.
func (r *Raft) ReadIndex() (uint64, error) {
	if r.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	if !r.leaderReady.Load() {
		return 0, fmt.Errorf("new leader not ready yet: %w", ErrNoLeader)
	}
	index := r.raft.CommitIndex()
	if err := r.raft.VerifyLeader().Error(); err != nil {
		return 0, fmt.Errorf("cannot confirm leadership: %w", err)
	}
	return index, nil
}
