package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/client"
)

// backupCommand runs 'dakkio backup --out FILE': exit 0 with the file
// complete and checked, 1 on failure (no file left behind), 2 bad usage.
func backupCommand(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("backup", "--out FILE", stdout, stderr)
	out := o.fs.String("out", "", "file to write the backup to (required; written as FILE.partial, renamed when complete)")
	allowPartial := o.fs.Bool("allow-partial", false, "read from replicas not known to be in sync rather than fail (may miss acknowledged writes)")
	forceBar := o.fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
	if code, ok := o.parse(args, ""); !ok {
		return code
	}
	if *out == "" {
		return o.usageError("--out is required")
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // it holds key hashes and webhook secrets
	if err != nil {
		return o.fail(fmt.Errorf("cannot create %q: %w", tmp, err))
	}
	bar := newProgress(stderr, "backup", *forceBar)
	start := time.Now()
	sum, err := c.Backup(ctx, f, client.BackupOptions{AllowPartial: *allowPartial, Progress: bar.update})
	bar.done(err == nil)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		return o.fail(fmt.Errorf("backup failed, no file written: %w", err))
	}
	elapsed := time.Since(start)
	if o.json {
		return o.printJSON(map[string]any{"file": *out, "header": sum.Header, "trailer": sum.Trailer, "bytes": sum.Bytes, "seconds": elapsed.Seconds()})
	}
	o.printKV("Backup", *out, "Taken", sum.Header.CreatedAt.Format(time.RFC3339)+" by "+dashIfEmpty(sum.Header.NodeID),
		"Raft index", fmt.Sprint(sum.Header.RaftIndex), "Buckets", fmt.Sprint(len(sum.Header.Buckets)),
		"Points", fmt.Sprint(sum.Trailer.Points), "Size", formatBytes(sum.Bytes),
		"Took", fmt.Sprintf("%s (%s points/s)", elapsed.Round(time.Millisecond), rate(sum.Trailer.Points, elapsed)),
		"SHA-256", sum.Trailer.SHA256)
	return 0
}

// restoreCommand runs 'dakkio restore --in FILE' with backupCommand's exit codes.
func restoreCommand(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("restore", "--in FILE", stdout, stderr)
	in := o.fs.String("in", "", "backup file to restore (required)")
	parallel := o.fs.Int("parallel", 4, "batches of points sent at once")
	forceBar := o.fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
	if code, ok := o.parse(args, ""); !ok {
		return code
	}
	if *in == "" {
		return o.usageError("--in is required")
	}
	if *parallel < 1 {
		return o.usageError("--parallel must be at least 1")
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := os.Open(*in)
	if err != nil {
		return o.fail(fmt.Errorf("cannot open %q: %w", *in, err))
	}
	defer f.Close()
	bar := newProgress(stderr, "restore", *forceBar)
	start := time.Now()
	sum, err := c.Restore(ctx, f, client.RestoreOptions{Parallel: *parallel, Progress: bar.update})
	bar.done(err == nil)
	if err != nil {
		return o.fail(fmt.Errorf("restore of %s failed: %w", filepath.Base(*in), err))
	}
	elapsed := time.Since(start)
	if o.json {
		return o.printJSON(map[string]any{"file": *in, "header": sum.Header, "trailer": sum.Trailer, "bytes": sum.Bytes, "seconds": elapsed.Seconds()})
	}
	o.printKV("Restored", *in, "Backup taken", sum.Header.CreatedAt.Format(time.RFC3339),
		"Buckets", fmt.Sprint(len(sum.Header.Buckets)), "Points", fmt.Sprint(sum.Trailer.Points),
		"Took", fmt.Sprintf("%s (%s points/s)", elapsed.Round(time.Millisecond), rate(sum.Trailer.Points, elapsed)))
	fmt.Fprintln(stdout, "\nThe backup's organizations, keys and buckets replace this cluster's initial ones; the operator token stays.")
	return 0
}

// progress reports a backup's or restore's progress on stderr: a bar
// redrawn in place on a terminal (or with --progress), else a plain line
// every plainEvery.
type progress struct {
	w     io.Writer
	label string
	bar   bool
	start time.Time

	mu    sync.Mutex
	last  time.Time
	p     client.BackupProgress
	drawn bool
}

const (
	barEvery   = 100 * time.Millisecond
	plainEvery = 2 * time.Second
	barWidth   = 28
)

func newProgress(w io.Writer, label string, force bool) *progress {
	return &progress{w: w, label: label, bar: force || isTerminal(w), start: time.Now()}
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (pr *progress) update(p client.BackupProgress) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	phaseChanged := p.Phase != pr.p.Phase
	pr.p = p
	every := plainEvery
	if pr.bar {
		every = barEvery
	}
	if now := time.Now(); phaseChanged || now.Sub(pr.last) >= every {
		pr.last = now
		pr.draw()
	}
}

// done draws the last state and ends the bar's line.
func (pr *progress) done(ok bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if ok {
		pr.draw()
	}
	if pr.bar && pr.drawn {
		fmt.Fprintln(pr.w)
	}
}

func (pr *progress) draw() {
	p := pr.p
	elapsed := time.Since(pr.start)
	var b strings.Builder
	phase := p.Phase
	if phase == "" {
		phase = pr.label
	}
	fmt.Fprintf(&b, "%-8s", phase)
	frac := -1.0
	switch {
	case p.TotalPoints > 0:
		frac = min(1, float64(p.Points)/float64(p.TotalPoints))
	case p.TotalBytes > 0:
		frac = min(1, float64(p.Bytes)/float64(p.TotalBytes))
	}
	if pr.bar && frac >= 0 {
		n := int(frac * barWidth)
		b.WriteString(" [" + strings.Repeat("=", n))
		if n < barWidth {
			b.WriteString(">" + strings.Repeat(" ", barWidth-n-1))
		}
		b.WriteString("]")
	}
	if frac >= 0 {
		fmt.Fprintf(&b, " %3.0f%%", frac*100)
	}
	fmt.Fprintf(&b, " %d", p.Points)
	if p.TotalPoints > 0 {
		fmt.Fprintf(&b, "/%d", p.TotalPoints)
	}
	fmt.Fprintf(&b, " points  %s", formatBytes(p.Bytes))
	if p.TotalBytes > 0 {
		fmt.Fprintf(&b, "/%s", formatBytes(p.TotalBytes))
	}
	fmt.Fprintf(&b, "  %s points/s", rate(p.Points, elapsed))
	if frac > 0 && frac < 1 {
		eta := time.Duration(float64(elapsed) * (1 - frac) / frac)
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	if pr.bar {
		fmt.Fprintf(pr.w, "\r%s\x1b[K", b.String())
	} else {
		fmt.Fprintln(pr.w, b.String())
	}
	pr.drawn = true
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/d.Seconds())
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
