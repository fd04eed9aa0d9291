package cluster

import (
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Raft       *Raft
	Membership *Membership
	// Self is this node's id.
	Self string
	// BootstrapExpect is how many servers must see each other before the
	// one with the lowest id bootstraps Raft with all of them. 1 (or less)
	// means this node never bootstraps through gossip.
	BootstrapExpect int
	// DeadAfter is how long a member must be dead before the leader
	// removes it from Raft. Default 5 minutes.
	DeadAfter time.Duration
	// MaxVoters caps the voters; later servers join as non-voters. Default 5.
	MaxVoters int
	// Interval between passes when nothing changes. Default 1s.
	Interval time.Duration
	// Stabilization is how long a non-voter must answer the leader without
	// a break before it is promoted (Consul's autopilot: 10s). Default 10s.
	Stabilization time.Duration
	// OnMembers, if set, gets the members after every pass (the node keeps
	// their gossip addresses to rejoin after a restart).
	OnMembers func([]Member)
	Logger    *slog.Logger
}

// Manager ties gossip to Raft: it bootstraps a new cluster once enough
// servers see each other (Consul's bootstrap-expect), and on the leader it
// adds joining members it can reach as non-voters, promotes them once they
// keep up, and removes members dead for longer than DeadAfter.
// Gossip decides who is alive; only the Raft leader changes the voters.
type Manager struct {
	cfg  ManagerConfig
	log  *slog.Logger
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	removed map[string]time.Time // node -> when an operator removed it

	unreachable map[string]unreachable // node -> its failed Raft handshake (manager loop only)
}

// unreachable is a member whose Raft the leader could not reach.
type unreachable struct {
	raftAddr string
	until    time.Time // not tried again before
}

// reachTimeout bounds a handshake with a joining member; reachRetry is how
// long a member that failed one waits for the next try (and for the next
// warning in the log).
const (
	reachTimeout = 2 * time.Second
	reachRetry   = 10 * time.Second
)

// reachable tries an authenticated Raft connection to a member before it is
// added, at most once per reachRetry while it fails.
func (m *Manager) reachable(mb Member) bool {
	now := time.Now()
	if u, ok := m.unreachable[mb.ID]; ok && u.raftAddr == mb.RaftAddr && now.Before(u.until) {
		return false
	}
	if err := m.cfg.Raft.Reach(mb.RaftAddr, reachTimeout); err != nil {
		m.log.Warn("a member's raft cannot be reached: not adding it", "node", mb.ID, "raftAddr", mb.RaftAddr, "err", err)
		if m.unreachable == nil {
			m.unreachable = map[string]unreachable{}
		}
		m.unreachable[mb.ID] = unreachable{raftAddr: mb.RaftAddr, until: now.Add(reachRetry)}
		return false
	}
	delete(m.unreachable, mb.ID)
	return true
}

// readdGrace is how long a node an operator removed is not added back while
// gossip, which may not have noticed its death yet, still calls it alive.
const readdGrace = 15 * time.Second

// Forget notes that id was taken out of Raft on purpose: it is not added
// back for readdGrace unless it rejoins gossip after that (a restart); a
// node still running is added back after it.
func (m *Manager) Forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed == nil {
		m.removed = map[string]time.Time{}
	}
	m.removed[id] = time.Now()
}

// keepOut drops the additions of recently removed nodes that have not
// rejoined gossip since.
func (m *Manager) keepOut(actions []ReconcileAction, members []Member, now time.Time) []ReconcileAction {
	m.mu.Lock()
	defer m.mu.Unlock()
	since := map[string]time.Time{}
	for _, mb := range members {
		since[mb.ID] = mb.Since
	}
	return slices.DeleteFunc(actions, func(a ReconcileAction) bool {
		at, ok := m.removed[a.ID]
		if !ok || a.Kind == ActionRemove {
			return false
		}
		if now.Sub(at) > readdGrace || since[a.ID].After(at) {
			delete(m.removed, a.ID)
			return false
		}
		return true
	})
}

// NewManager returns a manager; Start runs it.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = 5 * time.Minute
	}
	if cfg.MaxVoters == 0 {
		cfg.MaxVoters = 5
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Stabilization == 0 {
		cfg.Stabilization = 10 * time.Second
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "cluster"), stop: make(chan struct{})}
}

// Start runs the loop until Close.
func (m *Manager) Start() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(m.cfg.Interval)
		defer t.Stop()
		for {
			m.pass()
			select {
			case <-m.stop:
				return
			case <-t.C:
			case <-m.cfg.Membership.Changes():
			}
		}
	}()
}

func (m *Manager) pass() {
	if m.cfg.OnMembers != nil {
		m.cfg.OnMembers(m.cfg.Membership.Members())
	}
	r := m.cfg.Raft
	if !r.HasState() && m.cfg.BootstrapExpect > 1 {
		servers, ok := BootstrapPlan(m.cfg.Self, m.cfg.Membership.Alive(), m.cfg.BootstrapExpect)
		if ok {
			if err := r.Bootstrap(servers); err != nil {
				m.log.Warn("cannot bootstrap", "err", err)
			} else {
				m.log.Info("bootstrapped raft", "servers", len(servers))
			}
		}
		return
	}
	if !r.IsLeader() {
		return
	}
	servers, err := r.Servers()
	if err != nil {
		m.log.Warn("cannot read raft configuration", "err", err)
		return
	}
	members := m.cfg.Membership.Members()
	now := time.Now()
	plan := ReconcilePlan(ReconcileInput{
		Self: m.cfg.Self, Servers: servers, Members: members, Now: now, DeadAfter: m.cfg.DeadAfter, MaxVoters: m.cfg.MaxVoters,
		Reachable: m.reachable,
		KeepsUp:   func(id string) bool { return r.KeepsUp(id, m.cfg.Stabilization) },
	})
	actions := m.keepOut(plan, members, now)
	if len(actions) == 0 {
		return
	}
	if err := r.Reconcile(actions); err != nil {
		m.log.Warn("cannot reconcile raft membership", "err", err)
	}
}

// Close stops the loop and waits for it.
func (m *Manager) Close() {
	close(m.stop)
	m.wg.Wait()
}
