// Package promapi answers Prometheus' HTTP query API (/api/v1/query,
// query_range, series, labels, label values, metadata, buildinfo) over
// dakkio's points, so that Grafana's Prometheus data source, promtool and
// other PromQL clients read dakkio directly.
//
// Queries are parsed with the Prometheus project's own parser; the subset
// of API.md ("Query from Grafana and PromQL tools") is evaluated here over
// the points store: raw points in general, and the stored hour rollups for
// avg/sum/count_over_time when the range, the step and the evaluation
// times fall on whole hours. Everything else is refused with 422 naming
// what is unsupported. Completed steps of range queries are kept in a
// result cache (cache.go) that a late point or a retention change
// invalidates.
//
// The package knows nothing of HTTP transport or keys: httpapi
// authenticates the call, then hands over the form values and the scope
// (the buckets the key may read).
package promapi
