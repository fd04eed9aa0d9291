package checker

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// The aggregate workload's points: id i is at AggTime(base, i) with value
// AggValue(i), so that the checker knows every point's window and value
// from its id alone. Ids wrap every aggWrap steps (a millisecond later each
// lap), so that any number of points stays within five days after base.
const (
	AggStep = 13 * time.Second
	aggWrap = int64(5 * 24 * time.Hour / AggStep)
)

// AggTime is the timestamp of point id.
func AggTime(base time.Time, id int64) time.Time {
	return base.Add(time.Duration(id%aggWrap)*AggStep + time.Duration(id/aggWrap)*time.Millisecond)
}

// AggValue is the value of point id: an integer in 1..1000, so that sums
// stay exact in a float64.
func AggValue(id int64) float64 { return float64(1 + (id*7919)%1000) }

// AggWindow names an aggregated read: its groupBy and aggregation.
func AggWindow(groupBy, aggregation string) string { return groupBy + "/" + aggregation }

// EncodeAggRows encodes an aggregated answer (window start -> value) as an
// op's Value.
func EncodeAggRows(rows map[time.Time]float64) string {
	m := make(map[string]float64, len(rows))
	for t, v := range rows {
		m[strconv.FormatInt(t.Unix(), 10)] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func decodeAggRows(s string) (map[int64]float64, error) {
	var m map[string]float64
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	out := make(map[int64]float64, len(m))
	for k, v := range m {
		sec, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("window %q: %w", k, err)
		}
		out[sec] = v
	}
	return out, nil
}

// aggBounds is what one window may hold: every acknowledged point, and any
// subset of the indeterminate ones.
type aggBounds struct {
	ackCount, indCount int
	ackSum, indSum     float64
	ackMin, ackMax     float64 // ±Inf when no point was acknowledged
	indMin, indMax     float64 // over indeterminate points
	indValues          map[float64]bool
}

func newAggBounds() *aggBounds {
	return &aggBounds{ackMin: math.Inf(1), ackMax: math.Inf(-1), indMin: math.Inf(1), indMax: math.Inf(-1), indValues: map[float64]bool{}}
}

// Aggregate checks the aggregate workload: writers add points (ids, "add")
// and, after the faults heal, every node answers count, sum, min and max by
// hour and by day over the whole range ("final-agg": Key is AggWindow,
// Value EncodeAggRows). The setup op ("agg-setup", Value the base time,
// RFC 3339) fixes where ids fall. Reads during the faults ("agg-read") are
// checked against the upper bounds only: they may be stale.
//
// Anomalies:
//   - wrong-aggregate: a final window's count, sum, min or max is not what
//     the acknowledged points (plus any subset of the indeterminate ones)
//     imply, or a window with acknowledged points is missing;
//   - phantom-window: a window holds points no client wrote there, or a
//     read counts more than was ever attempted;
//   - no-final-aggregate: a node answered no final aggregated read.
func Aggregate(ops []history.Op) *Verdict {
	v := newVerdict("aggregate")
	var base time.Time
	acked := map[int64]bool{}
	indet := map[int64]bool{}
	var finals, reads []history.Op
	nodes := map[string]bool{}
	for _, op := range ops {
		switch op.F {
		case "agg-setup":
			t, err := time.Parse(time.RFC3339Nano, op.Value)
			if err != nil {
				v.Unknown = true
				v.add(Anomaly{Kind: "no-final-aggregate", Message: "bad setup op: " + err.Error(), Ops: []int{op.Index}})
				return v
			}
			base = t
		case "add":
			v.Stats["add:"+op.Type]++
			for _, id := range op.Ints {
				switch op.Type {
				case history.OK:
					acked[id] = true
					delete(indet, id)
				case history.Fail:
				default:
					if !acked[id] {
						indet[id] = true
					}
				}
			}
		case "final-agg":
			v.Stats["final-agg:"+op.Type]++
			nodes[op.Node] = true
			if op.Type == history.OK {
				finals = append(finals, op)
			}
		case "agg-read":
			v.Stats["agg-read:"+op.Type]++
			if op.Type == history.OK {
				reads = append(reads, op)
			}
		}
	}
	if base.IsZero() {
		v.Unknown = true
		v.add(Anomaly{Kind: "no-final-aggregate", Message: "the history has no agg-setup op"})
		return v
	}
	v.Stats["acknowledged"] = int64(len(acked))
	v.Stats["indeterminate"] = int64(len(indet))

	bounds := map[string]map[int64]*aggBounds{} // groupBy -> window start (unix s) -> bounds
	for _, g := range []string{"hour", "day"} {
		bounds[g] = map[int64]*aggBounds{}
	}
	addPoint := func(id int64, ack bool) {
		t := AggTime(base, id).UTC()
		val := AggValue(id)
		for g, m := range bounds {
			w := windowStart(t, g).Unix()
			b := m[w]
			if b == nil {
				b = newAggBounds()
				m[w] = b
			}
			if ack {
				b.ackCount++
				b.ackSum += val
				b.ackMin, b.ackMax = math.Min(b.ackMin, val), math.Max(b.ackMax, val)
			} else {
				b.indCount++
				b.indSum += val
				b.indMin, b.indMax = math.Min(b.indMin, val), math.Max(b.indMax, val)
				b.indValues[val] = true
			}
		}
	}
	for id := range acked {
		addPoint(id, true)
	}
	for id := range indet {
		addPoint(id, false)
	}

	finalNodes := map[string]map[string]bool{} // node -> windows answered
	for _, op := range finals {
		if finalNodes[op.Node] == nil {
			finalNodes[op.Node] = map[string]bool{}
		}
		finalNodes[op.Node][op.Key] = true
		checkAggOp(v, op, bounds, true)
	}
	for _, op := range reads {
		checkAggOp(v, op, bounds, false)
	}
	for nd := range nodes {
		for _, g := range []string{"hour", "day"} {
			for _, a := range []string{"count", "sum", "min", "max"} {
				if !finalNodes[nd][AggWindow(g, a)] {
					v.add(Anomaly{Kind: "no-final-aggregate", Key: nd,
						Message: fmt.Sprintf("%s answered no final %s read", nd, AggWindow(g, a))})
				}
			}
		}
	}
	if len(nodes) == 0 {
		v.add(Anomaly{Kind: "no-final-aggregate", Message: "no final aggregated read was attempted"})
	}
	v.Stats["final-nodes"] = int64(len(finalNodes))
	v.Stats["windows-hour"] = int64(len(bounds["hour"]))
	v.Stats["windows-day"] = int64(len(bounds["day"]))
	return v
}

func windowStart(t time.Time, groupBy string) time.Time {
	if groupBy == "day" {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Hour)
}

// checkAggOp checks one aggregated answer against the bounds of each
// window; a final answer must also hold every acknowledged point.
func checkAggOp(v *Verdict, op history.Op, bounds map[string]map[int64]*aggBounds, final bool) {
	g, agg, ok := strings.Cut(op.Key, "/")
	if !ok || bounds[g] == nil {
		v.add(Anomaly{Kind: "no-final-aggregate", Ops: []int{op.Index}, Message: fmt.Sprintf("op %d has no known window %q", op.Index, op.Key)})
		return
	}
	rows, err := decodeAggRows(op.Value)
	if err != nil {
		v.add(Anomaly{Kind: "no-final-aggregate", Ops: []int{op.Index}, Message: fmt.Sprintf("op %d: %v", op.Index, err)})
		return
	}
	windows := make([]int64, 0, len(bounds[g]))
	for w := range bounds[g] {
		windows = append(windows, w)
	}
	for w := range rows {
		if bounds[g][w] == nil {
			windows = append(windows, w)
		}
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i] < windows[j] })
	for _, w := range windows {
		b := bounds[g][w]
		got, present := rows[w]
		at := time.Unix(w, 0).UTC().Format(time.RFC3339)
		where := fmt.Sprintf("%s of the %s from %s through %s (op %d)", agg, g, at, op.Node, op.Index)
		if b == nil {
			v.add(Anomaly{Kind: "phantom-window", Key: op.Key, Ops: []int{op.Index},
				Message: fmt.Sprintf("%s = %v, but no client wrote a point in that window", where, got)})
			continue
		}
		if !present {
			if final && b.ackCount > 0 {
				v.add(Anomaly{Kind: "wrong-aggregate", Key: op.Key, Ops: []int{op.Index},
					Message: fmt.Sprintf("%s is missing; %d acknowledged points are in it", where, b.ackCount)})
			}
			continue
		}
		if msg := b.violation(agg, got, final); msg != "" {
			kind := "wrong-aggregate"
			if !final {
				kind = "phantom-window"
			}
			v.add(Anomaly{Kind: kind, Key: op.Key, Ops: []int{op.Index}, Message: fmt.Sprintf("%s = %v: %s", where, got, msg)})
		}
	}
}

// violation says why got cannot be agg over the acknowledged points plus a
// subset of the indeterminate ones ("" if it can). A read that is not final
// may also miss acknowledged points: only the upper bounds hold for it.
func (b *aggBounds) violation(agg string, got float64, final bool) string {
	switch agg {
	case "count":
		lo, hi := float64(b.ackCount), float64(b.ackCount+b.indCount)
		if got > hi {
			return fmt.Sprintf("more than the %v points attempted", hi)
		}
		if final && got < lo {
			return fmt.Sprintf("fewer than the %v acknowledged", lo)
		}
	case "sum":
		lo, hi := b.ackSum, b.ackSum+b.indSum
		if got > hi+1e-6 {
			return fmt.Sprintf("more than the %v all attempted points add up to", hi)
		}
		if final && got < lo-1e-6 {
			return fmt.Sprintf("less than the %v the acknowledged points add up to", lo)
		}
	case "min", "max":
		ack, all := b.ackMin, math.Min(b.ackMin, b.indMin)
		beyond := func(x, y float64) bool { return x < y } // x is further out than y
		if agg == "max" {
			ack, all = b.ackMax, math.Max(b.ackMax, b.indMax)
			beyond = func(x, y float64) bool { return x > y }
		}
		if beyond(got, all) {
			return fmt.Sprintf("beyond the %v of every point attempted", all)
		}
		if !final {
			return "" // a stale read may miss the extremes
		}
		// The acknowledged extreme, or an indeterminate point's value beyond it.
		if got == ack || (b.indValues[got] && (math.IsInf(ack, 0) || beyond(got, ack))) {
			return ""
		}
		return fmt.Sprintf("want %v (the acknowledged points') or an indeterminate point's value beyond it", ack)
	}
	return ""
}
