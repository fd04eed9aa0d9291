package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// The PromQL queries (issue 17): what Grafana's Prometheus data source
// asks of /api/v1/query_range, measured like the JSON queries and checked.

// promqlKind is one measured PromQL range query.
type promqlKind struct {
	label  string
	target time.Duration
	query  func(r *rand.Rand) string
	cached bool // leave the result cache on (nocache=1 otherwise)
	series int  // series the answer must hold
	points int  // points in each
}

// promqlKinds lays out the queries over the last 30 days of w (or all of
// it when shorter) at a 1 h step.
func promqlKinds(w *workload, sourceNames []string) (kinds []promqlKind, start, end int64) {
	const hour = int64(time.Hour)
	end = w.end() / hour * hour
	start = max(end-30*24*hour, (w.start/hour+1)*hour)
	steps := 0
	for t := start; t <= end; t += hour {
		// The window (t-1h, t] in milliseconds holds a tick.
		if w.ticksIn(t-hour+int64(time.Millisecond), t+int64(time.Millisecond)) > 0 {
			steps++
		}
	}
	field := w.fields[0].name
	one := func(r *rand.Rand) string {
		return fmt.Sprintf(`avg_over_time(%s{source=%q}[1h])`, field, sourceNames[r.IntN(len(sourceNames))])
	}
	fixed := fmt.Sprintf(`avg_over_time(%s{source=%q}[1h])`, field, sourceNames[0])
	span := time.Duration(end - start).Round(time.Hour).String()
	kinds = []promqlKind{
		{label: fmt.Sprintf("PromQL avg_over_time([1h]), %s at 1 h step, one source", span), target: 10 * time.Millisecond,
			query: one, series: 1, points: steps},
		{label: fmt.Sprintf("PromQL avg by (bucket) of it, all %d sources", len(sourceNames)), target: 100 * time.Millisecond,
			query:  func(*rand.Rand) string { return fmt.Sprintf(`avg by (bucket) (avg_over_time(%s[1h]))`, field) },
			series: 1, points: steps},
		{label: "PromQL one query repeated, result cache off", query: func(*rand.Rand) string { return fixed }, series: 1, points: steps},
		{label: "PromQL one query repeated, result cache on", query: func(*rand.Rand) string { return fixed }, cached: true, series: 1, points: steps},
	}
	return kinds, start, end
}

// runPromQL runs each kind warmup+n times, one request at a time, and
// checks the series and points of every answer.
func runPromQL(ctx context.Context, t target, key string, kinds []promqlKind, start, end int64, n, warmup int, seed uint64) ([]queryResult, error) {
	hc := t.client()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set("Authorization", "Bearer "+key)
	rng := rand.New(rand.NewPCG(seed, 0x7072_6f6d))
	var p fastjson.Parser
	var out []queryResult
	for _, k := range kinds {
		res := queryResult{kind: queryKind{label: k.label, target: k.target}, rows: k.series, points: int64(k.series * k.points)}
		for i := range warmup + n {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			q := url.Values{"query": {k.query(rng)}, "start": {strconv.FormatInt(start/1e9, 10)},
				"end": {strconv.FormatInt(end/1e9, 10)}, "step": {"3600"}}
			if !k.cached {
				q.Set("nocache", "1")
			}
			req.SetRequestURI(t.base + "/api/v1/query_range?" + q.Encode())
			t0 := time.Now()
			err := hc.Do(req, resp)
			lat := time.Since(t0)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", k.label, err)
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				return nil, fmt.Errorf("query %s: %d %s", k.label, resp.StatusCode(), truncate(resp.Body(), 2000))
			}
			if i < warmup {
				continue
			}
			res.latencies = append(res.latencies, lat)
			if problem := checkMatrix(&p, resp.Body(), k.series, k.points); problem != "" {
				res.wrong++
				if res.firstBad == "" {
					res.firstBad = problem + "\nquery: " + q.Encode()
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// checkMatrix requires series series of points points each.
func checkMatrix(p *fastjson.Parser, body []byte, series, points int) string {
	v, err := p.ParseBytes(body)
	if err != nil {
		return fmt.Sprintf("unparsable answer: %v", err)
	}
	result := v.GetArray("data", "result")
	if len(result) != series {
		return fmt.Sprintf("%d series, want %d", len(result), series)
	}
	for _, s := range result {
		if got := len(s.GetArray("values")); got != points {
			return fmt.Sprintf("a series of %d points, want %d", got, points)
		}
	}
	return ""
}
