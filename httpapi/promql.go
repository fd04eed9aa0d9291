package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/promapi"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Prometheus' query API (API.md, "Query from Grafana and PromQL tools"),
// answered by package promapi; this file only mounts it. The key comes as
// X-API-Key, a Bearer token, or the password of basic auth (what
// URL-embedded credentials send), and every error, 401 and 429 included,
// is written in Prometheus' error format so that clients show it.

func (s *Server) promRoutes() {
	for _, r := range []struct{ path, endpoint string }{
		{"/api/v1/query", promapi.EndpointQuery},
		{"/api/v1/query_range", promapi.EndpointQueryRange},
		{"/api/v1/series", promapi.EndpointSeries},
		{"/api/v1/labels", promapi.EndpointLabels},
		{"/api/v1/label/:name/values", promapi.EndpointLabelValues},
		{"/api/v1/metadata", promapi.EndpointMetadata},
		{"/api/v1/status/buildinfo", promapi.EndpointBuildInfo},
	} {
		h := s.promHandler(r.endpoint)
		s.routes.addForeign("GET", r.path, h, promKey, writePromError)
		if r.endpoint != promapi.EndpointLabelValues && r.endpoint != promapi.EndpointBuildInfo {
			s.routes.addForeign("POST", r.path, h, promKey, writePromError)
		}
	}
}

// promKey reads the key from X-API-Key, Bearer, or basic auth's password.
func promKey(ctx *fasthttp.RequestCtx) []byte {
	if k := ctx.Request.Header.Peek("X-API-Key"); len(k) > 0 {
		return k
	}
	auth := ctx.Request.Header.Peek("Authorization")
	if len(auth) > 7 && bytes.EqualFold(auth[:7], []byte("Bearer ")) {
		return bytes.TrimSpace(auth[7:])
	}
	if len(auth) > 6 && bytes.EqualFold(auth[:6], []byte("Basic ")) {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(auth[6:])))
		if i := bytes.IndexByte(raw, ':'); err == nil && i >= 0 {
			return raw[i+1:]
		}
	}
	return nil
}

// writePromError writes e as Prometheus' error answer.
func writePromError(ctx *fasthttp.RequestCtx, e *apiError) {
	msg := e.Message
	for _, d := range e.Details {
		msg += "; " + d.Message
	}
	writeRawJSON(ctx, e.Status, promapi.ErrorBody(promapi.ErrorTypeFor(e.Status), msg))
}

func (s *Server) promHandler(endpoint string) func(*call) error {
	return func(c *call) error {
		form := url.Values{}
		c.ctx.QueryArgs().VisitAll(func(k, v []byte) { form.Add(string(k), string(v)) })
		if c.ctx.IsPost() {
			c.ctx.PostArgs().VisitAll(func(k, v []byte) { form.Add(string(k), string(v)) })
		}
		sc := promapi.Scope{OrgID: c.principal.OrgID}
		if c.principal.Type != store.KeyAdmin {
			sc.BucketID = c.principal.BucketID
		}
		resp, err := s.prom.Serve(sc, endpoint, c.param("name"), form)
		if err != nil {
			return toAPIError(err, s.log)
		}
		if resp.Cache != "" {
			c.ctx.Response.Header.Set("X-Dakkio-Cache", resp.Cache)
		}
		writeRawJSON(c.ctx, resp.Status, resp.Body)
		return nil
	}
}

// promPoints gives PromQL the node's points: its reads accept partial
// answers, as they always have.
type promPoints struct{ Points }

func (p promPoints) Raw(ctx context.Context, q points.RawQuery) (points.RawResult, error) {
	return p.Points.Raw(ctx, q, nil)
}

func (p promPoints) Aggregate(ctx context.Context, q points.AggQuery) ([]points.Row, error) {
	return p.Points.Aggregate(ctx, q, nil)
}
