// Command jepsen is dakkio's chaos suite: it runs a cluster of the built
// binary with each node in its own network namespace, drives a workload
// through the public Go client while a nemesis injects faults, heals, and
// checks the recorded history. See README.md.
//
//	go run ./jepsen run --workload set --nemesis partition-halves --seed 7
//	go run ./jepsen matrix --quick
//	go run ./jepsen recheck jepsen/results/<run>
//	go run ./jepsen cleanup
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: jepsen <command> [flags]

  run       one workload against one nemesis
  matrix    every workload × nemesis (--quick: a representative subset)
  prove     run a deliberately broken build (-tags chaosbugs) once per
            checker and pass only if every checker catches its bug
  recheck   re-run the checkers on a saved run directory
  cleanup   remove namespaces, bridge and processes a crashed run left

Run "jepsen <command> -h" for the flags.
`)
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:])
	case "prove":
		return proveCommand(ctx, args[1:])
	case "matrix":
		return matrixCommand(ctx, args[1:])
	case "recheck":
		return recheckCommand(args[1:])
	case "cleanup":
		cleanupNetwork(context.Background(), func(f string, a ...any) { fmt.Printf(f+"\n", a...) })
		return 0
	case "-h", "--help", "help":
		usage()
		return 0
	}
	usage()
	return 2
}

// commonFlags registers the flags of run and matrix into cfg.
func commonFlags(fs *flag.FlagSet, cfg *RunConfig) {
	fs.StringVar(&cfg.Binary, "binary", "bin/dakkio", "the dakkio binary (make jepsen builds it)")
	fs.StringVar(&cfg.ResultsDir, "results", "jepsen/results", "where run directories are written")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()%1_000_000), "seed of all randomness")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long clients run under faults")
	fs.DurationVar(&cfg.Quiet, "quiet", 4*time.Second, "healthy time before each fault")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Second, "how long each fault lasts")
	fs.DurationVar(&cfg.OpTimeout, "op-timeout", 5*time.Second, "timeout of each client call (then it is info)")
	fs.IntVar(&cfg.Nodes, "nodes", 5, "cluster size")
	fs.IntVar(&cfg.ReplicationFactor, "replication-factor", 3, "--replication-factor of the nodes")
	fs.DurationVar(&cfg.KeyLease, "key-lease", 5*time.Second, "documented key lease (docs/cluster.md)")
	fs.DurationVar(&cfg.UsageInterval, "usage-interval", time.Second, "documented usage shipping interval (docs/cluster.md)")
	fs.Int64Var(&cfg.CounterLimit, "counter-limit", 10_000, `monthly quota of the "free" plan (store/plans.go)`)
	fs.BoolVar(&cfg.KeepData, "keep-data", false, "keep the nodes' data directories")
	fs.Int64Var(&cfg.DiskSize, "disk-size", 512<<20, "bytes of each node's data filesystem (ext4 in a loop device) under the disk, disk-slow and mixed nemeses")
}

func runCommand(ctx context.Context, args []string) int {
	var cfg RunConfig
	fs := flag.NewFlagSet("jepsen run", flag.ContinueOnError)
	commonFlags(fs, &cfg)
	fs.StringVar(&cfg.Workload, "workload", "set", strings.Join(workloadNames, ", "))
	fs.StringVar(&cfg.Nemesis, "nemesis", "partition-halves", strings.Join(nemesisNames, ", "))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	res := runOne(ctx, cfg) // writes the run's summary.md
	printResult(res)
	if !res.Valid {
		return 1
	}
	return 0
}

// quickCore is the fixed part of make jepsen-quick: the first workloads
// under the faults most likely to break their promises.
var quickCore = [][2]string{
	{"set", "partition-halves"},
	{"register", "partition-leader"},
	{"revocation", "partition-leader"},
}

// quickPool are the cells jepsen-quick rotates through, quickRotating at a
// time, chosen by the seed (make jepsen-quick's changes daily): the newer
// nemeses and workloads, and the rest of the first quick set. Consecutive
// seeds take consecutive slices, so len/quickRotating seeds cover them all.
var quickPool = [][2]string{
	{"aggregate", "clock"}, {"alert", "kill"}, {"backup", "partition-halves"},
	{"set", "membership"}, {"aggregate", "net-slow"}, {"counter", "mix"},
	{"set", "disk"}, {"alert", "pause-many"}, {"backup", "kill"},
	{"aggregate", "membership"}, {"set", "net-slow"}, {"revocation", "pause"},
	{"aggregate", "disk"}, {"alert", "clock"}, {"set", "pause-many"},
	{"backup", "mixed"}, {"set", "kill"}, {"aggregate", "mixed"},
	{"revocation", "clock"}, {"alert", "net-slow"}, {"counter", "clock"},
	{"set", "disk-slow"}, {"register", "disk-slow"}, {"alert", "disk-slow"},
}

const quickRotating = 3

// quickMatrix is make jepsen-quick's cells for seed: the core and a slice
// of the pool, in under ten minutes.
func quickMatrix(seed uint64) [][2]string {
	cells := append([][2]string(nil), quickCore...)
	for k := range uint64(quickRotating) {
		cells = append(cells, quickPool[(seed*quickRotating+k)%uint64(len(quickPool))])
	}
	return cells
}

func matrixCommand(ctx context.Context, args []string) int {
	var cfg RunConfig
	var quick bool
	var only string
	fs := flag.NewFlagSet("jepsen matrix", flag.ContinueOnError)
	commonFlags(fs, &cfg)
	fs.BoolVar(&quick, "quick", false, "run the representative subset (make jepsen-quick)")
	fs.StringVar(&only, "workloads", strings.Join(workloadNames, ","), "workloads of the full matrix")
	var onlyNemeses string
	fs.StringVar(&onlyNemeses, "nemeses", strings.Join(nemesisNames, ","), "nemeses of the full matrix")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	var pairs [][2]string
	if quick {
		pairs = quickMatrix(cfg.Seed)
		fmt.Printf("quick matrix for seed %d: %v\n", cfg.Seed, pairs)
	} else {
		for _, w := range strings.Split(only, ",") {
			for _, n := range strings.Split(onlyNemeses, ",") {
				pairs = append(pairs, [2]string{w, n})
			}
		}
	}
	// Every run's config is checked before the first starts: a bad pair
	// should not wait behind minutes of runs to be refused.
	runs := make([]RunConfig, len(pairs))
	for i, p := range pairs {
		runs[i] = cfg
		runs[i].Workload, runs[i].Nemesis, runs[i].Seed = p[0], p[1], cfg.Seed+uint64(i)
		if err := runs[i].validate(); err != nil {
			fmt.Fprintln(os.Stderr, "jepsen:", err)
			return 2
		}
	}
	started := time.Now()
	var results []*Result
	failed := false
	for _, c := range runs {
		if ctx.Err() != nil {
			break
		}
		res := runOne(ctx, c)
		printResult(res)
		results = append(results, res)
		failed = failed || !res.Valid
	}
	path := filepath.Join(cfg.ResultsDir, started.Format("20060102T150405")+"-matrix-summary.md")
	index := strings.TrimSuffix(path, "-summary.md") + "-index.html"
	if err := writeMatrixSummary(path, results); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
	} else if err := writeMatrixIndex(index, results, time.Since(started)); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
	} else {
		fmt.Printf("\nmatrix of %d runs in %s: %s, %s\n", len(results), time.Since(started).Round(time.Second), path, index)
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func recheckCommand(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: jepsen recheck <run directory>")
		return 2
	}
	res, err := recheck(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	printResult(res)
	if !res.Valid {
		return 1
	}
	return 0
}

func printResult(r *Result) {
	verdict := "PASS"
	if !r.Valid {
		verdict = "FAIL"
	}
	fmt.Printf("%-4s %-10s %-17s seed %-8d ok %d fail %d info %d  %s\n", verdict, r.Config.Workload, r.Config.Nemesis, r.Config.Seed,
		r.Stats.OK, r.Stats.Fail, r.Stats.Info, r.Dir)
	for _, e := range r.Errors {
		fmt.Printf("     error: %s\n", e)
	}
	for _, v := range r.Verdicts {
		for i, a := range v.Anomalies {
			if i == 5 {
				fmt.Printf("     ... %d more in %s\n", len(v.Anomalies)-5, filepath.Join(r.Dir, "verdict-"+v.Checker+".json"))
				break
			}
			fmt.Printf("     %s %s: %s\n", v.Checker, a.Kind, a.Message)
		}
	}
}

// provePlan pairs each bug a chaosbugs build can inject (node/chaosbugs.go)
// with the workload whose checker must catch it, the nemesis that gives it
// the chance, and the anomaly expected.
var provePlan = []proveCase{
	{"lose-writes", "set", "none", "lost"},
	{"stale-reads", "register", "partition-leader", "nonlinearizable"},
	{"keep-revoked-keys", "revocation", "none", "accepted-after-lease"},
	{"count-locally", "counter", "none", "overshoot"},
	{"agg-local-only", "aggregate", "none", "wrong-aggregate"},
	{"hold-alerts", "alert", "none", "undelivered"},
	{"restore-drops-batches", "backup", "none", "lost-in-backup"},
}

type proveCase struct {
	bug, workload, nemesis, anomaly string
}

// proveCommand shows that every checker can fail: it runs a binary built
// with -tags chaosbugs once per bug and succeeds only if each run fails
// with the anomaly its checker reports.
func proveCommand(ctx context.Context, args []string) int {
	var cfg RunConfig
	fs := flag.NewFlagSet("jepsen prove", flag.ContinueOnError)
	commonFlags(fs, &cfg)
	only := fs.String("bugs", "", "comma-separated bugs to prove (default: all of them)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	plan := provePlan
	if *only != "" {
		plan = nil
		for _, bug := range strings.Split(*only, ",") {
			i := slices.IndexFunc(provePlan, func(p proveCase) bool { return p.bug == bug })
			if i < 0 {
				fmt.Fprintf(os.Stderr, "jepsen: no bug %q to prove\n", bug)
				return 2
			}
			plan = append(plan, provePlan[i])
		}
	}
	missed := 0
	started := time.Now()
	var results []*Result
	defer func() {
		index := filepath.Join(cfg.ResultsDir, started.Format("20060102T150405")+"-prove-index.html")
		if err := writeMatrixIndex(index, results, time.Since(started)); err != nil {
			fmt.Fprintln(os.Stderr, "jepsen:", err)
		} else {
			fmt.Println("index of the runs (each must FAIL):", index)
		}
	}()
	for i, p := range plan {
		if ctx.Err() != nil {
			return 1
		}
		c := cfg
		c.Workload, c.Nemesis, c.ChaosBug, c.Seed = p.workload, p.nemesis, p.bug, cfg.Seed+uint64(i)
		if err := c.validate(); err != nil {
			fmt.Fprintln(os.Stderr, "jepsen:", err)
			return 2
		}
		res := runOne(ctx, c)
		results = append(results, res)
		caught := false
		for _, v := range res.Verdicts {
			if !v.Valid && slices.Contains(v.AnomalyKinds(), p.anomaly) {
				caught = true
			}
		}
		verdict := "CAUGHT"
		if !caught {
			verdict = "MISSED"
			missed++
		}
		fmt.Printf("%-7s bug %-18s %-10s × %-17s expected %-20s  %s\n", verdict, p.bug, p.workload, p.nemesis, p.anomaly, res.Dir)
	}
	if missed > 0 {
		fmt.Printf("%d of %d injected bugs went unnoticed\n", missed, len(plan))
		return 1
	}
	fmt.Printf("every checker caught its bug (%d of %d)\n", len(plan), len(plan))
	return 0
}
