package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dakkio/dakkio/jepsen/history"
)

// maxPointsPerSeries bounds the dots of one series in the latency plot; the
// rest are thinned evenly (every failed or unknown call is always drawn),
// so a long run's page stays a few megabytes at most.
const maxPointsPerSeries = 3000

var (
	faultFill = color.NRGBA{R: 230, G: 80, B: 60, A: 50} // not premultiplied
	palette   = []color.Color{
		color.RGBA{R: 31, G: 119, B: 180, A: 255},
		color.RGBA{R: 255, G: 127, B: 14, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255},
		color.RGBA{R: 148, G: 103, B: 189, A: 255},
		color.RGBA{R: 140, G: 86, B: 75, A: 255},
		color.RGBA{R: 227, G: 119, B: 194, A: 255},
		color.RGBA{R: 127, G: 127, B: 127, A: 255},
		color.RGBA{R: 188, G: 189, B: 34, A: 255},
		color.RGBA{R: 23, G: 190, B: 207, A: 255},
	}
	typeGlyph = map[string]draw.GlyphDrawer{
		history.OK:   draw.CircleGlyph{},
		history.Fail: draw.TriangleGlyph{},
		history.Info: draw.CrossGlyph{},
	}
)

// clientOps are the operations of the workload's clients (not the nemesis).
func clientOps(ops []history.Op) []history.Op {
	var out []history.Op
	for _, op := range ops {
		if op.Process != history.NemesisProcess {
			out = append(out, op)
		}
	}
	return out
}

// shade adds one translucent band per fault window, from ylo to yhi.
func shade(p *plot.Plot, windows []Window, ylo, yhi float64) error {
	for _, w := range windows {
		poly, err := plotter.NewPolygon(plotter.XYs{{X: w.From, Y: ylo}, {X: w.To, Y: ylo}, {X: w.To, Y: yhi}, {X: w.From, Y: yhi}})
		if err != nil {
			return err
		}
		poly.Color = faultFill
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	return nil
}

// LatencySVG plots every client operation's latency (log scale) against
// the time it started, one colour per operation and one glyph per outcome
// (circle ok, triangle fail, cross unknown), over the shaded fault windows.
func LatencySVG(ops []history.Op, windows []Window, end float64) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Latency of each operation (shaded: faults in force)"
	p.X.Label.Text = "time since the run started (s)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	type key struct{ f, typ string }
	series := map[key]plotter.XYs{}
	ylo, yhi := math.Inf(1), 1.0
	for _, op := range clientOps(ops) {
		ms := math.Max(float64(op.End-op.Start)/1e6, 0.05)
		k := key{op.F, op.Type}
		if k.typ != history.OK && k.typ != history.Fail {
			k.typ = history.Info
		}
		series[k] = append(series[k], plotter.XY{X: seconds(op.Start), Y: ms})
		ylo, yhi = math.Min(ylo, ms), math.Max(yhi, ms)
	}
	if math.IsInf(ylo, 1) {
		ylo = 0.1
	}
	if err := shade(p, windows, ylo/2, yhi*2); err != nil {
		return nil, err
	}
	var fs []string
	seen := map[string]bool{}
	for k := range series {
		if !seen[k.f] {
			seen[k.f] = true
			fs = append(fs, k.f)
		}
	}
	sort.Strings(fs)
	for fi, f := range fs {
		for _, typ := range []string{history.OK, history.Fail, history.Info} {
			xys := series[key{f, typ}]
			if len(xys) == 0 {
				continue
			}
			if typ == history.OK && len(xys) > maxPointsPerSeries {
				thin := make(plotter.XYs, 0, maxPointsPerSeries)
				step := float64(len(xys)) / maxPointsPerSeries
				for i := 0.0; int(i) < len(xys); i += step {
					thin = append(thin, xys[int(i)])
				}
				xys = thin
			}
			s, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle.Color = palette[fi%len(palette)]
			s.GlyphStyle.Shape = typeGlyph[typ]
			s.GlyphStyle.Radius = vg.Points(1.6)
			p.Add(s)
			p.Legend.Add(fmt.Sprintf("%s %s (%d)", f, typ, len(series[key{f, typ}])), s)
		}
	}
	p.X.Min, p.X.Max = 0, math.Max(end, 1)
	// Set, not left to the data: a run stopped before any operation has
	// none, and a log axis cannot start at gonum's default 0.
	p.Y.Min, p.Y.Max = ylo/2, yhi*2
	return render(p, 26*vg.Centimeter, 12*vg.Centimeter)
}

// ThroughputSVG plots the client operations completed per second, by
// outcome, over the shaded fault windows.
func ThroughputSVG(ops []history.Op, windows []Window, end float64) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Throughput: operations completed per second (shaded: faults in force)"
	p.X.Label.Text = "time since the run started (s)"
	p.Y.Label.Text = "operations / s"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	bins := int(math.Ceil(math.Max(end, 1)))
	counts := map[string][]float64{}
	for _, typ := range []string{history.OK, history.Fail, history.Info} {
		counts[typ] = make([]float64, bins+1)
	}
	for _, op := range clientOps(ops) {
		typ := op.Type
		if typ != history.OK && typ != history.Fail {
			typ = history.Info
		}
		b := min(max(int(seconds(op.End)), 0), bins)
		counts[typ][b]++
	}
	yhi := 1.0
	for _, c := range counts {
		for _, v := range c {
			yhi = math.Max(yhi, v)
		}
	}
	if err := shade(p, windows, 0, yhi*1.05); err != nil {
		return nil, err
	}
	colors := map[string]color.Color{
		history.OK:   color.RGBA{G: 140, B: 60, A: 255},
		history.Fail: color.RGBA{R: 200, G: 120, A: 255},
		history.Info: color.RGBA{R: 200, B: 40, A: 255},
	}
	for _, typ := range []string{history.OK, history.Fail, history.Info} {
		xys := make(plotter.XYs, len(counts[typ]))
		total := 0.0
		for i, v := range counts[typ] {
			xys[i] = plotter.XY{X: float64(i) + 0.5, Y: v}
			total += v
		}
		if total == 0 && typ != history.OK {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = colors[typ]
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%d)", typ, int(total)), l)
	}
	p.X.Min, p.X.Max = 0, math.Max(end, 1)
	p.Y.Min = 0
	return render(p, 26*vg.Centimeter, 9*vg.Centimeter)
}

// render draws p as an SVG element to inline in HTML (no XML prolog).
func render(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("cannot render the plot: %w", err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return []byte(s), nil
}
