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
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/blockdisk"
)

// Ports every node uses on its own address.
const (
	httpPort   = 8080
	raftPort   = 8300
	gossipPort = 7946
)

// Node is one dakkio process in its namespace.
type Node struct {
	Index   int // 1-based: its namespace and address
	ID      string
	IP      string
	URL     string
	dataDir string
	logPath string
	// bootstrapExpect is 0 for the first members (--bootstrap-expect the
	// cluster size) and 1 for a node the membership nemesis added later.
	bootstrapExpect int
	// clockFile is where the clock nemesis writes the node's offset
	// (DAKKIO_CHAOS_CLOCK_FILE, read by a -tags chaosclock build).
	clockFile string
	// disk is the loop device of its bounded data filesystem, if any.
	disk string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	paused bool
}

// Cluster runs the nodes and knows the credentials. Its members change
// under the membership nemesis: read them with Members.
type Cluster struct {
	dir           string
	size          int // the first members, who bootstrap the cluster
	mu            sync.Mutex
	members       []*Node
	started       []*Node     // every node ever started, members or not, for Stop
	nextID        map[int]int // namespace index -> generation of the next fresh node there
	AdminKey      string
	OperatorToken string
	clusterKey    string
	bin           string
	rf            int
	chaosBug      string // DAKKIO_CHAOS_BUG of every node, for prove
	// diskSize, if not 0, puts each node's data on its own filesystem of
	// that many bytes (jepsen/blockdisk), for the disk nemesis to fill.
	diskSize int64
	// throttle, if set, holds every node's process, for the disk-slow
	// nemesis to limit a node's disk.
	throttle *blockdisk.Throttle
	hc       *http.Client
	logf     func(string, ...any)
}

func newCluster(bin, dir string, n, rf int, chaosBug, adminKey, opToken, clusterKey string, logf func(string, ...any)) *Cluster {
	c := &Cluster{dir: dir, size: n, nextID: map[int]int{}, AdminKey: adminKey, OperatorToken: opToken, clusterKey: clusterKey, bin: bin, rf: rf, chaosBug: chaosBug, logf: logf,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}}}
	for i := 1; i <= n; i++ {
		c.members = append(c.members, c.newNode(i, "n"+strconv.Itoa(i)))
	}
	return c
}

func (c *Cluster) newNode(index int, id string) *Node {
	return &Node{Index: index, ID: id, IP: nodeIP(index), URL: fmt.Sprintf("http://%s:%d", nodeIP(index), httpPort),
		dataDir: filepath.Join(c.dir, "data", id), logPath: filepath.Join(c.dir, "nodes", id+".log"),
		clockFile: filepath.Join(c.dir, "clock", id)}
}

// Members returns the nodes in the cluster now, in namespace order.
func (c *Cluster) Members() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.members...)
}

// Member returns the member in namespace index, or nil.
func (c *Cluster) Member(index int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nd := range c.members {
		if nd.Index == index {
			return nd
		}
	}
	return nil
}

// FreshNode returns a new node, not yet a member, in a namespace no member
// uses (below limit), with a name never used before; nil if every
// namespace is taken.
func (c *Cluster) FreshNode(limit int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	used := map[int]bool{}
	for _, nd := range c.members {
		used[nd.Index] = true
	}
	for i := 1; i <= limit; i++ {
		if used[i] {
			continue
		}
		gen := c.nextID[i]
		if i <= c.size && gen == 0 {
			gen = 1 // n1..n<size> were the first members
		}
		c.nextID[i] = gen + 1
		id := "n" + strconv.Itoa(i)
		if gen > 0 {
			id += "g" + strconv.Itoa(gen)
		}
		nd := c.newNode(i, id)
		nd.bootstrapExpect = 1
		return nd
	}
	return nil
}

// Admit makes nd a member; Retire takes it out (it must be stopped).
func (c *Cluster) Admit(nd *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = append(c.members, nd)
	sort.Slice(c.members, func(i, j int) bool { return c.members[i].Index < c.members[j].Index })
}

// Retire takes nd out of the members.
func (c *Cluster) Retire(nd *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = slices.DeleteFunc(c.members, func(o *Node) bool { return o == nd })
}

// Client returns a client for node nd with the given API key (and the
// operator token).
func (c *Cluster) Client(nd *Node, key string) *client.Client {
	return client.New(nd.URL, client.WithHTTPClient(c.hc), client.WithAPIKey(key), client.WithOperatorToken(c.OperatorToken))
}

// Node returns the member with the given id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Members() {
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
	if c.diskSize > 0 {
		dev, err := blockdisk.Mount(context.Background(), nd.dataDir, diskTag, c.diskSize)
		if err != nil {
			return err
		}
		nd.disk = dev
	}
	if err := os.MkdirAll(nd.dataDir, 0o700); err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(nd.logPath), filepath.Dir(nd.clockFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	join := ""
	for _, o := range c.Members() {
		if o == nd && nd.bootstrapExpect == 1 {
			continue // a fresh node joins the others
		}
		if join != "" {
			join += ","
		}
		join += fmt.Sprintf("%s:%d", o.IP, gossipPort)
	}
	expect := nd.bootstrapExpect
	if expect == 0 {
		expect = c.size
	}
	cmd := lab.Command(nd.Index, c.bin, "serve",
		"--node-id", nd.ID,
		"--data-dir", nd.dataDir,
		"--http-addr", fmt.Sprintf("%s:%d", nd.IP, httpPort),
		"--raft-addr", fmt.Sprintf("%s:%d", nd.IP, raftPort),
		"--gossip-addr", fmt.Sprintf("%s:%d", nd.IP, gossipPort),
		"--advertise-addr", nd.IP,
		"--join", join,
		"--bootstrap-expect", strconv.Itoa(expect),
		"--cluster-key", c.clusterKey,
		"--replication-factor", strconv.Itoa(c.rf),
		// The alert workload's webhook receiver listens on the bridge.
		"--webhook-allow-cidrs", lab.BridgeIP()+"/32",
	)
	cmd.Env = append(os.Environ(), "DAKKIO_INITIAL_ADMIN_KEY="+c.AdminKey, "DAKKIO_OPERATOR_TOKEN="+c.OperatorToken,
		"DAKKIO_CHAOS_CLOCK_FILE="+nd.clockFile)
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
	if c.throttle != nil {
		// ip netns exec execs the node: the pid is the node's.
		if err := c.throttle.Add(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
			return fmt.Errorf("cannot put %s in the disk group: %w", nd.ID, err)
		}
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	nd.cmd, nd.done, nd.paused = cmd, done, false
	c.mu.Lock()
	if !slices.Contains(c.started, nd) {
		c.started = append(c.started, nd)
	}
	c.mu.Unlock()
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
	c.mu.Lock()
	started := append([]*Node(nil), c.started...)
	c.mu.Unlock()
	for _, nd := range started {
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
		for _, nd := range c.Members() {
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
	for _, nd := range c.Members() {
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
	members := c.Members()
	for _, nd := range members {
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
			if healthy < len(members) {
				return fmt.Sprintf("leader %s sees %d of %d nodes healthy", leader, healthy, len(members))
			}
		}
	}
	return ""
}
