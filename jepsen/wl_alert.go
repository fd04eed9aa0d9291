package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
)

// alertWorkload writes points through random nodes; one in ten meets the
// bucket's alert rule (checker.AlertValue), and each delivery of the rule's
// webhook to a receiver the harness runs on the bridge is recorded. The
// receiver refuses some deliveries (500) to make the nodes retry. After
// healing, it waits for every acknowledged triggering point's delivery.
type alertWorkload struct {
	bucket, source string
	base           time.Time
	next           atomic.Int64
	srv            *http.Server
	url            string

	mu       sync.Mutex
	rng      *rand.Rand
	received int
}

const (
	alertWriters = 2
	// alertRefuse is the share of deliveries the receiver answers 500.
	alertRefuse = 0.1
	// alertReceiverProcess is the process of the receiver's entries.
	alertReceiverProcess = 2000
)

func (w *alertWorkload) Setup(ctx context.Context, e *Env) error {
	w.rng = e.Rand(300)
	ln, err := net.Listen("tcp", net.JoinHostPort(lab.BridgeIP(), "0"))
	if err != nil {
		return fmt.Errorf("cannot listen for webhooks: %w", err)
	}
	w.url = "http://" + ln.Addr().String() + "/hook"
	w.srv = &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.deliver(e, rw, r) }),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.srv.Serve(ln) }()

	admin := e.C.Client(e.C.Members()[0], e.C.AdminKey)
	days := 30
	b, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "jepsen-alert", RetentionDays: &days})
	if err != nil {
		return fmt.Errorf("cannot create the alert bucket: %w", err)
	}
	src, err := admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "alert", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		return fmt.Errorf("cannot create the alert source: %w", err)
	}
	w.bucket, w.source = b.ID, src.ID
	cooldown := 0 // every triggering point is delivered
	if _, err := admin.CreateAlert(ctx, client.CreateAlertRequest{BucketID: b.ID, DataSourceID: src.ID, Name: "jepsen",
		Condition: checker.AlertCondition, WebhookURL: w.url, CooldownMinutes: &cooldown}); err != nil {
		return fmt.Errorf("cannot create the alert rule: %w", err)
	}
	w.base = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	// Every node must know the rule before the first point: wait until each
	// lists it.
	for _, nd := range e.C.Members() {
		c := e.C.Client(nd, e.C.AdminKey)
		if err := retry(ctx, time.Minute, func(ctx context.Context) error {
			l, err := c.ListAlerts(ctx, b.ID, client.Page{})
			if err == nil && len(l.Data) == 0 {
				err = fmt.Errorf("%s lists no rule yet", nd.ID)
			}
			return err
		}); err != nil {
			return fmt.Errorf("%s does not know the alert rule: %w", nd.ID, err)
		}
	}
	return nil
}

// alertPayload is the part of the webhook body the checker needs.
type alertPayload struct {
	Event string `json:"event"`
	Data  struct {
		DataPoint struct {
			Values map[string]any `json:"values"`
		} `json:"dataPoint"`
	} `json:"data"`
}

// deliver records one webhook delivery: its delivery id, the point's id,
// and whether the receiver took it (2xx) or refused it (500).
func (w *alertWorkload) deliver(e *Env, rw http.ResponseWriter, r *http.Request) {
	start := e.Rec.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	op := history.Op{Process: alertReceiverProcess, F: "delivery", Key: r.Header.Get("X-Dakkio-Delivery"), Node: r.RemoteAddr, Start: start}
	var p alertPayload
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	v, ok := p.Data.DataPoint.Values["v"].(float64)
	if err != nil || !ok {
		op.Type, op.Error, op.Status = history.Fail, fmt.Sprintf("undecodable delivery (%v): %.200s", err, body), 400
		op.End = e.Rec.Now()
		e.Rec.Add(op)
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	op.Ints = []int64{checker.AlertID(v)}
	op.Value = p.Event
	w.mu.Lock()
	refuse := w.rng.Float64() < alertRefuse
	w.received++
	w.mu.Unlock()
	if refuse {
		op.Type, op.Status = history.Fail, http.StatusInternalServerError
		rw.WriteHeader(http.StatusInternalServerError)
	} else {
		op.Type, op.Status = history.OK, http.StatusNoContent
		rw.WriteHeader(http.StatusNoContent)
	}
	op.End = e.Rec.Now()
	e.Rec.Add(op)
}

func (w *alertWorkload) Run(ctx context.Context, e *Env) {
	workers(alertWriters, func(i int) {
		r := e.Rand(uint64(310 + i))
		for n := 0; n < 1_000_000 && ctx.Err() == nil; n++ {
			size := 1 + r.IntN(3)
			ids := make([]int64, size)
			pts := make([]client.PointInput, size)
			for k := range ids {
				ids[k] = w.next.Add(1)
				pts[k] = client.PointInput{DataSourceID: w.source, Timestamp: w.base.Add(time.Duration(ids[k]) * time.Millisecond),
					Values: map[string]any{"v": checker.AlertValue(ids[k])}}
			}
			nd := e.RandomNode(r)
			start := e.Rec.Now()
			cctx, cancel := context.WithTimeout(context.Background(), e.OpTimeout)
			_, err := e.C.Client(nd, e.C.AdminKey).WriteBatch(cctx, client.WriteBatchRequest{BucketID: w.bucket, DataPoints: pts})
			cancel()
			typ, status := classify(err)
			e.Rec.Add(history.Op{Process: i, F: "add", Type: typ, Node: nd.ID, Ints: ids, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()})
			sleepCtx(ctx, time.Duration(20+r.IntN(80))*time.Millisecond)
		}
	})
}

// Final waits, after healing, until every acknowledged point that meets
// the rule has a delivery the receiver took, or three minutes pass (the
// nodes retry with backoff); then a quiet 10 s for late duplicates.
func (w *alertWorkload) Final(ctx context.Context, e *Env) {
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.srv.Shutdown(sctx)
	}()
	start := e.Rec.Now()
	deadline := time.Now().Add(3 * time.Minute)
	missing := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		missing = len(checker.AlertUndelivered(e.Rec.Ops()))
		if missing == 0 {
			break
		}
		sleepCtx(ctx, time.Second)
	}
	sleepCtx(ctx, 10*time.Second)
	e.Rec.Add(history.Op{Process: 1000, F: "alert-wait", Type: history.OK, N: int64(missing), Start: start, End: e.Rec.Now()})
	w.mu.Lock()
	e.logf("alert receiver: %d deliveries received, %d triggering points still undelivered after the wait", w.received, missing)
	w.mu.Unlock()
}
