package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// NodeMeta is what gossip carries about a node.
type NodeMeta struct {
	ID       string `json:"nodeId"`
	HTTPAddr string `json:"httpAddress"`
	RaftAddr string `json:"raftAddress"` // empty: the node is not a Raft server
	Version  string `json:"version"`
}

// MemberState is a node's state as this node's gossip sees it.
type MemberState int

const (
	Alive MemberState = iota
	// Suspect is reserved: memberlist v0.5.4 tells its delegates nothing about
	// suspicion (Node.State is only filled in for merges, see
	// hashicorp/memberlist#293), so a suspect node is still reported Alive.
	Suspect
	// Dead: memberlist declared the node failed.
	Dead
	// Left: the node announced a graceful leave before going.
	Left
)

func (s MemberState) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return fmt.Sprintf("MemberState(%d)", int(s))
}

// Member is a node gossip has seen.
type Member struct {
	NodeMeta
	GossipAddr string
	State      MemberState
	Since      time.Time // when it entered State
}

// MembershipConfig configures gossip membership.
type MembershipConfig struct {
	// Meta describes this node; Meta.ID is required and is its gossip name.
	Meta NodeMeta
	// BindAddr is the gossip host:port (UDP and TCP). Required; port 0 picks one.
	BindAddr string
	// AdvertiseAddr is the host:port other nodes dial. Optional: defaults to
	// the bound address (or a private IP when bound to all interfaces).
	AdvertiseAddr string
	// ClusterKey is the shared secret; gossip is encrypted and authenticated
	// (AES-GCM) with its SHA-256, so use a long random secret. Required (at
	// least 16 characters): gossip never runs unencrypted.
	ClusterKey string
	// Join lists seed gossip addresses. If set, a background goroutine keeps
	// trying them until one answers or Close.
	Join []string
	// Fast shortens probe and gossip intervals (tests and single-machine clusters).
	Fast bool
	// ReapAfter is how long a Dead or Left member stays in Members(). Default
	// 72h; it must exceed the time after which the leader removes dead
	// servers, or they are forgotten before they are removed.
	ReapAfter time.Duration
	// Now stamps state changes. Default time.Now.
	Now func() time.Time
	// Logger receives memberlist's logs. Default slog.Default().
	Logger *slog.Logger
}

// Membership is this node's view of the cluster through hashicorp/memberlist
// gossip. It reports who is alive; it decides nothing else.
type Membership struct {
	cfg        MembershipConfig
	log        *slog.Logger
	list       *memberlist.Memberlist
	broadcasts *memberlist.TransmitLimitedQueue
	meta       []byte // this node's encoded gossip meta
	session    string // tells this run of the node from earlier ones
	changes    chan struct{}

	mu      sync.Mutex
	members map[string]*member // by node id (memberlist name)

	leaveMu sync.Mutex // serializes Leave and Close, which memberlist requires
	left    bool
	closed  bool

	stopJoin  context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type member struct {
	Member
	session string
	leaving bool // a leave intent arrived for this session
}

// wireMeta is NodeMeta as gossiped: short keys, to stay far below
// memberlist's 512-byte limit.
type wireMeta struct {
	ID       string `json:"i"`
	HTTPAddr string `json:"h,omitempty"`
	RaftAddr string `json:"r,omitempty"`
	Version  string `json:"v,omitempty"`
	Session  string `json:"s,omitempty"`
}

// leaveIntent is gossiped by a node just before its memberlist leave, since
// memberlist v0.5.4 reports a graceful leave and a failure alike.
type leaveIntent struct {
	ID      string `json:"i"`
	Session string `json:"s"`
}

const msgLeaveIntent byte = 1 // first byte of a gossiped user message

const (
	defaultReapAfter    = 72 * time.Hour
	defaultLeaveTimeout = 5 * time.Second
	closeLeaveTimeout   = 2 * time.Second
)

// NewMembership starts gossip on cfg.BindAddr and, if cfg.Join is set, keeps
// trying to join those seeds in the background.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	if cfg.Meta.ID == "" || cfg.BindAddr == "" {
		return nil, errors.New("cluster: Meta.ID and BindAddr are required")
	}
	if len(cfg.ClusterKey) < 16 {
		// Unencrypted gossip would let anyone who reaches the port join.
		return nil, fmt.Errorf("cluster: gossip needs a cluster key of at least 16 characters: %w", ErrNoKey)
	}
	if cfg.ReapAfter <= 0 {
		cfg.ReapAfter = defaultReapAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "membership"),
		session: hex.EncodeToString(nonce[:]),
		changes: make(chan struct{}, 1),
		members: make(map[string]*member),
	}
	var err error
	m.meta, err = json.Marshal(wireMeta{ID: cfg.Meta.ID, HTTPAddr: cfg.Meta.HTTPAddr, RaftAddr: cfg.Meta.RaftAddr, Version: cfg.Meta.Version, Session: m.session})
	if err != nil {
		return nil, fmt.Errorf("cannot encode node meta: %w", err)
	}
	if len(m.meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node meta is %d bytes, more than gossip's %d", len(m.meta), memberlist.MetaMaxSize)
	}

	mc := memberlist.DefaultLANConfig()
	if cfg.Fast {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 100 * time.Millisecond
		mc.ProbeTimeout = 50 * time.Millisecond
		mc.GossipInterval = 20 * time.Millisecond
		mc.PushPullInterval = time.Second
		mc.TCPTimeout = 500 * time.Millisecond
	}
	mc.Name = cfg.Meta.ID
	mc.BindAddr, mc.BindPort, err = splitIPPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot use gossip address %q: %w", cfg.BindAddr, err)
	}
	if mc.BindAddr == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.AdvertisePort = mc.BindPort
	if cfg.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, err = splitIPPort(cfg.AdvertiseAddr)
		if err == nil && mc.AdvertiseAddr == "" {
			err = errors.New("no host")
		}
		if err != nil {
			return nil, fmt.Errorf("cannot use gossip advertise address %q: %w", cfg.AdvertiseAddr, err)
		}
	}
	key := sha256.Sum256([]byte(cfg.ClusterKey))
	mc.SecretKey = key[:]
	d := &gossipDelegate{m: m}
	mc.Delegate = d
	mc.Events = d
	mc.Logger = log.New(memberlistWriter{log: cfg.Logger.With("component", "memberlist")}, "", 0)
	m.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: m.numAlive, RetransmitMult: mc.RetransmitMult}

	m.list, err = memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cannot start gossip on %q: %w", cfg.BindAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stopJoin = cancel
	every, dial := rejoinInterval, time.Second
	if cfg.Fast {
		every, dial = fastRejoinInterval, mc.TCPTimeout
	}
	m.wg.Add(1)
	go m.rejoinDead(ctx, every, dial)
	if len(cfg.Join) > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if m.Join(ctx, cfg.Join) == nil {
				m.log.Info("joined cluster", "seeds", cfg.Join)
			}
		}()
	}
	return m, nil
}

// splitIPPort resolves host:port to the IP string and port memberlist wants.
func splitIPPort(addr string) (string, int, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", 0, err
	}
	if a.IP == nil {
		return "", a.Port, nil
	}
	return a.IP.String(), a.Port, nil
}

// Join contacts seeds until one answers, retrying with backoff until ctx
// ends. No seeds is not an error: the node is alone.
func (m *Membership) Join(ctx context.Context, seeds []string) error {
	if len(seeds) == 0 {
		return nil
	}
	backoff, maxBackoff := time.Second, 10*time.Second
	if m.cfg.Fast {
		backoff, maxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		n, err := m.list.Join(seeds)
		if n > 0 {
			return nil
		}
		m.log.Warn("cannot join cluster, retrying", "seeds", seeds, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cannot join any of %q: %w (last error: %v)", seeds, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// How often a node tries to reach the members it sees dead. memberlist
// alone never contacts a dead member again once its gossip-to-the-dead
// window (30 s) has passed: dead members are neither probed nor synced
// with. After a partition that outlasted the suspicion timeout, both sides
// would call each other dead for good (hashicorp/memberlist#222); Serf's
// answer, which this follows, is to keep rejoining failed members.
const (
	rejoinInterval     = 5 * time.Second
	fastRejoinInterval = 200 * time.Millisecond
)

// rejoinDead joins, every interval, each member gossip sees dead (not
// left) that accepts a TCP connection: a full state exchange through
// which each side learns the other is alive. The quick dial first keeps a
// member still cut off from holding the loop for memberlist's TCP timeout.
func (m *Membership) rejoinDead(ctx context.Context, every, dialTimeout time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	dialer := net.Dialer{Timeout: dialTimeout}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, mb := range m.Members() {
			if mb.State != Dead || mb.ID == m.cfg.Meta.ID || mb.GossipAddr == "" {
				continue
			}
			conn, err := dialer.DialContext(ctx, "tcp", mb.GossipAddr)
			if err != nil {
				continue
			}
			conn.Close()
			if n, err := m.list.Join([]string{mb.GossipAddr}); n > 0 {
				m.log.Info("rejoined a member gossip saw dead", "node", mb.ID, "addr", mb.GossipAddr)
			} else {
				m.log.Debug("cannot rejoin a member gossip sees dead", "node", mb.ID, "addr", mb.GossipAddr, "err", err)
			}
		}
	}
}

// Members returns every node gossip has seen and not yet reaped, self
// included, sorted by ID.
func (m *Membership) Members() []Member {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for id, mb := range m.members {
		if mb.State != Alive && mb.State != Suspect && now.Sub(mb.Since) >= m.cfg.ReapAfter {
			delete(m.members, id)
			continue
		}
		out = append(out, mb.Member)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Alive returns the alive nodes, self included, sorted by ID.
func (m *Membership) Alive() []NodeMeta {
	m.mu.Lock()
	out := make([]NodeMeta, 0, len(m.members))
	for _, mb := range m.members {
		if mb.State == Alive {
			out = append(out, mb.NodeMeta)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b NodeMeta) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AliveHTTPAddr returns the HTTP address of node id while gossip sees it
// alive, and "" otherwise: Alive without the copy and sort, for the write
// and read paths that ask per call.
func (m *Membership) AliveHTTPAddr(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mb := m.members[id]; mb != nil && mb.State == Alive {
		return mb.HTTPAddr
	}
	return ""
}

func (m *Membership) numAlive() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, mb := range m.members {
		if mb.State == Alive {
			n++
		}
	}
	return n
}

// Changes is signalled after any join, leave, failure or meta update. Signals
// coalesce and are never blocked on: a reader re-reads Members or Alive after
// each one. Meant for one reader.
func (m *Membership) Changes() <-chan struct{} { return m.changes }

// GossipAddr is the gossip address this node advertises.
func (m *Membership) GossipAddr() string { return m.list.LocalNode().Address() }

// Leave announces a graceful leave and waits up to timeout (≤0: 5s) for it
// to be gossiped. The node keeps answering gossip until Close. Later calls
// return nil.
func (m *Membership) Leave(timeout time.Duration) error {
	m.leaveMu.Lock()
	defer m.leaveMu.Unlock()
	if m.closed {
		return errors.New("cannot leave: membership closed")
	}
	return m.leaveLocked(timeout)
}

func (m *Membership) leaveLocked(timeout time.Duration) error {
	if m.left {
		return nil
	}
	m.left = true
	if timeout <= 0 {
		timeout = defaultLeaveTimeout
	}
	m.mu.Lock()
	if self, ok := m.members[m.cfg.Meta.ID]; ok {
		self.leaving = true
	}
	m.mu.Unlock()

	intent, _ := json.Marshal(leaveIntent{ID: m.cfg.Meta.ID, Session: m.session})
	sent := make(chan struct{})
	m.broadcasts.QueueBroadcast(&userBroadcast{name: "leave/" + m.cfg.Meta.ID, msg: append([]byte{msgLeaveIntent}, intent...), done: sent})
	// The intent and memberlist's own leave go out together; wait for both,
	// so that others see Left rather than Dead.
	start := time.Now()
	err := m.list.Leave(timeout)
	if m.list.NumMembers() > 0 { // gossip goes nowhere without another alive node
		t := time.NewTimer(max(timeout-time.Since(start), time.Millisecond))
		defer t.Stop()
		select {
		case <-sent:
		case <-t.C:
		}
	}
	if err != nil {
		return fmt.Errorf("cannot leave gossip: %w", err)
	}
	return nil
}

// Close leaves (briefly) and stops gossip. Later calls return the first
// call's result.
func (m *Membership) Close() error { return m.close(true) }

// close with leave false stops gossip as a crash would: others see Dead.
func (m *Membership) close(leave bool) error {
	m.closeOnce.Do(func() {
		m.stopJoin()
		m.leaveMu.Lock()
		if leave {
			if err := m.leaveLocked(closeLeaveTimeout); err != nil {
				m.log.Debug("leave on close", "err", err) // Close still shuts down; the rest see Dead
			}
		}
		m.closed = true
		m.leaveMu.Unlock()
		m.wg.Wait()
		if err := m.list.Shutdown(); err != nil {
			m.closeErr = fmt.Errorf("cannot stop gossip: %w", err)
		}
	})
	return m.closeErr
}

func (m *Membership) signal() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// gossipDelegate receives memberlist's callbacks, keeping them off
// Membership's API. memberlist calls the Notify methods while holding its own
// lock: they must not call back into memberlist.
type gossipDelegate struct{ m *Membership }

func (d *gossipDelegate) NodeMeta(limit int) []byte { return d.m.meta }

func (d *gossipDelegate) NotifyJoin(n *memberlist.Node) { d.update(n, Alive, true) }

func (d *gossipDelegate) NotifyUpdate(n *memberlist.Node) { d.update(n, Alive, false) }

func (d *gossipDelegate) NotifyLeave(n *memberlist.Node) {
	state := Dead
	if n.State == memberlist.StateLeft { // filled in by memberlist versions after v0.5.4
		state = Left
	}
	d.update(n, state, false)
}

// update records n in state. joined starts a new life of the node: any
// earlier leave intent is forgotten.
func (d *gossipDelegate) update(n *memberlist.Node, state MemberState, joined bool) {
	m := d.m
	var w wireMeta
	if err := json.Unmarshal(n.Meta, &w); err != nil {
		m.log.Warn("cannot decode gossip meta", "node", n.Name, "err", err)
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, ok := m.members[n.Name]
	if !ok {
		mb = &member{}
		m.members[n.Name] = mb
	}
	// memberlist keeps names unique; the name is the id.
	mb.NodeMeta = NodeMeta{ID: n.Name, HTTPAddr: w.HTTPAddr, RaftAddr: w.RaftAddr, Version: w.Version}
	mb.GossipAddr = n.Address()
	if joined || mb.session != w.Session {
		mb.leaving = false
	}
	mb.session = w.Session
	if state == Dead && mb.leaving {
		state = Left
	}
	if !ok || mb.State != state {
		mb.State, mb.Since = state, now
	}
	m.signal()
}

func (d *gossipDelegate) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != msgLeaveIntent {
		return // unknown to this version
	}
	var in leaveIntent
	if err := json.Unmarshal(b[1:], &in); err != nil {
		d.m.log.Warn("cannot decode leave intent", "err", err)
		return
	}
	m := d.m
	m.mu.Lock()
	mb, ok := m.members[in.ID]
	fresh := ok && mb.session == in.Session && !mb.leaving
	if fresh {
		mb.leaving = true
		if mb.State == Dead { // memberlist's leave overtook the intent
			mb.State = Left
			m.signal()
		}
	}
	m.mu.Unlock()
	if fresh { // pass it on, as gossip does
		m.broadcasts.QueueBroadcast(&userBroadcast{name: "leave/" + in.ID, msg: bytes.Clone(b)})
	}
}

func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.m.broadcasts.GetBroadcasts(overhead, limit)
}

func (d *gossipDelegate) LocalState(join bool) []byte { return nil }

func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool) {}

// userBroadcast is one of our messages in memberlist's gossip; a newer one
// with the same name replaces it.
type userBroadcast struct {
	name string
	msg  []byte
	done chan struct{} // closed once gossiped enough, if set
}

func (b *userBroadcast) Invalidates(other memberlist.Broadcast) bool { return false }
func (b *userBroadcast) Name() string                                { return b.name }
func (b *userBroadcast) Message() []byte                             { return b.msg }
func (b *userBroadcast) Finished() {
	if b.done != nil {
		close(b.done)
	}
}

// memberlistWriter turns memberlist's "[LEVEL] memberlist: text" lines into
// slog records.
type memberlistWriter struct {
	log *slog.Logger
}

func (w memberlistWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	if len(line) > 0 && line[0] == '[' {
		if i := bytes.IndexByte(line, ']'); i > 0 {
			switch string(line[1:i]) {
			case "ERR", "ERROR":
				level = slog.LevelError
			case "WARN":
				level = slog.LevelWarn
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			}
			line = bytes.TrimSpace(line[i+1:])
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.log.Log(context.Background(), level, string(line))
	return len(p), nil
}

// BootstrapPlan decides, Consul's way, whether this node bootstraps Raft for
// --bootstrap-expect: once at least expect alive nodes with a Raft address
// are visible, servers is the expect of them with the lowest IDs, and
// shouldBootstrap is true only on the lowest of those. Two different entries
// claiming one ID are a misconfiguration: no bootstrap.
//
// The caller bootstraps only if it has no Raft state, and only once; like
// Consul it should first check that none of servers already has a Raft
// configuration.
func BootstrapPlan(self string, alive []NodeMeta, expect int) (servers []NodeMeta, shouldBootstrap bool) {
	if expect < 1 {
		return nil, false
	}
	byID := make(map[string]NodeMeta, len(alive))
	for _, n := range alive {
		if n.ID == "" || n.RaftAddr == "" {
			continue
		}
		if prev, ok := byID[n.ID]; ok && prev != n {
			return nil, false
		}
		byID[n.ID] = n
	}
	if len(byID) < expect {
		return nil, false
	}
	all := make([]NodeMeta, 0, len(byID))
	for _, n := range byID {
		all = append(all, n)
	}
	slices.SortFunc(all, func(a, b NodeMeta) int { return strings.Compare(a.ID, b.ID) })
	servers = all[:expect]
	return servers, servers[0].ID == self
}

// Reconcile action kinds.
const (
	ActionAddVoter    = "add-voter"
	ActionAddNonvoter = "add-nonvoter"
	ActionRemove      = "remove"
)

// ReconcileAction is one Raft configuration change the leader should make.
// An add for a server already in the configuration updates its address (and
// for add-voter, promotes it).
type ReconcileAction struct {
	Kind     string
	ID       string
	RaftAddr string
}

// ReconcileInput is what the leader knows when it plans.
type ReconcileInput struct {
	Self      string   // the leader, never removed
	Servers   []Server // the Raft configuration
	Members   []Member // gossip's view
	Now       time.Time
	DeadAfter time.Duration
	MaxVoters int
	// Reachable reports whether the leader can open an authenticated Raft
	// connection to a member not yet in the configuration; nil: any.
	Reachable func(Member) bool
	// KeepsUp reports whether a non-voter has answered the leader without a
	// break for the stabilization time, its log close to the leader's; nil:
	// every one.
	KeepsUp func(id string) bool
}

// ReconcilePlan is what the leader changes in the Raft configuration to
// follow gossip's members, in order:
//
//  1. servers Dead or Left for at least DeadAfter are removed, never Self;
//     non-voters freely, voters longest-dead first but at most (voters-1)/2
//     at once and none unless gossip sees a majority of the voters alive;
//  2. alive non-voters that keep up are promoted while there are fewer
//     than MaxVoters voters, and alive servers whose Raft address changed
//     are re-added;
//  3. alive members with a Raft address not in the configuration, and
//     that the leader can reach, are added as non-voters.
//
// A member becomes a voter only through 2, as Consul's autopilot does: one
// that gossip calls alive but that Raft cannot reach (a node of another CA,
// a firewall) would otherwise count in every quorum without ever voting.
// Servers unknown to gossip are left alone.
func ReconcilePlan(in ReconcileInput) []ReconcileAction {
	self, members, now, deadAfter := in.Self, in.Members, in.Now, in.DeadAfter
	maxVoters := max(in.MaxVoters, 1)
	keepsUp := in.KeepsUp
	if keepsUp == nil {
		keepsUp = func(string) bool { return true }
	}
	byID := make(map[string]Member, len(members))
	for _, mb := range members {
		byID[mb.ID] = mb
	}
	servers := slices.Clone(in.Servers)
	slices.SortFunc(servers, func(a, b Server) int { return strings.Compare(a.ID, b.ID) })
	inConfig := make(map[string]bool, len(servers))
	voters, aliveVoters := 0, 0
	for _, s := range servers {
		inConfig[s.ID] = true
		if s.Voter {
			voters++
			if mb, ok := byID[s.ID]; ok && mb.State == Alive {
				aliveVoters++
			}
		}
	}

	var actions []ReconcileAction
	removed := make(map[string]bool)
	var deadVoters []Server
	for _, s := range servers {
		mb, known := byID[s.ID]
		if !known || s.ID == self || (mb.State != Dead && mb.State != Left) || now.Sub(mb.Since) < deadAfter {
			continue
		}
		if s.Voter {
			deadVoters = append(deadVoters, s)
			continue
		}
		actions = append(actions, ReconcileAction{Kind: ActionRemove, ID: s.ID})
		removed[s.ID] = true
	}
	if 2*aliveVoters > voters {
		slices.SortStableFunc(deadVoters, func(a, b Server) int { return byID[a.ID].Since.Compare(byID[b.ID].Since) })
		for _, s := range deadVoters[:min(len(deadVoters), (voters-1)/2)] {
			actions = append(actions, ReconcileAction{Kind: ActionRemove, ID: s.ID})
			removed[s.ID] = true
			voters--
		}
	}

	for _, s := range servers {
		mb, known := byID[s.ID]
		if !known || removed[s.ID] || mb.State != Alive || mb.RaftAddr == "" {
			continue
		}
		switch {
		case !s.Voter && voters < maxVoters && keepsUp(s.ID):
			actions = append(actions, ReconcileAction{Kind: ActionAddVoter, ID: s.ID, RaftAddr: mb.RaftAddr})
			voters++
		case mb.RaftAddr != s.Address && s.Voter:
			actions = append(actions, ReconcileAction{Kind: ActionAddVoter, ID: s.ID, RaftAddr: mb.RaftAddr})
		case mb.RaftAddr != s.Address:
			actions = append(actions, ReconcileAction{Kind: ActionAddNonvoter, ID: s.ID, RaftAddr: mb.RaftAddr})
		}
	}

	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	for _, mb := range members {
		if mb.State != Alive || mb.RaftAddr == "" || mb.ID == "" || inConfig[mb.ID] {
			continue
		}
		if in.Reachable != nil && !in.Reachable(mb) {
			continue
		}
		actions = append(actions, ReconcileAction{Kind: ActionAddNonvoter, ID: mb.ID, RaftAddr: mb.RaftAddr})
		inConfig[mb.ID] = true
	}
	return actions
}
