package httpapi

import (
	"time"
)

// Timestamps are stored as Unix nanoseconds, so only instants an int64 of
// nanoseconds can hold are accepted: whole years 1678..2261.
const (
	minTimestampYear = 1678
	maxTimestampYear = 2261
)

// The same bounds in Unix nanoseconds, for the protocols that send numbers
// (line protocol, remote write): the first and last instants of those years.
var (
	minTimestampNS = time.Date(minTimestampYear, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	maxTimestampNS = time.Date(maxTimestampYear+1, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() - 1
)

// Why a timestamp was refused, as the client reads it.
const (
	msgTimestampFormat = "Invalid timestamp: expected RFC 3339 / ISO 8601 such as 2024-01-15T10:30:00Z or 2024-01-15T10:30:00.123+05:30"
	msgTimestampDigits = "Invalid timestamp: at most 9 fractional digits (nanoseconds)"
	msgTimestampOffset = "Invalid timestamp: time zone offset must be less than 24 hours"
	msgTimestampRange  = "Invalid timestamp: year must be between 1678 and 2261"
)

// parseTimestamp reads an RFC 3339 timestamp with 0 to 9 fractional digits
// and "Z" or a numeric offset, and returns it as Unix nanoseconds, or why it
// is refused (ok false).
func parseTimestamp(s string) (ns int64, problem string, ok bool) {
	// time.Parse would silently truncate a tenth fractional digit; refuse it
	// rather than store an instant the client did not send.
	if len(s) > 20 && (s[19] == '.' || s[19] == ',') {
		n := 0
		for i := 20; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n++
		}
		if n > 9 {
			return 0, msgTimestampDigits, false
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, msgTimestampFormat, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return 0, msgTimestampOffset, false
	}
	if y := t.UTC().Year(); y < minTimestampYear || y > maxTimestampYear {
		return 0, msgTimestampRange, false
	}
	return t.UnixNano(), "", true
}

// appendTimestamp writes ns in the one output form: UTC, "Z", and no
// trailing fractional zeros. A value read by parseTimestamp comes back
// identical when it was written that way ("…00.123456Z"); otherwise the same
// instant comes back in that form ("…00.120Z" → "…00.12Z", "+01:00" → "Z").
func appendTimestamp(dst []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(dst, time.RFC3339Nano)
}

// timestampAppender appends timestamps as appendTimestamp does, formatting
// a date only when the day changes: the points of a page mostly share one.
type timestampAppender struct {
	day  int64 // days since 1970-01-01 of date
	date []byte
}

const secondsPerDay = 24 * 60 * 60

func (a *timestampAppender) append(dst []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	day, secOfDay := sec/secondsPerDay, sec%secondsPerDay
	if secOfDay < 0 {
		day, secOfDay = day-1, secOfDay+secondsPerDay
	}
	if a.date == nil || day != a.day {
		a.day = day
		a.date = time.Unix(day*secondsPerDay, 0).UTC().AppendFormat(a.date[:0], "2006-01-02T")
	}
	dst = append(dst, a.date...)
	h, m, s := secOfDay/3600, secOfDay/60%60, secOfDay%60
	dst = append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if frac != 0 {
		// Nine digits, trailing zeros dropped, as RFC3339Nano's .999999999.
		var digits [10]byte
		digits[0] = '.'
		for i := 9; i >= 1; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 10
		for digits[n-1] == '0' {
			n--
		}
		dst = append(dst, digits[:n]...)
	}
	return append(dst, 'Z')
}

func formatTimestamp(ns int64) string { return string(appendTimestamp(nil, ns)) }

// parseUTCTimestamp reads the common form "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z"
// straight from bytes, without allocating; ok is false for anything else
// (other forms go to parseTimestamp, which also says what is wrong).
// TestParseUTCTimestamp checks it agrees with parseTimestamp.
func parseUTCTimestamp(b []byte) (ns int64, ok bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < minTimestampYear || year > maxTimestampYear ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var frac int64
	switch rest := b[19 : len(b)-1]; {
	case len(rest) == 0:
	case rest[0] != '.' || len(rest) < 2 || len(rest) > 10:
		return 0, false
	default:
		digits := rest[1:]
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, false
			}
			frac = frac*10 + int64(c-'0')
		}
		for range 9 - len(digits) {
			frac *= 10
		}
	}
	// The date's Unix day (days since 1970-01-01), by the civil-from-days
	// inverse of Howard Hinnant's algorithm.
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	secs := days*86400 + int64(hour)*3600 + int64(minute)*60 + int64(sec)
	return secs*1e9 + frac, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
