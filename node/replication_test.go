package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
	"github.com/dakkio/dakkio/store/points"
)

// numberSeries creates, through n, a bucket (retention 10 years) with one
// source of one number field, v.
func numberSeries(t *testing.T, n *testnode.Node, name string) (*client.Bucket, *client.DataSource) {
	t.Helper()
	ctx := context.Background()
	bucket, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: name, RetentionDays: ptr(3650)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := n.Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatal(err)
	}
	return bucket, src
}

// fastReplication shortens the replication loops for tests.
func fastReplication(_ int, cfg *node.Config) {
	cfg.Replication.HintReplayInterval = 100 * time.Millisecond
	cfg.Replication.RepairInterval = 300 * time.Millisecond
	cfg.Replication.ReplicaTimeout = 2 * time.Second
}

// TestWriteConsistencyLevels: with one of three replicas stopped, writes at
// quorum and one are acknowledged, at all refused with 503 (and a retry is
// harmless), a level that does not exist is 400; what missed the stopped
// replica waits in the coordinator's hint queue, which status shows.
func TestWriteConsistencyLevels(t *testing.T) {
	nodes := testnode.StartCluster(t, 3, fastReplication)
	ctx := context.Background()
	leader, others := leaderOf(t, nodes)
	bucket, src := numberSeries(t, leader, "levels")
	victim, coordinator := others[1], others[0]
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	batch := func(k int, level string) client.WriteBatchRequest {
		pts := make([]client.PointInput, 10)
		for j := range pts {
			pts[j] = client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(k*10+j) * time.Second), Values: map[string]any{"v": float64(k)}}
		}
		return client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts, Consistency: client.Consistency(level)}
	}
	for k, level := range []string{"quorum", "one", "", "quorum"} {
		if _, err := coordinator.Admin.WriteBatch(ctx, batch(k, level)); err != nil {
			t.Fatalf("write at %q with a replica down: %v", level, err)
		}
	}
	for range 2 { // the retry of a refused write is refused the same way
		_, err := coordinator.Admin.WriteBatch(ctx, batch(9, "all"))
		if !client.IsStatus(err, http.StatusServiceUnavailable) {
			t.Fatalf("write at all with a replica down: %v, want 503", err)
		}
	}
	if _, err := coordinator.Admin.WriteBatch(ctx, batch(10, "two")); !client.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("write at consistency=two: %v, want 400", err)
	}
	if _, err := coordinator.Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Timestamp: start, Values: map[string]any{"v": 1.0}, Consistency: "ALL"}); !client.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("write at consistency=ALL: %v, want 400", err)
	}

	// Four acknowledged batches and two refused ones missed the victim; a
	// hint is queued when the write to it fails, maybe after the answer.
	var st *client.ClusterStatus
	eventually(t, "six hints queued", func() error {
		var err error
		if st, err = coordinator.Operator.ClusterStatus(ctx); err != nil {
			return err
		}
		for _, q := range st.HintedHandoff {
			if q.Target == victim.Config.NodeID && q.Hints == 6 {
				return nil
			}
		}
		return fmt.Errorf("hint queues %+v, want 6 for %s", st.HintedHandoff, victim.Config.NodeID)
	})
	if st.Replication == nil || st.Replication.WritesUnavailable != 2 || st.Replication.WritesAcked != 4 {
		t.Fatalf("replication counters %+v, want 4 acknowledged and 2 refused", st.Replication)
	}
	// Every node still up answers every acknowledged point (the refused
	// batch reached two replicas, so it may be there too).
	for _, n := range []*testnode.Node{leader, coordinator} {
		q, err := n.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID, Limit: 1000}})
		if err != nil {
			t.Fatalf("query through %s: %v", n.Config.NodeID, err)
		}
		if len(q.Data) < 40 {
			t.Fatalf("%s answers %d points, want at least the 40 acknowledged", n.Config.NodeID, len(q.Data))
		}
	}
}

// TestNewBucketReadsAreComplete: with the default repair interval (a
// minute), a bucket created on a healthy cluster is read completely through
// every node at once: its replicas saw it born and lost nothing since, so
// none answers "partial" (a node restarted, paused or cut off does, until
// repair has run).
func TestNewBucketReadsAreComplete(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	bucket, src := numberSeries(t, nodes[0], "fresh")
	if _, err := nodes[1].Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Timestamp: time.Now().Add(-time.Minute), Values: map[string]any{"v": 1.0}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		q, err := n.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, RefusePartial: true, Filters: client.QueryFilters{DataSourceID: src.ID}})
		if err != nil || len(q.Data) != 1 || q.Metadata.Partial {
			t.Fatalf("read through %s: %v, %+v", n.Config.NodeID, err, q)
		}
	}
}

// TestStrictReadsVerify: a replica that missed a write without knowing it
// (here: the batch reached the two others only, as a write slower than the
// grace or cut off by a partial partition would) does not answer a read
// that refuses partial answers from its own copy: it first checks its
// points against another replica, and the read is answered complete.
func TestStrictReadsVerify(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	bucket, src := numberSeries(t, nodes[0], "verify")
	at := time.Now().Add(-time.Minute).UnixNano()
	// The body of /internal/write: 'w' (a client's write), the bucket, the batch.
	body, err := points.EncodeBatch(append([]byte{'w'}, bucket.ID...), []points.Point{{SourceID: src.ID, TS: at, Values: []points.Value{{Field: "v", Kind: points.KindNumber, Num: 7}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] { // not nodes[2]
		if status, answer := postInternal(t, n, "/internal/write", body); status != http.StatusOK {
			t.Fatalf("write to %s: %d %s", n.Config.NodeID, status, answer)
		}
	}
	q, err := nodes[2].Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, RefusePartial: true, Filters: client.QueryFilters{DataSourceID: src.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Data) != 1 {
		t.Fatalf("a strict read through the replica that missed the point: %d points, want 1", len(q.Data))
	}
	// A read that accepts partial answers is served by that replica alone.
	q, err = nodes[2].Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID}})
	if err != nil || len(q.Data) != 0 {
		t.Fatalf("a plain read through that replica: %v, %d points (want its own copy, 0)", err, len(q.Data))
	}
}

// TestStrictReadsDuringWrites: on a healthy cluster, reads that refuse
// partial answers are served while a client keeps writing to the series
// they read: a write reaches the replicas moments apart, and the replicas'
// copies differing for those moments is no reason for a 503.
func TestStrictReadsDuringWrites(t *testing.T) {
	nodes := testnode.StartCluster(t, 3)
	ctx := context.Background()
	bucket, src := numberSeries(t, nodes[0], "strict")
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; i < 100_000; i++ { // one write after another, until the reads are done
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := nodes[i%3].Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Values: map[string]any{"v": i}}); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	var refused []string
	for i := range 60 {
		if _, err := nodes[i%3].Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, RefusePartial: true, Aggregation: "count", Filters: client.QueryFilters{DataSourceID: src.ID}}); err != nil {
			refused = append(refused, fmt.Sprintf("read %d through %s: %v", i, nodes[i%3].Config.NodeID, err))
		}
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatalf("the writer: %v", err)
	}
	if len(refused) > 0 {
		t.Fatalf("%d of 60 strict reads refused during writes, first: %s", len(refused), refused[0])
	}
}

// postInternal sends body to one of n's internal routes, signed with the
// cluster key as another node would, and returns the status and answer.
func postInternal(t *testing.T, n *testnode.Node, path string, body []byte) (int, string) {
	t.Helper()
	key := nodeauth.DeriveKey(n.Config.ClusterKey, nodeauth.PurposeRPC)
	req, err := http.NewRequest(http.MethodPost, n.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(nodeauth.HeaderName, nodeauth.Sign(key, http.MethodPost, path, body, time.Now()))
	resp, err := n.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// TestReplicaWriteRefusesBadFrames: a replica write whose kind, bucket id
// or batch is malformed gets a 400 naming what is wrong, and stores
// nothing.
func TestReplicaWriteRefusesBadFrames(t *testing.T) {
	nodes := testnode.StartCluster(t, 1)
	n := nodes[0]
	bucket, src := numberSeries(t, n, "frames")
	good, err := points.EncodeBatch(append([]byte{'w'}, bucket.ID...), []points.Point{{SourceID: src.ID, TS: time.Now().Add(-time.Minute).UnixNano(),
		Values: []points.Value{{Field: "v", Kind: points.KindNumber, Num: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		body []byte
		want string
	}{
		"empty":          {nil, "unknown kind"},
		"unknown kind":   {append([]byte{'x'}, good[1:]...), "unknown kind"},
		"no bucket id":   {[]byte("w0123"), "missing bucket id"},
		"bad bucket id":  {append([]byte("wzzzzzzzzzzzzzzzzzzzzzzzz"), good[25:]...), "missing bucket id"},
		"truncated body": {good[:len(good)-3], ""},
	} {
		status, answer := postInternal(t, n, "/internal/write", c.body)
		if status != http.StatusBadRequest || !strings.Contains(answer, c.want) {
			t.Errorf("%s: %d %q, want 400 with %q", name, status, answer, c.want)
		}
	}
	q, err := n.Admin.Query(context.Background(), client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID}})
	if err != nil || len(q.Data) != 0 {
		t.Fatalf("after refused writes: %v, %d points stored, want none", err, len(q.Data))
	}
}
