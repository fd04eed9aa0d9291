package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
	"github.com/dakkio/dakkio/jepsen/netslow"
)

// Nemeses, by name; "none" injects nothing.
var nemesisNames = []string{
	"none",
	"partition-halves", "partition-leader", "partition-ring", "partition-bridge",
	"kill", "kill-leader", "kill-all",
	"pause", "pause-leader",
	"mix",
	"net-slow", "pause-many", "clock", "membership", "disk", "disk-slow",
	"mixed",
}

// mixFaults are the faults mix chooses from (the first round's);
// mixedFaults, those mixed chooses from: every fault, the new ones too.
var (
	mixFaults   = nemesisNames[1:10]
	mixedFaults = append(append([]string(nil), mixFaults...), "net-slow", "pause-many", "clock", "membership", "disk", "disk-slow")
)

// needsDisk, needsThrottle and needsSpares tell which runs put the nodes'
// data on bounded filesystems, which can slow them, and which need free
// namespaces for fresh nodes.
func needsDisk(nemesis string) bool {
	return nemesis == "disk" || nemesis == "disk-slow" || nemesis == "mixed"
}
func needsThrottle(nemesis string) bool { return nemesis == "disk-slow" || nemesis == "mixed" }
func needsSpares(nemesis string) bool   { return nemesis == "membership" || nemesis == "mixed" }

// Nemesis injects one kind of fault in cycles: quiet, fault for Hold, heal.
type Nemesis struct {
	name   string
	c      *Cluster
	rec    *history.Recorder
	rng    *rand.Rand
	quiet  time.Duration
	hold   time.Duration
	log    io.Writer
	slots  int // namespaces the network has (members and spares)
	binary string

	mu      sync.Mutex
	killed  map[*Node]bool
	paused  map[*Node]bool
	slower  *netslow.Slower // made at the first net-slow fault
	slowed  bool
	clocked map[*Node]bool
	filled  map[*Node]string // node -> filler file
	// slowDisks are the nodes whose disks are throttled.
	slowDisks map[*Node]bool
	dropped   bool
	// errs are harness failures the run must report: a fault that was
	// asked for and could not be injected at all.
	errs []string
	// clockApplied counts clock offsets a node acknowledged.
	clockApplied, clockAsked int
}

func newNemesis(name string, c *Cluster, rec *history.Recorder, seed uint64, quiet, hold time.Duration, log io.Writer, slots int) *Nemesis {
	return &Nemesis{name: name, c: c, rec: rec, rng: rand.New(rand.NewPCG(seed, 0x6e656d)), quiet: quiet, hold: hold, log: log, slots: slots,
		killed: map[*Node]bool{}, paused: map[*Node]bool{}, clocked: map[*Node]bool{}, filled: map[*Node]string{}, slowDisks: map[*Node]bool{}}
}

func (n *Nemesis) logf(format string, args ...any) {
	fmt.Fprintf(n.log, "%s +%6.2fs %s\n", time.Now().Format("15:04:05.000"), float64(n.rec.Now())/1e9, fmt.Sprintf(format, args...))
}

// Errors are the harness failures of the nemesis.
func (n *Nemesis) Errors() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	errs := append([]string(nil), n.errs...)
	if n.clockAsked > 0 && n.clockApplied == 0 {
		errs = append(errs, fmt.Sprintf("no node acknowledged any of %d clock offsets: is the binary built with -tags chaosclock (make jepsen builds bin/dakkio-chaos)?", n.clockAsked))
	}
	return errs
}

// Run injects faults until ctx ends, then heals everything.
func (n *Nemesis) Run(ctx context.Context) {
	defer func() {
		n.Heal(context.Background())
		if n.slower != nil {
			if err := n.slower.Close(); err != nil {
				n.logf("closing the slow links: %v", err)
			}
		}
	}()
	if n.name == "none" {
		<-ctx.Done()
		return
	}
	for cycle := 0; cycle < 10_000; cycle++ {
		if !sleepCtx(ctx, n.quiet) {
			return
		}
		fault := n.name
		switch fault {
		case "mix":
			fault = mixFaults[n.rng.IntN(len(mixFaults))]
		case "mixed":
			fault = mixedFaults[n.rng.IntN(len(mixedFaults))]
		}
		n.inject(ctx, fault)
		if !sleepCtx(ctx, n.hold) {
			return
		}
		n.Heal(ctx)
	}
}

// sleepCtx sleeps d (a schedule interval, not a wait for a condition);
// false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// record adds a nemesis entry to the history and the log.
func (n *Nemesis) record(f, typ, value string, start int64) {
	n.rec.Add(history.Op{Process: history.NemesisProcess, F: f, Type: typ, Value: value, Start: start, End: n.rec.Now()})
	n.logf("%s %s %s", f, typ, value)
}

// shuffled returns the members' namespace indexes in random order.
func (n *Nemesis) shuffled() []int {
	var idx []int
	for _, nd := range n.c.Members() {
		idx = append(idx, nd.Index)
	}
	n.rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	return idx
}

func (n *Nemesis) randomMember() *Node {
	m := n.c.Members()
	return m[n.rng.IntN(len(m))]
}

func (n *Nemesis) leader(ctx context.Context) *Node {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := n.c.Leader(lctx)
	if err != nil {
		n.logf("cannot find the leader: %v; choosing a random node", err)
		return n.randomMember()
	}
	return l
}

func (n *Nemesis) inject(ctx context.Context, fault string) {
	start := n.rec.Now()
	idx := n.shuffled()
	N := len(idx)
	switch fault {
	case "partition-halves":
		n.partition(ctx, fault, groupsCut(idx[:N/2], idx[N/2:]), start)
	case "partition-leader":
		l := n.leader(ctx).Index
		rest := slices.DeleteFunc(idx, func(i int) bool { return i == l })
		n.partition(ctx, fault, groupsCut([]int{l}, rest), start)
	case "partition-ring":
		// Each node reaches itself and its two ring neighbours: every node
		// sees a majority, no two see the same one.
		cut := map[int][]int{}
		for p, a := range idx {
			for q, b := range idx {
				d := (q - p + N) % N
				if d != 0 && d != 1 && d != N-1 {
					cut[a] = append(cut[a], b)
				}
			}
		}
		n.partition(ctx, fault, cut, start)
	case "partition-bridge":
		// Two halves that only the bridge node sees both of.
		half := (N - 1) / 2
		n.partition(ctx, fault, groupsCut(idx[:half], idx[half+1:]), start)
	case "kill", "kill-leader", "kill-all":
		var victims []*Node
		switch fault {
		case "kill":
			victims = []*Node{n.randomMember()}
		case "kill-leader":
			victims = []*Node{n.leader(ctx)}
		default:
			victims = n.c.Members()
		}
		var ids []string
		for _, nd := range victims {
			n.c.Kill(nd)
			n.mu.Lock()
			n.killed[nd] = true
			n.mu.Unlock()
			ids = append(ids, nd.ID)
		}
		n.record("kill", history.OK, strings.Join(ids, ","), start)
	case "pause", "pause-leader", "pause-many":
		var victims []*Node
		switch fault {
		case "pause":
			victims = []*Node{n.randomMember()}
		case "pause-leader":
			victims = []*Node{n.leader(ctx)}
		default:
			// A majority: the cluster cannot commit until one resumes.
			for _, i := range idx[:N/2+1] {
				victims = append(victims, n.c.Member(i))
			}
		}
		var ids []string
		for _, nd := range victims {
			if nd != nil && nd.Signal(syscall.SIGSTOP) {
				n.mu.Lock()
				n.paused[nd] = true
				n.mu.Unlock()
				ids = append(ids, nd.ID)
			}
		}
		n.record("pause", history.OK, strings.Join(ids, ","), start)
	case "net-slow":
		n.slow(ctx, idx, start)
	case "clock":
		n.skewClocks(ctx, idx, start)
	case "membership":
		n.replaceMember(ctx, start)
	case "disk":
		n.fillDisk(n.randomMember(), start)
	case "disk-slow":
		n.slowDisk(ctx, start)
	default:
		n.logf("unknown fault %q", fault)
	}
}

// groupsCut cuts every node of a from every node of b.
func groupsCut(a, b []int) map[int][]int {
	cut := map[int][]int{}
	for _, x := range a {
		for _, y := range b {
			cut[x] = append(cut[x], y)
			cut[y] = append(cut[y], x)
		}
	}
	return cut
}

func (n *Nemesis) nodeID(index int) string {
	if nd := n.c.Member(index); nd != nil {
		return nd.ID
	}
	return fmt.Sprintf("ns%d", index)
}

func (n *Nemesis) partition(ctx context.Context, fault string, cut map[int][]int, start int64) {
	var desc []string
	nodes := make([]int, 0, len(cut))
	for i := range cut {
		nodes = append(nodes, i)
	}
	sort.Ints(nodes)
	typ := history.OK
	for _, i := range nodes {
		peers := append([]int(nil), cut[i]...)
		sort.Ints(peers)
		var ps []string
		for _, p := range peers {
			ps = append(ps, n.nodeID(p))
		}
		desc = append(desc, fmt.Sprintf("%s-x-{%s}", n.nodeID(i), strings.Join(ps, " ")))
		if err := setDrops(ctx, i, peers); err != nil {
			n.logf("cannot partition %s: %v", n.nodeID(i), err)
			typ = history.Info
		}
	}
	n.mu.Lock()
	n.dropped = true
	n.mu.Unlock()
	n.record("partition", typ, fault+" "+strings.Join(desc, " "), start)
}

// Heal removes every partition and netem qdisc, resumes paused nodes,
// restarts killed ones, sets every clock back, frees every filled disk and
// lifts every disk's limits.
// A membership change is not undone: the new membership is the cluster.
//
// Healing is cleanup: it runs on its own context, so that a run ending in
// the middle of it (ctx done) does not leave a partition in place, and a
// partition that could not be removed stays marked for the next Heal.
func (n *Nemesis) Heal(context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.mu.Lock()
	defer n.mu.Unlock()
	start := n.rec.Now()
	var did []string
	if n.dropped {
		if err := lab.Heal(ctx); err != nil {
			n.logf("cannot heal: %v", err)
		} else {
			n.dropped = false
			did = append(did, "partitions removed")
		}
	}
	if n.slowed {
		if err := n.slower.Clear(ctx); err != nil {
			n.logf("cannot restore the links: %v", err)
		}
		st := n.slower.Stats()
		did = append(did, fmt.Sprintf("links restored (so far %d packets delayed, %d dropped)", st.Delayed, st.Dropped))
		n.slowed = false
	}
	for nd, fill := range n.filled {
		if err := freeDisk(fill); err != nil {
			n.logf("cannot free %s's disk: %v", nd.ID, err)
		}
		did = append(did, "disk of "+nd.ID+" freed")
	}
	clear(n.filled)
	for nd := range n.slowDisks {
		if err := n.c.throttle.Clear(nd.disk); err != nil {
			n.logf("cannot restore %s's disk: %v", nd.ID, err)
			continue // still slow: the next heal tries again
		}
		delete(n.slowDisks, nd)
		did = append(did, "disk of "+nd.ID+" at full speed")
	}
	for nd := range n.clocked {
		n.setClock(nd, 0)
		did = append(did, "clock of "+nd.ID+" reset")
	}
	clear(n.clocked)
	for nd := range n.paused {
		nd.Signal(syscall.SIGCONT)
		did = append(did, "resumed "+nd.ID)
	}
	clear(n.paused)
	var restarted []string
	for nd := range n.killed {
		if n.c.Member(nd.Index) != nd {
			continue // removed meanwhile
		}
		if err := n.c.Start(nd); err != nil {
			n.logf("cannot restart %s: %v", nd.ID, err)
			continue
		}
		restarted = append(restarted, nd.ID)
	}
	sort.Strings(restarted)
	if len(restarted) > 0 {
		did = append(did, "restarted "+strings.Join(restarted, ","))
	}
	clear(n.killed)
	sort.Strings(did)
	if len(did) > 0 {
		n.record("heal", history.OK, strings.Join(did, "; "), start)
	}
}
