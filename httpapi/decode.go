package httpapi

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

var parserPool fastjson.ParserPool

// body is a parsed JSON object request body and the validation problems found
// while reading it. Values read from it are copies, safe after the handler.
type body struct {
	obj     *fastjson.Object
	details []Detail
}

// parseWith parses raw as a JSON object. Unparsable JSON is a Bad Request;
// well-formed JSON that is not an object is a Validation Error.
func parseWith(p *fastjson.Parser, raw []byte) (*body, *apiError) {
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, &apiError{Status: 400, Type: typeBadRequest, Message: "Request body is not valid JSON"}
	}
	if _, ok := loneSurrogate(raw); ok {
		return nil, &apiError{Status: 400, Type: typeBadRequest, Message: "Request body is not valid JSON"}
	}
	obj, err := v.Object()
	if err != nil {
		return nil, validationError("Invalid request body", Detail{Path: []any{"body"}, Message: "Expected object, received " + typeName(v)})
	}
	return &body{obj: obj}, nil
}

// withBody parses raw into a body, hands it to read, and turns collected
// details into one Validation Error. The parser is released after read, so
// read must copy what it keeps (every accessor below does).
func withBody(raw []byte, read func(b *body)) *apiError {
	p := parserPool.Get()
	defer parserPool.Put(p)
	b, aerr := parseWith(p, raw)
	if aerr != nil {
		return aerr
	}
	read(b)
	return b.err()
}

func (b *body) err() *apiError {
	if len(b.details) == 0 {
		return nil
	}
	return validationError("Invalid request body", b.details...)
}

func (b *body) fail(path []any, format string, args ...any) {
	b.details = append(b.details, Detail{Path: append([]any{"body"}, path...), Message: fmt.Sprintf(format, args...)})
}

func typeName(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeObject:
		return "object"
	case fastjson.TypeArray:
		return "array"
	case fastjson.TypeString:
		return "string"
	case fastjson.TypeNumber:
		return "number"
	default:
		return "boolean"
	}
}

// lookup returns the field's value; a JSON null counts as absent so that
// optional fields can be cleared by omission or null alike.
func (b *body) lookup(name string, required bool) *fastjson.Value {
	v := b.obj.Get(name)
	if v != nil && v.Type() == fastjson.TypeNull {
		if required {
			b.fail([]any{name}, "Expected value, received null")
			return nil
		}
		return nil
	}
	if v == nil && required {
		b.fail([]any{name}, "Required")
	}
	return v
}

func (b *body) has(name string) bool {
	v := b.obj.Get(name)
	return v != nil && v.Type() != fastjson.TypeNull
}

// text reads a string field, trims surrounding white space and checks its
// length in characters.
func (b *body) text(name string, required bool, minLen, maxLen int) (string, bool) {
	v := b.lookup(name, required)
	if v == nil {
		return "", false
	}
	return checkText(b, []any{name}, v, minLen, maxLen)
}

func checkText(b *body, path []any, v *fastjson.Value, minLen, maxLen int) (string, bool) {
	raw, err := v.StringBytes()
	if err != nil {
		b.fail(path, "Expected string, received %s", typeName(v))
		return "", false
	}
	s := strings.TrimSpace(string(raw))
	if !utf8.ValidString(s) {
		b.fail(path, "String must be valid UTF-8")
		return "", false
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		b.fail(path, "String must contain at least %d character(s)", minLen)
		return "", false
	}
	if n > maxLen {
		b.fail(path, "String must contain at most %d character(s)", maxLen)
		return "", false
	}
	return s, true
}

// enum reads a string field that must be one of allowed.
func (b *body) enum(name string, required bool, allowed ...string) (string, bool) {
	v := b.lookup(name, required)
	if v == nil {
		return "", false
	}
	return checkEnum(b, []any{name}, v, allowed)
}

func checkEnum(b *body, path []any, v *fastjson.Value, allowed []string) (string, bool) {
	raw, err := v.StringBytes()
	if err != nil {
		b.fail(path, "Expected string, received %s", typeName(v))
		return "", false
	}
	s := string(raw)
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	b.fail(path, "Invalid enum value. Expected '%s', received '%s'", strings.Join(allowed, "' | '"), s)
	return "", false
}

// integer reads an integer field within [lo, hi].
func (b *body) integer(name string, required bool, lo, hi int) (int, bool) {
	v := b.lookup(name, required)
	if v == nil {
		return 0, false
	}
	path := []any{name}
	if v.Type() != fastjson.TypeNumber {
		b.fail(path, "Expected number, received %s", typeName(v))
		return 0, false
	}
	f := v.GetFloat64()
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		b.fail(path, "Expected integer, received float")
		return 0, false
	}
	if f < float64(lo) {
		b.fail(path, "Number must be greater than or equal to %d", lo)
		return 0, false
	}
	if f > float64(hi) {
		b.fail(path, "Number must be less than or equal to %d", hi)
		return 0, false
	}
	return int(f), true
}

// boolean reads a boolean field.
func (b *body) boolean(name string, required bool) (bool, bool) {
	v := b.lookup(name, required)
	if v == nil {
		return false, false
	}
	t, err := v.Bool()
	if err != nil {
		b.fail([]any{name}, "Expected boolean, received %s", typeName(v))
		return false, false
	}
	return t, true
}

// page is a validated limit/offset pair.
type page struct{ limit, offset int }

// Bounds of list pagination.
const (
	defaultLimit = 100
	maxLimit     = 1000
	maxOffset    = 1_000_000_000
)

// parsePage reads limit and offset from the query string.
func parsePage(limitArg, offsetArg []byte) (page, *apiError) {
	p := page{limit: defaultLimit}
	var details []Detail
	if limitArg != nil {
		n, err := strconv.Atoi(string(limitArg))
		switch {
		case err != nil:
			details = append(details, Detail{Path: []any{"query", "limit"}, Message: "Expected integer, received " + strconv.Quote(string(limitArg))})
		case n < 1 || n > maxLimit:
			details = append(details, Detail{Path: []any{"query", "limit"}, Message: fmt.Sprintf("Number must be between 1 and %d", maxLimit)})
		default:
			p.limit = n
		}
	}
	if offsetArg != nil {
		n, err := strconv.Atoi(string(offsetArg))
		switch {
		case err != nil:
			details = append(details, Detail{Path: []any{"query", "offset"}, Message: "Expected integer, received " + strconv.Quote(string(offsetArg))})
		case n < 0 || n > maxOffset:
			details = append(details, Detail{Path: []any{"query", "offset"}, Message: fmt.Sprintf("Number must be between 0 and %d", maxOffset)})
		default:
			p.offset = n
		}
	}
	if details != nil {
		return page{}, validationError("Invalid pagination parameters", details...)
	}
	return p, nil
}

// loneSurrogate finds a \uXXXX escape of half a UTF-16 surrogate pair
// without its other half in a JSON text fastjson accepted: fastjson keeps
// such an escape as its six characters, so "\ud800" would be stored as
// that text instead of being refused like invalid UTF-8.
func loneSurrogate(raw []byte) (esc []byte, found bool) {
	for i := 0; ; {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 || i+j+1 >= len(raw) {
			return nil, false
		}
		i += j + 1
		if raw[i] != 'u' || i+5 > len(raw) {
			i++ // an escaped character, never itself the start of one
			continue
		}
		r, ok := hex4(raw[i+1 : i+5])
		switch {
		case !ok || r < 0xd800 || r > 0xdfff:
			i += 5
		case r <= 0xdbff && i+11 <= len(raw) && raw[i+5] == '\\' && raw[i+6] == 'u':
			if lo, ok := hex4(raw[i+7 : i+11]); ok && lo >= 0xdc00 && lo <= 0xdfff {
				i += 11 // a whole pair
				continue
			}
			return raw[i-1 : i+5], true
		default:
			return raw[i-1 : i+5], true
		}
	}
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func loneSurrogateProblem(esc []byte) string {
	return "string escape " + string(esc) + " is half a UTF-16 surrogate pair; strings must be valid Unicode"
}
