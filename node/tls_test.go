package node_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/testcert"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// withTLS gives a node a certificate of ca for 127.0.0.1, written in dir.
func withTLS(t *testing.T, ca *testcert.CA, dir, name string) func(*node.Config) {
	f := ca.WriteFiles(t, dir, name, "127.0.0.1")
	return func(cfg *node.Config) {
		cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile = f.Cert, f.Key, f.CA
	}
}

// httpsClient trusts ca and presents cert, if given.
func httpsClient(t *testing.T, ca *testcert.CA, cert ...tls.Certificate) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = ca.Client(cert...)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestTLSSingleNode: with a certificate a lone node serves HTTPS only; a
// client that does not trust the CA, or speaks plain HTTP, gets nothing.
func TestTLSSingleNode(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	n := testnode.Start(t, withTLS(t, ca, t.TempDir(), "node1"))
	if !strings.HasPrefix(n.URL, "https://") {
		t.Fatalf("URL %q, want https", n.URL)
	}
	ctx := context.Background()
	if _, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "secure"}); err != nil {
		t.Fatalf("create a bucket over HTTPS: %v", err)
	}
	if _, err := client.New("http://"+n.HTTPAddr(), client.WithAPIKey(n.AdminKey)).ListBuckets(ctx, client.Page{}); err == nil {
		t.Fatal("a plain HTTP client was answered")
	}
	other := testcert.NewCA(t, "other CA")
	if _, err := client.New(n.URL, client.WithAPIKey(n.AdminKey), client.WithHTTPClient(httpsClient(t, other))).ListBuckets(ctx, client.Page{}); err == nil {
		t.Fatal("a client trusting another CA accepted the node's certificate")
	}
}

// TestTLSConfigValidation: TLS settings that cannot work are refused
// before anything listens.
func TestTLSConfigValidation(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	f := ca.WriteFiles(t, t.TempDir(), "node1", "127.0.0.1")
	cases := []struct {
		name string
		set  func(*node.Config)
		want string
	}{
		{"cert without key", func(c *node.Config) { c.TLSCertFile = f.Cert }, "go together"},
		{"key without cert", func(c *node.Config) { c.TLSKeyFile = f.Key }, "go together"},
		{"CA alone", func(c *node.Config) { c.TLSCAFile = f.CA }, "certificate and key too"},
		{"cluster without CA", func(c *node.Config) {
			c.TLSCertFile, c.TLSKeyFile, c.BootstrapExpect, c.ClusterKey = f.Cert, f.Key, 3, "0123456789abcdef0123"
		}, "--tls-ca"},
		{"key of another certificate", func(c *node.Config) { c.TLSCertFile, c.TLSKeyFile = f.Cert, f.CA }, "cannot load TLS certificate"},
		{"CA file without a certificate", func(c *node.Config) { c.TLSCertFile, c.TLSKeyFile, c.TLSCAFile = f.Cert, f.Key, f.Key }, "no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := node.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", Logger: testnode.Logger()}
			c.set(&cfg)
			n, err := node.New(cfg)
			if err == nil {
				n.Close()
				t.Fatal("node created")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestTLSCluster: three nodes with TLS on the API, between nodes and on
// Raft form a cluster, forward metadata writes and replicate points; plain
// HTTP is refused; a node whose certificate comes from another CA is
// refused by the others on HTTP and Raft, even with the cluster key, and
// never enters the Raft configuration.
func TestTLSCluster(t *testing.T) {
	ca := testcert.NewCA(t, "cluster CA")
	dir := t.TempDir()
	var opts []func(*node.Config)
	for i := range 3 {
		opts = append(opts, withTLS(t, ca, dir, "node"+string(rune('1'+i))))
	}
	nodes := testnode.StartCluster(t, 3, func(i int, cfg *node.Config) {
		opts[i](cfg)
		cfg.ReplicationFactor = 3
	})
	leader, followers := leaderOf(t, nodes)
	if leader == nil {
		t.Fatal("no leader")
	}
	ctx := context.Background()

	// A follower forwards the creation to the leader over HTTPS.
	bucket, err := followers[0].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "tls", RetentionDays: ptr(3650)})
	if err != nil {
		t.Fatalf("create a bucket through a follower: %v", err)
	}
	src, err := followers[1].Admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: "s", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		t.Fatalf("create a source through a follower: %v", err)
	}
	// Every node holds the points (replication factor 3): the write went
	// to the other two over HTTPS.
	pts := make([]client.PointInput, 10)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for j := range pts {
		pts[j] = client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(j) * time.Second), Values: map[string]any{"v": float64(j)}}
	}
	if _, err := followers[0].Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}); err != nil {
		t.Fatalf("write: %v", err)
	}
	for i, n := range nodes {
		eventually(t, "the bucket is known everywhere", func() error {
			_, err := n.Admin.GetBucket(ctx, bucket.ID)
			return err
		})
		q, err := n.Admin.Query(ctx, client.QueryRequest{BucketID: bucket.ID, Filters: client.QueryFilters{DataSourceID: src.ID, Limit: 100}})
		if err != nil || len(q.Data) != len(pts) {
			t.Fatalf("query through node %d: %v points, %v", i+1, q, err)
		}
	}

	t.Run("plain HTTP refused", func(t *testing.T) {
		for _, n := range nodes {
			if _, err := client.New("http://"+n.HTTPAddr(), client.WithAPIKey(n.AdminKey)).ListBuckets(ctx, client.Page{}); err == nil {
				t.Fatalf("%s answered plain HTTP", n.Config.NodeID)
			}
		}
	})

	t.Run("internal call with a certificate", func(t *testing.T) {
		// Signed with the cluster key, over TLS: the certificate decides.
		body := []byte(`{}`)
		key := nodeauth.DeriveKey(leader.Config.ClusterKey, nodeauth.PurposeRPC)
		call := func(hc *http.Client) (int, error) {
			req, err := http.NewRequest(http.MethodPost, leader.URL+"/internal/apply", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(nodeauth.HeaderName, nodeauth.Sign(key, http.MethodPost, "/internal/apply", body, time.Now()))
			resp, err := hc.Do(req)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		// Reaches the handler, which refuses the empty command.
		if status, err := call(httpsClient(t, ca, ca.Certificate(t, "peer", "127.0.0.1"))); err != nil || status != http.StatusBadRequest {
			t.Fatalf("a node certificate of the cluster's CA: %d, %v; want 400", status, err)
		}
		// Signed with the cluster key but without a certificate: refused.
		if status, err := call(httpsClient(t, ca)); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("a signed call without a client certificate: %d, %v; want 401", status, err)
		}
		// Go's client sends only a certificate of a CA the server asks
		// for; this one sends its own regardless, as a rogue node would.
		rogueCert := testcert.NewCA(t, "rogue CA").Certificate(t, "rogue", "127.0.0.1")
		rogue := httpsClient(t, ca)
		rogue.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &rogueCert, nil
		}
		if status, err := call(rogue); err == nil {
			t.Fatalf("a certificate of another CA was answered %d", status)
		}
	})

	t.Run("node of another CA", func(t *testing.T) {
		rogueCA := testcert.NewCA(t, "rogue CA")
		cfg := node.Config{
			NodeID: "rogue", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
			Join: []string{nodes[0].GossipAddr()}, ClusterKey: nodes[0].Config.ClusterKey, FastRaft: true, Logger: testnode.Logger(),
		}
		withTLS(t, rogueCA, t.TempDir(), "rogue")(&cfg)
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		// Gossip lets it in (it has the cluster key), but no Raft
		// connection opens either way, so it never learns the log.
		startCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := n.Start(startCtx); err == nil {
			t.Fatal("a node with a certificate of another CA joined the cluster")
		}
		// Nor is it in the Raft configuration: the leader adds only a
		// member it has opened a Raft connection to, so the node never
		// counts in a quorum it cannot vote in.
		st, err := leader.Operator.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range st.Nodes {
			if ns.NodeID == "rogue" {
				t.Fatalf("the node of another CA is a Raft server: %+v", ns)
			}
		}
		// The cluster is unharmed: it takes metadata writes, once any
		// election a slow disk set off is over (a 409 says an earlier try
		// that answered 503 went in).
		eventually(t, "create a bucket after the rogue node", func() error {
			_, err := followers[1].Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "after-rogue"})
			if client.IsStatus(err, http.StatusConflict) {
				return nil
			}
			return err
		})
	})
}
