package cluster

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/dakkio/dakkio/store"
)

// Meter counts API calls per organization on this node and ships the
// counts into the replicated state every Interval (docs/api.md, "Rate limits").
//
// Each node ships its own absolute count for the month, so a report applied
// twice changes nothing, and the node's own count is never added twice.
//
// A node admits a call while the calls it has not shipped yet, this one
// included, times the n counting nodes fit in what the shipped counts of
// all nodes leave of the limit (a node with none unshipped may always take
// one): it assumes every other node has taken as many calls since its last
// shipment as it has itself. Nodes that see the same shipped counts so
// admit together at most what was left plus n-1 calls, however long
// shipments fail for all (no leader). A node whose own shipments have not
// gone through for two intervals while others' may (a partition) holds
// its calls until they do: the others cannot see what it takes. Views of
// the shipped counts so differ by at most about what one shipment carries,
// and the overshoot is at most n × r × Interval calls for n nodes taking r
// calls/s each, and in practice n-1. The price: a node that takes more than 1/n of
// what is left of the month's quota within one interval is refused until
// the next shipments (a 429 with a Retry-After of one interval). A crash
// loses at most one interval of this node's counts.
type Meter struct {
	cfg MeterConfig
	log *slog.Logger

	mu       sync.Mutex
	month    string
	own      map[string]int64     // org -> this node's calls this month
	dirty    bool                 // own changed since the last shipment
	keysUsed map[string]time.Time // key id -> last use, not yet shipped
	lastUsed map[string]time.Time // key id -> last use seen on this node
	previous *store.SetUsage      // last month's counts, if not yet shipped
	peers    int                  // counting nodes, refreshed every interval
	// shippedAt is when the counts of the last shipment that went through
	// were taken; zero until one has.
	shippedAt time.Time

	stop chan struct{}
	done chan struct{}
}

// MeterConfig configures a Meter. All fields but Interval are required.
type MeterConfig struct {
	NodeID string
	State  *store.State
	// Apply proposes a command to the cluster.
	Apply func(ctx context.Context, cmd any) (any, error)
	Now   func() time.Time
	// Peers returns how many nodes count calls (the Raft servers); nil or
	// a result below 1 means 1. It is read once per interval.
	Peers func() int
	// CountLocally ignores the other nodes' counts: a bug that the chaos
	// suite must catch (node/chaosbugs.go), never set otherwise.
	CountLocally bool
	// Interval between shipments. Default 1s.
	Interval time.Duration
	Logger   *slog.Logger
}

// NewMeter returns a meter whose counts start from what the state recorded
// for this node, so that counts survive restarts.
func NewMeter(cfg MeterConfig) *Meter {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	m := &Meter{cfg: cfg, log: cfg.Logger.With("component", "meter"), keysUsed: map[string]time.Time{}, lastUsed: map[string]time.Time{}, peers: 1}
	m.rollover(store.Month(cfg.Now()))
	m.refreshPeers()
	return m
}

// Start ships counts every interval until Close.
func (m *Meter) Start() {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	m.refreshPeers()
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.refreshPeers()
				ctx, cancel := context.WithTimeout(context.Background(), 5*m.cfg.Interval)
				if err := m.Flush(ctx); err != nil {
					m.log.Warn("cannot ship usage counts; will retry", "err", err)
				}
				cancel()
			}
		}
	}()
}

// fairShare reports whether this node may admit one more call, left being
// what the shipped counts leave of the limit: its unshipped calls, one more
// included, times the counting nodes must fit in it; a node with nothing
// unshipped may always take one, so that the last calls of a quota are not
// refused for ever (which lets n-1 calls past the limit at worst).
func (m *Meter) fairShare(left, unshipped int64) bool {
	return unshipped == 0 || int64(m.peers)*(unshipped+1) <= left
}

// cutOff reports whether this node must hold its calls because its
// shipments have not gone through for staleAfter intervals: the other nodes
// do not see what it takes meanwhile, so each node may only take, unseen,
// about what one shipment carries, or a partition would let the cut-off
// nodes overshoot by their share of all that was left of the quota.
//
// A node that has never shipped (just started, the cluster not formed yet)
// is not held: nobody can ship before there is a leader, and all views are
// then the same, which fairShare covers.
func (m *Meter) cutOff(unshipped int64) bool {
	return m.peers > 1 && unshipped > 0 && !m.shippedAt.IsZero() && m.cfg.Now().Sub(m.shippedAt) > staleAfter*m.cfg.Interval
}

// staleAfter is how many intervals without a shipment make a node hold its
// calls: one, plus one for a shipment's commit under load.
const staleAfter = 2

// refreshPeers reads how many nodes count calls.
func (m *Meter) refreshPeers() {
	n := 1
	if m.cfg.Peers != nil {
		n = max(1, m.cfg.Peers())
	}
	m.mu.Lock()
	m.peers = n
	m.mu.Unlock()
}

func (m *Meter) rollover(month string) {
	if m.dirty {
		// Ship the old month's last counts with the next flush.
		m.previous = &store.SetUsage{NodeID: m.cfg.NodeID, Month: m.month, Counts: m.own}
	}
	m.month = month
	m.own = m.cfg.State.NodeUsage(month, m.cfg.NodeID)
	m.dirty = false
}

// ownCount returns this node's calls of the organization this month: the
// live count, or what the log recorded for this node if that is more (the
// log is replayed after the meter is built, and a snapshot may arrive late).
func (m *Meter) ownCount(orgID, month string) (own, others, unshipped int64) {
	recorded, others := m.cfg.State.Usage(month, orgID, m.cfg.NodeID)
	if recorded > m.own[orgID] {
		m.own[orgID] = recorded
	}
	return m.own[orgID], others, m.own[orgID] - recorded
}

// Allow counts one call of the organization unless that would take its
// calls this month past limit (limit < 0: no limit). It returns the calls
// counted this month including this one (or, when refused, so far).
func (m *Meter) Allow(orgID string, limit int64) (used int64, ok bool) {
	month := store.Month(m.cfg.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if month != m.month {
		m.rollover(month)
	}
	own, others, unshipped := m.ownCount(orgID, month)
	if m.cfg.CountLocally {
		others, unshipped = 0, 0
	}
	used = others + own
	if limit >= 0 && (used >= limit || !m.fairShare(limit-(used-unshipped), unshipped) || m.cutOff(unshipped)) {
		return used, false
	}
	m.own[orgID]++
	m.dirty = true
	return used + 1, true
}

// Quota counts one call of the organization against its plan's limits
// (Allow) and returns its quota as the API shows it.
func (m *Meter) Quota(orgID string, limits store.PlanLimits) (store.Quota, bool) {
	now := m.cfg.Now().UTC()
	q := store.Quota{Limit: limits.MaxAPICalls, Remaining: -1,
		Reset: time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)}
	used, ok := m.Allow(orgID, limits.MaxAPICalls)
	if q.Limit >= 0 {
		q.Remaining = max(0, q.Limit-used)
	}
	if !ok && used < q.Limit {
		// Refused on a fair share of the rest, not a spent quota.
		q.RetryAfter = m.cfg.Interval
	}
	return q, ok
}

// Used returns the organization's calls this month as this node knows them.
func (m *Meter) Used(orgID string) int64 {
	month := store.Month(m.cfg.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if month != m.month {
		m.rollover(month)
	}
	own, others, _ := m.ownCount(orgID, month)
	return others + own
}

// Touch notes that a key was used.
func (m *Meter) Touch(keyID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keysUsed[keyID] = at
	m.lastUsed[keyID] = at
}

// LastUsed returns the key's last use: this node's if newer than the
// cluster's record.
func (m *Meter) LastUsed(keyID string) (time.Time, bool) {
	m.mu.Lock()
	local, ok := m.lastUsed[keyID]
	m.mu.Unlock()
	recorded, rok := m.cfg.State.KeyLastUsed(keyID)
	if rok && (!ok || recorded.After(local)) {
		return recorded, true
	}
	return local, ok
}

// Flush ships this node's counts and key uses now.
func (m *Meter) Flush(ctx context.Context) error {
	m.mu.Lock()
	if prev := m.previous; prev != nil {
		m.mu.Unlock()
		if _, err := m.cfg.Apply(ctx, *prev); err != nil {
			return err
		}
		m.mu.Lock()
		if m.previous == prev {
			m.previous = nil
		}
	}
	taken := m.cfg.Now()
	if !m.dirty && len(m.keysUsed) == 0 {
		if !m.shippedAt.IsZero() {
			m.shippedAt = taken // still nothing unshipped
		}
		m.mu.Unlock()
		return nil
	}
	cmd := store.SetUsage{NodeID: m.cfg.NodeID, Month: m.month, Counts: maps.Clone(m.own), KeysUsed: m.keysUsed}
	m.keysUsed = map[string]time.Time{}
	m.dirty = false
	m.mu.Unlock()
	if _, err := m.cfg.Apply(ctx, cmd); err != nil {
		m.mu.Lock()
		m.dirty = true
		for id, at := range cmd.KeysUsed {
			if at.After(m.keysUsed[id]) {
				m.keysUsed[id] = at
			}
		}
		m.mu.Unlock()
		return err
	}
	m.mu.Lock()
	m.shippedAt = taken
	m.mu.Unlock()
	return nil
}

// Close stops shipping and ships one last time.
func (m *Meter) Close(ctx context.Context) error {
	if m.stop != nil {
		close(m.stop)
		<-m.done
	}
	return m.Flush(ctx)
}
