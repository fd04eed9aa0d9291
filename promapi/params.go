package promapi

import (
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// maxAbsSeconds bounds times: their nanoseconds must fit an int64 with
// room for ranges and offsets.
const maxAbsSeconds = 4e9 // about year 2096 either side of 1970

// promParser is the Prometheus project's parser with its default options.
var promParser = parser.NewParser(parser.Options{})

// single returns a parameter given at most once.
func single(form url.Values, name string) (string, bool, error) {
	vs := form[name]
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	}
	return "", false, badData("parameter %q given %d times", name, len(vs))
}

// parseTimeMS reads a time as Prometheus does: Unix seconds (fractions
// allowed) or RFC 3339; the answer is in milliseconds.
func parseTimeMS(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxAbsSeconds {
			return 0, badData("cannot parse %q to a valid timestamp: out of range", s)
		}
		sec, frac := math.Modf(f)
		return int64(sec)*1000 + int64(math.Round(frac*1000)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, badData("cannot parse %q to a valid timestamp", s)
	}
	if sec := t.Unix(); sec > maxAbsSeconds || sec < -maxAbsSeconds {
		return 0, badData("cannot parse %q to a valid timestamp: out of range", s)
	}
	return t.UnixMilli(), nil
}

// parseDurationMS reads a duration: seconds (fractions allowed) or a
// Prometheus duration such as 5m or 1h30m.
func parseDurationMS(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxAbsSeconds {
			return 0, badData("cannot parse %q to a valid duration: out of range", s)
		}
		return int64(math.Round(f * 1000)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, badData("cannot parse %q to a valid duration", s)
	}
	ms := time.Duration(d).Milliseconds()
	if ms > maxAbsSeconds*1000 {
		return 0, badData("cannot parse %q to a valid duration: out of range", s)
	}
	return ms, nil
}

// timeParam reads an optional time, def when absent.
func timeParam(form url.Values, name string, def int64) (int64, error) {
	s, ok, err := single(form, name)
	if err != nil || !ok {
		return def, err
	}
	t, err := parseTimeMS(s)
	if err != nil {
		return 0, badData("invalid parameter %q: %s", name, err.Error())
	}
	return t, nil
}

// limitParam reads the optional limit of the metadata endpoints (0: none).
func limitParam(form url.Values) (int, error) {
	s, ok, err := single(form, "limit")
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("invalid parameter \"limit\": %q is not a non-negative integer", s)
	}
	return n, nil
}

// timeoutParam checks the optional timeout; a query runs at most the
// configured timeout whatever is asked.
func timeoutParam(form url.Values) error {
	s, ok, err := single(form, "timeout")
	if err != nil || !ok {
		return err
	}
	if _, err := parseDurationMS(s); err != nil {
		return badData("invalid parameter \"timeout\": %s", err.Error())
	}
	return nil
}

// queryParams are a query's validated parameters, in milliseconds.
type queryParams struct {
	expr             parser.Expr
	text             string
	start, end, step int64 // an instant query has start == end, step 1
	instant          bool
}

// readQuery validates query and the times of an instant (rangeQuery
// false) or range query. now is the default time of an instant query.
func (a *API) readQuery(form url.Values, rangeQuery bool, now int64) (queryParams, error) {
	var q queryParams
	text, ok, err := single(form, "query")
	if err != nil {
		return q, err
	}
	if !ok || text == "" {
		return q, badData("invalid parameter \"query\": empty query")
	}
	if err := timeoutParam(form); err != nil {
		return q, err
	}
	if !rangeQuery {
		t, err := timeParam(form, "time", now)
		if err != nil {
			return q, err
		}
		q.start, q.end, q.step, q.instant = t, t, 1, true
	} else {
		var err error
		for _, name := range []string{"start", "end", "step"} {
			if _, ok, e := single(form, name); e != nil {
				return q, e
			} else if !ok {
				return q, badData("invalid parameter %q: missing", name)
			}
		}
		if q.start, err = timeParam(form, "start", 0); err != nil {
			return q, err
		}
		if q.end, err = timeParam(form, "end", 0); err != nil {
			return q, err
		}
		if q.end < q.start {
			return q, badData("invalid parameter \"end\": end timestamp must not be before start time")
		}
		s, _, _ := single(form, "step")
		if q.step, err = parseDurationMS(s); err != nil {
			return q, badData("invalid parameter \"step\": %s", err.Error())
		}
		if q.step <= 0 {
			return q, badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
		if (q.end-q.start)/q.step+1 > a.cfg.MaxSteps {
			return q, unsupported("exceeded maximum resolution of %d points per timeseries (limit). Try decreasing the query resolution (?step=XX)", a.cfg.MaxSteps)
		}
	}
	expr, err := promParser.ParseExpr(text)
	if err != nil {
		return q, badData("invalid parameter \"query\": %s", err.Error())
	}
	q.expr, q.text = expr, text
	return q, nil
}

// matchParams parses match[]: each a series selector.
func matchParams(form url.Values, required bool) ([][]*labels.Matcher, error) {
	ms := form["match[]"]
	if len(ms) == 0 {
		if required {
			return nil, badData("no match[] parameter provided")
		}
		return nil, nil
	}
	sets, err := promParser.ParseMetricSelectors(ms)
	if err != nil {
		return nil, badData("invalid parameter \"match[]\": %s", err.Error())
	}
	return sets, nil
}
