package lineproto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

type row struct {
	series string
	fields string
	ts     int64
}

func parseAll(t *testing.T, body string, prec string) ([]row, error) {
	t.Helper()
	_, unit, err := ParsePrecision(prec)
	if err != nil {
		t.Fatal(err)
	}
	var p Parser
	var out []row
	err = p.Parse([]byte(body), unit, 42, func(l *Line) error {
		var fs []string
		for _, f := range l.Fields {
			switch f.Kind {
			case Number:
				fs = append(fs, fmt.Sprintf("%s=%v", f.Key, f.Num))
			case String:
				fs = append(fs, fmt.Sprintf("%s=%q", f.Key, f.Str))
			case Bool:
				fs = append(fs, fmt.Sprintf("%s=%v", f.Key, f.Bool))
			}
		}
		out = append(out, row{string(l.Series), strings.Join(fs, " "), l.TS})
		return nil
	})
	return out, err
}

func TestParse(t *testing.T) {
	body := "# comment\n\nweather,site=north,alt=1 temp=21.5,n=3i,u=7u,ok=true,s=\"a \\\"b\\\"\" 1700000000\n" +
		"cpu usage=0.5\n" +
		"my\\ meas,k\\,1=v\\=1 x=1 1700000001\n"
	got, err := parseAll(t, body, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"weather,alt=1,site=north", `temp=21.5 n=3 u=7 ok=true s="a \"b\""`, 1700000000 * int64(time.Second)},
		{"cpu", "usage=0.5", 42},
		{`my\ meas,k\,1=v\=1`, "x=1", 1700000001 * int64(time.Second)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestPrecisions(t *testing.T) {
	for prec, unit := range map[string]int64{"": 1, "ns": 1, "n": 1, "us": 1e3, "u": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9} {
		got, err := parseAll(t, "m f=1 5", prec)
		if err != nil || got[0].ts != 5*unit {
			t.Errorf("precision %q: %v %v, want ts %d", prec, got, err, 5*unit)
		}
	}
	if _, _, err := ParsePrecision("d"); !errors.Is(err, ErrPrecision) {
		t.Errorf("precision d: %v", err)
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for body, line := range map[string]int{
		"m f=1\n\n# c\nm f=\n":               4,
		"m f=1\nm\n":                         2,
		"m f=1\nm f=1 99999999999999999999":  2,
		"m f=1\n\nm,a=1,a=2 f=1":             3,
		"m f=1 1\nm f=1 9223372036854775807": 2, // with precision s: out of range
		"m f=1\n  m f=\"\xff\"":              2,
	} {
		_, err := parseAll(t, body, "s")
		var le *Error
		if !errors.As(err, &le) || le.Line != line {
			t.Errorf("%q: error %v, want one at line %d", body, err, line)
		}
	}
}

func TestVisitorErrorNamesTheLine(t *testing.T) {
	var p Parser
	err := p.Parse([]byte("a f=1\n\nb f=2\n"), time.Nanosecond, 0, func(l *Line) error {
		if string(l.Series) == "b" {
			return Errorf("no b")
		}
		return nil
	})
	if err == nil || err.Error() != "line 3: no b" {
		t.Fatalf("got %v", err)
	}
}

// TestVisitorErrorLineAfterMultilineString: a string field may span lines,
// so entries and lines differ; a refused entry is named by the line it
// begins on. A string that spans lines hands the rest of the body to the
// library's decoder, which does not say where an entry began.
func TestVisitorErrorLineAfterMultilineString(t *testing.T) {
	plain := strings.Repeat("p f=1\n", 20) // fast-path lines between two strings that span lines
	for _, c := range []struct {
		body string
		line int
	}{
		{"a s=\"x\ny\nz\"\nb f=2\n", 4},
		{"a s=\"x\\\"\ny\"\n\n# c\nb f=2\n", 5},                // an escaped quote inside
		{"a,t=q\"w f=1\nb f=2\n", 2},                           // a quote in a tag opens no string
		{"a s=\"x\\\ny\"\nb f=2\n", 3},                         // an escaped newline inside
		{"a s=\"x\ny\"\n" + plain + "a s=\"u\nv\"\nb f=2", 25}, // plain lines between
	} {
		var p Parser
		err := p.Parse([]byte(c.body), time.Nanosecond, 0, func(l *Line) error {
			if string(l.Series) == "b" {
				return Errorf("no b")
			}
			return nil
		})
		want := fmt.Sprintf("line %d: no b", c.line)
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", c.body, err, want)
		}
	}
}

// FuzzVisitorErrorLine: refusing the k-th entry of a body names a line
// that is neither blank nor a comment, and later entries name later lines.
func FuzzVisitorErrorLine(f *testing.F) {
	for _, s := range []string{"a s=\"x\ny\"\nb f=2\n\n# c\nc f=3", "m f=1\nm\\ x,a=\"b f=\"\n\" 1\nn f=2", "a f=1\n\nb f=2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Parser
		entries := 0
		if p.Parse(body, time.Nanosecond, 0, func(*Line) error { entries++; return nil }) != nil {
			return // only bodies read whole
		}
		lines := strings.Split(string(body), "\n")
		last := 0
		for k := 1; k <= entries; k++ {
			err := p.Parse(body, time.Nanosecond, 0, func(l *Line) error {
				if l.Entry == k {
					return Errorf("refused")
				}
				return nil
			})
			var le *Error
			if !errors.As(err, &le) || le.Line <= last || le.Line > len(lines) {
				t.Fatalf("entry %d of %q: %v, want a line after %d", k, body, err, last)
			}
			if text := strings.TrimLeft(lines[le.Line-1], " \t\r"); text == "" || text[0] == '#' {
				t.Fatalf("entry %d of %q: line %d is blank or a comment", k, body, le.Line)
			}
			last = le.Line
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"weather,site=north temp=21.5,n=3i,u=7u,ok=true,s=\"x\" 1700000000000000000",
		"m f=1\n\n# c\nm f=\n", "m\\ x,a\\=b=c\\,d f=1i", "m f=\"a\\\"b\" -1", "m,b=1,a=2 f=t,g=F",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Parser
		n := 0
		err := p.Parse(body, time.Millisecond, 0, func(l *Line) error {
			n++
			if len(l.Fields) == 0 || len(l.Measurement) == 0 {
				t.Fatalf("line without fields or measurement: %+v", l)
			}
			for i := 1; i < len(l.Tags); i++ {
				if string(l.Tags[i-1].Key) >= string(l.Tags[i].Key) {
					t.Fatalf("tags not sorted: %q", l.Series)
				}
			}
			return nil
		})
		var le *Error
		if err != nil && (!errors.As(err, &le) || le.Line < 1 || le.Line > strings.Count(string(body), "\n")+1) {
			t.Fatalf("error %v without a line in the body", err)
		}
	})
}

// FuzzParseInt: the timestamp reader agrees with strconv.ParseInt on every
// input, in value and in what it refuses.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "+7", "1733400000000000000", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "99999999999999999999", "", "-", "+", "1e9", "12a", " 1", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseInt(%q) = %d, %v; strconv says %d, %v", s, got, ok, want, err)
		}
	})
}
