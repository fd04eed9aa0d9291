package main

import (
	"bytes"
	"encoding/json"
	"github.com/dakkio/dakkio/internal/remotewrite"
	"maps"
	"slices"
	"testing"
	"time"
)

func TestGenerator(t *testing.T) {
	start := time.Date(2026, 1, 1, 23, 59, 0, 0, time.UTC).UnixNano()
	w := &workload{
		sources:  []string{"65a000000000000000000001", "65a000000000000000000002", "65a000000000000000000003"},
		fields:   fieldsFor(3),
		start:    start,
		interval: int64(1500 * time.Millisecond),
		ticks:    100,
	}
	gen := func() [][]byte {
		g := newGenerator(w, "65a0000000000000000000ff", 7)
		var bodies [][]byte
		for {
			buf, n := g.next(nil, 64)
			if n == 0 {
				return bodies
			}
			bodies = append(bodies, buf)
		}
	}
	bodies := gen()
	type point struct {
		DataSourceID string             `json:"dataSourceId"`
		Timestamp    time.Time          `json:"timestamp"`
		Values       map[string]float64 `json:"values"`
	}
	var all []point
	for _, b := range bodies {
		var req struct {
			BucketID   string  `json:"bucketId"`
			DataPoints []point `json:"dataPoints"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, b)
		}
		if req.BucketID != "65a0000000000000000000ff" || len(req.DataPoints) == 0 || len(req.DataPoints) > 64 {
			t.Fatalf("bucket %q, %d points", req.BucketID, len(req.DataPoints))
		}
		all = append(all, req.DataPoints...)
	}
	if int64(len(all)) != w.points() {
		t.Fatalf("%d points, want %d", len(all), w.points())
	}
	for i, p := range all {
		tick, src := int64(i/3), i%3
		if want := time.Unix(0, start+tick*w.interval).UTC(); !p.Timestamp.Equal(want) {
			t.Fatalf("point %d at %v, want %v", i, p.Timestamp, want)
		}
		if p.DataSourceID != w.sources[src] {
			t.Fatalf("point %d of %s, want %s", i, p.DataSourceID, w.sources[src])
		}
		for _, f := range w.fields {
			v, ok := p.Values[f.name]
			if !ok || v < f.lo || v > f.hi {
				t.Fatalf("point %d: %s = %v (present %v), want in [%v, %v]", i, f.name, v, ok, f.lo, f.hi)
			}
		}
	}
	if again := gen(); !bytes.Equal(bytes.Join(again, nil), bytes.Join(bodies, nil)) {
		t.Fatal("same seed, different bodies")
	}
}

func TestAppendDecimal(t *testing.T) {
	tests := []struct {
		name     string
		v        float64
		decimals int
		want     string
	}{
		{"two decimals", 21.374, 2, "21.37"},
		{"rounds up", 21.375001, 2, "21.38"},
		{"trailing zero dropped", 21.4, 2, "21.4"},
		{"whole", 1013.001, 2, "1013"},
		{"one decimal", 55.06, 1, "55.1"},
		{"leading zero kept", 0.05, 2, "0.05"},
		{"negative", -3.25, 2, "-3.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pow := int64(1)
			for range tt.decimals {
				pow *= 10
			}
			if got := string(appendDecimal(nil, tt.v, pow, tt.decimals)); got != tt.want {
				t.Errorf("appendDecimal(%v, %d) = %q, want %q", tt.v, tt.decimals, got, tt.want)
			}
		})
	}
}

func TestWorkloadCounts(t *testing.T) {
	hour, day := int64(time.Hour), int64(24*time.Hour)
	end := time.Date(2026, 3, 1, 12, 34, 0, 0, time.UTC).UnixNano()
	iv := int64(10 * time.Second)
	w := &workload{sources: make([]string, 100), interval: iv, ticks: 60 * day / iv}
	w.start = end - w.ticks*iv
	if got := w.points(); got != 51_840_000 {
		t.Errorf("points = %d", got)
	}
	from := (w.start/hour + 1) * hour
	if got := w.ticksIn(from, from+30*day); got != 259_200 {
		t.Errorf("ticks in 30 days = %d, want 259200", got)
	}
	if got := w.windowsIn(from, from+30*day, hour); got != 720 {
		t.Errorf("hours in 30 days = %d, want 720", got)
	}
	if got := w.windowsIn(w.start, w.end(), day); got != 61 {
		t.Errorf("days touched = %d, want 61 (60 days not aligned to midnight)", got)
	}
	if got := w.ticksIn(w.start-iv/2, w.start+iv/2); got != 1 {
		t.Errorf("ticks around start = %d, want 1", got)
	}
}

func BenchmarkGenerator(b *testing.B) {
	w := &workload{sources: make([]string, 100), fields: fieldsFor(3), interval: int64(10 * time.Second), ticks: 1 << 40}
	for i := range w.sources {
		w.sources[i] = "65a000000000000000000001"
	}
	g := newGenerator(w, "65a0000000000000000000ff", 1)
	buf := make([]byte, 0, 256<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = g.next(buf, 1000)
	}
	b.SetBytes(int64(len(buf)))
}

// TestGeneratorRemoteWrite: the remote-write bodies, decoded as the node
// decodes them, hold the same points as the JSON bodies of the same seed,
// under the source names the bench creates for remote write.
func TestGeneratorRemoteWrite(t *testing.T) {
	w := &workload{
		sources:  []string{"65a000000000000000000001", "65a000000000000000000002", "65a000000000000000000003"},
		fields:   fieldsFor(3),
		start:    time.Date(2026, 1, 1, 23, 59, 0, 0, time.UTC).UnixNano(),
		interval: int64(1500 * time.Millisecond),
		ticks:    100,
	}
	type key struct {
		source, field string
		ms            int64
	}
	want := map[key]float64{}
	g := newGenerator(w, "65a0000000000000000000ff", 7)
	for {
		buf, n := g.next(nil, 64)
		if n == 0 {
			break
		}
		var req struct {
			DataPoints []struct {
				DataSourceID string             `json:"dataSourceId"`
				Timestamp    time.Time          `json:"timestamp"`
				Values       map[string]float64 `json:"values"`
			} `json:"dataPoints"`
		}
		if err := json.Unmarshal(buf, &req); err != nil {
			t.Fatal(err)
		}
		for _, p := range req.DataPoints {
			src := sourceName("rw", slices.Index(w.sources, p.DataSourceID))
			for f, v := range p.Values {
				want[key{src, f, p.Timestamp.UnixMilli()}] = v
			}
		}
	}
	got := map[key]float64{}
	g = newGenerator(w, "65a0000000000000000000ff", 7)
	g.rw = true
	for {
		buf, n := g.next(nil, 64)
		if n == 0 {
			break
		}
		req, err := remotewrite.Decode(buf, 1<<20)
		if err != nil {
			t.Fatalf("the node cannot decode a body: %v", err)
		}
		for _, ts := range req.Timeseries {
			s, err := remotewrite.Name(ts.Labels)
			if err != nil {
				t.Fatal(err)
			}
			for _, smp := range ts.Samples {
				got[key{s.Source, s.Field, smp.Timestamp}] = smp.Value
			}
		}
	}
	if int64(len(want)) != w.points()*3 || !maps.Equal(got, want) {
		t.Fatalf("remote write carries %d values, JSON %d (want %d); equal: %v", len(got), len(want), w.points()*3, maps.Equal(got, want))
	}
}
