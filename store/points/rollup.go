package points

import (
	"encoding/binary"
	"math"
	"slices"
	"sort"
)

// rollup summarizes the points of one series over a span of time: an hour
// when stored, any window when built for a query. Merging two rollups of
// disjoint spans gives the rollup of their union, which is how hours become
// days, weeks and months without touching raw points.
type rollup struct {
	points int64
	minTS  int64
	maxTS  int64
	fields []fieldRollup // sorted by name
}

type fieldRollup struct {
	name     string
	kind     Kind
	count    int64
	sum      float64 // numbers only
	min, max float64 // numbers only
	firstTS  int64
	first    Value
	lastTS   int64
	last     Value
}

func newRollup() *rollup { return &rollup{minTS: math.MaxInt64, maxTS: math.MinInt64} }

func (r *rollup) field(name string, kind Kind) *fieldRollup {
	i := sort.Search(len(r.fields), func(i int) bool { return r.fields[i].name >= name })
	if i < len(r.fields) && r.fields[i].name == name {
		return &r.fields[i]
	}
	r.fields = append(r.fields, fieldRollup{})
	copy(r.fields[i+1:], r.fields[i:])
	r.fields[i] = fieldRollup{name: name, kind: kind, min: math.Inf(1), max: math.Inf(-1), firstTS: math.MaxInt64, lastTS: math.MinInt64}
	return &r.fields[i]
}

func (r *rollup) clone() *rollup {
	c := *r
	c.fields = slices.Clone(r.fields)
	return &c
}

// add counts one point at ts. Each (series, ts) must be added at most once.
func (r *rollup) add(ts int64, values []Value) {
	if r.fields == nil {
		r.fields = make([]fieldRollup, 0, len(values))
	}
	r.points++
	r.minTS = min(r.minTS, ts)
	r.maxTS = max(r.maxTS, ts)
	for i := range values {
		v := &values[i]
		// Points of a source usually carry the same fields, sorted as the
		// rollup's: the i-th value's field is then the i-th field.
		var f *fieldRollup
		if i < len(r.fields) && r.fields[i].name == v.Field {
			f = &r.fields[i]
		} else {
			f = r.field(v.Field, v.Kind)
		}
		f.count++
		if v.Kind == KindNumber && f.kind == KindNumber {
			f.sum += v.Num
			f.min = math.Min(f.min, v.Num)
			f.max = math.Max(f.max, v.Num)
		}
		if ts < f.firstTS {
			f.firstTS, f.first = ts, *v
		}
		if ts > f.lastTS {
			f.lastTS, f.last = ts, *v
		}
	}
}

// merge adds o, a rollup of a span disjoint from r's.
func (r *rollup) merge(o *rollup) {
	if r.fields == nil {
		r.fields = make([]fieldRollup, 0, len(o.fields))
	}
	r.points += o.points
	r.minTS = min(r.minTS, o.minTS)
	r.maxTS = max(r.maxTS, o.maxTS)
	for i := range o.fields {
		of := &o.fields[i]
		f := r.field(of.name, of.kind)
		f.count += of.count
		f.sum += of.sum
		f.min = math.Min(f.min, of.min)
		f.max = math.Max(f.max, of.max)
		if of.firstTS < f.firstTS {
			f.firstTS, f.first = of.firstTS, of.first
		}
		if of.lastTS > f.lastTS {
			f.lastTS, f.last = of.lastTS, of.last
		}
	}
}

// encode appends r's stored form.
func (r *rollup) encode(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.points))
	b = binary.AppendVarint(b, r.minTS)
	b = binary.AppendVarint(b, r.maxTS)
	b = binary.AppendUvarint(b, uint64(len(r.fields)))
	for i := range r.fields {
		f := &r.fields[i]
		b = binary.AppendUvarint(b, uint64(len(f.name)))
		b = append(b, f.name...)
		b = append(b, byte(f.kind))
		b = binary.AppendUvarint(b, uint64(f.count))
		if f.kind == KindNumber {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.sum))
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.min))
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.max))
		}
		b = binary.AppendVarint(b, f.firstTS)
		b = appendValue(b, &f.first)
		b = binary.AppendVarint(b, f.lastTS)
		b = appendValue(b, &f.last)
	}
	return b
}

func decodeRollup(b []byte) (*rollup, error) {
	r := &rollup{}
	return r, r.decode(b)
}

// decode sets r to the rollup stored in b, reusing r's memory: its field
// slice and, where they are equal, its field names. Decoding the hours of a
// series one after another into one rollup allocates nothing (but the text
// of string first/last values), where a fresh rollup each time would cost a
// rollup, a field slice and a string per field.
func (r *rollup) decode(b []byte) error {
	d := decoder{b: b}
	r.points, r.minTS, r.maxTS = int64(d.uvarint()), d.varint(), d.varint()
	n := d.uvarint()
	if n > uint64(len(b)) {
		return errCorrupt
	}
	prev := r.fields
	if uint64(cap(r.fields)) < n {
		r.fields = make([]fieldRollup, n)
	}
	r.fields = r.fields[:n]
	for i := range r.fields {
		raw := d.bytes(d.uvarint())
		var name string
		if i < len(prev) && prev[i].name == string(raw) {
			name = prev[i].name
		} else {
			name = string(raw)
		}
		f := &r.fields[i]
		*f = fieldRollup{name: name, kind: Kind(d.byte1()), count: int64(d.uvarint()), min: math.Inf(1), max: math.Inf(-1)}
		if f.kind == KindNumber {
			f.sum = math.Float64frombits(d.u64())
			f.min = math.Float64frombits(d.u64())
			f.max = math.Float64frombits(d.u64())
		}
		f.firstTS = d.varint()
		d.value(&f.first)
		f.first.Field = f.name
		f.lastTS = d.varint()
		d.value(&f.last)
		f.last.Field = f.name
	}
	return d.err
}

// reset empties r, keeping its memory for reuse.
func (r *rollup) reset() {
	r.points, r.minTS, r.maxTS = 0, math.MaxInt64, math.MinInt64
	r.fields = r.fields[:0]
}

// result returns the aggregate of each kept field, as Row.Values holds it.
func (r *rollup) result(agg Aggregation, keep func(string) bool) map[string]any {
	out := make(map[string]any, len(r.fields))
	for i := range r.fields {
		f := &r.fields[i]
		if f.count == 0 || (keep != nil && !keep(f.name)) {
			continue
		}
		numeric := f.kind == KindNumber
		switch agg {
		case AggAvg:
			if numeric {
				out[f.name] = f.sum / float64(f.count)
			}
		case AggMin:
			if numeric {
				out[f.name] = f.min
			}
		case AggMax:
			if numeric {
				out[f.name] = f.max
			}
		case AggSum:
			if numeric {
				out[f.name] = f.sum
			}
		case AggCount:
			out[f.name] = f.count
		case AggFirst:
			out[f.name] = f.first.any()
		case AggLast:
			out[f.name] = f.last.any()
		}
	}
	return out
}

func (v Value) any() any {
	switch v.Kind {
	case KindNumber:
		return v.Num
	case KindString:
		return v.Str
	default:
		return v.Bool
	}
}

// stats returns the summary of each kept numeric field, by name.
func (r *rollup) stats(keep func(string) bool) []FieldStats {
	var out []FieldStats
	for i := range r.fields {
		f := &r.fields[i]
		if f.count == 0 || f.kind != KindNumber || (keep != nil && !keep(f.name)) {
			continue
		}
		if out == nil {
			out = make([]FieldStats, 0, len(r.fields)-i)
		}
		out = append(out, FieldStats{Field: f.name, Count: f.count, Sum: f.sum, Min: f.min, Max: f.max,
			FirstTS: f.firstTS, First: f.first.Num, LastTS: f.lastTS, Last: f.last.Num})
	}
	return out
}
