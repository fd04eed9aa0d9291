package condition

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// Every operator phrase of the API, with the operator it means.
var phraseCases = []struct {
	phrase string
	op     string
}{
	{"is greater than", OpGT},
	{"exceeds", OpGT},
	{"is above", OpGT},
	{"is less than", OpLT},
	{"drops below", OpLT},
	{"is below", OpLT},
	{"equals", OpEQ},
	{"is equal to", OpEQ},
	{"is not equal to", OpNE},
	{"is at least", OpGTE},
	{"is at most", OpLTE},
}

// caseVariants writes a phrase in lower, upper, title and alternating case.
func caseVariants(s string) map[string]string {
	title := []byte(s)
	alt := []byte(s)
	for i := range title {
		if i == 0 || title[i-1] == ' ' {
			title[i] = strings.ToUpper(string(title[i]))[0]
		}
		if i%2 == 1 {
			alt[i] = strings.ToUpper(string(alt[i]))[0]
		}
	}
	return map[string]string{
		"lower": s,
		"upper": strings.ToUpper(s),
		"title": string(title),
		"mixed": string(alt),
	}
}

// validCases lists inputs Parse accepts, beyond the phrase-by-case matrix.
var validCases = []struct {
	name string
	in   string
	want Condition
}{
	{"brief example", "temperature exceeds 30", Condition{Field: "temperature", Operator: OpGT, Value: 30}},
	{"canonical with duration", "temperature is greater than 30 for 5 minutes", Condition{Field: "temperature", Operator: OpGT, Value: 30, DurationMinutes: 5}},
	{"field case kept", "Temp_C is below 0", Condition{Field: "Temp_C", Operator: OpLT, Value: 0}},
	{"field with dot and dash", "sensor.temp-1 equals 4", Condition{Field: "sensor.temp-1", Operator: OpEQ, Value: 4}},
	{"field starting with underscore", "_x is at most 1", Condition{Field: "_x", Operator: OpLTE, Value: 1}},
	{"field of 64 characters", strings.Repeat("f", 64) + " exceeds 1", Condition{Field: strings.Repeat("f", 64), Operator: OpGT, Value: 1}},
	{"field named like a keyword", "no exceeds 1", Condition{Field: "no", Operator: OpGT, Value: 1}},
	{"field named like a phrase word", "is is above 1", Condition{Field: "is", Operator: OpGT, Value: 1}},
	{"field named for", "for exceeds 1 for 2 minutes", Condition{Field: "for", Operator: OpGT, Value: 1, DurationMinutes: 2}},
	{"negative number", "temp drops below -3", Condition{Field: "temp", Operator: OpLT, Value: -3}},
	{"plus sign", "temp exceeds +3", Condition{Field: "temp", Operator: OpGT, Value: 3}},
	{"decimal", "temp exceeds 30.5", Condition{Field: "temp", Operator: OpGT, Value: 30.5}},
	{"leading point", "temp exceeds .5", Condition{Field: "temp", Operator: OpGT, Value: 0.5}},
	{"trailing point", "temp exceeds 5. for 1 minute", Condition{Field: "temp", Operator: OpGT, Value: 5, DurationMinutes: 1}},
	{"exponent", "temp exceeds 1e3", Condition{Field: "temp", Operator: OpGT, Value: 1000}},
	{"signed exponent", "temp exceeds 2.5E-3", Condition{Field: "temp", Operator: OpGT, Value: 0.0025}},
	{"huge finite", "temp exceeds 1e300", Condition{Field: "temp", Operator: OpGT, Value: 1e300}},
	{"tiny", "temp exceeds 1e-300", Condition{Field: "temp", Operator: OpGT, Value: 1e-300}},
	{"negative zero is zero", "temp equals -0", Condition{Field: "temp", Operator: OpEQ, Value: 0}},
	{"leading zeros", "temp exceeds 007", Condition{Field: "temp", Operator: OpGT, Value: 7}},
	{"1 minute", "temp exceeds 1 for 1 minute", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 1}},
	{"5 minutes", "temp exceeds 1 for 5 minutes", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"min", "temp exceeds 1 for 5 min", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"mins", "temp exceeds 1 for 5 mins", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"1 hour", "temp exceeds 1 for 1 hour", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 60}},
	{"2 hours", "temp exceeds 1 for 2 hours", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 120}},
	{"hr", "temp exceeds 1 for 1 hr", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 60}},
	{"hrs", "temp exceeds 1 for 3 hrs", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 180}},
	{"singular unit with plural count", "temp exceeds 1 for 5 minute", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"upper-case for and unit", "temp exceeds 1 FOR 5 MINUTES", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"leading zero duration", "temp exceeds 1 for 05 minutes", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 5}},
	{"max minutes", "temp exceeds 1 for 10080 minutes", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 10080}},
	{"max hours", "temp exceeds 1 for 168 hours", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 10080}},
	{"90 minutes", "temp exceeds 1 for 90 minutes", Condition{Field: "temp", Operator: OpGT, Value: 1, DurationMinutes: 90}},
	{"surrounding space", "  \t temp exceeds 30 \n", Condition{Field: "temp", Operator: OpGT, Value: 30}},
	{"runs of white space", "temp   is \t greater\n\nthan  30   for  5\tminutes", Condition{Field: "temp", Operator: OpGT, Value: 30, DurationMinutes: 5}},
	{"trailing period", "temp exceeds 30.", Condition{Field: "temp", Operator: OpGT, Value: 30}},
	{"trailing period after duration", "temp exceeds 30 for 5 minutes.", Condition{Field: "temp", Operator: OpGT, Value: 30, DurationMinutes: 5}},
	{"trailing period then space", "temp exceeds 30 for 5 minutes.  ", Condition{Field: "temp", Operator: OpGT, Value: 30, DurationMinutes: 5}},
	{"nodata", "no data received for 10 minutes", Condition{Operator: OpNoData, DurationMinutes: 10}},
	{"nodata hours", "no data received for 2 hours", Condition{Operator: OpNoData, DurationMinutes: 120}},
	{"nodata upper case", "NO DATA RECEIVED FOR 1 HOUR", Condition{Operator: OpNoData, DurationMinutes: 60}},
	{"nodata title case", "No Data Received For 1 Minute", Condition{Operator: OpNoData, DurationMinutes: 1}},
	{"nodata alias", "no data for 15 minutes", Condition{Operator: OpNoData, DurationMinutes: 15}},
	{"nodata alias mixed case", "nO dAtA fOr 3 hRs", Condition{Operator: OpNoData, DurationMinutes: 180}},
	{"nodata trailing period", "no data received for 10 minutes.", Condition{Operator: OpNoData, DurationMinutes: 10}},
	{"nodata max", "no data received for 168 hours", Condition{Operator: OpNoData, DurationMinutes: 10080}},
	{"exactly 500 characters", "temp exceeds 1" + strings.Repeat(" ", 500-len("temp exceeds 1")), Condition{Field: "temp", Operator: OpGT, Value: 1}},
}

func TestParsePhrases(t *testing.T) {
	for _, pc := range phraseCases {
		for variant, ph := range caseVariants(pc.phrase) {
			t.Run(pc.phrase+"/"+variant, func(t *testing.T) {
				in := "Temperature " + ph + " 30.5 for 5 minutes"
				got, err := Parse(in)
				if err != nil {
					t.Fatalf("Parse(%q): %v", in, err)
				}
				want := Condition{Field: "Temperature", Operator: pc.op, Value: 30.5, DurationMinutes: 5}
				if got != want {
					t.Fatalf("Parse(%q) = %+v, want %+v", in, got, want)
				}
				checkRoundTrip(t, got)
			})
		}
	}
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if math.Signbit(got.Value) != math.Signbit(tc.want.Value) {
				t.Fatalf("Parse(%q) value sign: got %v, want %v", tc.in, got.Value, tc.want.Value)
			}
			checkRoundTrip(t, got)
		})
	}
}

// checkRoundTrip asserts that String gives text Parse reads back to c.
func checkRoundTrip(t *testing.T, c Condition) {
	t.Helper()
	s := c.String()
	back, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(String()) of %+v: Parse(%q): %v", c, s, err)
	}
	if back != c {
		t.Fatalf("Parse(%q) = %+v, want %+v", s, back, c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // a fragment the message must contain
	}{
		{"empty", "", "it is empty"},
		{"only space", " \t\n ", "it is empty"},
		{"only period", ".", "it is empty"},
		{"two trailing periods", "temp exceeds 5..", "more than one period"},
		{"too long", "temp exceeds 1" + strings.Repeat(" ", 501-len("temp exceeds 1")), "at most 500"},
		{"too long in runes", strings.Repeat("é", 501), "501 characters long"},
		{"field only", "temperature", `expected a comparison after "temperature", one of "is greater than", "exceeds"`},
		{"unknown operator", "temp is hot", `one of "is greater than", "exceeds", "is above", "is less than", "drops below", "is below", "equals", "is equal to", "is not equal to", "is at least", "is at most"`},
		{"unknown operator word", "temp over 30", `expected a comparison after "temp"`},
		{"symbol operator", "temp > 30", `expected a comparison after "temp"`},
		{"incomplete phrase", "temp is greater 30", `expected a comparison after "temp"`},
		{"missing field", "exceeds 30", `expected a field name before "exceeds"`},
		{"missing field long phrase", "is greater than 30", `expected a field name before "is"`},
		{"field with space", "room temp exceeds 30", `field names cannot contain spaces, but "room temp" comes before "exceeds"`},
		{"missing number", "temp exceeds", `expected a number after "exceeds"`},
		{"missing number keeps case", "temp IS ABOVE", `expected a number after "IS ABOVE"`},
		{"missing number before for", "temp exceeds for 5 minutes", `expected a number after "exceeds" but got "for"`},
		{"word for number", "temp exceeds thirty", `but got "thirty"`},
		{"number with unit", "temp exceeds 30C", `but got "30C"`},
		{"number with comma", "temp exceeds 1,000", `but got "1,000"`},
		{"two points", "temp exceeds 1.2.3", `but got "1.2.3"`},
		{"bare sign", "temp exceeds -", `but got "-"`},
		{"bare point", "temp exceeds -. for 1 minute", `but got "-."`},
		{"double sign", "temp exceeds --1", `but got "--1"`},
		{"empty exponent", "temp exceeds 1e", `but got "1e"`},
		{"signed empty exponent", "temp exceeds 1e+", `but got "1e+"`},
		{"exponent only", "temp exceeds e5", `but got "e5"`},
		{"hex", "temp exceeds 0x10", `plain decimal number`},
		{"hex float", "temp exceeds 0x1p4", `plain decimal number`},
		{"underscores", "temp exceeds 1_000", `plain decimal number`},
		{"NaN", "temp equals NaN", `got "NaN" (it must be a finite number)`},
		{"nan lower", "temp equals nan", `finite number`},
		{"Inf", "temp exceeds Inf", `finite number`},
		{"negative infinity", "temp exceeds -Infinity", `finite number`},
		{"plus inf", "temp exceeds +inf", `finite number`},
		{"overflow", "temp exceeds 1e400", `out of range`},
		{"negative overflow", "temp exceeds -1e309", `out of range`},
		{"trailing junk", "temp exceeds 30 degrees", `unexpected "degrees" after the number 30`},
		{"two numbers", "temp exceeds 30 40", `unexpected "40"`},
		{"missing duration", "temp exceeds 30 for", `expected a duration after "for"`},
		{"missing unit", "temp exceeds 30 for 5", `expected "minutes" or "hours" after "for 5"`},
		{"unknown unit", "temp exceeds 30 for 5 seconds", `but got "seconds"`},
		{"days not accepted", "temp exceeds 30 for 1 day", `but got "day"`},
		{"word duration", "temp exceeds 30 for five minutes", `whole number of minutes or hours after "for" but got "five"`},
		{"fractional duration", "temp exceeds 30 for 1.5 hours", `got "1.5"`},
		{"negative duration", "temp exceeds 30 for -5 minutes", `got "-5"`},
		{"zero duration", "temp exceeds 30 for 0 minutes", `at least 1 minute`},
		{"zero hours", "temp exceeds 30 for 0 hours", `at least 1 minute`},
		{"too many minutes", "temp exceeds 30 for 10081 minutes", `too long; at most 10080 minutes`},
		{"too many hours", "temp exceeds 30 for 169 hours", `too long`},
		{"overflowing duration", "temp exceeds 30 for 99999999999999999999999 minutes", `too long`},
		{"junk after duration", "temp exceeds 30 for 5 minutes please", `unexpected "please" after "for 5 minutes"`},
		{"two durations", "temp exceeds 30 for 5 minutes for 2 hours", `unexpected "for"`},
		{"two periods", "temp exceeds 30 for 5 minutes..", "more than one period"},
		{"field starts with digit", "1temp exceeds 30", `field name "1temp" must start with a letter`},
		{"field starts with dash", "-temp exceeds 30", `field name "-temp"`},
		{"field with slash", "temp/c exceeds 30", `field name "temp/c"`},
		{"field with quote", `"temp" exceeds 30`, `field name "\"temp\""`},
		{"field non-ASCII", "température exceeds 30", `field name "température"`},
		{"field too long", strings.Repeat("f", 65) + " exceeds 30", `at most 64 characters`},
		{"look-alike letters", "temp exceed\u017f 30", `expected a comparison`},
		{"nodata without duration", "no data received", `expected "for" and a duration after "no data received"`},
		{"nodata alias without duration", "no data", `expected "for" and a duration after "no data"`},
		{"nodata missing for", "no data received 5 minutes", `expected "for"`},
		{"nodata missing number", "no data received for", `expected a duration after "for"`},
		{"nodata missing unit", "no data received for 5", `expected "minutes" or "hours"`},
		{"nodata zero", "no data received for 0 minutes", `at least 1 minute`},
		{"nodata too long", "no data received for 8 days", `but got "days"`},
		{"nodata too many hours", "no data received for 200 hours", `too long`},
		{"nodata junk", "no data received for 5 minutes now", `unexpected "now"`},
		{"nodata with threshold", "no data received exceeds 5", `expected "for"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.in, c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q): error %v does not wrap ErrInvalid", tc.in, err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%q): error %T is not a *ParseError", tc.in, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "cannot parse condition ") {
				t.Errorf("Parse(%q): message %q lacks the prefix", tc.in, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("Parse(%q): message\n  %s\nwant it to contain\n  %s", tc.in, msg, tc.want)
			}
			if c != (Condition{}) {
				t.Errorf("Parse(%q) returned %+v with its error", tc.in, c)
			}
		})
	}
}

func TestErrorQuotesInput(t *testing.T) {
	_, err := Parse("temp is hot")
	want := `cannot parse condition "temp is hot": expected a comparison after "temp", one of `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want a message starting %s", err, want)
	}
	_, err = Parse(strings.Repeat("x", 1000))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("too-long input: got %v, want a short message", err)
	}
}

func TestHolds(t *testing.T) {
	// Computed at run time: as constants 0.1+0.2 would be exactly 0.3.
	a, b := 0.1, 0.2
	sum := a + b
	cond := func(op string, v float64) Condition {
		return Condition{Field: "x", Operator: op, Value: v}
	}
	tests := []struct {
		name string
		c    Condition
		v    float64
		want bool
	}{
		{"gt above", cond(OpGT, 30), 30.1, true},
		{"gt at boundary", cond(OpGT, 30), 30, false},
		{"gt below", cond(OpGT, 30), 29.9, false},
		{"gt smallest step above", cond(OpGT, 30), math.Nextafter(30, 31), true},
		{"gt negative threshold", cond(OpGT, -5), -4, true},
		{"lt below", cond(OpLT, 0), -0.5, true},
		{"lt at boundary", cond(OpLT, 0), 0, false},
		{"lt above", cond(OpLT, 0), 0.5, false},
		{"lt smallest step below", cond(OpLT, 0), -math.SmallestNonzeroFloat64, true},
		{"eq equal", cond(OpEQ, 4), 4, true},
		{"eq different", cond(OpEQ, 4), 4.0000001, false},
		{"eq same decimal", cond(OpEQ, 0.3), 0.3, true},
		{"eq arithmetic differs in last bit", cond(OpEQ, 0.3), sum, false},
		{"eq zero and negative zero", cond(OpEQ, 0), math.Copysign(0, -1), true},
		{"ne different", cond(OpNE, 4), 5, true},
		{"ne equal", cond(OpNE, 4), 4, false},
		{"ne different in last bit", cond(OpNE, 0.3), sum, true},
		{"gte above", cond(OpGTE, 10), 11, true},
		{"gte at equality", cond(OpGTE, 10), 10, true},
		{"gte below", cond(OpGTE, 10), 9.999, false},
		{"lte below", cond(OpLTE, 10), 9, true},
		{"lte at equality", cond(OpLTE, 10), 10, true},
		{"lte above", cond(OpLTE, 10), 10.001, false},
		{"gt infinite value", cond(OpGT, 1e300), math.Inf(1), true},
		{"nodata never holds", Condition{Operator: OpNoData, DurationMinutes: 5}, 0, false},
		{"unknown operator never holds", cond("bogus", 0), 1, false},
		{"NaN fails gt", cond(OpGT, 0), math.NaN(), false},
		{"NaN fails lt", cond(OpLT, 0), math.NaN(), false},
		{"NaN fails ne", cond(OpNE, 0), math.NaN(), false},
		{"NaN fails lte", cond(OpLTE, 0), math.NaN(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Holds(tc.v); got != tc.want {
				t.Fatalf("%+v.Holds(%v) = %v, want %v", tc.c, tc.v, got, tc.want)
			}
		})
	}
}

func TestHoldsParsed(t *testing.T) {
	// The same check, end to end from the English text.
	tests := []struct {
		name string
		in   string
		v    float64
		want bool
	}{
		{"is above", "t is above 5", 5, false},
		{"is at least", "t is at least 5", 5, true},
		{"is at most", "t is at most 5", 5, true},
		{"drops below", "t drops below 5", 4.99, true},
		{"equals decimal", "t equals 21.7", 21.7, true},
		{"is not equal to", "t is not equal to 1", 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Holds(tc.v); got != tc.want {
				t.Fatalf("Parse(%q).Holds(%v) = %v, want %v", tc.in, tc.v, got, tc.want)
			}
		})
	}
}

func TestSymbol(t *testing.T) {
	tests := []struct{ op, want string }{
		{OpGT, ">"}, {OpLT, "<"}, {OpEQ, "=="}, {OpNE, "!="},
		{OpGTE, ">="}, {OpLTE, "<="}, {OpNoData, "nodata"}, {"bogus", ""},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			if got := (Condition{Operator: tc.op}).Symbol(); got != tc.want {
				t.Fatalf("Symbol() for %q = %q, want %q", tc.op, got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		c    Condition
		want string
	}{
		{"gt with duration", Condition{Field: "temperature", Operator: OpGT, Value: 30, DurationMinutes: 5}, "temperature is greater than 30 for 5 minutes"},
		{"lt", Condition{Field: "t", Operator: OpLT, Value: -2.5}, "t is less than -2.5"},
		{"eq", Condition{Field: "t", Operator: OpEQ, Value: 0}, "t equals 0"},
		{"ne", Condition{Field: "t", Operator: OpNE, Value: 1}, "t is not equal to 1"},
		{"gte", Condition{Field: "t", Operator: OpGTE, Value: 0.5}, "t is at least 0.5"},
		{"lte", Condition{Field: "t", Operator: OpLTE, Value: 1e6}, "t is at most 1000000"},
		{"large in exponent form", Condition{Field: "t", Operator: OpGT, Value: 1e300}, "t is greater than 1e+300"},
		{"small in exponent form", Condition{Field: "t", Operator: OpGT, Value: 1e-7}, "t is greater than 1e-07"},
		{"1 minute", Condition{Field: "t", Operator: OpGT, Value: 1, DurationMinutes: 1}, "t is greater than 1 for 1 minute"},
		{"1 hour", Condition{Field: "t", Operator: OpGT, Value: 1, DurationMinutes: 60}, "t is greater than 1 for 1 hour"},
		{"hours", Condition{Field: "t", Operator: OpGT, Value: 1, DurationMinutes: 180}, "t is greater than 1 for 3 hours"},
		{"minutes not whole hours", Condition{Field: "t", Operator: OpGT, Value: 1, DurationMinutes: 90}, "t is greater than 1 for 90 minutes"},
		{"nodata", Condition{Operator: OpNoData, DurationMinutes: 10}, "no data received for 10 minutes"},
		{"nodata hours", Condition{Operator: OpNoData, DurationMinutes: 120}, "no data received for 2 hours"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			checkRoundTrip(t, tc.c)
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name string
		c    Condition
		want string
	}{
		{"threshold", Condition{Field: "temp", Operator: OpGT, Value: 30}, `{"field":"temp","operator":"gt","value":30}`},
		{"with duration", Condition{Field: "temp", Operator: OpLTE, Value: -1.5, DurationMinutes: 5}, `{"field":"temp","operator":"lte","value":-1.5,"durationMinutes":5}`},
		{"nodata", Condition{Operator: OpNoData, DurationMinutes: 10}, `{"operator":"nodata","value":0,"durationMinutes":10}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("json = %s, want %s", b, tc.want)
			}
		})
	}
}
