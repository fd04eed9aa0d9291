package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
)

// Workload drives clients against the cluster and checks what they saw.
type Workload interface {
	// Setup creates what the workload needs, before the clock starts.
	Setup(ctx context.Context, e *Env) error
	// Run issues operations until ctx ends.
	Run(ctx context.Context, e *Env)
	// Final runs after the faults have healed and the cluster converged.
	Final(ctx context.Context, e *Env)
}

// Env is what workloads share: the cluster, the history and the randomness.
type Env struct {
	C    *Cluster
	Rec  *history.Recorder
	Cfg  *RunConfig
	Seed uint64
	// OpTimeout bounds each client call; a call that times out is info.
	OpTimeout time.Duration
	// Dir is the run's folder.
	Dir  string
	logf func(string, ...any)
}

// Rand returns a generator for one worker, derived from the run's seed.
func (e *Env) Rand(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(e.Seed, stream)) }

// RandomNode picks a node uniformly.
func (e *Env) RandomNode(r *rand.Rand) *Node {
	m := e.C.Members()
	return m[r.IntN(len(m))]
}

// classify maps a call's error to an op type: nil is ok, a 4xx a definite
// failure, anything else (5xx, timeout, connection error) unknown.
func classify(err error) (typ string, status int) {
	if err == nil {
		return history.OK, 200
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		if ae.StatusCode >= 400 && ae.StatusCode < 500 {
			return history.Fail, ae.StatusCode
		}
		return history.Info, ae.StatusCode
	}
	return history.Info, 0
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// retry calls f until it succeeds or the deadline passes, pausing between
// attempts; it returns the last error.
func retry(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// workers runs n copies of f and waits for them.
func workers(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// newWorkload returns the workload named.
func newWorkload(name string) Workload {
	switch name {
	case "set":
		return &setWorkload{}
	case "register":
		return &registerWorkload{}
	case "revocation":
		return &revocationWorkload{}
	case "counter":
		return &counterWorkload{}
	case "aggregate":
		return &aggregateWorkload{}
	case "alert":
		return &alertWorkload{}
	case "backup":
		return &backupWorkload{}
	}
	return nil
}

var workloadNames = []string{"set", "register", "revocation", "counter", "aggregate", "alert", "backup"}

// check runs the checkers of a workload on a history; dir receives the
// register timeline.
func check(cfg *RunConfig, ops []history.Op, timelinePath string) []*checker.Verdict {
	switch cfg.Workload {
	case "set":
		return []*checker.Verdict{checker.Set(ops)}
	case "register":
		return []*checker.Verdict{checker.Register(ops, 2*time.Minute, timelinePath)}
	case "revocation":
		return []*checker.Verdict{checker.Revocation(ops, cfg.KeyLease)}
	case "counter":
		return []*checker.Verdict{checker.Counter(ops, checker.CounterConfig{Limit: cfg.CounterLimit, Interval: cfg.UsageInterval})}
	case "aggregate":
		return []*checker.Verdict{checker.Aggregate(ops)}
	case "alert":
		return []*checker.Verdict{checker.Alert(ops)}
	case "backup":
		return []*checker.Verdict{checker.Set(ops), checker.Backup(ops)}
	}
	return nil
}
