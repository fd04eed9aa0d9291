package peerrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// Ops of PathPoints, PointsRequest.Op.
const (
	OpPing        = "ping"        // is the node there
	OpApplied     = "applied"     // wait until Index is applied
	OpDigests     = "digests"     // hour digests of Range
	OpHour        = "hour"        // one source's points of one hour
	OpRaw         = "raw"         // read: Raw
	OpAggregate   = "aggregate"   // read: Agg
	OpCount       = "count"       // read: points in Range
	OpFinest      = "finest"      // read: finest window of Range within MaxRows
	OpPeriodStats = "periodstats" // read: per-source stats of Range
	OpLastPoint   = "lastpoint"   // read: a source's newest point
	OpBucketCount = "bucketcount" // read: points in Bucket
	OpBucketSize  = "bucketsize"  // read: bytes of Bucket
	OpChangeMark  = "changemark"  // read: a token that changes with any point of Range
)

// PointsRequest is the body of a PathPoints call.
type PointsRequest struct {
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
	// Index, for OpApplied, is the Raft entry to wait for.
	Index uint64 `json:"index,omitempty"`
}

// Covers returns the bucket and the points a read covers (the whole bucket
// for counts, sizes and last points).
func (r PointsRequest) Covers() points.Range {
	switch {
	case r.Raw != nil:
		return points.Range{BucketID: r.Raw.BucketID, Start: r.Raw.Start, End: r.Raw.End}
	case r.Agg != nil:
		return points.Range{BucketID: r.Agg.BucketID, Start: r.Agg.Start, End: r.Agg.End}
	case r.Range != nil:
		return points.Range{BucketID: r.Range.BucketID, Start: r.Range.Start, End: r.Range.End}
	}
	return points.Range{BucketID: r.Bucket, Start: math.MinInt64, End: math.MaxInt64}
}

// ReadAnswer is a replica's answer to a read op: the result as JSON and
// whether the replica holds every acknowledged write of what it read.
type ReadAnswer struct {
	InSync bool            `json:"inSync"`
	Result json.RawMessage `json:"result"`
}

// LastPoint is the result of OpLastPoint.
type LastPoint struct {
	TS int64 `json:"ts"`
	OK bool  `json:"ok"`
}

// pointsTimeout bounds one points call.
const pointsTimeout = 10 * time.Second

// points sends req to the node and decodes its answer into out (when not
// nil). A 400 comes back wrapping points.ErrBadQuery.
func (c *Client) points(ctx context.Context, nodeID string, req PointsRequest, out any) error {
	ctx, cancel := context.WithTimeout(ctx, pointsTimeout)
	defer cancel()
	req.Deadline, _ = ctx.Deadline()
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("cannot encode %s call: %w", req.Op, err)
	}
	a, err := c.post(ctx, nodeID, PathPoints, body, pointsAnswer)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest {
		return fmt.Errorf("%w: node %s answered %s: %s", points.ErrBadQuery, nodeID, req.Op, se.Body)
	}
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return fmt.Errorf("cannot decode the answer of %s: %w", nodeID, err)
	}
	return nil
}

// Read asks a replica one of the read ops.
func (c *Client) Read(ctx context.Context, nodeID string, req PointsRequest) (ReadAnswer, error) {
	var a ReadAnswer
	err := c.points(ctx, nodeID, req, &a)
	return a, err
}

// Ping checks that the node answers points calls.
func (c *Client) Ping(ctx context.Context, nodeID string) error {
	return c.points(ctx, nodeID, PointsRequest{Op: OpPing}, nil)
}

// WaitApplied returns once the node has applied the Raft entry at index.
func (c *Client) WaitApplied(ctx context.Context, nodeID string, index uint64) error {
	return c.points(ctx, nodeID, PointsRequest{Op: OpApplied, Index: index}, nil)
}

// Digests returns the node's hour digests of rg.
func (c *Client) Digests(ctx context.Context, nodeID string, rg points.Range) ([]points.HourDigest, error) {
	var d []points.HourDigest
	err := c.points(ctx, nodeID, PointsRequest{Op: OpDigests, Range: &rg}, &d)
	return d, err
}

// HourPoints returns the node's points of one source in one hour.
func (c *Client) HourPoints(ctx context.Context, nodeID, bucketID, sourceID string, hour int64) ([]points.Point, error) {
	var pts []points.Point
	err := c.points(ctx, nodeID, PointsRequest{Op: OpHour, Bucket: bucketID, Source: sourceID, Hour: hour}, &pts)
	return pts, err
}

// LocalPoints is the store a node serves PathPoints from (*points.DB).
type LocalPoints interface {
	Raw(ctx context.Context, q points.RawQuery) (points.RawResult, error)
	Aggregate(ctx context.Context, q points.AggQuery) ([]points.Row, error)
	Count(ctx context.Context, rg points.Range) (int64, error)
	FinestWindow(ctx context.Context, rg points.Range, maxRows int) (points.Window, error)
	PeriodStats(ctx context.Context, rg points.Range) ([]points.SourceStats, error)
	Digests(ctx context.Context, bucketID string, start, end int64) ([]points.HourDigest, error)
	HourPoints(ctx context.Context, bucketID, sourceID string, hour int64) ([]points.Point, error)
	LastPointTime(bucketID, sourceID string) (int64, bool)
	BucketPointCount(bucketID string) int64
	BucketSize(bucketID string) int64
	ChangeMark(bucketID string, start, end int64) string
}

// PointsConfig is what the PathPoints handler serves from. All required.
type PointsConfig struct {
	// DB is this node's own points: a call is never routed further.
	DB LocalPoints
	// WaitApplied returns once this node applied the Raft entry at index.
	WaitApplied func(ctx context.Context, index uint64) error
	// InSync reports whether this replica holds every acknowledged write
	// of what req reads (confirmed with another replica if req.Verify).
	InSync func(ctx context.Context, req PointsRequest) bool
}

// pointsOp serves one op: its result, or nil and no error when the request
// lacks the op's arguments. A read's result is wrapped in a ReadAnswer.
type pointsOp struct {
	read  bool
	serve func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error)
}

// pointsOps is every op PathPoints serves.
var pointsOps = map[string]pointsOp{
	OpPing: {serve: func(context.Context, *PointsConfig, PointsRequest) (any, error) { return struct{}{}, nil }},
	OpApplied: {serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return struct{}{}, cfg.WaitApplied(ctx, r.Index)
	}},
	OpDigests: {serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		if r.Range == nil {
			return []points.HourDigest{}, nil
		}
		d, err := cfg.DB.Digests(ctx, r.Range.BucketID, r.Range.Start, r.Range.End)
		return orEmpty(d), err
	}},
	OpHour: {serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		pts, err := cfg.DB.HourPoints(ctx, r.Bucket, r.Source, r.Hour)
		return orEmpty(pts), err
	}},
	OpRaw: {read: true, serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Raw, func(q points.RawQuery) (points.RawResult, error) { return cfg.DB.Raw(ctx, q) })
	}},
	OpAggregate: {read: true, serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Agg, func(q points.AggQuery) ([]points.Row, error) { return cfg.DB.Aggregate(ctx, q) })
	}},
	OpCount: {read: true, serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Range, func(rg points.Range) (int64, error) { return cfg.DB.Count(ctx, rg) })
	}},
	OpFinest: {read: true, serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Range, func(rg points.Range) (points.Window, error) { return cfg.DB.FinestWindow(ctx, rg, r.MaxRows) })
	}},
	OpPeriodStats: {read: true, serve: func(ctx context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Range, func(rg points.Range) ([]points.SourceStats, error) { return cfg.DB.PeriodStats(ctx, rg) })
	}},
	OpLastPoint: {read: true, serve: func(_ context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		ts, ok := cfg.DB.LastPointTime(r.Bucket, r.Source)
		return LastPoint{TS: ts, OK: ok}, nil
	}},
	OpBucketCount: {read: true, serve: func(_ context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return cfg.DB.BucketPointCount(r.Bucket), nil
	}},
	OpBucketSize: {read: true, serve: func(_ context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return cfg.DB.BucketSize(r.Bucket), nil
	}},
	OpChangeMark: {read: true, serve: func(_ context.Context, cfg *PointsConfig, r PointsRequest) (any, error) {
		return with(r.Range, func(rg points.Range) (string, error) { return cfg.DB.ChangeMark(rg.BucketID, rg.Start, rg.End), nil })
	}},
}

// with calls f on *arg, or answers "missing arguments" (nil) without one.
func with[A, R any](arg *A, f func(A) (R, error)) (any, error) {
	if arg == nil {
		return nil, nil
	}
	r, err := f(*arg)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// orEmpty makes a nil slice an empty one, which encodes as [] not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PointsHandler serves PathPoints from cfg.
func PointsHandler(cfg PointsConfig) Handler {
	return func(ctx context.Context, body []byte) Answer {
		var r PointsRequest
		if err := json.Unmarshal(body, &r); err != nil {
			return fail(http.StatusBadRequest, err)
		}
		if !r.Deadline.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, r.Deadline)
			defer cancel()
		}
		op, known := pointsOps[r.Op]
		if !known {
			return fail(http.StatusBadRequest, fmt.Errorf("unknown points op %s", r.Op))
		}
		out, err := op.serve(ctx, &cfg, r)
		switch {
		case errors.Is(err, points.ErrBadQuery):
			return fail(http.StatusBadRequest, err)
		case err != nil:
			return fail(http.StatusServiceUnavailable, err)
		case out == nil:
			return fail(http.StatusBadRequest, fmt.Errorf("missing arguments for %s", r.Op))
		}
		if op.read {
			result, err := json.Marshal(out)
			if err != nil {
				return fail(http.StatusInternalServerError, err)
			}
			out = ReadAnswer{InSync: cfg.InSync(ctx, r), Result: result}
		}
		answer, err := json.Marshal(out)
		if err != nil {
			return fail(http.StatusInternalServerError, err)
		}
		return ok(answer)
	}
}
