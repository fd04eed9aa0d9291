package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/netlab"
	"github.com/dakkio/dakkio/internal/secret"
)

// startLabCluster runs a node in each of the lab's hosts, on the host's own
// address, and waits until all are ready. Node i+1 runs on host i+1.
func startLabCluster(t *testing.T, lab *netlab.Lab, size int, args ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, key: secret.New("k"), adminKey: secret.New(secret.AdminPrefix), token: secret.New(secret.OperatorPrefix), args: args}
	bin := dakkioBinary(t)
	for i := 1; i <= size; i++ {
		ip := lab.HostIP(i)
		id := fmt.Sprintf("node%d", i)
		s := &server{
			t: t, name: id, dataDir: t.TempDir(),
			env:      []string{"DAKKIO_INITIAL_ADMIN_KEY=" + c.adminKey, "DAKKIO_OPERATOR_TOKEN=" + c.token},
			httpAddr: ip + ":8080", raftAddr: ip + ":8300", url: "http://" + ip + ":8080",
			out: &syncBuffer{}, done: make(chan struct{}),
			hc: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		}
		argv := []string{"netns", "exec", lab.Namespace(i), bin, "serve", "--node-id", id, "--data-dir", s.dataDir,
			"--http-addr", s.httpAddr, "--raft-addr", s.raftAddr, "--gossip-addr", ip + ":7946", "--advertise-addr", ip,
			"--cluster-key", c.key, "--bootstrap-expect", fmt.Sprint(size), "--log-level", "debug"}
		if i > 1 {
			argv = append(argv, "--join", lab.HostIP(1)+":7946")
		}
		s.spawn("ip", append(argv, args...))
		c.nodes = append(c.nodes, &clusterNode{server: s, id: id, gossipAddr: ip + ":7946"})
	}
	for _, n := range c.nodes {
		if err := n.waitReady(); err != nil {
			t.Fatalf("%s did not become ready: %v", n.id, err)
		}
	}
	return c
}

// needLab fails the test when network namespaces cannot be used here,
// unless DAKKIO_SKIP_NETNS=1 says to skip such tests on purpose.
func needLab(t *testing.T) {
	t.Helper()
	if err := netlab.Available(); err != nil {
		if os.Getenv("DAKKIO_SKIP_NETNS") == "1" {
			t.Skipf("DAKKIO_SKIP_NETNS=1: %v", err)
		}
		t.Fatalf("%v (run as root with iproute2 and iptables, or set DAKKIO_SKIP_NETNS=1 to skip)", err)
	}
}

// newLab builds a lab of hosts on subnet for the test and removes it after
// (needLab first: the test fails, or skips on purpose, where it cannot).
func newLab(t *testing.T, ctx context.Context, subnet string, hosts int) *netlab.Lab {
	t.Helper()
	needLab(t)
	lab, err := netlab.New(ctx, subnet, hosts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("removing the lab: %v", err)
		}
	})
	return lab
}

// TestFaultNetworkCut: each node in its own network namespace; one
// follower is cut off from the other two (every packet dropped both ways:
// Raft, gossip, internal HTTP). Writes at quorum through the majority are
// acknowledged; the cut-off node refuses writes it cannot replicate. After
// the cut heals, every replica holds every acknowledged point.
func TestFaultNetworkCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lab := newLab(t, ctx, "10.78.1", 3)
	c := startLabCluster(t, lab, 3, faultArgs...)
	leader, followers := c.leader(ctx)
	s := c.newSeries(ctx, leader, "cut")
	in := newIngest(s)
	if n, err := in.write(ctx, c.admin(followers[0]), 4, ""); n != 4 {
		t.Fatalf("healthy: %d of 4: %v", n, err)
	}

	cut := followers[1]
	host := slices.Index(c.nodes, cut) + 1
	if err := lab.Isolate(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut %s (%s) off from the others", cut.id, lab.HostIP(host))
	for _, via := range []*clusterNode{leader, followers[0]} {
		if n, err := in.write(ctx, c.admin(via), 5, "quorum"); n != 5 {
			t.Fatalf("quorum through %s with %s cut off: %d of 5: %v", via.id, cut.id, n, err)
		}
	}
	// The cut-off node can store a write only on itself: below quorum.
	n, err := in.write(ctx, c.admin(cut), 1, "quorum")
	if n != 0 || !client.IsStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("quorum write through the cut-off %s: %d acknowledged, %v; want 503", cut.id, n, err)
	}
	if err := lab.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	c.settled(ctx, in, c.nodes, c.nodes)
}

// TestFaultPartialCut: node3 cannot reach node1 but both still reach node2,
// so gossip (which probes through others) keeps calling everyone alive.
// node3 notices it cannot reach node1 itself and stops claiming its copy is
// complete: a read through it that refuses partial answers is either
// complete or refused, never short. After the cut heals, all converge.
func TestFaultPartialCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lab := newLab(t, ctx, "10.78.2", 3)
	c := startLabCluster(t, lab, 3, faultArgs...)
	leader, _ := c.leader(ctx)
	s := c.newSeries(ctx, leader, "partial-cut")
	in := newIngest(s)
	if n, err := in.write(ctx, c.admin(c.nodes[0]), 2, ""); n != 2 {
		t.Fatalf("healthy: %d of 2: %v", n, err)
	}
	if err := lab.Cut(ctx, 3, 1); err != nil {
		t.Fatal(err)
	}
	if err := lab.Cut(ctx, 1, 3); err != nil {
		t.Fatal(err)
	}
	eventuallyCtx(t, ctx, "node3 sees its copy may be incomplete", func() error {
		st, err := c.op(c.nodes[2]).ClusterStatus(ctx)
		if err != nil {
			return err
		}
		if st.Repair == nil || st.Repair.BucketsBehind == 0 {
			return fmt.Errorf("repair status %+v", st.Repair)
		}
		return nil
	})
	for round := range 5 {
		if n, err := in.write(ctx, c.admin(c.nodes[0]), 2, "quorum"); n != 2 {
			t.Fatalf("quorum through node1 with node3 cut from it: %d of 2: %v", n, err)
		}
		m, err := in.missing(ctx, c.admin(c.nodes[2]))
		if err == nil && m > 0 {
			t.Fatalf("round %d: a read through node3 claimed to be complete and lacks %d acknowledged points", round, m)
		}
	}
	if err := lab.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	c.settled(ctx, in, c.nodes, c.nodes)
}
