package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

func leaderOf(t *testing.T, nodes []*testnode.Node) (leader *testnode.Node, others []*testnode.Node) {
	t.Helper()
	for _, n := range nodes {
		st, err := n.Operator.ClusterStatus(context.Background())
		if err != nil {
			continue
		}
		for _, m := range nodes {
			if m.Config.NodeID == st.LeaderID {
				leader = m
			}
		}
		if leader != nil {
			break
		}
	}
	if leader == nil {
		t.Fatal("no node knows a leader")
	}
	for _, n := range nodes {
		if n != leader {
			others = append(others, n)
		}
	}
	return leader, others
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("%s: %v", what, err)
		case <-tick.C:
		}
	}
}

// TestClusterMetadata: three nodes bootstrap one Raft group through gossip;
// metadata written through any node (followers forward to the leader) is
// read back through every node; names stay unique under concurrent creates
// through all nodes; a deleted key is refused everywhere.
func TestClusterMetadata(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()

	st, err := nodes[0].Operator.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || st.LeaderID == "" {
		t.Fatalf("cluster status: %d nodes, leader %q", len(st.Nodes), st.LeaderID)
	}
	for _, ns := range st.Nodes {
		if ns.HTTPAddress == "" || !ns.Healthy || ns.RaftAddress == "" || !ns.Voter {
			t.Errorf("cluster status of %s: %+v", ns.NodeID, ns)
		}
	}

	// Concurrent creates through all nodes: each name exists once.
	var wg sync.WaitGroup
	for i, n := range nodes {
		for j := 0; j < 5; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, name := range []string{fmt.Sprintf("shared-%d", j), fmt.Sprintf("n%d-%d", i, j)} {
					if _, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: name}); err != nil && !client.IsStatus(err, http.StatusConflict) {
						t.Errorf("create %s via node %d: %v", name, i+1, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d sees every bucket once", i+1), func() error {
			list, err := n.Admin.ListBuckets(ctx, client.Page{Limit: 1000})
			if err != nil {
				return err
			}
			seen := map[string]int{}
			for _, b := range list.Data {
				seen[b.Name]++
			}
			if len(list.Data) != 20 || len(seen) != 20 {
				return fmt.Errorf("%d buckets, %d names (want 20 and 20)", len(list.Data), len(seen))
			}
			return nil
		})
	}

	// Every bucket has a valid replica set: three distinct cluster nodes.
	st, err = nodes[0].Operator.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Placement) != 20 {
		t.Errorf("placement for %d buckets, want 20", len(st.Placement))
	}
	for b, reps := range st.Placement {
		uniq := map[string]bool{}
		for _, id := range reps {
			if id != "node1" && id != "node2" && id != "node3" {
				t.Errorf("bucket %s placed on unknown node %q", b, id)
			}
			uniq[id] = true
		}
		if len(uniq) != 3 {
			t.Errorf("bucket %s replicas %v, want 3 distinct nodes", b, reps)
		}
	}

	// A key created through one follower and deleted through another is
	// refused by every node.
	_, followers := leaderOf(t, nodes)
	bucket, err := followers[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "keys"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := followers[0].Admin.CreateKey(ctx, bucket.ID, client.CreateKeyRequest{Name: "w", Type: "write"})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d accepts the new key", i+1), func() error {
			_, err := n.Client(key.Key).ListSources(ctx, bucket.ID, client.Page{})
			return err
		})
	}
	if _, err := followers[1].Admin.DeleteKey(ctx, bucket.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d refuses the deleted key", i+1), func() error {
			_, err := n.Client(key.Key).ListSources(ctx, bucket.ID, client.Page{})
			if !client.IsStatus(err, http.StatusUnauthorized) {
				return fmt.Errorf("want 401, got %v", err)
			}
			return nil
		})
	}
}

// TestClusterLeaderLoss: when the leader stops, the others elect a new one
// and metadata writes through them go on.
func TestClusterLeaderLoss(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	leader, others := leaderOf(t, nodes)
	if err := leader.Close(); err != nil {
		t.Fatalf("closing the leader: %v", err)
	}
	eventually(t, "a write through a survivor after the leader left", func() error {
		_, err := others[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: fmt.Sprintf("after-%d", time.Now().UnixNano())})
		return err
	})
	eventually(t, "the other survivor reads it", func() error {
		list, err := others[1].Admin.ListBuckets(ctx, client.Page{})
		if err != nil {
			return err
		}
		if list.Pagination.Total != 1 {
			return fmt.Errorf("%d buckets, want 1", list.Pagination.Total)
		}
		return nil
	})
}

// TestClusterNodeJoinsLater: a node started later with --join becomes a
// Raft member and serves the cluster's metadata.
func TestClusterNodeJoinsLater(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	if _, err := nodes[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	late := testnode.Start(t, func(cfg *node.Config) {
		cfg.NodeID, cfg.GossipAddr, cfg.ClusterKey = "node4", "127.0.0.1:0", nodes[0].Config.ClusterKey
		cfg.Join = []string{nodes[0].GossipAddr()}
		cfg.InitialAdminKey, cfg.OperatorToken = nodes[0].AdminKey, nodes[0].OperatorToken
	})
	eventually(t, "the late node serves the cluster's buckets", func() error {
		list, err := late.Admin.ListBuckets(ctx, client.Page{})
		if err != nil {
			return err
		}
		if list.Pagination.Total != 1 || list.Data[0].Name != "before" {
			return fmt.Errorf("buckets %+v", list.Data)
		}
		return nil
	})
	st, err := nodes[0].Operator.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 4 {
		t.Fatalf("raft configuration has %d servers, want 4", len(st.Nodes))
	}
}

// TestInternalEndpointNeedsTheClusterKey: /internal/apply refuses requests
// not signed with the cluster key, and does not exist on a lone node.
func TestInternalEndpointNeedsTheClusterKey(t *testing.T) {
	nodes := testnode.StartCluster(t, 1)
	lone := testnode.Start(t)
	body := []byte(`{}`)
	cases := []struct {
		name   string
		url    string
		header string
		status int
	}{
		{"unsigned", nodes[0].URL, "", http.StatusUnauthorized},
		{"signed with another key", nodes[0].URL, nodeauth.Sign(nodeauth.DeriveKey("some other key!!", nodeauth.PurposeRPC), "POST", "/internal/apply", body, time.Now()), http.StatusUnauthorized},
		{"signed for another body", nodes[0].URL, nodeauth.Sign(nodeauth.DeriveKey(nodes[0].Config.ClusterKey, nodeauth.PurposeRPC), "POST", "/internal/apply", []byte("x"), time.Now()), http.StatusUnauthorized},
		{"signed right, garbage command", nodes[0].URL, nodeauth.Sign(nodeauth.DeriveKey(nodes[0].Config.ClusterKey, nodeauth.PurposeRPC), "POST", "/internal/apply", body, time.Now()), http.StatusBadRequest},
		{"lone node", lone.URL, "", http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, c.url+"/internal/apply", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if c.header != "" {
				req.Header.Set(nodeauth.HeaderName, c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}

// TestClusterPointsRouting: with replication factor 2 on three nodes, one
// node holds none of a bucket's points; writes through every node reach the
// replicas, and every node answers queries, stats and analytics the same.
func TestClusterPointsRouting(t *testing.T) {
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.ReplicationFactor = 2 })
	ctx := context.Background()
	bucket, err := nodes[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "routed", RetentionDays: ptr(3650)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := nodes[0].Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}
	// No wait: a node that does not know the source yet catches up with
	// the leader before it refuses the writes below.
	var placement map[string][]string
	var doc struct {
		Placement map[string][]string `json:"placement"`
	}
	// The client's ClusterStatus does not type the placement: read it raw.
	resp, err := nodes[2].Operator.Do(ctx, http.MethodGet, "/api/operator/cluster", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &env); err != nil || json.Unmarshal(env.Data, &doc) != nil {
		t.Fatalf("cluster status %s: %v", resp.Body, err)
	}
	placement = doc.Placement
	if reps := placement[bucket.ID]; len(reps) != 2 {
		t.Fatalf("bucket placed on %v, want 2 replicas", reps)
	}

	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	for i, n := range nodes {
		pts := make([]client.PointInput, 100)
		for j := range pts {
			k := i*100 + j
			pts[j] = client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(k) * time.Second), Values: map[string]any{"v": float64(k)}}
		}
		if _, err := n.Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}); err != nil {
			t.Fatalf("write through node %d: %v", i+1, err)
		}
	}
	answers := make([]string, len(nodes))
	for i, n := range nodes {
		q1, err := n.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID, Limit: 1000}})
		if err != nil {
			t.Fatalf("raw query through node %d: %v", i+1, err)
		}
		q2, err := n.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Aggregation: "sum", GroupBy: "hour", Filters: client.QueryFilters{DataSourceID: src.ID}})
		if err != nil {
			t.Fatalf("aggregate through node %d: %v", i+1, err)
		}
		b, err := n.Admin.GetBucket(ctx, bucket.ID)
		if err != nil {
			t.Fatal(err)
		}
		an, err := n.Admin.BucketAnalytics(ctx, bucket.ID, "24h")
		if err != nil {
			t.Fatalf("analytics through node %d: %v", i+1, err)
		}
		if len(q1.Data) != 300 || b.Stats.DataPointCount != 300 {
			t.Fatalf("node %d: %d raw points, stats count %d, want 300", i+1, len(q1.Data), b.Stats.DataPointCount)
		}
		one, _ := json.Marshal([]any{q1, q2, b.Stats, an.Summary})
		answers[i] = string(one)
	}
	for i := 1; i < len(answers); i++ {
		if answers[i] != answers[0] {
			t.Errorf("node %d answers differently from node 1:\n%s\n%s", i+1, answers[i], answers[0])
		}
	}
	// Delete through the node that holds none of the points: it still
	// reports how many went.
	var outsider *testnode.Node
	for _, n := range nodes {
		if !slices.Contains(placement[bucket.ID], n.Config.NodeID) {
			outsider = n
		}
	}
	del, err := outsider.Admin.DeleteBucket(ctx, bucket.ID)
	if err != nil {
		t.Fatal(err)
	}
	if del.DeletedResources.DataPoints != 300 {
		t.Fatalf("deletedResources.dataPoints = %d, want 300", del.DeletedResources.DataPoints)
	}
}

func ptr[T any](v T) *T { return &v }

// TestClusterSeedRestarts: the first node (started without --join)
// remembers its peers, restarts while the others run, and serves writes
// (forwarded to the new leader) and the metadata written while it was away.
// (With these fast timings gossip would also reconnect without the
// remembered peers; they matter after a crash with the default timings.)
func TestClusterSeedRestarts(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	first := nodes[0]
	cfg := first.Config
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = first.HTTPAddr(), first.RaftAddr(), first.GossipAddr()
	// Let the first node see and remember its peers before it goes.
	eventually(t, "the first node remembers its peers", func() error {
		if len(first.KnownPeers()) != 2 {
			return fmt.Errorf("peers %v", first.KnownPeers())
		}
		return nil
	})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a write through a survivor", func() error {
		_, err := nodes[1].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "while-away"})
		if client.IsStatus(err, http.StatusConflict) {
			return nil
		}
		return err
	})
	restarted, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Close() })
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := restarted.Start(sctx); err != nil {
		t.Fatal(err)
	}
	admin := client.New("http://"+restarted.HTTPAddr(), client.WithAPIKey(first.AdminKey))
	eventually(t, "a write through the restarted node", func() error {
		_, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "after-restart"})
		if client.IsStatus(err, http.StatusConflict) {
			return nil
		}
		return err
	})
	// A retried create may have been acknowledged by its 409 only, so wait
	// for the listing rather than expect it at once.
	eventually(t, "the restarted node lists both buckets", func() error {
		list, err := admin.ListBuckets(ctx, client.Page{})
		if err != nil {
			return err
		}
		if list.Pagination.Total != 2 {
			return fmt.Errorf("%d buckets, want 2", list.Pagination.Total)
		}
		return nil
	})
}

// TestClusterKeyLease: a node that can no longer hear from a leader (both
// other nodes gone) stops accepting API keys once its lease runs out, with
// 503, instead of trusting keys it cannot confirm; calls that need no key
// still answer.
func TestClusterKeyLease(t *testing.T) {
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.KeyLease = 500 * time.Millisecond })
	ctx := context.Background()
	leader, followers := leaderOf(t, nodes)
	survivor := followers[0]
	if _, err := survivor.Admin.ListBuckets(ctx, client.Page{}); err != nil {
		t.Fatalf("before the cut: %v", err)
	}
	for _, n := range []*testnode.Node{leader, followers[1]} {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the cut-off node refuses keys", func() error {
		_, err := survivor.Admin.ListBuckets(ctx, client.Page{})
		if !client.IsStatus(err, http.StatusServiceUnavailable) {
			return fmt.Errorf("want 503, got %v", err)
		}
		return nil
	})
	if err := survivor.Operator.Health(ctx); err != nil {
		t.Fatalf("health on the cut-off node: %v", err)
	}
}

// TestClusterKeyLeaseFollowsTheAppliedLog: a follower that hears the
// leader's heartbeats but has not applied a key's delete (after a partition
// heals, Raft may back off for seconds before it resends the entries a
// follower missed) cannot confirm it has, so the delete is acknowledged
// only once that follower's lease has run out: from the acknowledgement on
// it refuses the key, with 503 until it has caught up, then with 401.
func TestClusterKeyLeaseFollowsTheAppliedLog(t *testing.T) {
	const lease = time.Second
	nodes := testnode.StartCluster(t, 3, func(_ int, cfg *node.Config) { cfg.KeyLease = lease })
	ctx := context.Background()
	leader, followers := leaderOf(t, nodes)
	lagging := followers[0]
	bucket, src, key := bucketWithWriteKey(t, leader, "lease")
	w := lagging.Client(key.Key)
	write := func() error {
		_, err := w.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Values: map[string]any{"v": 1}})
		return err
	}
	if err := write(); err != nil {
		t.Fatalf("the key before its delete: %v", err)
	}

	var once sync.Once
	hold := lagging.HoldApply()
	release := func() { once.Do(hold) }
	t.Cleanup(release) // before the cluster stops
	if _, err := leader.Admin.DeleteKey(ctx, bucket.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	refused := 0
	pace := time.NewTicker(50 * time.Millisecond) // a call rate, not a wait for a condition
	defer pace.Stop()
	for ; time.Since(acked) < 2*lease; <-pace.C {
		start := time.Now()
		err := write()
		if err == nil {
			t.Fatalf("the lagging node accepted the deleted key %s after the delete was acknowledged", start.Sub(acked).Round(time.Millisecond))
		}
		if !client.IsStatus(err, http.StatusServiceUnavailable) {
			t.Fatalf("the lagging node: want 503, got %v", err)
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("no call reached the lagging node after the delete")
	}
	release()
	eventually(t, "the caught-up node refuses the deleted key with 401", func() error {
		if err := write(); !client.IsStatus(err, http.StatusUnauthorized) {
			return fmt.Errorf("want 401, got %v", err)
		}
		return nil
	})
}

// TestClusterReadYourWritesAnywhere: what one node acknowledged is usable
// through every other node at once, with no wait: a new bucket, its source
// and its key. A follower that has not applied them yet catches up with
// the leader before it answers "not found".
func TestClusterReadYourWritesAnywhere(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	for round := range 5 {
		via := nodes[round%3]
		bucket, src, key := bucketWithWriteKey(t, via, fmt.Sprintf("ryw-%d", round))
		for i, n := range nodes {
			if _, err := n.Admin.GetBucket(ctx, bucket.ID); err != nil {
				t.Fatalf("round %d: bucket through node %d: %v", round, i+1, err)
			}
			w := n.Client(key.Key)
			if _, err := w.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Timestamp: time.Now().Add(-time.Minute), Values: map[string]any{"v": 1.5}}); err != nil {
				t.Fatalf("round %d: write with the new key through node %d: %v", round, i+1, err)
			}
		}
	}
	// A key that never existed is still refused everywhere.
	for i, n := range nodes {
		if _, err := n.Client("dakkio_a_"+strings.Repeat("0", 48)).ListBuckets(ctx, client.Page{}); !client.IsStatus(err, http.StatusUnauthorized) {
			t.Errorf("unknown key through node %d: %v, want 401", i+1, err)
		}
	}
}

// TestClusterWithdrawalsHoldEverywhereAtOnce: once a change that takes
// something away is acknowledged by any node, every node acts on it at its
// very next request: a deleted key is refused (401), an inactive source and
// an archived bucket refuse points (409). No node may still serve the state
// before the change, not even for the few milliseconds a follower takes to
// hear of a commit.
func TestClusterWithdrawalsHoldEverywhereAtOnce(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	for round := range 3 {
		via := nodes[round]
		bucket, src, key := bucketWithWriteKey(t, via, fmt.Sprintf("withdraw-%d", round))
		write := func(n *testnode.Node, apiKey string) error {
			_, err := n.Client(apiKey).WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Values: map[string]any{"v": 1}})
			return err
		}
		for i, n := range nodes {
			if err := write(n, key.Key); err != nil {
				t.Fatalf("round %d: the new key through node %d: %v", round, i+1, err)
			}
		}
		everywhere := func(what string, status int, apiKey string) {
			t.Helper()
			for i, n := range nodes {
				if err := write(n, apiKey); !client.IsStatus(err, status) {
					t.Errorf("round %d, right after %s: a write through node %d got %v, want %d", round, what, i+1, err, status)
				}
			}
		}
		if _, err := via.Admin.DeleteKey(ctx, bucket.ID, key.ID); err != nil {
			t.Fatal(err)
		}
		everywhere("the key's delete", http.StatusUnauthorized, key.Key)
		if _, err := via.Admin.UpdateSource(ctx, bucket.ID, src.ID, client.UpdateSourceRequest{Status: client.Ptr("inactive")}); err != nil {
			t.Fatal(err)
		}
		everywhere("the source's deactivation", http.StatusConflict, via.AdminKey)
		if _, err := via.Admin.UpdateBucket(ctx, bucket.ID, client.UpdateBucketRequest{Status: client.Ptr(client.BucketArchived)}); err != nil {
			t.Fatal(err)
		}
		everywhere("the bucket's archiving", http.StatusConflict, via.AdminKey)
	}
}

// bucketWithWriteKey creates, through n, a bucket named name with a source
// "s" of one number field "v" and a write key.
func bucketWithWriteKey(t *testing.T, n *testnode.Node, name string) (*client.Bucket, *client.DataSource, *client.CreatedKey) {
	t.Helper()
	ctx := context.Background()
	bucket, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	src, err := n.Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := n.Admin.CreateKey(ctx, bucket.ID, client.CreateKeyRequest{Name: "w", Type: "write"})
	if err != nil {
		t.Fatal(err)
	}
	return bucket, src, key
}
