package main

import (
	"fmt"
	"github.com/prometheus/prometheus/prompb"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// field is one value of every point: a reading that wanders around a base
// picked per source, inside [lo, hi], written with at most decimals digits.
type field struct {
	name     string
	unit     string
	lo, hi   float64
	decimals int
}

var sensorFields = []field{
	{"temperature", "°C", 15, 30, 2},
	{"humidity", "%", 30, 80, 1},
	{"pressure", "hPa", 990, 1030, 2},
	{"voltage", "V", 220, 240, 1},
	{"current", "A", 0.5, 15, 2},
	{"co2", "ppm", 400, 1200, 1},
	{"light", "lx", 0, 1000, 1},
	{"wind_speed", "m/s", 0, 25, 2},
}

// fieldsFor returns the first n sensor fields, then generic ones.
func fieldsFor(n int) []field {
	fs := make([]field, n)
	for i := range fs {
		if i < len(sensorFields) {
			fs[i] = sensorFields[i]
			continue
		}
		fs[i] = field{name: fmt.Sprintf("sensor%d", i+1), lo: 0, hi: 100, decimals: 2}
	}
	return fs
}

// workload is the points to ingest: one per source per tick, ticks interval
// apart from start; times are Unix nanoseconds.
type workload struct {
	sources  []string // data source ids
	fields   []field
	start    int64
	interval int64
	ticks    int64
}

func (w *workload) points() int64 { return w.ticks * int64(len(w.sources)) }

// end is the instant after the last tick: the data covers [start, end).
func (w *workload) end() int64 { return w.start + w.ticks*w.interval }

// ticksIn counts the ticks in [from, to).
func (w *workload) ticksIn(from, to int64) int64 {
	first := max(0, ceilDiv(from-w.start, w.interval))
	last := min(w.ticks, ceilDiv(to-w.start, w.interval)) // exclusive
	return max(0, last-first)
}

// windowsIn counts the windows of length win (aligned to the Unix epoch, as
// UTC hours and days are) holding at least one tick in [from, to).
func (w *workload) windowsIn(from, to, win int64) int {
	first := max(0, ceilDiv(from-w.start, w.interval))
	last := min(w.ticks, ceilDiv(to-w.start, w.interval))
	n, prev := 0, int64(math.MinInt64)
	for k := first; k < last; k++ {
		if idx := (w.start + k*w.interval) / win; idx != prev {
			n, prev = n+1, idx
		}
	}
	return n
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

// generator writes the workload as POST /api/data/batch bodies, tick by
// tick. It appends bytes by hand into the caller's buffers: it shares the
// machine with the server, so it has to be cheap.
type generator struct {
	w      *workload
	rng    *rand.Rand
	head   []byte   // {"bucketId":"…","dataPoints":[
	prefix [][]byte // per source: {"dataSourceId":"…","timestamp":"
	keys   [][]byte // per field: "name":
	val    []float64
	base   []float64
	pow    []int64 // 10^decimals per field
	tick   int64
	src    int
	day    int64
	date   []byte // "2006-01-02T" of day
	// lp writes line protocol instead (lineproto.go).
	lp              bool
	lpNames, lpKeys [][]byte
	// rw writes Prometheus remote write instead (remotewrite.go).
	rw       bool
	rwSeries []prompb.TimeSeries // per source and field
	rwReq    []prompb.TimeSeries // the batch's series with samples
	rwRaw    []byte              // the marshalled request
}

func newGenerator(w *workload, bucketID string, seed uint64) *generator {
	g := &generator{
		w:    w,
		rng:  rand.New(rand.NewPCG(seed, 0x6461_6b6b_696f)),
		head: fmt.Appendf(nil, `{"bucketId":%q,"dataPoints":[`, bucketID),
		day:  -1,
	}
	for _, id := range w.sources {
		g.prefix = append(g.prefix, fmt.Appendf(nil, `{"dataSourceId":%q,"timestamp":"`, id))
	}
	for _, f := range w.fields {
		g.keys = append(g.keys, strconv.AppendQuote(nil, f.name))
		g.keys[len(g.keys)-1] = append(g.keys[len(g.keys)-1], ':')
		p := int64(1)
		for range f.decimals {
			p *= 10
		}
		g.pow = append(g.pow, p)
	}
	for range w.sources {
		for _, f := range w.fields {
			span := f.hi - f.lo
			b := f.lo + span/4 + g.rng.Float64()*span/2
			g.base = append(g.base, b)
			g.val = append(g.val, b+g.rng.NormFloat64()*span/50)
		}
	}
	return g
}

// next writes a body of up to n points into buf[:0] and says how many it
// holds: 0 once the workload is done.
func (g *generator) next(buf []byte, n int) ([]byte, int) {
	if g.lp {
		return g.nextLP(buf, n)
	}
	if g.rw {
		return g.nextRW(buf, n)
	}
	buf = append(buf[:0], g.head...)
	count := 0
	nf := len(g.w.fields)
	for count < n && g.tick < g.w.ticks {
		if count > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, g.prefix[g.src]...)
		buf = g.appendTime(buf, g.w.start+g.tick*g.w.interval)
		buf = append(buf, `","values":{`...)
		for f := range nf {
			if f > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, g.keys[f]...)
			buf = appendDecimal(buf, g.step(g.src*nf+f, &g.w.fields[f]), g.pow[f], g.w.fields[f].decimals)
		}
		buf = append(buf, "}}"...)
		count++
		if g.src++; g.src == len(g.w.sources) {
			g.src = 0
			g.tick++
		}
	}
	return append(buf, "]}"...), count
}

// step moves reading i one tick along its random walk, pulled gently back to
// its base and kept inside the field's range.
func (g *generator) step(i int, f *field) float64 {
	span := f.hi - f.lo
	v := g.val[i] + (g.base[i]-g.val[i])*0.002 + g.rng.NormFloat64()*span*0.002
	v = min(max(v, f.lo), f.hi)
	g.val[i] = v
	return v
}

// appendTime writes ts as RFC 3339 in UTC, without the surrounding quotes.
func (g *generator) appendTime(b []byte, ts int64) []byte {
	sec, nsec := ts/1e9, ts%1e9
	if day := sec / 86400; day != g.day {
		g.day = day
		g.date = time.Unix(day*86400, 0).UTC().AppendFormat(g.date[:0], "2006-01-02T")
	}
	b = append(b, g.date...)
	s := sec % 86400
	b = append2(b, s/3600)
	b = append(b, ':')
	b = append2(b, s/60%60)
	b = append(b, ':')
	b = append2(b, s%60)
	if nsec != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + nsec%10)
			nsec /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

func append2(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendDecimal writes v rounded to decimals digits (pow = 10^decimals),
// without trailing zeros; digits go right to left, dividing by constants only.
func appendDecimal(b []byte, v float64, pow int64, decimals int) []byte {
	n := int64(math.Round(v * float64(pow)))
	neg := n < 0
	if neg {
		n = -n
	}
	var d [24]byte
	i := len(d)
	frac := false // a fraction digit written: the zeros after it are kept
	for range decimals {
		digit := byte('0' + n%10)
		n /= 10
		if digit == '0' && !frac {
			continue
		}
		frac = true
		i--
		d[i] = digit
	}
	if frac {
		i--
		d[i] = '.'
	}
	for {
		i--
		d[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			break
		}
	}
	if neg {
		i--
		d[i] = '-'
	}
	return append(b, d[i:]...)
}
