package checker

import (
	"math"
	"testing"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// aggRows computes what a correct node answers for ids.
func aggRows(base time.Time, ids []int64, groupBy, agg string) map[time.Time]float64 {
	rows := map[time.Time]float64{}
	for _, id := range ids {
		w := windowStart(AggTime(base, id).UTC(), groupBy)
		v := AggValue(id)
		cur, ok := rows[w]
		switch agg {
		case "count":
			rows[w] = cur + 1
		case "sum":
			rows[w] = cur + v
		case "min":
			if !ok {
				cur = math.Inf(1)
			}
			rows[w] = math.Min(cur, v)
		case "max":
			if !ok {
				cur = math.Inf(-1)
			}
			rows[w] = math.Max(cur, v)
		}
	}
	return rows
}

// aggHistory: ids 0..1999 acknowledged, 2000..2099 indeterminate, 2100..2199
// refused; every node's final answers are computed from stored.
func aggHistory(stored func(node string) []int64) []history.Op {
	base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	ops := []history.Op{{F: "agg-setup", Type: history.OK, Value: base.Format(time.RFC3339Nano)}}
	add := func(from, to int64, typ string) {
		for id := from; id < to; id += 5 {
			ops = append(ops, history.Op{Process: 1, F: "add", Type: typ, Ints: []int64{id, id + 1, id + 2, id + 3, id + 4}})
		}
	}
	add(0, 2000, history.OK)
	add(2000, 2100, history.Info)
	add(2100, 2200, history.Fail)
	for _, nd := range []string{"n1", "n2"} {
		for _, g := range []string{"hour", "day"} {
			for _, a := range []string{"count", "sum", "min", "max"} {
				ops = append(ops, history.Op{Process: 1000, F: "final-agg", Type: history.OK, Node: nd, Key: AggWindow(g, a),
					Value: EncodeAggRows(aggRows(base, stored(nd), g, a))})
			}
		}
	}
	for i := range ops {
		ops[i].Index = i
	}
	return ops
}

func idRange(from, to int64) []int64 {
	var out []int64
	for id := from; id < to; id++ {
		out = append(out, id)
	}
	return out
}

func TestAggregateValidWithSomeIndeterminatePoints(t *testing.T) {
	// n1 stored half the indeterminate points, n2 none of them.
	v := Aggregate(aggHistory(func(nd string) []int64 {
		if nd == "n1" {
			return append(idRange(0, 2000), idRange(2000, 2050)...)
		}
		return idRange(0, 2000)
	}))
	if !v.Valid {
		t.Fatalf("verdict %+v, want valid", v)
	}
	if v.Stats["final-nodes"] != 2 || v.Stats["acknowledged"] != 2000 || v.Stats["windows-hour"] == 0 {
		t.Errorf("stats %v", v.Stats)
	}
}

func TestAggregateCatchesALostPoint(t *testing.T) {
	v := Aggregate(aggHistory(func(nd string) []int64 {
		if nd == "n2" {
			return idRange(1, 2000) // id 0 lost on n2
		}
		return idRange(0, 2000)
	}))
	if v.Valid || v.Stats["anomaly:wrong-aggregate"] == 0 {
		t.Fatalf("verdict %+v, want wrong-aggregate", v)
	}
	for _, a := range v.Anomalies {
		if a.Key != "" && a.Kind == "wrong-aggregate" && len(a.Ops) == 1 {
			return
		}
	}
	t.Errorf("anomalies %+v lack the op that shows it", v.Anomalies)
}

func TestAggregateCatchesARefusedPointCounted(t *testing.T) {
	// Without indeterminate points in its window, a refused point counted
	// breaks every bound. (With some, count and sum cannot tell which
	// landed: the set workload's revived check covers that.)
	var ops []history.Op
	for _, op := range aggHistory(func(string) []int64 { return append(idRange(0, 2000), 2150) }) {
		if op.Type != history.Info {
			ops = append(ops, op)
		}
	}
	v := Aggregate(ops)
	if v.Valid {
		t.Fatalf("a point refused with a 4xx was aggregated, verdict valid")
	}
}

func TestAggregateCatchesAWindowShiftedByAnHour(t *testing.T) {
	// A node that files points an hour late: same totals by day mostly,
	// wrong by hour.
	base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	ops := aggHistory(func(string) []int64 { return idRange(0, 2000) })
	for i, op := range ops {
		if op.F == "final-agg" && op.Node == "n1" && op.Key == "hour/count" {
			shifted := map[time.Time]float64{}
			for t, c := range aggRows(base, idRange(0, 2000), "hour", "count") {
				shifted[t.Add(time.Hour)] = c
			}
			ops[i].Value = EncodeAggRows(shifted)
		}
	}
	if v := Aggregate(ops); v.Valid {
		t.Fatal("a node answering every hour one hour late was found valid")
	}
}

func TestAggregateNeedsFinalReads(t *testing.T) {
	base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	ops := []history.Op{{F: "agg-setup", Type: history.OK, Value: base.Format(time.RFC3339Nano)},
		{Index: 1, F: "add", Type: history.OK, Ints: []int64{1}},
		{Index: 2, F: "final-agg", Type: history.Info, Node: "n1", Key: "hour/count"}}
	if v := Aggregate(ops); v.Valid || v.Stats["anomaly:no-final-aggregate"] == 0 {
		t.Fatalf("verdict %+v, want no-final-aggregate", v)
	}
}

func TestAggregateTimesAreUniqueAndWithinFiveDays(t *testing.T) {
	base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	seen := map[time.Time]bool{}
	for id := int64(0); id < 3*aggWrap; id += 7 {
		ts := AggTime(base, id)
		if seen[ts] {
			t.Fatalf("id %d shares its timestamp", id)
		}
		seen[ts] = true
		if ts.Before(base) || !ts.Before(base.Add(5*24*time.Hour)) {
			t.Fatalf("id %d at %s, outside five days from base", id, ts)
		}
	}
}

// FuzzAggregateAnswer: a saved history's aggregated answers (recheck reads
// them from a file) never make the checker panic; garbage is an anomaly.
func FuzzAggregateAnswer(f *testing.F) {
	f.Add("hour/count", `{"1764460800":3}`)
	f.Add("day/min", `{"x":1}`)
	f.Add("week/sum", `[]`)
	f.Add("hour", `{"-9223372036854775808":1e308}`)
	f.Fuzz(func(t *testing.T, key, value string) {
		base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
		ops := []history.Op{{F: "agg-setup", Type: history.OK, Value: base.Format(time.RFC3339Nano)},
			{Index: 1, F: "add", Type: history.OK, Ints: []int64{1, 2, 3}},
			{Index: 2, F: "final-agg", Type: history.OK, Node: "n1", Key: key, Value: value}}
		v := Aggregate(ops)
		if v.Valid {
			t.Fatalf("one answer cannot cover the 8 final reads, yet valid: %+v", v)
		}
	})
}
