package console_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dakkio/dakkio/internal/condition"
	"github.com/dakkio/dakkio/internal/testnode"
)

// conditionInputs is a corpus of alert conditions: every phrase, number
// form and duration unit, the errors the grammar names, and random
// sequences of the grammar's words (seeded, so a failure repeats).
func conditionInputs() []string {
	phrases := []string{"is greater than", "exceeds", "is above", "is less than", "drops below", "is below", "equals",
		"is equal to", "is not equal to", "is at least", "is at most", "IS ABOVE", "Exceeds", "is", "is not", "above"}
	numbers := []string{"30", "-2.5", "+3", ".5", "5.", "1e3", "2.5E-3", "1e400", "-0", "007", "0x10", "1_000", "NaN", "inf", "-Infinity", "1e", "1e+", ".", "abc", "3,5"}
	durations := []string{"", " for 5 minutes", " for 1 minute", " for 2 hours", " for 1 hr", " for 3 hrs", " for 10 min", " for 10 mins",
		" for 0 minutes", " for 10081 minutes", " for 168 hours", " for 169 hours", " for 5", " for", " for five minutes", " for 5 days", " for 5 minutes now", " FOR 5 MINUTES"}
	var out []string
	for _, p := range phrases {
		for _, n := range numbers {
			out = append(out, "temperature "+p+" "+n)
		}
		for _, d := range durations {
			out = append(out, "temp_1.x-y "+p+" 21"+d)
		}
	}
	for _, d := range durations {
		out = append(out, "no data"+d, "no data received"+d, "No Data Received"+d+".", "no data received"+d+"..")
	}
	out = append(out, "", "   ", ".", "temperature", "exceeds 30", "room temp exceeds 30", "9lives exceeds 1", "_x is at most 1",
		strings.Repeat("f", 64)+" exceeds 1", strings.Repeat("f", 65)+" exceeds 1", "no exceeds 1", "is is above 1", "for exceeds 1 for 2 minutes",
		"temperature exceeds 30 degrees", "temperature\texceeds\n30", "temperature exceeds 30.", strings.Repeat("a ", 251), "température exceeds 3")
	words := []string{"temperature", "no", "data", "received", "for", "is", "greater", "than", "less", "below", "above", "exceeds", "drops",
		"equals", "equal", "to", "not", "at", "least", "most", "5", "-1", "2.5", "minutes", "hour", "hrs", "x", "1e2", "."}
	rng := rand.New(rand.NewPCG(18, 2026))
	for range 3000 {
		n := 1 + rng.IntN(8)
		toks := make([]string, n)
		for i := range toks {
			toks[i] = words[rng.IntN(len(words))]
		}
		out = append(out, strings.Join(toks, " "))
	}
	return out
}

// TestConditionPreviewMatchesServer checks the console's condition parser
// (condition.js, for the live preview) against the server's
// (internal/condition) on every input of the corpus: the same verdict, the
// same parsed condition, and for plain ASCII input the same explanation.
func TestConditionPreviewMatchesServer(t *testing.T) {
	n := testnode.Start(t)
	b := newBrowser(t, n.URL, 3*time.Minute)
	b.do("load /console", chromedp.Navigate(n.URL+"/console"))
	b.waitView("signin")
	inputs := conditionInputs()
	js, _ := json.Marshal(inputs)
	type parsed struct {
		OK        bool     `json:"ok"`
		Reason    string   `json:"reason"`
		Field     *string  `json:"field"`
		Operator  string   `json:"operator"`
		Value     *float64 `json:"value"`
		Durations int      `json:"durationMinutes"`
	}
	got := evalJS[[]parsed](b, `(`+string(js)+`).map((s) => {
		const r = D.parseCondition(s);
		return r.ok ? Object.assign({ok: true}, r.condition) : {ok: false, reason: r.reason};
	})`)
	if len(got) != len(inputs) {
		t.Fatalf("%d answers for %d inputs", len(got), len(inputs))
	}
	accepted := 0
	for i, in := range inputs {
		want, err := condition.Parse(in)
		g := got[i]
		if (err == nil) != g.OK {
			t.Errorf("%q: the server says %v, the console ok=%v (%s)", in, err, g.OK, g.Reason)
			continue
		}
		if err != nil {
			var pe *condition.ParseError
			if errors.As(err, &pe) && plainASCII(in) && pe.Reason != g.Reason {
				t.Errorf("%q: the server explains\n  %s\nthe console\n  %s", in, pe.Reason, g.Reason)
			}
			continue
		}
		accepted++
		field := ""
		if g.Field != nil {
			field = *g.Field
		}
		value := 0.0
		if g.Value != nil {
			value = *g.Value
		}
		if field != want.Field || g.Operator != want.Operator || value != want.Value || g.Durations != want.DurationMinutes {
			t.Errorf("%q: the server parses %+v, the console %+v", in, want, g)
		}
	}
	if accepted < 200 || accepted == len(inputs) {
		t.Errorf("%d of %d inputs accepted: the corpus should hold both kinds", accepted, len(inputs))
	}
	b.check()
}

// plainASCII reports whether s is printable ASCII without quotes or
// backslashes, where Go's %q and the console's quotes write the same.
func plainASCII(s string) bool {
	for _, r := range s {
		if r < ' ' || r > '~' || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}
