package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
)

// These tests run clusters of real `dakkio serve` processes on 127.0.0.1,
// with the default (not shortened) Raft and gossip timings an operator gets:
// they kill the leader, add a node late, and remove a stopped one.

// clusterNode is one `dakkio serve` of a test cluster.
type clusterNode struct {
	*server
	id         string
	gossipAddr string
}

// testCluster is a set of nodes sharing a cluster key and the initial
// credentials.
type testCluster struct {
	t        *testing.T
	key      string
	adminKey string
	token    string
	nodes    []*clusterNode // in start order; a restart replaces its entry
	args     []string       // more flags for every node
}

// startCluster starts size nodes (node1..nodeN) with --bootstrap-expect size,
// node2 and later joining node1, and waits until every one is ready.
func startCluster(t *testing.T, size int, args ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, key: secret.New("k"), adminKey: secret.New(secret.AdminPrefix), token: secret.New(secret.OperatorPrefix), args: args}
	for i := range size {
		var join []string
		if i > 0 {
			join = []string{c.nodes[0].gossipAddr}
		}
		c.nodes = append(c.nodes, c.launch(fmt.Sprintf("node%d", i+1), t.TempDir(), join, size, nil))
	}
	for _, n := range c.nodes {
		if err := n.waitReady(); err != nil {
			t.Fatalf("%s did not become ready: %v", n.name, err)
		}
	}
	return c
}

// launch starts `dakkio serve` for node id and returns once it answers
// /health, when all its listeners are bound; it does not wait for Raft.
// prev (a restart) lends its ports; ports found taken are replaced.
func (c *testCluster) launch(id, dataDir string, join []string, expect int, prev *clusterNode) *clusterNode {
	t := c.t
	t.Helper()
	bin := dakkioBinary(t)
	var httpAddr, raftAddr, gossipAddr string
	if prev != nil {
		httpAddr, raftAddr, gossipAddr = prev.httpAddr, prev.raftAddr, prev.gossipAddr
	}
	env := []string{"DAKKIO_INITIAL_ADMIN_KEY=" + c.adminKey, "DAKKIO_OPERATOR_TOKEN=" + c.token}
	var lastOut string
	for attempt := range 5 {
		if attempt > 0 || httpAddr == "" {
			httpAddr, raftAddr, gossipAddr = freeAddr(t), freeAddr(t), freeAddr(t)
		}
		s := &server{
			t: t, name: fmt.Sprintf("%s (attempt %d)", id, attempt+1), dataDir: dataDir, env: env,
			httpAddr: httpAddr, raftAddr: raftAddr, url: "http://" + httpAddr,
			out: &syncBuffer{}, done: make(chan struct{}),
			hc: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		}
		args := []string{"serve", "--node-id", id, "--data-dir", dataDir, "--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--gossip-addr", gossipAddr, "--cluster-key", c.key, "--log-level", "debug"}
		if expect > 1 {
			args = append(args, "--bootstrap-expect", strconv.Itoa(expect))
		}
		if len(join) > 0 {
			args = append(args, "--join", strings.Join(join, ","))
		}
		args = append(args, c.args...)
		s.spawn(bin, args)
		err := s.waitHealth()
		if err == nil {
			return &clusterNode{server: s, id: id, gossipAddr: gossipAddr}
		}
		lastOut = s.out.String()
		if !strings.Contains(lastOut, "address already in use") {
			t.Fatalf("%s did not start: %v", s.name, err)
		}
		s.stop() // a port was taken between picking and binding: try others
	}
	t.Fatalf("%s: could not find free ports; last output:\n%s", id, lastOut)
	return nil
}

// waitHealth polls GET /health until 200, the process exits, or the deadline.
func (s *server) waitHealth() error {
	c := client.New(s.url, client.WithHTTPClient(s.hc))
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Health(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("process exited (%v)", s.state)
		case <-deadline:
			return fmt.Errorf("no answer to /health after %v: %v", readyTimeout, err)
		case <-tick.C:
		}
	}
}

func (c *testCluster) admin(n *clusterNode) *client.Client { return n.client(c.adminKey) }
func (c *testCluster) op(n *clusterNode) *client.Client    { return n.operator(c.token) }

// running returns the nodes whose process has not exited.
func (c *testCluster) running() []*clusterNode {
	var out []*clusterNode
	for _, n := range c.nodes {
		if !n.exited() {
			out = append(out, n)
		}
	}
	return out
}

// gossipAddrs returns the gossip addresses of the running nodes but skip.
func (c *testCluster) gossipAddrs(skip *clusterNode) []string {
	var out []string
	for _, n := range c.running() {
		if n != skip {
			out = append(out, n.gossipAddr)
		}
	}
	return out
}

// leader polls the running nodes until one says it leads, and returns it
// and the other running nodes.
func (c *testCluster) leader(ctx context.Context) (leader *clusterNode, others []*clusterNode) {
	c.t.Helper()
	eventuallyCtx(c.t, ctx, "a running node leads", func() error {
		for _, n := range c.running() {
			st, err := c.op(n).ClusterStatus(ctx)
			if err == nil && st.Raft.State == "Leader" {
				leader = n
				return nil
			}
		}
		return errors.New("no running node is the leader")
	})
	for _, n := range c.running() {
		if n != leader {
			others = append(others, n)
		}
	}
	return leader, others
}

// eventuallyCtx polls f until it returns nil, failing the test when ctx ends.
func eventuallyCtx(t *testing.T, ctx context.Context, what string, f func() error) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-tick.C:
		}
	}
}

// createBucket creates a bucket through n, retrying while the cluster is
// unavailable; a 409 after a retry means an earlier attempt committed.
func (c *testCluster) createBucket(ctx context.Context, n *clusterNode, name string) {
	c.t.Helper()
	tries := 0
	eventuallyCtx(c.t, ctx, "create bucket "+name+" through "+n.id, func() error {
		tries++
		_, err := c.admin(n).CreateBucket(ctx, client.CreateBucketRequest{Name: name})
		if client.IsStatus(err, http.StatusConflict) && tries > 1 {
			return nil
		}
		return err
	})
}

// hasBuckets reports an error until n lists every bucket named.
func (c *testCluster) hasBuckets(ctx context.Context, n *clusterNode, names ...string) error {
	list, err := c.admin(n).ListBuckets(ctx, client.Page{Limit: 1000})
	if err != nil {
		return err
	}
	var got []string
	for _, b := range list.Data {
		got = append(got, b.Name)
	}
	for _, name := range names {
		if !slices.Contains(got, name) {
			return fmt.Errorf("%s lists %q, not %q", n.id, got, name)
		}
	}
	return nil
}

// servers reports an error until n's cluster status lists exactly ids, each
// a healthy voter.
func (c *testCluster) servers(ctx context.Context, n *clusterNode, ids ...string) error {
	st, err := c.op(n).ClusterStatus(ctx)
	if err != nil {
		return err
	}
	var got []string
	for _, ns := range st.Nodes {
		got = append(got, ns.NodeID)
		if !ns.Healthy || !ns.Voter || ns.HTTPAddress == "" {
			return fmt.Errorf("%s sees %s as %+v", n.id, ns.NodeID, ns)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		return fmt.Errorf("%s sees servers %q, want %q", n.id, got, ids)
	}
	return nil
}

// TestClusterLeaderSIGKILL: killing the leader with SIGKILL gets a new leader
// elected, metadata writes through the survivors go on, and the killed node,
// restarted on its data directory, catches up and is healthy again.
func TestClusterLeaderSIGKILL(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := testCtx(t)
	old, survivors := c.leader(ctx)
	c.createBucket(ctx, survivors[0], "before")

	killed := time.Now()
	if st := old.signal(syscall.SIGKILL, 10*time.Second); st.Success() {
		t.Fatalf("SIGKILLed leader exited successfully: %v", st)
	}
	var elected *clusterNode
	eventuallyCtx(t, ctx, "a survivor is elected", func() error {
		for _, n := range survivors {
			st, err := c.op(n).ClusterStatus(ctx)
			if err == nil && st.Raft.State == "Leader" {
				elected = n
				return nil
			}
		}
		return errors.New("no survivor leads")
	})
	took := time.Since(killed)
	t.Logf("%s was elected %v after the leader %s was SIGKILLed", elected.id, took.Round(time.Millisecond), old.id)
	// Raft's default timeouts (1s heartbeat, 1s election) and a few rounds.
	if took > 10*time.Second {
		t.Errorf("electing a new leader took %v", took)
	}

	// Writes through either survivor: the follower forwards to the new leader.
	for _, n := range survivors {
		c.createBucket(ctx, n, "while-down-via-"+n.id)
	}
	for _, n := range survivors {
		eventuallyCtx(t, ctx, n.id+" reads what both wrote", func() error {
			return c.hasBuckets(ctx, n, "before", "while-down-via-"+survivors[0].id, "while-down-via-"+survivors[1].id)
		})
	}

	back := c.launch(old.id, old.dataDir, c.gossipAddrs(old), 3, old)
	c.nodes[slices.Index(c.nodes, old)] = back
	if err := back.waitReady(); err != nil {
		t.Fatalf("restarted %s: %v", back.id, err)
	}
	eventuallyCtx(t, ctx, "the restarted node catches up", func() error {
		return c.hasBuckets(ctx, back, "before", "while-down-via-"+survivors[0].id, "while-down-via-"+survivors[1].id)
	})
	for _, n := range c.nodes {
		eventuallyCtx(t, ctx, n.id+" sees three healthy nodes", func() error {
			return c.servers(ctx, n, "node1", "node2", "node3")
		})
	}
	c.createBucket(ctx, back, "after-restart")
	for _, n := range c.nodes {
		eventuallyCtx(t, ctx, n.id+" reads a write through the restarted node", func() error {
			return c.hasBuckets(ctx, n, "after-restart")
		})
	}
}

// TestClusterNodeJoinsLater: a fourth node started later with only --join
// (bootstrap-expect 1, the default) becomes a voter and serves the cluster's
// metadata, and writes through it.
func TestClusterNodeJoinsLater(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := testCtx(t)
	c.createBucket(ctx, c.nodes[0], "before")

	late := c.launch("node4", t.TempDir(), []string{c.nodes[1].gossipAddr}, 1, nil)
	c.nodes = append(c.nodes, late)
	if err := late.waitReady(); err != nil {
		t.Fatalf("node4: %v", err)
	}
	eventuallyCtx(t, ctx, "node4 serves the cluster's buckets", func() error {
		return c.hasBuckets(ctx, late, "before")
	})
	for _, n := range c.nodes {
		eventuallyCtx(t, ctx, n.id+" sees four healthy voters", func() error {
			return c.servers(ctx, n, "node1", "node2", "node3", "node4")
		})
	}
	c.createBucket(ctx, late, "via-node4")
	for _, n := range c.nodes {
		eventuallyCtx(t, ctx, n.id+" reads a write through node4", func() error {
			return c.hasBuckets(ctx, n, "via-node4")
		})
	}
}

// TestClusterRemoveStoppedNode: `dakkio cluster remove` of a stopped node,
// sent to a follower, reaches the leader and takes the node out of Raft;
// writes go on with two voters. Removing it again is a 404. Removing the
// running leader hands leadership over and succeeds, but gossip still sees
// that node alive, so the new leader adds it back: the command is for nodes
// that are gone.
func TestClusterRemoveStoppedNode(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := testCtx(t)
	leader, followers := c.leader(ctx)
	gone, via := followers[0], followers[1]

	if st := gone.signal(syscall.SIGTERM, 20*time.Second); st.ExitCode() != 0 {
		t.Fatalf("%s exit after SIGTERM: %v", gone.id, st)
	}
	remove := func(id string, at *clusterNode) (code int, stdout, stderr string) {
		var out, errb bytes.Buffer
		code = run([]string{"cluster", "remove", id, "--addr", at.url, "--token", c.token}, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, stdout, stderr := remove(gone.id, via)
	if code != 0 || stdout != "removed "+gone.id+"\n" {
		t.Fatalf("cluster remove %s via %s: exit %d, stdout %q, stderr %q", gone.id, via.id, code, stdout, stderr)
	}
	if !strings.Contains(stderr, leader.url) {
		t.Errorf("the command did not say it went to the leader %s: %q", leader.url, stderr)
	}
	left := []string{leader.id, via.id}
	slices.Sort(left)
	for _, n := range []*clusterNode{leader, via} {
		eventuallyCtx(t, ctx, n.id+" sees two servers", func() error { return c.servers(ctx, n, left...) })
	}
	for _, n := range []*clusterNode{leader, via} {
		c.createBucket(ctx, n, "after-remove-via-"+n.id)
	}
	for _, n := range []*clusterNode{leader, via} {
		eventuallyCtx(t, ctx, n.id+" reads both writes", func() error {
			return c.hasBuckets(ctx, n, "after-remove-via-"+leader.id, "after-remove-via-"+via.id)
		})
	}

	code, _, stderr = remove(gone.id, leader)
	if code != 1 || !strings.Contains(stderr, "Not Found: Node not found") {
		t.Errorf("removing %s again: exit %d, stderr %q; want 1 and a 404", gone.id, code, stderr)
	}

	// The running leader, asked to remove itself, hands over and names the
	// new leader, which removes it; alive on gossip, it is added back.
	code, stdout, stderr = remove(leader.id, leader)
	if code != 0 || stdout != "removed "+leader.id+"\n" || !strings.Contains(stderr, via.url) {
		t.Fatalf("cluster remove of the leader %s: exit %d, stdout %q, stderr %q", leader.id, code, stdout, stderr)
	}
	eventuallyCtx(t, ctx, leader.id+" is added back while it runs", func() error { return c.servers(ctx, via, left...) })
	c.createBucket(ctx, leader, "after-leader-remove")
	eventuallyCtx(t, ctx, via.id+" reads it", func() error { return c.hasBuckets(ctx, via, "after-leader-remove") })
}

// TestClusterRemovesDeadNode: with --dead-node-timeout, the leader removes
// a SIGKILLed node from Raft once gossip has seen it dead that long (never
// sooner), and the survivors go on as a cluster of two.
func TestClusterRemovesDeadNode(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	c := startCluster(t, 3, "--dead-node-timeout", timeout.String())
	ctx := testCtx(t)
	leader, followers := c.leader(ctx)
	dead, via := followers[0], followers[1]
	dead.signal(syscall.SIGKILL, 10*time.Second)
	killed := time.Now()
	left := []string{leader.id, via.id}
	slices.Sort(left)
	eventuallyCtx(t, ctx, "the leader removes the dead node", func() error { return c.servers(ctx, leader, left...) })
	if since := time.Since(killed); since < timeout {
		t.Fatalf("%s removed %s after %s, sooner than --dead-node-timeout %s", leader.id, dead.id, since, timeout)
	}
	eventuallyCtx(t, ctx, via.id+" sees two servers", func() error { return c.servers(ctx, via, left...) })
	c.createBucket(ctx, via, "after-dead-node-removed")
	eventuallyCtx(t, ctx, leader.id+" reads it", func() error { return c.hasBuckets(ctx, leader, "after-dead-node-removed") })
}

// TestClusterRemoveOnLoneNode: a single node refuses to remove itself, the
// only voter, and does not know other nodes.
func TestClusterRemoveOnLoneNode(t *testing.T) {
	t.Parallel()
	token := secret.New(secret.OperatorPrefix)
	s := startServer(t, "lone node", t.TempDir(), []string{"DAKKIO_OPERATOR_TOKEN=" + token}, nil)
	for _, tt := range []struct{ id, want string }{
		{"node1", "error: Conflict: Cannot remove the only voter of the cluster"},
		{"node2", "error: Not Found: Node not found"},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"cluster", "remove", tt.id, "--addr", s.url, "--token", token}, &out, &errb)
		if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("cluster remove %s: exit %d, stdout %q, stderr %q; want 1 and %q", tt.id, code, out.String(), errb.String(), tt.want)
		}
	}
	st, err := s.operator(token).ClusterStatus(testCtx(t))
	if err != nil || len(st.Nodes) != 1 || st.LeaderID != "node1" {
		t.Fatalf("status after refusals: %+v, %v", st, err)
	}
}

// TestClusterSeedRestartsAfterSIGKILL: the first node, started without
// --join, is SIGKILLed and restarted with the same flags (still no --join);
// it remembers its gossip peers in its data directory, rejoins, and
// forwards writes again. (Restarted this soon, the others' gossip to the
// dead would reconnect it anyway; the remembered peers are what bring it
// back after memberlist has stopped trying, about 30 s after the death.)
func TestClusterSeedRestartsAfterSIGKILL(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := testCtx(t)
	seed := c.nodes[0]
	eventuallyCtx(t, ctx, "the seed remembers its peers", func() error {
		_, err := os.Stat(filepath.Join(seed.dataDir, "gossip-peers.json"))
		return err
	})
	seed.signal(syscall.SIGKILL, 10*time.Second)
	eventuallyCtx(t, ctx, "the others see the seed die", func() error {
		st, err := c.op(c.nodes[1]).ClusterStatus(ctx)
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.NodeID == seed.id && n.Healthy {
				return errors.New("seed still healthy")
			}
		}
		return nil
	})
	back := c.launch(seed.id, seed.dataDir, nil, 3, seed)
	c.nodes[0] = back
	if err := back.waitReady(); err != nil {
		t.Fatalf("restarted seed: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c.createBucket(wctx, back, "through-the-restarted-seed")
	eventuallyCtx(t, ctx, "another node reads it", func() error {
		return c.hasBuckets(ctx, c.nodes[1], "through-the-restarted-seed")
	})
}
