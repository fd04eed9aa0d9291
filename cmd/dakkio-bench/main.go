package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
)

// Targets the table checks against.
const (
	targetValuesPerSec = 1_000_000
	targetRawP50       = 10 * time.Millisecond
	targetHourlyP50    = 20 * time.Millisecond
	targetDailyP50     = 50 * time.Millisecond
	targetAnalyticsP50 = 50 * time.Millisecond
	targetBytesPerPt   = 12.0
	// The cluster's ingest rate over the single node's, all on one machine:
	// each point is stored three times and crosses the loopback twice more.
	targetClusterRatio = 0.3
	targetPeakRSS      = 384 << 20
	// memSampleEvery is how often the node's RSS is read during the ingest:
	// often enough to see how long the spikes that VmHWM catches last.
	memSampleEvery = 100 * time.Millisecond
)

// Timeouts for the node's lifecycle.
const (
	startTimeout = 5 * time.Minute // to ready, including a restart over a full store
	stopTimeout  = 5 * time.Minute // SIGTERM to exit, including the memtable flush
	queryWarmup  = 2
)

type config struct {
	binary, addr, key string
	dataDir, tmpDir   string
	keep              bool
	sources, days     int
	interval          time.Duration
	batch, conns      int
	fields, queries   int
	seed              uint64
	maxPoints         int64
	settleTimeout     time.Duration
	// The cluster phase: whether it runs, alone, and its size.
	cluster, clusterOnly bool
	clusterPoints        int64
	consistency          string
	// The single node's: --sync-writes, extra serve flags, alert rules on
	// the bucket, and the idle time after which its RSS is read again.
	syncWrites bool
	nodeArgs   []string
	rules      int
	idle       time.Duration
	protocol   string // json, lp (lineproto.go), rw (remotewrite.go) or mqtt (mqtt.go)
	promql     bool   // also measure PromQL range queries (promql.go)
	vmAddr     string // a VictoriaMetrics to compare query (a) with (vm.go)
}

func main() {
	os.Exit(run(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

func run(argv0 string, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, out: stdout, log: stderr, argv0: argv0, args: args}
	if err := b.run(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		fmt.Fprintf(stderr, "dakkio-bench: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("dakkio-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.binary, "binary", "", "start this dakkio binary in a fresh directory and drive it (this or --addr)")
	fs.StringVar(&c.addr, "addr", "", "base URL of a running node to drive instead, such as http://127.0.0.1:8080")
	fs.StringVar(&c.key, "key", "", "with --addr: an admin key of the node")
	fs.StringVar(&c.dataDir, "data-dir", "", "with --addr: the node's data directory, to measure bytes on disk")
	fs.StringVar(&c.tmpDir, "tmp-dir", "", "with --binary: where to make the node's directory (default: the system temp dir)")
	fs.BoolVar(&c.keep, "keep", false, "with --binary: keep the node's directory at the end")
	fs.IntVar(&c.sources, "sources", 100, "data sources")
	fs.IntVar(&c.days, "days", 60, "days of points, ending at the current minute")
	fs.DurationVar(&c.interval, "interval", 10*time.Second, "time between two points of a source")
	fs.IntVar(&c.batch, "batch", 1000, "points per POST /api/data/batch (1..1000)")
	fs.IntVar(&c.conns, "conns", 8, "concurrent keep-alive connections for the ingest")
	fs.IntVar(&c.fields, "fields", 3, "number fields per point (temperature, humidity, pressure, ...)")
	fs.IntVar(&c.queries, "queries", 50, "measured runs of each query kind")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the readings and of the queries' choices")
	fs.Int64Var(&c.maxPoints, "max-points", 0, "ingest only the last ticks up to this many points (0: all)")
	fs.DurationVar(&c.settleTimeout, "settle-timeout", 10*time.Minute, "how long to wait for dataPointCount to reach the points sent")
	fs.BoolVar(&c.cluster, "cluster", true, "with --binary: after the single node, ingest into a local 3-node cluster (replication factor 3) and compare the rates")
	fs.BoolVar(&c.clusterOnly, "cluster-only", false, "with --binary: the cluster's ingest only, no single node")
	fs.Int64Var(&c.clusterPoints, "cluster-points", 5_000_000, "points the cluster ingests: the workload's last ticks, like --max-points, which caps this too")
	fs.BoolVar(&c.syncWrites, "sync-writes", false, "with --binary: start the single node with --sync-writes (fsync every group commit)")
	nodeArgs := fs.String("node-args", "", "with --binary: more `flags` for the single node's serve, space-separated (e.g. \"--memory-limit 512MiB\")")
	fs.IntVar(&c.rules, "rules", 0, "alert rules to create on the bucket before the ingest (never met; their webhook is never called)")
	fs.DurationVar(&c.idle, "idle", 30*time.Second, "with --binary: after the ingest settles, how long the node idles before its RSS is read again (0: not read)")
	fs.StringVar(&c.consistency, "consistency", "quorum", "the cluster's writes ask ?consistency= this: one, quorum or all (empty: the nodes' --write-consistency)")
	fs.BoolVar(&c.promql, "promql", true, "after the JSON queries, measure PromQL range queries (/api/v1/query_range) with and without the result cache")
	fs.StringVar(&c.vmAddr, "vm-addr", "", "base URL of a running VictoriaMetrics (e.g. http://127.0.0.1:8428): feed it the single node's points and run query (a) on its /api/v1/export too")
	fs.StringVar(&c.protocol, "protocol", "json", "single node's ingest: json (POST /api/data/batch), lp (InfluxDB line protocol, POST /api/v2/write) rw (Prometheus remote write, POST /api/v1/write) or mqtt (one QoS 1 message a point through a mosquitto the bench starts)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: dakkio-bench --binary bin/dakkio [flags]\n       dakkio-bench --addr URL --key ADMINKEY [--data-dir DIR] [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fail := func(format string, a ...any) (config, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "dakkio-bench: %v\n", err)
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case (c.binary == "") == (c.addr == ""):
		return fail("give either --binary or --addr")
	case c.addr != "" && c.key == "":
		return fail("--addr needs --key, an admin key")
	case c.binary != "" && (c.key != "" || c.dataDir != ""):
		return fail("--key and --data-dir go with --addr; --binary makes its own")
	case c.sources < 1, c.days < 1 || c.days > 3000, c.interval <= 0:
		return fail("--sources must be at least 1, --days 1..3000, --interval positive")
	case c.interval > 24*time.Hour*time.Duration(c.days):
		return fail("--interval longer than --days leaves no points")
	case c.batch < 1 || c.batch > 1000, c.conns < 1, c.fields < 1 || c.fields > 100, c.queries < 1, c.maxPoints < 0:
		return fail("--batch must be 1..1000, --fields 1..100, --conns and --queries at least 1, --max-points not negative")
	case c.addr != "" && (c.clusterOnly || set["cluster"] && c.cluster):
		return fail("--cluster and --cluster-only go with --binary: the bench starts the cluster itself")
	case c.clusterOnly && !c.cluster:
		return fail("--cluster-only with --cluster=false leaves nothing to run")
	case c.addr != "" && (c.syncWrites || *nodeArgs != ""):
		return fail("--sync-writes and --node-args go with --binary: the bench starts the node")
	case c.rules < 0 || c.idle < 0:
		return fail("--rules and --idle must not be negative")
	case c.protocol != "json" && c.protocol != "lp" && c.protocol != "rw" && c.protocol != "mqtt":
		return fail("--protocol must be json, lp, rw or mqtt")
	case c.protocol == "mqtt" && c.addr != "":
		return fail("--protocol mqtt goes with --binary: the bench starts the broker and subscribes the node")
	case c.vmAddr != "" && c.clusterOnly:
		return fail("--vm-addr compares with the single node: not with --cluster-only")
	case c.clusterPoints < 1:
		return fail("--cluster-points must be at least 1")
	case c.consistency != "" && c.consistency != "one" && c.consistency != "quorum" && c.consistency != "all":
		return fail("--consistency must be one, quorum, all or empty")
	}
	if c.addr != "" {
		c.cluster = false
	}
	c.nodeArgs = strings.Fields(*nodeArgs)
	return c, nil
}

// bench is one run.
type bench struct {
	cfg config
	out io.Writer // the report
	log io.Writer // progress

	argv0 string // for the command line in the report
	args  []string
}

func (b *bench) logf(format string, a ...any) { fmt.Fprintf(b.log, format+"\n", a...) }

// report is what the table shows: either phase may be missing.
type report struct {
	loadBefore string
	single     *singleReport
	cluster    *clusterReport
}

// singleReport is the single node's phase.
type singleReport struct {
	w                  *workload
	started            bool // by the bench, with --binary
	ingest             ingestResult
	benchCPU           time.Duration // this process's, during the ingest
	nodeCPU            time.Duration // the started node's, from start to the flush
	settle             time.Duration
	diskMeasured       bool
	sst, all           int64
	stopTook, restTook time.Duration
	queries            []queryResult
	// vmIngest is VictoriaMetrics' line-protocol ingest of the same points
	// (--vm-addr), right after the node's, for the ratio.
	vmIngest ingestResult
	// With --binary: the node's memory during the ingest and settle, after
	// idling, and the bytes it wrote to disk meanwhile (-1: unknown).
	mem       []memSample
	idleMem   procMem
	idleTook  time.Duration
	wrote     int64
	wroteLife int64 // start to stop, the flush on stop included
	rulesMade int
}

// run runs the single node's phase, then the cluster's, each stopping its
// nodes before the next starts; the table comes at the end, and also when
// the cluster phase fails after the single node's.
func (b *bench) run(ctx context.Context) error {
	r := report{loadBefore: loadAverage()}
	if !b.cfg.clusterOnly {
		s, err := b.runSingle(ctx)
		if err != nil {
			return err
		}
		r.single = s
	}
	if b.cfg.cluster {
		c, err := b.runCluster(ctx)
		if err != nil {
			if r.single != nil {
				b.print(&r)
			}
			return fmt.Errorf("cluster: %w", err)
		}
		r.cluster = c
	}
	b.print(&r)
	if r.single != nil {
		for _, q := range r.single.queries {
			if q.wrong > 0 {
				return fmt.Errorf("query %s: %d of %d answers wrong; the first: %s", q.kind.label, q.wrong, len(q.latencies), q.firstBad)
			}
		}
	}
	return nil
}

// runSingle ingests the workload into one node, measures its disk, and
// queries it back.
func (b *bench) runSingle(ctx context.Context) (*singleReport, error) {
	cfg := b.cfg
	base, adminKey := cfg.addr, cfg.key
	var node *nodeProc
	var broker *mqttBroker // --protocol mqtt
	if cfg.binary != "" {
		dir, err := os.MkdirTemp(cfg.tmpDir, "dakkio-bench-")
		if err != nil {
			return nil, fmt.Errorf("cannot make the node's directory: %w", err)
		}
		node = &nodeProc{
			extra:    cfg.nodeFlags(),
			binary:   cfg.binary,
			dataDir:  filepath.Join(dir, "data"),
			adminKey: secret.New(secret.AdminPrefix),
			logPath:  filepath.Join(dir, "node.log"),
		}
		defer func() {
			if _, err := node.stop(stopTimeout); err != nil {
				b.logf("stopping the node: %v", err)
			}
			if cfg.keep {
				b.logf("kept %s (node log: %s)", dir, node.logPath)
			} else if err := os.RemoveAll(dir); err != nil {
				b.logf("cannot remove %s: %v", dir, err)
			}
		}()
		if node.httpAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		if node.raftAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		if cfg.protocol == "mqtt" {
			if broker, err = startBroker(ctx, dir); err != nil {
				return nil, err
			}
			defer broker.stop()
			node.extra = append(node.extra, broker.nodeFlags(node.adminKey)...)
		}
		b.logf("starting %s (data in %s, HTTP %s)", cfg.binary, node.dataDir, node.httpAddr)
		if err := node.start(); err != nil {
			return nil, err
		}
		if err := node.waitReady(ctx, startTimeout); err != nil {
			return nil, err
		}
		base, adminKey = node.baseURL(), node.adminKey
	}
	t, err := parseTarget(base)
	if err != nil {
		return nil, err
	}
	api := client.New(t.base, client.WithAPIKey(adminKey), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))

	w, bucketID, writeKey, readKey, err := b.setup(ctx, api, cfg.maxPoints)
	if err != nil {
		return nil, err
	}
	r := &singleReport{w: w, started: node != nil, wrote: -1, wroteLife: -1}
	if cfg.rules > 0 {
		b.logf("creating %d alert rules on bucket %s", cfg.rules, bucketID)
		if err := makeRules(ctx, api, bucketID, w, cfg.rules); err != nil {
			return nil, err
		}
		r.rulesMade = cfg.rules
	}
	var mem *memSampler
	var wrote0 int64
	if node != nil {
		pid := node.cmd.Process.Pid
		mem = startMemSampler(pid, memSampleEvery)
		if n, ok := readWriteBytes(pid); ok {
			wrote0 = n
		} else {
			wrote0 = -1
		}
	}
	b.logf("ingesting %s points (%d sources × %s ticks) into bucket %s", count(w.points()), len(w.sources), count(w.ticks), bucketID)
	g := newGenerator(w, bucketID, cfg.seed)
	g.lp = cfg.protocol == "lp"
	g.rw = cfg.protocol == "rw"
	cpu0 := cpuTime()
	if broker != nil {
		r.ingest, err = ingestMQTT(ctx, broker, api, bucketID, g, cfg.conns, cfg.settleTimeout, b.log)
	} else {
		r.ingest, err = ingest(ctx, []target{t}, ingestPath(cfg.protocol, bucketID), writeKey, g, cfg.batch, cfg.conns, b.log)
	}
	if err != nil {
		return nil, err
	}
	r.benchCPU = cpuTime() - cpu0
	b.logf("ingested in %v; waiting for dataPointCount to reach %s", r.ingest.elapsed.Round(time.Millisecond), count(r.ingest.points))
	if r.settle, err = waitSettled(ctx, api, bucketID, r.ingest.points, cfg.settleTimeout); err != nil {
		return nil, err
	}
	if node != nil {
		r.mem = mem.stop()
		if n, ok := readWriteBytes(node.cmd.Process.Pid); ok && wrote0 >= 0 {
			r.wrote = n - wrote0
		}
		if cfg.idle > 0 {
			b.logf("idling %v, then reading the node's RSS", cfg.idle)
			t0 := time.Now()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(cfg.idle):
			}
			r.idleMem, _ = readProcMem(node.cmd.Process.Pid)
			r.idleTook = time.Since(t0)
		}
	}

	switch {
	case node != nil:
		// Stopping flushes the memtables to .sst files, so the directory
		// holds the data as it will stay; the queries then run on the
		// restarted node with ingest idle.
		b.logf("stopping the node to flush it, measuring %s, restarting", filepath.Join(node.dataDir, "points"))
		if r.stopTook, err = node.stop(stopTimeout); err != nil {
			return nil, err
		}
		if r.sst, r.all, err = diskUsage(filepath.Join(node.dataDir, "points")); err != nil {
			return nil, err
		}
		r.diskMeasured = true
		r.nodeCPU = node.cpu
		r.wroteLife = node.wrote
		t0 := time.Now()
		if err := node.start(); err != nil {
			return nil, err
		}
		if err := node.waitReady(ctx, startTimeout); err != nil {
			return nil, err
		}
		r.restTook = time.Since(t0)
	case cfg.dataDir != "":
		if r.sst, r.all, err = diskUsage(filepath.Join(cfg.dataDir, "points")); err != nil {
			return nil, err
		}
		r.diskMeasured = true
	}

	b.logf("querying: %d runs of each kind after %d warm-up runs", cfg.queries, queryWarmup)
	if r.queries, err = runQueries(ctx, t, readKey, queryKinds(w, bucketID), cfg.queries, queryWarmup, cfg.seed); err != nil {
		return nil, err
	}
	if cfg.promql {
		names := make([]string, len(w.sources))
		for i := range names {
			names[i] = sourceName(cfg.protocol, i) // as setup names them
		}
		kinds, start, end := promqlKinds(w, names)
		pq, err := runPromQL(ctx, t, readKey, kinds, start, end, cfg.queries, queryWarmup, cfg.seed)
		if err != nil {
			return nil, err
		}
		r.queries = append(r.queries, pq...)
	}
	if cfg.vmAddr != "" {
		vt, err := parseTarget(cfg.vmAddr)
		if err != nil {
			return nil, err
		}
		b.logf("feeding %s points to VictoriaMetrics at %s", count(w.points()), vt.base)
		if r.vmIngest, err = vmIngest(ctx, vt, w, cfg.seed, cfg.batch, cfg.conns, cfg.settleTimeout, b.log); err != nil {
			return nil, err
		}
		b.logf("querying VictoriaMetrics: %d runs after %d warm-up runs", cfg.queries, queryWarmup)
		vq, err := runVMRaw(ctx, vt, w, cfg.queries, queryWarmup, cfg.seed)
		if err != nil {
			return nil, err
		}
		r.queries = append(r.queries, vq)
		// Query (a) once more, over other windows: by now the restarted
		// node has done the compacting its restart started, as
		// VictoriaMetrics has merged what it was fed, so this row and the
		// one above compare the two stores at rest.
		again := queryKinds(w, bucketID)[0]
		again.label = strings.Replace(again.label, "(a) raw", "(a) raw again, after VictoriaMetrics' turn", 1)
		again.target = 0
		b.logf("querying the node again: %d runs of (a) after %d warm-up runs", cfg.queries, queryWarmup)
		aq, err := runQueries(ctx, t, readKey, []queryKind{again}, cfg.queries, queryWarmup, cfg.seed+1)
		if err != nil {
			return nil, err
		}
		r.queries = append(r.queries, aq...)
	}
	return r, nil
}

// setup makes the bucket, its keys and sources, and lays out the workload.
// It ingests the last ticks up to maxPoints points (0: all).
func (b *bench) setup(ctx context.Context, api *client.Client, maxPoints int64) (w *workload, bucketID, writeKey, readKey string, err error) {
	cfg := b.cfg
	retention := 3650
	bk, err := api.CreateBucket(ctx, client.CreateBucketRequest{
		Name:          "bench-" + time.Now().UTC().Format("20060102-150405.000"),
		RetentionDays: &retention,
	})
	if err != nil {
		return nil, "", "", "", fmt.Errorf("cannot create bucket: %w", err)
	}
	wk, err := api.CreateKey(ctx, bk.ID, client.CreateKeyRequest{Name: "bench-write", Type: "write"})
	if err != nil {
		return nil, "", "", "", fmt.Errorf("cannot create write key: %w", err)
	}
	rk, err := api.CreateKey(ctx, bk.ID, client.CreateKeyRequest{Name: "bench-read", Type: "read"})
	if err != nil {
		return nil, "", "", "", fmt.Errorf("cannot create read key: %w", err)
	}
	fields := fieldsFor(cfg.fields)
	schema := make(map[string]client.Field, len(fields))
	for _, f := range fields {
		schema[f.name] = client.Field{Type: "number", Unit: f.unit}
	}
	w = &workload{fields: fields, interval: cfg.interval.Nanoseconds()}
	b.logf("creating bucket %s and %d sources", bk.ID, cfg.sources)
	for i := range cfg.sources {
		src, err := api.CreateSource(ctx, bk.ID, client.CreateSourceRequest{
			Name: sourceName(cfg.protocol, i), Type: "sensor", Schema: schema,
		})
		if err != nil {
			return nil, "", "", "", fmt.Errorf("cannot create data source %d: %w", i+1, err)
		}
		w.sources = append(w.sources, src.ID)
	}
	w.ticks = int64(cfg.days) * int64(24*time.Hour) / w.interval
	if maxPoints > 0 {
		w.ticks = min(w.ticks, max(1, maxPoints/int64(cfg.sources)))
	}
	end := time.Now().Truncate(time.Minute).UnixNano()
	w.start = end - w.ticks*w.interval
	return w, bk.ID, wk.Key, rk.Key, nil
}

// waitSettled polls the bucket's stats until they count want points.
func waitSettled(ctx context.Context, api *client.Client, bucketID string, want int64, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var got int64 = -1
	for {
		bk, err := api.GetBucket(ctx, bucketID)
		if err == nil {
			got = bk.Stats.DataPointCount
			if got == want {
				return time.Since(t0), nil
			}
			if got > want {
				return 0, fmt.Errorf("bucket counts %d points, more than the %d sent", got, want)
			}
		} else if ctx.Err() == nil {
			return 0, fmt.Errorf("cannot read bucket stats: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bucket counts %d points after %v, want %d", got, timeout, want)
		case <-tick.C:
		}
	}
}

// rawWindow picks query (a)'s source (an index of w.sources) and the start
// of its window; runVMRaw draws the same windows from the same seed.
func rawWindow(w *workload, r *rand.Rand) (int, int64) {
	rawN := min(1000, w.ticks)
	from := w.start + r.Int64N(w.ticks-rawN+1)*w.interval
	return r.IntN(len(w.sources)), from
}

// queryKinds lays out the measured queries over w's range.
func queryKinds(w *workload, bucketID string) []queryKind {
	const hour, day = int64(time.Hour), 24 * int64(time.Hour)
	iv := w.interval
	source := func(r *rand.Rand) string { return w.sources[r.IntN(len(w.sources))] }
	body := func(src string, from, to int64, tail string) []byte {
		b := fmt.Appendf(nil, `{"bucketId":%q,"filters":{`, bucketID)
		if src != "" {
			b = fmt.Appendf(b, `"dataSourceId":%q,`, src)
		}
		return fmt.Appendf(b, `"startTime":%q,"endTime":%q%s`, rfc3339(from), rfc3339(to), tail)
	}

	rawN := min(1000, w.ticks)
	raw := queryKind{
		label:  fmt.Sprintf("(a) raw, %d points of one source", rawN),
		target: targetRawP50,
		build: func(r *rand.Rand) ([]byte, expect) {
			src, from := rawWindow(w, r)
			return body(w.sources[src], from, from+rawN*iv, `,"limit":1000}}`), expect{rows: int(rawN)}
		},
	}

	// Whole hours inside the data; 30 days of them, or all there are.
	h0, hEnd := ceilDiv(w.start, hour)*hour, w.end()/hour*hour
	if hEnd <= h0 {
		h0, hEnd = w.start, w.end()
	}
	span := min(30*day, hEnd-h0)
	slots := (hEnd - h0 - span) / hour
	hourly := queryKind{
		label:  fmt.Sprintf("(b) avg per hour, %s of one source (%s points)", days(span), count(w.ticksIn(h0, h0+span))),
		target: targetHourlyP50,
		build: func(r *rand.Rand) ([]byte, expect) {
			from := h0 + r.Int64N(slots+1)*hour
			to := from + span
			return body(source(r), from, to, `},"aggregation":"avg","groupBy":"hour"}`),
				expect{rows: w.windowsIn(from, to, hour), points: w.ticksIn(from, to), agg: true}
		},
	}

	dayRows := w.windowsIn(w.start, w.end(), day)
	daily := queryKind{
		label:  fmt.Sprintf("(c) max per day, %s of one source", days(w.end()-w.start)),
		target: targetDailyP50,
		build: func(r *rand.Rand) ([]byte, expect) {
			return body(source(r), w.start, w.end(), `},"aggregation":"max","groupBy":"day"}`),
				expect{rows: dayRows, points: w.ticks, agg: true}
		},
	}
	dailyAll := queryKind{
		label: fmt.Sprintf("(c') max per day, %s of all %d sources", days(w.end()-w.start), len(w.sources)),
		build: func(r *rand.Rand) ([]byte, expect) {
			return body("", w.start, w.end(), `},"aggregation":"max","groupBy":"day"}`),
				expect{rows: dayRows * len(w.sources), points: w.points(), agg: true}
		},
	}
	analytics := func(period string) queryKind {
		return queryKind{
			label:  fmt.Sprintf("(d) bucket analytics, period %s (%s points in the bucket)", period, count(w.points())),
			target: analyticsTarget(period),
			get:    "/api/analytics/buckets/" + bucketID + "?period=" + period,
			build: func(*rand.Rand) ([]byte, expect) {
				return nil, expect{points: w.points(), analytics: true}
			},
		}
	}
	return []queryKind{raw, hourly, daily, dailyAll, analytics("7d"), analytics("90d")}
}

func (b *bench) print(r *report) {
	cfg := b.cfg
	fmt.Fprintf(b.out, "\ncommand: %s\n", commandLine(b.argv0, b.args))
	if r.loadBefore != "" {
		fmt.Fprintf(b.out, "host:    %d cores, %s, load average %s before the run\n", runtime.NumCPU(), runtime.GOARCH, r.loadBefore)
	}
	data := func(w *workload, spread string) {
		fmt.Fprintf(b.out, "         %s points: %d sources × %d fields, every %v from %s to %s, batches of %d on %d connections%s\n",
			count(w.points()), len(w.sources), len(w.fields), cfg.interval, rfc3339(w.start), rfc3339(w.end()-w.interval), cfg.batch, cfg.conns, spread)
	}
	if s := r.single; s != nil {
		if s.started {
			if flags := cfg.nodeFlags(); len(flags) > 0 {
				fmt.Fprintf(b.out, "         node flags: %s\n", strings.Join(flags, " "))
			}
			fmt.Fprintf(b.out, "single:  %s serve, started by the bench on the same %d cores; queries ran on it restarted, ingest idle\n", cfg.binary, runtime.NumCPU())
		} else {
			fmt.Fprintf(b.out, "single:  %s\n", cfg.addr)
		}
		data(s.w, "")
	}
	if c := r.cluster; c != nil {
		after := ""
		if r.single != nil {
			after = " after the single node stopped"
		}
		consistency := "the nodes' default write consistency"
		if cfg.consistency != "" {
			consistency = "writes at ?consistency=" + cfg.consistency
		}
		fmt.Fprintf(b.out, "cluster: %d × %s serve on 127.0.0.1, replication factor %d, %s, started by the bench on the same %d cores%s\n",
			clusterSize, cfg.binary, clusterSize, consistency, runtime.NumCPU(), after)
		data(c.w, fmt.Sprintf(" spread over the %d nodes (%s)", clusterSize, joinInts(c.connsPerNode, ", ")))
	}
	fmt.Fprintln(b.out)

	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tP50\tP99\tTARGET\t")
	row := func(measure, result, p50, p99, target, status string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", measure, result, p50, p99, target, status)
	}
	row("cores", strconv.Itoa(runtime.NumCPU()), "", "", "", "")
	if s := r.single; s != nil {
		b.singleRows(row, s)
	}
	if c := r.cluster; c != nil {
		w := c.w
		secs := c.ingest.elapsed.Seconds()
		vps := c.ingest.valuesPerSec(len(w.fields))
		p50, p99 := p50p99(c.ingest.latencies)
		row("cluster points", count(w.points()), "", "", "", "")
		row(fmt.Sprintf("cluster ingest (%s requests in %.1f s)", count(c.ingest.requests), secs),
			count(int64(float64(c.ingest.points)/secs))+" points/s", ms(p50), ms(p99), "", "")
		row("cluster ingest values", count(int64(vps))+" values/s", "", "", "", "")
		if s := r.single; s != nil {
			single := s.ingest.valuesPerSec(len(s.w.fields))
			ratio := vps / single
			row("cluster / single ingest", fmt.Sprintf("%.2f (%s of %s values/s)", ratio, count(int64(vps)), count(int64(single))), "", "",
				fmt.Sprintf("≥ %g", targetClusterRatio), verdict(ratio >= targetClusterRatio))
		}
		if c.benchCPU > 0 {
			row("bench's own CPU during cluster ingest", fmt.Sprintf("%s (%.2f cores, %.2f µs/point)", seconds(c.benchCPU), c.benchCPU.Seconds()/secs, c.benchCPU.Seconds()*1e6/float64(c.ingest.points)), "", "", "", "")
		}
		if c.nodeCPU > 0 {
			row(fmt.Sprintf("cluster's CPU, %d nodes, start to stop", clusterSize), fmt.Sprintf("%s (%.2f × the ingest time, %.1f µs/point)", seconds(c.nodeCPU), c.nodeCPU.Seconds()/secs, c.nodeCPU.Seconds()*1e6/float64(c.ingest.points)), "", "", "", "")
		}
		row("cluster settle (every node counts every point)", seconds(c.settle), "", "", "", "")
	}
	tw.Flush()
}

// singleRows are the single node's rows of the table.
func (b *bench) singleRows(row func(measure, result, p50, p99, target, status string), r *singleReport) {
	w := r.w
	row("points", count(w.points()), "", "", "", "")
	row("values", count(w.points()*int64(len(w.fields))), "", "", "", "")

	secs := r.ingest.elapsed.Seconds()
	vps := r.ingest.valuesPerSec(len(w.fields))
	p50, p99 := p50p99(r.ingest.latencies)
	row(fmt.Sprintf("ingest (%s requests in %.1f s)", count(r.ingest.requests), secs),
		count(int64(float64(r.ingest.points)/secs))+" points/s", ms(p50), ms(p99), "", "")
	row("ingest values", count(int64(vps))+" values/s", "", "",
		"≥ "+count(targetValuesPerSec)+" values/s", verdict(vps >= targetValuesPerSec))
	if v := r.vmIngest; v.points > 0 {
		// Same points, batches and connections, acknowledged: the ratio is
		// what holds on a host whose speed varies.
		vm := v.valuesPerSec(len(w.fields))
		vp50, vp99 := p50p99(v.latencies)
		row("ingest values, VictoriaMetrics /write (line protocol)", fmt.Sprintf("%s values/s (dakkio %s: %.2f×)", count(int64(vm)), b.cfg.protocol, vps/vm), ms(vp50), ms(vp99),
			"≥ 1.00×", verdict(vps >= vm))
	}
	if r.benchCPU > 0 {
		row("bench's own CPU during ingest", fmt.Sprintf("%s (%.2f cores, %.2f µs/point)", seconds(r.benchCPU), r.benchCPU.Seconds()/secs, r.benchCPU.Seconds()*1e6/float64(r.ingest.points)), "", "", "", "")
	}
	if r.nodeCPU > 0 {
		row("node's CPU, start to flush", fmt.Sprintf("%s (%.2f × the ingest time, %.1f µs/point)", seconds(r.nodeCPU), r.nodeCPU.Seconds()/secs, r.nodeCPU.Seconds()*1e6/float64(r.ingest.points)), "", "", "", "")
	}
	row("settle (stats count every point)", seconds(r.settle), "", "", "", "")
	if r.rulesMade > 0 || r.started {
		row("alert rules on the bucket", strconv.Itoa(r.rulesMade), "", "", "", "")
	}
	if len(r.mem) > 0 {
		p, hwm := peak(r.mem), r.mem[len(r.mem)-1].m.hwm
		row("node peak RSS, ingest and settle", fmt.Sprintf("%s (anon %s, file %s) at %ds; VmHWM %s", mib(p.m.rss), mib(p.m.anon), mib(p.m.file), int(p.at/time.Second), mib(hwm)), "", "",
			"≤ "+mib(targetPeakRSS), verdict(max(p.m.rss, hwm) <= targetPeakRSS))
		row("node RSS over the ingest (s MiB)", timeline(r.mem, 10*time.Second), "", "", "", "")
		above := rssAbove(r.mem, targetPeakRSS)
		row(fmt.Sprintf("node RSS above %s, sampled every %s", mib(targetPeakRSS), memSampleEvery),
			fmt.Sprintf("%.1f%% of the samples (%s of %s); p90 %s, p99 %s", 100*float64(above)/float64(len(r.mem)), count(int64(above)), count(int64(len(r.mem))),
				mib(rssQuantile(r.mem, 0.90)), mib(rssQuantile(r.mem, 0.99))), "", "", "", "")
	}
	if r.idleMem.rss > 0 {
		row(fmt.Sprintf("node RSS after %s idle", seconds(r.idleTook)), fmt.Sprintf("%s (anon %s, file %s)", mib(r.idleMem.rss), mib(r.idleMem.anon), mib(r.idleMem.file)), "", "", "", "")
	}
	if r.wrote >= 0 {
		// The points' own bytes: an 8-byte time and 8 bytes a value.
		raw := r.ingest.points * int64(8+8*len(w.fields))
		row("write amplification, ingest to settle", fmt.Sprintf("%.2f (%s written to disk for %s of points at 8 bytes a time and a value)", float64(r.wrote)/float64(raw), mib(r.wrote), mib(raw)), "", "", "", "")
		if r.wroteLife > 0 {
			row("write amplification, start to stop", fmt.Sprintf("%.2f (%s, the flush and compactions on stop included)", float64(r.wroteLife)/float64(raw), mib(r.wroteLife)), "", "", "", "")
		}
	}
	if r.diskMeasured {
		per := func(n int64) float64 { return float64(n) / float64(w.points()) }
		target := fmt.Sprintf("≤ %g bytes/point", targetBytesPerPt)
		if r.sst > 0 {
			row("disk, .sst files", fmt.Sprintf("%.2f bytes/point (%s)", per(r.sst), mib(r.sst)), "", "", target, verdict(per(r.sst) <= targetBytesPerPt))
		} else {
			row("disk, .sst files", "none yet: the points are in memtables", "", "", target, "")
		}
		row("disk, all files in points/ (allocated)", fmt.Sprintf("%.2f bytes/point (%s)", per(r.all), mib(r.all)), "", "", target, verdict(per(r.all) <= targetBytesPerPt))
	} else {
		row("disk", "not measured (give --data-dir with --addr)", "", "", "", "")
	}
	if r.started {
		row("node stop (SIGTERM to exit)", seconds(r.stopTook), "", "", "", "")
		row("node restart (start to ready)", seconds(r.restTook), "", "", "", "")
	}
	for _, q := range r.queries {
		p50, p99 := p50p99(q.latencies)
		result := count(int64(q.rows)) + " rows"
		if q.points > 0 {
			result += ", " + count(q.points) + " points"
		}
		if q.kind.get != "" {
			result = "totalDataPoints " + count(q.points) + " (checked)"
		}
		target, status := "", ""
		if q.kind.target > 0 {
			target = "p50 < " + q.kind.target.String()
			status = verdict(p50 < q.kind.target)
		}
		if q.wrong > 0 {
			status = fmt.Sprintf("WRONG %d/%d", q.wrong, len(q.latencies))
		}
		row("query "+q.kind.label, result, ms(p50), ms(p99), target, status)
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// commandLine writes the command as a shell would take it; a binary in
// Go's build cache was started by go run.
func commandLine(argv0 string, args []string) string {
	if strings.Contains(argv0, "go-build") {
		argv0 = "go run ./cmd/dakkio-bench"
	}
	parts := []string{argv0}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

// loadAverage returns the host's load averages, or "" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }

func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }

// days writes a span in whole days, or else in hours.
func days(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d == 24*time.Hour:
		return "1 day"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	}
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + " hours"
	}
	return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " hours"
}

// count writes n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// analyticsTarget is the target for bucket analytics: the default
// 7d period; longer periods are reported without one.
func analyticsTarget(period string) time.Duration {
	if period == "7d" {
		return targetAnalyticsP50
	}
	return 0
}

// nodeFlags are the serve flags the bench adds for the single node.
func (c config) nodeFlags() []string {
	var out []string
	if c.syncWrites {
		out = append(out, "--sync-writes")
	}
	return append(out, c.nodeArgs...)
}

// makeRules creates n alert rules on the bucket, over its sources in turn,
// whose condition no reading meets, so their webhook (on a reserved name
// that never resolves) is never called: the cost measured is evaluation.
func makeRules(ctx context.Context, api *client.Client, bucketID string, w *workload, n int) error {
	f := w.fields[0].name
	for i := range n {
		_, err := api.CreateAlert(ctx, client.CreateAlertRequest{
			BucketID: bucketID, DataSourceID: w.sources[i%len(w.sources)],
			Name:       fmt.Sprintf("bench-rule-%03d", i+1),
			Condition:  f + " is greater than 1000000000",
			WebhookURL: "http://receiver.invalid/x",
		})
		if err != nil {
			return fmt.Errorf("cannot create alert rule %d: %w", i+1, err)
		}
	}
	return nil
}
