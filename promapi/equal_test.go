package promapi_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/util/teststorage"
)

// equalitySeries builds the fixture: three sources in one bucket and one
// in another, a gauge (temperature), a counter with resets (counter) and
// a sparse gauge (humidity); regular 15 s samples on whole seconds (so
// hour boundaries hold samples), one source at 7.5 s with millisecond
// jitter and a gap.
func equalitySeries(base int64) []fixtureSeries {
	rng := rand.New(rand.NewPCG(17, 42))
	round := func(f float64) float64 { return math.Round(f*100) / 100 }
	var out []fixtureSeries
	add := func(bucket, source string, every int64, jitter bool, gapFrom, gapTo int64) {
		temp := fixtureSeries{bucket: bucket, source: source, field: "temperature"}
		ctr := fixtureSeries{bucket: bucket, source: source, field: "counter"}
		hum := fixtureSeries{bucket: bucket, source: source, field: "humidity"}
		c, v := 0.0, 20.0
		for i, t := int64(0), base; t < base+8*3600_000; i, t = i+1, t+every {
			ts := t
			if jitter {
				ts += int64(rng.IntN(900))
			}
			if ts >= gapFrom && ts < gapTo {
				continue
			}
			v = round(v + rng.Float64() - 0.5)
			temp.samples = append(temp.samples, sample{ts, v})
			c += round(rng.Float64() * 10)
			if rng.IntN(200) == 0 {
				c = round(rng.Float64() * 5) // counter reset
			}
			ctr.samples = append(ctr.samples, sample{ts, c})
			if i%3 == 0 {
				hum.samples = append(hum.samples, sample{ts, round(40 + rng.Float64()*20)})
			}
		}
		out = append(out, temp, ctr, hum)
	}
	add("eq-a", "s1", 15_000, false, 0, 0)
	add("eq-a", "s2", 15_000, false, base+2*3600_000+600_000, base+3*3600_000+120_000)
	add("eq-a", "s3", 7_500, true, 0, 0)
	add("eq-b", "s1", 30_000, false, 0, 0)
	return out
}

// TestEqualToPrometheus loads the same samples into Prometheus' own engine
// (its test storage) and into a real node, runs every supported function,
// aggregation, matcher and offset as instant and range queries over the
// HTTP API, and requires the same series with values within 1e-9.
func TestEqualToPrometheus(t *testing.T) {
	base := time.Now().Add(-10 * time.Hour).Truncate(time.Hour).UnixMilli()
	series := equalitySeries(base)
	f := newFixture(t, series)

	st := teststorage.New(t)
	app := st.Appender(context.Background())
	for _, s := range series {
		l := labels.FromStrings(labels.MetricName, s.field, "bucket", s.bucket, "source", s.source)
		for _, smp := range s.samples {
			if _, err := app.Append(0, l, smp.t, smp.f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := promqltest.NewTestEngine(t, false, 0, 50_000_000)

	queries := []string{
		// Selectors and every matcher.
		`temperature`, `temperature{source="s1"}`, `temperature{source!="s1"}`, `{__name__=~"temp.*|humidity", source!~"s[23]"}`,
		`counter{source=~"s[12]", bucket="eq-a"}`, `humidity{bucket!="eq-b"}`, `temperature offset 10m`, `counter offset -5m`,
		// Functions of range vectors.
		`rate(counter[5m])`, `irate(counter[5m])`, `increase(counter[10m])`, `delta(temperature[10m])`, `rate(counter[1m] offset 30m)`,
		`avg_over_time(temperature[10m])`, `min_over_time(temperature[10m])`, `max_over_time(humidity[15m])`,
		`sum_over_time(counter[2m])`, `count_over_time(humidity[10m])`, `last_over_time(temperature[3m])`,
		`avg_over_time(temperature[1h])`, `sum_over_time(temperature[2h] offset 1h)`, `count_over_time(humidity[1h])`,
		// Aggregations.
		`sum(temperature)`, `avg by (source) (temperature)`, `max without (source) (temperature)`, `min(humidity) by (bucket)`,
		`count(temperature)`, `count by (__name__) ({source="s1"})`, `sum by (bucket) (rate(counter[5m]))`, `avg(avg_over_time(temperature[1h]))`,
		// Scalar arithmetic and comparisons.
		`temperature * 2 + 1`, `2 - temperature`, `temperature / 0`, `temperature % 3`, `temperature ^ 2`, `-temperature`,
		`temperature > 20`, `20 < temperature`, `temperature >= bool 20`, `1 + 2 * 3`, `10 == bool 10`, `(1 - 4) / 2`,
		`sum(rate(counter[5m])) * 60`, `max_over_time(temperature[10m]) != 20`,
	}
	hour := int64(3600_000)
	instants := []int64{base + 7*hour + 17_123, base + 3*hour, base + 8*hour + 2*60_000, base + 2*hour + 11*60_000}
	ranges := []struct{ start, end, step int64 }{
		{base + hour, base + 7*hour, 60_000},
		{base + 2*hour, base + 8*hour, hour},         // whole hours: the rollup path
		{base + hour + 7_000, base + 5*hour, 37_000}, // steps off every boundary
		{base + 2*hour, base + 8*hour + 3*hour, 2 * hour},
	}
	ctx := context.Background()
	for _, q := range queries {
		for _, at := range instants {
			name := fmt.Sprintf("instant %s at +%ds", q, (at-base)/1000)
			pq, err := engine.NewInstantQuery(ctx, st, nil, q, time.UnixMilli(at))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := fromPromQL(t, pq.Exec(ctx))
			status, body := promCall(t, f.n.URL, f.n.AdminKey, http.MethodGet, "/api/v1/query",
				url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at)/1000, 'f', -1, 64)}})
			if status != http.StatusOK {
				t.Errorf("%s: status %d: %s", name, status, body)
				continue
			}
			compare(t, name, want, decodeResult(t, body))
		}
		for _, r := range ranges {
			name := fmt.Sprintf("range %s from +%ds to +%ds step %ds", q, (r.start-base)/1000, (r.end-base)/1000, r.step/1000)
			pq, err := engine.NewRangeQuery(ctx, st, nil, q, time.UnixMilli(r.start), time.UnixMilli(r.end), time.Duration(r.step)*time.Millisecond)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := fromPromQL(t, pq.Exec(ctx))
			// POST as Grafana does, every other time.
			method := http.MethodGet
			if r.step == hour {
				method = http.MethodPost
			}
			status, body := promCall(t, f.n.URL, f.n.AdminKey, method, "/api/v1/query_range", url.Values{"query": {q},
				"start": {strconv.FormatFloat(float64(r.start)/1000, 'f', -1, 64)}, "end": {strconv.FormatFloat(float64(r.end)/1000, 'f', -1, 64)},
				"step": {strconv.FormatFloat(float64(r.step)/1000, 'f', -1, 64)}})
			if status != http.StatusOK {
				t.Errorf("%s: status %d: %s", name, status, body)
				continue
			}
			compare(t, name, want, decodeResult(t, body))
		}
	}
}

// fromPromQL turns the engine's answer into a promResult.
func fromPromQL(t *testing.T, res *promql.Result) promResult {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("prometheus: %v", res.Err)
	}
	out := promResult{series: map[string][]sample{}}
	key := func(l labels.Labels) string { return labelKey(l.Map()) }
	switch v := res.Value.(type) {
	case promql.Scalar:
		out.resultType = "scalar"
		out.series["{}"] = []sample{{v.T, v.V}}
	case promql.Vector:
		out.resultType = "vector"
		for _, s := range v {
			out.series[key(s.Metric)] = []sample{{s.T, s.F}}
		}
	case promql.Matrix:
		out.resultType = "matrix"
		for _, s := range v {
			for _, p := range s.Floats {
				out.series[key(s.Metric)] = append(out.series[key(s.Metric)], sample{p.T, p.F})
			}
		}
	default:
		t.Fatalf("prometheus answered a %T", res.Value)
	}
	return out
}

func compare(t *testing.T, name string, want, got promResult) {
	t.Helper()
	if want.resultType != got.resultType {
		t.Errorf("%s: resultType %s, want %s", name, got.resultType, want.resultType)
		return
	}
	var keys []string
	for k := range want.series {
		keys = append(keys, k)
	}
	for k := range got.series {
		if _, ok := want.series[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		w, g := want.series[k], got.series[k]
		if len(w) != len(g) {
			t.Errorf("%s: series %s has %d samples, want %d", name, k, len(g), len(w))
			bad++
			continue
		}
		for i := range w {
			if w[i].t != g[i].t || !closeEnough(w[i].f, g[i].f) {
				t.Errorf("%s: series %s sample %d is %v, want %v", name, k, i, g[i], w[i])
				bad++
				break
			}
		}
		if bad > 3 {
			return
		}
	}
}
