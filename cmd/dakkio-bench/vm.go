package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// --vm-addr: the raw query (a) against a running VictoriaMetrics, for issue
// 13's comparison. The bench feeds it the single node's points as InfluxDB
// line protocol on /write, one series per source and field
// (sensor_<field>{source="sensor-001"}), and reads the same random windows
// query (a) reads (the same seed, the same draws) from /api/v1/export of
// {source="..."}, one request at a time on one keep-alive connection. Start
// VictoriaMetrics with a retention longer than the workload, e.g.
//
//	victoria-metrics -storageDataPath /tmp/vm -httpListenAddr 127.0.0.1:8428 -retentionPeriod 100y
//
// An answer must hold every field's samples of the window; the bench checks
// the count.

// vmSourceName is a source's label value in VictoriaMetrics.
func vmSourceName(i int) string { return fmt.Sprintf("sensor-%03d", i+1) }

// vmIngest writes w's points to VictoriaMetrics and waits until export
// returns all of the first source's samples.
func vmIngest(ctx context.Context, t target, w *workload, seed uint64, batch, conns int, timeout time.Duration, progress io.Writer) (ingestResult, error) {
	g := newGenerator(w, "", seed)
	g.lp = true
	for i := range w.sources {
		g.lpNames = append(g.lpNames, []byte("sensor,source="+vmSourceName(i)+" "))
	}
	for _, f := range w.fields {
		g.lpKeys = append(g.lpKeys, []byte(f.name+"="))
	}
	res, err := ingest(ctx, []target{t}, "/write", "", g, batch, conns, progress)
	if err != nil {
		return res, fmt.Errorf("VictoriaMetrics ingest: %w", err)
	}
	hc := t.client()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.base + "/internal/force_flush")
	if err := hc.Do(req, resp); err != nil {
		return res, fmt.Errorf("VictoriaMetrics force_flush: %w", err)
	}
	want := int(w.ticks) * len(w.fields)
	deadline := time.Now().Add(timeout)
	var p fastjson.Parser
	for {
		req.SetRequestURI(vmExportURI(t, vmSourceName(0), w.start, w.end()))
		if err := hc.Do(req, resp); err != nil {
			return res, fmt.Errorf("VictoriaMetrics export: %w", err)
		}
		got, problem := vmSamples(&p, resp.Body())
		if problem == "" && got == want {
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("VictoriaMetrics holds %d of %d samples of %s after %v (%s)", got, want, vmSourceName(0), timeout, problem)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// vmExportURI asks for the samples of source in [from, to): export's end is
// inclusive, in seconds with a fraction.
func vmExportURI(t target, source string, from, to int64) string {
	sec := func(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) }
	return t.base + "/api/v1/export?match[]=" + fastURLEscape(`{source="`+source+`"}`) + "&start=" + sec(from) + "&end=" + sec(to-int64(time.Millisecond))
}

func fastURLEscape(s string) string {
	var a fasthttp.Args
	a.Set("x", s)
	return string(bytes.TrimPrefix(a.QueryString(), []byte("x=")))
}

// vmSamples counts the samples of an export answer, one JSON object a line.
func vmSamples(p *fastjson.Parser, body []byte) (int, string) {
	n := 0
	for line := range bytes.Lines(body) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		v, err := p.ParseBytes(line)
		if err != nil {
			return n, fmt.Sprintf("unparsable line: %v", err)
		}
		ts, vals := v.GetArray("timestamps"), v.GetArray("values")
		if len(ts) != len(vals) {
			return n, fmt.Sprintf("%d timestamps and %d values", len(ts), len(vals))
		}
		n += len(ts)
	}
	return n, ""
}

// runVMRaw reads query (a)'s windows from VictoriaMetrics' export.
func runVMRaw(ctx context.Context, t target, w *workload, n, warmup int, seed uint64) (queryResult, error) {
	rawN := min(1000, w.ticks)
	res := queryResult{kind: queryKind{label: fmt.Sprintf("(a) the same from VictoriaMetrics /api/v1/export (%d series × %d samples)", len(w.fields), rawN)}}
	hc := t.client()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	rng := rand.New(rand.NewPCG(seed, querySeed))
	var p fastjson.Parser
	want := int(rawN) * len(w.fields)
	for i := range warmup + n {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		src, from := rawWindow(w, rng)
		req.SetRequestURI(vmExportURI(t, vmSourceName(src), from, from+rawN*w.interval))
		t0 := time.Now()
		err := hc.Do(req, resp)
		lat := time.Since(t0)
		if err != nil {
			return res, fmt.Errorf("VictoriaMetrics export: %w", err)
		}
		if resp.StatusCode() != fasthttp.StatusOK {
			return res, fmt.Errorf("VictoriaMetrics export: %d %s", resp.StatusCode(), truncate(resp.Body(), 2000))
		}
		if i < warmup {
			continue
		}
		res.latencies = append(res.latencies, lat)
		res.rows = int(rawN)
		if got, problem := vmSamples(&p, resp.Body()); problem != "" || got != want {
			res.wrong++
			if res.firstBad == "" {
				res.firstBad = fmt.Sprintf("%d samples, want %d %s\nrequest: %s", got, want, problem, req.URI())
			}
		}
	}
	return res, nil
}
