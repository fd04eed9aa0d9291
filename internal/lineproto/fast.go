package lineproto

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// The fast path reads, without the library decoder, lines made only of
// plain names and simple values: "m,k=v,k2=v2 f=1.5,n=3i,u=4u,b=t 1700000000",
// tags sorted and distinct, single spaces, no escapes, quotes or
// non-ASCII bytes. A line it is not certain of goes to the decoder, so
// every error, and every line of another form, comes from the library.

// plain holds the bytes a fast line's names may hold: printable ASCII
// that the protocol neither escapes nor uses as a separator.
var plain = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = true
	}
	for _, c := range ",=\\\"" {
		t[c] = false
	}
	return t
}()

// isComment reports whether text, a line starting with '#', is a comment
// the decoder skips: no control bytes.
func isComment(text []byte) bool {
	for _, c := range text {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// fastLine fills p.line from text, a line without its line end, if it is
// in the fast form, as the decoder path would; false leaves the line to
// the decoder.
func (p *Parser) fastLine(text []byte, now int64) bool {
	l := &p.line
	i := 0
	for i < len(text) && plain[text[i]] {
		i++
	}
	if i == 0 || text[0] == '#' { // '#' starts a comment
		return false
	}
	mEnd := i
	l.Tags = l.Tags[:0]
	for i < len(text) && text[i] == ',' {
		k := i + 1
		for i = k; i < len(text) && plain[text[i]]; i++ {
		}
		if i == k || i == len(text) || text[i] != '=' {
			return false
		}
		v := i + 1
		for i = v; i < len(text) && plain[text[i]]; i++ {
		}
		if i == v {
			return false
		}
		t := Tag{Key: text[k : v-1 : v-1], Value: text[v:i:i]}
		// Unsorted or repeated keys: the decoder path sorts or refuses.
		if n := len(l.Tags); n > 0 && bytes.Compare(l.Tags[n-1].Key, t.Key) >= 0 {
			return false
		}
		l.Tags = append(l.Tags, t)
	}
	if i == len(text) || text[i] != ' ' {
		return false
	}
	sEnd := i
	i++
	l.Fields = l.Fields[:0]
	for {
		k := i
		for i < len(text) && plain[text[i]] {
			i++
		}
		if i == k || i == len(text) || text[i] != '=' {
			return false
		}
		key := text[k:i:i]
		i++
		v := i
		for i < len(text) && text[i] != ',' && text[i] != ' ' {
			i++
		}
		f, ok := fastValue(text[v:i])
		if !ok {
			return false
		}
		f.Key = key
		l.Fields = append(l.Fields, f)
		if i < len(text) && text[i] == ',' {
			i++
			continue
		}
		break
	}
	l.TS = now
	if i < len(text) { // text[i] is ' '
		ts, ok := fastTime(text[i+1:], p.unit)
		if !ok {
			return false
		}
		l.TS = ts
	}
	l.Measurement = text[:mEnd:mEnd]
	// Sorted unescaped tags: the series key is the line's own prefix.
	l.Series = text[:sEnd:sEnd]
	return true
}

// fastValue parses a field value: -?D+(.D+)?([eE][+-]?D+)? (float),
// -?D+i (int), D+u (uint) or a boolean word. Anything else, and numbers
// out of range, are for the decoder.
func fastValue(b []byte) (Field, bool) {
	n := len(b)
	if n == 0 {
		return Field{}, false
	}
	switch b[0] {
	case 't', 'T', 'f', 'F':
		switch string(b) {
		case "t", "T", "true", "True", "TRUE":
			return Field{Kind: Bool, Bool: true}, true
		case "f", "F", "false", "False", "FALSE":
			return Field{Kind: Bool}, true
		}
		return Field{}, false
	}
	switch b[n-1] {
	case 'i':
		if !isInt(b[:n-1]) {
			return Field{}, false
		}
		x, err := strconv.ParseInt(str(b[:n-1]), 10, 64)
		return Field{Num: float64(x)}, err == nil
	case 'u':
		if b[0] == '-' || !isInt(b[:n-1]) {
			return Field{}, false
		}
		x, err := strconv.ParseUint(str(b[:n-1]), 10, 64)
		return Field{Num: float64(x)}, err == nil
	}
	if x, ok := shortDecimal(b); ok {
		return Field{Num: x}, true
	}
	if !isFloat(b) {
		return Field{}, false
	}
	// The library's own parse: same bits, and overflow is its error.
	x, err := strconv.ParseFloat(str(b), 64)
	return Field{Num: x}, err == nil
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// shortDecimal reads b when it is -?D+(.D+)? with at most 15 digits in
// all, the shape of nearly every sensor reading, in one pass. Such a
// mantissa and its power of ten are both exact in a float64, so one
// division is correctly rounded: the same bits strconv.ParseFloat gives,
// by the same fast path, without its general scan (strconv was 3% of a
// node's CPU under line-protocol ingest).
func shortDecimal(b []byte) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var m uint64
	n, frac, dot := 0, 0, false
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			n++
			if dot {
				frac++
			}
		case c == '.' && !dot && n > 0:
			dot = true
		default:
			return 0, false
		}
	}
	if n == 0 || n > 15 || (dot && frac == 0) {
		return 0, false
	}
	x := float64(m) / exactPow10[frac]
	if neg {
		x = -x
	}
	return x, true
}

// digits returns how many decimal digits b starts with.
func digits(b []byte) int {
	i := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// isInt reports whether b is -?D+.
func isInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	return len(b) > 0 && digits(b) == len(b)
}

// isFloat reports whether b is -?D+(.D+)?([eE][+-]?D+)?.
func isFloat(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	n := digits(b)
	if n == 0 {
		return false
	}
	b = b[n:]
	if len(b) > 0 && b[0] == '.' {
		if n = digits(b[1:]); n == 0 {
			return false
		}
		b = b[1+n:]
	}
	if len(b) > 0 && (b[0] == 'e' || b[0] == 'E') {
		b = b[1:]
		if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
			b = b[1:]
		}
		if n = digits(b); n == 0 {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

// fastTime reads a timestamp -?D+ in unit; one out of range is for the
// decoder path, which names the error.
func fastTime(b []byte, unit time.Duration) (int64, bool) {
	if !isInt(b) {
		return 0, false
	}
	ts, ok := parseInt(b)
	if !ok {
		return 0, false
	}
	if u := int64(unit); u != 1 {
		if ts > math.MaxInt64/u || ts < math.MinInt64/u {
			return 0, false
		}
		ts *= u
	}
	return ts, true
}

// str views b as a string for strconv, which keeps no reference to it.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
