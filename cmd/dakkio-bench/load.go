package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// target is the node's address for fasthttp.
type target struct {
	base string // http://host:port
	addr string // host:port
	tls  bool
}

func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, fmt.Errorf("invalid node URL %q: want http://host:port", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return target{base: u.Scheme + "://" + u.Host, addr: addr, tls: u.Scheme == "https"}, nil
}

// client returns a client holding at most one keep-alive connection.
func (t target) client() *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:     t.addr,
		IsTLS:    t.tls,
		MaxConns: 1,
		// Below the node's --http-idle-timeout (60s by default): a POST on
		// a connection the node has just closed is not retried.
		MaxIdleConnDuration:      30 * time.Second,
		ReadTimeout:              2 * time.Minute,
		WriteTimeout:             time.Minute,
		NoDefaultUserAgentHeader: true,
	}
}

func (t target) newRequest(path, key string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(t.base + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	switch {
	case strings.HasPrefix(path, "/api/v1/write"): // remotewrite.go
		req.Header.SetContentType("application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	case strings.HasPrefix(path, "/api/v2/write"): // lineproto.go
		req.Header.SetContentType("text/plain; charset=utf-8")
	default:
		req.Header.SetContentType("application/json")
	}
	req.Header.Set("X-API-Key", key)
	return req
}

type ingestResult struct {
	points, requests int64
	elapsed          time.Duration
	latencies        []time.Duration
}

// valuesPerSec is the ingest rate in values (points × fields) a second.
func (r ingestResult) valuesPerSec(fields int) float64 {
	return float64(r.points) * float64(fields) / r.elapsed.Seconds()
}

// ingest POSTs the whole workload to path (/api/data/batch and maybe a
// query) with conns workers, each on its own keep-alive connection to one
// of targets (worker i to targets[i mod len(targets)]); a generator
// goroutine fills the bodies. Any answer but 201 stops it.
func ingest(ctx context.Context, targets []target, path, key string, g *generator, batch, conns int, progress io.Writer) (ingestResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type body struct {
		buf []byte
		n   int
	}
	work := make(chan *body, conns)
	free := make(chan *body, 2*conns)
	for range cap(free) {
		free <- &body{buf: make([]byte, 0, batch*(120+30*len(g.w.fields))+256)}
	}
	var (
		failOnce sync.Once
		failErr  error
		sent     atomic.Int64
	)
	fail := func(err error) {
		failOnce.Do(func() { failErr = err; cancel() })
	}

	var wg sync.WaitGroup
	wg.Go(func() { // the generator
		defer close(work)
		for {
			var b *body
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			if b.buf, b.n = g.next(b.buf, batch); b.n == 0 {
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
		}
	})
	lats := make([][]time.Duration, conns)
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			t := targets[w%len(targets)]
			hc := t.client()
			req := t.newRequest(path, key)
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for b := range work {
				if ctx.Err() != nil {
					return
				}
				req.SetBodyRaw(b.buf)
				t0 := time.Now()
				err := hc.Do(req, resp)
				lat := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("POST %s%s: %w", t.base, path, err))
					return
				}
				if sc := resp.StatusCode(); sc != fasthttp.StatusCreated && sc != fasthttp.StatusNoContent {
					fail(fmt.Errorf("POST %s%s: %d %s", t.base, path, resp.StatusCode(), truncate(resp.Body(), 2000)))
					return
				}
				lats[w] = append(lats[w], lat)
				sent.Add(int64(b.n))
				free <- b
			}
		})
	}
	done := make(chan struct{})
	go reportProgress(done, progress, &sent, g.w.points(), len(g.w.fields), start)
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	if failErr != nil {
		return ingestResult{}, failErr
	}
	if err := ctx.Err(); err != nil {
		return ingestResult{}, err
	}
	r := ingestResult{points: sent.Load(), elapsed: elapsed}
	for _, l := range lats {
		r.latencies = append(r.latencies, l...)
	}
	r.requests = int64(len(r.latencies))
	return r, nil
}

func reportProgress(done <-chan struct{}, w io.Writer, sent *atomic.Int64, total int64, fields int, start time.Time) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			n, s := sent.Load(), time.Since(start).Seconds()
			fmt.Fprintf(w, "ingest: %s/%s points, %s points/s, %s values/s\n",
				count(n), count(total), count(int64(float64(n)/s)), count(int64(float64(n*int64(fields))/s)))
		}
	}
}

// queryKind is one of the measured queries; build returns a body and what
// its answer must hold.
type queryKind struct {
	label  string
	target time.Duration // p50 target; 0 for none
	build  func(r *rand.Rand) ([]byte, expect)
	// get, when set, is a path to GET instead of POSTing build's body to
	// /api/data/query (build still says what the answer must hold).
	get string
}

// expect is a query's correct answer in numbers: rows returned and, for
// aggregates, the sum of the rows' counts.
type expect struct {
	rows   int
	points int64
	agg    bool
	// analytics: the answer is bucket analytics, whose summary.totalDataPoints
	// must equal points.
	analytics bool
}

type queryResult struct {
	kind      queryKind
	rows      int
	points    int64
	latencies []time.Duration
	wrong     int    // answers that did not match
	firstBad  string // the first of them
}

// querySeed is the second seed of the queries' random choices.
const querySeed = 0x7175_6572_79

// runQueries runs each kind warmup+n times, one request at a time on one
// connection, and checks every answer.
func runQueries(ctx context.Context, t target, key string, kinds []queryKind, n, warmup int, seed uint64) ([]queryResult, error) {
	hc := t.client()
	req := t.newRequest("/api/data/query", key)
	getReq := fasthttp.AcquireRequest()
	getReq.Header.SetMethod(fasthttp.MethodGet)
	getReq.Header.Set("X-API-Key", key)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseRequest(getReq)
	defer fasthttp.ReleaseResponse(resp)
	rng := rand.New(rand.NewPCG(seed, querySeed))
	var p fastjson.Parser
	var out []queryResult
	for _, k := range kinds {
		res := queryResult{kind: k}
		for i := range warmup + n {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			body, want := k.build(rng)
			send := req
			if k.get != "" {
				send = getReq
				send.SetRequestURI(t.base + k.get)
			} else {
				req.SetBodyRaw(body)
			}
			t0 := time.Now()
			err := hc.Do(send, resp)
			lat := time.Since(t0)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", k.label, err)
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				return nil, fmt.Errorf("query %s: %d %s\nrequest: %s", k.label, resp.StatusCode(), truncate(resp.Body(), 2000), body)
			}
			if i < warmup {
				continue
			}
			res.latencies = append(res.latencies, lat)
			res.rows, res.points = want.rows, want.points
			if problem := check(&p, resp.Body(), want); problem != "" {
				res.wrong++
				if res.firstBad == "" {
					res.firstBad = problem + "\nrequest: " + string(body)
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// check compares an answer with what it must hold; "" when it does.
func check(p *fastjson.Parser, body []byte, want expect) string {
	v, err := p.ParseBytes(body)
	if err != nil {
		return fmt.Sprintf("unparsable answer: %v", err)
	}
	if want.analytics {
		if got := v.GetInt64("data", "summary", "totalDataPoints"); got != want.points {
			return fmt.Sprintf("totalDataPoints %d, want %d", got, want.points)
		}
		return ""
	}
	data := v.GetArray("data")
	if len(data) != want.rows {
		return fmt.Sprintf("%d rows, want %d", len(data), want.rows)
	}
	if !want.agg {
		return ""
	}
	var sum int64
	for _, row := range data {
		sum += row.GetInt64("count")
	}
	if sum != want.points {
		return fmt.Sprintf("rows count %d points, want %d", sum, want.points)
	}
	return ""
}

// percentile returns the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*q)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func p50p99(lats []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(lats)
	slices.Sort(s)
	return percentile(s, 0.50), percentile(s, 0.99)
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
