package httpapi

import "testing"

func TestLoneSurrogate(t *testing.T) {
	for _, tc := range []struct {
		json string
		lone string // the escape found, "" for none
	}{
		{`{"a":"x"}`, ""},
		{`{"a":"\u00e9\ud83d\ude00"}`, ""}, // a whole pair
		{`{"a":"\\ud800"}`, ""},            // an escaped backslash, then text
		{`{"a":"\\\ud800"}`, `\ud800`},     // an escaped backslash, then a lone half
		{`{"a":"\ud800"}`, `\ud800`},       // high half at the end
		{`{"a":"\ud800x"}`, `\ud800`},      // high half, then text
		{`{"a":"\uDBFF\u0041"}`, `\uDBFF`}, // high half, then no low half
		{`{"a":"\udc00"}`, `\udc00`},       // low half alone
		{`{"a":"\ude00\ud83d"}`, `\ude00`}, // halves reversed
		{`{"a":"\ud83d\ude00\udfff"}`, `\udfff`},
		{`{"\ud800":1}`, `\ud800`}, // in a key too
		{`"\u12"`, ""},             // short: not JSON, not ours to judge
		{`"\`, ""},
	} {
		esc, found := loneSurrogate([]byte(tc.json))
		if found != (tc.lone != "") || string(esc) != tc.lone {
			t.Errorf("loneSurrogate(%s) = %q, %v; want %q", tc.json, esc, found, tc.lone)
		}
	}
}
