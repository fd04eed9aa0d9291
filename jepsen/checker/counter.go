package checker

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// CounterConfig is what the counter checker needs besides the history.
type CounterConfig struct {
	// Limit is the plan's monthly quota of the organization under test.
	Limit int64
	// Interval is how often nodes ship their counts (docs/cluster.md: 1s).
	Interval time.Duration
	// CrashLoss is the window before a SIGKILL whose counted calls the killed
	// node may lose (docs/cluster.md: one interval; default 2 × Interval to
	// allow for the shipment's own Raft round trip).
	CrashLoss time.Duration
}

// Counter checks the counter workload: clients spend an organization's
// quota ("call", ok = admitted and counted, fail = refused with 429 or
// before counting, info = unknown) through every node; then the operator
// lifts the plan ("upgrade"), and the final usage the cluster reports is
// read ("usage", N = apiCallsThisMonth; the read itself is a counted call).
//
// Anomalies:
//   - overshoot: more calls admitted before the upgrade than Limit plus the
//     documented bound, nodes × rate × Interval, taking each node's own
//     busiest Interval as its rate, plus the counts crashes may forget
//     (docs/cluster.md: a crash loses at most one Interval of that node's
//     counts, and the quota they leave unspent is admitted again);
//   - usage-undercount: the final usage is below the admitted calls, by more
//     than the calls the killed nodes admitted within CrashLoss before each
//     SIGKILL;
//   - usage-overcount: the final usage exceeds the admitted calls plus the
//     indeterminate ones;
//   - no-usage: the final usage could not be read.
func Counter(ops []history.Op, cfg CounterConfig) *Verdict {
	v := newVerdict("counter")
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.CrashLoss == 0 {
		cfg.CrashLoss = 2 * cfg.Interval
	}
	upgradeAt := int64(-1)
	var final *history.Op
	for i, op := range ops {
		switch op.F {
		case "upgrade":
			if op.Type == history.OK && (upgradeAt < 0 || op.Start < upgradeAt) {
				upgradeAt = op.Start
			}
		case "usage":
			if op.Type == history.OK && (final == nil || op.End > final.End) {
				final = &ops[i]
			}
		}
	}
	var okQuota, okAll, info, limited int64
	perNode := map[string][]int64{} // node -> starts of admitted calls before the upgrade
	okByNode := map[string][]int64{}
	for _, op := range ops {
		if op.F != "call" && op.F != "usage" {
			continue
		}
		if final != nil && op.Start > final.Start {
			continue // after the final reading: not in it
		}
		v.Stats[op.F+":"+op.Type]++
		switch op.Type {
		case history.OK:
			okAll++
			okByNode[op.Node] = append(okByNode[op.Node], op.Start)
			if upgradeAt < 0 || op.Start < upgradeAt {
				okQuota++
				perNode[op.Node] = append(perNode[op.Node], op.Start)
			}
		case history.Info:
			info++
		case history.Fail:
			if op.Status == 429 {
				limited++
			}
		}
	}
	v.Stats["limit"] = cfg.Limit
	v.Stats["admitted-before-upgrade"] = okQuota
	v.Stats["admitted"] = okAll
	v.Stats["indeterminate"] = info
	v.Stats["rate-limited"] = limited

	// Overshoot.
	var bound int64
	var parts []string
	nodes := make([]string, 0, len(perNode))
	for n := range perNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		w := busiestWindow(perNode[n], int64(cfg.Interval))
		bound += w
		parts = append(parts, fmt.Sprintf("%s %d", n, w))
	}
	forgotten := crashForgotten(ops, perNode, upgradeAt, int64(cfg.Interval))
	if forgotten > 0 {
		parts = append(parts, fmt.Sprintf("counts crashes may forget %d", forgotten))
	}
	bound += forgotten
	v.Stats["crash-forgotten"] = forgotten
	v.Stats["overshoot-bound"] = bound
	v.Stats["overshoot"] = max(0, okQuota-cfg.Limit)
	if limited == 0 {
		v.note("the quota (%d) was never reached: overshoot not exercised", cfg.Limit)
	}
	if okQuota > cfg.Limit+bound {
		v.add(Anomaly{Kind: "overshoot",
			Message: fmt.Sprintf("%d calls admitted against a quota of %d: %d over, bound nodes × rate × %s = %d (busiest interval per node: %s)",
				okQuota, cfg.Limit, okQuota-cfg.Limit, cfg.Interval, bound, strings.Join(parts, ", "))})
	}

	// Accounting.
	if final == nil {
		v.Valid, v.Unknown = false, true
		v.add(Anomaly{Kind: "no-usage", Message: "the final usage could not be read"})
		return v
	}
	var allowance int64
	for _, op := range ops {
		if op.Process != history.NemesisProcess || op.F != "kill" || op.Type != history.OK {
			continue
		}
		for _, n := range strings.Split(op.Value, ",") {
			for _, t := range okByNode[n] {
				if t <= op.Start && t > op.Start-int64(cfg.CrashLoss) {
					allowance++
				}
			}
		}
	}
	v.Stats["final-usage"] = final.N
	v.Stats["crash-loss-allowance"] = allowance
	switch {
	case final.N < okAll-allowance:
		v.add(Anomaly{Kind: "usage-undercount", Ops: []int{final.Index},
			Message: fmt.Sprintf("final usage %d < %d admitted calls - %d that crashes may lose: %d counted calls lost",
				final.N, okAll, allowance, okAll-allowance-final.N)})
	case final.N > okAll+info:
		v.add(Anomaly{Kind: "usage-overcount", Ops: []int{final.Index},
			Message: fmt.Sprintf("final usage %d > %d admitted + %d indeterminate calls", final.N, okAll, info)})
	}
	return v
}

// crashForgotten counts the calls each node admitted within window before
// one of its SIGKILLs that came before the upgrade: counts the node may not
// have shipped, which the cluster then forgets and admits again.
func crashForgotten(ops []history.Op, admitted map[string][]int64, upgradeAt, window int64) int64 {
	var n int64
	for _, op := range ops {
		if op.Process != history.NemesisProcess || op.F != "kill" || op.Type != history.OK {
			continue
		}
		if upgradeAt >= 0 && op.Start >= upgradeAt {
			continue
		}
		for _, node := range strings.Split(op.Value, ",") {
			for _, t := range admitted[node] {
				if t <= op.Start && t > op.Start-window {
					n++
				}
			}
		}
	}
	return n
}

// busiestWindow is the most starts (sorted or not) within any window of
// length w.
func busiestWindow(starts []int64, w int64) int64 {
	s := append([]int64(nil), starts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var best int64
	lo := 0
	for hi := range s {
		for s[hi]-s[lo] >= w {
			lo++
		}
		best = max(best, int64(hi-lo+1))
	}
	return best
}
