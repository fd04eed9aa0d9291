package lineproto

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// visits renders every line Parse visits, and its error, in full.
func visits(p *Parser, body []byte, unit time.Duration) string {
	var b strings.Builder
	err := p.Parse(body, unit, 42, func(l *Line) error {
		fmt.Fprintf(&b, "%d %q %q", l.Entry, l.Series, l.Measurement)
		for _, t := range l.Tags {
			fmt.Fprintf(&b, " t%q=%q", t.Key, t.Value)
		}
		for _, f := range l.Fields {
			fmt.Fprintf(&b, " f%q=%v/%x/%q/%v", f.Key, f.Kind, math.Float64bits(f.Num), f.Str, f.Bool)
		}
		fmt.Fprintf(&b, " %d\n", l.TS)
		if string(l.Measurement) == "refuse" {
			return Errorf("refused") // a visitor's error names the line too
		}
		return nil
	})
	fmt.Fprintf(&b, "error %T %v", err, err)
	return b.String()
}

// benchBody is n lines of BenchmarkLineProtocolBatch's shape (httpapi).
func benchBody(n int) []byte {
	var body []byte
	for j := range n {
		body = fmt.Appendf(body, "sensor-%03d temperature=%s,humidity=%s,pressure=%s %d\n", j%100+1,
			strconv.FormatFloat(float64(j*7%3000)/100, 'f', -1, 64), strconv.FormatFloat(float64(j*13%1000)/10, 'f', -1, 64),
			strconv.FormatFloat(990+float64(j*31%4000)/100, 'f', -1, 64), 1700000000000000000+int64(j/100)*10e9)
	}
	return body
}

func TestFastPathTakesThePlainLines(t *testing.T) {
	body := append(benchBody(300), "m,a=1,b=2 f=-1.5e-3,i=-3i,u=4u,b=TRUE,c=f -5\r\nm f=0\n\n# c\nm f=1"...)
	if got, want := visits(&Parser{}, body, time.Nanosecond), visits(&Parser{libraryOnly: true}, body, time.Nanosecond); got != want {
		t.Fatalf("fast path:\n%s\nlibrary:\n%s", got, want)
	}
	// The fast path's series key is the body's own bytes; the decoder
	// path's is built in the parser.
	n := 0
	var p Parser
	err := p.Parse(body, time.Nanosecond, 0, func(l *Line) error {
		n++
		if s := unsafe.Pointer(unsafe.SliceData(l.Series)); uintptr(s) < uintptr(unsafe.Pointer(&body[0])) ||
			uintptr(s) >= uintptr(unsafe.Pointer(&body[0]))+uintptr(len(body)) {
			t.Errorf("line %d (%q) not on the fast path", l.Entry, l.Series)
		}
		return nil
	})
	if err != nil || n != 303 {
		t.Fatalf("%d lines, %v", n, err)
	}
}

func FuzzFastPathAgreesWithLibrary(f *testing.F) {
	for _, s := range []string{
		"weather,site=north,alt=1 temp=21.5,n=3i,u=7u,ok=true,s=\"a \\\"b\\\"\" 1700000000\ncpu usage=0.5\nmy\\ meas,k\\,1=v\\=1 x=1 1700000001\n",
		"# comment\n\nweather,alt=1,site=north temp=21.5,n=3i,u=7u,ok=true 1700000000\ncpu usage=0.5\n",
		"m f=1\n\n# c\nm f=\n", "m f=1\nm\n", "m f=1\nm f=1 99999999999999999999", "m f=1\n\nm,a=1,a=2 f=1",
		"m f=1 1\nm f=1 9223372036854775807", "m f=1\n  m f=\"\xff\"", "a f=1\n\nb f=2\n",
		"weather,site=north temp=21.5,n=3i,u=7u,ok=true,s=\"x\" 1700000000000000000",
		"m\\ x,a\\=b=c\\,d f=1i", "m f=\"a\\\"b\" -1", "m,b=1,a=2 f=t,g=F",
		"m f=\"a\nb\" 1\nm f=2 3\n", "m f=1e400\n", "m f=1.5E+3,g=-0,h=0u,i=-9223372036854775808i 5\r\n",
		"m f=18446744073709551616u\n", "m f=1 \nm f=2  3\n", " m f=1\n\tm f=1\n", "m f=1\rm f=2\n", "m f=1\r",
		"x f=1\nrefuse f=2 7\n", "m f=NaN\nm f=.5\nm f=1.\n", "#\xff\n# ok\r\nm f=1 -\n", "m f=1 1-2\n",
	} {
		f.Add([]byte(s))
	}
	f.Add(benchBody(20)) // short: the fuzzer minimizes what it finds in it
	// Mostly decoder lines: after 16 the rest of the body goes to one decoder.
	f.Add([]byte(strings.Repeat("m s=\"x\" 1\n", 20) + "m f=1\nrefuse f=2\n"))
	f.Add([]byte(strings.Repeat("m s=\"x\" 1\n m f=1\n", 12) + "m f=1\nm f=\n"))
	// A string running over lines after plain ones.
	f.Add([]byte("m f=1\nm s=\"a\nb f=2\n\" 3\nm f=4 5\nrefuse f=6\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, unit := range []time.Duration{time.Nanosecond, time.Second} {
			got := visits(&Parser{}, body, unit)
			want := visits(&Parser{libraryOnly: true}, body, unit)
			if got != want {
				t.Fatalf("body %q, unit %v\nfast path:\n%s\nlibrary:\n%s", body, unit, got, want)
			}
		}
	})
}

// TestShortDecimal: the one-pass reading of short decimals takes exactly
// -?D+(.D+)? of at most 15 digits, and gives strconv's bits.
func TestShortDecimal(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"21.5", true}, {"-0", true}, {"-0.0", true}, {"0.1", true}, {"990.37", true},
		{"123456789012345", true}, {"1.23456789012345", true}, {"-99999999999999.9", true},
		{"1234567890123456", false}, {"0.1234567890123456", false},
		{"1.", false}, {".5", false}, {"1.2.3", false}, {"", false}, {"-", false}, {"--1", false},
		{"1e5", false}, {"+1", false}, {"1_0", false}, {"NaN", false},
	} {
		got, ok := shortDecimal([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("%q: ok %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		want, err := strconv.ParseFloat(tc.in, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%q: %v (%x), strconv %v (%x) %v", tc.in, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
}

// FuzzShortDecimal: whatever the one-pass reading accepts, strconv reads
// to the same bits.
func FuzzShortDecimal(f *testing.F) {
	for _, s := range []string{"21.5", "-0", "0.000000000000001", "999999999999999", "1.", "7.1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := shortDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: %v, strconv %v %v", s, got, want, err)
		}
	})
}
