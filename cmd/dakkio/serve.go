package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/node"
)

// envFlag registers a string flag whose default comes from DAKKIO_<NAME>.
func envFlag(fs *flag.FlagSet, p *string, name, def, help string) {
	env := envName(name)
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, help+" (env "+env+")")
}

// serveOptions are what the flags of serve set.
type serveOptions struct {
	cfg                            node.Config
	join                           listFlag
	logLevel, logFormat, debugAddr string
	configPath                     string
	memoryLimit                    byteSize
}

// serveFlags declares serve's flags. Each is also read from its environment
// variable and the config file (see applySources).
func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	cfg := &o.cfg
	fs := flag.NewFlagSet("dakkio serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, configFlag, "", "TOML (.toml) or YAML (.yaml, .yml) `file` setting any of these flags by name, e.g. http-addr = \":8080\"")
	fs.StringVar(&cfg.NodeID, "node-id", "node1", "unique name of this node")
	fs.StringVar(&cfg.DataDir, "data-dir", "data", "directory for the raft log, points and initial credentials")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8080", "HTTP API listen address")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:8300", "Raft listen address")
	hl, def := &cfg.HTTPLimits, node.DefaultHTTPLimits()
	fs.DurationVar(&hl.ReadHeaderTimeout, "http-read-header-timeout", def.ReadHeaderTimeout, "time a client has to send a request's headers; slower ones are cut off")
	fs.DurationVar(&hl.IdleTimeout, "http-idle-timeout", def.IdleTimeout, "time a kept-alive HTTP connection may wait for its next request")
	fs.IntVar(&hl.MaxConnsPerIP, "http-max-conns-per-ip", def.MaxConnsPerIP, "open HTTP connections allowed from one client address (raise it behind a proxy or NAT); -1: no cap")
	fs.Int64Var(&hl.MaxBodyBytesInFlight, "http-max-body-bytes-in-flight", def.MaxBodyBytesInFlight, "bytes of request bodies the node reads or holds at once; beyond it requests get 503 with Retry-After")
	fs.StringVar(&cfg.InitialOrg, "initial-org", "default", "name of the organization created on first start")
	fs.Var(&o.join, "join", "comma-separated gossip `addresses` (host:port) of nodes already in the cluster")
	fs.IntVar(&cfg.BootstrapExpect, "bootstrap-expect", 1, "servers that must see each other before a new cluster starts")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", "", "gossip (memberlist) listen address; default 0.0.0.0:7946 in a cluster")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", "", "host other nodes use to reach this one (default: the bound host, or 127.0.0.1)")
	fs.IntVar(&cfg.ReplicationFactor, "replication-factor", 3, "nodes holding each bucket's points, capped by the servers")
	fs.StringVar(&cfg.ClusterKey, "cluster-key", "", "shared secret encrypting gossip and signing node-to-node calls (required in a cluster)")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate (chain) of this node: the API is served over HTTPS, and in a cluster it is the node's certificate towards the others")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.TLSCAFile, "tls-ca", "", "PEM CA bundle the other nodes' certificates are verified against (required for TLS in a cluster)")
	fs.DurationVar(&cfg.DeadAfter, "dead-node-timeout", 5*time.Minute, "how long a node must be dead on gossip before the leader removes it from Raft and gives its buckets new replicas")
	rc := &cfg.Replication
	fs.StringVar(&rc.WriteConsistency, "write-consistency", "quorum", "replicas that must store a write before it is acknowledged, unless the request asks ?consistency=: one, quorum or all")
	fs.Int64Var(&rc.HintMaxBytes, "hint-max-bytes", 256<<20, "bound of each node's hinted-handoff queue for one target, in bytes; beyond it writes are left to repair")
	fs.DurationVar(&rc.HintMaxAge, "hint-max-age", 3*time.Hour, "hints older than this are dropped and left to repair")
	fs.DurationVar(&rc.RepairInterval, "repair-interval", time.Minute, "pause between anti-entropy repair passes")
	fs.IntVar(&rc.RepairRate, "repair-rate", 2_000_000, "points per second a repair pass may compare")
	fs.DurationVar(&rc.AckGrace, "ack-grace", 100*time.Millisecond, "how long a write that met its consistency (quorum, all) still waits for the other replicas before answering")
	fs.DurationVar(&rc.ReadHedge, "read-hedge", 300*time.Millisecond, "how long a read waits on one replica before also asking the next")
	fs.BoolVar(&cfg.SyncWrites, "sync-writes", false, "fsync every points commit before acknowledging it (survives power loss; slower)")
	fs.StringVar(&cfg.PointsCompression, "points-compression", "snappy", "compression of points on disk: snappy, zstd (smaller, slower) or none")
	fs.BoolVar(&cfg.KeepTablePages, "keep-table-pages", false, "keep the pages of the points tables the node writes, and those reads bring back, in its memory (RSS grows with the data stored)")
	fs.Var((*listFlag)(&cfg.WebhookDenyCIDRs), "webhook-deny-cidrs", "comma-separated `ranges` (CIDRs or addresses) alert webhooks may not reach, beside loopback, link-local and unspecified addresses")
	fs.Var((*listFlag)(&cfg.WebhookAllowCIDRs), "webhook-allow-cidrs", "comma-separated `ranges` alert webhooks may reach even inside a denied range (the most specific range decides); the node's own ports stay refused")
	_ = o.memoryLimit.Set(defaultMemoryLimit)
	fs.Var(&o.memoryLimit, "memory-limit", "soft limit of the Go runtime's memory (like GOMEMLIMIT): bytes or a `size` such as 256MiB or 1GiB; 0 leaves GOMEMLIMIT's")
	fs.Int64Var(&cfg.AlertQueueMaxBytes, "alert-queue-max-bytes", node.DefaultAlertQueueMaxBytes, "bound of the queue of acknowledged points waiting for alert rule evaluation, in bytes (-1: none); beyond it writes are stored and acknowledged but not evaluated")
	mq := &cfg.MQTT
	fs.StringVar(&mq.Broker, "mqtt-broker", "", "MQTT broker `URL` to subscribe to (tcp://host:1883, ssl://host:8883); unset, no MQTT")
	fs.StringVar(&mq.Topic, "mqtt-topic", "dakkio/#", "MQTT topic filter; messages are <prefix>/<bucketId>/<source name>, joined as $share/dakkio/<filter>")
	fs.StringVar(&mq.Key, "mqtt-key", "", "dakkio API key authorizing MQTT writes: a write key (its bucket) or an admin key (its organization's buckets)")
	fs.StringVar(&mq.Username, "mqtt-username", "", "user name for the MQTT broker")
	fs.StringVar(&mq.Password, "mqtt-password", "", "password for the MQTT broker")
	fs.StringVar(&mq.ClientID, "mqtt-client-id", "", "MQTT client id of this node (default dakkio-<node-id>); the broker keeps its session while it is away")
	fs.StringVar(&mq.CAFile, "mqtt-tls-ca", "", "PEM CA bundle to verify the MQTT broker's certificate with")
	fs.StringVar(&mq.CertFile, "mqtt-tls-cert", "", "PEM client certificate for the MQTT broker")
	fs.StringVar(&mq.KeyFile, "mqtt-tls-key", "", "PEM private key of --mqtt-tls-cert")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "if set, serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060) once the node has started, to the operator token only (X-Operator-Token, or the password of basic auth); keep it private")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	noteEnvNames(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: dakkio serve [flags]\n\nEach flag is taken from, first to last: the command line, the environment\nvariable named, the --config file (its keys are the flag names), the default.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nFirst start only: DAKKIO_INITIAL_ADMIN_KEY and DAKKIO_OPERATOR_TOKEN set the initial\nadmin key and operator token; unset, random ones are written to <data-dir>/%s\nand <data-dir>/%s (mode 0600).\n", node.InitialAdminKeyFile, node.OperatorTokenFile)
	}
	return fs, o
}

// errFlagParse: the flag package has already reported the error.
var errFlagParse = errors.New("invalid flags")

// parseServe reads serve's options from args, the environment and the
// config file. A nil error with help set means --help was asked for.
func parseServe(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (o *serveOptions, help bool, err error) {
	fs, o := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("%w: %v", errFlagParse, err)
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applySources(fs, lookupEnv); err != nil {
		return nil, false, err
	}
	o.cfg.Join = o.join
	return o, false, nil
}

func serveCommand(args []string, stdout, stderr io.Writer) int {
	o, help, err := parseServe(args, os.LookupEnv, stderr)
	switch {
	case help:
		return 0
	case errors.Is(err, errFlagParse):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "dakkio serve: %v\n", err)
		return 2
	}
	cfg := o.cfg
	cfg.InitialAdminKey = os.Getenv("DAKKIO_INITIAL_ADMIN_KEY")
	cfg.OperatorToken = os.Getenv("DAKKIO_OPERATOR_TOKEN")

	logger, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "dakkio serve: %v\n", err)
		return 2
	}
	cfg.Logger = logger
	slog.SetDefault(logger)

	applyMemoryLimit(o.memoryLimit, logger)
	n, err := node.New(cfg)
	if err != nil {
		logger.Error("cannot start node", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go releaseWhenIdle(ctx)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = n.Start(startCtx)
	cancel()
	if err != nil {
		logger.Error("cannot start node", "err", err)
		_ = n.Close()
		return 1
	}
	if o.debugAddr != "" {
		if err := serveDebug(o.debugAddr, n.CheckOperatorToken, logger); err != nil {
			logger.Error("cannot serve debug profiles", "err", err)
			_ = n.Close()
			return 1
		}
	}
	fmt.Fprintf(stdout, "dakkio node %s ready on %s (data in %s)\n", cfg.NodeID, n.URL(), cfg.DataDir)
	<-ctx.Done()
	logger.Info("shutting down")
	if err := n.Close(); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid log level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid log format %q", format)
}

// serveDebug serves net/http/pprof on its own listener, apart from the API,
// so profiles are reachable only where the operator binds them, and only
// with the operator token (every port is authenticated: a heap profile
// holds whatever the heap held). The token comes as X-Operator-Token or as
// the password of basic auth, which go tool pprof sends from the URL
// (http://op:TOKEN@host:port/debug/pprof/heap).
func serveDebug(addr string, checkToken func(string) bool, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	srv := &http.Server{Handler: operatorOnly(mux, checkToken), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving debug profiles", "addr", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }() // lives as long as the process
	return nil
}

// operatorOnly refuses requests without the operator token, with 401.
func operatorOnly(next http.Handler, checkToken func(string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Operator-Token")
		if _, pass, ok := r.BasicAuth(); ok && tok == "" {
			tok = pass
		}
		if !checkToken(tok) {
			w.Header().Set("WWW-Authenticate", `Basic realm="dakkio debug"`)
			http.Error(w, "the operator token is required (X-Operator-Token, or the password of basic auth)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
