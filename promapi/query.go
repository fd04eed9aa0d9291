package promapi

import (
	"context"
	"net/url"
	"slices"

	"github.com/prometheus/prometheus/promql/parser"
)

// instantQuery answers /api/v1/query.
func (a *API) instantQuery(ctx context.Context, sc Scope, form url.Values) ([]byte, error) {
	q, err := a.readQuery(form, false, a.cfg.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	if err := check(q.expr); err != nil {
		return nil, err
	}
	cat, err := a.loadCatalog(sc)
	if err != nil {
		return nil, err
	}
	v, err := a.evaluate(ctx, cat, q.expr, q.start, q.end, 1)
	if err != nil {
		return nil, err
	}
	b := []byte(`{"status":"success","data":{"resultType":`)
	switch v := v.(type) {
	case scalar:
		b = append(b, `"scalar","result":`...)
		b = appendSample(b, q.start, v[0])
	case vector:
		sortSeries(v)
		b = append(b, `"vector","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.lbls)
			b = append(b, `,"value":`...)
			b = appendSample(b, q.start, s.vals[0])
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, `}}`...), nil
}

// evaluate runs expr at the steps start, start+step, ..., end.
func (a *API) evaluate(ctx context.Context, cat *catalog, expr parser.Expr, start, end, step int64) (any, error) {
	ev := &evaluator{a: a, ctx: ctx, cat: cat, start: start, end: end, step: step, n: int((end-start)/step) + 1}
	return ev.eval(expr)
}

// rangeQuery answers /api/v1/query_range, reusing the cached steps of the
// same query when nothing under them changed.
func (a *API) rangeQuery(ctx context.Context, sc Scope, form url.Values) ([]byte, string, error) {
	q, err := a.readQuery(form, true, 0)
	if err != nil {
		return nil, "", err
	}
	if err := check(q.expr); err != nil {
		return nil, "", err
	}
	cat, err := a.loadCatalog(sc)
	if err != nil {
		return nil, "", err
	}
	var (
		v     vector
		cache string
	)
	// nocache=1 (as VictoriaMetrics spells it) bypasses the cache.
	if a.cache == nil || form.Get("nocache") == "1" {
		r, err := a.evaluate(ctx, cat, q.expr, q.start, q.end, q.step)
		if err != nil {
			return nil, "", err
		}
		v = asVector(r, q)
	} else if v, cache, err = a.cachedRange(ctx, sc, cat, q); err != nil {
		return nil, "", err
	}
	sortSeries(v)
	b := []byte(`{"status":"success","data":{"resultType":"matrix","result":[`)
	first := true
	for _, s := range v {
		if !slices.Contains(s.has, true) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"metric":`...)
		b = appendLabels(b, s.lbls)
		b = append(b, `,"values":[`...)
		n := 0
		for i, has := range s.has {
			if !has {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendSample(b, q.start+int64(i)*q.step, s.vals[i])
		}
		b = append(b, `]}`...)
	}
	return append(b, `]}}`...), cache, nil
}

// asVector turns a range query's scalar into its one series without labels.
func asVector(r any, q queryParams) vector {
	switch r := r.(type) {
	case vector:
		return r
	case scalar:
		s := &series{vals: r, has: make([]bool, len(r))}
		for i := range s.has {
			s.has[i] = true
		}
		return vector{s}
	}
	return nil
}
