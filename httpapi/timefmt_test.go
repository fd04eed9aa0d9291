package httpapi

import (
	"testing"
	"time"
)

// TestParseUTCTimestamp checks the fast path against parseTimestamp (which
// uses time.Parse): whatever the fast path accepts, the slow path accepts
// with the same instant.
func TestParseUTCTimestamp(t *testing.T) {
	for _, s := range []string{
		"2024-01-15T10:30:00Z", "2024-01-15T10:30:00.1Z", "2024-01-15T10:30:00.123456Z",
		"2024-01-15T10:30:00.123456789Z", "2024-02-29T23:59:59.999999999Z", "1970-01-01T00:00:00Z",
		"1969-12-31T23:59:59.5Z", "1678-01-01T00:00:00Z", "2261-12-31T23:59:59Z", "2000-03-01T00:00:00Z",
		"1900-03-01T12:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z",
		"2024-01-15T24:00:00Z", "2024-01-15T10:60:00Z", "2024-01-15T10:30:60Z", "2024-01-15T10:30:00.Z",
		"2024-01-15T10:30:00.1234567890Z", "2024-01-15T10:30:00+01:00", "2024-01-15 10:30:00Z",
		"1677-12-31T23:59:59Z", "2262-01-01T00:00:00Z", "2024-1-15T10:30:00Z", "2024-01-15T10:30:00.12a4Z",
	} {
		fast, fok := parseUTCTimestamp([]byte(s))
		slow, _, sok := parseTimestamp(s)
		if fok && (!sok || fast != slow) {
			t.Errorf("%s: fast path %d (ok %v), time.Parse %d (ok %v)", s, fast, fok, slow, sok)
		}
	}
	// Every second of a few years around leap days and the epoch.
	for _, start := range []time.Time{time.Date(1969, 12, 25, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 27, 0, 0, 0, 0, time.UTC), time.Date(2100, 2, 27, 0, 0, 0, 0, time.UTC)} {
		for d := time.Duration(0); d < 10*24*time.Hour; d += 7*time.Minute + 13*time.Second {
			s := start.Add(d).Format(time.RFC3339Nano)
			fast, ok := parseUTCTimestamp([]byte(s))
			if !ok || fast != start.Add(d).UnixNano() {
				t.Fatalf("%s: fast path %d (ok %v), want %d", s, fast, ok, start.Add(d).UnixNano())
			}
		}
	}
}

func FuzzParseUTCTimestamp(f *testing.F) {
	f.Add("2024-01-15T10:30:00.123Z")
	f.Add("2024-02-30T10:30:00Z")
	f.Fuzz(func(t *testing.T, s string) {
		fast, fok := parseUTCTimestamp([]byte(s))
		slow, _, sok := parseTimestamp(s)
		if fok && (!sok || fast != slow) {
			t.Fatalf("%q: fast path %d, time.Parse %d (ok %v)", s, fast, slow, sok)
		}
	})
}
