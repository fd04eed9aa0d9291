package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// fakeCluster is the replicated state and gossip's view, shared by every
// fake node.
type fakeCluster struct {
	mu         sync.Mutex
	nodes      []string
	down       map[string]bool
	placements map[string]store.PlacementView
	retention  map[string]int
}

func newFakeCluster(nodes ...string) *fakeCluster {
	return &fakeCluster{nodes: nodes, down: map[string]bool{}, placements: map[string]store.PlacementView{}, retention: map[string]int{}}
}

// place creates the bucket (retention 10 years) on replicas.
func (c *fakeCluster) place(bucketID string, replicas ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.placements[bucketID] = store.PlacementView{Replicas: replicas}
	c.retention[bucketID] = 3650
}

func (c *fakeCluster) setDown(id string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down[id] = down
}

func (c *fakeCluster) isDown(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down[id]
}

func (c *fakeCluster) Clustered() bool { return true }
func (c *fakeCluster) Placement(bucketID string) store.PlacementView {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.placements[bucketID]
	return store.PlacementView{Replicas: slices.Clone(p.Replicas), Pending: slices.Clone(p.Pending), Leaving: slices.Clone(p.Leaving)}
}
func (c *fakeCluster) Placements() map[string]store.PlacementView {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.placements)
}
func (c *fakeCluster) Retention(bucketID string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.retention[bucketID]
	return d, ok
}
func (c *fakeCluster) Alive(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.nodes, id) && !c.down[id]
}
func (c *fakeCluster) AliveIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(c.nodes), func(id string) bool { return c.down[id] })
}
func (c *fakeCluster) Servers() []string      { return slices.Clone(c.nodes) }
func (c *fakeCluster) IsLeader() bool         { return false }
func (c *fakeCluster) LastContact() time.Time { return time.Now() }

// fakeNode is one node: its points store and its Replicator.
type fakeNode struct {
	id    string
	db    *points.DB
	repl  *Replicator
	hints *Hints
	// slow makes every call to this node wait until its caller gives up.
	slow bool
}

// fakeNet routes calls between fake nodes in process: writes and points
// calls go through peerrpc's encodings and handler, as over HTTP.
type fakeNet struct {
	mu      sync.Mutex
	cluster *fakeCluster
	nodes   map[string]*fakeNode
	calls   map[string]int // by target, of points reads
}

func newFakeNet(c *fakeCluster) *fakeNet {
	return &fakeNet{cluster: c, nodes: map[string]*fakeNode{}, calls: map[string]int{}}
}

// add starts a node with its own in-memory store and, when hinted, a hint
// queue.
func (fn *fakeNet) add(t *testing.T, id string, cfg Config, hinted bool) *fakeNode {
	t.Helper()
	db, err := points.Open(points.Config{InMemory: true, Dir: t.TempDir(), MinFreeBytes: -1, Retention: func(b string) (time.Duration, bool) {
		d, ok := fn.cluster.Retention(b)
		return time.Duration(d) * 24 * time.Hour, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	n := &fakeNode{id: id, db: db}
	if hinted {
		n.hints, err = OpenHints(HintsConfig{Dir: t.TempDir(), MaxBytes: 1 << 20, MaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.hints.Close() })
	}
	cfg.SetDefaults()
	n.repl = New(cfg, Deps{
		Self: id, Local: db, Peers: fakePeers{fn}, Cluster: fn.cluster, Hints: n.hints,
		WriteLive: db.Write, WriteHistory: db.Write,
		IsEvaluator: func(string) bool { return false },
		CaughtUp:    func(context.Context, string) error { return nil },
		ReadBarrier: func(context.Context) error { return nil },
		Logger:      slog.New(slog.DiscardHandler),
	})
	t.Cleanup(n.repl.Stop)
	fn.mu.Lock()
	fn.nodes[id] = n
	fn.mu.Unlock()
	return n
}

// reach returns the node called, or an error as a dead node's call would.
func (fn *fakeNet) reach(ctx context.Context, id string) (*fakeNode, error) {
	fn.mu.Lock()
	n := fn.nodes[id]
	fn.mu.Unlock()
	if n == nil || fn.cluster.isDown(id) {
		return nil, fmt.Errorf("cannot call %q: %w", id, peerrpc.ErrNotAlive)
	}
	if n.slow {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return n, nil
}

func (fn *fakeNet) readsOf(id string) int {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.calls[id]
}

// points serves req on the node through peerrpc.PointsHandler.
func (fn *fakeNet) points(ctx context.Context, id string, req peerrpc.PointsRequest, out any) error {
	fn.mu.Lock()
	fn.calls[id]++
	fn.mu.Unlock()
	n, err := fn.reach(ctx, id)
	if err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	h := peerrpc.PointsHandler(peerrpc.PointsConfig{
		DB:          n.db,
		WaitApplied: func(context.Context, uint64) error { return nil },
		InSync:      n.repl.ReplicaInSync,
	})
	a := h(ctx, body)
	switch {
	case a.Status == http.StatusBadRequest:
		return fmt.Errorf("%w: %s", points.ErrBadQuery, a.Body)
	case a.Status != http.StatusOK:
		return errors.New(string(a.Body))
	case out == nil:
		return nil
	}
	return json.Unmarshal(a.Body, out)
}

// fakePeers is Peers over a fakeNet.
type fakePeers struct{ fn *fakeNet }

func (p fakePeers) Write(ctx context.Context, id string, body []byte) error {
	n, err := p.fn.reach(ctx, id)
	if err != nil {
		return err
	}
	if a := n.repl.ServeWrite(ctx, body); a.Status != http.StatusOK {
		return errors.New(string(a.Body))
	}
	return nil
}

func (p fakePeers) Read(ctx context.Context, id string, req peerrpc.PointsRequest) (peerrpc.ReadAnswer, error) {
	var a peerrpc.ReadAnswer
	err := p.fn.points(ctx, id, req, &a)
	return a, err
}

func (p fakePeers) Digests(ctx context.Context, id string, rg points.Range) ([]points.HourDigest, error) {
	var d []points.HourDigest
	err := p.fn.points(ctx, id, peerrpc.PointsRequest{Op: peerrpc.OpDigests, Range: &rg}, &d)
	return d, err
}

func (p fakePeers) HourPoints(ctx context.Context, id, bucketID, sourceID string, hour int64) ([]points.Point, error) {
	var pts []points.Point
	err := p.fn.points(ctx, id, peerrpc.PointsRequest{Op: peerrpc.OpHour, Bucket: bucketID, Source: sourceID, Hour: hour}, &pts)
	return pts, err
}

func (p fakePeers) Ping(ctx context.Context, id string) error {
	return p.fn.points(ctx, id, peerrpc.PointsRequest{Op: peerrpc.OpPing}, nil)
}

// Ids of the tests' bucket and source.
const (
	testBucket = "6b0990ecf6fffd09dc560b84"
	testSource = "6b0990ecf6fffd09dc560b85"
)

// testPoints returns n points of testSource, a second apart, from an hour
// ago plus offset seconds.
func testPoints(n, offset int) []points.Point {
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	pts := make([]points.Point, n)
	for i := range pts {
		pts[i] = points.Point{SourceID: testSource, TS: start.Add(time.Duration(offset+i) * time.Second).UnixNano(),
			Values: []points.Value{{Field: "v", Kind: points.KindNumber, Num: float64(i)}}}
	}
	return pts
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		case <-tick.C:
		}
	}
}
