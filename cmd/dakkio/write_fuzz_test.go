package main

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzParseJSONPoint: any line of a JSON lines file is a point or an
// error, never a panic; a point always has a source.
func FuzzParseJSONPoint(f *testing.F) {
	for _, s := range []string{
		`{"dataSourceId": "65a1f0d8e4b0a1b2c3d4e5f7", "timestamp": "2024-01-15T10:30:00Z", "values": {"t": 21.5}}`,
		`{"values": {"t": 1}, "metadata": {"room": "a"}}`,
		`{"timestamp": 5}`, `{} {}`, `[]`, `null`, `{"values": {"t": 1e999}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, err := parseJSONPoint([]byte(line), "65a1f0d8e4b0a1b2c3d4e5f7")
		if err == nil && p.DataSourceID == "" {
			t.Fatalf("%q: a point without a source", line)
		}
		if got := guessFormat("-", bufio.NewReader(strings.NewReader(line))); got != "json" && got != "lp" {
			t.Fatalf("%q: format %q", line, got)
		}
		_ = fieldsFlag{}.Set(line)
	})
}
