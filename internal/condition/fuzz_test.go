package condition

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every error is a
// *ParseError, and that whatever it accepts is a sane Condition that
// String writes back as text Parse reads to the same Condition.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add(tc.in)
	}
	for _, pc := range phraseCases {
		f.Add("x " + pc.phrase + " 1 for 2 hours")
	}
	for _, s := range []string{
		"", "temp is hot", "temp exceeds NaN", "temp exceeds 0x10", "temp exceeds 1e400",
		"temp exceeds 30 for 0 minutes", "no data received", "no data for 10081 minutes",
		"room temp exceeds 30", "temp exceeds 30 degrees", "temp exceeds 30.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): error %v (%T) is not a *ParseError wrapping ErrInvalid", s, err, err)
			}
			if !strings.HasPrefix(err.Error(), "cannot parse condition ") {
				t.Fatalf("Parse(%q): message %q lacks the prefix", s, err)
			}
			return
		}
		if utf8.RuneCountInString(s) > MaxLength {
			t.Fatalf("Parse accepted %d characters", utf8.RuneCountInString(s))
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
			t.Fatalf("Parse(%q): value %v is not finite", s, c.Value)
		}
		if c.Symbol() == "" {
			t.Fatalf("Parse(%q): unknown operator %q", s, c.Operator)
		}
		if c.DurationMinutes < 0 || c.DurationMinutes > MaxDurationMinutes {
			t.Fatalf("Parse(%q): duration %d out of range", s, c.DurationMinutes)
		}
		if c.Operator == OpNoData {
			if c.Field != "" || c.Value != 0 || c.DurationMinutes == 0 {
				t.Fatalf("Parse(%q): bad nodata condition %+v", s, c)
			}
		} else if !validField(c.Field) {
			t.Fatalf("Parse(%q): bad field %q", s, c.Field)
		}
		out := c.String()
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Parse(String() = %q): %v", s, c, out, err)
		}
		if back != c {
			t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %+v", s, c, out, back)
		}
		if back.String() != out {
			t.Fatalf("String() not stable: %q then %q", out, back.String())
		}
	})
}
