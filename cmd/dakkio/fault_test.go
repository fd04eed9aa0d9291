package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/store/points"
)

// These tests inject faults into clusters of real `dakkio serve` processes
// (SIGKILL, SIGSTOP, node removal) and check the promises of
// docs/cluster.md: writes at quorum go on with a replica down, and once the
// fault heals and repair has run every replica holds every acknowledged
// point, whoever coordinated the writes.

// faultArgs shorten the replication loops so that the tests settle fast.
var faultArgs = []string{"--repair-interval", "500ms", "--read-hedge", "200ms"}

// series is the test bucket and its one source.
type series struct{ bucket, source string }

func (c *testCluster) newSeries(ctx context.Context, via *clusterNode, name string) series {
	c.t.Helper()
	b, err := c.admin(via).CreateBucket(ctx, client.CreateBucketRequest{Name: name, RetentionDays: ptr(3650)})
	if err != nil {
		c.t.Fatal(err)
	}
	src, err := c.admin(via).CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		c.t.Fatal(err)
	}
	return series{b.ID, src.ID}
}

// ingest records which points were acknowledged.
type ingest struct {
	s     series
	base  time.Time
	next  int
	acked map[int64]bool // point times, Unix ns
}

func newIngest(s series) *ingest {
	return &ingest{s: s, base: time.Now().Add(-6 * time.Hour).Truncate(time.Hour), acked: map[int64]bool{}}
}

// write sends batches of 50 new points through n at consistency level and
// returns how many batches were acknowledged.
func (in *ingest) write(ctx context.Context, cl *client.Client, batches int, level string) (acked int, lastErr error) {
	for range batches {
		pts := make([]client.PointInput, 50)
		for j := range pts {
			ts := in.base.Add(time.Duration(in.next) * time.Second)
			in.next++
			pts[j] = client.PointInput{DataSourceID: in.s.source, Timestamp: ts, Values: map[string]any{"v": float64(in.next % 97)}}
		}
		if _, err := cl.WriteBatch(ctx, client.WriteBatchRequest{BucketID: in.s.bucket, DataPoints: pts, Consistency: client.Consistency(level)}); err != nil {
			lastErr = err
			continue
		}
		acked++
		for _, p := range pts {
			in.acked[p.Timestamp.UnixNano()] = true
		}
	}
	return acked, lastErr
}

// missing returns how many acknowledged points a complete read through n
// (refusing partial answers) lacks.
func (in *ingest) missing(ctx context.Context, cl *client.Client) (int, error) {
	seen := map[int64]bool{}
	for offset := 0; ; offset += 1000 {
		q, err := cl.Query(ctx, client.QueryRequest{BucketID: in.s.bucket, RefusePartial: true,
			Filters: client.QueryFilters{DataSourceID: in.s.source, Limit: 1000, Offset: offset}})
		if err != nil {
			return 0, err
		}
		for _, r := range q.Data {
			seen[r.Timestamp.UnixNano()] = true
		}
		if !q.Metadata.HasMore {
			break
		}
	}
	n := 0
	for ts := range in.acked {
		if !seen[ts] {
			n++
		}
	}
	return n, nil
}

// localDigests asks n, as another node would, for the digests of the points
// it holds itself: the proof that a replica, not only the cluster, has them.
func (c *testCluster) localDigests(ctx context.Context, n *clusterNode, bucket string) ([]points.HourDigest, error) {
	body, _ := json.Marshal(map[string]any{"op": "digests", "range": points.Range{BucketID: bucket, Start: 0, End: math.MaxInt64}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/internal/points", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	key := nodeauth.DeriveKey(c.key, nodeauth.PurposeRPC)
	req.Header.Set(nodeauth.HeaderName, nodeauth.Sign(key, http.MethodPost, "/internal/points", body, time.Now()))
	resp, err := n.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d: %s", n.id, resp.StatusCode, answer)
	}
	var ds []points.HourDigest
	return ds, json.Unmarshal(answer, &ds)
}

// settled waits until every given replica holds exactly the same points,
// as many as were acknowledged or more (a refused write may have reached
// some), and every node answers every acknowledged point.
func (c *testCluster) settled(ctx context.Context, in *ingest, replicas []*clusterNode, readers []*clusterNode) {
	c.t.Helper()
	eventuallyCtx(c.t, ctx, "the replicas converge", func() error {
		var first []points.HourDigest
		for i, n := range replicas {
			ds, err := c.localDigests(ctx, n, in.s.bucket)
			if err != nil {
				return err
			}
			var count int64
			for _, d := range ds {
				count += d.Count
			}
			if count < int64(len(in.acked)) {
				return fmt.Errorf("%s holds %d points, %d were acknowledged", n.id, count, len(in.acked))
			}
			if i == 0 {
				first = ds
			} else if !slices.Equal(ds, first) {
				return fmt.Errorf("%s and %s hold different points", replicas[0].id, n.id)
			}
		}
		return nil
	})
	for _, n := range readers {
		eventuallyCtx(c.t, ctx, n.id+" answers every acknowledged point", func() error {
			m, err := in.missing(ctx, c.admin(n))
			if err == nil && m > 0 {
				err = fmt.Errorf("%d acknowledged points missing", m)
			}
			return err
		})
	}
}

// hints returns how many hints n holds for target.
func (c *testCluster) hints(ctx context.Context, n *clusterNode, target string) (int64, error) {
	st, err := c.op(n).ClusterStatus(ctx)
	if err != nil {
		return 0, err
	}
	for _, q := range st.HintedHandoff {
		if q.Target == target {
			return q.Hints, nil
		}
	}
	return 0, nil
}

func faultCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestFaultQuorumWithReplicaKilled: with one of three replicas SIGKILLed,
// writes at quorum and one through both survivors are acknowledged and at
// all refused; the coordinators queue hints; the restarted replica gets
// them, and afterwards all three hold the same points and every node
// answers every acknowledged one.
func TestFaultQuorumWithReplicaKilled(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, faultArgs...)
	ctx := faultCtx(t)
	leader, followers := c.leader(ctx)
	s := c.newSeries(ctx, leader, "killed-replica")
	in := newIngest(s)
	if n, err := in.write(ctx, c.admin(followers[0]), 4, ""); n != 4 {
		t.Fatalf("healthy cluster: %d of 4 batches acknowledged: %v", n, err)
	}

	victim := followers[1]
	victim.signal(syscall.SIGKILL, 10*time.Second)
	for _, via := range []*clusterNode{leader, followers[0]} {
		if n, err := in.write(ctx, c.admin(via), 5, "quorum"); n != 5 {
			t.Fatalf("quorum through %s with %s down: %d of 5 acknowledged: %v", via.id, victim.id, n, err)
		}
		if n, err := in.write(ctx, c.admin(via), 2, "one"); n != 2 {
			t.Fatalf("one through %s with %s down: %d of 2 acknowledged: %v", via.id, victim.id, n, err)
		}
		n, err := in.write(ctx, c.admin(via), 1, "all")
		if n != 0 || !client.IsStatus(err, http.StatusServiceUnavailable) {
			t.Fatalf("all through %s with %s down: %d acknowledged, %v; want 503", via.id, victim.id, n, err)
		}
		// A hint is queued when the write to the victim fails, which may
		// come after the acknowledgement.
		eventuallyCtx(t, ctx, via.id+" queues hints for "+victim.id, func() error {
			h, err := c.hints(ctx, via, victim.id)
			if err == nil && h < 8 {
				err = fmt.Errorf("%d hints, want at least 8", h)
			}
			return err
		})
	}

	back := c.launch(victim.id, victim.dataDir, c.gossipAddrs(victim), 3, victim)
	c.nodes[slices.Index(c.nodes, victim)] = back
	if err := back.waitReady(); err != nil {
		t.Fatal(err)
	}
	for _, via := range []*clusterNode{leader, followers[0]} {
		eventuallyCtx(t, ctx, via.id+" replays its hints", func() error {
			h, err := c.hints(ctx, via, victim.id)
			if err == nil && h > 0 {
				err = fmt.Errorf("%d hints left", h)
			}
			return err
		})
	}
	c.settled(ctx, in, c.nodes, c.nodes)
}

// TestFaultCoordinatorLostRepairCovers: a coordinator takes writes while a
// replica is down, so it alone holds their hints; then it freezes
// (SIGSTOP) and is killed for good. The returning replica gets the points
// from the third replica by anti-entropy repair.
func TestFaultCoordinatorLostRepairCovers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, faultArgs...)
	ctx := faultCtx(t)
	leader, followers := c.leader(ctx)
	s := c.newSeries(ctx, leader, "lost-coordinator")
	in := newIngest(s)
	down, coordinator, third := followers[0], followers[1], leader

	down.signal(syscall.SIGKILL, 10*time.Second)
	if n, err := in.write(ctx, c.admin(coordinator), 10, "quorum"); n != 10 {
		t.Fatalf("quorum through %s with %s down: %d of 10: %v", coordinator.id, down.id, n, err)
	}
	eventuallyCtx(t, ctx, coordinator.id+" queues a hint per batch", func() error {
		h, err := c.hints(ctx, coordinator, down.id)
		if err == nil && h != 10 {
			err = fmt.Errorf("%d hints, want 10", h)
		}
		return err
	})
	if err := coordinator.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	back := c.launch(down.id, down.dataDir, []string{third.gossipAddr}, 3, down)
	c.nodes[slices.Index(c.nodes, down)] = back
	if err := back.waitReady(); err != nil {
		t.Fatal(err)
	}
	c.settled(ctx, in, []*clusterNode{back, third}, []*clusterNode{back, third})
	// The coordinator never comes back: its hints die with it.
	coordinator.signal(syscall.SIGKILL, 10*time.Second)
	st, err := c.op(back).ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Repair == nil || st.Repair.PointsRepaired < int64(len(in.acked)) {
		t.Fatalf("%s repaired %+v, want at least the %d points it missed", back.id, st.Repair, len(in.acked))
	}
}

// TestFaultPausedReplica: a replica frozen with SIGSTOP holds writes up to
// the replica timeout at most; quorum writes go on, and after SIGCONT the
// replica knows it may have missed writes, so its reads refuse to be
// complete until hints or repair have caught it up.
func TestFaultPausedReplica(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, faultArgs...)
	ctx := faultCtx(t)
	leader, followers := c.leader(ctx)
	s := c.newSeries(ctx, leader, "paused-replica")
	in := newIngest(s)
	paused := followers[1]
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := in.write(ctx, c.admin(followers[0]), 6, "quorum"); n != 6 {
		t.Fatalf("quorum with %s paused: %d of 6: %v", paused.id, n, err)
	}
	t.Logf("6 quorum batches with a paused replica took %v", time.Since(start).Round(time.Millisecond))
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.settled(ctx, in, c.nodes, c.nodes)
}

// TestFaultRemovedNodeReReplicated: on four nodes with replication factor
// 3, a replica of a bucket is killed and removed; the leader gives the
// bucket a new replica, which copies it from the survivors, serves reads
// once caught up, and then holds every point.
func TestFaultRemovedNodeReReplicated(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 4, faultArgs...)
	ctx := faultCtx(t)
	leader, _ := c.leader(ctx)
	s := c.newSeries(ctx, leader, "moving")
	in := newIngest(s)
	if n, err := in.write(ctx, c.admin(leader), 20, ""); n != 20 {
		t.Fatalf("%d of 20 batches: %v", n, err)
	}
	st, err := c.op(leader).ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reps := st.Placement[s.bucket]
	if len(reps) != 3 {
		t.Fatalf("bucket placed on %v, want 3 replicas", reps)
	}
	var victim *clusterNode
	for _, n := range c.nodes {
		if n != leader && slices.Contains(reps, n.id) {
			victim = n
		}
	}
	victim.signal(syscall.SIGKILL, 10*time.Second)
	var out, errb bytes.Buffer
	if code := run([]string{"cluster", "remove", victim.id, "--addr", leader.url, "--token", c.token}, &out, &errb); code != 0 {
		t.Fatalf("cluster remove %s: exit %d: %s", victim.id, code, errb.String())
	}
	var placed []string
	eventuallyCtx(t, ctx, "the bucket is re-replicated", func() error {
		st, err := c.op(leader).ClusterStatus(ctx)
		if err != nil {
			return err
		}
		placed = st.Placement[s.bucket]
		if m, moving := st.Moves[s.bucket]; moving {
			return fmt.Errorf("still moving: %+v", m)
		}
		if len(placed) != 3 || slices.Contains(placed, victim.id) {
			return fmt.Errorf("placed on %v", placed)
		}
		return nil
	})
	added := slices.DeleteFunc(slices.Clone(placed), func(id string) bool { return slices.Contains(reps, id) })
	if len(added) != 1 {
		t.Fatalf("replicas went from %v to %v: want one new node", reps, placed)
	}
	t.Logf("replicas of the bucket: %v, then %v after %s was removed", reps, placed, victim.id)
	var replicas []*clusterNode
	for _, n := range c.running() {
		if slices.Contains(placed, n.id) {
			replicas = append(replicas, n)
		}
	}
	c.settled(ctx, in, replicas, c.running())
	// Writes after the move reach the new replica too.
	if n, err := in.write(ctx, c.admin(replicas[0]), 2, "all"); n != 2 {
		t.Fatalf("writes at all after the move: %d of 2: %v", n, err)
	}
	c.settled(ctx, in, replicas, c.running())
}

// TestFaultRebalanceOntoNewNode: buckets placed on three nodes stay there
// when a fourth joins, until `dakkio cluster rebalance` moves those whose
// placement now includes it: the new replica copies the bucket, then the
// one it replaces leaves it, and the bucket's replicas hold every point.
func TestFaultRebalanceOntoNewNode(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, faultArgs...)
	ctx := faultCtx(t)
	leader, _ := c.leader(ctx)
	var ingests []*ingest
	for i := range 8 {
		in := newIngest(c.newSeries(ctx, leader, fmt.Sprintf("b%d", i)))
		if n, err := in.write(ctx, c.admin(leader), 2, ""); n != 2 {
			t.Fatalf("%d of 2 batches: %v", n, err)
		}
		ingests = append(ingests, in)
	}
	// Every copy complete first, so that each replica that leaves has one
	// to delete.
	for _, in := range ingests {
		c.settled(ctx, in, c.nodes, nil)
	}
	fourth := c.launch("node4", t.TempDir(), c.gossipAddrs(nil), 1, nil)
	c.nodes = append(c.nodes, fourth)
	if err := fourth.waitReady(); err != nil {
		t.Fatal(err)
	}
	eventuallyCtx(t, ctx, "node4 is a server", func() error { return c.servers(ctx, leader, "node1", "node2", "node3", "node4") })

	var out, errb bytes.Buffer
	if code := run([]string{"cluster", "rebalance", "--json", "--addr", leader.url, "--token", c.token}, &out, &errb); code != 0 {
		t.Fatalf("cluster rebalance: exit %d: %s", code, errb.String())
	}
	var env struct {
		Data client.RebalanceResult `json:"data"`
	}
	if err := json.Unmarshal(out.Bytes(), &env); err != nil {
		t.Fatalf("rebalance output %q: %v", out.String(), err)
	}
	res := env.Data
	if len(res.Moves) == 0 {
		t.Fatal("no bucket moved onto the new node")
	}
	for _, m := range res.Moves {
		if !slices.Equal(m.Pending, []string{"node4"}) || len(m.Leaving) != 1 {
			t.Fatalf("move %+v: want node4 pending and one replica leaving", m)
		}
	}
	t.Logf("%d of 8 buckets move onto node4", len(res.Moves))
	var placement map[string][]string
	eventuallyCtx(t, ctx, "every move completes", func() error {
		st, err := c.op(leader).ClusterStatus(ctx)
		if err != nil {
			return err
		}
		if len(st.Moves) > 0 {
			return fmt.Errorf("%d buckets still moving", len(st.Moves))
		}
		placement = st.Placement
		return nil
	})
	for _, m := range res.Moves {
		reps := placement[m.Bucket]
		if len(reps) != 3 || !slices.Contains(reps, "node4") || slices.Contains(reps, m.Leaving[0]) {
			t.Fatalf("bucket %s placed on %v after its move %+v", m.Bucket, reps, m)
		}
		var replicas []*clusterNode
		for _, n := range c.nodes {
			if slices.Contains(reps, n.id) {
				replicas = append(replicas, n)
			}
		}
		for _, in := range ingests {
			if in.s.bucket == m.Bucket {
				c.settled(ctx, in, replicas, []*clusterNode{fourth})
			}
		}
	}
	// The replicas that left delete their copies (after a grace of 10 s),
	// and every node still answers every point from the new replicas.
	byID := map[string]*clusterNode{}
	for _, n := range c.nodes {
		byID[n.id] = n
	}
	for _, m := range res.Moves {
		left := byID[m.Leaving[0]]
		eventuallyCtx(t, ctx, left.id+" deletes its copy of a bucket that moved away", func() error {
			ds, err := c.localDigests(ctx, left, m.Bucket)
			if err != nil {
				return err
			}
			if len(ds) > 0 {
				return fmt.Errorf("%s still holds %d source-hours of %s", left.id, len(ds), m.Bucket)
			}
			return nil
		})
	}
	eventuallyCtx(t, ctx, "the nodes count the copies they deleted", func() error {
		dropped := int64(0)
		for _, n := range c.nodes {
			st, err := c.op(n).ClusterStatus(ctx)
			if err != nil {
				return err
			}
			if st.Repair != nil {
				dropped += st.Repair.MovedAwayDropped
			}
		}
		if dropped < int64(len(res.Moves)) { // more if a late hint brought points back
			return fmt.Errorf("nodes report %d moved-away copies deleted, want %d", dropped, len(res.Moves))
		}
		return nil
	})
	for _, in := range ingests {
		for _, n := range c.nodes {
			if m, err := in.missing(ctx, c.admin(n)); err != nil || m > 0 {
				t.Fatalf("after the moved-away copies went, %s misses %d points of %s: %v", n.id, m, in.s.bucket, err)
			}
		}
	}
	// A second rebalance has nothing left to do.
	out.Reset()
	if code := run([]string{"cluster", "rebalance", "--addr", leader.url, "--token", c.token}, &out, &errb); code != 0 || !bytes.Contains(out.Bytes(), []byte("every bucket is on the replicas")) {
		t.Fatalf("second rebalance: exit %d, %q", code, out.String())
	}
}
