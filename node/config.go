package node

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/egress"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/mqttingest"
	"github.com/dakkio/dakkio/node/alerting"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

// Config configures a Node. Every field is optional; the zero Config runs the
// single-node default: HTTP on :8080, Raft on 127.0.0.1:8300, data in ./data.
type Config struct {
	// NodeID names this node in the cluster. Default: "node1".
	NodeID string
	// DataDir holds the Raft log, snapshots, points and initial credentials. Default "./data".
	DataDir string
	// HTTPAddr is the API listen address. Default ":8080"; port 0 picks one.
	HTTPAddr string
	// RaftAddr is the Raft listen address. Default "127.0.0.1:8300"; port 0 picks one.
	RaftAddr string
	// InitialOrg names the organization created on first start. Default "default".
	InitialOrg string
	// InitialAdminKey, if set, is the first admin key instead of a random one.
	InitialAdminKey string
	// OperatorToken, if set, is the operator token instead of a random one.
	OperatorToken string
	// MaxBodyBytes caps request bodies. Default 10 MiB.
	MaxBodyBytes int
	// HTTPLimits bound the API's connections, their timeouts and the request
	// bodies in flight (--http-* flags); zero fields take httpapi's defaults.
	HTTPLimits httpapi.Limits
	// KeyCacheBytes sizes the API-key cache. Default 32 MiB.
	KeyCacheBytes int
	// SyncWrites fsyncs every points commit before acknowledging it, so that
	// acknowledged points survive power loss, not only a crash of the process.
	SyncWrites bool
	// PointsCompression is how points tables are compressed on disk:
	// "snappy" (default), "zstd" (smaller, slower) or "none".
	PointsCompression string
	// KeepTablePages leaves the pages of the points tables the node writes
	// in its memory instead of handing them back once written and keeping
	// those reads bring back within a budget (see store/points/DESIGN.md):
	// RSS grows with the data stored.
	KeepTablePages bool
	// Plans are the limits of each plan. Default store.DefaultPlans.
	Plans map[string]store.PlanLimits
	// UsageInterval is how often this node ships its API-call counts into
	// the replicated state. Default 1s.
	UsageInterval time.Duration
	// WebhookBackoff is the delay before a failed webhook delivery is retried
	// (doubling each time). Default 1s.
	WebhookBackoff time.Duration
	// NoDataInterval is how often no-data alert rules are checked. Default 15s.
	NoDataInterval time.Duration
	// AlertQueueMaxBytes bounds the queue of written points waiting for
	// alert evaluation (alerting.Queue); past it, writes are stored and
	// acknowledged without being evaluated. Default 64 MiB; negative: no bound.
	AlertQueueMaxBytes int64
	// WebhookDenyCIDRs are ranges (CIDRs or single addresses) alert
	// webhooks may not reach, beside the default: loopback, link-local and
	// unspecified addresses (internal/egress).
	WebhookDenyCIDRs []string
	// WebhookAllowCIDRs are ranges webhooks may reach even inside a deny
	// range; the most specific range decides. The node's own ports stay
	// refused on its own addresses.
	WebhookAllowCIDRs []string
	// MQTT, when its Broker is set, subscribes the node to a broker and
	// stores what is published there (package mqttingest). Its ClientID
	// defaults to dakkio-<NodeID>.
	MQTT mqttingest.Config
	// Join lists gossip addresses of nodes already in the cluster.
	Join []string
	// BootstrapExpect is how many servers must see each other before a new
	// cluster bootstraps Raft (the lowest node id does it). Default 1: a
	// single node that bootstraps itself unless Join is set.
	BootstrapExpect int
	// GossipAddr is the memberlist listen address; gossip runs when it, Join
	// or BootstrapExpect > 1 is set.
	GossipAddr string
	// AdvertiseAddr is the host (no port) other nodes use to reach this one's
	// Raft, gossip and HTTP ports. Default: the host each is bound to, or
	// 127.0.0.1 when bound to all interfaces.
	AdvertiseAddr string
	// ClusterKey is the shared secret that encrypts gossip and signs
	// node-to-node requests. Required in a cluster.
	ClusterKey string
	// TLSCertFile and TLSKeyFile, both or neither, are PEM files of this
	// node's certificate (chain) and key. Set, the API is served over HTTPS
	// and, in a cluster, node-to-node HTTP and Raft use mutual TLS with this
	// certificate on both sides (so it must allow server and client auth and
	// name the advertised host). See tls.go.
	TLSCertFile string
	TLSKeyFile  string
	// TLSCAFile is a PEM bundle of the CAs that sign the nodes'
	// certificates; required with TLS in a cluster. On the API listener a
	// client certificate, if presented, must be signed by one of them.
	TLSCAFile string
	// ReplicationFactor is how many nodes hold each bucket's points (capped
	// by the number of servers). Default 3.
	ReplicationFactor int
	// Replication sets write consistency, hinted handoff, repair and read
	// failover in a cluster.
	Replication replication.Config
	// KeyLease is how long a node keeps accepting API keys after it last
	// confirmed with the leader that it had applied every committed change;
	// after that it answers 503 until it confirms again, so a deleted key
	// is refused everywhere within KeyLease of the delete's
	// acknowledgement. Default 5s.
	KeyLease time.Duration
	// DeadAfter is how long a node must be dead before the leader removes it
	// from Raft (--dead-node-timeout). Default 5 minutes.
	DeadAfter time.Duration
	// FastRaft shortens Raft timeouts, for tests and clusters on one machine.
	FastRaft bool
	// Logger receives every component's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultAlertQueueMaxBytes bounds the alert evaluation queue
// (Config.AlertQueueMaxBytes).
const DefaultAlertQueueMaxBytes = alerting.DefaultQueueMaxBytes

// Files written on first start when no value was given.
const (
	InitialAdminKeyFile = "initial-admin-key"
	OperatorTokenFile   = "operator-token"
	// RaftKeyFile holds the key a node without --cluster-key generates at
	// its first start to authenticate its own Raft port (see raftKey).
	RaftKeyFile = "raft-key"
)

func (c *Config) setDefaults() {
	if c.NodeID == "" {
		c.NodeID = "node1"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.RaftAddr == "" {
		c.RaftAddr = "127.0.0.1:8300"
	}
	if c.InitialOrg == "" {
		c.InitialOrg = "default"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.KeyCacheBytes == 0 {
		c.KeyCacheBytes = 32 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Now = chaosClock(c.Now) // the identity unless built with -tags chaosclock
	if c.Plans == nil {
		c.Plans = maps.Clone(store.DefaultPlans)
	}
	if c.BootstrapExpect == 0 {
		c.BootstrapExpect = 1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 3
	}
	if c.UsageInterval == 0 {
		c.UsageInterval = time.Second
	}
	if c.AlertQueueMaxBytes == 0 {
		c.AlertQueueMaxBytes = DefaultAlertQueueMaxBytes
	}
	c.Replication.SetDefaults()
	if c.DeadAfter == 0 {
		c.DeadAfter = 5 * time.Minute
	}
	if c.KeyLease == 0 {
		c.KeyLease = 5 * time.Second
	}
	if c.clustered() && c.GossipAddr == "" {
		c.GossipAddr = "0.0.0.0:7946"
	}
}

// raftKey authenticates Raft connections between the nodes of a cluster.
// A node without a cluster key (a lone node) still never serves Raft
// unauthenticated: it uses a key of its own, generated at its first start
// (or at the first start of a version that has this rule, so an existing
// data directory upgrades in place) and kept in RaftKeyFile, mode 0600. No
// other process knows it, so nothing can append to this node's log.
func (c *Config) raftKey() ([]byte, error) {
	if c.ClusterKey != "" {
		return nodeauth.DeriveKey(c.ClusterKey, "dakkio raft"), nil
	}
	own, _, err := credential("", c.DataDir, RaftKeyFile, func() string { return secret.New("dakkio_raft_") })
	if err != nil {
		return nil, err
	}
	return nodeauth.DeriveKey(own, "dakkio raft"), nil
}

// DefaultHTTPLimits returns what the zero fields of Config.HTTPLimits stand
// for, so that cmd/dakkio can show them as flag defaults.
func DefaultHTTPLimits() httpapi.Limits {
	return httpapi.Limits{
		ReadHeaderTimeout:    httpapi.DefaultReadHeaderTimeout,
		BodyReadTimeout:      httpapi.DefaultBodyReadTimeout,
		IdleTimeout:          httpapi.DefaultIdleTimeout,
		MaxConnsPerIP:        httpapi.DefaultMaxConnsPerIP,
		MaxBodyBytesInFlight: httpapi.DefaultMaxBodyBytesInFlight,
	}
}

// clustered reports whether the node runs gossip and may have peers.
func (c *Config) clustered() bool {
	return c.GossipAddr != "" || len(c.Join) > 0 || c.BootstrapExpect > 1
}

// advertise returns the address others dial for a listener bound to bind:
// AdvertiseAddr's host (or 127.0.0.1 for an unspecified one) with bind's
// port. Empty when bind's own address will do.
func (c *Config) advertise(bind string) string {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return ""
	}
	switch {
	case c.AdvertiseAddr != "":
		host = c.AdvertiseAddr
	case host == "" || net.ParseIP(host).IsUnspecified():
		host = "127.0.0.1"
	default:
		return ""
	}
	return net.JoinHostPort(host, port)
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if c.InitialAdminKey != "" && (!secret.WellFormed(c.InitialAdminKey) || c.InitialAdminKey[:len(secret.AdminPrefix)] != secret.AdminPrefix) {
		return fmt.Errorf("initial admin key must start with %q followed by at least 32 letters or digits", secret.AdminPrefix)
	}
	if c.OperatorToken != "" && len(c.OperatorToken) < 16 {
		return errors.New("operator token must be at least 16 characters")
	}
	for _, p := range []string{store.PlanFree, store.PlanPro, store.PlanEnterprise} {
		if _, ok := c.Plans[p]; !ok {
			return fmt.Errorf("plans: the %s plan has no limits", p)
		}
	}
	if c.clustered() && len(c.ClusterKey) < 16 {
		return errors.New("a cluster needs a cluster key of at least 16 characters (--cluster-key)")
	}
	if c.DeadAfter < time.Second {
		return errors.New("dead-node-timeout must be at least 1s")
	}
	if c.BootstrapExpect < 1 {
		return errors.New("bootstrap-expect must be at least 1")
	}
	if err := c.tlsFiles().Validate(c.clustered()); err != nil {
		return err
	}
	if c.MaxBodyBytes < 1024 {
		return errors.New("max body size must be at least 1 KiB")
	}
	if err := c.HTTPLimits.Validate(c.MaxBodyBytes); err != nil {
		return err
	}
	if err := c.Replication.Validate(); err != nil {
		return err
	}
	if _, err := egress.ParsePrefixes(c.WebhookDenyCIDRs); err != nil {
		return fmt.Errorf("webhook-deny-cidrs: %w", err)
	}
	if _, err := egress.ParsePrefixes(c.WebhookAllowCIDRs); err != nil {
		return fmt.Errorf("webhook-allow-cidrs: %w", err)
	}
	return nil
}

// credential returns the configured value, else the one a previous start left
// in file (a crash between writing it and committing it), else a new one
// written to file before it is used, so that it is never lost.
func credential(given, dir, file string, make func() string) (value string, path string, err error) {
	if given != "" {
		return given, "", nil
	}
	path = filepath.Join(dir, file)
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return string(trimNewline(b)), path, nil
	}
	value = make()
	if err := writeSecretFile(path, value); err != nil {
		return "", "", err
	}
	return value, path, nil
}

// writeSecretFile replaces path with value, mode 0600, synced, so that a
// crash leaves the old file or the new one, never a torn one.
func writeSecretFile(path, value string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot write %q: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	return nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open %q: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot sync %q: %w", path, err)
	}
	return nil
}
