package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store/points"
)

// replicas returns the bucket's replicas that serve reads, and whether
// this node is one (true too when the bucket has no placement: every node
// keeps its own).
func (r *Replicator) replicas(bucketID string) ([]string, bool) {
	reps := r.d.Cluster.Placement(bucketID).Replicas
	if len(reps) == 0 || !r.d.Cluster.Clustered() {
		return nil, true
	}
	return reps, slices.Contains(reps, r.d.Self)
}

// read answers from this node when it is a replica in sync, else from the
// first remote replica in sync, asking the next one when one fails or is
// slower than ReadHedge. With no replica in sync, the best answer there is
// comes back marked partial in note (or, when note refuses partial
// answers, ErrUnavailable).
func (r *Replicator) read(ctx context.Context, note *ReadNote, bucketID string, call peerrpc.PointsRequest, out any, local func() error) error {
	reps, self := r.replicas(bucketID)
	strict := note.refusesPartial()
	if strict {
		call.Verify = true
	}
	if reps == nil || self && r.repair.inSync(bucketID) && (!strict || r.verified(ctx, bucketID, call)) {
		return local()
	}
	var remotes []string
	for _, id := range reps {
		if id != r.d.Self {
			remotes = append(remotes, id)
		}
	}
	best, errs := r.askReplicas(ctx, remotes, call)
	if best != nil && best.InSync {
		return json.Unmarshal(best.Result, out)
	}
	for _, err := range errs {
		if errors.Is(err, points.ErrBadQuery) {
			return err
		}
	}
	if best == nil && !self {
		return fmt.Errorf("%w: no replica of bucket %s answered: %w", ErrUnavailable, bucketID, errors.Join(errs...))
	}
	if strict {
		return fmt.Errorf("%w: no replica of bucket %s in sync answered, and the request refuses partial results", ErrUnavailable, bucketID)
	}
	r.metrics.partialReads.Add(1)
	note.markPartial("no replica known to hold every acknowledged write answered; repair is catching up")
	if self {
		return local()
	}
	return json.Unmarshal(best.Result, out)
}

// verified reports whether enough other replicas hold exactly the points
// this one holds in the range call reads (N − quorum of them, so that
// every write acknowledged at quorum is on one of them): the check a read
// that refuses partial answers makes, since a replica can miss a write and
// not know it yet (a partial partition, a write slower than the grace).
func (r *Replicator) verified(ctx context.Context, bucketID string, call peerrpc.PointsRequest) bool {
	p := r.d.Cluster.Placement(bucketID)
	need := quorumCover(len(p.Replicas) + len(p.Pending) - len(p.Leaving))
	if need == 0 {
		return true
	}
	rg := call.Covers()
	mine, err := r.d.Local.Digests(ctx, bucketID, rg.Start, rg.End)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ReadHedge)
	defer cancel()
	var others []string
	for _, id := range p.Replicas {
		if id != r.d.Self {
			others = append(others, id)
		}
	}
	// A write in flight reaches the replicas moments apart, so under
	// steady writes two copies are rarely equal at one instant. A replica
	// whose digests equal this one's, taken before or after theirs, holds
	// the same writes as this one did then: that is as good a proof, since
	// this one answers later. One that differs is asked again, a little
	// later, until the hedge delay runs out.
	agree := 0
	for round := 0; len(others) > 0 && ctx.Err() == nil; round++ {
		if round > 0 {
			select {
			case <-time.After(time.Duration(round) * 5 * time.Millisecond): // spacing between tries, not a wait for a condition
			case <-ctx.Done():
				return false
			}
		}
		differ := others[:0]
		for _, id := range others {
			theirs, err := r.d.Peers.Digests(ctx, id, rg)
			if err != nil {
				continue // not asked again: it failed, not differed
			}
			if !slices.Equal(mine, theirs) {
				if mine, err = r.d.Local.Digests(ctx, bucketID, rg.Start, rg.End); err != nil {
					return false
				}
			}
			if !slices.Equal(mine, theirs) {
				differ = append(differ, id)
				continue
			}
			if agree++; agree >= need {
				return true
			}
		}
		others = differ
	}
	return false
}

// askReplicas asks the replicas in turn, starting the next one whenever the
// last one failed, answered out of sync, or took longer than ReadHedge. It
// returns the first answer in sync, else the first answer at all, and the
// errors met.
func (r *Replicator) askReplicas(ctx context.Context, ids []string, call peerrpc.PointsRequest) (*peerrpc.ReadAnswer, []error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		a   peerrpc.ReadAnswer
		err error
	}
	results := make(chan result, len(ids))
	next, running := 0, 0
	start := func() {
		id := ids[next]
		next++
		running++
		go func() {
			a, err := r.d.Peers.Read(ctx, id, call)
			results <- result{a, err}
		}()
	}
	start()
	hedge := time.NewTimer(r.cfg.ReadHedge)
	defer hedge.Stop()
	var best *peerrpc.ReadAnswer
	var errs []error
	for running > 0 {
		select {
		case res := <-results:
			running--
			switch {
			case res.err != nil:
				errs = append(errs, res.err)
				if errors.Is(res.err, points.ErrBadQuery) {
					return nil, errs
				}
			case res.a.InSync:
				return &res.a, errs
			case best == nil:
				best = &res.a
			}
			if next < len(ids) {
				r.metrics.readFailovers.Add(1)
				start()
				hedge.Reset(r.cfg.ReadHedge)
			}
		case <-hedge.C:
			if next < len(ids) {
				r.metrics.readHedges.Add(1)
				start()
				hedge.Reset(r.cfg.ReadHedge)
			}
		case <-ctx.Done():
			return best, append(errs, ctx.Err())
		}
	}
	return best, errs
}

func (r *Replicator) Raw(ctx context.Context, q points.RawQuery, note *ReadNote) (res points.RawResult, err error) {
	err = r.read(ctx, note, q.BucketID, peerrpc.PointsRequest{Op: peerrpc.OpRaw, Raw: &q}, &res, func() (err error) { res, err = r.d.Local.Raw(ctx, q); return err })
	return res, err
}

func (r *Replicator) Aggregate(ctx context.Context, q points.AggQuery, note *ReadNote) (rows []points.Row, err error) {
	if r.d.ChaosBug == "agg-local-only" {
		return r.d.Local.Aggregate(ctx, q) // whether or not this node holds the bucket
	}
	err = r.read(ctx, note, q.BucketID, peerrpc.PointsRequest{Op: peerrpc.OpAggregate, Agg: &q}, &rows, func() (err error) { rows, err = r.d.Local.Aggregate(ctx, q); return err })
	return rows, err
}

func (r *Replicator) Count(ctx context.Context, rg points.Range, note *ReadNote) (n int64, err error) {
	err = r.read(ctx, note, rg.BucketID, peerrpc.PointsRequest{Op: peerrpc.OpCount, Range: &rg}, &n, func() (err error) { n, err = r.d.Local.Count(ctx, rg); return err })
	return n, err
}

func (r *Replicator) FinestWindow(ctx context.Context, rg points.Range, maxRows int, note *ReadNote) (w points.Window, err error) {
	err = r.read(ctx, note, rg.BucketID, peerrpc.PointsRequest{Op: peerrpc.OpFinest, Range: &rg, MaxRows: maxRows}, &w, func() (err error) {
		w, err = r.d.Local.FinestWindow(ctx, rg, maxRows)
		return err
	})
	return w, err
}

func (r *Replicator) PeriodStats(ctx context.Context, rg points.Range, note *ReadNote) (st []points.SourceStats, err error) {
	err = r.read(ctx, note, rg.BucketID, peerrpc.PointsRequest{Op: peerrpc.OpPeriodStats, Range: &rg}, &st, func() (err error) { st, err = r.d.Local.PeriodStats(ctx, rg); return err })
	return st, err
}

// LastPointTime returns the time of the source's newest point, asking a
// replica when this node holds none of the bucket.
func (r *Replicator) LastPointTime(ctx context.Context, bucketID, sourceID string) (int64, bool, error) {
	var lp peerrpc.LastPoint
	err := r.read(ctx, nil, bucketID, peerrpc.PointsRequest{Op: peerrpc.OpLastPoint, Bucket: bucketID, Source: sourceID}, &lp, func() error {
		lp.TS, lp.OK = r.d.Local.LastPointTime(bucketID, sourceID)
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("cannot read the last point of source %s: %w", sourceID, err)
	}
	return lp.TS, lp.OK, nil
}

// BucketPointCount returns how many points the bucket holds.
func (r *Replicator) BucketPointCount(ctx context.Context, bucketID string) (int64, error) {
	var n int64
	err := r.read(ctx, nil, bucketID, peerrpc.PointsRequest{Op: peerrpc.OpBucketCount, Bucket: bucketID}, &n, func() error {
		n = r.d.Local.BucketPointCount(bucketID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot count the points of bucket %s: %w", bucketID, err)
	}
	return n, nil
}

// ChangeMark returns, from the replica that answers the read, a token
// that changes whenever a point of the bucket in [start, end) does (the
// PromQL result cache's validator); "" when no replica answered.
func (r *Replicator) ChangeMark(bucketID string, start, end int64) string {
	var mark string
	rg := points.Range{BucketID: bucketID, Start: start, End: end}
	err := r.read(context.Background(), nil, bucketID, peerrpc.PointsRequest{Op: peerrpc.OpChangeMark, Range: &rg}, &mark, func() error {
		mark = r.d.Local.ChangeMark(bucketID, start, end)
		return nil
	})
	if err != nil {
		r.log.Warn("cannot read a bucket's change mark", "bucket", bucketID, "err", err)
		return ""
	}
	return mark
}

// BucketSize estimates the bytes the bucket's points take on disk.
func (r *Replicator) BucketSize(ctx context.Context, bucketID string) (int64, error) {
	var n int64
	err := r.read(ctx, nil, bucketID, peerrpc.PointsRequest{Op: peerrpc.OpBucketSize, Bucket: bucketID}, &n, func() error {
		n = r.d.Local.BucketSize(bucketID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot size bucket %s: %w", bucketID, err)
	}
	return n, nil
}

// ReplicaInSync reports whether this replica holds every acknowledged
// write of what req reads (confirmed with other replicas if req.Verify):
// peerrpc.PointsConfig.InSync.
func (r *Replicator) ReplicaInSync(ctx context.Context, req peerrpc.PointsRequest) bool {
	b := req.Covers().BucketID
	return r.repair.inSync(b) && (!req.Verify || r.verified(ctx, b, req))
}
