package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// pointsPath is the internal endpoint through which nodes read and write
// each other's points.
const pointsPath = "/internal/points"

// routedPoints serves the points API from a bucket's replicas: a write goes
// to every replica in parallel and is acknowledged once all have it; a read
// is answered by this node when it is a replica, else by the first live
// replica. A bucket without a placement is kept by each node locally.
type routedPoints struct {
	n     *Node
	local *points.DB
}

// pointsCall is one request to another node's points.
type pointsCall struct {
	Op       string           `json:"op"`
	Bucket   string           `json:"bucket,omitempty"`
	Source   string           `json:"source,omitempty"`
	Raw      *points.RawQuery `json:"raw,omitempty"`
	Agg      *points.AggQuery `json:"agg,omitempty"`
	Range    *points.Range    `json:"range,omitempty"`
	MaxRows  int              `json:"maxRows,omitempty"`
	Hour     int64            `json:"hour,omitempty"`
	Deadline time.Time        `json:"deadline"`
	// Verify asks a replica to claim it is in sync only once another
	// replica has confirmed it holds the same points in the range read.
	Verify bool `json:"verify,omitempty"`
	// Index, for op applied, is the Raft entry to wait for.
	Index uint64 `json:"index,omitempty"`
}

// replicas returns the bucket's replicas that serve reads, and whether
// this node is one (true too when the bucket has no placement: every node
// keeps its own).
func (r routedPoints) replicas(bucketID string) ([]string, bool) {
	reps := r.n.state.BucketReplicas(bucketID)
	if len(reps) == 0 || r.n.members == nil {
		return nil, true
	}
	return reps, slices.Contains(reps, r.n.cfg.NodeID)
}

// Write stores pts on the bucket's replicas (and the pending ones catching
// up), acknowledged at the consistency asked in ctx.
func (r routedPoints) Write(ctx context.Context, bucketID string, pts []points.Point) error {
	p := r.n.state.BucketPlacement(bucketID)
	if len(p.Replicas) == 0 || r.n.members == nil {
		if chaosDrops(pts) {
			return nil
		}
		return r.n.writeLive(ctx, bucketID, pts)
	}
	targets := slices.Concat(p.Replicas, p.Pending)
	return r.replicate(ctx, bucketID, targets, len(targets)-len(p.Leaving), pts)
}

// readAnswer is one replica's answer to a read.
type readAnswer struct {
	InSync bool            `json:"inSync"`
	Result json.RawMessage `json:"result"`
}

// read answers from this node when it is a replica in sync, else from the
// first remote replica in sync, asking the next one when one fails or is
// slower than ReadHedge. With no replica in sync, the best answer there is
// comes back marked partial in ctx's note (or, when the note refuses
// partial answers, ErrUnavailable).
func (r routedPoints) read(ctx context.Context, bucketID string, call pointsCall, out any, local func() error) error {
	reps, self := r.replicas(bucketID)
	strict := false
	if note := httpapi.ReadNoteFrom(ctx); note != nil && note.RefusePartial {
		strict, call.Verify = true, true
	}
	if reps == nil || self && r.n.repair.inSync(bucketID) && (!strict || r.verified(ctx, bucketID, call)) {
		return local()
	}
	var remotes []string
	for _, id := range reps {
		if id != r.n.cfg.NodeID {
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
		return fmt.Errorf("%w: no replica of bucket %s answered: %w", httpapi.ErrUnavailable, bucketID, errors.Join(errs...))
	}
	if strict {
		return fmt.Errorf("%w: no replica of bucket %s in sync answered, and the request refuses partial results", httpapi.ErrUnavailable, bucketID)
	}
	r.n.metrics.partialReads.Add(1)
	httpapi.MarkPartial(ctx, "no replica known to hold every acknowledged write answered; repair is catching up")
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
func (r routedPoints) verified(ctx context.Context, bucketID string, call pointsCall) bool {
	p := r.n.state.BucketPlacement(bucketID)
	need := quorumCover(len(p.Replicas) + len(p.Pending) - len(p.Leaving))
	if need == 0 {
		return true
	}
	rg := rangeOf(call)
	mine, err := r.local.Digests(ctx, bucketID, rg.Start, rg.End)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, r.n.cfg.Replication.ReadHedge)
	defer cancel()
	agree := 0
	for _, id := range p.Replicas {
		if id == r.n.cfg.NodeID {
			continue
		}
		var theirs []points.HourDigest
		if err := r.call(ctx, id, pointsCall{Op: "digests", Range: &rg}, &theirs); err != nil || !slices.Equal(mine, theirs) {
			continue
		}
		if agree++; agree >= need {
			return true
		}
	}
	return false
}

// rangeOf returns the bucket and the points a read call covers (the whole
// bucket for counts, sizes and last points).
func rangeOf(c pointsCall) points.Range {
	switch {
	case c.Raw != nil:
		return points.Range{BucketID: c.Raw.BucketID, Start: c.Raw.Start, End: c.Raw.End}
	case c.Agg != nil:
		return points.Range{BucketID: c.Agg.BucketID, Start: c.Agg.Start, End: c.Agg.End}
	case c.Range != nil:
		return points.Range{BucketID: c.Range.BucketID, Start: c.Range.Start, End: c.Range.End}
	}
	return points.Range{BucketID: c.Bucket, Start: math.MinInt64, End: math.MaxInt64}
}

// askReplicas asks the replicas in turn, starting the next one whenever the
// last one failed, answered out of sync, or took longer than ReadHedge. It
// returns the first answer in sync, else the first answer at all, and the
// errors met.
func (r routedPoints) askReplicas(ctx context.Context, ids []string, call pointsCall) (*readAnswer, []error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		a   readAnswer
		err error
	}
	results := make(chan result, len(ids))
	next, running := 0, 0
	start := func() {
		id := ids[next]
		next++
		running++
		go func() {
			var a readAnswer
			err := r.call(ctx, id, call, &a)
			results <- result{a, err}
		}()
	}
	start()
	hedge := time.NewTimer(r.n.cfg.Replication.ReadHedge)
	defer hedge.Stop()
	var best *readAnswer
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
				r.n.metrics.readFailovers.Add(1)
				start()
				hedge.Reset(r.n.cfg.Replication.ReadHedge)
			}
		case <-hedge.C:
			if next < len(ids) {
				r.n.metrics.readHedges.Add(1)
				start()
				hedge.Reset(r.n.cfg.Replication.ReadHedge)
			}
		case <-ctx.Done():
			return best, append(errs, ctx.Err())
		}
	}
	return best, errs
}

func (r routedPoints) Raw(ctx context.Context, q points.RawQuery) (res points.RawResult, err error) {
	err = r.read(ctx, q.BucketID, pointsCall{Op: "raw", Raw: &q}, &res, func() (err error) { res, err = r.local.Raw(ctx, q); return err })
	return res, err
}

func (r routedPoints) Aggregate(ctx context.Context, q points.AggQuery) (rows []points.Row, err error) {
	if chaosBug == "agg-local-only" {
		return r.local.Aggregate(ctx, q) // whether or not this node holds the bucket
	}
	err = r.read(ctx, q.BucketID, pointsCall{Op: "aggregate", Agg: &q}, &rows, func() (err error) { rows, err = r.local.Aggregate(ctx, q); return err })
	return rows, err
}

func (r routedPoints) Count(ctx context.Context, rg points.Range) (n int64, err error) {
	err = r.read(ctx, rg.BucketID, pointsCall{Op: "count", Range: &rg}, &n, func() (err error) { n, err = r.local.Count(ctx, rg); return err })
	return n, err
}

func (r routedPoints) FinestWindow(ctx context.Context, rg points.Range, maxRows int) (w points.Window, err error) {
	err = r.read(ctx, rg.BucketID, pointsCall{Op: "finest", Range: &rg, MaxRows: maxRows}, &w, func() (err error) {
		w, err = r.local.FinestWindow(ctx, rg, maxRows)
		return err
	})
	return w, err
}

func (r routedPoints) PeriodStats(ctx context.Context, rg points.Range) (st []points.SourceStats, err error) {
	err = r.read(ctx, rg.BucketID, pointsCall{Op: "periodstats", Range: &rg}, &st, func() (err error) { st, err = r.local.PeriodStats(ctx, rg); return err })
	return st, err
}

type lastPoint struct {
	TS int64 `json:"ts"`
	OK bool  `json:"ok"`
}

func (r routedPoints) LastPointTime(bucketID, sourceID string) (int64, bool) {
	var lp lastPoint
	err := r.read(context.Background(), bucketID, pointsCall{Op: "lastpoint", Bucket: bucketID, Source: sourceID}, &lp, func() error {
		lp.TS, lp.OK = r.local.LastPointTime(bucketID, sourceID)
		return nil
	})
	if err != nil {
		r.n.log.Warn("cannot read a source's last point", "bucket", bucketID, "err", err)
	}
	return lp.TS, lp.OK
}

func (r routedPoints) BucketPointCount(bucketID string) int64 {
	var n int64
	err := r.read(context.Background(), bucketID, pointsCall{Op: "bucketcount", Bucket: bucketID}, &n, func() error {
		n = r.local.BucketPointCount(bucketID)
		return nil
	})
	if err != nil {
		r.n.log.Warn("cannot count a bucket's points", "bucket", bucketID, "err", err)
	}
	return n
}

// ChangeMark returns, from the replica that answers the read, a token
// that changes whenever a point of the bucket in [start, end) does (the
// PromQL result cache's validator); "" when no replica answered.
func (r routedPoints) ChangeMark(bucketID string, start, end int64) string {
	var mark string
	rg := points.Range{BucketID: bucketID, Start: start, End: end}
	err := r.read(context.Background(), bucketID, pointsCall{Op: "changemark", Range: &rg}, &mark, func() error {
		mark = r.local.ChangeMark(bucketID, start, end)
		return nil
	})
	if err != nil {
		r.n.log.Warn("cannot read a bucket's change mark", "bucket", bucketID, "err", err)
		return ""
	}
	return mark
}

func (r routedPoints) BucketSize(bucketID string) int64 {
	var n int64
	err := r.read(context.Background(), bucketID, pointsCall{Op: "bucketsize", Bucket: bucketID}, &n, func() error {
		n = r.local.BucketSize(bucketID)
		return nil
	})
	if err != nil {
		r.n.log.Warn("cannot size a bucket", "bucket", bucketID, "err", err)
	}
	return n
}

// call sends c to node id's internal points endpoint and decodes the
// answer into out (when not nil).
func (r routedPoints) call(ctx context.Context, id string, c pointsCall, out any) error {
	addr := r.n.peerHTTP(id)
	if addr == "" {
		return fmt.Errorf("node %s is not alive", id)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.Deadline, _ = ctx.Deadline()
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("cannot encode %s call: %w", c.Op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.n.peerURL(addr, pointsPath), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cannot call %s: %w", id, err)
	}
	nodeauth.SignRequest(r.n.rpcKey(), req, body, time.Now())
	resp, err := r.n.peers.Do(req)
	if err != nil {
		return fmt.Errorf("cannot call %s: %w", id, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cannot read the answer of %s: %w", id, err)
	}
	if resp.StatusCode == http.StatusBadRequest {
		return fmt.Errorf("%w: node %s answered %s: %s", points.ErrBadQuery, id, c.Op, bytes.TrimSpace(answer))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node %s answered %s %d: %s", id, c.Op, resp.StatusCode, bytes.TrimSpace(answer))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("cannot decode the answer of %s: %w", id, err)
	}
	return nil
}

// peerHTTP returns a live node's HTTP address ("" if not alive).
func (n *Node) peerHTTP(id string) string {
	return n.members.AliveHTTPAddr(id)
}

// PointsCall serves another node's points request against the local store
// only (never routed again), and returns the status and body to answer.
func (n *Node) PointsCall(ctx context.Context, body []byte) (int, []byte) {
	var c pointsCall
	if err := json.Unmarshal(body, &c); err != nil {
		return http.StatusBadRequest, []byte(err.Error())
	}
	if !c.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
		defer cancel()
	}
	db := n.pts
	var out any
	var err error
	read := true
	switch c.Op {
	case "ping":
		read = false
		out = struct{}{}
	case "applied":
		read = false
		if err = n.raft.WaitApplied(ctx, c.Index); err == nil {
			out = struct{}{}
		}
	case "digests":
		read = false
		if c.Range != nil {
			out, err = db.Digests(ctx, c.Range.BucketID, c.Range.Start, c.Range.End)
		}
		if out == nil && err == nil {
			out = []points.HourDigest{}
		}
	case "hour":
		read = false
		out, err = db.HourPoints(ctx, c.Bucket, c.Source, c.Hour)
		if out == nil && err == nil {
			out = []points.Point{}
		}
	case "raw":
		if c.Raw != nil {
			out, err = db.Raw(ctx, *c.Raw)
		}
	case "aggregate":
		if c.Agg != nil {
			out, err = db.Aggregate(ctx, *c.Agg)
		}
	case "count":
		if c.Range != nil {
			out, err = db.Count(ctx, *c.Range)
		}
	case "finest":
		if c.Range != nil {
			out, err = db.FinestWindow(ctx, *c.Range, c.MaxRows)
		}
	case "periodstats":
		if c.Range != nil {
			out, err = db.PeriodStats(ctx, *c.Range)
		}
	case "lastpoint":
		ts, ok := db.LastPointTime(c.Bucket, c.Source)
		out = lastPoint{TS: ts, OK: ok}
	case "bucketcount":
		out = db.BucketPointCount(c.Bucket)
	case "bucketsize":
		out = db.BucketSize(c.Bucket)
	case "changemark":
		if c.Range != nil {
			out = db.ChangeMark(c.Range.BucketID, c.Range.Start, c.Range.End)
		}
	default:
		return http.StatusBadRequest, []byte("unknown points op " + c.Op)
	}
	switch {
	case errors.Is(err, points.ErrBadQuery):
		return http.StatusBadRequest, []byte(err.Error())
	case err != nil:
		return http.StatusServiceUnavailable, []byte(err.Error())
	case out == nil:
		return http.StatusBadRequest, []byte("missing arguments for " + c.Op)
	}
	if read {
		// Say whether this replica holds every acknowledged write.
		result, err := json.Marshal(out)
		if err != nil {
			return http.StatusInternalServerError, []byte(err.Error())
		}
		b := rangeOf(c).BucketID
		inSync := n.repair.inSync(b) && (!c.Verify || routedPoints{n: n, local: n.pts}.verified(ctx, b, c))
		out = readAnswer{InSync: inSync, Result: result}
	}
	answer, err := json.Marshal(out)
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	return http.StatusOK, answer
}

// place gives a new bucket its replicas, ReplicationFactor of the Raft
// servers by rendezvous hashing, when this node leads (a follower's
// placement would be overwritten by the leader's anyway).
func (n *Node) place(cmd any) any {
	if r, ok := cmd.(store.RestoreState); ok {
		return n.placeRestore(r)
	}
	c, ok := cmd.(store.CreateBucket)
	if !ok || len(c.Replicas) > 0 || n.members == nil || !n.raft.IsLeader() {
		return cmd
	}
	servers, err := n.raft.Servers()
	if err != nil {
		return cmd
	}
	ids := make([]string, 0, len(servers))
	for _, s := range servers {
		ids = append(ids, s.ID)
	}
	c.Replicas = cluster.PlaceReplicas(c.Bucket.ID, ids, n.cfg.ReplicationFactor)
	return c
}
