package promapi

import (
	"context"
	"math"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// lookbackMS is how far back an instant vector selector looks for a
// sample: Prometheus' default 5 minutes.
const lookbackMS = 5 * 60 * 1000

// overTime are the supported functions of a range vector, each with
// whether it keeps the metric name.
var overTime = map[string]bool{
	"rate": false, "irate": false, "increase": false, "delta": false,
	"avg_over_time": false, "min_over_time": false, "max_over_time": false,
	"sum_over_time": false, "count_over_time": false, "last_over_time": true,
}

// series is one series' values at each step of the evaluation.
type series struct {
	lbls labels.Labels
	vals []float64
	has  []bool
}

type scalar []float64

type vector []*series

// evaluator evaluates one query over its steps: start, start+step, ..., end.
type evaluator struct {
	a                *API
	ctx              context.Context
	cat              *catalog
	start, end, step int64
	n                int
	loadedPoints     int64
	work             int64 // samples (or hours) visited by range functions
}

// workFactor: range functions may visit this many times MaxPoints samples
// over all their windows (a long range at a short step visits each sample
// in many windows), as Prometheus bounds the samples a query touches.
const workFactor = 10

// spend counts n samples visited, failing past the budget.
func (ev *evaluator) spend(n int64, what string) error {
	ev.work += n
	if limit := workFactor * ev.a.cfg.MaxPoints; ev.work > limit {
		return unsupported("%s visits more than %d samples over its windows (the limit is %d times the points limit); use a larger step or a shorter range", what, limit, workFactor)
	}
	return nil
}

func (ev *evaluator) at(i int) int64 { return ev.start + int64(i)*ev.step }

func (ev *evaluator) newSeries(l labels.Labels) *series {
	return &series{lbls: l, vals: make([]float64, ev.n), has: make([]bool, ev.n)}
}

// check refuses, before anything is read, what the subset does not cover.
func check(e parser.Expr) error {
	switch n := e.(type) {
	case *parser.NumberLiteral:
		return nil
	case *parser.ParenExpr:
		return check(n.Expr)
	case *parser.UnaryExpr:
		return check(n.Expr)
	case *parser.VectorSelector:
		return checkSelector(n)
	case *parser.MatrixSelector:
		return unsupported("range vectors are only supported as the argument of a function (%s)", n)
	case *parser.SubqueryExpr:
		return unsupported("subqueries are not supported (%s)", n)
	case *parser.StringLiteral:
		return unsupported("string expressions are not supported")
	case *parser.Call:
		if _, ok := overTime[n.Func.Name]; !ok {
			return unsupported("function %s() is not supported; supported: rate, irate, increase, delta, avg|min|max|sum|count|last_over_time", n.Func.Name)
		}
		if sq, ok := n.Args[0].(*parser.SubqueryExpr); ok {
			return unsupported("subqueries are not supported (%s)", sq)
		}
		ms, ok := n.Args[0].(*parser.MatrixSelector)
		if !ok {
			return unsupported("%s() is only supported over a range selector such as field[5m], not %s", n.Func.Name, n.Args[0])
		}
		return checkSelector(ms.VectorSelector.(*parser.VectorSelector))
	case *parser.AggregateExpr:
		switch n.Op {
		case parser.SUM, parser.AVG, parser.MIN, parser.MAX, parser.COUNT:
		default:
			return unsupported("aggregation %s is not supported; supported: sum, avg, min, max, count", n.Op)
		}
		return check(n.Expr)
	case *parser.BinaryExpr:
		if n.LHS.Type() == parser.ValueTypeVector && n.RHS.Type() == parser.ValueTypeVector {
			return unsupported("binary operations between two vectors are not supported (%s); one side must be a scalar", n)
		}
		switch n.Op {
		case parser.ADD, parser.SUB, parser.MUL, parser.DIV, parser.MOD, parser.POW, parser.ATAN2,
			parser.EQLC, parser.NEQ, parser.GTR, parser.LSS, parser.GTE, parser.LTE:
		default:
			return unsupported("operator %s is not supported", n.Op)
		}
		if err := check(n.LHS); err != nil {
			return err
		}
		return check(n.RHS)
	}
	return unsupported("expression %s is not supported", e)
}

func checkSelector(vs *parser.VectorSelector) error {
	if vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return unsupported("the @ modifier is not supported (%s)", vs)
	}
	if vs.OriginalOffsetExpr != nil && vs.OriginalOffset == 0 {
		return unsupported("offset expressions are not supported (%s)", vs)
	}
	return nil
}

// eval evaluates e: a scalar or a vector at every step.
func (ev *evaluator) eval(e parser.Expr) (any, error) {
	if err := ev.ctx.Err(); err != nil {
		return nil, err
	}
	switch n := e.(type) {
	case *parser.NumberLiteral:
		s := make(scalar, ev.n)
		for i := range s {
			s[i] = n.Val
		}
		return s, nil
	case *parser.ParenExpr:
		return ev.eval(n.Expr)
	case *parser.UnaryExpr:
		v, err := ev.eval(n.Expr)
		if err != nil || n.Op != parser.SUB {
			return v, err
		}
		switch v := v.(type) {
		case scalar:
			for i := range v {
				v[i] = -v[i]
			}
			return v, nil
		case vector:
			for _, s := range v {
				for i := range s.vals {
					s.vals[i] = -s.vals[i]
				}
				s.lbls = dropName(s.lbls)
			}
			return merge(v)
		}
	case *parser.VectorSelector:
		return ev.instantSelector(n)
	case *parser.Call:
		return ev.call(n)
	case *parser.AggregateExpr:
		return ev.aggregate(n)
	case *parser.BinaryExpr:
		return ev.binary(n)
	}
	return nil, unsupported("expression %s is not supported", e)
}

// offsetMS is a selector's offset in milliseconds.
func offsetMS(vs *parser.VectorSelector) int64 { return vs.OriginalOffset.Milliseconds() }

// instantSelector gives each series its newest sample in (t-5m, t] at
// each step t (moved back by the offset).
func (ev *evaluator) instantSelector(vs *parser.VectorSelector) (vector, error) {
	data, err := ev.load(vs, lookbackMS)
	if err != nil {
		return nil, err
	}
	off := offsetMS(vs)
	out := make(vector, 0, len(data))
	for _, d := range data {
		s := ev.newSeries(d.ref.lbls)
		j, any := 0, false
		for i := 0; i < ev.n; i++ {
			t := ev.at(i) - off
			for j < len(d.t) && d.t[j] <= t {
				j++
			}
			if j > 0 && d.t[j-1] > t-lookbackMS {
				s.vals[i], s.has[i], any = d.f[j-1], true, true
			}
		}
		if any {
			out = append(out, s)
		}
	}
	return out, nil
}

// call evaluates a function of a range vector at each step.
func (ev *evaluator) call(c *parser.Call) (vector, error) {
	ms := c.Args[0].(*parser.MatrixSelector)
	vs := ms.VectorSelector.(*parser.VectorSelector)
	name := c.Func.Name
	rng := ms.Range.Milliseconds()
	if v, ok, err := ev.fromRollups(name, vs, rng); ok || err != nil {
		return v, err
	}
	data, err := ev.load(vs, rng)
	if err != nil {
		return nil, err
	}
	off := offsetMS(vs)
	keepName := overTime[name]
	out := make(vector, 0, len(data))
	for _, d := range data {
		l := d.ref.lbls
		if !keepName {
			l = dropName(l)
		}
		s := ev.newSeries(l)
		lo, hi, any := 0, 0, false
		for i := 0; i < ev.n; i++ {
			t := ev.at(i) - off
			for hi < len(d.t) && d.t[hi] <= t {
				hi++
			}
			for lo < hi && d.t[lo] <= t-rng {
				lo++
			}
			if err := ev.spend(int64(hi-lo), c.String()); err != nil {
				return nil, err
			}
			if v, ok := rangeFunc(name, d.t[lo:hi], d.f[lo:hi], t-rng, t, rng); ok {
				s.vals[i], s.has[i], any = v, true, true
			}
		}
		if any {
			out = append(out, s)
		}
	}
	return merge(out)
}

// rangeFunc computes a function over the samples of one window (from, to].
func rangeFunc(name string, ts []int64, fs []float64, from, to, rng int64) (float64, bool) {
	if len(fs) == 0 {
		return 0, false
	}
	switch name {
	case "avg_over_time":
		return mean(fs), true
	case "sum_over_time":
		var k kahan
		for _, f := range fs {
			k.add(f)
		}
		return k.value(), true
	case "count_over_time":
		return float64(len(fs)), true
	case "min_over_time":
		m := fs[0]
		for _, f := range fs[1:] {
			if f < m || math.IsNaN(m) {
				m = f
			}
		}
		return m, true
	case "max_over_time":
		m := fs[0]
		for _, f := range fs[1:] {
			if f > m || math.IsNaN(m) {
				m = f
			}
		}
		return m, true
	case "last_over_time":
		return fs[len(fs)-1], true
	case "irate":
		return instantRate(ts, fs)
	case "rate":
		return extrapolated(ts, fs, from, to, rng, true, true)
	case "increase":
		return extrapolated(ts, fs, from, to, rng, true, false)
	case "delta":
		return extrapolated(ts, fs, from, to, rng, false, false)
	}
	return 0, false
}

// mean is Prometheus' average: a compensated sum divided by the count,
// or a running mean when the sum would overflow.
func mean(fs []float64) float64 {
	var k kahan
	for _, f := range fs {
		k.add(f)
	}
	if v := k.value(); !math.IsInf(v, 0) || hasInf(fs) {
		return v / float64(len(fs))
	}
	m := 0.0
	for i, f := range fs {
		m += (f - m) / float64(i+1)
	}
	return m
}

func hasInf(fs []float64) bool {
	for _, f := range fs {
		if math.IsInf(f, 0) {
			return true
		}
	}
	return false
}

// kahan is a compensated (Neumaier) sum.
type kahan struct{ sum, c float64 }

func (k *kahan) add(f float64) {
	t := k.sum + f
	switch {
	case math.IsInf(t, 0):
		k.c = 0
	case math.Abs(k.sum) >= math.Abs(f):
		k.c += (k.sum - t) + f
	default:
		k.c += (f - t) + k.sum
	}
	k.sum = t
}

func (k *kahan) value() float64 {
	if math.IsInf(k.sum, 0) {
		return k.sum
	}
	return k.sum + k.c
}

// extrapolated is rate, increase (counter) and delta (gauge): the change
// over the window's samples, counter resets undone, extrapolated towards
// the window's edges the way Prometheus does it.
func extrapolated(ts []int64, fs []float64, from, to, rng int64, counter, perSecond bool) (float64, bool) {
	if len(fs) < 2 {
		return 0, false
	}
	n1 := len(fs) - 1
	result := fs[n1] - fs[0]
	if counter {
		for i := 1; i < len(fs); i++ {
			if fs[i] < fs[i-1] {
				result += fs[i-1]
			}
		}
	}
	toStart := float64(ts[0]-from) / 1000
	toEnd := float64(to-ts[n1]) / 1000
	sampled := float64(ts[n1]-ts[0]) / 1000
	avgGap := sampled / float64(n1)
	threshold := avgGap * 1.1
	if toStart >= threshold {
		toStart = avgGap / 2
	}
	if counter && result > 0 && fs[0] >= 0 {
		if toZero := sampled * (fs[0] / result); toZero < toStart {
			toStart = toZero
		}
	}
	if toEnd >= threshold {
		toEnd = avgGap / 2
	}
	factor := 1.0
	if sampled != 0 {
		factor = (sampled + toStart + toEnd) / sampled
	}
	if perSecond {
		factor /= float64(rng) / 1000
	}
	return result * factor, true
}

// instantRate is irate: the per-second change between the last two samples.
func instantRate(ts []int64, fs []float64) (float64, bool) {
	if len(fs) < 2 {
		return 0, false
	}
	i := len(fs) - 1
	gap := ts[i] - ts[i-1]
	if gap == 0 {
		return 0, false
	}
	v := fs[i]
	if fs[i] >= fs[i-1] {
		v = fs[i] - fs[i-1]
	}
	return v / (float64(gap) / 1000), true
}

func dropName(l labels.Labels) labels.Labels {
	if !l.Has(labels.MetricName) {
		return l
	}
	return labels.NewBuilder(l).Del(labels.MetricName).Labels()
}

// merge joins series whose labels became equal; two values at the same
// step are Prometheus' "same labelset" error.
func merge(v vector) (vector, error) {
	if len(v) < 2 {
		return v, nil
	}
	byKey := make(map[string]*series, len(v))
	out := v[:0]
	for _, s := range v {
		k := s.lbls.String()
		prev, ok := byKey[k]
		if !ok {
			byKey[k] = s
			out = append(out, s)
			continue
		}
		for i := range s.has {
			if !s.has[i] {
				continue
			}
			if prev.has[i] {
				return nil, unsupported("vector cannot contain metrics with the same labelset %s", s.lbls)
			}
			prev.vals[i], prev.has[i] = s.vals[i], true
		}
	}
	return out, nil
}

// aggregate evaluates sum, avg, min, max and count, by or without labels.
func (ev *evaluator) aggregate(a *parser.AggregateExpr) (vector, error) {
	v, err := ev.eval(a.Expr)
	if err != nil {
		return nil, err
	}
	in := v.(vector)
	type group struct {
		out   *series
		sums  []kahan
		count []float64
	}
	groups := map[string]*group{}
	var order []*group
	for _, s := range in {
		b := labels.NewBuilder(s.lbls)
		if a.Without {
			b.Del(append([]string{labels.MetricName}, a.Grouping...)...)
		} else {
			b.Keep(a.Grouping...)
		}
		l := b.Labels()
		k := l.String()
		g, ok := groups[k]
		if !ok {
			g = &group{out: ev.newSeries(l), sums: make([]kahan, ev.n), count: make([]float64, ev.n)}
			groups[k] = g
			order = append(order, g)
		}
		for i, has := range s.has {
			if !has {
				continue
			}
			f := s.vals[i]
			first := g.count[i] == 0
			g.count[i]++
			g.out.has[i] = true
			switch a.Op {
			case parser.SUM, parser.AVG:
				g.sums[i].add(f)
			case parser.MIN:
				if first || g.out.vals[i] > f || math.IsNaN(g.out.vals[i]) {
					g.out.vals[i] = f
				}
			case parser.MAX:
				if first || g.out.vals[i] < f || math.IsNaN(g.out.vals[i]) {
					g.out.vals[i] = f
				}
			}
		}
	}
	out := make(vector, 0, len(order))
	for _, g := range order {
		for i := range g.out.vals {
			if !g.out.has[i] {
				continue
			}
			switch a.Op {
			case parser.SUM:
				g.out.vals[i] = g.sums[i].value()
			case parser.AVG:
				g.out.vals[i] = g.sums[i].value() / g.count[i]
			case parser.COUNT:
				g.out.vals[i] = g.count[i]
			}
		}
		if a.Op == parser.AVG {
			ev.avgOverflow(g.out, in, a)
		}
		out = append(out, g.out)
	}
	return out, nil
}

// avgOverflow recomputes, as running means, the averages whose sum
// overflowed while no input was infinite.
func (ev *evaluator) avgOverflow(g *series, in vector, a *parser.AggregateExpr) {
	for i := range g.vals {
		if !g.has[i] || !math.IsInf(g.vals[i], 0) {
			continue
		}
		var fs []float64
		for _, s := range in {
			if !s.has[i] {
				continue
			}
			b := labels.NewBuilder(s.lbls)
			if a.Without {
				b.Del(append([]string{labels.MetricName}, a.Grouping...)...)
			} else {
				b.Keep(a.Grouping...)
			}
			if labels.Equal(b.Labels(), g.lbls) {
				fs = append(fs, s.vals[i])
			}
		}
		g.vals[i] = mean(fs)
	}
}

// binary evaluates arithmetic and comparisons where a side is a scalar.
func (ev *evaluator) binary(b *parser.BinaryExpr) (any, error) {
	lv, err := ev.eval(b.LHS)
	if err != nil {
		return nil, err
	}
	rv, err := ev.eval(b.RHS)
	if err != nil {
		return nil, err
	}
	ls, lScalar := lv.(scalar)
	rs, rScalar := rv.(scalar)
	if lScalar && rScalar {
		for i := range ls {
			res, keep := elemOp(b.Op, ls[i], rs[i])
			if b.Op.IsComparisonOperator() {
				res = boolFloat(keep)
			}
			ls[i] = res
		}
		return ls, nil
	}
	var (
		vec  vector
		sc   scalar
		swap bool
	)
	if lScalar {
		vec, sc, swap = rv.(vector), ls, true
	} else {
		vec, sc = lv.(vector), rs
	}
	drop := !b.Op.IsComparisonOperator() || b.ReturnBool
	out := vec[:0]
	for _, s := range vec {
		any := false
		for i, has := range s.has {
			if !has {
				continue
			}
			l, r := s.vals[i], sc[i]
			if swap {
				l, r = r, l
			}
			res, keep := elemOp(b.Op, l, r)
			if b.Op.IsComparisonOperator() {
				res = s.vals[i]
			}
			if b.ReturnBool {
				res, keep = boolFloat(keep), true
			}
			s.vals[i], s.has[i] = res, keep
			any = any || keep
		}
		if drop {
			s.lbls = dropName(s.lbls)
		}
		if any {
			out = append(out, s)
		}
	}
	return merge(out)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// elemOp applies op: arithmetic gives its result; a comparison gives the
// left value and whether it holds.
func elemOp(op parser.ItemType, l, r float64) (float64, bool) {
	switch op {
	case parser.ADD:
		return l + r, true
	case parser.SUB:
		return l - r, true
	case parser.MUL:
		return l * r, true
	case parser.DIV:
		return l / r, true
	case parser.POW:
		return math.Pow(l, r), true
	case parser.MOD:
		return math.Mod(l, r), true
	case parser.ATAN2:
		return math.Atan2(l, r), true
	case parser.EQLC:
		return l, l == r
	case parser.NEQ:
		return l, l != r
	case parser.GTR:
		return l, l > r
	case parser.LSS:
		return l, l < r
	case parser.GTE:
		return l, l >= r
	case parser.LTE:
		return l, l <= r
	}
	return 0, false
}

// sortSeries orders series by labels, as Prometheus orders a matrix.
func sortSeries(v vector) {
	sort.Slice(v, func(i, j int) bool { return labels.Compare(v[i].lbls, v[j].lbls) < 0 })
}
