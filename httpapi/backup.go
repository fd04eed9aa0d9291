package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/backupfile"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Backuper is what a Node offers, besides Node, to back up and restore a
// cluster; without it the backup routes answer 404.
type Backuper interface {
	// BackupMetadata returns the metadata snapshot (store.WriteSnapshot's
	// JSON), current as of the call, and the Raft index it is at least as
	// new as.
	BackupMetadata(ctx context.Context) (snapshot []byte, index uint64, err error)
	// RestorePoints stores points of a restored bucket on all its replicas,
	// without evaluating alert rules.
	RestorePoints(ctx context.Context, bucketID string, pts []points.Point) error
}

const (
	// backupWriteTimeout bounds the whole backup stream: the server's
	// WriteTimeout is meant for one answer, not for a cluster's points.
	backupWriteTimeout = 24 * time.Hour
	// backupReadTimeout bounds reading one source-hour of points.
	backupReadTimeout = time.Minute
	// backupBatchPoints and backupBatchBytes bound a points frame, so a
	// restore can send each one as a request of its own.
	backupBatchPoints = 5000
	backupBatchBytes  = 1 << 20
	// backupPageLimit is the points read per raw query.
	backupPageLimit = 10000
)

func (s *Server) backuper() (Backuper, error) {
	b, ok := s.cfg.Node.(Backuper)
	if !ok {
		return nil, notFound("This node cannot back up or restore")
	}
	return b, nil
}

// backup answers GET /api/operator/backup with the backup file, streamed:
// the metadata as of one Raft index, then every source's points hour by
// hour, each hour read in one pass from a replica in sync.
func (s *Server) backup(c *call) error {
	b, err := s.backuper()
	if err != nil {
		return err
	}
	allowPartial := string(c.ctx.QueryArgs().Peek("allowPartial")) == "true"
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	meta, index, err := b.BackupMetadata(ctx)
	cancel()
	if err != nil {
		return err
	}
	buckets, sources, err := store.BackupBuckets(meta)
	if err != nil {
		return err
	}
	now := s.now()
	h := backupfile.Header{Format: backupfile.Format, CreatedAt: now, RaftIndex: index}
	if st, ok := s.cfg.Node.ClusterStatus().(map[string]any); ok {
		h.NodeID, _ = st["nodeId"].(string)
	}
	ctx, cancel = context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	for _, bk := range buckets {
		n, err := s.cfg.Points.BucketPointCount(ctx, bk.ID)
		if err != nil && !allowPartial {
			return pointsError(err)
		}
		h.Buckets = append(h.Buckets, backupfile.BucketInfo{ID: bk.ID, Name: bk.Name, Sources: len(sources[bk.ID]), ExpectedPoints: n})
		h.ExpectedPoints += n
	}
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("application/octet-stream")
	c.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="dakkio-`+now.Format("20060102T150405Z")+`.backup"`)
	c.ctx.Response.Header.Set("X-Dakkio-Expected-Points", strconv.FormatInt(h.ExpectedPoints, 10))
	_ = c.ctx.SetWriteDeadline(time.Now().Add(backupWriteTimeout))
	job := backupJob{pts: s.cfg.Points, log: s.log, header: h, meta: meta, sources: sources, allowPartial: allowPartial}
	// The stream writer runs after this handler returns: it must not touch c.
	c.ctx.SetBodyStreamWriter(job.run)
	return nil
}

// backupJob writes one backup stream.
type backupJob struct {
	pts          Points
	log          *slog.Logger
	header       backupfile.Header
	meta         []byte
	sources      map[string][]string
	allowPartial bool
}

func (j backupJob) run(w *bufio.Writer) {
	bw, err := backupfile.NewWriter(w)
	if err == nil {
		err = j.write(bw)
	}
	if err != nil {
		j.log.Warn("backup failed", "err", err)
		if bw != nil {
			_ = bw.Fail(err)
		}
		_ = w.Flush()
		return
	}
	t, err := bw.Close()
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		j.log.Warn("backup failed", "err", err)
		return
	}
	j.log.Info("backup written", "points", t.Points, "buckets", len(j.header.Buckets), "raftIndex", j.header.RaftIndex)
}

func (j backupJob) write(bw *backupfile.Writer) error {
	if err := bw.JSON(backupfile.KindHeader, j.header); err != nil {
		return err
	}
	if err := bw.Frame(backupfile.KindMetadata, j.meta); err != nil {
		return err
	}
	for _, bk := range j.header.Buckets {
		batch := newBatcher(bw, bk.ID)
		for _, src := range j.sources[bk.ID] {
			if err := j.source(bk.ID, src, batch); err != nil {
				return err
			}
		}
		if err := batch.flush(); err != nil {
			return err
		}
	}
	return nil
}

// readCtx is the context of one read of the backup.
func (j backupJob) readCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), backupReadTimeout)
}

// readNote goes with one read of the backup: partial answers (no replica
// known to be in sync) fail it unless allowed.
func (j backupJob) readNote() *replication.ReadNote {
	return &replication.ReadNote{RefusePartial: !j.allowPartial}
}

// source writes one source's points, an hour at a time: each hour is one
// consistent read of one replica.
func (j backupJob) source(bucketID, sourceID string, batch *batcher) error {
	rg := points.Range{BucketID: bucketID, SourceIDs: []string{sourceID}, Start: math.MinInt64, End: math.MaxInt64}
	ctx, cancel := j.readCtx()
	hours, err := j.pts.Aggregate(ctx, points.AggQuery{Range: rg, Aggregation: points.AggCount, Window: points.WindowHour}, j.readNote())
	cancel()
	if err != nil {
		return fmt.Errorf("cannot list the hours of source %s of bucket %s: %w", sourceID, bucketID, err)
	}
	const hour = int64(time.Hour)
	for _, row := range hours {
		q := points.RawQuery{Range: points.Range{BucketID: bucketID, SourceIDs: []string{sourceID}, Start: row.Start, End: row.Start + hour}, Limit: backupPageLimit}
		for {
			ctx, cancel := j.readCtx()
			res, err := j.pts.Raw(ctx, q, j.readNote())
			cancel()
			if err != nil {
				return fmt.Errorf("cannot read source %s of bucket %s at %s: %w", sourceID, bucketID, time.Unix(0, row.Start).UTC().Format(time.RFC3339), err)
			}
			for i := range res.Points {
				if err := batch.add(res.Points[i]); err != nil {
					return err
				}
			}
			q.Offset += len(res.Points)
			if len(res.Points) == 0 || int64(q.Offset) >= res.Total {
				break
			}
		}
	}
	return nil
}

// batcher gathers one bucket's points into frames of bounded size.
type batcher struct {
	bw     *backupfile.Writer
	bucket string
	pts    []points.Point
	bytes  int
}

func newBatcher(bw *backupfile.Writer, bucketID string) *batcher {
	return &batcher{bw: bw, bucket: bucketID}
}

func (b *batcher) add(p points.Point) error {
	b.pts = append(b.pts, p)
	b.bytes += 24 + len(p.Metadata)
	for _, v := range p.Values {
		b.bytes += len(v.Field) + len(v.Str) + 10
	}
	if len(b.pts) >= backupBatchPoints || b.bytes >= backupBatchBytes {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.pts) == 0 {
		return nil
	}
	enc, err := points.EncodeBatch(nil, b.pts)
	if err != nil {
		return fmt.Errorf("cannot encode points of bucket %s: %w", b.bucket, err)
	}
	b.pts, b.bytes = b.pts[:0], 0
	return b.bw.Points(b.bucket, enc)
}

// restoreMetadata answers POST /api/operator/restore/metadata: the body is
// the backup's metadata snapshot, which replaces a fresh cluster's (409 on
// one that has buckets or organizations of its own).
func (s *Server) restoreMetadata(c *call) error {
	if _, err := s.backuper(); err != nil {
		return err
	}
	body := c.ctx.PostBody()
	buckets, _, err := store.BackupBuckets(body)
	if err != nil {
		return err
	}
	if _, err := s.apply(store.RestoreState{Snapshot: append([]byte(nil), body...)}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]int{"buckets": len(buckets)})
	return nil
}

// restorePoints answers POST /api/operator/restore/points: the body is one
// points frame of the backup (bucket id, then the batch), stored on every
// replica of the restored bucket.
func (s *Server) restorePoints(c *call) error {
	b, err := s.backuper()
	if err != nil {
		return err
	}
	body := c.ctx.PostBody()
	if _, err := backupfile.PointsIn(body); err != nil {
		return validationError("Body is not a points frame of a backup: " + err.Error())
	}
	bucketID, batch := backupfile.SplitPoints(body)
	if !objectid.Valid(bucketID) {
		return validationError("Body is not a points frame of a backup: bad bucket id")
	}
	pts, err := points.DecodeBatch(batch)
	if err != nil {
		return validationError("Body is not a points frame of a backup: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	if err := b.RestorePoints(ctx, bucketID, pts); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]int{"points": len(pts)})
	return nil
}
