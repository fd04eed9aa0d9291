package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/history"
)

// revocationWorkload runs key lifecycles: an admin creates a write key,
// clients write with it through random nodes, the admin deletes it (retrying
// until the delete is acknowledged), and the clients keep trying it for the
// lease and a margin, so every node is asked after the lease has run out.
type revocationWorkload struct {
	bucket, source string
}

const (
	revLanes       = 2 // independent key lifecycles at once
	revUsersPerKey = 3
)

func (w *revocationWorkload) Setup(ctx context.Context, e *Env) error {
	admin := e.C.Client(e.C.Members()[0], e.C.AdminKey)
	b, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "jepsen-revocation"})
	if err != nil {
		return fmt.Errorf("cannot create the revocation bucket: %w", err)
	}
	src, err := admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "uses", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		return fmt.Errorf("cannot create the revocation source: %w", err)
	}
	w.bucket, w.source = b.ID, src.ID
	return nil
}

func (w *revocationWorkload) Final(ctx context.Context, e *Env) {}

func (w *revocationWorkload) Run(ctx context.Context, e *Env) {
	workers(revLanes, func(lane int) {
		r := e.Rand(uint64(300 + lane))
		for gen := 0; gen < 10_000 && ctx.Err() == nil; gen++ {
			// A new key; not part of the history (creation is not checked).
			var key *client.CreatedKey
			if err := retry(ctx, time.Minute, func(ctx context.Context) error {
				cctx, cancel := context.WithTimeout(ctx, e.OpTimeout)
				defer cancel()
				k, err := e.C.Client(e.RandomNode(r), e.C.AdminKey).CreateKey(cctx, w.bucket,
					client.CreateKeyRequest{Name: fmt.Sprintf("rev-%d-%d", lane, gen), Type: "write"})
				key = k
				return err
			}); err != nil {
				continue
			}
			useCtx, stopUsing := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				workers(revUsersPerKey, func(u int) {
					w.use(useCtx, e, lane*10+u, uint64(400+lane*100+gen*10+u), key)
				})
			}()
			// Use it for a while, then revoke it while the faults go on.
			sleepCtx(ctx, time.Duration(1000+r.IntN(2000))*time.Millisecond)
			w.revoke(e, lane, r.IntN(1<<30), key)
			// Keep using it past the lease on every node; the run may end
			// meanwhile, the uses go on (bounded) so the lease is covered.
			time.Sleep(e.Cfg.KeyLease + 3*time.Second) // a schedule interval, not a wait for a condition
			stopUsing()
			<-done
		}
	})
}

// revoke deletes the key until the delete is acknowledged, recording every
// attempt. A 404 means an earlier attempt that timed out deleted it: the
// delete was committed by the time of that answer, so it counts as an
// acknowledgement (a late one, which only makes the lease check lenient,
// never wrong); recording it as unknown would leave the key unchecked.
func (w *revocationWorkload) revoke(e *Env, process, seed int, key *client.CreatedKey) {
	r := e.Rand(uint64(seed))
	_ = retry(context.Background(), 2*time.Minute, func(context.Context) error {
		nd := e.RandomNode(r)
		start := e.Rec.Now()
		cctx, cancel := context.WithTimeout(context.Background(), e.OpTimeout)
		_, err := e.C.Client(nd, e.C.AdminKey).DeleteKey(cctx, w.bucket, key.ID)
		cancel()
		typ, status := classify(err)
		if status == 404 {
			typ, err = history.OK, nil
		}
		e.Rec.Add(history.Op{Process: process, F: "revoke", Key: key.ID, Node: nd.ID, Type: typ, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()})
		return err
	})
}

func (w *revocationWorkload) use(ctx context.Context, e *Env, process int, stream uint64, key *client.CreatedKey) {
	r := e.Rand(stream)
	for n := 0; n < 100_000 && ctx.Err() == nil; n++ {
		nd := e.RandomNode(r)
		start := e.Rec.Now()
		cctx, cancel := context.WithTimeout(context.Background(), e.OpTimeout)
		_, err := e.C.Client(nd, key.Key).WritePoint(cctx, client.WritePointRequest{BucketID: w.bucket, DataSourceID: w.source,
			Values: map[string]any{"v": n}})
		cancel()
		typ, status := classify(err)
		e.Rec.Add(history.Op{Process: process, F: "use", Key: key.ID, Node: nd.ID, Type: typ, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()})
		sleepCtx(ctx, time.Duration(50+r.IntN(100))*time.Millisecond)
	}
}
