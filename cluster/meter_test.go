package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
)

// The meter tests model a cluster as meters with different NodeIDs over one
// store.State, changed only through NewLocalApplier(state).Apply: a shipment
// is then replicated the instant it is applied, which is the best case for
// enforcement; the bound on overshoot is about what was not shipped.

var meterJan = time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)

// meterClock is a settable clock.
type meterClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *meterClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *meterClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// meterApplier applies commands to a state, or fails while told to, and
// counts what it was asked.
type meterApplier struct {
	local *LocalApplier

	mu    sync.Mutex
	fail  bool
	calls int
	sent  []store.SetUsage
}

var errMeterApply = errors.New("no leader (test)")

func (a *meterApplier) Apply(ctx context.Context, cmd any) (any, error) {
	a.mu.Lock()
	a.calls++
	if su, ok := cmd.(store.SetUsage); ok {
		a.sent = append(a.sent, su)
	}
	fail := a.fail
	a.mu.Unlock()
	if fail {
		return nil, errMeterApply
	}
	return a.local.Apply(ctx, cmd)
}

func (a *meterApplier) setFail(f bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = f
}

func (a *meterApplier) numCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// meterCluster is one replicated state, its clock, and the meters of the
// nodes that share it.
type meterCluster struct {
	state *store.State
	clock *meterClock
	apply *meterApplier
}

func newMeterCluster(at time.Time) *meterCluster {
	state := store.NewState(1 << 20)
	return &meterCluster{state: state, clock: &meterClock{now: at}, apply: &meterApplier{local: NewLocalApplier(state)}}
}

// meter returns a meter for nodeID that ships every interval once started.
func (c *meterCluster) meter(nodeID string, interval time.Duration) *Meter {
	return NewMeter(MeterConfig{NodeID: nodeID, State: c.state, Apply: c.apply.Apply, Now: c.clock.Now, Interval: interval, Logger: testLogger()})
}

// recorded is the organization's count for the month as the state holds it,
// all nodes together.
func (c *meterCluster) recorded(month, org string) int64 {
	own, others := c.state.Usage(month, org, "")
	return own + others
}

// allowN asks m for n calls and returns how many it allowed.
func allowN(m *Meter, org string, limit int64, n int) (allowed int) {
	for range n {
		if _, ok := m.Allow(org, limit); ok {
			allowed++
		}
	}
	return allowed
}

func flush(t *testing.T, m *Meter) {
	t.Helper()
	if err := m.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestMeterAllowLimits(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		calls int
		// want is Allow's answer to each call in turn.
		want []bool
		used []int64
	}{
		{"unlimited", -1, 4, []bool{true, true, true, true}, []int64{1, 2, 3, 4}},
		{"any negative limit is unlimited", -5, 2, []bool{true, true}, []int64{1, 2}},
		{"zero allows nothing", 0, 3, []bool{false, false, false}, []int64{0, 0, 0}},
		{"one", 1, 3, []bool{true, false, false}, []int64{1, 1, 1}},
		{"refusals are not counted", 3, 6, []bool{true, true, true, false, false, false}, []int64{1, 2, 3, 3, 3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMeterCluster(meterJan)
			m := c.meter("n1", 0)
			for i := range tt.calls {
				used, ok := m.Allow("org", tt.limit)
				if ok != tt.want[i] || used != tt.used[i] {
					t.Fatalf("call %d: Allow = (%d, %v), want (%d, %v)", i+1, used, ok, tt.used[i], tt.want[i])
				}
			}
			if got := m.Used("org"); got != tt.used[tt.calls-1] {
				t.Errorf("Used = %d, want %d", got, tt.used[tt.calls-1])
			}
			if got := m.Used("other"); got != 0 {
				t.Errorf("another organization's Used = %d, want 0", got)
			}
		})
	}
}

// TestMeterLimitChanges: the limit is the caller's on every call, so a plan
// change applies to the next call both ways.
func TestMeterLimitChanges(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", 0)
	if got := allowN(m, "org", 3, 5); got != 3 {
		t.Fatalf("allowed %d of 5 at limit 3", got)
	}
	if used, ok := m.Allow("org", 10); !ok || used != 4 {
		t.Fatalf("after raising the limit: Allow = (%d, %v), want (4, true)", used, ok)
	}
	if used, ok := m.Allow("org", -1); !ok || used != 5 {
		t.Fatalf("unlimited: Allow = (%d, %v), want (5, true): calls count on every plan", used, ok)
	}
	if used, ok := m.Allow("org", 3); ok || used != 5 {
		t.Fatalf("after lowering the limit: Allow = (%d, %v), want (5, false)", used, ok)
	}
}

// TestMeterConcurrentAllow: one node never overshoots, however many
// requests race.
func TestMeterConcurrentAllow(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", time.Millisecond)
	m.Start()
	const limit = 500
	var allowed sync.Map
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if used, ok := m.Allow("org", limit); ok {
					if _, dup := allowed.LoadOrStore(used, fmt.Sprint(g, i)); dup {
						t.Errorf("two calls were both told they were call %d", used)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	allowed.Range(func(k, _ any) bool {
		if u := k.(int64); u < 1 || u > limit {
			t.Errorf("allowed call numbered %d, outside 1..%d", u, limit)
		}
		n++
		return true
	})
	if n != limit {
		t.Errorf("%d calls allowed, want %d", n, limit)
	}
	if got := c.recorded("2026-01", "org"); got != limit {
		t.Errorf("recorded %d calls, want %d", got, limit)
	}
}

// TestMeterNodes: each node enforces the others' shipped counts plus its
// own live count, and never counts its own shipment twice.
func TestMeterNodes(t *testing.T) {
	type step struct {
		node  int    // 0 or 1
		op    string // "allow" (n calls), "flush"
		n     int
		want  int   // calls allowed by this step
		used0 int64 // Used on node 0 afterwards
		used1 int64 // Used on node 1 afterwards
	}
	const limit = 10
	tests := []struct {
		name  string
		steps []step
	}{
		{"unshipped calls are invisible to the other node", []step{
			{node: 0, op: "allow", n: 4, want: 4, used0: 4, used1: 0},
			{node: 1, op: "allow", n: 4, want: 4, used0: 4, used1: 4},
		}},
		{"shipped calls count on the other node", []step{
			{node: 0, op: "allow", n: 4, want: 4, used0: 4},
			{node: 0, op: "flush", used0: 4, used1: 4},
			{node: 1, op: "allow", n: 10, want: 6, used0: 4, used1: 10},
			{node: 1, op: "flush", used0: 10, used1: 10},
			{node: 0, op: "allow", n: 1, want: 0, used0: 10, used1: 10},
		}},
		{"own shipment is not counted twice", []step{
			{node: 0, op: "allow", n: 6, want: 6, used0: 6},
			{node: 0, op: "flush", used0: 6, used1: 6},
			{node: 0, op: "flush", used0: 6, used1: 6},
			{node: 0, op: "allow", n: 10, want: 4, used0: 10, used1: 6},
		}},
		{"overshoot is what the other had not shipped", []step{
			{node: 0, op: "allow", n: 3, want: 3, used0: 3},
			{node: 0, op: "flush", used0: 3, used1: 3},
			{node: 1, op: "allow", n: 5, want: 5, used0: 3, used1: 8},
			{node: 0, op: "allow", n: 10, want: 7, used0: 10, used1: 8},
			// 3 + 5 + 7 = 15 = limit + node 1's 5 unshipped calls.
			{node: 1, op: "flush", used0: 15, used1: 8},
			{node: 0, op: "allow", n: 1, want: 0, used0: 15, used1: 8},
			{node: 0, op: "flush", used0: 15, used1: 15},
			{node: 1, op: "allow", n: 1, want: 0, used0: 15, used1: 15},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMeterCluster(meterJan)
			meters := []*Meter{c.meter("n0", 0), c.meter("n1", 0)}
			for i, s := range tt.steps {
				m := meters[s.node]
				switch s.op {
				case "allow":
					if got := allowN(m, "org", limit, s.n); got != s.want {
						t.Fatalf("step %d: node %d allowed %d of %d, want %d", i, s.node, got, s.n, s.want)
					}
				case "flush":
					flush(t, m)
				}
				if u0, u1 := meters[0].Used("org"), meters[1].Used("org"); u0 != s.used0 || u1 != s.used1 {
					t.Fatalf("step %d: Used = %d on node 0, %d on node 1; want %d, %d", i, u0, u1, s.used0, s.used1)
				}
			}
		})
	}
}

// TestMeterOvershootBound drives several nodes in rounds: each takes up to
// perRound calls between shipments. Whatever the interleaving, every allowed
// call leaves the true total within limit + the other nodes' unshipped
// calls, so within limit + (nodes-1) × perRound: the bound in meter.go.
func TestMeterOvershootBound(t *testing.T) {
	tests := []struct {
		name            string
		nodes, perRound int
		limit           int64
	}{
		{"two nodes", 2, 5, 50},
		{"three nodes", 3, 7, 100},
		{"five nodes, limit below one round", 5, 20, 10},
		{"one node never overshoots", 1, 9, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.nodes*1000+tt.perRound)))
			c := newMeterCluster(meterJan)
			meters := make([]*Meter, tt.nodes)
			taken := make([]int64, tt.nodes) // allowed calls per node
			for i := range meters {
				meters[i] = c.meter(fmt.Sprintf("n%d", i), 0)
			}
			unshipped := func(i int) int64 {
				own, _ := c.state.Usage("2026-01", "org", fmt.Sprintf("n%d", i))
				return taken[i] - own
			}
			var total int64
			for round := 0; round < 50; round++ {
				budget := make([]int, tt.nodes)
				for i := range budget {
					budget[i] = rng.IntN(tt.perRound + 1)
				}
				// Interleave the round's calls at random.
				for left := true; left; {
					left = false
					for _, i := range rng.Perm(tt.nodes) {
						if budget[i] == 0 {
							continue
						}
						left = true
						budget[i]--
						if _, ok := meters[i].Allow("org", tt.limit); !ok {
							continue
						}
						taken[i]++
						total++
						var othersUnshipped int64
						for j := range meters {
							if j != i {
								othersUnshipped += unshipped(j)
							}
						}
						if total > tt.limit+othersUnshipped {
							t.Fatalf("round %d: total %d > limit %d + others' unshipped %d", round, total, tt.limit, othersUnshipped)
						}
					}
				}
				for _, m := range meters {
					flush(t, m)
				}
			}
			if bound := tt.limit + int64((tt.nodes-1)*tt.perRound); total > bound {
				t.Errorf("total %d > documented bound %d", total, bound)
			}
			if total < tt.limit {
				t.Errorf("total %d < limit %d: calls were refused under the limit", total, tt.limit)
			}
			if got := c.recorded("2026-01", "org"); got != total {
				t.Errorf("recorded %d, want every allowed call (%d)", got, total)
			}
			for i, m := range meters {
				if _, ok := m.Allow("org", tt.limit); ok {
					t.Errorf("node %d allowed a call after everything was shipped", i)
				}
			}
		})
	}
}

// TestMeterFlushIdempotent: a shipment carries absolute counts, so shipping
// again, or applying a stale report late, changes nothing.
func TestMeterFlushIdempotent(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", 0)
	allowN(m, "a", -1, 5)
	allowN(m, "b", -1, 2)
	flush(t, m)
	first := encodedState(t, c.state)
	calls := c.apply.numCalls()

	flush(t, m)
	if got := c.apply.numCalls(); got != calls {
		t.Errorf("a flush with nothing new proposed %d commands", got-calls)
	}
	ctx := context.Background()
	stale := c.apply.sent[len(c.apply.sent)-1]
	tests := []struct {
		name string
		cmd  store.SetUsage
	}{
		{"the same report again", stale},
		{"an older, lower report", store.SetUsage{NodeID: "n1", Month: "2026-01", Counts: map[string]int64{"a": 1, "b": 1}}},
		{"a report without some organization", store.SetUsage{NodeID: "n1", Month: "2026-01", Counts: map[string]int64{"a": 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.apply.Apply(ctx, tt.cmd); err != nil {
				t.Fatal(err)
			}
			if got := encodedState(t, c.state); got != first {
				t.Errorf("state changed:\nbefore %s\nafter  %s", first, got)
			}
			if a, b := m.Used("a"), m.Used("b"); a != 5 || b != 2 {
				t.Errorf("Used = %d, %d; want 5, 2", a, b)
			}
		})
	}
}

// TestMeterFailedShipment: counts that could not be shipped stay pending and
// go with the next shipment, key uses included.
func TestMeterFailedShipment(t *testing.T) {
	c := newMeterCluster(meterJan)
	ctx := context.Background()
	var ids cmds
	boot := ids.bootstrap()
	if _, err := c.apply.Apply(ctx, boot); err != nil {
		t.Fatal(err)
	}
	keyID := boot.AdminKey.ID
	m := c.meter("n1", 0)
	other := c.meter("n2", 0)

	allowN(m, "org", -1, 3)
	m.Touch(keyID, meterJan.Add(time.Second))
	c.apply.setFail(true)
	if err := m.Flush(ctx); !errors.Is(err, errMeterApply) {
		t.Fatalf("Flush = %v, want the applier's error", err)
	}
	if got := c.recorded("2026-01", "org"); got != 0 {
		t.Fatalf("recorded %d after a failed shipment", got)
	}
	if _, ok := c.state.KeyLastUsed(keyID); ok {
		t.Fatal("key use recorded after a failed shipment")
	}
	// Meanwhile: more calls, a newer use of the key; the node still
	// enforces what it counted.
	allowN(m, "org", -1, 2)
	m.Touch(keyID, meterJan.Add(2*time.Second))
	if got := m.Used("org"); got != 5 {
		t.Fatalf("Used = %d during the outage, want 5", got)
	}
	if err := m.Flush(ctx); err == nil {
		t.Fatal("second Flush during the outage succeeded")
	}

	c.apply.setFail(false)
	flush(t, m)
	if got := c.recorded("2026-01", "org"); got != 5 {
		t.Errorf("recorded %d after recovery, want 5", got)
	}
	if got := other.Used("org"); got != 5 {
		t.Errorf("other node sees %d, want 5", got)
	}
	if at, ok := c.state.KeyLastUsed(keyID); !ok || !at.Equal(meterJan.Add(2*time.Second)) {
		t.Errorf("recorded key use = %v, %v; want the newest, %v", at, ok, meterJan.Add(2*time.Second))
	}

	// A key use whose shipment failed goes with the next one.
	m.Touch(keyID, meterJan.Add(3*time.Second))
	c.apply.setFail(true)
	_ = m.Flush(ctx)
	c.apply.setFail(false)
	flush(t, m)
	if at, _ := c.state.KeyLastUsed(keyID); !at.Equal(meterJan.Add(3 * time.Second)) {
		t.Errorf("recorded key use = %v, want %v", at, meterJan.Add(3*time.Second))
	}
}

// TestMeterRetriesInBackground: a started meter keeps trying after a failure.
func TestMeterRetriesInBackground(t *testing.T) {
	c := newMeterCluster(meterJan)
	c.apply.setFail(true)
	m := c.meter("n1", 5*time.Millisecond)
	m.Start()
	defer m.Close(context.Background())
	allowN(m, "org", -1, 4)
	deadline := time.Now().Add(5 * time.Second)
	for c.apply.numCalls() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("meter tried to ship %d times in 5s", c.apply.numCalls())
		}
		time.Sleep(time.Millisecond)
	}
	c.apply.setFail(false)
	for c.recorded("2026-01", "org") != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("recorded %d, want 4 once the cluster is back", c.recorded("2026-01", "org"))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMeterMonthRollover: a new calendar month (UTC) starts every count
// from zero; the old month's record stays as it was.
func TestMeterMonthRollover(t *testing.T) {
	const limit = 3
	tests := []struct {
		name string
		// flushBefore ships January's counts before the clock moves.
		flushBefore bool
	}{
		{"shipped before the month ends", true},
		{"still unshipped when the month ends", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMeterCluster(time.Date(2026, 1, 31, 23, 59, 59, 999999999, time.UTC))
			m, other := c.meter("n1", 0), c.meter("n2", 0)
			allowN(other, "org", limit, 1)
			flush(t, other)
			if got := allowN(m, "org", limit, 5); got != 2 {
				t.Fatalf("January: allowed %d, want 2", got)
			}
			if tt.flushBefore {
				flush(t, m)
			}

			c.clock.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
			if used, ok := m.Allow("org", limit); !ok || used != 1 {
				t.Fatalf("first call of February: Allow = (%d, %v), want (1, true)", used, ok)
			}
			if got := other.Used("org"); got != 0 {
				t.Errorf("other node's February Used = %d, want 0", got)
			}
			flush(t, m)
			if got := c.recorded("2026-02", "org"); got != 1 {
				t.Errorf("February recorded %d, want 1", got)
			}
			// No counted call is lost (docs/api.md, "Rate limits"): January's record
			// holds both nodes' calls, shipped or not when it ended.
			if got := c.recorded("2026-01", "org"); got != 3 {
				t.Errorf("January recorded %d, want 3", got)
			}
			// A meter made in February (a restart) resumes February.
			if used, ok := c.meter("n1", 0).Allow("org", limit); !ok || used != 2 {
				t.Errorf("after restart: Allow = (%d, %v), want (2, true)", used, ok)
			}
		})
	}
}

// TestMeterResumesAfterRestart: a new meter with the same node id starts
// from what that node shipped, so a restart neither forgets calls nor
// counts them twice.
func TestMeterResumesAfterRestart(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", 0)
	allowN(m, "org", -1, 7)
	other := c.meter("n2", 0)
	allowN(other, "org", -1, 2)
	flush(t, other)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	again := c.meter("n1", 0)
	if got := again.Used("org"); got != 9 {
		t.Fatalf("Used after restart = %d, want 9", got)
	}
	allowN(again, "org", -1, 1)
	flush(t, again)
	if own, others := c.state.Usage("2026-01", "org", "n1"); own != 8 || others != 2 {
		t.Errorf("recorded n1 %d, others %d; want 8, 2", own, others)
	}
}

// TestMeterResumesWhenLogReplaysLate: a node builds its meter before Raft
// has replayed the log (node.New, then Start waits for the replay), so this
// node's shipped counts can reach the state after NewMeter. The meter must
// still resume from them rather than from zero.
func TestMeterResumesWhenLogReplaysLate(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", 0)
	// The replayed log: what n1 shipped before the restart.
	if _, err := c.apply.Apply(context.Background(), store.SetUsage{NodeID: "n1", Month: "2026-01", Counts: map[string]int64{"org": 7}}); err != nil {
		t.Fatal(err)
	}
	if used, ok := m.Allow("org", 10); !ok || used != 8 {
		t.Errorf("Allow = (%d, %v), want (8, true): the restarted node forgot its shipped calls", used, ok)
	}
	flush(t, m)
	if got := c.recorded("2026-01", "org"); got != 8 {
		t.Errorf("recorded %d, want 8: a call after the restart was lost", got)
	}
}

// TestMeterClose: Close ships the last counts, started or not, and stops
// the shipping goroutine.
func TestMeterClose(t *testing.T) {
	tests := []struct {
		name  string
		start bool
	}{
		{"started", true},
		{"never started", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMeterCluster(meterJan)
			m := c.meter("n1", time.Hour)
			if tt.start {
				m.Start()
			}
			allowN(m, "org", -1, 3)
			if got := c.recorded("2026-01", "org"); got != 0 {
				t.Fatalf("recorded %d before Close with an hour's interval", got)
			}
			if err := m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := c.recorded("2026-01", "org"); got != 3 {
				t.Errorf("recorded %d after Close, want 3", got)
			}
			// Close has joined the shipping goroutine: nothing can
			// propose after it, so a flush now finds nothing to ship.
			calls := c.apply.numCalls()
			if err := m.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := c.apply.numCalls(); got != calls {
				t.Errorf("meter proposed %d commands after Close", got-calls)
			}
		})
	}
	t.Run("failing", func(t *testing.T) {
		c := newMeterCluster(meterJan)
		m := c.meter("n1", time.Hour)
		m.Start()
		allowN(m, "org", -1, 1)
		c.apply.setFail(true)
		if err := m.Close(context.Background()); !errors.Is(err, errMeterApply) {
			t.Errorf("Close = %v, want the applier's error", err)
		}
	})
}

// TestMeterShipsPeriodically: a started meter ships without being asked.
func TestMeterShipsPeriodically(t *testing.T) {
	c := newMeterCluster(meterJan)
	m := c.meter("n1", 5*time.Millisecond)
	m.Start()
	defer m.Close(context.Background())
	for want := int64(1); want <= 3; want++ {
		allowN(m, "org", -1, 1)
		deadline := time.Now().Add(5 * time.Second)
		for c.recorded("2026-01", "org") != want {
			if time.Now().After(deadline) {
				t.Fatalf("recorded %d, want %d", c.recorded("2026-01", "org"), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestMeterLastUsed: a key's last use is this node's if newer than the
// cluster's record; records of unknown (deleted) keys are dropped.
func TestMeterLastUsed(t *testing.T) {
	c := newMeterCluster(meterJan)
	ctx := context.Background()
	var ids cmds
	boot := ids.bootstrap()
	if _, err := c.apply.Apply(ctx, boot); err != nil {
		t.Fatal(err)
	}
	keyID := boot.AdminKey.ID
	m, other := c.meter("n1", 0), c.meter("n2", 0)
	t1, t2, t3 := meterJan.Add(time.Minute), meterJan.Add(2*time.Minute), meterJan.Add(3*time.Minute)

	steps := []struct {
		name        string
		do          func()
		mine, their time.Time // LastUsed on m and on other; zero: none
	}{
		{"never used", func() {}, time.Time{}, time.Time{}},
		{"used here, not shipped", func() { m.Touch(keyID, t2) }, t2, time.Time{}},
		{"shipped", func() { flush(t, m) }, t2, t2},
		{"older use elsewhere does not go back", func() { other.Touch(keyID, t1); flush(t, other) }, t2, t2},
		{"newer use elsewhere", func() { other.Touch(keyID, t3); flush(t, other) }, t3, t3},
		{"unknown key is not recorded", func() { m.Touch("ffffffffffffffffffffffff", t3); flush(t, m) }, t3, t3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			for _, c := range []struct {
				who  string
				m    *Meter
				want time.Time
			}{{"this node", m, s.mine}, {"other node", other, s.their}} {
				got, ok := c.m.LastUsed(keyID)
				if ok != !c.want.IsZero() || !got.Equal(c.want) {
					t.Errorf("%s: LastUsed = %v, %v; want %v", c.who, got, ok, c.want)
				}
			}
		})
	}
	if _, ok := c.state.KeyLastUsed("ffffffffffffffffffffffff"); ok {
		t.Error("use of an unknown key recorded")
	}
}

// TestMeterReservesForPeers: meters that know how many nodes count calls
// never let the nodes together pass the limit by more than n-1 calls when
// they see the same shipped counts: near the limit, and while shipments
// fail (no leader, a partition) when that starts with most of the quota
// spent but not its last tenth; and they still reach the limit once
// shipments go through again.
func TestMeterReservesForPeers(t *testing.T) {
	for _, nodes := range []int{2, 3, 5} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(nodes)))
			c := newMeterCluster(meterJan)
			meters := make([]*Meter, nodes)
			for i := range meters {
				meters[i] = NewMeter(MeterConfig{NodeID: fmt.Sprintf("n%d", i), State: c.state, Apply: c.apply.Apply,
					Now: c.clock.Now, Interval: time.Second, Logger: testLogger(), Peers: func() int { return nodes }})
			}
			const limit = 10000
			var total int64
			for round := range 150 {
				c.clock.Set(meterJan.Add(time.Duration(round) * time.Second))
				// Shipments fail for 20 rounds from 8,000 calls on.
				c.apply.setFail(round >= 40 && round < 60)
				for range 200 {
					if _, ok := meters[rng.IntN(nodes)].Allow("org", limit); ok {
						total++
					}
				}
				if total > limit+int64(nodes-1) {
					t.Fatalf("round %d: %d calls allowed, limit %d and %d nodes", round, total, limit, nodes)
				}
				for _, m := range meters {
					_ = m.Flush(context.Background())
				}
			}
			if total < limit {
				t.Fatalf("%d calls allowed in the end, want at least the limit %d", total, limit)
			}
		})
	}
}

// TestMeterCutOffNodeHoldsItsCalls: a node whose shipments stop going
// through (cut off from the leader while the others still ship) takes
// calls for at most staleAfter intervals, then holds them: the others
// cannot see what it takes, so all together stay within the limit plus
// nodes × rate × interval, and it takes calls again once it ships.
func TestMeterCutOffNodeHoldsItsCalls(t *testing.T) {
	const nodes, rate, limit = 3, 200, 10000
	c := newMeterCluster(meterJan)
	cut := &meterApplier{local: NewLocalApplier(c.state)}
	meters := make([]*Meter, nodes)
	for i := range meters {
		apply := c.apply.Apply
		if i == 0 {
			apply = cut.Apply
		}
		meters[i] = NewMeter(MeterConfig{NodeID: fmt.Sprintf("n%d", i), State: c.state, Apply: apply,
			Now: c.clock.Now, Interval: time.Second, Logger: testLogger(), Peers: func() int { return nodes }})
	}
	var total, byCut int64
	for round := range 100 {
		c.clock.Set(meterJan.Add(time.Duration(round) * time.Second))
		cut.setFail(round >= 5 && round < 95)
		for i, m := range meters {
			n := int64(allowN(m, "org", limit, rate))
			total += n
			if i == 0 && round >= 5 && round < 95 {
				byCut += n
			}
			_ = m.Flush(context.Background())
		}
		if total > limit+nodes*rate {
			t.Fatalf("round %d: %d calls allowed, more than the limit %d plus %d nodes × %d calls", round, total, limit, nodes, rate)
		}
	}
	if byCut > staleAfter*rate {
		t.Fatalf("the cut-off node took %d calls it could not ship, want at most %d intervals' worth (%d)", byCut, staleAfter, staleAfter*rate)
	}
	if byCut == 0 {
		t.Fatal("the cut-off node refused at once; it may take calls until its counts are staleAfter intervals old")
	}
	if total < limit {
		t.Fatalf("%d calls allowed in the end, want the limit %d once the cut-off node ships again", total, limit)
	}
}
