package httpapi

import "strings"

// specPromEndpoints documents Prometheus' query API (promql.go): GET and
// form-encoded POST alike, answered in Prometheus' own format.
func specPromEndpoints() []specEndpoint {
	q := func(name, desc string, required bool) specMap {
		return specMap{"name": name, "in": "query", "required": required, "schema": specMap{"type": "string"}, "description": desc}
	}
	match := specMap{"name": "match[]", "in": "query", "required": false, "description": "Series selector; repeat for several.",
		"schema": specArray(specMap{"type": "string"}), "explode": true}
	timeRange := []specMap{q("start", "Unix seconds or RFC 3339; checked, does not narrow the answer.", false),
		q("end", "Unix seconds or RFC 3339; checked, does not narrow the answer.", false), q("limit", "At most this many entries.", false)}
	success := func(data specMap) specMap {
		return specMap{"description": "Success, in Prometheus' format.", "headers": specRateLimitHeaders(),
			"content": specMap{"application/json": specMap{"schema": specObject(specMap{
				"status": specEnum("Always success.", "success"), "data": data}, "status", "data")}}}
	}
	promErr := func(desc string) specMap {
		return specMap{"description": desc, "content": specMap{"application/json": specMap{"schema": specObject(specMap{
			"status":    specEnum("Always error.", "error"),
			"errorType": specEnum("bad_data (400), execution (422), unavailable (503), internal (500).", "bad_data", "execution", "unavailable", "internal", "timeout"),
			"error":     specString("What is wrong.")}, "status", "errorType", "error")}}}
	}
	responses := func(data specMap) specMap {
		return specMap{"200": success(data),
			"400": promErr("Invalid parameter or query (bad_data)."), "401": promErr("Invalid or missing API key."),
			"422": promErr("Outside the supported PromQL, or over a limit (execution); the message names which."),
			"429": promErr("Over the plan; see Retry-After."), "500": promErr("Internal error."),
			"503": promErr("The cluster cannot serve this now, or the query timed out; retry.")}
	}
	result := specObject(specMap{"resultType": specEnum("Result type.", "vector", "matrix", "scalar"),
		"result": specMap{"description": "Vector: [{metric, value}], matrix: [{metric, values}], scalar: [time, \"value\"]."}}, "resultType", "result")
	strs := specArray(specMap{"type": "string"})
	var out []specEndpoint
	add := func(path, id, summary, desc string, params []specMap, data specMap, post bool) {
		out = append(out, specEndpoint{method: "GET", path: path, id: id, tag: "PromQL", auth: apiKey,
			summary: summary, description: desc, params: params, responses: responses(data)})
		if post {
			out = append(out, specEndpoint{method: "POST", path: path, id: id + "Post", tag: "PromQL", auth: apiKey,
				summary: summary + " (form POST)", description: "As GET; the parameters may also come form-encoded in the body " +
					"(`Content-Type: application/x-www-form-urlencoded`), as Grafana sends them.", params: params, responses: responses(data)})
		}
	}
	desc := "Key as X-API-Key, `Authorization: Bearer <key>` or the basic-auth password. Series: `__name__` the field, `bucket`, `source` and the source's tags. "
	add("/api/v1/query", "promQuery", "PromQL instant query",
		desc+"Supported: selectors with every matcher, offset, rate, irate, increase, delta, avg|min|max|sum|count|last_over_time, sum|avg|min|max|count by/without, scalar arithmetic and comparisons; 5-minute lookback.",
		[]specMap{q("query", "PromQL expression.", true), q("time", "Evaluation time (Unix seconds or RFC 3339); default now.", false), q("timeout", "Accepted, capped at 30s.", false)}, result, true)
	add("/api/v1/query_range", "promQueryRange", "PromQL range query",
		desc+"Evaluated at start, start+step, ... up to end (at most 11,000 steps); completed steps are cached.",
		[]specMap{q("query", "PromQL expression.", true), q("start", "Unix seconds or RFC 3339.", true), q("end", "Unix seconds or RFC 3339.", true),
			q("step", "Seconds or a duration such as 1h.", true), q("timeout", "Accepted, capped at 30s.", false)}, result, true)
	add("/api/v1/series", "promSeries", "Series matching selectors", desc, append([]specMap{match}, timeRange...), specArray(specMap{"type": "object"}), true)
	add("/api/v1/labels", "promLabels", "Label names", desc, append([]specMap{match}, timeRange...), strs, true)
	add("/api/v1/label/{name}/values", "promLabelValues", "Values of a label", desc,
		append([]specMap{specPathParam("name", "Label name, __name__ for the fields.", specMap{"type": "string"}), match}, timeRange...), strs, false)
	add("/api/v1/metadata", "promMetadata", "Metric metadata", "Every field is a gauge with its schema's unit.",
		[]specMap{q("metric", "Only this field.", false), q("limit", "At most this many metrics.", false)}, specMap{"type": "object"}, true)
	add("/api/v1/status/buildinfo", "promBuildInfo", "Build information", "What Grafana reads to pick its Prometheus features.", nil, specMap{"type": "object"}, false)
	for i := range out {
		out[i].id = strings.ReplaceAll(out[i].id, "/", "")
	}
	return out
}
