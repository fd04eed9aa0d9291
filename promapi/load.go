package promapi

import (
	"math"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dakkio/dakkio/store/points"
)

const (
	msNS   = int64(1_000_000)
	hourMS = int64(3_600_000)
)

// loaded is one series' samples, times in milliseconds, oldest first.
type loaded struct {
	ref seriesRef
	t   []int64
	f   []float64
}

// selectSeries returns the series a selector matches, within the limits.
func (ev *evaluator) selectSeries(vs *parser.VectorSelector) ([]seriesRef, error) {
	refs := ev.cat.matching(vs.LabelMatchers)
	if len(refs) > ev.a.cfg.MaxSeries {
		return nil, unsupported("%s selects %d series, more than the limit of %d series per selector; narrow the matchers", vs, len(refs), ev.a.cfg.MaxSeries)
	}
	if cells := int64(len(refs)) * int64(ev.n); cells > ev.a.cfg.MaxPoints {
		return nil, unsupported("%s over %d steps gives %d points, more than the limit of %d points per query; use a larger step or a shorter range", vs, ev.n, cells, ev.a.cfg.MaxPoints)
	}
	return refs, nil
}

// byBucket groups series by bucket, keeping their order.
func byBucket(refs []seriesRef) (ids []string, groups map[string][]int) {
	groups = map[string][]int{}
	for i, r := range refs {
		if _, ok := groups[r.bucketID]; !ok {
			ids = append(ids, r.bucketID)
		}
		groups[r.bucketID] = append(groups[r.bucketID], i)
	}
	return ids, groups
}

// nsRange is the nanosecond range [start, end) holding the points whose
// millisecond time (rounded down) is in (fromMS, toMS].
func nsRange(fromMS, toMS int64) (int64, int64) {
	return satMul(fromMS+1, msNS), satMul(toMS+1, msNS)
}

func satMul(ms, by int64) int64 {
	switch {
	case ms > math.MaxInt64/by:
		return math.MaxInt64
	case ms < math.MinInt64/by:
		return math.MinInt64
	}
	return ms * by
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// load reads the samples a selector needs for every step: those in
// (first step - offset - rangeMS, last step - offset].
func (ev *evaluator) load(vs *parser.VectorSelector, rangeMS int64) ([]loaded, error) {
	refs, err := ev.selectSeries(vs)
	if err != nil {
		return nil, err
	}
	off := offsetMS(vs)
	startNS, endNS := nsRange(ev.start-off-rangeMS, ev.end-off)
	out := make([]loaded, len(refs))
	for i, r := range refs {
		out[i].ref = r
	}
	ids, groups := byBucket(refs)
	for _, bucketID := range ids {
		idx := groups[bucketID]
		// Each source once, each field once; a sample goes to its series.
		slot := map[[2]string]int{}
		var srcs, fields []string
		seenSrc, seenField := map[string]bool{}, map[string]bool{}
		for _, i := range idx {
			r := refs[i]
			slot[[2]string{r.sourceID, r.field}] = i
			if !seenSrc[r.sourceID] {
				seenSrc[r.sourceID] = true
				srcs = append(srcs, r.sourceID)
			}
			if !seenField[r.field] {
				seenField[r.field] = true
				fields = append(fields, r.field)
			}
		}
		left := ev.a.cfg.MaxPoints - ev.loadedPoints
		res, err := ev.a.cfg.Points.Raw(ev.ctx, points.RawQuery{
			Range:  points.Range{BucketID: bucketID, SourceIDs: srcs, Start: startNS, End: endNS},
			Fields: fields, Limit: int(min(left+1, math.MaxInt32)),
		})
		if err != nil {
			return nil, err
		}
		if res.Total > left {
			return nil, unsupported("%s reads %d points, more than the limit of %d points per query; use a shorter range or narrower matchers", vs, ev.loadedPoints+res.Total, ev.a.cfg.MaxPoints)
		}
		ev.loadedPoints += res.Total
		for _, p := range res.Points {
			t := floorDiv(p.TS, msNS)
			for _, v := range p.Values {
				if v.Kind != points.KindNumber {
					continue
				}
				if i, ok := slot[[2]string{p.SourceID, v.Field}]; ok {
					out[i].t = append(out[i].t, t)
					out[i].f = append(out[i].f, v.Num)
				}
			}
		}
	}
	return out, nil
}
