package httpapi

import (
	"bytes"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"
)

// apiMetrics are what the HTTP server itself counts; the node adds its own
// collectors (Raft, gossip, replication, disk) to the same registry.
type apiMetrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ingested    prometheus.Counter
	returned    prometheus.Counter
	rateLimited prometheus.Counter
}

// newAPIMetrics registers the server's metrics; bodies is the bound of
// request bodies in flight, whose use it reports.
func newAPIMetrics(reg *prometheus.Registry, bodies *bodyBudget) (*apiMetrics, error) {
	m := &apiMetrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dakkio_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dakkio_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms to 16s
		}, []string{"route", "method"}),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dakkio_points_ingested_total", Help: "Data points acknowledged on this node by POST /api/data, /api/data/batch and the ingest protocols (line protocol, remote write, MQTT).",
		}),
		returned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dakkio_points_queried_total", Help: "Rows (raw points or aggregated windows) answered by POST /api/data/query on this node.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dakkio_rate_limited_total", Help: "Calls refused with 429 because their organization's quota was reached.",
		}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dakkio_http_request_body_bytes_in_flight",
		Help: "Bytes of request bodies being read or held by handlers, counted against --http-max-body-bytes-in-flight (a chunked body counts as the maximum body size).",
	}, func() float64 { return float64(bodies.used.Load()) })
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.ingested, m.returned, m.rateLimited, inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// routeKey is the user value under which dispatch leaves the matched route.
const routeKey = "dakkio.route"

// observe answers a request with dispatch and counts it.
func (s *Server) observe(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	s.dispatch(ctx)
	route, _ := ctx.UserValue(routeKey).(string)
	if route == "" {
		route = "unmatched" // bounded: never the raw path
	}
	s.count(ctx, route, start)
}

// count adds an answered request to the counters.
func (s *Server) count(ctx *fasthttp.RequestCtx, route string, start time.Time) {
	method := methodLabel(ctx.Method())
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(ctx.Response.StatusCode())).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
}

// methodLabel is the method as a label: anyone may send any method, so
// those the API does not know share one series.
func methodLabel(m []byte) string {
	switch string(m) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return string(m)
	}
	return "other"
}

// countTransportError counts a request fasthttp answered without calling
// the handler (malformed, or too slow); it has no meaningful duration.
// No-op without metrics.
func (s *Server) countTransportError(ctx *fasthttp.RequestCtx) {
	if s.metrics != nil {
		s.metrics.requests.WithLabelValues("unmatched", methodLabel(ctx.Method()), strconv.Itoa(ctx.Response.StatusCode())).Inc()
	}
}

// countIngested, countReturned and countRateLimited are no-ops without metrics.
func (s *Server) countIngested(n int) {
	if s.metrics != nil {
		s.metrics.ingested.Add(float64(n))
	}
}

func (s *Server) countReturned(n int) {
	if s.metrics != nil {
		s.metrics.returned.Add(float64(n))
	}
}

func (s *Server) countRateLimited() {
	if s.metrics != nil {
		s.metrics.rateLimited.Inc()
	}
}

// serveMetrics answers GET /metrics in Prometheus' text format.
func (s *Server) serveMetrics(c *call) error {
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		s.log.Warn("some metrics could not be gathered", "err", err)
	}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType(string(format))
	c.ctx.SetBody(buf.Bytes())
	return nil
}
