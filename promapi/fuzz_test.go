package promapi

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzServe feeds arbitrary query strings (parameters and PromQL) to
// every endpoint over a real store: each answer is well-formed JSON with
// a 2xx, 400 or 422 status, never a panic or a storage error.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"query=v&time=1700000000", "query=rate(v[5m])&start=1&end=100&step=10",
		"query=sum+by+(source)+(v)+*+2", "match[]=v&start=-1e9&end=1e9", "query=v+offset+-5m", "limit=3",
		"query=avg_over_time(v[1h])&start=0&end=36000&step=1h", "query=%7B__name__%3D~%22.%2A%22%7D", "query=1/0",
		"query=v&time=2024-01-15T10:30:00.123Z", "query=v>bool+3&timeout=1s", "metric=v", "step=1e300",
	} {
		f.Add(s)
	}
	a, sc := storeAPI(f, 3, Config{MaxPoints: 100_000})
	endpoints := []string{EndpointQuery, EndpointQueryRange, EndpointSeries, EndpointLabels, EndpointLabelValues, EndpointMetadata, EndpointBuildInfo}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, ep := range endpoints {
			resp, err := a.Serve(sc, ep, form.Get("label"), form)
			if err != nil {
				t.Fatalf("%s %q: storage error %v", ep, raw, err)
			}
			switch resp.Status {
			case 200, 400, 422:
			default:
				t.Fatalf("%s %q: status %d %s", ep, raw, resp.Status, resp.Body)
			}
			if !json.Valid(resp.Body) {
				t.Fatalf("%s %q: invalid JSON %s", ep, raw, resp.Body)
			}
		}
	})
}
