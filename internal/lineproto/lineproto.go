package lineproto

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	lp "github.com/influxdata/line-protocol/v2/lineprotocol"
)

// Kind is a field's dakkio type.
type Kind uint8

const (
	Number Kind = iota // float, integer and unsigned fields
	String
	Bool
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case String:
		return "string"
	default:
		return "boolean"
	}
}

// Field is one field of a line. Key and Str alias the decoder's buffers:
// valid only during the visit.
type Field struct {
	Key  []byte
	Kind Kind
	Num  float64
	Str  []byte
	Bool bool
}

// Tag is one tag of a line, aliasing the decoder's buffers.
type Tag struct {
	Key, Value []byte
}

// Line is one parsed line. It is reused from line to line: a visitor keeps
// copies of what it needs.
type Line struct {
	Entry       int    // one-based index among the body's entries
	Series      []byte // measurement and sorted tags, escaped as in the protocol: "weather,site=north"
	Measurement []byte
	Tags        []Tag // sorted by key
	Fields      []Field
	TS          int64 // nanoseconds; the default time when the line has none
}

// Precision is the unit of the timestamps in a body.
type Precision = lp.Precision

// ParsePrecision reads the precision parameter of InfluxDB 2 (ns, us, ms,
// s) or 1 (n, u, ms, s; also h and m); empty means nanoseconds.
func ParsePrecision(s string) (Precision, time.Duration, error) {
	switch s {
	case "", "ns", "n":
		return lp.Nanosecond, time.Nanosecond, nil
	case "us", "u", "µs":
		return lp.Microsecond, time.Microsecond, nil
	case "ms":
		return lp.Millisecond, time.Millisecond, nil
	case "s":
		return lp.Second, time.Second, nil
	case "m":
		return lp.Second, time.Minute, nil
	case "h":
		return lp.Second, time.Hour, nil
	}
	return 0, 0, fmt.Errorf("%w %q", ErrPrecision, s)
}

// Parser reads bodies; reuse one per goroutine to keep its buffers.
type Parser struct {
	line       Line
	series     []byte
	buf        []byte
	tagSpans   [][2]span
	fieldSpans [][2]span
	unit       time.Duration

	libraryOnly bool // tests: no fast path, every line through the decoder
}

// Parse calls visit for each line of body, in order, stopping at the first
// error: a syntax error is an *Error naming its line, and so is an error
// visit makes with Errorf; its other errors come back as they are.
// Timestamps are in unit (from ParsePrecision); lines without one take now.
//
// Lines in a plain common form (fast.go) are parsed by hand; the library
// decoder reads the others, one line at a time, or the rest of the body
// when a line is not certain to be a whole entry.
func (p *Parser) Parse(body []byte, unit time.Duration, now int64, visit func(*Line) error) error {
	p.unit = unit
	defer p.forget()
	if p.libraryOnly {
		return p.parseLibrary(body, 0, 0, 0, now, visit)
	}
	entry, slow, fast := 0, 0, 0
	for start, line := 0, 0; start < len(body); line++ {
		end := len(body) // of the line, with its '\n'
		if i := bytes.IndexByte(body[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		text := body[start:end]
		text = bytes.TrimSuffix(text, []byte{'\n'})
		// "\r\n" and a final "\r" end a line for the decoder too.
		text = bytes.TrimSuffix(text, []byte{'\r'})
		switch {
		case len(text) == 0 || text[0] == '#' && isComment(text):
			// The decoder skips blank lines and comments without counting them.
		case p.fastLine(text, now):
			fast++
			entry++
			p.line.Entry = entry
			if err := visit(&p.line); err != nil {
				return p.lineError(line, err)
			}
		case slow > 16 && slow > fast:
			// Mostly unusual lines: a decoder per line would cost more
			// than it saves.
			return p.parseLibrary(body, start, line, entry, now, visit)
		default:
			slow++
			d := lp.NewDecoderWithBytes(body[start:end])
			if !d.Next() {
				break // blank or comment
			}
			// An entry read without error ended at this line's end, so
			// the decoder on the whole body would have read it the same.
			// On an error (or a string running on past the line) that
			// is not certain: the rest of the body goes to one decoder.
			if p.read(d, now) != nil || d.Next() {
				return p.parseLibrary(body, start, line, entry, now, visit)
			}
			entry++
			p.line.Entry = entry
			if err := visit(&p.line); err != nil {
				return p.lineError(line, err)
			}
		}
		start = end
	}
	return nil
}

// parseLibrary reads body[from:] with the library decoder as Parse did
// before the fast path: line is the number of lines before from, entry the
// number of entries.
func (p *Parser) parseLibrary(body []byte, from, line, entry int, now int64, visit func(*Line) error) error {
	rest := body[from:]
	d := lp.NewDecoderWithBytes(rest)
	for k := 1; d.Next(); k++ {
		entry++
		err := p.read(d, now)
		if err == nil {
			p.line.Entry = entry
			err = visit(&p.line)
		}
		var de *lp.DecodeError
		if err != nil && !errors.As(err, &de) {
			// The decoder does not say where an entry began.
			line += entryLine(rest, k) - 1
		}
		if err != nil {
			return p.lineError(line, err)
		}
	}
	return nil
}

// Errorf is what a visitor returns to refuse a line; Parse adds the line
// number.
func Errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// lineError attaches a line number to err: a decoder's errors count lines
// from the line after line; a visitor's refusal is about line+1.
func (p *Parser) lineError(line int, err error) error {
	var de *lp.DecodeError
	if errors.As(err, &de) {
		return &Error{Line: line + int(de.Line), Msg: de.Err.Error()}
	}
	var le *Error
	if errors.As(err, &le) {
		return &Error{Line: line + 1, Msg: le.Msg}
	}
	return err // not about the line: the visitor's own failure
}

// entryLine returns the line on which the n-th entry of body (well formed
// up to that entry) begins. Blank lines and comments are not entries, and
// a string field may run over several lines, so this follows the syntax:
// a newline ends an entry except inside a quoted field value.
func entryLine(body []byte, n int) int {
	line := 1
	for i := 0; i < len(body); {
		// At a line's start: skip a blank line or a comment.
		j := i
		for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\r') {
			j++
		}
		if j == len(body) || body[j] == '\n' || body[j] == '#' {
			for j < len(body) && body[j] != '\n' {
				j++
			}
			i = j + 1
			line++
			continue
		}
		if n--; n == 0 {
			return line
		}
		i, line = skipEntry(body, j, line)
	}
	return line
}

// skipEntry returns where the entry starting at i ends (after its newline)
// and the line number there.
func skipEntry(body []byte, i, line int) (int, int) {
	fields, afterEq := false, false // past the series; just past a field's '='
	for ; i < len(body); i++ {
		c := body[i]
		quote := c == '"' && afterEq
		afterEq = fields && c == '='
		switch {
		case c == '\\':
			i++ // an escaped byte
		case c == '\n':
			return i + 1, line + 1
		case c == ' ':
			fields = true
		case quote:
			// A string value: to its closing quote, newlines included.
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' && i+1 < len(body) {
					i++ // an escaped byte, which may be a newline too
				}
				if body[i] == '\n' {
					line++
				}
			}
		}
	}
	return i, line
}

// read decodes the current entry into p.line. The decoder's slices stay
// valid only until its next call (escaped text lives in its scratch
// buffer), so names and strings are copied into p.buf, by offset while
// it may still grow, then sliced.
func (p *Parser) read(d *lp.Decoder, now int64) error {
	l := &p.line
	p.buf = p.buf[:0]
	p.tagSpans = p.tagSpans[:0]
	p.fieldSpans = p.fieldSpans[:0]
	m, err := d.Measurement()
	if err != nil {
		return err
	}
	mSpan := p.keep(m)
	for {
		k, v, err := d.NextTag()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		p.tagSpans = append(p.tagSpans, [2]span{p.keep(k), p.keep(v)})
	}
	l.Fields = l.Fields[:0]
	for {
		k, v, err := d.NextField()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		f := Field{}
		var str span
		switch v.Kind() {
		case lp.Float:
			f.Num = v.FloatV()
		case lp.Int:
			f.Num = float64(v.IntV())
		case lp.Uint:
			f.Num = float64(v.UintV())
		case lp.String:
			f.Kind = String
			if !utf8.Valid(v.BytesV()) {
				return Errorf("field %q: string is not valid UTF-8", k)
			}
			str = p.keep(v.BytesV())
		case lp.Bool:
			f.Kind, f.Bool = Bool, v.BoolV()
		}
		if f.Kind == Number && (math.IsNaN(f.Num) || math.IsInf(f.Num, 0)) {
			return Errorf("field %q: number must be finite", k)
		}
		l.Fields = append(l.Fields, f)
		p.fieldSpans = append(p.fieldSpans, [2]span{p.keep(k), str})
	}
	if len(l.Fields) == 0 {
		return Errorf("no fields")
	}
	raw, err := d.TimeBytes()
	if err != nil {
		return err
	}
	l.TS = now
	if raw != nil {
		ts, ok := parseInt(raw)
		if !ok {
			return Errorf("invalid timestamp %q", raw)
		}
		if u := int64(p.unit); u != 1 {
			if ts > math.MaxInt64/u || ts < math.MinInt64/u {
				return Errorf("timestamp %d out of range", ts)
			}
			ts *= u
		}
		l.TS = ts
	}

	// p.buf is complete: slice it.
	l.Measurement = p.at(mSpan)
	l.Tags = l.Tags[:0]
	for _, t := range p.tagSpans {
		l.Tags = append(l.Tags, Tag{Key: p.at(t[0]), Value: p.at(t[1])})
	}
	for i, f := range p.fieldSpans {
		l.Fields[i].Key = p.at(f[0])
		if l.Fields[i].Kind == String {
			l.Fields[i].Str = p.at(f[1])
		}
	}
	cmp := func(a, b Tag) int { return bytes.Compare(a.Key, b.Key) }
	if !slices.IsSortedFunc(l.Tags, cmp) {
		slices.SortFunc(l.Tags, cmp)
	}
	for i := 1; i < len(l.Tags); i++ {
		if bytes.Equal(l.Tags[i].Key, l.Tags[i-1].Key) {
			return Errorf("duplicate tag %q", l.Tags[i].Key)
		}
	}
	p.series = appendEscaped(p.series[:0], l.Measurement, measurementEsc)
	for _, t := range l.Tags {
		p.series = append(p.series, ',')
		p.series = appendEscaped(p.series, t.Key, tagEsc)
		p.series = append(p.series, '=')
		p.series = appendEscaped(p.series, t.Value, tagEsc)
	}
	l.Series = p.series
	return nil
}

// parseInt reads a decimal int64, as strconv.ParseInt(s, 10, 64) would
// but without making a string of every line's timestamp.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg || len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:] // leading zeros do not count toward the 19 digits
	}
	if len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u), true // -1<<63 wraps to itself
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// forget drops the line's references into the body, so that a pooled
// Parser does not keep the last request's body alive.
func (p *Parser) forget() {
	l := &p.line
	l.Series, l.Measurement = nil, nil
	clear(l.Tags[:cap(l.Tags)])
	clear(l.Fields[:cap(l.Fields)])
}

type span struct{ start, end int }

func (p *Parser) keep(b []byte) span {
	start := len(p.buf)
	p.buf = append(p.buf, b...)
	return span{start, len(p.buf)}
}

func (p *Parser) at(s span) []byte { return p.buf[s.start:s.end:s.end] }

// Characters escaped with a backslash in a series key, as the protocol
// escapes them.
const (
	measurementEsc = ", "
	tagEsc         = ",= "
)

func appendEscaped(dst, b []byte, special string) []byte {
	if bytes.IndexAny(b, special+"\\") < 0 {
		return append(dst, b...)
	}
	for _, c := range b {
		if c == '\\' || bytes.IndexByte([]byte(special), c) >= 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}
