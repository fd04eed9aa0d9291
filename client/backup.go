package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/dakkio/dakkio/internal/backupfile"
)

// Errors a backup file can be refused with, before anything is restored.
var (
	// ErrBackupTruncated: the file ends before its trailer.
	ErrBackupTruncated = backupfile.ErrTruncated
	// ErrBackupCorrupt: the file's checksum or counts do not match.
	ErrBackupCorrupt = backupfile.ErrCorrupt
	// ErrBackupFailed: the server ended the backup with an error.
	ErrBackupFailed = backupfile.ErrFailed
	// ErrNotBackup: the file is not a dakkio backup.
	ErrNotBackup = backupfile.ErrNotBackup
)

// BackupHeader opens a backup file: when and where it was taken.
type BackupHeader = backupfile.Header

// BackupTrailer closes a backup file: what it holds and its checksum.
type BackupTrailer = backupfile.Trailer

// BackupProgress is how far a backup or restore has come.
type BackupProgress struct {
	// Phase is "backup", or for a restore "verify", "metadata" or "points".
	Phase string
	// Points done, and the total expected (for a backup, what the buckets
	// held when it started: an estimate).
	Points, TotalPoints int64
	// Bytes done, and the total when known (0 otherwise).
	Bytes, TotalBytes int64
}

// BackupOptions tune Backup.
type BackupOptions struct {
	// AllowPartial reads points from a replica not known to be in sync
	// rather than fail; the backup may then miss acknowledged writes.
	AllowPartial bool
	// Progress, if set, is called as the backup arrives.
	Progress func(BackupProgress)
}

// BackupSummary is what a finished backup holds.
type BackupSummary struct {
	Header  BackupHeader
	Trailer BackupTrailer
	Bytes   int64
}

// Backup streams the cluster's backup (GET /api/operator/backup) into w,
// checking it as it arrives. An error means w holds no usable backup.
func (c *Client) Backup(ctx context.Context, w io.Writer, opts BackupOptions) (*BackupSummary, error) {
	path := "/api/operator/backup"
	if opts.AllowPartial {
		path += "?allowPartial=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Operator-Token", c.operatorToken)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newAPIError(&RawResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: b})
	}
	out := &errWriter{w: w}
	sum, err := readBackup(io.TeeReader(resp.Body, out), "backup", opts.Progress)
	if out.err != nil {
		// The tee turns a failed write into a read error of the stream;
		// say what really failed, not that the backup looks corrupt.
		return nil, fmt.Errorf("cannot write the backup: %w", out.err)
	}
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// errWriter writes to w and keeps the first error.
type errWriter struct {
	w   io.Writer
	err error
}

func (c *errWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}

// VerifyBackup reads a whole backup file and checks its framing, counts
// and checksum; it returns the header and trailer.
func VerifyBackup(r io.Reader, progress func(BackupProgress)) (*BackupSummary, error) {
	return readBackup(r, "verify", progress)
}

// readBackup reads a backup stream to its end, checking it record by
// record, and reports progress under phase.
func readBackup(r io.Reader, phase string, progress func(BackupProgress)) (*BackupSummary, error) {
	br, err := backupfile.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	var sum BackupSummary
	p := BackupProgress{Phase: phase}
	for {
		kind, payload, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch kind {
		case backupfile.KindHeader:
			if err := json.Unmarshal(payload, &sum.Header); err != nil {
				return nil, fmt.Errorf("%w: unreadable header: %v", ErrBackupCorrupt, err)
			}
			if sum.Header.Format != br.Format() {
				return nil, fmt.Errorf("%w: the header says format %d, the file is format %d", ErrBackupCorrupt, sum.Header.Format, br.Format())
			}
			p.TotalPoints = sum.Header.ExpectedPoints
		case backupfile.KindPoints:
			n, _ := backupfile.PointsIn(payload)
			p.Points += n
		}
		if progress != nil {
			p.Bytes = br.Offset()
			progress(p)
		}
	}
	sum.Trailer, _ = br.Trailer()
	sum.Bytes = br.Offset()
	return &sum, nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Parallel is how many batches of points are sent at once (default 4).
	Parallel int
	// Progress, if set, is called as the restore goes.
	Progress func(BackupProgress)
}

// restoreRetries is how often a batch refused with 503 (a replica busy or
// restarting) is sent again; points are idempotent.
const restoreRetries = 5

// Restore checks the whole backup file first, then restores it into a
// fresh cluster: the metadata (409 if the cluster has buckets or
// organizations of its own), then the points in batches. A file that fails
// the check restores nothing; an error after the metadata went in leaves
// the cluster partly restored (start again from a fresh cluster).
func (c *Client) Restore(ctx context.Context, r io.ReadSeeker, opts RestoreOptions) (*BackupSummary, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	report := func(p BackupProgress) {
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	sum, err := VerifyBackup(r, report)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	br, err := backupfile.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	p := BackupProgress{Phase: "metadata", TotalPoints: sum.Trailer.Points, TotalBytes: sum.Bytes}
	report(p)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		body []byte
		n    int64
	}
	work := make(chan batch)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	p.Phase = "points"
	for range opts.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := c.restoreBatch(ctx, b.body); err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				p.Points += b.n
				report(p)
				mu.Unlock()
			}
		}()
	}
	send := func(b batch) bool {
		select {
		case work <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var readErr error
loop:
	for {
		kind, payload, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		switch kind {
		case backupfile.KindMetadata:
			// Sent as they are: re-encoding would change stored webhook payloads' bytes.
			resp, err := c.send(ctx, http.MethodPost, "/api/operator/restore/metadata", payload, nil, authOperator)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = newAPIError(resp)
			}
			if err != nil {
				readErr = fmt.Errorf("cannot restore the metadata: %w", err)
				break loop
			}
		case backupfile.KindPoints:
			n, _ := backupfile.PointsIn(payload)
			if !send(batch{body: append([]byte(nil), payload...), n: n}) {
				break loop
			}
			mu.Lock()
			p.Bytes = br.Offset()
			mu.Unlock()
		}
	}
	close(work)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return sum, nil
}

// restoreBatch posts one points frame, again after a 503.
func (c *Client) restoreBatch(ctx context.Context, body []byte) error {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, http.MethodPost, "/api/operator/restore/points", body,
			http.Header{"Content-Type": {"application/octet-stream"}}, authOperator)
		if err == nil && resp.StatusCode == http.StatusOK {
			return nil
		}
		if err == nil {
			err = newAPIError(resp)
		}
		if attempt >= restoreRetries || ctx.Err() != nil || !IsStatus(err, http.StatusServiceUnavailable) && !isTransport(err) {
			return fmt.Errorf("cannot restore a batch of points: %w", err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait *= 2
	}
}

// isTransport reports whether err is a failure to reach the node rather
// than an answer.
func isTransport(err error) bool {
	var ae *APIError
	return !errors.As(err, &ae)
}
