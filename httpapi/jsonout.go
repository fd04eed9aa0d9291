package httpapi

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// The data endpoints answer with up to a thousand points; appending their JSON
// by hand instead of through encoding/json's reflection is several times
// faster there. These helpers are the whole of that encoder.

// writeRawJSON sends body, already a complete JSON document.
func writeRawJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// responseBuffer returns the response's own body buffer, emptied, for an
// answer to be appended to and handed back with writeResponseBuffer.
// fasthttp pools that buffer, so a large answer reuses the bytes of an
// earlier one instead of allocating and then copying its own.
func responseBuffer(ctx *fasthttp.RequestCtx) []byte {
	return ctx.Response.SwapBody(nil)[:0]
}

// writeResponseBuffer sends body, a complete JSON document appended to
// responseBuffer's slice.
func writeResponseBuffer(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.SwapBody(body)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Control characters, quotes
// and backslashes are escaped, as are U+2028 and U+2029 (line terminators in
// JavaScript); invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONFloat appends f the way encoding/json (and JavaScript) writes
// numbers: shortest form that reads back as f, exponent only for very small
// or large magnitudes. JSON has no NaN or Infinity: those (which only an
// overflowing sum can produce, since stored values are finite) become null.
func appendJSONFloat(dst []byte, f float64) []byte {
	if m, scale, ok := shortDecimal(f); ok {
		return appendDecimal(dst, m, scale)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// "1e-07" → "1e-7", as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// decimalScales are the scales shortDecimal tries: readings rarely have
// more decimals, and 1e-6 is where JSON numbers turn to exponents.
var decimalScales = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// shortDecimal returns f as m / 10^scale with the smallest scale at most 6
// at which that reads back as f, when |m| < 10^15 and f is not zero. That
// decimal is then the shortest that reads back as f, the digits
// strconv.AppendFloat's shortest form writes: any other decimal with no more
// digits is at least 10^-scale away, while f's rounding interval is narrower
// than 10^-scale / 4. Finding it costs a few multiplications, much less
// than the general shortest-digit search.
func shortDecimal(f float64) (int64, int, bool) {
	if f == 0 || !(math.Abs(f) < 1e15) { // NaN fails this too
		return 0, 0, false
	}
	for scale, p := range decimalScales {
		m := math.Round(f * p)
		if math.Abs(m) >= 1e15 {
			return 0, 0, false
		}
		if m/p == f {
			return int64(m), scale, true
		}
	}
	return 0, 0, false
}

// appendDecimal appends m / 10^scale in plain notation, digits written from
// the last, the point inserted on the way.
func appendDecimal(dst []byte, m int64, scale int) []byte {
	var buf [24]byte // 16 digits, a point, up to 6 zeros before them, a sign
	i := len(buf)
	u := uint64(m)
	if m < 0 {
		u = -u
	}
	for d := 0; u > 0 || d <= scale; d++ {
		if d == scale && scale > 0 {
			i--
			buf[i] = '.'
		}
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if m < 0 {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// appendJSONAny appends the values aggregation rows hold; anything else
// falls back to encoding/json.
func appendJSONAny(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case float64:
		return appendJSONFloat(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case string:
		return appendJSONString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// appendJSONMap appends m as an object with its keys in sorted order, so
// answers are stable.
func appendJSONMap(dst []byte, m map[string]any) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONAny(dst, m[k])
	}
	return append(dst, '}')
}
