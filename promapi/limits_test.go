package promapi

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLimits: too many series, points read or steps are 422 naming the limit.
func TestLimits(t *testing.T) {
	a, sc := storeAPI(t, 20, Config{MaxSeries: 10, MaxPoints: 1000, MaxSteps: 200})
	now := strconv.FormatInt(time.Now().Unix(), 10)
	hourAgo := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	cases := []struct {
		endpoint string
		form     url.Values
		says     string
	}{
		{EndpointQuery, url.Values{"query": {"v"}, "time": {now}}, "limit of 10 series"},
		{EndpointQuery, url.Values{"query": {`sum_over_time(v{source=~"s[0-9]"}[2h])`}, "time": {now}}, "limit of 1000 points"},
		{EndpointQueryRange, url.Values{"query": {`v{source="s1"}`}, "start": {hourAgo}, "end": {now}, "step": {"10"}}, "maximum resolution of 200 points"},
		{EndpointQueryRange, url.Values{"query": {`v{source=~"s[0-9]"}`}, "start": {hourAgo}, "end": {now}, "step": {"20"}}, "limit of 1000 points"},
		{EndpointQueryRange, url.Values{"query": {`sum_over_time(v{source="s1"}[3h])`}, "start": {hourAgo}, "end": {now}, "step": {"20"}}, "visits more than 10000 samples"},
	}
	for _, c := range cases {
		resp, err := a.Serve(sc, c.endpoint, "", c.form)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 422 || !strings.Contains(string(resp.Body), `"errorType":"execution"`) || !strings.Contains(string(resp.Body), c.says) {
			t.Errorf("%s %v: %d %.300s; want 422 saying %q", c.endpoint, c.form, resp.Status, resp.Body, c.says)
		}
	}
	// Within the limits the same store answers.
	resp, err := a.Serve(sc, EndpointQuery, "", url.Values{"query": {`count(v{source=~"s[0-9]"})`}, "time": {now}})
	if err != nil || resp.Status != 200 || !strings.Contains(string(resp.Body), `"10"]`) {
		t.Errorf("within limits: %v %d %s", err, resp.Status, resp.Body)
	}
}
