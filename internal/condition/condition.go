package condition

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operators, as they appear in Condition.Operator.
const (
	OpGT     = "gt"
	OpLT     = "lt"
	OpEQ     = "eq"
	OpNE     = "ne"
	OpGTE    = "gte"
	OpLTE    = "lte"
	OpNoData = "nodata"
)

// Limits on what Parse accepts.
const (
	MaxLength          = 500         // characters in the whole condition
	MaxDurationMinutes = 7 * 24 * 60 // "for N minutes/hours", and the nodata window
	maxFieldLength     = 64
)

// ErrInvalid is what every error from Parse wraps, so callers can map it to
// a 400 without matching text.
var ErrInvalid = errors.New("invalid condition")

// ParseError says why a condition could not be parsed, in words meant for the
// API user who wrote it.
type ParseError struct {
	Input  string // the condition as given (shortened when it is too long)
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("cannot parse condition %q: %s", e.Input, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Condition is a parsed alert condition.
type Condition struct {
	Field           string  `json:"field,omitempty"`           // empty for nodata
	Operator        string  `json:"operator"`                  // gt lt eq ne gte lte nodata
	Value           float64 `json:"value"`                     // threshold; 0 for nodata
	DurationMinutes int     `json:"durationMinutes,omitempty"` // "for N minutes/hours"; for nodata the window
}

// phrase is one way of writing an operator, as lower-case words.
type phrase struct {
	words []string
	op    string
}

// phrases lists every accepted operator phrase, in the order error messages
// show them. No phrase is a word-prefix of another, so the first match wins.
var phrases = []phrase{
	{[]string{"is", "greater", "than"}, OpGT},
	{[]string{"exceeds"}, OpGT},
	{[]string{"is", "above"}, OpGT},
	{[]string{"is", "less", "than"}, OpLT},
	{[]string{"drops", "below"}, OpLT},
	{[]string{"is", "below"}, OpLT},
	{[]string{"equals"}, OpEQ},
	{[]string{"is", "equal", "to"}, OpEQ},
	{[]string{"is", "not", "equal", "to"}, OpNE},
	{[]string{"is", "at", "least"}, OpGTE},
	{[]string{"is", "at", "most"}, OpLTE},
}

// canonical is the phrase String writes for each threshold operator.
var canonical = map[string]string{
	OpGT:  "is greater than",
	OpLT:  "is less than",
	OpEQ:  "equals",
	OpNE:  "is not equal to",
	OpGTE: "is at least",
	OpLTE: "is at most",
}

var symbols = map[string]string{
	OpGT:     ">",
	OpLT:     "<",
	OpEQ:     "==",
	OpNE:     "!=",
	OpGTE:    ">=",
	OpLTE:    "<=",
	OpNoData: "nodata",
}

// Units of a duration and their length in minutes.
var units = map[string]int{
	"minute": 1, "minutes": 1, "min": 1, "mins": 1,
	"hour": 60, "hours": 60, "hr": 60, "hrs": 60,
}

const (
	example       = `as in "temperature exceeds 30"`
	exampleFor    = `as in "for 5 minutes" or "for 2 hours"`
	exampleNoData = `as in "no data received for 10 minutes"`
)

// acceptedPhrases is the list of operator phrases for error messages.
var acceptedPhrases = func() string {
	q := make([]string, len(phrases))
	for i, p := range phrases {
		q[i] = strconv.Quote(strings.Join(p.words, " "))
	}
	return strings.Join(q, ", ")
}()

// Parse reads a condition such as "temperature exceeds 30 for 5 minutes" or
// "no data received for 10 minutes". Phrases are matched without regard to
// ASCII case; the field keeps its case. Words may be separated by any run of
// white space, and one trailing period is allowed. Every error is a
// *ParseError wrapping ErrInvalid.
func Parse(s string) (Condition, error) {
	if n := utf8.RuneCountInString(s); n > MaxLength {
		short := string([]rune(s)[:40]) + "..."
		return Condition{}, &ParseError{Input: short,
			Reason: fmt.Sprintf("it is %d characters long; at most %d are allowed", n, MaxLength)}
	}
	p := parser{input: s}
	return p.parse()
}

type parser struct {
	input string
	toks  []string
}

func (p *parser) errorf(format string, args ...any) error {
	return &ParseError{Input: p.input, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (Condition, error) {
	body := strings.TrimSuffix(strings.TrimSpace(p.input), ".")
	if strings.HasSuffix(body, ".") {
		// "5.." is not 5 with a period: one period may end the sentence.
		return Condition{}, p.errorf(`it ends in more than one period; at most one may end it`)
	}
	p.toks = strings.Fields(body)
	if len(p.toks) == 0 {
		return Condition{}, p.errorf(`it is empty; expected a field, a comparison and a number, %s, or %s`, example, exampleNoData)
	}
	if len(p.toks) >= 2 && foldEq(p.toks[0], "no") && foldEq(p.toks[1], "data") {
		return p.parseNoData()
	}

	field := p.toks[0]
	if !validField(field) {
		return Condition{}, p.errorf(`field name %q must start with a letter or "_" and contain only letters, digits, "_", "." or "-" (at most %d characters)`, field, maxFieldLength)
	}
	if len(p.toks) == 1 {
		return Condition{}, p.errorf(`expected a comparison after %q, one of %s; %s`, field, acceptedPhrases, example)
	}
	op, n := matchPhrase(p.toks[1:])
	if op == "" {
		if o, _ := matchPhrase(p.toks); o != "" {
			return Condition{}, p.errorf(`expected a field name before %q, %s`, p.toks[0], example)
		}
		// "room temp exceeds 30": the user wrote a field name with a space.
		for j := 2; j < len(p.toks); j++ {
			if o, _ := matchPhrase(p.toks[j:]); o != "" {
				return Condition{}, p.errorf(`field names cannot contain spaces, but %q comes before %q; expected a single word such as "room_temp"`,
					strings.Join(p.toks[:j], " "), p.toks[j])
			}
		}
		return Condition{}, p.errorf(`expected a comparison after %q, one of %s; %s`, field, acceptedPhrases, example)
	}
	opText := strings.Join(p.toks[1:1+n], " ")
	i := 1 + n

	if i >= len(p.toks) {
		return Condition{}, p.errorf(`expected a number after %q, %s`, opText, example)
	}
	v, why := parseNumber(p.toks[i])
	if why != "" {
		return Condition{}, p.errorf(`expected a number after %q but got %q (%s), %s`, opText, p.toks[i], why, example)
	}
	i++

	c := Condition{Field: field, Operator: op, Value: v}
	if i == len(p.toks) {
		return c, nil
	}
	if !foldEq(p.toks[i], "for") {
		return Condition{}, p.errorf(`unexpected %q after the number %s; only a duration may follow, %s`, p.toks[i], p.toks[i-1], exampleFor)
	}
	d, err := p.parseDuration(i + 1)
	if err != nil {
		return Condition{}, err
	}
	c.DurationMinutes = d
	return c, nil
}

// parseNoData parses the rest of "no data [received] for N minutes".
func (p *parser) parseNoData() (Condition, error) {
	i := 2
	if i < len(p.toks) && foldEq(p.toks[i], "received") {
		i++
	}
	if i >= len(p.toks) || !foldEq(p.toks[i], "for") {
		return Condition{}, p.errorf(`expected "for" and a duration after %q, %s`, strings.Join(p.toks[:i], " "), exampleNoData)
	}
	d, err := p.parseDuration(i + 1)
	if err != nil {
		return Condition{}, err
	}
	return Condition{Operator: OpNoData, DurationMinutes: d}, nil
}

// parseDuration parses "N unit" at toks[i:], which must end the input; the
// "for" before it has been consumed.
func (p *parser) parseDuration(i int) (int, error) {
	if i >= len(p.toks) {
		return 0, p.errorf(`expected a duration after "for", %s`, exampleFor)
	}
	numTok := p.toks[i]
	if !allDigits(numTok) {
		return 0, p.errorf(`expected a whole number of minutes or hours after "for" but got %q, %s`, numTok, exampleFor)
	}
	if i+1 >= len(p.toks) {
		return 0, p.errorf(`expected "minutes" or "hours" after "for %s", %s`, numTok, exampleFor)
	}
	unitTok := p.toks[i+1]
	mult, ok := units[asciiLower(unitTok)]
	if !ok {
		return 0, p.errorf(`expected "minutes" or "hours" after "for %s" but got %q, %s`, numTok, unitTok, exampleFor)
	}
	n, err := strconv.Atoi(numTok)
	if err != nil || n > MaxDurationMinutes/mult {
		return 0, p.errorf(`duration "%s %s" is too long; at most %d minutes (7 days) is allowed`, numTok, unitTok, MaxDurationMinutes)
	}
	if n == 0 {
		return 0, p.errorf(`duration must be at least 1 minute, not "%s %s"`, numTok, unitTok)
	}
	if i+2 < len(p.toks) {
		return 0, p.errorf(`unexpected %q after "for %s %s"; the duration ends the condition`, p.toks[i+2], numTok, unitTok)
	}
	return n * mult, nil
}

// matchPhrase returns the operator whose phrase starts toks, and the number
// of words it takes, or "" if none does.
func matchPhrase(toks []string) (op string, n int) {
next:
	for _, ph := range phrases {
		if len(ph.words) > len(toks) {
			continue
		}
		for k, w := range ph.words {
			if !foldEq(toks[k], w) {
				continue next
			}
		}
		return ph.op, len(ph.words)
	}
	return "", 0
}

// parseNumber accepts a finite decimal number, optionally signed and with an
// exponent ("30", "-2.5", ".5", "1e3"). Hex, underscores, NaN and Inf, all of
// which strconv.ParseFloat would take, are refused. It returns a reason on
// failure.
func parseNumber(s string) (float64, string) {
	lower := asciiLower(strings.TrimLeft(s, "+-"))
	if lower == "nan" || lower == "inf" || lower == "infinity" {
		return 0, "it must be a finite number"
	}
	if !decimalSyntax(s) {
		return 0, "it must be a plain decimal number such as 30, -2.5 or 1e3"
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, "it is out of range"
	}
	if v == 0 {
		v = 0 // no negative zero: "-0" means 0
	}
	return v, ""
}

// decimalSyntax reports whether s is [+-] digits [. digits] [e [+-] digits],
// with at least one digit before or after the point.
func decimalSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

// validField reports whether s matches ^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$, the
// same rule the data source schema applies to field names.
func validField(s string) bool {
	if len(s) == 0 || len(s) > maxFieldLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if i == 0 && !letter {
			return false
		}
		if !letter && !isDigit(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// asciiLower lower-cases ASCII letters only. strings.ToLower would also fold
// the Kelvin sign to "k", letting look-alike characters match a phrase.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// foldEq reports whether tok equals the lower-case word w, ignoring ASCII case.
func foldEq(tok, w string) bool {
	return len(tok) == len(w) && asciiLower(tok) == w
}

// Holds reports whether v meets the threshold comparison. It is false for
// nodata, which is about time rather than values, and for NaN. Equality is
// exact: the threshold and ingested values are both parsed from decimal text,
// so the same text gives the same float64.
func (c Condition) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch c.Operator {
	case OpGT:
		return v > c.Value
	case OpLT:
		return v < c.Value
	case OpEQ:
		return v == c.Value
	case OpNE:
		return v != c.Value
	case OpGTE:
		return v >= c.Value
	case OpLTE:
		return v <= c.Value
	}
	return false
}

// Symbol returns the operator as the webhook payload shows it: ">", "<",
// "==", "!=", ">=", "<=" or "nodata"; "" for an unknown operator.
func (c Condition) Symbol() string { return symbols[c.Operator] }

// String returns the condition in canonical English, which Parse reads back
// to the same Condition: "temperature is greater than 30 for 5 minutes",
// "no data received for 2 hours".
func (c Condition) String() string {
	if c.Operator == OpNoData {
		return "no data received for " + formatDuration(c.DurationMinutes)
	}
	ph, ok := canonical[c.Operator]
	if !ok {
		ph = c.Operator
	}
	s := c.Field + " " + ph + " " + formatNumber(c.Value)
	if c.DurationMinutes > 0 {
		s += " for " + formatDuration(c.DurationMinutes)
	}
	return s
}

// formatNumber writes v without an exponent where that stays short, and in
// the shortest form that parses back to v.
func formatNumber(v float64) string {
	if a := math.Abs(v); a == 0 || a >= 1e-4 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func formatDuration(m int) string {
	switch {
	case m == 60:
		return "1 hour"
	case m%60 == 0 && m > 0:
		return strconv.Itoa(m/60) + " hours"
	case m == 1:
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}
