package httpapi

import (
	"errors"
	"fmt"
	"math"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/remotewrite"
	"github.com/dakkio/dakkio/store/points"
)

// Prometheus remote write 1.0 (docs/api.md, "Ingest from the agents operators
// already run"). Where docs/api.md is silent:
//   - any NaN or infinite sample is skipped like a staleness marker: dakkio
//     numbers are finite, and summaries emit NaN routinely;
//   - exemplars, native histograms and metadata are ignored;
//   - errors are plain text, as Prometheus logs them; a 400 makes it drop
//     the batch, while 429 and 5xx make it retry.

func (s *Server) remoteWriteRoutes() {
	s.routes.addForeign("POST", "/api/v1/write", s.remoteWrite, ingestKey, writeTextError)
}

// writeTextError writes e's message as plain text.
func writeTextError(ctx *fasthttp.RequestCtx, e *apiError) {
	msg := e.Message
	for _, d := range e.Details {
		msg += "; " + d.Message
	}
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(msg + "\n")
}

// remoteWrite answers POST /api/v1/write.
func (s *Server) remoteWrite(c *call) error {
	level, aerr := writeConsistency(c)
	if aerr != nil {
		return aerr
	}
	b, err := s.ingestBucketNamed(c, string(c.ctx.QueryArgs().Peek("bucket")))
	if err != nil {
		return err
	}
	req, err := remotewrite.Decode(c.ctx.PostBody(), s.cfg.MaxBodyBytes)
	switch {
	case errors.Is(err, remotewrite.ErrTooLarge):
		return errTooLarge
	case err != nil:
		return validationError(err.Error())
	}
	w := s.newSeriesWriter(b)
	defer w.release()
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		if len(ts.Samples) == 0 {
			continue
		}
		series, err := remotewrite.Name(ts.Labels)
		if err != nil {
			return validationError(fmt.Sprintf("series %d: %v", i+1, err))
		}
		acc, err := w.source([]byte(series.Source), func() map[string]string { return series.Tags })
		if err != nil {
			return seriesError(i, series, err)
		}
		field := []byte(series.Field)
		for _, smp := range ts.Samples {
			if remotewrite.Skip(smp.Value) {
				continue
			}
			if smp.Timestamp > math.MaxInt64/1_000_000 || smp.Timestamp < math.MinInt64/1_000_000 {
				return seriesError(i, series, rowErrorf("timestamp %d ms out of range", smp.Timestamp))
			}
			v := points.Value{Kind: points.KindNumber, Num: smp.Value}
			if err := w.add(acc, smp.Timestamp*1e6, field, v, 1); err != nil {
				return seriesError(i, series, err)
			}
		}
	}
	if err := w.commit(level); err != nil {
		return err
	}
	c.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// seriesError names the series a row problem is about.
func seriesError(i int, s remotewrite.Series, err error) error {
	var re *rowError
	if errors.As(err, &re) {
		return validationError(fmt.Sprintf("series %d (%s%s): %s", i+1, s.Field, s.Source, re.msg))
	}
	return err
}
