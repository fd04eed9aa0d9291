package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/client"
)

// Ports every node uses on its own address.
const (
	httpPort   = 8080
	raftPort   = 8300
	gossipPort = 7946
)

// Node is one dakkio process in its namespace.
type Node struct {
	Index   int // 1-based
	ID      string
	IP      string
	URL     string
	dataDir string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	paused bool
}

// Cluster runs the nodes and knows the credentials.
type Cluster struct {
	Nodes         []*Node
	AdminKey      string
	OperatorToken string
	clusterKey    string
	bin           string
	rf            int
	chaosBug      string // DAKKIO_CHAOS_BUG of every node, for prove
	hc            *http.Client
	logf          func(string, ...any)
}

func newCluster(bin, dir string, n, rf int, chaosBug, adminKey, opToken, clusterKey string, logf func(string, ...any)) *Cluster {
	c := &Cluster{AdminKey: adminKey, OperatorToken: opToken, clusterKey: clusterKey, bin: bin, rf: rf, chaosBug: chaosBug, logf: logf,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}}}
	for i := 1; i <= n; i++ {
		id := "n" + strconv.Itoa(i)
		c.Nodes = append(c.Nodes, &Node{Index: i, ID: id, IP: nodeIP(i), URL: fmt.Sprintf("http://%s:%d", nodeIP(i), httpPort),
			dataDir: filepath.Join(dir, "data", id), logPath: filepath.Join(dir, "nodes", id+".log")})
	}
	return c
}

// Client returns a client for node nd with the given API key (and the
// operator token).
func (c *Cluster) Client(nd *Node, key string) *client.Client {
	return client.New(nd.URL, client.WithHTTPClient(c.hc), client.WithAPIKey(key), client.WithOperatorToken(c.OperatorToken))
}

// Node returns the node with the given id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Start starts node nd (again, after a kill: same data dir).
func (c *Cluster) Start(nd *Node) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		select {
		case <-nd.done:
		default:
			return nil // running
		}
	}
	if err := os.MkdirAll(nd.dataDir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(nd.logPath), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	join := ""
	for _, o := range c.Nodes {
		if join != "" {
			join += ","
		}
		join += fmt.Sprintf("%s:%d", o.IP, gossipPort)
	}
	cmd := lab.Command(nd.Index, c.bin, "serve",
		"--node-id", nd.ID,
		"--data-dir", nd.dataDir,
		"--http-addr", fmt.Sprintf("%s:%d", nd.IP, httpPort),
		"--raft-addr", fmt.Sprintf("%s:%d", nd.IP, raftPort),
		"--gossip-addr", fmt.Sprintf("%s:%d", nd.IP, gossipPort),
		"--advertise-addr", nd.IP,
		"--join", join,
		"--bootstrap-expect", strconv.Itoa(len(c.Nodes)),
		"--cluster-key", c.clusterKey,
		"--replication-factor", strconv.Itoa(c.rf),
	)
	cmd.Env = append(os.Environ(), "DAKKIO_INITIAL_ADMIN_KEY="+c.AdminKey, "DAKKIO_OPERATOR_TOKEN="+c.OperatorToken)
	if c.chaosBug != "" {
		cmd.Env = append(cmd.Env, "DAKKIO_CHAOS_BUG="+c.chaosBug)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The node dies with the harness, whatever kills the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "==== jepsen: starting %s at %s\n", nd.ID, time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start %s: %w", nd.ID, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	nd.cmd, nd.done, nd.paused = cmd, done, false
	return nil
}

// Running reports whether the node's process is alive.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the node's process; false if it is not running.
func (nd *Node) Signal(sig syscall.Signal) bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil || nd.cmd.Process == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
	}
	if err := nd.cmd.Process.Signal(sig); err != nil {
		return false
	}
	switch sig {
	case syscall.SIGSTOP:
		nd.paused = true
	case syscall.SIGCONT, syscall.SIGKILL:
		nd.paused = false
	}
	return true
}

// Paused reports whether the nemesis stopped the node with SIGSTOP.
func (nd *Node) Paused() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.paused
}

// Wait waits up to timeout for the process to exit.
func (nd *Node) Wait(timeout time.Duration) bool {
	nd.mu.Lock()
	done := nd.done
	nd.mu.Unlock()
	if done == nil {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Kill kills the node with SIGKILL and waits for it to exit.
func (c *Cluster) Kill(nd *Node) {
	if nd.Signal(syscall.SIGKILL) && !nd.Wait(30*time.Second) {
		c.logf("%s did not exit 30s after SIGKILL", nd.ID)
	}
}

// Stop stops every node: SIGTERM, then SIGKILL after grace.
func (c *Cluster) Stop(grace time.Duration) {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.Signal(syscall.SIGCONT)
			if !nd.Signal(syscall.SIGTERM) {
				return
			}
			if !nd.Wait(grace) {
				c.logf("%s still running %s after SIGTERM: killing it", nd.ID, grace)
				c.Kill(nd)
			}
		}()
	}
	wg.Wait()
}

// WaitReady polls /ready on every node until all answer 200 or the deadline.
func (c *Cluster) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var notReady []string
		for _, nd := range c.Nodes {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			if err := c.Client(nd, "").Ready(rctx); err != nil {
				notReady = append(notReady, nd.ID)
			}
			rcancel()
		}
		if len(notReady) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes %v not ready after %s", notReady, timeout)
		case <-tick.C:
		}
	}
}

// Leader asks the nodes who leads; it returns the leader named by the
// answer with the highest term, or an error if none knows.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	var best *client.ClusterStatus
	for _, nd := range c.Nodes {
		if !nd.Running() || nd.Paused() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Client(nd, "").ClusterStatus(sctx)
		cancel()
		if err != nil || st.LeaderID == "" {
			continue
		}
		if best == nil || st.Raft.Term > best.Raft.Term {
			best = st
		}
	}
	if best == nil {
		return nil, errors.New("no node knows a leader")
	}
	if nd := c.Node(best.LeaderID); nd != nil {
		return nd, nil
	}
	return nil, fmt.Errorf("unknown leader %q", best.LeaderID)
}

// WaitConverged waits until every node is ready and all agree on one leader
// that sees every node healthy.
func (c *Cluster) WaitConverged(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := "not checked"
	for {
		if err := c.WaitReady(ctx, timeout); err != nil {
			last = err.Error()
		} else if why := c.disagreement(ctx); why != "" {
			last = why
		} else {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not converged after %s: %s", timeout, last)
		case <-tick.C:
		}
	}
}

func (c *Cluster) disagreement(ctx context.Context) string {
	leader := ""
	for _, nd := range c.Nodes {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := c.Client(nd, "").ClusterStatus(sctx)
		cancel()
		if err != nil {
			return fmt.Sprintf("%s: %v", nd.ID, err)
		}
		if st.LeaderID == "" || (leader != "" && st.LeaderID != leader) {
			return fmt.Sprintf("%s sees leader %q, others %q", nd.ID, st.LeaderID, leader)
		}
		leader = st.LeaderID
		if st.NodeID == leader {
			healthy := 0
			for _, ns := range st.Nodes {
				if ns.Healthy {
					healthy++
				}
			}
			if healthy < len(c.Nodes) {
				return fmt.Sprintf("leader %s sees %d of %d nodes healthy", leader, healthy, len(c.Nodes))
			}
		}
	}
	return ""
}
