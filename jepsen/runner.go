package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dakkio/dakkio/jepsen/blockdisk"
	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
	"github.com/dakkio/dakkio/jepsen/report"
)

// RunConfig is one run; it is saved as config.json and read back by recheck.
type RunConfig struct {
	Workload          string        `json:"workload"`
	Nemesis           string        `json:"nemesis"`
	Seed              uint64        `json:"seed"`
	Duration          time.Duration `json:"duration"`
	Quiet             time.Duration `json:"quiet"`
	Hold              time.Duration `json:"hold"`
	OpTimeout         time.Duration `json:"opTimeout"`
	Nodes             int           `json:"nodes"`
	ReplicationFactor int           `json:"replicationFactor"`
	KeyLease          time.Duration `json:"keyLease"`
	UsageInterval     time.Duration `json:"usageInterval"`
	CounterLimit      int64         `json:"counterLimit"`
	// DiskSize is the size of each node's data filesystem under the disk,
	// disk-slow and mixed nemeses (bytes).
	DiskSize int64  `json:"diskSize,omitempty"`
	Binary   string `json:"binary"`
	// ChaosBug, set by prove, is the bug a chaosbugs build of dakkio
	// injects (DAKKIO_CHAOS_BUG): the run must then fail.
	ChaosBug   string `json:"chaosBug,omitempty"`
	ResultsDir string `json:"-"`
	KeepData   bool   `json:"-"`
}

func (c *RunConfig) validate() error {
	if newWorkload(c.Workload) == nil {
		return fmt.Errorf("unknown workload %q (one of %s)", c.Workload, strings.Join(workloadNames, ", "))
	}
	if !slices.Contains(nemesisNames, c.Nemesis) {
		return fmt.Errorf("unknown nemesis %q (one of %s)", c.Nemesis, strings.Join(nemesisNames, ", "))
	}
	if c.Nodes < 3 || c.Nodes > maxNodes {
		return fmt.Errorf("--nodes must be 3..%d", maxNodes)
	}
	if needsSpares(c.Nemesis) && c.Nodes >= maxNodes {
		return fmt.Errorf("the %s nemesis needs a free namespace: --nodes must be below %d", c.Nemesis, maxNodes)
	}
	if needsDisk(c.Nemesis) && c.DiskSize < 64<<20 {
		return fmt.Errorf("--disk-size must be at least 64 MiB")
	}
	if _, err := os.Stat(c.Binary); err != nil {
		return fmt.Errorf("no dakkio binary at %s (make jepsen builds it): %w", c.Binary, err)
	}
	return nil
}

// OpStats summarize the clients' operations of a run.
type OpStats struct {
	OK, Fail, Info int
	Availability   float64 // ok / all
	P50, P99       time.Duration
}

// Result is what a run produced.
type Result struct {
	Config   RunConfig
	Dir      string
	Valid    bool
	Errors   []string // harness problems: setup failed, node crashed, no convergence
	Verdicts []*checker.Verdict
	Stats    OpStats
	Elapsed  time.Duration
}

// secretFrom derives a credential from the seed, so a run is reproducible.
func secretFrom(seed uint64, label, prefix string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", label, seed)))
	return prefix + hex.EncodeToString(sum[:20])
}

// runOne runs one workload against one nemesis and checks the history.
func runOne(parent context.Context, cfg RunConfig) *Result {
	started := time.Now()
	name := fmt.Sprintf("%s-%s-%s-%d", started.Format("20060102T150405"), cfg.Workload, cfg.Nemesis, cfg.Seed)
	dir := filepath.Join(cfg.ResultsDir, name)
	res := &Result{Config: cfg, Dir: dir}
	fail := func(format string, args ...any) {
		res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
	}
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		fail("%v", err)
		return finish(res, started)
	}
	if b, err := json.MarshalIndent(cfg, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
	}
	nlog, err := os.Create(filepath.Join(dir, "nemesis.log"))
	if err != nil {
		fail("%v", err)
		return finish(res, started)
	}
	defer nlog.Close()
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		line := fmt.Sprintf("%s %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		fmt.Fprintln(nlog, line)
		fmt.Fprintf(os.Stderr, "[%s/%s] %s\n", cfg.Workload, cfg.Nemesis, line)
	}

	// The network and the nodes; cleaned up at start and on every exit.
	cleanup := context.Background()
	cleanupNetwork(cleanup, logf)
	defer cleanupNetwork(cleanup, logf)
	slots := cfg.Nodes
	if needsSpares(cfg.Nemesis) {
		slots = maxNodes // fresh nodes go into the spare namespaces
	}
	if err := setupNetwork(parent, slots); err != nil {
		fail("%v", err)
		return finish(res, started)
	}
	bin, _ := filepath.Abs(cfg.Binary)
	absDir, _ := filepath.Abs(dir)
	c := newCluster(bin, absDir, cfg.Nodes, cfg.ReplicationFactor, cfg.ChaosBug,
		secretFrom(cfg.Seed, "admin", "dakkio_a_"), secretFrom(cfg.Seed, "operator", "dakkio_op_"), secretFrom(cfg.Seed, "cluster", ""), logf)
	if needsDisk(cfg.Nemesis) {
		c.diskSize = cfg.DiskSize
	}
	if needsThrottle(cfg.Nemesis) {
		th, err := blockdisk.NewThrottle(diskTag)
		switch {
		case err == nil:
			c.throttle = th
		case cfg.Nemesis == "disk-slow":
			fail("disk-slow: %v", err)
			return finish(res, started)
		default:
			logf("mixed runs without disk-slow faults: %v", err)
		}
	}
	defer func() {
		c.Stop(15 * time.Second)
		cleanupDisks(logf)
		if !cfg.KeepData {
			_ = os.RemoveAll(filepath.Join(absDir, "data"))
		}
	}()
	for _, nd := range c.Members() {
		if err := c.Start(nd); err != nil {
			fail("%v", err)
			return finish(res, started)
		}
	}
	if err := c.WaitConverged(parent, 3*time.Minute); err != nil {
		fail("cluster never formed: %v", err)
		return finish(res, started)
	}
	logf("cluster of %d nodes ready in %s", cfg.Nodes, time.Since(started).Round(100*time.Millisecond))

	rec, err := history.NewRecorder(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		fail("%v", err)
		return finish(res, started)
	}
	env := &Env{C: c, Rec: rec, Cfg: &cfg, Seed: cfg.Seed, OpTimeout: cfg.OpTimeout, Dir: absDir, logf: logf}
	wl := newWorkload(cfg.Workload)
	setupCtx, cancel := context.WithTimeout(parent, 2*time.Minute)
	err = wl.Setup(setupCtx, env)
	cancel()
	if err != nil {
		_ = rec.Close()
		fail("workload setup: %v", err)
		return finish(res, started)
	}

	// Clients and the nemesis, for Duration.
	logf("running %s for %s under %s", cfg.Workload, cfg.Duration, cfg.Nemesis)
	runCtx, stopRun := context.WithTimeout(parent, cfg.Duration)
	nem := newNemesis(cfg.Nemesis, c, rec, cfg.Seed, cfg.Quiet, cfg.Hold, nlog, slots)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nem.Run(runCtx)
	}()
	wl.Run(runCtx, env)
	stopRun()
	wg.Wait() // the nemesis has healed everything
	for _, e := range nem.Errors() {
		fail("nemesis: %s", e)
	}

	// Nodes that died on their own are a finding; restart them to read.
	for _, nd := range c.Members() {
		if !nd.Running() {
			fail("%s exited on its own (see nodes/%s.log)", nd.ID, nd.ID)
			_ = c.Start(nd)
		}
	}
	logf("healed; waiting for the cluster to converge")
	if err := c.WaitConverged(parent, 3*time.Minute); err != nil {
		fail("after healing: %v", err)
	}
	finalCtx, cancel := context.WithTimeout(parent, 5*time.Minute)
	wl.Final(finalCtx, env)
	cancel()
	if err := rec.Close(); err != nil {
		fail("history: %v", err)
	}
	logf("checking %d operations", len(rec.Ops()))
	res.Verdicts = check(&cfg, rec.Ops(), filepath.Join(dir, "register.html"))
	writeVerdicts(res)
	return finish(res, started)
}

// recheck re-runs the checkers on a saved run.
func recheck(dir string) (*Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var cfg RunConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("cannot decode %s/config.json: %w", dir, err)
	}
	ops, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return nil, err
	}
	res := &Result{Config: cfg, Dir: dir}
	res.Verdicts = check(&cfg, ops, filepath.Join(dir, "register.html"))
	res.Stats = opStats(ops)
	res.Valid = len(res.Verdicts) > 0
	for _, v := range res.Verdicts {
		res.Valid = res.Valid && v.Valid
	}
	writeVerdicts(res)
	if err := writeReport(res, ops); err != nil {
		return res, err
	}
	return res, writeMatrixSummary(filepath.Join(dir, "summary.md"), []*Result{res})
}

func writeVerdicts(res *Result) {
	for _, v := range res.Verdicts {
		if err := v.WriteFile(filepath.Join(res.Dir, "verdict-"+v.Checker+".json")); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
}

func finish(res *Result, started time.Time) *Result {
	res.Elapsed = time.Since(started)
	ops, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err == nil {
		res.Stats = opStats(ops)
	}
	res.Valid = len(res.Errors) == 0 && len(res.Verdicts) > 0
	for _, v := range res.Verdicts {
		res.Valid = res.Valid && v.Valid
	}
	if err := writeReport(res, ops); err != nil {
		res.Errors = append(res.Errors, err.Error())
		res.Valid = false
	}
	if err := writeMatrixSummary(filepath.Join(res.Dir, "summary.md"), []*Result{res}); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	return res
}

// opStats counts the clients' operations (not the nemesis's) and the
// latency of the acknowledged ones.
func opStats(ops []history.Op) OpStats {
	var s OpStats
	var lat []time.Duration
	for _, op := range ops {
		if op.Process == history.NemesisProcess || op.Process == alertReceiverProcess {
			continue // not a client's call: a fault, or a webhook the harness received
		}
		switch op.Type {
		case history.OK:
			s.OK++
			lat = append(lat, op.Latency())
		case history.Fail:
			s.Fail++
		default:
			s.Info++
		}
	}
	if all := s.OK + s.Fail + s.Info; all > 0 {
		s.Availability = float64(s.OK) / float64(all)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		s.P50 = lat[len(lat)*50/100]
		s.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return s
}

// reproduceCommand is the command that runs r again.
func reproduceCommand(r *Result) string {
	cmd := fmt.Sprintf("go run ./jepsen run --workload %s --nemesis %s --seed %d --duration %s --quiet %s --hold %s",
		r.Config.Workload, r.Config.Nemesis, r.Config.Seed, r.Config.Duration, r.Config.Quiet, r.Config.Hold)
	if r.Config.ChaosBug != "" {
		cmd = fmt.Sprintf("DAKKIO_CHAOS_BUG=%s %s --binary %s", r.Config.ChaosBug, cmd, r.Config.Binary)
	}
	return cmd
}

// anomalySummary is "none" or each anomaly kind with its count.
func anomalySummary(r *Result) string {
	var kinds []string
	for _, v := range r.Verdicts {
		for _, k := range v.AnomalyKinds() {
			kinds = append(kinds, fmt.Sprintf("%s (%d)", k, v.Stats["anomaly:"+k]))
		}
	}
	if len(r.Errors) > 0 {
		kinds = append(kinds, fmt.Sprintf("harness errors (%d)", len(r.Errors)))
	}
	if len(kinds) == 0 {
		return "none"
	}
	return strings.Join(kinds, ", ")
}

// reportRow is r's line of an HTML index; link is relative to the index.
func reportRow(r *Result, link string) report.Row {
	return report.Row{Workload: r.Config.Workload, Nemesis: r.Config.Nemesis, Seed: r.Config.Seed,
		OK: r.Stats.OK, Fail: r.Stats.Fail, Info: r.Stats.Info, Availability: r.Stats.Availability,
		P50: r.Stats.P50, P99: r.Stats.P99, Anomalies: anomalySummary(r), Valid: r.Valid, Link: link}
}

// writeReport writes the run's report.html: verdicts, faults and plots.
func writeReport(r *Result, ops []history.Op) error {
	cfg, _ := json.MarshalIndent(r.Config, "", "  ")
	return report.WritePage(filepath.Join(r.Dir, "report.html"), report.Run{
		Row: reportRow(r, ""), Elapsed: r.Elapsed, Reproduce: reproduceCommand(r),
		Errors: r.Errors, Verdicts: r.Verdicts, Ops: ops, ConfigJSON: string(cfg)})
}

// writeMatrixIndex writes the HTML page linking every run's report.
func writeMatrixIndex(path string, results []*Result, elapsed time.Duration) error {
	var rows []report.Row
	for _, r := range results {
		link, err := filepath.Rel(filepath.Dir(path), filepath.Join(r.Dir, "report.html"))
		if err != nil {
			link = filepath.Join(r.Dir, "report.html")
		}
		rows = append(rows, reportRow(r, filepath.ToSlash(link)))
	}
	return report.WriteIndex(path, "jepsen matrix, "+time.Now().UTC().Format(time.RFC3339), rows, elapsed)
}

// writeMatrixSummary writes the workload × nemesis table of results.
func writeMatrixSummary(path string, results []*Result) error {
	var b strings.Builder
	b.WriteString("# jepsen summary\n\n")
	b.WriteString("| workload | nemesis | seed | ok | fail | info | availability | p50 | p99 | anomalies | verdict | run |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		verdict := "PASS"
		if !r.Valid {
			verdict = "**FAIL**"
		}
		an := anomalySummary(r)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %.1f%% | %s | %s | %s | %s | %s |\n",
			r.Config.Workload, r.Config.Nemesis, r.Config.Seed, r.Stats.OK, r.Stats.Fail, r.Stats.Info, 100*r.Stats.Availability,
			r.Stats.P50.Round(time.Millisecond), r.Stats.P99.Round(time.Millisecond), an, verdict, filepath.Base(r.Dir))
	}
	for _, r := range results {
		fmt.Fprintf(&b, "\n## %s × %s (seed %d, %s)\n\n", r.Config.Workload, r.Config.Nemesis, r.Config.Seed, r.Elapsed.Round(time.Second))
		fmt.Fprintf(&b, "Reproduce: `%s`; recheck: `go run ./jepsen recheck %s`; report: `%s`\n\n",
			reproduceCommand(r), r.Dir, filepath.Join(r.Dir, "report.html"))
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- harness error: %s\n", e)
		}
		for _, v := range r.Verdicts {
			valid := "valid"
			if !v.Valid {
				valid = "INVALID"
			}
			keys := make([]string, 0, len(v.Stats))
			for k := range v.Stats {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var st []string
			for _, k := range keys {
				st = append(st, fmt.Sprintf("%s=%d", k, v.Stats[k]))
			}
			fmt.Fprintf(&b, "- checker **%s**: %s; %s\n", v.Checker, valid, strings.Join(st, " "))
			for i, a := range v.Anomalies {
				if i == 10 {
					fmt.Fprintf(&b, "  - ... %d more in verdict-%s.json\n", len(v.Anomalies)-10, v.Checker)
					break
				}
				fmt.Fprintf(&b, "  - %s: %s\n", a.Kind, a.Message)
			}
			for _, n := range v.Notes {
				fmt.Fprintf(&b, "  - note: %s\n", n)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
