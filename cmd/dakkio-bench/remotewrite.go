package main

import (
	"fmt"
	"math"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// --protocol rw: the same workload sent as Prometheus remote write 1.0 to
// POST /api/v1/write, one snappy-compressed WriteRequest a batch with a
// series per source and field: {__name__="<field>", sensor="sensor-001"}.
// dakkio names a series' source by its other labels, so the bench creates
// its sources under those names (sourceName) and the queries read the
// points back from them. Timestamps are milliseconds, as remote write's are.

// sourceName is the name the bench gives source i, so that the chosen
// protocol's writes land in it.
func sourceName(protocol string, i int) string {
	if protocol == "rw" { // remote write names a source by its labels
		return fmt.Sprintf(`{sensor="sensor-%03d"}`, i+1)
	}
	return fmt.Sprintf("sensor-%03d", i+1)
}

// nextRW is next for remote write.
func (g *generator) nextRW(buf []byte, n int) ([]byte, int) {
	nf := len(g.w.fields)
	if g.rwSeries == nil {
		g.rwSeries = make([]prompb.TimeSeries, len(g.w.sources)*nf)
		for s := range g.w.sources {
			for f := range nf {
				g.rwSeries[s*nf+f].Labels = []prompb.Label{
					{Name: "__name__", Value: g.w.fields[f].name},
					{Name: "sensor", Value: fmt.Sprintf("sensor-%03d", s+1)},
				}
			}
		}
	}
	for i := range g.rwSeries {
		g.rwSeries[i].Samples = g.rwSeries[i].Samples[:0]
	}
	count := 0
	for count < n && g.tick < g.w.ticks {
		ms := (g.w.start + g.tick*g.w.interval) / 1e6
		for f := range nf {
			v := g.step(g.src*nf+f, &g.w.fields[f])
			// Rounded to the field's decimals, as the JSON and line
			// protocol bodies write it, so every protocol stores the same.
			v = math.Round(v*float64(g.pow[f])) / float64(g.pow[f])
			s := &g.rwSeries[g.src*nf+f]
			s.Samples = append(s.Samples, prompb.Sample{Value: v, Timestamp: ms})
		}
		count++
		if g.src++; g.src == len(g.w.sources) {
			g.src = 0
			g.tick++
		}
	}
	if count == 0 {
		return buf[:0], 0
	}
	req := prompb.WriteRequest{Timeseries: g.rwReq[:0]}
	for _, s := range g.rwSeries {
		if len(s.Samples) > 0 {
			req.Timeseries = append(req.Timeseries, s)
		}
	}
	g.rwReq = req.Timeseries
	size := req.Size()
	if cap(g.rwRaw) < size {
		g.rwRaw = make([]byte, size)
	}
	raw := g.rwRaw[:size]
	if _, err := req.MarshalToSizedBuffer(raw); err != nil {
		panic(fmt.Sprintf("cannot marshal a remote-write request: %v", err)) // sized above: cannot happen
	}
	return snappy.Encode(buf[:cap(buf)], raw), count
}
