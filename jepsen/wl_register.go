package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/history"
)

// registerWorkload treats each bucket as a register: its description is the
// value, and it exists or not. Workers create buckets, patch their
// descriptions, read them and delete them, each call through a random node.
// Each bucket takes a bounded number of operations so that porcupine's
// search stays small.
type registerWorkload struct {
	mu     sync.Mutex
	active []*regKey
	seq    int
}

type regKey struct {
	name, id string
	left     int // operations left before the key retires
}

const (
	regWorkers   = 5
	regActive    = 3
	regOpsPerKey = 40
)

func (w *registerWorkload) Setup(ctx context.Context, e *Env) error { return nil }

func (w *registerWorkload) Final(ctx context.Context, e *Env) {}

// pick returns an active key with operations left, or nil if a new one
// should be created (its name is returned).
func (w *registerWorkload) pick(r *rand.Rand) (*regKey, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	live := w.active[:0]
	for _, k := range w.active {
		if k.left > 0 {
			live = append(live, k)
		}
	}
	w.active = live
	if len(w.active) < regActive {
		w.seq++
		name := fmt.Sprintf("reg-%d", w.seq)
		w.active = append(w.active, &regKey{name: name, left: regOpsPerKey})
		return nil, name
	}
	k := w.active[r.IntN(len(w.active))]
	if k.id == "" {
		return nil, "" // still being created
	}
	k.left--
	return k, ""
}

func (w *registerWorkload) setID(name, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range w.active {
		if k.name == name {
			k.id = id
		}
	}
}

func (w *registerWorkload) retire(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range w.active {
		if k.name == name {
			k.left = 0
		}
	}
}

func (w *registerWorkload) Run(ctx context.Context, e *Env) {
	workers(regWorkers, func(i int) {
		r := e.Rand(uint64(200 + i))
		for n := 0; n < 1_000_000 && ctx.Err() == nil; n++ {
			k, create := w.pick(r)
			nd := e.RandomNode(r)
			c := e.C.Client(nd, e.C.AdminKey)
			value := fmt.Sprintf("p%d-%d", i, n)
			op := history.Op{Process: i, Node: nd.ID, Start: e.Rec.Now()}
			cctx, cancel := context.WithTimeout(context.Background(), e.OpTimeout)
			switch {
			case create != "":
				op.F, op.Key, op.Value = "create", create, value
				b, err := c.CreateBucket(cctx, client.CreateBucketRequest{Name: create, Description: &value})
				op.Type, op.Status = regType(err, 409)
				op.Error = errText(err)
				if err == nil {
					op.Key = b.ID
					w.setID(create, b.ID)
				}
			case k == nil:
				cancel()
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			default:
				op.Key = k.id
				switch x := r.IntN(100); {
				case k.left == 3 || x < 2:
					op.F = "delete"
					_, err := c.DeleteBucket(cctx, k.id)
					op.Type, op.Status = regType(err, 404)
					op.Error = errText(err)
				case x < 55:
					op.F = "read"
					b, err := c.GetBucket(cctx, k.id)
					op.Type, op.Status = regType(err, 404)
					op.Error = errText(err)
					if err == nil {
						op.Found, op.Value = true, b.Description
					} else if op.Type == history.Fail {
						op.Type = history.OK // a 404 is a read of "absent"
					}
				default:
					op.F, op.Value = "write", value
					_, err := c.UpdateBucket(cctx, k.id, client.UpdateBucketRequest{Description: &value})
					op.Type, op.Status = regType(err, 404)
					op.Error = errText(err)
				}
			}
			cancel()
			op.End = e.Rec.Now()
			if op.F == "create" && op.Type != history.OK {
				// The bucket's id is unknown: its create stays in the history
				// under its name and nobody touches it again.
				w.retire(create)
			}
			e.Rec.Add(op)
			sleepCtx(ctx, time.Duration(r.IntN(30))*time.Millisecond)
		}
	})
}

// regType maps an error to an op type: the expected refusal (409 on create,
// 404 on the others) is a definite failure; anything else unknown.
func regType(err error, refusal int) (string, int) {
	typ, status := classify(err)
	if typ == history.Fail && status != refusal {
		typ = history.Info
	}
	return typ, status
}
