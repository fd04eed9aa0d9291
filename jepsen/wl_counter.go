package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/history"
)

// counterWorkload spends the monthly quota of a fresh organization on the
// "free" plan (10,000 calls, store/plans.go) through every node, with cheap
// calls (an empty POST /api/data/query, counted then refused with 400);
// after the faults heal, the operator lifts the plan to "pro" and the final
// usage is read from GET /api/analytics/overview.
type counterWorkload struct {
	orgID, key string
}

const counterWorkers = 8

func (w *counterWorkload) Setup(ctx context.Context, e *Env) error {
	op := e.C.Client(e.C.Members()[0], "")
	org, err := op.CreateOrg(ctx, client.CreateOrgRequest{Name: fmt.Sprintf("jepsen-counter-%d", e.Seed), Plan: "free"})
	if err != nil {
		return fmt.Errorf("cannot create the counter organization: %w", err)
	}
	w.orgID, w.key = org.Organization.ID, org.AdminKey.Key
	// Every node must know the key before the clock starts; these calls
	// count, so they are recorded.
	for _, nd := range e.C.Members() {
		if err := retry(ctx, time.Minute, func(ctx context.Context) error {
			if typ := w.call(ctx, e, 999, nd); typ != history.OK {
				return fmt.Errorf("%s refused the counter key", nd.ID)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// call makes one counted call and records it.
func (w *counterWorkload) call(ctx context.Context, e *Env, process int, nd *Node) string {
	start := e.Rec.Now()
	cctx, cancel := context.WithTimeout(ctx, e.OpTimeout)
	// A query without a bucket: counted, then refused (400) without
	// reading metadata, so that it needs no leader (a metadata GET waits
	// for the read index and would be indeterminate under every fault).
	resp, err := e.C.Client(nd, w.key).Do(cctx, http.MethodPost, "/api/data/query", []byte(`{}`), nil)
	cancel()
	op := history.Op{Process: process, F: "call", Node: nd.ID, Start: start, End: e.Rec.Now(), Type: history.Info, Error: errText(err)}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		op.Type = history.Fail // never reached a node: not counted
	}
	if err == nil {
		op.Status = resp.StatusCode
		op.Type = counterType(resp)
		if op.Type != history.OK {
			op.Error = strings.TrimSpace(string(resp.Body))
			if len(op.Error) > 200 {
				op.Error = op.Error[:200]
			}
		}
	}
	e.Rec.Add(op)
	return op.Type
}

// counterType says whether the node counted the call: 2xx and the 400 of
// the empty query yes; 429, 401
// and a 503 refused before the call was counted (httpapi: the key lease
// and "starting or stopping" checks come before the meter) no; the rest is
// unknown.
func counterType(resp *client.RawResponse) string {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300, resp.StatusCode == 400:
		return history.OK
	case resp.StatusCode == 429 || resp.StatusCode == 401:
		return history.Fail
	case resp.StatusCode == 503:
		var env struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(resp.Body, &env)
		if strings.Contains(env.Message, "cannot confirm API keys") || strings.Contains(env.Message, "starting or stopping") {
			return history.Fail
		}
	}
	return history.Info
}

// Run paces the calls so that the quota would run out a quarter of the way
// through the run (calls to killed nodes fail, so it runs out later), while
// the nemesis is at work: unpaced, the cluster spends 10,000 calls in well
// under a second, before the first fault.
func (w *counterWorkload) Run(ctx context.Context, e *Env) {
	every := time.Duration(int64(e.Cfg.Duration/4) * counterWorkers / max(1, e.Cfg.CounterLimit))
	workers(counterWorkers, func(i int) {
		r := e.Rand(uint64(500 + i))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 0; n < 10_000_000 && ctx.Err() == nil; n++ {
			w.call(context.Background(), e, i, e.RandomNode(r))
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
}

func (w *counterWorkload) Final(ctx context.Context, e *Env) {
	pro := "pro"
	var n int
	if err := retry(ctx, time.Minute, func(ctx context.Context) error {
		nd := e.C.Members()[n%len(e.C.Members())]
		n++
		start := e.Rec.Now()
		cctx, cancel := context.WithTimeout(ctx, e.OpTimeout)
		_, err := e.C.Client(nd, "").UpdateOrg(cctx, w.orgID, client.UpdateOrgRequest{Plan: &pro})
		cancel()
		typ, status := classify(err)
		e.Rec.Add(history.Op{Process: 998, F: "upgrade", Node: nd.ID, Type: typ, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()})
		return err
	}); err != nil {
		e.logf("counter: cannot lift the plan: %v", err)
		return
	}
	// Read the usage through one node until two readings differ only by the
	// reading itself: every node has shipped its counts.
	nd := e.C.Members()[0]
	prev := int64(-1)
	for attempt := 0; attempt < 30; attempt++ {
		if !sleepCtx(ctx, 2*e.Cfg.UsageInterval) {
			return
		}
		start := e.Rec.Now()
		cctx, cancel := context.WithTimeout(ctx, e.OpTimeout)
		ov, err := e.C.Client(nd, w.key).AnalyticsOverview(cctx)
		cancel()
		typ, status := classify(err)
		op := history.Op{Process: 998, F: "usage", Node: nd.ID, Type: typ, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()}
		if typ != history.OK {
			op.Type = history.Info
			e.Rec.Add(op)
			continue
		}
		op.N = ov.Usage.APICallsThisMonth
		e.Rec.Add(op)
		if op.N == prev+1 {
			return
		}
		prev = op.N
	}
}
