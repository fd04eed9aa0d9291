package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const gossipWait = 15 * time.Second

func gossipMeta(nodeID string) NodeMeta {
	return NodeMeta{ID: nodeID, HTTPAddr: "127.0.0.1:80" + nodeID[1:], RaftAddr: "127.0.0.1:70" + nodeID[1:], Version: "test"}
}

// startGossip starts a member named nodeID (n1, n2, ...) on a free port,
// closed at cleanup.
func startGossip(t *testing.T, nodeID string, mod ...func(*MembershipConfig)) *Membership {
	t.Helper()
	cfg := MembershipConfig{Meta: gossipMeta(nodeID), BindAddr: "127.0.0.1:0", ClusterKey: "test cluster key", Fast: true, Logger: testLogger()}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := NewMembership(cfg)
	if err != nil {
		t.Fatalf("NewMembership(%s): %v", nodeID, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close(%s): %v", nodeID, err)
		}
	})
	return m
}

// startGossipCluster starts n members joined through the first one and waits
// until every one sees all n alive.
func startGossipCluster(t *testing.T, n int) []*Membership {
	t.Helper()
	nodes := make([]*Membership, n)
	for i := range nodes {
		nodes[i] = startGossip(t, fmt.Sprintf("n%d", i+1))
	}
	for _, m := range nodes[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), gossipWait)
		err := m.Join(ctx, []string{nodes[0].GossipAddr()})
		cancel()
		if err != nil {
			t.Fatalf("Join: %v", err)
		}
	}
	for _, m := range nodes {
		waitGossip(t, fmt.Sprintf("%s to see %d alive", m.cfg.Meta.ID, n), func() (bool, string) {
			alive := m.Alive()
			return len(alive) == n, fmt.Sprint(alive)
		})
	}
	return nodes
}

// waitGossip polls cond until it holds or gossipWait passes; cond's string
// says what it saw.
func waitGossip(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(gossipWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; saw %s", what, saw)
		}
		<-tick.C
	}
}

func memberOf(m *Membership, nodeID string) (Member, bool) {
	for _, mb := range m.Members() {
		if mb.ID == nodeID {
			return mb, true
		}
	}
	return Member{}, false
}

func stateOf(m *Membership, nodeID string) (MemberState, string) {
	mb, ok := memberOf(m, nodeID)
	if !ok {
		return -1, nodeID + " unknown"
	}
	return mb.State, fmt.Sprintf("%s %s since %s", nodeID, mb.State, mb.Since.Format(time.StampMilli))
}

func TestMembershipJoinThree(t *testing.T) {
	a := startGossip(t, "n1")
	b := startGossip(t, "n2")
	c := startGossip(t, "n3")
	select {
	case <-a.Changes(): // a seeing itself
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), gossipWait)
	defer cancel()
	if err := b.Join(ctx, []string{a.GossipAddr()}); err != nil {
		t.Fatalf("b joins a: %v", err)
	}
	select {
	case <-a.Changes():
	case <-ctx.Done():
		t.Fatal("a's Changes not signalled when b joined")
	}
	// c knows only b; gossip tells it about a and a about it.
	if err := c.Join(ctx, []string{b.GossipAddr()}); err != nil {
		t.Fatalf("c joins b: %v", err)
	}
	want := []NodeMeta{gossipMeta("n1"), gossipMeta("n2"), gossipMeta("n3")}
	addrs := map[string]string{"n1": a.GossipAddr(), "n2": b.GossipAddr(), "n3": c.GossipAddr()}
	for _, m := range []*Membership{a, b, c} {
		waitGossip(t, m.cfg.Meta.ID+" to see 3 alive", func() (bool, string) {
			got := m.Alive()
			return reflect.DeepEqual(got, want), fmt.Sprint(got)
		})
		for _, mb := range m.Members() {
			if mb.State != Alive || mb.Since.IsZero() || mb.GossipAddr != addrs[mb.ID] {
				t.Errorf("%s sees %+v; want alive at %s with a since", m.cfg.Meta.ID, mb, addrs[mb.ID])
			}
		}
	}
}

func TestMembershipBackgroundJoin(t *testing.T) {
	a := startGossip(t, "n1")
	b := startGossip(t, "n2", func(c *MembershipConfig) { c.Join = []string{a.GossipAddr()} })
	for _, m := range []*Membership{a, b} {
		waitGossip(t, m.cfg.Meta.ID+" to see 2 alive", func() (bool, string) {
			return len(m.Alive()) == 2, fmt.Sprint(m.Alive())
		})
	}
}

func TestMembershipCloseStopsJoining(t *testing.T) {
	// Nothing answers on this port: the joiner retries until Close.
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := startGossip(t, "n1", func(c *MembershipConfig) { c.Join = []string{l.LocalAddr().String()} })
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(gossipWait):
		t.Fatal("Close did not stop the joiner")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Leave(time.Second); err == nil {
		t.Fatal("Leave after Close succeeded")
	}
}

// TestMembershipRefusesUnencryptedGossip: a plain memberlist node, with no
// key at all, cannot join, and NewMembership will not start without a key.
func TestMembershipRefusesUnencryptedGossip(t *testing.T) {
	nodes := startGossipCluster(t, 2)
	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.BindAddr, mc.BindPort = "n9", "127.0.0.1", 0
	mc.Logger = log.New(io.Discard, "", 0)
	intruder, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Shutdown()
	if n, err := intruder.Join([]string{nodes[0].GossipAddr(), nodes[1].GossipAddr()}); err == nil || n > 0 {
		t.Fatalf("an unencrypted node joined %d members (err %v)", n, err)
	}
	for _, m := range nodes {
		if _, seen := memberOf(m, "n9"); seen {
			t.Fatalf("%s sees the unencrypted node", m.cfg.Meta.ID)
		}
	}
}

func TestMembershipWrongClusterKey(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"other key", "another cluster key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startGossipCluster(t, 2)
			intruder := startGossip(t, "n9", func(c *MembershipConfig) { c.ClusterKey = tc.key })
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := intruder.Join(ctx, []string{nodes[0].GossipAddr(), nodes[1].GossipAddr()}); err == nil {
				t.Fatal("Join with the wrong cluster key succeeded")
			}
			// Nor does it show up later.
			deadline := time.NewTimer(500 * time.Millisecond)
			defer deadline.Stop()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				for _, m := range nodes {
					if _, seen := memberOf(m, "n9"); seen {
						t.Fatalf("%s sees the node with the wrong key", m.cfg.Meta.ID)
					}
				}
				if got := intruder.Alive(); len(got) != 1 {
					t.Fatalf("the node with the wrong key sees %v", got)
				}
				select {
				case <-deadline.C:
					return
				case <-tick.C:
				}
			}
		})
	}
}

func TestMembershipLeaveShowsLeft(t *testing.T) {
	nodes := startGossipCluster(t, 3)
	if err := nodes[2].Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := nodes[2].Leave(time.Second); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	for _, m := range nodes[:2] {
		waitGossip(t, m.cfg.Meta.ID+" to see n3 left", func() (bool, string) {
			s, saw := stateOf(m, "n3")
			return s == Left, saw
		})
		if got := m.Alive(); len(got) != 2 {
			t.Errorf("%s: Alive() = %v after n3 left", m.cfg.Meta.ID, got)
		}
	}
}

// A node that stops without leaving is declared Dead. memberlist v0.5.4 does
// not tell delegates about suspicion, so it goes from Alive to Dead directly.
func TestMembershipCrashShowsDead(t *testing.T) {
	nodes := startGossipCluster(t, 3)
	crashed := time.Now()
	if err := nodes[2].close(false); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, m := range nodes[:2] {
		waitGossip(t, m.cfg.Meta.ID+" to see n3 fail", func() (bool, string) {
			s, saw := stateOf(m, "n3")
			return s != Alive, saw
		})
		mb, _ := memberOf(m, "n3")
		if mb.State != Dead || mb.Since.Before(crashed) {
			t.Errorf("%s sees n3 %s since %s; want dead since after %s", m.cfg.Meta.ID, mb.State, mb.Since, crashed)
		}
	}
}

// TestMembershipRejoinsDeadMembers: memberlist never contacts a member
// again once it is dead, so a node that comes back knowing nobody (as each
// side of a healed partition does, once the other is dead to it) would stay
// apart. The members that see it dead rejoin it.
func TestMembershipRejoinsDeadMembers(t *testing.T) {
	nodes := startGossipCluster(t, 2)
	addr := nodes[1].GossipAddr()
	if err := nodes[1].close(false); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitGossip(t, "n1 to see n2 dead", func() (bool, string) {
		s, saw := stateOf(nodes[0], "n2")
		return s == Dead, saw
	})
	back := startGossip(t, "n2", func(c *MembershipConfig) { c.BindAddr = addr }) // no seeds
	for _, m := range []*Membership{nodes[0], back} {
		waitGossip(t, m.cfg.Meta.ID+" to see both alive", func() (bool, string) {
			alive := m.Alive()
			return len(alive) == 2, fmt.Sprint(alive)
		})
	}
}

type gossipClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *gossipClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *gossipClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMembershipStates drives the delegate with memberlist's callbacks for a
// made-up node, in the orders gossip can deliver them.
func TestMembershipStates(t *testing.T) {
	clock := &gossipClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := startGossip(t, "n1", func(c *MembershipConfig) {
		c.Now = clock.Now
		c.ReapAfter = time.Hour
	})
	d := &gossipDelegate{m: m}
	node := func(session, http string) *memberlist.Node {
		meta, _ := json.Marshal(wireMeta{ID: "x", HTTPAddr: http, RaftAddr: "r:1", Version: "v", Session: session})
		return &memberlist.Node{Name: "x", Addr: net.IPv4(10, 0, 0, 9), Port: 7946, Meta: meta}
	}
	intent := func(session string) []byte {
		b, _ := json.Marshal(leaveIntent{ID: "x", Session: session})
		return append([]byte{msgLeaveIntent}, b...)
	}
	step := func(name string, f func(), wantState MemberState, wantSince time.Time) {
		t.Helper()
		select {
		case <-m.Changes():
		default:
		}
		f()
		mb, ok := memberOf(m, "x")
		if !ok || mb.State != wantState || !mb.Since.Equal(wantSince) {
			t.Fatalf("%s: x is %+v (known %v); want %s since %s", name, mb, ok, wantState, wantSince)
		}
		select {
		case <-m.Changes():
		default:
			t.Fatalf("%s: Changes not signalled", name)
		}
	}

	t0 := clock.Now()
	step("join", func() { d.NotifyJoin(node("s1", "h:1")) }, Alive, t0)
	if mb, _ := memberOf(m, "x"); mb.NodeMeta != (NodeMeta{ID: "x", HTTPAddr: "h:1", RaftAddr: "r:1", Version: "v"}) || mb.GossipAddr != "10.0.0.9:7946" {
		t.Fatalf("x is %+v", mb)
	}
	clock.Add(time.Minute)
	step("meta update keeps since", func() { d.NotifyUpdate(node("s1", "h:2")) }, Alive, t0)
	if mb, _ := memberOf(m, "x"); mb.HTTPAddr != "h:2" {
		t.Fatalf("update not applied: %+v", mb)
	}

	t1 := clock.Now()
	step("failure", func() { d.NotifyLeave(node("s1", "h:2")) }, Dead, t1)
	clock.Add(time.Second)
	step("leave intent after memberlist's leave", func() { d.NotifyMsg(intent("s1")) }, Left, t1)
	if n := m.broadcasts.NumQueued(); n != 1 {
		t.Fatalf("fresh intent not passed on: %d queued", n)
	}

	t2 := clock.Now()
	step("restart with a new session", func() { d.NotifyJoin(node("s2", "h:2")) }, Alive, t2)
	d.NotifyMsg(intent("s1")) // late copy from the previous run
	clock.Add(time.Second)
	t3 := clock.Now()
	step("stale intent ignored", func() { d.NotifyLeave(node("s2", "h:2")) }, Dead, t3)

	clock.Add(time.Second)
	t4 := clock.Now()
	step("rejoin", func() { d.NotifyJoin(node("s2", "h:2")) }, Alive, t4)
	d.NotifyMsg(intent("s2"))
	d.NotifyMsg(intent("s2")) // duplicate: nothing new
	if mb, _ := memberOf(m, "x"); mb.State != Alive {
		t.Fatalf("intent alone changed the state: %+v", mb)
	}
	clock.Add(time.Second)
	t5 := clock.Now()
	step("intent before memberlist's leave", func() { d.NotifyLeave(node("s2", "h:2")) }, Left, t5)

	clock.Add(time.Hour - time.Second)
	if _, ok := memberOf(m, "x"); !ok {
		t.Fatal("reaped before ReapAfter")
	}
	clock.Add(time.Second)
	if _, ok := memberOf(m, "x"); ok {
		t.Fatal("not reaped after ReapAfter")
	}
	if got := m.Alive(); len(got) != 1 || got[0].ID != "n1" {
		t.Fatalf("Alive() = %v; want only self", got)
	}
}

func TestMembershipConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  MembershipConfig
		want string
	}{
		{"no id", MembershipConfig{BindAddr: "127.0.0.1:0"}, "required"},
		{"no bind address", MembershipConfig{Meta: NodeMeta{ID: "n1"}}, "required"},
		{"meta too large", MembershipConfig{Meta: NodeMeta{ID: "n1", HTTPAddr: strings.Repeat("h", 600)}, BindAddr: "127.0.0.1:0", ClusterKey: "test cluster key"}, "bytes"},
		{"bad bind address", MembershipConfig{Meta: NodeMeta{ID: "n1"}, BindAddr: "127.0.0.1", ClusterKey: "test cluster key"}, "gossip address"},
		{"advertise without host", MembershipConfig{Meta: NodeMeta{ID: "n1"}, BindAddr: "127.0.0.1:0", AdvertiseAddr: ":7946", ClusterKey: "test cluster key"}, "advertise"},
		{"no cluster key", MembershipConfig{Meta: NodeMeta{ID: "n1"}, BindAddr: "127.0.0.1:0"}, "cluster key"},
		{"short cluster key", MembershipConfig{Meta: NodeMeta{ID: "n1"}, BindAddr: "127.0.0.1:0", ClusterKey: "short"}, "cluster key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = testLogger()
			m, err := NewMembership(tc.cfg)
			if err == nil {
				m.Close()
				t.Fatal("NewMembership succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestMembershipAdvertiseAddr(t *testing.T) {
	// With bind port 0 memberlist advertises the port it bound, whatever
	// AdvertiseAddr says; the host is kept.
	m := startGossip(t, "n1", func(c *MembershipConfig) { c.AdvertiseAddr = "127.0.0.2:7999" })
	if got := m.GossipAddr(); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Fatalf("GossipAddr() = %q", got)
	}
}

type recordHandler struct {
	mu      sync.Mutex
	records []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Level.String()+" "+r.Message)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestMembershipLogLevels(t *testing.T) {
	h := &recordHandler{}
	w := memberlistWriter{log: slog.New(h)}
	for _, line := range []string{
		"[ERR] memberlist: boom\n",
		"[WARN] memberlist: careful",
		"[DEBUG] memberlist: detail",
		"[INFO] memberlist: news",
		"no tag",
	} {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", line, n, err)
		}
	}
	want := []string{"ERROR boom", "WARN careful", "DEBUG detail", "INFO news", "INFO no tag"}
	if !reflect.DeepEqual(h.records, want) {
		t.Fatalf("records %q; want %q", h.records, want)
	}
}

func TestBootstrapPlan(t *testing.T) {
	n := func(nodeID string) NodeMeta { return NodeMeta{ID: nodeID, RaftAddr: "raft-" + nodeID} }
	noRaft := func(nodeID string) NodeMeta { return NodeMeta{ID: nodeID, HTTPAddr: "http-" + nodeID} }
	for _, tc := range []struct {
		name        string
		self        string
		alive       []NodeMeta
		expect      int
		wantServers []NodeMeta
		wantBoot    bool
	}{
		{"fewer than expected", "a", []NodeMeta{n("a"), n("b")}, 3, nil, false},
		{"exactly expected, self lowest", "a", []NodeMeta{n("c"), n("a"), n("b")}, 3, []NodeMeta{n("a"), n("b"), n("c")}, true},
		{"exactly expected, self not lowest", "b", []NodeMeta{n("c"), n("a"), n("b")}, 3, []NodeMeta{n("a"), n("b"), n("c")}, false},
		{"more than expected takes the lowest", "a", []NodeMeta{n("d"), n("c"), n("a"), n("b")}, 3, []NodeMeta{n("a"), n("b"), n("c")}, true},
		{"more than expected, self outside", "d", []NodeMeta{n("d"), n("c"), n("a"), n("b")}, 3, []NodeMeta{n("a"), n("b"), n("c")}, false},
		{"members without raft address ignored", "b", []NodeMeta{noRaft("a"), n("b"), n("c")}, 3, nil, false},
		{"lowest without raft address ignored", "b", []NodeMeta{noRaft("a"), n("b"), n("c"), n("d")}, 3, []NodeMeta{n("b"), n("c"), n("d")}, true},
		{"identical duplicates count once", "a", []NodeMeta{n("a"), n("b"), n("b")}, 3, nil, false},
		{"identical duplicates", "a", []NodeMeta{n("a"), n("b"), n("b")}, 2, []NodeMeta{n("a"), n("b")}, true},
		{"conflicting duplicates refuse", "a", []NodeMeta{n("a"), n("b"), {ID: "b", RaftAddr: "elsewhere"}}, 2, nil, false},
		{"self not visible", "a", []NodeMeta{n("b"), n("c")}, 2, []NodeMeta{n("b"), n("c")}, false},
		{"expect one", "a", []NodeMeta{n("a")}, 1, []NodeMeta{n("a")}, true},
		{"expect zero", "a", []NodeMeta{n("a")}, 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers, boot := BootstrapPlan(tc.self, tc.alive, tc.expect)
			if !reflect.DeepEqual(servers, tc.wantServers) || boot != tc.wantBoot {
				t.Fatalf("BootstrapPlan = %v, %v; want %v, %v", servers, boot, tc.wantServers, tc.wantBoot)
			}
		})
	}
}

func TestReconcilePlan(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	const deadAfter = time.Hour
	voter := func(nodeID string) Server { return Server{ID: nodeID, Address: "raft-" + nodeID, Voter: true} }
	nonvoter := func(nodeID string) Server { return Server{ID: nodeID, Address: "raft-" + nodeID} }
	mem := func(nodeID string, state MemberState, ago time.Duration) Member {
		return Member{NodeMeta: NodeMeta{ID: nodeID, RaftAddr: "raft-" + nodeID}, State: state, Since: now.Add(-ago)}
	}
	alive := func(nodeIDs ...string) []Member {
		var out []Member
		for _, id := range nodeIDs {
			out = append(out, mem(id, Alive, time.Hour))
		}
		return out
	}
	addVoter := func(nodeID string) ReconcileAction {
		return ReconcileAction{Kind: ActionAddVoter, ID: nodeID, RaftAddr: "raft-" + nodeID}
	}
	addNonvoter := func(nodeID string) ReconcileAction {
		return ReconcileAction{Kind: ActionAddNonvoter, ID: nodeID, RaftAddr: "raft-" + nodeID}
	}
	remove := func(nodeID string) ReconcileAction { return ReconcileAction{Kind: ActionRemove, ID: nodeID} }

	// What the leader reached and saw keep up, when a case says so.
	only := func(ids ...string) func(string) bool {
		return func(id string) bool { return slices.Contains(ids, id) }
	}
	for _, tc := range []struct {
		name      string
		servers   []Server
		members   []Member
		want      []ReconcileAction
		reachable func(string) bool
		keepsUp   func(string) bool
	}{
		{name: "in step", servers: []Server{voter("a"), voter("b"), voter("c")}, members: alive("a", "b", "c")},
		{name: "a joining member is added as a non-voter", servers: []Server{voter("a")}, members: alive("a", "b"),
			want: []ReconcileAction{addNonvoter("b")}},
		{name: "every joining member is a non-voter first",
			servers: []Server{voter("a"), voter("b"), voter("c")}, members: alive("a", "b", "c", "d", "e", "f", "g"),
			want: []ReconcileAction{addNonvoter("d"), addNonvoter("e"), addNonvoter("f"), addNonvoter("g")}},
		{name: "a member raft cannot reach is not added",
			servers: []Server{voter("a"), voter("b"), voter("c")}, members: alive("a", "b", "c", "d", "e"),
			reachable: only("e"), want: []ReconcileAction{addNonvoter("e")}},
		{name: "promote non-voter before adding",
			servers: []Server{voter("a"), voter("b"), voter("c"), voter("d"), nonvoter("e")}, members: alive("a", "b", "c", "d", "e", "f"),
			want: []ReconcileAction{addVoter("e"), addNonvoter("f")}},
		{name: "only non-voters that keep up are promoted",
			servers: []Server{voter("a"), nonvoter("b"), nonvoter("c"), nonvoter("d")}, members: alive("a", "b", "c", "d"),
			keepsUp: only("c"), want: []ReconcileAction{addVoter("c")}},
		{name: "non-voter stays while five voters", servers: []Server{voter("a"), voter("b"), voter("c"), voter("d"), voter("e"), nonvoter("f")}, members: alive("a", "b", "c", "d", "e", "f")},
		{name: "dead non-voter is not promoted", servers: []Server{voter("a"), nonvoter("b")}, members: []Member{mem("a", Alive, time.Hour), mem("b", Dead, time.Minute)}},
		{name: "member without raft address not added", servers: []Server{voter("a")}, members: append(alive("a"), Member{NodeMeta: NodeMeta{ID: "b"}, State: Alive})},
		{name: "dead member not added", servers: []Server{voter("a")}, members: append(alive("a"), mem("b", Dead, 2*time.Hour))},
		{name: "raft address changed", servers: []Server{voter("a"), {ID: "b", Address: "old", Voter: true}, voter("c")}, members: alive("a", "b", "c"), want: []ReconcileAction{addVoter("b")}},
		{name: "dead before deadAfter stays", servers: []Server{voter("a"), voter("b"), voter("c")}, members: append(alive("a", "b"), mem("c", Dead, deadAfter-time.Second))},
		{name: "dead after deadAfter removed", servers: []Server{voter("a"), voter("b"), voter("c")}, members: append(alive("a", "b"), mem("c", Dead, deadAfter)), want: []ReconcileAction{remove("c")}},
		{name: "left removed", servers: []Server{voter("a"), voter("b"), voter("c")}, members: append(alive("a", "b"), mem("c", Left, 2*deadAfter)), want: []ReconcileAction{remove("c")}},
		{name: "removal frees a voter slot", servers: []Server{voter("a"), voter("b"), voter("c"), voter("d"), voter("e"), nonvoter("f")}, members: append(alive("a", "b", "c", "d", "f"), mem("e", Dead, 2*deadAfter)), want: []ReconcileAction{remove("e"), addVoter("f")}},
		{name: "never self", servers: []Server{voter("a"), voter("b"), voter("c")}, members: append(alive("b", "c"), mem("a", Left, 2*deadAfter))},
		{name: "unknown to gossip left alone", servers: []Server{voter("a"), voter("b"), voter("z")}, members: alive("a", "b")},
		{name: "at most (voters-1)/2 voters at once, longest dead first", servers: []Server{voter("a"), voter("b"), voter("c"), voter("d"), voter("e")}, members: append(alive("a", "b", "c"), mem("d", Dead, 2*deadAfter), mem("e", Dead, 3*deadAfter)), want: []ReconcileAction{remove("e"), remove("d")}},
		{name: "capped", servers: []Server{voter("a"), voter("b"), voter("c"), voter("d")}, members: append(alive("a", "b", "c"), mem("d", Dead, 2*deadAfter)), want: []ReconcileAction{remove("d")}},
		{name: "none when gossip sees no voter majority", servers: []Server{voter("a"), voter("b"), voter("c"), voter("d"), voter("e")}, members: append(alive("a", "b"), mem("c", Dead, 2*deadAfter), mem("d", Dead, 2*deadAfter), mem("e", Dead, 2*deadAfter))},
		{name: "never the last voter", servers: []Server{voter("a"), voter("b")}, members: append(alive("a"), mem("b", Dead, 2*deadAfter))},
		{name: "dead non-voters removed freely", servers: []Server{voter("a"), voter("b"), voter("c"), nonvoter("d"), nonvoter("e")}, members: append(alive("a", "b", "c"), mem("d", Dead, 2*deadAfter), mem("e", Left, 2*deadAfter)), want: []ReconcileAction{remove("d"), remove("e")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ReconcileInput{Self: "a", Servers: tc.servers, Members: tc.members, Now: now, DeadAfter: deadAfter, MaxVoters: 5, KeepsUp: tc.keepsUp}
			if tc.reachable != nil {
				in.Reachable = func(mb Member) bool { return tc.reachable(mb.ID) }
			}
			got := ReconcilePlan(in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ReconcilePlan =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// TestManagerKeepsRemovedOut: a node an operator removed is not added back
// while gossip still calls it alive, unless it rejoined after the removal
// (a restart) or the grace has passed (it still runs: it belongs).
func TestManagerKeepsRemovedOut(t *testing.T) {
	m := &Manager{}
	m.Forget("n4")
	at := m.removed["n4"]
	add := []ReconcileAction{{Kind: ActionAddVoter, ID: "n4"}, {Kind: ActionAddVoter, ID: "n5"}}
	members := []Member{{NodeMeta: NodeMeta{ID: "n4"}, State: Alive, Since: at.Add(-time.Minute)}}
	if got := m.keepOut(slices.Clone(add), members, at.Add(time.Second)); len(got) != 1 || got[0].ID != "n5" {
		t.Fatalf("right after the removal: %+v, want only n5 added", got)
	}
	rejoined := []Member{{NodeMeta: NodeMeta{ID: "n4"}, State: Alive, Since: at.Add(time.Second)}}
	if got := m.keepOut(slices.Clone(add), rejoined, at.Add(2*time.Second)); len(got) != 2 {
		t.Fatalf("after n4 rejoined: %+v, want both added", got)
	}
	m.Forget("n4")
	at = m.removed["n4"]
	if got := m.keepOut(slices.Clone(add), members, at.Add(readdGrace+time.Second)); len(got) != 2 {
		t.Fatalf("after the grace: %+v, want both added", got)
	}
}
