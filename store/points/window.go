package points

import "time"

const (
	minuteNS = int64(time.Minute)
	hourNS   = int64(time.Hour)
	dayNS    = 24 * hourNS
	weekNS   = 7 * dayNS
	// 1970-01-01 was a Thursday; weeks start on Monday, three days earlier.
	mondayShift = 3 * dayNS
)

func hourOf(ts int64) int64 { return floorDiv(ts, hourNS) * hourNS }

// windowStart returns the start of the window of w holding ts (UTC).
func windowStart(w Window, ts int64) int64 {
	switch w {
	case WindowMinute:
		return floorDiv(ts, minuteNS) * minuteNS
	case WindowHour:
		return hourOf(ts)
	case WindowDay:
		return floorDiv(ts, dayNS) * dayNS
	case WindowWeek:
		return floorDiv(ts+mondayShift, weekNS)*weekNS - mondayShift
	case WindowMonth:
		t := time.Unix(0, ts).UTC()
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).UnixNano()
	}
	return 0
}

// String names the window as the API does.
func (w Window) String() string {
	return [...]string{"", "minute", "hour", "day", "week", "month"}[w]
}

// ParseWindow is the inverse of String for the grouping windows.
func ParseWindow(s string) (Window, bool) {
	for w := WindowMinute; w <= WindowMonth; w++ {
		if w.String() == s {
			return w, true
		}
	}
	return 0, false
}

// String names the aggregation as the API does.
func (a Aggregation) String() string {
	return [...]string{"", "avg", "min", "max", "sum", "count", "first", "last"}[a]
}

// ParseAggregation is the inverse of String.
func ParseAggregation(s string) (Aggregation, bool) {
	for a := AggAvg; a <= AggLast; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return 0, false
}
