package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Nemeses, by name; "none" injects nothing.
var nemesisNames = []string{
	"none",
	"partition-halves", "partition-leader", "partition-ring", "partition-bridge",
	"kill", "kill-leader", "kill-all",
	"pause", "pause-leader",
	"mix",
}

// faultNames are the nemeses mix chooses from.
var faultNames = nemesisNames[1 : len(nemesisNames)-1]

// Nemesis injects one kind of fault in cycles: quiet, fault for Hold, heal.
type Nemesis struct {
	name  string
	c     *Cluster
	rec   *history.Recorder
	rng   *rand.Rand
	quiet time.Duration
	hold  time.Duration
	log   io.Writer

	mu      sync.Mutex
	killed  map[int]bool // node index -> killed by the nemesis
	paused  map[int]bool
	dropped bool
}

func newNemesis(name string, c *Cluster, rec *history.Recorder, seed uint64, quiet, hold time.Duration, log io.Writer) *Nemesis {
	return &Nemesis{name: name, c: c, rec: rec, rng: rand.New(rand.NewPCG(seed, 0x6e656d)), quiet: quiet, hold: hold, log: log,
		killed: map[int]bool{}, paused: map[int]bool{}}
}

func (n *Nemesis) logf(format string, args ...any) {
	fmt.Fprintf(n.log, "%s +%6.2fs %s\n", time.Now().Format("15:04:05.000"), float64(n.rec.Now())/1e9, fmt.Sprintf(format, args...))
}

// Run injects faults until ctx ends, then heals everything.
func (n *Nemesis) Run(ctx context.Context) {
	defer n.Heal(context.Background())
	if n.name == "none" {
		<-ctx.Done()
		return
	}
	for cycle := 0; cycle < 10_000; cycle++ {
		if !sleepCtx(ctx, n.quiet) {
			return
		}
		fault := n.name
		if fault == "mix" {
			fault = faultNames[n.rng.IntN(len(faultNames))]
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

func (n *Nemesis) shuffled() []int {
	idx := make([]int, len(n.c.Nodes))
	for i := range idx {
		idx[i] = i + 1
	}
	n.rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	return idx
}

func (n *Nemesis) leaderIndex(ctx context.Context) (int, bool) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := n.c.Leader(lctx)
	if err != nil {
		n.logf("cannot find the leader: %v; choosing a random node", err)
		return 1 + n.rng.IntN(len(n.c.Nodes)), false
	}
	return l.Index, true
}

func (n *Nemesis) inject(ctx context.Context, fault string) {
	start := n.rec.Now()
	N := len(n.c.Nodes)
	switch fault {
	case "partition-halves":
		idx := n.shuffled()
		n.partition(ctx, fault, groupsCut(idx[:N/2], idx[N/2:]), start)
	case "partition-leader":
		l, _ := n.leaderIndex(ctx)
		var rest []int
		for i := 1; i <= N; i++ {
			if i != l {
				rest = append(rest, i)
			}
		}
		n.partition(ctx, fault, groupsCut([]int{l}, rest), start)
	case "partition-ring":
		// Each node reaches itself and its two ring neighbours: every node
		// sees a majority, no two see the same one.
		idx := n.shuffled()
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
		idx := n.shuffled()
		half := (N - 1) / 2
		n.partition(ctx, fault, groupsCut(idx[:half], idx[half+1:]), start)
	case "kill", "kill-leader", "kill-all":
		var victims []int
		switch fault {
		case "kill":
			victims = []int{1 + n.rng.IntN(N)}
		case "kill-leader":
			l, _ := n.leaderIndex(ctx)
			victims = []int{l}
		default:
			victims = n.shuffled()
		}
		var ids []string
		for _, v := range victims {
			nd := n.c.Nodes[v-1]
			n.c.Kill(nd)
			n.mu.Lock()
			n.killed[v] = true
			n.mu.Unlock()
			ids = append(ids, nd.ID)
		}
		n.record("kill", history.OK, strings.Join(ids, ","), start)
	case "pause", "pause-leader":
		v := 1 + n.rng.IntN(N)
		if fault == "pause-leader" {
			v, _ = n.leaderIndex(ctx)
		}
		nd := n.c.Nodes[v-1]
		if nd.Signal(syscall.SIGSTOP) {
			n.mu.Lock()
			n.paused[v] = true
			n.mu.Unlock()
		}
		n.record("pause", history.OK, nd.ID, start)
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
			ps = append(ps, n.c.Nodes[p-1].ID)
		}
		desc = append(desc, fmt.Sprintf("%s-x-{%s}", n.c.Nodes[i-1].ID, strings.Join(ps, " ")))
		if err := setDrops(ctx, i, peers); err != nil {
			n.logf("cannot partition %s: %v", n.c.Nodes[i-1].ID, err)
			typ = history.Info
		}
	}
	n.mu.Lock()
	n.dropped = true
	n.mu.Unlock()
	n.record("partition", typ, fault+" "+strings.Join(desc, " "), start)
}

// Heal removes every partition, resumes paused nodes and restarts killed
// ones.
func (n *Nemesis) Heal(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	start := n.rec.Now()
	var did []string
	if n.dropped {
		if err := lab.Heal(ctx); err != nil {
			n.logf("cannot heal: %v", err)
		}
		n.dropped = false
		did = append(did, "partitions removed")
	}
	for i := range n.paused {
		nd := n.c.Nodes[i-1]
		nd.Signal(syscall.SIGCONT)
		did = append(did, "resumed "+nd.ID)
	}
	clear(n.paused)
	var restarted []string
	for i := range n.killed {
		nd := n.c.Nodes[i-1]
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
	if len(did) > 0 {
		n.record("heal", history.OK, strings.Join(did, "; "), start)
	}
}
