package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/history"
)

// setWorkload writes unique points (id i at base + i ms, value i) in small
// batches through random nodes, reads the whole bucket now and then, and at
// the end reads it through every node.
type setWorkload struct {
	bucket, source string
	base           time.Time
	next           atomic.Int64
}

const setWriters = 4

func (w *setWorkload) Setup(ctx context.Context, e *Env) error {
	admin := e.C.Client(e.C.Members()[0], e.C.AdminKey)
	days := 30
	b, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "jepsen-set", RetentionDays: &days})
	if err != nil {
		return fmt.Errorf("cannot create the set bucket: %w", err)
	}
	src, err := admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "ids", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		return fmt.Errorf("cannot create the set source: %w", err)
	}
	w.bucket, w.source = b.ID, src.ID
	w.base = time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	// Wait until every node knows the source.
	for _, nd := range e.C.Members() {
		c := e.C.Client(nd, e.C.AdminKey)
		if err := retry(ctx, time.Minute, func(ctx context.Context) error {
			_, err := c.Query(ctx, client.QueryRequest{BucketID: w.bucket, Filters: client.QueryFilters{Limit: 1}})
			return err
		}); err != nil {
			return fmt.Errorf("%s cannot read the set bucket: %w", nd.ID, err)
		}
	}
	return nil
}

func (w *setWorkload) Run(ctx context.Context, e *Env) {
	workers(setWriters+1, func(i int) {
		r := e.Rand(uint64(100 + i))
		if i == setWriters {
			// The reader.
			for n := 0; n < 100_000; n++ {
				if !sleepCtx(ctx, time.Duration(500+r.IntN(1000))*time.Millisecond) {
					return
				}
				w.read(ctx, e, i, e.RandomNode(r), "read")
			}
			return
		}
		for n := 0; n < 1_000_000 && ctx.Err() == nil; n++ {
			size := 1 + r.IntN(5)
			ids := make([]int64, size)
			pts := make([]client.PointInput, size)
			for k := range ids {
				ids[k] = w.next.Add(1)
				pts[k] = client.PointInput{DataSourceID: w.source, Timestamp: w.base.Add(time.Duration(ids[k]) * time.Millisecond),
					Values: map[string]any{"v": ids[k]}}
			}
			nd := e.RandomNode(r)
			start := e.Rec.Now()
			cctx, cancel := context.WithTimeout(context.Background(), e.OpTimeout)
			_, err := e.C.Client(nd, e.C.AdminKey).WriteBatch(cctx, client.WriteBatchRequest{BucketID: w.bucket, DataPoints: pts})
			cancel()
			typ, status := classify(err)
			e.Rec.Add(history.Op{Process: i, F: "add", Type: typ, Node: nd.ID, Ints: ids, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()})
			sleepCtx(ctx, time.Duration(r.IntN(40))*time.Millisecond)
		}
	})
}

// read reads every point of the bucket through nd, page by page on time
// (so concurrent inserts cannot shift a page), and records one op.
func (w *setWorkload) read(ctx context.Context, e *Env, process int, nd *Node, f string) bool {
	return w.readAs(ctx, e, e.C.AdminKey, process, nd, f)
}

// readAs is read with the given API key.
func (w *setWorkload) readAs(ctx context.Context, e *Env, key string, process int, nd *Node, f string) bool {
	c := e.C.Client(nd, key)
	start := e.Rec.Now()
	var got []int64
	from := w.base
	var err error
	for page := 0; page < 10_000; page++ {
		cctx, cancel := context.WithTimeout(ctx, 2*e.OpTimeout)
		var res *client.QueryResult
		// A partial answer (no replica known to hold every acknowledged
		// write answered) is refused: it would show as lost or flicker.
		res, err = c.Query(cctx, client.QueryRequest{BucketID: w.bucket, Sort: "asc", RefusePartial: true,
			Filters: client.QueryFilters{DataSourceID: w.source, StartTime: from, Limit: 1000}})
		cancel()
		if err != nil {
			break
		}
		for _, row := range res.Data {
			got = append(got, int64(row.Timestamp.Sub(w.base)/time.Millisecond))
			if !row.Timestamp.Before(from) {
				from = row.Timestamp.Add(time.Nanosecond)
			}
		}
		if len(res.Data) < 1000 {
			break
		}
	}
	typ, status := classify(err)
	if typ == history.Fail {
		typ = history.Info // a read that failed tells nothing
	}
	op := history.Op{Process: process, F: f, Type: typ, Node: nd.ID, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()}
	if err == nil {
		op.Ints = got
	}
	e.Rec.Add(op)
	return err == nil
}

func (w *setWorkload) Final(ctx context.Context, e *Env) {
	for _, nd := range e.C.Members() {
		_ = retry(ctx, 90*time.Second, func(ctx context.Context) error {
			if w.read(ctx, e, 1000, nd, "final-read") {
				return nil
			}
			return fmt.Errorf("final read through %s failed", nd.ID)
		})
	}
}
