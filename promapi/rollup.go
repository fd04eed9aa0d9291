package promapi

import (
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dakkio/dakkio/store/points"
)

// fromRollups evaluates avg, sum and count_over_time from the stored hour
// rollups when every window is made of whole hours: the range a multiple
// of an hour, and each step (moved by the offset) on an hour. ok is false
// when it does not apply.
//
// A window is (t-range, t] and a stored hour [h, h+1h): the hours
// [t-range, t) are summed, the sample at t-range itself (the first of its
// hour, when it falls in that millisecond) taken out and the one at t put
// in. The hours' first samples and their times come with the rollups
// (points.AggQuery.Stats). Points less than a millisecond apart at an
// hour's first millisecond are the one case this does not see as the
// points do; see docs/grafana.md.
func (ev *evaluator) fromRollups(name string, vs *parser.VectorSelector, rng int64) (vector, bool, error) {
	switch name {
	case "avg_over_time", "sum_over_time", "count_over_time":
	default:
		return nil, false, nil
	}
	off := offsetMS(vs)
	first := ev.start - off
	if rng <= 0 || rng%hourMS != 0 || floorDiv(first, hourMS)*hourMS != first || (ev.n > 1 && ev.step%hourMS != 0) {
		return nil, false, nil
	}
	refs, err := ev.selectSeries(vs)
	if err != nil {
		return nil, true, err
	}
	last := ev.end - off
	if ev.n == 1 {
		last = first
	}
	// Hours per window times steps is the work; past the budget the
	// points path (with its own limits) decides.
	if int64(ev.n)*(rng/hourMS) > workFactor*ev.a.cfg.MaxPoints/int64(max(1, len(ev.cat.series))) || (last-first+rng)/hourMS > 1_000_000 {
		return nil, false, nil
	}
	// stats[series][hour index]: hours from first-rng to last (that one
	// holding only the points of its first millisecond).
	h0 := first - rng
	nHours := int((last-h0)/hourMS) + 1
	stats := make([][]points.FieldStats, len(refs)) // Count 0: no points
	ids, groups := byBucket(refs)
	for _, bucketID := range ids {
		idx := groups[bucketID]
		slot := map[string][]int{}
		var srcs, fields []string
		seenField := map[string]bool{}
		for _, i := range idx {
			r := refs[i]
			if _, ok := slot[r.sourceID]; !ok {
				srcs = append(srcs, r.sourceID)
			}
			slot[r.sourceID] = append(slot[r.sourceID], i)
			if !seenField[r.field] {
				seenField[r.field] = true
				fields = append(fields, r.field)
			}
		}
		rows, err := ev.a.cfg.Points.Aggregate(ev.ctx, points.AggQuery{
			Range:  points.Range{BucketID: bucketID, SourceIDs: srcs, Start: h0 * msNS, End: last*msNS + msNS},
			Fields: fields, Aggregation: points.AggCount, Window: points.WindowHour, Stats: true,
		})
		if err != nil {
			return nil, true, err
		}
		for _, row := range rows {
			if row.Stats == nil && row.Values != nil {
				// A replica of an older version, which ignores Stats:
				// the points path gives the answer.
				return nil, false, nil
			}
			h := int((floorDiv(row.Start, msNS) - h0) / hourMS)
			if h < 0 || h >= nHours {
				continue
			}
			for _, i := range slot[row.SourceID] {
				for _, st := range row.Stats {
					if st.Field != refs[i].field {
						continue
					}
					if stats[i] == nil {
						stats[i] = make([]points.FieldStats, nHours)
					}
					stats[i][h] = st
				}
			}
		}
	}
	perWindow := int(rng / hourMS)
	out := make(vector, 0, len(refs))
	for i, r := range refs {
		hs := stats[i]
		if hs == nil {
			continue
		}
		s := ev.newSeries(dropName(r.lbls))
		any := false
		for step := 0; step < ev.n; step++ {
			t := ev.at(step) - off
			end := int((t - h0) / hourMS) // the hour starting at t
			var sum kahan
			var count int64
			for h := end - perWindow; h < end; h++ {
				if st := &hs[h]; st.Count > 0 {
					sum.add(st.Sum)
					count += st.Count
				}
			}
			if st := &hs[end-perWindow]; st.Count > 0 && floorDiv(st.FirstTS, msNS) == t-rng {
				sum.add(-st.First)
				count--
			}
			if st := &hs[end]; st.Count > 0 && floorDiv(st.FirstTS, msNS) == t {
				if end == nHours-1 { // holds only that millisecond's points
					sum.add(st.Sum)
					count += st.Count
				} else {
					sum.add(st.First)
					count++
				}
			}
			if count <= 0 {
				continue
			}
			switch name {
			case "avg_over_time":
				s.vals[step] = sum.value() / float64(count)
			case "sum_over_time":
				s.vals[step] = sum.value()
			case "count_over_time":
				s.vals[step] = float64(count)
			}
			s.has[step], any = true, true
		}
		if any {
			out = append(out, s)
		}
	}
	v, err := merge(out)
	return v, true, err
}
