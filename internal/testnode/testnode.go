package testnode

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/node"
)

// Node is a started node and what a test needs to talk to it.
type Node struct {
	*node.Node
	Config        node.Config
	URL           string
	AdminKey      string
	OperatorToken string
	// Admin uses AdminKey; Operator uses OperatorToken.
	Admin    *client.Client
	Operator *client.Client
	// HTTP is the HTTP client of Admin and Operator: it trusts the node's
	// TLS CA (Config.TLSCAFile) when the node serves HTTPS.
	HTTP *http.Client
}

// Client returns a client for this node using key.
func (n *Node) Client(key string) *client.Client {
	return client.New(n.URL, client.WithAPIKey(key), client.WithHTTPClient(n.HTTP))
}

// newNode describes a started node to a test.
func newNode(t testing.TB, n *node.Node, cfg node.Config) *Node {
	t.Helper()
	hc := http.DefaultClient
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		hc = &http.Client{Transport: tr}
		t.Cleanup(hc.CloseIdleConnections)
	}
	url := n.URL()
	return &Node{Node: n, Config: cfg, URL: url, AdminKey: cfg.InitialAdminKey, OperatorToken: cfg.OperatorToken, HTTP: hc,
		Admin:    client.New(url, client.WithAPIKey(cfg.InitialAdminKey), client.WithHTTPClient(hc)),
		Operator: client.New(url, client.WithOperatorToken(cfg.OperatorToken), client.WithHTTPClient(hc))}
}

// Start runs a node with fresh credentials in t.TempDir(). opts may change the
// config before the node starts (data dir, clock, limits).
func Start(t testing.TB, opts ...func(*node.Config)) *Node {
	t.Helper()
	cfg := node.Config{
		NodeID:          "node1",
		DataDir:         t.TempDir(),
		HTTPAddr:        "127.0.0.1:0",
		RaftAddr:        "127.0.0.1:0",
		InitialAdminKey: secret.New(secret.AdminPrefix),
		OperatorToken:   secret.New(secret.OperatorPrefix),
		FastRaft:        true,
		Logger:          Logger(),
		// Tests' webhook receivers listen on loopback, which the default
		// egress policy refuses; a test of the default sets this to nil.
		WebhookAllowCIDRs: LoopbackCIDRs,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return StartWith(t, cfg)
}

// StartWith runs a node with exactly cfg, e.g. a stopped node's config
// with its addresses filled in, to restart it on the same data.
func StartWith(t testing.TB, cfg node.Config) *Node {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatalf("cannot create node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		t.Fatalf("cannot start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing node: %v", err)
		}
	})
	return newNode(t, n, cfg)
}

// LoopbackCIDRs are the ranges test nodes allow webhooks to reach.
var LoopbackCIDRs = []string{"127.0.0.0/8", "::1/128"}

// Logger discards logs unless DAKKIO_TEST_LOG is set, keeping test output
// readable while leaving a switch for debugging.
func Logger() *slog.Logger {
	if os.Getenv("DAKKIO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartCluster runs size nodes that form one cluster through gossip on
// 127.0.0.1 (bootstrap-expect size), each with its own ports and data
// directory, sharing the initial credentials. opts may change each node's
// config (i is its index) before it starts.
func StartCluster(t testing.TB, size int, opts ...func(i int, cfg *node.Config)) []*Node {
	t.Helper()
	adminKey, opToken := secret.New(secret.AdminPrefix), secret.New(secret.OperatorPrefix)
	clusterKey := secret.New("k")
	nodes := make([]*Node, size)
	for i := range nodes {
		cfg := node.Config{
			NodeID: fmt.Sprintf("node%d", i+1), DataDir: t.TempDir(),
			HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
			BootstrapExpect: size, ClusterKey: clusterKey,
			InitialAdminKey: adminKey, OperatorToken: opToken, FastRaft: true, Logger: Logger(),
			WebhookAllowCIDRs: LoopbackCIDRs,
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		for _, o := range opts {
			o(i, &cfg)
		}
		n, err := node.New(cfg)
		if err != nil {
			t.Fatalf("cannot create node %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = n.Close() })
		nodes[i] = newNode(t, n, cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, size)
	for _, n := range nodes {
		go func() { errs <- n.Start(ctx) }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatalf("cannot start cluster: %v", err)
		}
	}
	// Raft can be ready before gossip has told every node of every other;
	// until then a node takes a replica it has not heard of for down, and
	// a write at quorum may be refused. Tests start from a settled cluster.
	for _, n := range nodes {
		for len(n.KnownPeers()) < size-1 {
			select {
			case <-ctx.Done():
				t.Fatalf("%s sees %d of the %d other nodes on gossip: %v", n.Config.NodeID, len(n.KnownPeers()), size-1, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nodes
}

// Metric reads one unlabelled sample from the node's /metrics; the test
// fails if the node does not serve it.
func (n *Node) Metric(t testing.TB, name string) float64 {
	t.Helper()
	return MetricAt(t, n.HTTP, n.URL, name)
}

// MetricAt is Metric for a node at baseURL that this package did not start.
func MetricAt(t testing.TB, hc *http.Client, baseURL, name string) float64 {
	t.Helper()
	resp, err := hc.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
