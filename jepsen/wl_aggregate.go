package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/checker"
	"github.com/dakkio/dakkio/jepsen/history"
)

// aggregateWorkload writes points whose window and value follow from their
// id (checker.AggTime, checker.AggValue) through random nodes, reads count
// by day now and then, and after healing asks every node for count, sum,
// min and max by hour and by day: the product's main read path.
type aggregateWorkload struct {
	bucket, source string
	base           time.Time
	next           atomic.Int64
}

const aggWriters = 4

var (
	aggGroupBys     = []string{"hour", "day"}
	aggAggregations = []string{"count", "sum", "min", "max"}
)

func (w *aggregateWorkload) Setup(ctx context.Context, e *Env) error {
	admin := e.C.Client(e.C.Members()[0], e.C.AdminKey)
	days := 30
	b, err := admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "jepsen-aggregate", RetentionDays: &days})
	if err != nil {
		return fmt.Errorf("cannot create the aggregate bucket: %w", err)
	}
	src, err := admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "agg", Schema: map[string]client.Field{"v": {Type: "number"}}})
	if err != nil {
		return fmt.Errorf("cannot create the aggregate source: %w", err)
	}
	w.bucket, w.source = b.ID, src.ID
	// Points span five days ending a day ago: every hour and day window is
	// in the retention and in the past, whatever a skewed clock says.
	w.base = time.Now().UTC().Add(-6 * 24 * time.Hour).Truncate(24 * time.Hour)
	e.Rec.Add(history.Op{Process: 0, F: "agg-setup", Type: history.OK, Value: w.base.Format(time.RFC3339Nano), Start: e.Rec.Now(), End: e.Rec.Now()})
	for _, nd := range e.C.Members() {
		c := e.C.Client(nd, e.C.AdminKey)
		if err := retry(ctx, time.Minute, func(ctx context.Context) error {
			_, err := c.Query(ctx, client.QueryRequest{BucketID: w.bucket, Filters: client.QueryFilters{Limit: 1}})
			return err
		}); err != nil {
			return fmt.Errorf("%s cannot read the aggregate bucket: %w", nd.ID, err)
		}
	}
	return nil
}

func (w *aggregateWorkload) Run(ctx context.Context, e *Env) {
	workers(aggWriters+1, func(i int) {
		r := e.Rand(uint64(200 + i))
		if i == aggWriters {
			for n := 0; n < 100_000; n++ {
				if !sleepCtx(ctx, time.Duration(500+r.IntN(1000))*time.Millisecond) {
					return
				}
				w.read(ctx, e, i, e.RandomNode(r), "agg-read", "day", "count")
			}
			return
		}
		for n := 0; n < 1_000_000 && ctx.Err() == nil; n++ {
			size := 1 + r.IntN(5)
			ids := make([]int64, size)
			pts := make([]client.PointInput, size)
			for k := range ids {
				ids[k] = w.next.Add(1)
				pts[k] = client.PointInput{DataSourceID: w.source, Timestamp: checker.AggTime(w.base, ids[k]),
					Values: map[string]any{"v": checker.AggValue(ids[k])}}
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

// read asks nd for one aggregation by one window over the whole range and
// records it (Key: groupBy/aggregation, Value: window -> value).
func (w *aggregateWorkload) read(ctx context.Context, e *Env, process int, nd *Node, f, groupBy, agg string) bool {
	start := e.Rec.Now()
	cctx, cancel := context.WithTimeout(ctx, 2*e.OpTimeout)
	res, err := e.C.Client(nd, e.C.AdminKey).Query(cctx, client.QueryRequest{BucketID: w.bucket, Aggregation: client.Aggregation(agg), GroupBy: client.GroupBy(groupBy), RefusePartial: true,
		Filters: client.QueryFilters{DataSourceID: w.source, StartTime: w.base, EndTime: w.base.Add(6 * 24 * time.Hour)}})
	cancel()
	typ, status := classify(err)
	if typ == history.Fail {
		typ = history.Info // a read that failed tells nothing
	}
	op := history.Op{Process: process, F: f, Key: checker.AggWindow(groupBy, agg), Type: typ, Node: nd.ID, Status: status, Error: errText(err), Start: start}
	if err == nil {
		rows := map[time.Time]float64{}
		for _, row := range res.Data {
			x, ok := row.Values["v"].(float64)
			if !ok {
				op.Type, op.Error = history.Info, fmt.Sprintf("window %s: value %v is not a number", row.Timestamp, row.Values["v"])
				break
			}
			rows[row.Timestamp] = x
		}
		op.Value = checker.EncodeAggRows(rows)
	}
	op.End = e.Rec.Now()
	e.Rec.Add(op)
	return op.Type == history.OK
}

func (w *aggregateWorkload) Final(ctx context.Context, e *Env) {
	for _, nd := range e.C.Members() {
		for _, g := range aggGroupBys {
			for _, a := range aggAggregations {
				_ = retry(ctx, 90*time.Second, func(ctx context.Context) error {
					if w.read(ctx, e, 1000, nd, "final-agg", g, a) {
						return nil
					}
					return fmt.Errorf("final %s by %s through %s failed", a, g, nd.ID)
				})
			}
		}
	}
}
