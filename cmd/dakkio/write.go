package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/client"
)

const writeUsage = `Usage:
  dakkio write --bucket BUCKET [--format json|lp] [--source ID] [--batch N] [FILE]

Writes points from FILE, or from standard input when FILE is - or absent:
  json  one JSON object a line: {"dataSourceId", "timestamp"?, "values", "metadata"?}
        (dataSourceId may be left out when --source names the source)
  lp    InfluxDB line protocol (measurement = data source name; --precision)
The format is guessed from the file's extension (.json, .jsonl, .ndjson or
.lp, .txt) or from the first character of the input. Points go in batches
of --batch (at most 1000 for json); progress and the rate go to stderr.
A refused batch stops the write, naming its lines: the batches before it
are stored.
` + apiFlagsUsage

// maxJSONBatch is the API's limit of points in one batch write.
const maxJSONBatch = 1000

func writeCommand(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("write", "--bucket BUCKET [--format json|lp] [FILE]", stdout, stderr)
	a.long = strings.TrimSuffix(writeUsage, apiFlagsUsage)
	bucket := bucketFlag(a)
	format := a.fs.String("format", "", "json (JSON lines) or lp (line protocol); default: from the file name or the first character")
	source := a.fs.String("source", "", "data source id for JSON lines without dataSourceId")
	batchSize := a.fs.Int("batch", maxJSONBatch, "points (json) or lines (lp) per request")
	precision := a.fs.String("precision", "ns", "line protocol timestamps: ns, us, ms or s")
	consistency := a.fs.String("consistency", "", "replicas that must store each batch: one, quorum or all (default: the node's)")
	forceBar := a.fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
	a.optional = 1 // FILE
	if code, ok := a.parse(args); !ok {
		return code
	}
	if *bucket == "" {
		return a.usageError("--bucket is required")
	}
	if *batchSize < 1 || *format != "lp" && *batchSize > maxJSONBatch {
		return a.usageError(fmt.Sprintf("--batch must be 1..%d", maxJSONBatch))
	}
	in, name, size := io.Reader(os.Stdin), "-", int64(0)
	if len(a.pos) == 1 && a.pos[0] != "-" {
		f, err := os.Open(a.pos[0])
		if err != nil {
			return a.fail(err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in, name = f, a.pos[0]
	}
	br := bufio.NewReaderSize(in, 1<<20)
	switch *format {
	case "":
		*format = guessFormat(name, br)
	case "json", "lp":
	default:
		return a.usageError("--format is json or lp")
	}
	c, code, ok := a.client()
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	id, err := resolveBucketTimeout(ctx, c, *bucket)
	if err != nil {
		return a.fail(err)
	}
	w := &pointWriter{c: c, bucket: id, source: *source, batch: *batchSize, precision: *precision,
		consistency: client.Consistency(*consistency), bar: newProgress(stderr, "write", *forceBar), total: size}
	start := time.Now()
	if *format == "lp" {
		err = w.lineProtocol(ctx, br)
	} else {
		err = w.jsonLines(ctx, br)
	}
	// The summary line follows; only a bar (redrawn in place) needs its final state.
	w.bar.done(err == nil && w.bar.bar)
	if err != nil {
		if w.points > 0 {
			fmt.Fprintf(stderr, "%d points were stored before the error\n", w.points)
		}
		return a.fail(err)
	}
	elapsed := time.Since(start)
	if a.json {
		return printJSON(stdout, map[string]any{"bucketId": id, "points": w.points, "requests": w.requests, "seconds": elapsed.Seconds()})
	}
	fmt.Fprintf(stdout, "wrote %s to bucket %s in %s\n", plural(w.points, "point"), id, plural(w.requests, "request"))
	fmt.Fprintf(stderr, "%s points/s over %s\n", rate(w.points, elapsed), elapsed.Round(time.Millisecond))
	return 0
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func resolveBucketTimeout(ctx context.Context, c *client.Client, ref string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return resolveBucket(ctx, c, ref)
}

// guessFormat picks json or lp from the file name, else from the first
// character that is not a space.
func guessFormat(name string, br *bufio.Reader) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".jsonl", ".ndjson":
		return "json"
	case ".lp", ".txt", ".line":
		return "lp"
	}
	for n := 1; n <= 4096; n++ {
		b, err := br.Peek(n)
		if len(b) == 0 || err != nil && len(b) < n {
			break
		}
		switch ch := b[n-1]; ch {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "json"
		default:
			return "lp"
		}
	}
	return "json"
}

// pointWriter sends points in batches and counts them.
type pointWriter struct {
	c                *client.Client
	bucket, source   string
	batch            int
	precision        string
	consistency      client.Consistency
	bar              *progress
	total            int64 // input bytes, 0 when unknown
	read             int64
	points, requests int64
}

func (w *pointWriter) report() {
	w.bar.update(client.BackupProgress{Phase: "write", Points: w.points, Bytes: w.read, TotalBytes: w.total})
}

// jsonLines sends one JSON object a line, in batches.
func (w *pointWriter) jsonLines(ctx context.Context, br *bufio.Reader) error {
	var (
		batch     []client.PointInput
		firstLine int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		n, err := w.c.WriteBatch(cctx, client.WriteBatchRequest{BucketID: w.bucket, DataPoints: batch, Consistency: w.consistency})
		if err != nil {
			return fmt.Errorf("lines %d-%d (dataPoints[i] is line %d+i): %w", firstLine, firstLine+len(batch)-1, firstLine, err)
		}
		w.points += int64(n)
		w.requests++
		batch = batch[:0]
		w.report()
		return nil
	}
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		w.read += int64(len(text))
		if t := bytes.TrimSpace(text); len(t) > 0 {
			p, perr := parseJSONPoint(t, w.source)
			if perr != nil {
				return fmt.Errorf("line %d: %w", line, perr)
			}
			if len(batch) == 0 {
				firstLine = line
			}
			batch = append(batch, p)
			if len(batch) == w.batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return fmt.Errorf("cannot read the input: %w", err)
		}
	}
}

func parseJSONPoint(b []byte, source string) (client.PointInput, error) {
	var in struct {
		DataSourceID string          `json:"dataSourceId"`
		Timestamp    json.RawMessage `json:"timestamp"`
		Values       map[string]any  `json:"values"`
		Metadata     map[string]any  `json:"metadata"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return client.PointInput{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return client.PointInput{}, fmt.Errorf("more than one JSON value on the line")
	}
	p := client.PointInput{DataSourceID: firstNonEmpty(in.DataSourceID, source), Values: in.Values, Metadata: in.Metadata}
	if p.DataSourceID == "" {
		return p, fmt.Errorf("no dataSourceId (give it in the line or with --source)")
	}
	if len(in.Timestamp) > 0 && string(in.Timestamp) != "null" {
		var ts string
		if err := json.Unmarshal(in.Timestamp, &ts); err != nil {
			return p, fmt.Errorf("timestamp must be an RFC 3339 string")
		}
		p.TimestampString = ts
	}
	return p, nil
}

// lineProtocol sends line protocol in batches of lines to /api/v2/write.
func (w *pointWriter) lineProtocol(ctx context.Context, br *bufio.Reader) error {
	var (
		body      bytes.Buffer
		lines     int64
		firstLine int
	)
	flush := func() error {
		if lines == 0 {
			return nil
		}
		q := url.Values{"bucket": {w.bucket}, "precision": {w.precision}}
		if w.consistency != "" {
			q.Set("consistency", string(w.consistency))
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		r, err := w.c.Do(cctx, http.MethodPost, "/api/v2/write?"+q.Encode(), body.Bytes(),
			http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Operator-Token": nil})
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusNoContent {
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(r.Body, &e)
			msg := firstNonEmpty(e.Message, strings.TrimSpace(string(r.Body)))
			return fmt.Errorf("lines %d-%d: %d %s: %s", firstLine, firstLine+int(lines)-1, r.StatusCode, http.StatusText(r.StatusCode), msg)
		}
		w.points += lines
		w.requests++
		body.Reset()
		lines = 0
		w.report()
		return nil
	}
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		w.read += int64(len(text))
		if t := bytes.TrimSpace(text); len(t) > 0 && t[0] != '#' {
			if lines == 0 {
				firstLine = line
			}
			body.Write(t)
			body.WriteByte('\n')
			if lines++; lines == int64(w.batch) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return fmt.Errorf("cannot read the input: %w", err)
		}
	}
}
