package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/clusterstatus"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/tlsconfig"
	"github.com/dakkio/dakkio/metadata"
	"github.com/dakkio/dakkio/mqttingest"
	"github.com/dakkio/dakkio/node/alerting"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Node is one running dakkio server.
type Node struct {
	cfg    Config
	log    *slog.Logger
	state  *store.State
	meta   *metadata.Service // applies and reads the state from any node
	placer *cluster.Placer   // where buckets live
	meter  *cluster.Meter
	alerts *alerting.Engine
	queue  *alerting.Queue // live writes waiting for alert evaluation
	// mqtt subscribes to a broker (nil without one); reg is the metrics
	// registry it adds its counters to.
	mqtt *mqttingest.Subscriber
	reg  *prometheus.Registry

	// Set when the node runs in a cluster (gossip configured).
	members *cluster.Membership
	manager *cluster.Manager
	rpc     *peerrpc.Client   // calls to other nodes
	peers   *cluster.PeerFile // gossip peers to rejoin after a restart
	pts     *points.DB
	raft    *cluster.Raft
	api     *httpapi.Server
	ln      net.Listener
	tlsConf *tlsconfig.Config

	// Replication of points (package replication, wired in replication.go).
	hints *replication.Hints // nil on a lone node
	repl  *replication.Replicator

	serving   atomic.Bool
	serveDone chan error
	closeOnce sync.Once
	closeErr  error
}

// New opens the node's stores and joins (or bootstraps) Raft. It does not
// serve until Start. On an error, whatever it had opened is closed again.
func New(cfg Config) (_ *Node, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data dir %q: %w", cfg.DataDir, err)
	}
	tlsConf, err := tlsconfig.Load(cfg.tlsFiles(), cfg.clustered())
	if err != nil {
		return nil, err
	}
	// Each part opened pushes its closer; a failure closes them in
	// reverse order, so no branch below cleans up by hand.
	var undo []func() error
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				if cerr := undo[i](); cerr != nil {
					cfg.Logger.Warn("cannot close after a failed start", "err", cerr)
				}
			}
		}
	}()

	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "node"), tlsConf: tlsConf}
	n.peers = cluster.NewPeerFile(filepath.Join(cfg.DataDir, peersFile), cfg.NodeID, n.log)
	if n.ln, err = n.listenHTTP(); err != nil {
		return nil, err
	}
	undo = append(undo, n.ln.Close)
	n.state = store.NewState(cfg.KeyCacheBytes)
	// Points open first: replaying the Raft log deletes the points of
	// buckets deleted since the last snapshot.
	pts, err := points.Open(points.Config{
		Dir:            filepath.Join(cfg.DataDir, "points"),
		SyncWrites:     cfg.SyncWrites,
		Compression:    cfg.PointsCompression,
		KeepTablePages: cfg.KeepTablePages,
		SourceDeleted:  n.state.SourceDeleted,
		Retention:      n.retention,
		Now:            cfg.Now,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	n.pts = pts
	undo = append(undo, pts.Close)
	raftKey, err := cfg.raftKey()
	if err != nil {
		return nil, err
	}
	r, err := cluster.New(cluster.Config{
		NodeID:         cfg.NodeID,
		Dir:            filepath.Join(cfg.DataDir, "raft"),
		BindAddr:       cfg.RaftAddr,
		AdvertiseAddr:  cfg.advertise(cfg.RaftAddr),
		Key:            raftKey,
		TLS:            tlsConf.PeerConfig(),
		BootstrapSelf:  cfg.BootstrapExpect <= 1 && len(cfg.Join) == 0,
		Fast:           cfg.FastRaft,
		OnDeleteBucket: pts.DeleteBucket,
		OnDeleteSource: pts.DeleteSource,
		Logger:         cfg.Logger,
	}, n.state)
	if err != nil {
		return nil, err
	}
	n.raft = r
	undo = append(undo, r.Close)
	// Hints open before the Replicator, which takes them.
	if cfg.clustered() {
		n.hints, err = replication.OpenHints(replication.HintsConfig{
			Dir: filepath.Join(cfg.DataDir, "hints"), SyncWrites: cfg.SyncWrites,
			MaxBytes: cfg.Replication.HintMaxBytes, MaxAge: cfg.Replication.HintMaxAge,
			Now: cfg.Now, Logger: cfg.Logger.With("component", "hints"),
		})
		if err != nil {
			return nil, err
		}
		undo = append(undo, n.hints.Close)
	}
	n.placer = cluster.NewPlacer(cluster.PlacerConfig{
		State: n.state, Clustered: func() bool { return n.members != nil }, IsLeader: r.IsLeader, Servers: n.serverIDs,
		ReplicationFactor: cfg.ReplicationFactor, Logger: n.log,
		Apply: func(ctx context.Context, cmd any) (any, error) { return n.meta.Apply(ctx, cmd) },
	})
	n.repl = n.newReplicator()
	n.meta = metadata.New(metadata.Config{
		Self: cfg.NodeID, State: n.state, Raft: r, Cluster: clusterView{n}, Peers: peerCalls{n}, Points: n.repl,
		Voters: r, Forget: n.forget, Place: n.placer.Place, KeyLease: cfg.KeyLease, ChaosBug: chaosBug, Logger: cfg.Logger,
		Applied: func(cmd any) { n.alerts.Applied(cmd) },
	})
	n.meter = cluster.NewMeter(cluster.MeterConfig{
		NodeID: cfg.NodeID, State: n.state, Apply: n.meta.Apply, Now: cfg.Now,
		Interval: cfg.UsageInterval, Logger: cfg.Logger,
		Peers:        func() int { return len(n.serverIDs()) },
		CountLocally: chaosBug == "count-locally",
	})
	webhookPolicy := n.webhookPolicy()
	n.alerts, err = alerting.New(alerting.Config{
		State: n.state, Points: alertPoints{n.repl}, Apply: n.meta.Apply, Now: cfg.Now, Egress: webhookPolicy,
		BaseBackoff: cfg.WebhookBackoff, NoDataInterval: cfg.NoDataInterval, Logger: cfg.Logger,
		// One replica of a bucket, the first live one, evaluates its rules
		// and watches for silence as writes reach it; events go through
		// Raft, and the leader alone delivers them, so a delivery survives
		// the loss of any node.
		IsEvaluator: n.isEvaluator,
		IsDeliverer: func(string) bool { return r.IsLeader() },
	})
	if err != nil {
		return nil, err
	}
	undo = append(undo, n.alerts.Close)
	n.queue = alerting.NewQueue(alerting.QueueConfig{
		NodeID: cfg.NodeID, Engine: n.alerts, Local: pts, MaxBytes: cfg.AlertQueueMaxBytes, Hold: chaosBug == "hold-alerts",
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.newCollector())
	n.reg = reg
	// Node-to-node calls, served on the API's port once their signature
	// checks out.
	internal := peerrpc.NewServer(peerrpc.Handlers{
		Apply: n.meta.ServeApply, ReadIndex: n.meta.ServeReadIndex, Write: n.repl.ServeWrite, Points: n.servePoints(),
	})
	n.api, err = httpapi.New(httpapi.Config{
		Metrics:  reg,
		Meta:     n.meta.Synced(),
		Applier:  n.meta,
		Internal: internal,
		NodeKey:  n.rpcKey(),
		// With TLS, the listener verifies client certificates against the
		// cluster's CA; node calls must present one.
		NodeCertRequired: tlsConf != nil,
		Points:           n.repl,
		Node:             n,
		Usage:            n.meter,
		Limiter:          n,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		WebhookPolicy:    webhookPolicy,
		Limits:           cfg.HTTPLimits,
		Now:              cfg.Now,
		Logger:           cfg.Logger,

		// A rotated token goes to the token file before it is applied.
		SaveOperatorToken: n.saveOperatorToken,
	})
	if err != nil {
		return nil, err
	}
	if cfg.clustered() {
		if err = n.startMembership(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// retention tells the points store how long a bucket keeps its points.
func (n *Node) retention(bucketID string) (time.Duration, bool) {
	days, ok := n.state.BucketRetention(bucketID)
	return time.Duration(days) * 24 * time.Hour, ok
}

// Start listens on the HTTP address, waits until Raft has a leader and has
// applied its log, and creates the initial credentials on a fresh cluster.
func (n *Node) Start(ctx context.Context) error {
	n.serveDone = make(chan error, 1)
	go func() { n.serveDone <- n.api.Serve(n.ln) }()
	n.log.Info("serving HTTP", "addr", n.ln.Addr().String(), "node", n.cfg.NodeID)
	if n.manager != nil {
		n.manager.Start()
	}

	if err := n.raft.WaitReady(ctx); err != nil {
		return err
	}
	// A node of a new cluster serves once the initial organization exists;
	// before, every key would be unknown. The leader creates it. An
	// election may move the leadership while it does (a loaded host): then
	// the next leader does, so every node watches until it exists.
	var initErr error
	if err := waitFor(ctx, func() bool {
		if !n.state.Initialized() && n.raft.IsLeader() {
			initErr = n.initialize(ctx)
			if errors.Is(initErr, cluster.ErrNotLeader) {
				n.log.Warn("lost the leadership while creating the initial organization; the next leader creates it", "err", initErr)
				initErr = nil
			}
		}
		return initErr != nil || n.state.Initialized()
	}); err != nil {
		return fmt.Errorf("waiting for the initial organization: %w", err)
	}
	if initErr != nil {
		return initErr
	}
	// A node restarting replays its log: serve only once it has applied
	// everything the leader has committed, or it would answer for a past.
	if err := waitFor(ctx, func() bool { return n.ReadBarrier(ctx) == nil }); err != nil {
		return fmt.Errorf("catching up with the leader: %w", err)
	}
	n.checkOperatorToken()
	n.meter.Start()
	n.alerts.Start()
	n.queue.Start()
	if n.members != nil {
		n.meta.Start()
		n.repl.Start()
	}
	n.serving.Store(true)
	return n.startMQTT()
}

// startMQTT subscribes to the configured broker, if any; it connects in
// the background and keeps reconnecting.
func (n *Node) startMQTT() error {
	mc := n.cfg.MQTT
	if !mc.Enabled() {
		return nil
	}
	if mc.ClientID == "" {
		mc.ClientID = "dakkio-" + n.cfg.NodeID
	}
	sub, err := mqttingest.New(mc, n.ingestMessages, httpapi.Retryable, n.reg, n.log)
	if err != nil {
		return err
	}
	n.mqtt = sub
	sub.Start()
	return nil
}

// Serving reports whether the node has started and is not stopping.
func (n *Node) Serving() bool { return n.serving.Load() }

// Plan returns the organization's plan and its limits.
func (n *Node) Plan(orgID string) (string, store.PlanLimits) {
	org, err := n.state.Org(orgID)
	if err != nil {
		return "", store.PlanLimits{}
	}
	return org.Plan, n.cfg.Plans[org.Plan]
}

// Used returns the organization's API calls this month as this node knows them.
func (n *Node) Used(orgID string) int64 { return n.meter.Used(orgID) }

// Allow counts one API call of the organization against its plan.
func (n *Node) Allow(orgID string) (store.Quota, bool) {
	_, limits := n.Plan(orgID)
	return n.meter.Quota(orgID, limits)
}

// initialize commits the initial organization, admin key and operator token.
func (n *Node) initialize(ctx context.Context) error {
	adminKey, keyFile, err := credential(n.cfg.InitialAdminKey, n.cfg.DataDir, InitialAdminKeyFile,
		func() string { return secret.New(secret.AdminPrefix) })
	if err != nil {
		return err
	}
	token, tokenFile, err := credential(n.cfg.OperatorToken, n.cfg.DataDir, OperatorTokenFile,
		func() string { return secret.New(secret.OperatorPrefix) })
	if err != nil {
		return err
	}
	now := n.cfg.Now().UTC()
	org := store.Org{ID: objectid.New(now), Name: n.cfg.InitialOrg, Plan: store.PlanEnterprise, CreatedAt: now, UpdatedAt: now}
	key := store.APIKey{
		ID: objectid.New(now), Name: "initial admin key", Type: store.KeyAdmin, Hash: secret.Hash(adminKey),
		KeyPrefix: secret.DisplayPrefix(adminKey), OrganizationID: org.ID, CreatedAt: now,
	}
	_, err = n.raft.Apply(ctx, store.Bootstrap{Org: org, AdminKey: key, OperatorTokenHash: secret.Hash(token)})
	if err != nil && !errors.Is(err, store.ErrAlreadyInitialized) {
		return fmt.Errorf("cannot create initial organization: %w", err)
	}
	n.log.Info("created initial organization", "org", org.Name, "adminKeyFile", keyFile, "operatorTokenFile", tokenFile)
	return nil
}

// ReadBarrier returns once this node has applied every metadata change
// committed before the call (metadata.Service.ReadBarrier).
func (n *Node) ReadBarrier(ctx context.Context) error { return n.meta.ReadBarrier(ctx) }

// CheckOperatorToken tells whether token is the cluster's operator token
// (for listeners outside the API, such as the debug profiles').
func (n *Node) CheckOperatorToken(token string) bool {
	return token != "" && n.meta.Synced().CheckOperatorToken(secret.Hash(token))
}

// KeyLease returns nil while this node may trust its copy of the API keys
// (metadata.Service.KeyLease).
func (n *Node) KeyLease() error { return n.meta.KeyLease() }

// AlertEvalLag returns how many written batches wait for alert evaluation
// on this node, their bytes, and how long the oldest has waited.
func (n *Node) AlertEvalLag() (queued int, bytes int64, oldest time.Duration) { return n.queue.Lag() }

// RemoveNode takes a node out of the Raft configuration
// (metadata.Service.RemoveNode).
func (n *Node) RemoveNode(ctx context.Context, id string) error { return n.meta.RemoveNode(ctx, id) }

// Rebalance moves buckets onto the replicas the current servers call for
// (cluster.Placer.Rebalance).
func (n *Node) Rebalance(ctx context.Context) (any, error) { return n.placer.Rebalance(ctx) }

// HTTPAddr is the address the API listens on.
func (n *Node) HTTPAddr() string { return n.ln.Addr().String() }

// Ready returns nil when this node can serve requests.
func (n *Node) Ready() error {
	if !n.serving.Load() {
		return errors.New("node is starting or stopping")
	}
	if !n.raft.Ready() {
		return errors.New("no raft leader known or log not yet applied")
	}
	if !n.state.Initialized() {
		return errors.New("cluster not yet initialized")
	}
	return nil
}

// ClusterStatus describes the cluster as this node sees it
// (internal/clusterstatus).
func (n *Node) ClusterStatus() any {
	src := clusterstatus.Sources{
		Self: n.cfg.NodeID, HTTPAddr: n.cfg.advertise(n.HTTPAddr()), Raft: n.raft, State: n.state,
		Ready: func() bool { return n.Ready() == nil }, Logger: n.log,
	}
	if src.HTTPAddr == "" {
		src.HTTPAddr = n.HTTPAddr()
	}
	if n.members != nil {
		src.Members, src.Hints, src.Replication = n.members.Members, n.hints, n.repl
	}
	return clusterstatus.Document(src)
}

// Close stops serving, then stops Raft. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.serving.Store(false)
		var errs []error
		if n.mqtt != nil {
			// First, so that no message is taken that cannot be stored.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n.mqtt.Close(ctx)
			cancel()
		}
		if n.serveDone != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			errs = append(errs, n.api.Shutdown(ctx))
			cancel()
			if err := <-n.serveDone; err != nil {
				errs = append(errs, err)
			}
		} else {
			n.ln.Close()
		}
		errs = append(errs, n.alerts.Close())
		n.queue.Close()
		n.meta.Close()
		n.repl.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.meter.Close(ctx); err != nil {
			n.log.Warn("cannot ship the last usage counts", "err", err)
		}
		cancel()
		errs = append(errs, n.leaveCluster())
		errs = append(errs, n.raft.Close())
		errs = append(errs, n.pts.Close())
		if n.hints != nil {
			errs = append(errs, n.hints.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ingestMessages hands the MQTT subscriber's batches to the API server.
func (n *Node) ingestMessages(key string, msgs []mqttingest.Message) []error {
	in := make([]httpapi.Message, len(msgs))
	for i, m := range msgs {
		in[i] = httpapi.Message(m)
	}
	return n.api.IngestMessages(key, in)
}
