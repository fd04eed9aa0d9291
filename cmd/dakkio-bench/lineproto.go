package main

import (
	"fmt"
	"strconv"
)

// --protocol lp: the same workload written as InfluxDB line protocol to
// POST /api/v2/write, one line per point ("sensor-001 temperature=21.5,...
// <ns>"). The sources the bench creates are named as the series are, so
// the lines land in them and the queries check the same answers.

// ingestPath is where the ingest posts for the chosen protocol.
func ingestPath(protocol, bucketID string) string {
	switch protocol {
	case "lp":
		return "/api/v2/write?bucket=" + bucketID + "&precision=ns"
	case "rw":
		return "/api/v1/write"
	}
	return "/api/data/batch"
}

// nextLP is next for line protocol.
func (g *generator) nextLP(buf []byte, n int) ([]byte, int) {
	if g.lpNames == nil {
		for i := range g.w.sources {
			g.lpNames = append(g.lpNames, fmt.Appendf(nil, "sensor-%03d ", i+1))
		}
		for _, f := range g.w.fields {
			g.lpKeys = append(g.lpKeys, append([]byte(f.name), '='))
		}
	}
	buf = buf[:0]
	count := 0
	nf := len(g.w.fields)
	for count < n && g.tick < g.w.ticks {
		buf = append(buf, g.lpNames[g.src]...)
		for f := range nf {
			if f > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, g.lpKeys[f]...)
			buf = appendDecimal(buf, g.step(g.src*nf+f, &g.w.fields[f]), g.pow[f], g.w.fields[f].decimals)
		}
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, g.w.start+g.tick*g.w.interval, 10)
		buf = append(buf, '\n')
		count++
		if g.src++; g.src == len(g.w.sources) {
			g.src = 0
			g.tick++
		}
	}
	return buf, count
}
