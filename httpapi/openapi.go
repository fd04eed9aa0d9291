package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// The OpenAPI 3.1 description of the API, served at /openapi.json and read
// by the playground. It is built in Go rather than kept as a JSON file so
// that the envelopes, error answers and rate-limit headers every operation
// shares are written once. docs/api.md stays the prose contract; the test in
// openapi_test.go keeps this document's paths and the routes in step.

// specMap is a JSON object of the document.
type specMap = map[string]any

// openAPIJSON is the document as served, built on first use.
var openAPIJSON = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(openAPIDocument(), "", "  ")
	if err != nil {
		// The document is made of maps, slices and plain values only.
		panic(fmt.Sprintf("cannot encode the OpenAPI document: %v", err))
	}
	return b
})

// openAPI serves the OpenAPI document (public).
func (s *Server) openAPI(c *call) error {
	h := &c.ctx.Response.Header
	h.Set("Cache-Control", "no-cache")
	// Tools such as editors hosted elsewhere may read the description; it
	// holds nothing private.
	h.Set("Access-Control-Allow-Origin", "*")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("application/json")
	c.ctx.SetBody(openAPIJSON())
	return nil
}

// specEndpoint describes one operation.
type specEndpoint struct {
	method, path string
	id           string // operationId; the playground shows summary
	tag          string
	summary      string
	description  string
	auth         access
	params       []specMap
	body         specMap // request body object; nil for none
	status       int     // success status
	data         specMap // schema of the envelope's data
	list         bool    // data is an array of data, with pagination
	metadata     specMap // schema of metadata; default an empty object
	errors       []int   // error statuses beyond those of auth
	responses    specMap // replaces the enveloped success and errors
}

func specRef(name string) specMap { return specMap{"$ref": "#/components/schemas/" + name} }

func specArray(items specMap) specMap { return specMap{"type": "array", "items": items} }

func specString(desc string) specMap { return specMap{"type": "string", "description": desc} }

func specInt(desc string) specMap { return specMap{"type": "integer", "description": desc} }

func specEnum(desc string, values ...string) specMap {
	return specMap{"type": "string", "enum": values, "description": desc}
}

func specNullable(typ, desc string) specMap {
	return specMap{"type": []string{typ, "null"}, "description": desc}
}

func specNullableTime(desc string) specMap {
	return specMap{"type": []string{"string", "null"}, "format": "date-time", "description": desc}
}

// specObject is a closed description of an object's members; required
// names the members always present.
func specObject(props specMap, required ...string) specMap {
	o := specMap{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// specAllRequired is an object whose members are all always present, as in
// most answers.
func specAllRequired(props specMap) specMap {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return specObject(props, names...)
}

func specPathParam(name, desc string, schema specMap) specMap {
	return specMap{"name": name, "in": "path", "required": true, "description": desc, "schema": schema}
}

func specIDParam(name, what string) specMap {
	return specPathParam(name, "The "+what+"'s id. A malformed id is 400, never 404.", specRef("ObjectId"))
}

var specPageParams = []specMap{
	{"$ref": "#/components/parameters/limit"},
	{"$ref": "#/components/parameters/offset"},
}

// specBody is a JSON request body of schema with named examples; the
// first is the one the playground fills in. OpenAPI forbids "example" next
// to "examples", and JSON objects have no order, so the first one's name
// goes in the x-dakkio-default-example extension.
func specBody(schema specMap, required bool, examples ...specExample) specMap {
	media := specMap{"schema": schema}
	if len(examples) > 0 {
		ex := specMap{}
		for _, e := range examples {
			ex[e.name] = specMap{"summary": e.summary, "value": e.value}
		}
		media["examples"] = ex
		media["x-dakkio-default-example"] = examples[0].name
	}
	return specMap{"required": required, "content": specMap{"application/json": media}}
}

type specExample struct {
	name, summary string
	value         any
}

// Example ids, in the ObjectId layout, used across the examples.
const (
	exBucketID = "65a1f0c2e4b0a1b2c3d4e5f6"
	exSourceID = "65a1f0d8e4b0a1b2c3d4e5f7"
	exAlertID  = "65a1f1a0e4b0a1b2c3d4e5f8"
	exOrgID    = "65a1ef00e4b0a1b2c3d4e5f0"
)

func specEndpoints() []specEndpoint {
	bucketID := specIDParam("bucketId", "bucket")
	return []specEndpoint{
		{method: "GET", path: "/health", id: "health", tag: "Health", auth: public,
			summary:     "Is the process alive",
			description: "Answers 200 while the process runs, even while the node starts. No credentials, never counted.",
			status:      200, data: specRef("Status")},
		{method: "GET", path: "/ready", id: "ready", tag: "Health", auth: public,
			summary:     "Can this node serve",
			description: "200 when this node has started, knows a leader, has applied the log and the cluster is initialized; else 503 naming the reason.",
			status:      200, data: specRef("Status"), errors: []int{503}},
		{method: "GET", path: "/openapi.json", id: "openapi", tag: "Documentation", auth: public,
			summary:     "This OpenAPI document",
			description: "The OpenAPI 3.1 description of every public endpoint (node-to-node routes under /internal are not part of it).",
			responses: specMap{"200": specMap{"description": "The OpenAPI document.",
				"content": specMap{"application/json": specMap{"schema": specMap{"type": "object"}}}}}},
		{method: "GET", path: "/playground", id: "playground", tag: "Documentation", auth: public,
			summary:     "The API Playground",
			description: "A self-contained HTML page, served by every node, to try each endpoint of this document with a key.",
			responses: specMap{"200": specMap{"description": "The playground page.",
				"content": specMap{"text/html": specMap{"schema": specMap{"type": "string"}}}}}},
		{method: "GET", path: "/console", id: "console", tag: "Documentation", auth: public,
			summary:     "The web console",
			description: "A self-contained web console, served by every node: buckets, sources, charts of queries, alert rules, keys, webhooks, organizations and the cluster, driven by this API with the key or operator token the user signs in with (docs/console.md).",
			responses: specMap{"200": specMap{"description": "The console page.",
				"content": specMap{"text/html": specMap{"schema": specMap{"type": "string"}}}}}},
		{method: "GET", path: "/console/{file}", id: "consoleAsset", tag: "Documentation", auth: public,
			summary:     "A script or style sheet of the web console",
			description: "The console's own files, named by the page (with their integrity hashes); any other name is 404.",
			params:      []specMap{specPathParam("file", "The asset's name, such as app.js.", specMap{"type": "string"})},
			responses: specMap{"200": specMap{"description": "The asset.",
				"content": specMap{"text/javascript": specMap{"schema": specMap{"type": "string"}}, "text/css": specMap{"schema": specMap{"type": "string"}}}},
				"404": specMap{"$ref": "#/components/responses/NotFound"}}},
		{method: "GET", path: "/metrics", id: "metrics", tag: "Documentation", auth: public,
			summary: "Prometheus metrics",
			description: "This node's metrics in Prometheus' text format: requests by route, method and status with latency histograms, points ingested and queried, " +
				"rate-limit refusals, Raft state and indexes, gossip members, hinted-handoff queues, repair progress, replicated reads and writes, disk use, Go runtime.",
			responses: specMap{"200": specMap{"description": "The metrics.",
				"content": specMap{"text/plain": specMap{"schema": specMap{"type": "string"}}}}}},

		// Ingest protocols of other agents (docs/integrations.md).
		{method: "GET", path: "/ping", id: "ping", tag: "Ingest protocols", auth: public,
			summary: "InfluxDB liveness probe", description: "204, as InfluxDB answers; clients call it before writing.",
			responses: specMap{"204": specMap{"description": "Alive."}}},
		{method: "POST", path: "/api/v2/write", id: "influxWriteV2", tag: "Ingest protocols", auth: apiKey,
			summary: "Write InfluxDB line protocol (InfluxDB 2)",
			description: "Telegraf, Vector, the InfluxDB clients. `?bucket=` (id or name; a write key may leave it out), `?precision=ns|us|ms|s`, `org` ignored. " +
				"Key in `Authorization: Token <key>` or `Bearer <key>`, or `X-API-Key`. `Content-Encoding: gzip` accepted. " +
				"The measurement and sorted tags name the data source (created on first write, type api); all or nothing. Errors are InfluxDB's `{\"code\",\"message\"}`, a bad line named by number.",
			responses: specLineProtocolResponses()},
		{method: "POST", path: "/write", id: "influxWriteV1", tag: "Ingest protocols", auth: apiKey,
			summary:     "Write InfluxDB line protocol (InfluxDB 1)",
			description: "As /api/v2/write, with `?db=` for the bucket, `?precision=n|u|ms|s`, and the key also as `?p=` or the basic-auth password.",
			responses:   specLineProtocolResponses()},
		{method: "POST", path: "/api/v1/write", id: "promRemoteWrite", tag: "Ingest protocols", auth: apiKey,
			summary: "Prometheus remote write 1.0",
			description: "Snappy-compressed protobuf WriteRequest. Key in `Authorization: Bearer <key>` or `X-API-Key`; an admin key names `?bucket=`. " +
				"Labels other than __name__ name the data source ({instance=\"a:9100\",job=\"node\"}); __name__ is the field; NaN samples (staleness markers) are skipped. Errors are plain text.",
			responses: specMap{"204": specMap{"description": "Stored."},
				"400": specMap{"description": "Invalid request or series (plain text)."}, "401": specMap{"description": "Invalid or missing API key."},
				"403": specMap{"description": "Another bucket, a read key, or the plan's source limit."}, "404": specMap{"description": "Unknown bucket."},
				"413": specMap{"description": "Body too large."}, "429": specMap{"description": "Over the plan; see Retry-After."},
				"503": specMap{"description": "Cannot serve now; retry."}}},

		// Buckets.
		{method: "GET", path: "/api/buckets", id: "listBuckets", tag: "Buckets", auth: apiKey,
			summary: "List buckets", description: "The organization's buckets in creation order. Admin keys only.",
			params: specPageParams, status: 200, data: specRef("Bucket"), list: true, errors: []int{400, 403}},
		{method: "POST", path: "/api/buckets", id: "createBucket", tag: "Buckets", auth: apiKey,
			summary:     "Create a bucket",
			description: "Admin keys only. Checks, in order: validation (400), the plan's retention (403), name taken (409), the plan's bucket count (403).",
			body: specBody(specRef("BucketCreate"), true,
				specExample{"bucket", "A bucket keeping 30 days", specMap{"name": "greenhouse", "description": "Sensors in the greenhouse", "retentionDays": 30}}),
			status: 201, data: specRef("Bucket"), errors: []int{400, 403, 409}},
		{method: "GET", path: "/api/buckets/{id}", id: "getBucket", tag: "Buckets", auth: apiKey,
			summary: "Get a bucket", description: "The bucket and its counts. Admin keys only.",
			params: []specMap{specIDParam("id", "bucket")}, status: 200, data: specRef("BucketWithStats"), errors: []int{400, 403, 404}},
		{method: "PATCH", path: "/api/buckets/{id}", id: "updateBucket", tag: "Buckets", auth: apiKey,
			summary:     "Update a bucket",
			description: "Any of name, description, retentionDays, status; at least one. A refused change applies none of its fields. Admin keys only.",
			params:      []specMap{specIDParam("id", "bucket")},
			body: specBody(specRef("BucketUpdate"), true,
				specExample{"rename", "Rename and describe", specMap{"name": "greenhouse-2", "description": "Second greenhouse"}},
				specExample{"archive", "Archive", specMap{"status": "archived"}}),
			status: 200, data: specRef("Bucket"), errors: []int{400, 403, 404, 409}},
		{method: "DELETE", path: "/api/buckets/{id}", id: "deleteBucket", tag: "Buckets", auth: apiKey,
			summary:     "Delete a bucket",
			description: "Deletes the bucket with its data sources, points, keys and alert rules; its keys are refused from the moment the answer is sent. Admin keys only.",
			params:      []specMap{specIDParam("id", "bucket")}, status: 200, data: specRef("BucketDeleted"), errors: []int{400, 403, 404}},

		// API keys.
		{method: "GET", path: "/api/buckets/{bucketId}/keys", id: "listKeys", tag: "API keys", auth: apiKey,
			summary: "List a bucket's keys", description: "The bucket's write and read keys, never the keys themselves. Admin keys only.",
			params: append([]specMap{bucketID}, specPageParams...), status: 200, data: specRef("APIKey"), list: true, errors: []int{400, 403, 404}},
		{method: "POST", path: "/api/buckets/{bucketId}/keys", id: "createKey", tag: "API keys", auth: apiKey,
			summary:     "Create a bucket key",
			description: "A write or read key for the bucket. The full key is in this answer only. Admin keys only.",
			params:      []specMap{bucketID},
			body: specBody(specRef("KeyCreate"), true,
				specExample{"write", "A write key", specMap{"name": "sensors", "type": "write"}},
				specExample{"read", "A read key", specMap{"name": "dashboard", "type": "read"}}),
			status: 201, data: specRef("APIKeyCreated"), errors: []int{400, 403, 404}},
		{method: "DELETE", path: "/api/buckets/{bucketId}/keys/{keyId}", id: "deleteKey", tag: "API keys", auth: apiKey,
			summary:     "Revoke a bucket key",
			description: "From this answer on every node refuses the key (401). A key of another bucket, or an admin key, is 404. Admin keys only.",
			params:      []specMap{bucketID, specIDParam("keyId", "key")}, status: 200, data: specRef("KeyDeleted"), errors: []int{400, 403, 404}},

		// Data sources.
		{method: "GET", path: "/api/buckets/{bucketId}/sources", id: "listSources", tag: "Data sources", auth: apiKey,
			summary: "List a bucket's data sources", description: "Any key of the bucket.",
			params: append([]specMap{bucketID}, specPageParams...), status: 200, data: specRef("DataSource"), list: true, errors: []int{400, 403, 404}},
		{method: "POST", path: "/api/buckets/{bucketId}/sources", id: "createSource", tag: "Data sources", auth: apiKey,
			summary:     "Create a data source",
			description: "Admin or the bucket's write key. The schema names the fields points may carry. The organization-wide source count of the plan applies (403).",
			params:      []specMap{bucketID},
			body: specBody(specRef("DataSourceCreate"), true,
				specExample{"sensor", "A sensor with two fields", specMap{"name": "sensor-1", "type": "sensor",
					"schema": specMap{"temperature": specMap{"type": "number", "unit": "C"}, "door": specMap{"type": "boolean"}}}}),
			status: 201, data: specRef("DataSource"), errors: []int{400, 403, 404, 409}},

		// Data points.
		{method: "POST", path: "/api/data", id: "ingest", tag: "Data points", auth: apiKey,
			summary:     "Write a data point",
			description: "Admin or the bucket's write key. Values are checked against the source's schema. Writing the same (dataSourceId, timestamp) again replaces the point, so retries never duplicate.",
			body: specBody(specRef("PointCreate"), true,
				specExample{"point", "One point", specMap{"bucketId": exBucketID, "dataSourceId": exSourceID,
					"timestamp": "2024-01-15T10:30:00Z", "values": specMap{"temperature": 21.5, "door": false}}}),
			params: []specMap{specConsistencyParam},
			status: 201, data: specRef("Point"), errors: []int{400, 403, 404, 409, 503}},
		{method: "POST", path: "/api/data/batch", id: "ingestBatch", tag: "Data points", auth: apiKey,
			summary:     "Write up to 1000 data points",
			description: "Admin or the bucket's write key. All or nothing: if any point is invalid, none is stored and each problem is a detail naming the point's index.",
			body: specBody(specRef("BatchCreate"), true,
				specExample{"batch", "Two points", specMap{"bucketId": exBucketID, "dataPoints": []any{
					specMap{"dataSourceId": exSourceID, "timestamp": "2024-01-15T10:30:00Z", "values": specMap{"temperature": 21.5}},
					specMap{"dataSourceId": exSourceID, "timestamp": "2024-01-15T10:31:00Z", "values": specMap{"temperature": 21.7, "door": true}},
				}}}),
			params: []specMap{specConsistencyParam},
			status: 201, data: specRef("BatchResult"), errors: []int{400, 403, 404, 409, 503}},

		// Query.
		{method: "POST", path: "/api/data/query", id: "query", tag: "Query", auth: apiKey,
			summary: "Query data points",
			description: "Any key of the bucket. Without aggregation and groupBy the answer is raw points; with either, one row per source per window. " +
				"With no aggregation, no groupBy and no limit, more than 500 matching points of downsampling sources are averaged over the finest window giving at most 500 rows (metadata.downsamplingApplied).",
			body: specBody(specRef("QueryRequest"), true,
				specExample{"raw", "Raw points of one source", specMap{"bucketId": exBucketID,
					"filters": specMap{"dataSourceId": exSourceID, "startTime": "2024-01-15T00:00:00Z", "endTime": "2024-01-16T00:00:00Z", "limit": 100}}},
				specExample{"hourly", "Hourly averages", specMap{"bucketId": exBucketID,
					"filters": specMap{"dataSourceId": exSourceID, "startTime": "2024-01-15T00:00:00Z"}, "aggregation": "avg", "groupBy": "hour"}}),
			params: []specMap{specAllowPartialParam},
			status: 200, data: specArray(specMap{"anyOf": []specMap{specRef("RawPoint"), specRef("AggregateRow")}}),
			metadata: specRef("QueryMetadata"), errors: []int{400, 403, 404, 503}},

		// Alert rules.
		{method: "POST", path: "/api/alerts", id: "createAlert", tag: "Alert rules", auth: apiKey,
			summary:     "Create an alert rule",
			description: "Admin or the bucket's write key. The condition is plain English, such as \"temperature is greater than 30 for 5 minutes\" or \"no data received for 10 minutes\".",
			body: specBody(specRef("AlertCreate"), true,
				specExample{"threshold", "A threshold held for 5 minutes", specMap{"bucketId": exBucketID, "dataSourceId": exSourceID,
					"name": "Too hot", "condition": "temperature is greater than 30 for 5 minutes",
					"webhookUrl": "https://example.com/hooks/dakkio", "cooldownMinutes": 15}},
				specExample{"nodata", "No data", specMap{"bucketId": exBucketID, "dataSourceId": exSourceID,
					"name": "Sensor silent", "condition": "no data received for 10 minutes", "webhookUrl": "https://example.com/hooks/dakkio"}}),
			status: 201, data: specRef("AlertRule"), errors: []int{400, 403, 404, 409}},
		{method: "GET", path: "/api/buckets/{bucketId}/alerts", id: "listAlerts", tag: "Alert rules", auth: apiKey,
			summary: "List a bucket's alert rules", description: "Any key of the bucket.",
			params: append([]specMap{bucketID}, specPageParams...), status: 200, data: specRef("AlertRule"), list: true, errors: []int{400, 403, 404}},
		{method: "GET", path: "/api/alerts/{id}", id: "getAlert", tag: "Alert rules", auth: apiKey,
			summary: "Get an alert rule", description: "Any key of the rule's bucket.",
			params: []specMap{specIDParam("id", "alert rule")}, status: 200, data: specRef("AlertRule"), errors: []int{400, 403, 404}},
		{method: "PATCH", path: "/api/alerts/{id}", id: "updateAlert", tag: "Alert rules", auth: apiKey,
			summary: "Update an alert rule", description: "Admin or the bucket's write key; at least one field. Works on archived buckets.",
			params: []specMap{specIDParam("id", "alert rule")},
			body: specBody(specRef("AlertUpdate"), true,
				specExample{"pause", "Pause", specMap{"status": "paused"}},
				specExample{"condition", "Change the condition", specMap{"condition": "temperature exceeds 35", "cooldownMinutes": 30}}),
			status: 200, data: specRef("AlertRule"), errors: []int{400, 403, 404}},
		{method: "DELETE", path: "/api/alerts/{id}", id: "deleteAlert", tag: "Alert rules", auth: apiKey,
			summary: "Delete an alert rule", description: "Admin or the bucket's write key.",
			params: []specMap{specIDParam("id", "alert rule")}, status: 200, data: specRef("AlertDeleted"), errors: []int{400, 403, 404}},
		{method: "GET", path: "/api/alerts/{id}/events", id: "listAlertEvents", tag: "Alert rules", auth: apiKey,
			summary: "List an alert rule's triggers", description: "Newest first; the last 1000 are kept. Any key of the rule's bucket.",
			params: append([]specMap{specIDParam("id", "alert rule")}, specPageParams...), status: 200, data: specRef("AlertEvent"), list: true, errors: []int{400, 403, 404}},

		// Analytics.
		{method: "GET", path: "/api/analytics/overview", id: "analyticsOverview", tag: "Analytics", auth: apiKey,
			summary: "Organization overview", description: "Totals, usage against the plan and recent activity. Admin keys only.",
			status: 200, data: specRef("Overview"), errors: []int{403}},
		{method: "GET", path: "/api/analytics/buckets/{bucketId}", id: "bucketAnalytics", tag: "Analytics", auth: apiKey,
			summary: "Bucket analytics", description: "Counts, per-source statistics, hourly ingestion and alert activity over a period ending now. Any key of the bucket.",
			params: []specMap{bucketID, {"name": "period", "in": "query", "required": false,
				"description": "The period [now - period, now). Any other value, empty included, is 400.",
				"schema":      specMap{"type": "string", "enum": []string{"24h", "7d", "30d", "90d"}, "default": "7d"}}, specAllowPartialParam},
			status: 200, data: specRef("BucketAnalytics"), errors: []int{400, 403, 404, 503}},

		// Operator.
		{method: "POST", path: "/api/operator/orgs", id: "createOrg", tag: "Operator", auth: operator,
			summary: "Create an organization", description: "Returns the organization and its first admin key, shown only here.",
			body: specBody(specRef("OrgCreate"), true,
				specExample{"org", "A pro organization", specMap{"name": "acme", "plan": "pro"}}),
			status: 201, data: specRef("OrgCreated"), errors: []int{400, 409}},
		{method: "GET", path: "/api/operator/orgs", id: "listOrgs", tag: "Operator", auth: operator,
			summary: "List organizations", params: specPageParams, status: 200, data: specRef("Organization"), list: true, errors: []int{400}},
		{method: "PATCH", path: "/api/operator/orgs/{id}", id: "updateOrg", tag: "Operator", auth: operator,
			summary: "Update an organization", description: "Any of name and plan; at least one. A plan change applies to the next call.",
			params: []specMap{specIDParam("id", "organization")},
			body: specBody(specRef("OrgUpdate"), true,
				specExample{"plan", "Change the plan", specMap{"plan": "enterprise"}}),
			status: 200, data: specRef("Organization"), errors: []int{400, 404, 409}},
		{method: "POST", path: "/api/operator/orgs/{id}/keys", id: "createAdminKey", tag: "Operator", auth: operator,
			summary: "Create an admin key", description: "Another admin key of the organization, shown only in this answer. The body is optional.",
			params: []specMap{specIDParam("id", "organization")},
			body: specBody(specRef("AdminKeyCreate"), false,
				specExample{"named", "A named key", specMap{"name": "ci"}}),
			status: 201, data: specRef("AdminKey"), errors: []int{400, 404}},
		{method: "GET", path: "/api/operator/orgs/{id}/keys", id: "listAdminKeys", tag: "Operator", auth: operator,
			summary: "List an organization's admin keys", description: "Never the keys themselves.",
			params: append([]specMap{specIDParam("id", "organization")}, specPageParams...),
			status: 200, data: specRef("AdminKeyListed"), list: true, errors: []int{400, 404}},
		{method: "DELETE", path: "/api/operator/orgs/{id}/keys/{keyId}", id: "revokeAdminKey", tag: "Operator", auth: operator,
			summary: "Revoke an admin key",
			description: "Every node refuses the key (401) within the key lease of this answer, as for a bucket key. " +
				"A key of another organization, or a bucket key, is 404. The organization's last admin key may go too: create another with POST .../keys.",
			params: []specMap{specIDParam("id", "organization"), specIDParam("keyId", "key")},
			status: 200, data: specRef("AdminKeyRevoked"), errors: []int{400, 404}},
		{method: "POST", path: "/api/operator/token", id: "rotateOperatorToken", tag: "Operator", auth: operator,
			summary: "Rotate the operator token",
			description: "Makes a new operator token, shown only in this answer, and keeps its hash in the cluster's metadata. " +
				"Every node refuses the old token (401) within the key lease of this answer. The node that answers deletes its <data-dir>/operator-token, which held the old one.",
			status: 200, data: specRef("OperatorToken")},
		{method: "GET", path: "/api/operator/cluster", id: "clusterStatus", tag: "Operator", auth: operator,
			summary: "Cluster status", description: "Nodes, leader, Raft state and bucket placement, as this node sees them.",
			status: 200, data: specRef("ClusterStatus")},
		{method: "DELETE", path: "/api/operator/cluster/nodes/{id}", id: "removeNode", tag: "Operator", auth: operator,
			summary: "Remove a node from the cluster",
			description: "Meant for stopped or dead nodes. Only the leader can: another node answers 503 naming the leader in the message and in X-Dakkio-Leader. " +
				"404 for an unknown node, 409 for the only voter.",
			params: []specMap{specPathParam("id", "The node's id (its --node-id).", specMap{"type": "string"})},
			status: 200, data: specRef("RemovedNode"), errors: []int{404, 409}},
		{method: "POST", path: "/api/operator/cluster/rebalance", id: "rebalance", tag: "Operator", auth: operator,
			summary: "Move buckets onto added nodes",
			description: "Places every bucket over the current servers by rendezvous hashing; a bucket whose replicas differ gets its new replicas as pending " +
				"(they copy it and serve reads once caught up) and loses the old ones after. Buckets already moving are left alone.",
			status: 200, data: specRef("Rebalance")},
		{method: "GET", path: "/api/operator/backup", id: "backup", tag: "Operator", auth: operator,
			summary: "Back up the cluster",
			description: "Streams the backup file (what `dakkio backup` saves; format 2: a `DAKKIO-BACKUP 2` line then one zstd stream of frames): the metadata as of one Raft index, then every source's points, each hour read in one pass " +
				"from a replica in sync. An error after the stream started ends it with an error frame and no trailer. Points written meanwhile may or may not be in it.",
			params: []specMap{{"name": "allowPartial", "in": "query", "required": false,
				"description": "true: read from a replica not known to be in sync rather than fail (the backup may miss acknowledged writes). Default false.",
				"schema":      specMap{"type": "string", "enum": []string{"true", "false"}, "default": "false"}}},
			responses: specMap{"200": specMap{"description": "The backup file.",
				"content": specMap{"application/octet-stream": specMap{"schema": specMap{"type": "string", "format": "binary"}}}},
				"401": specMap{"$ref": "#/components/responses/Unauthorized"}, "503": specMap{"$ref": "#/components/responses/ServiceUnavailable"}}},
		{method: "POST", path: "/api/operator/restore/metadata", id: "restoreMetadata", tag: "Operator", auth: operator,
			summary: "Restore a backup's metadata",
			description: "The body is the metadata frame of a backup file. It replaces the metadata of a fresh cluster (409 once it has buckets or organizations " +
				"of its own) through Raft; buckets are placed on this cluster's nodes, and the cluster keeps its operator token. `dakkio restore` sends it, then the points.",
			body: specMap{"required": true, "content": specMap{"application/json": specMap{"schema": specMap{"type": "object"},
				"example": specMap{"initialized": true, "orgs": []specMap{{"_id": "65a4f0c2a1b2c3d4e5000001", "name": "default", "plan": "enterprise"}}}}}},
			status: 200, data: specAllRequired(specMap{"buckets": specInt("Buckets restored.")}), errors: []int{409}},
		{method: "POST", path: "/api/operator/restore/points", id: "restorePoints", tag: "Operator", auth: operator,
			summary: "Restore a batch of a backup's points",
			description: "The body is one points frame of a backup file (bucket id, then the batch). Every replica of the restored bucket must store it, else 503 (safe to retry); " +
				"no alert rule is evaluated.",
			body:   specMap{"required": true, "content": specMap{"application/octet-stream": specMap{"schema": specMap{"type": "string", "format": "binary"}}}},
			status: 200, data: specAllRequired(specMap{"points": specInt("Points stored.")}), errors: []int{404}},
	}
}

// specConsistencyParam is the write consistency of an ingest call.
var specConsistencyParam = specMap{"name": "consistency", "in": "query", "required": false,
	"description": "Replicas of the bucket that must store the points before the write is acknowledged; below it the answer is 503, safe to retry. Default: the node's --write-consistency (quorum).",
	"schema":      specMap{"type": "string", "enum": []string{"one", "quorum", "all"}}}

// specAllowPartialParam lets a read refuse a possibly partial answer.
var specAllowPartialParam = specMap{"name": "allowPartial", "in": "query", "required": false,
	"description": "false: answer 503 rather than a result that may miss acknowledged writes (metadata.partial). Default true.",
	"schema":      specMap{"type": "string", "enum": []string{"true", "false"}, "default": "true"}}

// specErrorResponses names the shared error answer of each status.
var specErrorResponses = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
	413: "PayloadTooLarge", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
}

func specOperation(e specEndpoint) specMap {
	op := specMap{"operationId": e.id, "summary": e.summary, "tags": []string{e.tag}}
	if e.description != "" {
		op["description"] = e.description
	}
	switch e.auth {
	case apiKey:
		op["security"] = []specMap{{"apiKey": []string{}}}
	case operator:
		op["security"] = []specMap{{"operatorToken": []string{}}}
	default:
		op["security"] = []specMap{}
	}
	if len(e.params) > 0 {
		op["parameters"] = e.params
	}
	if e.body != nil {
		op["requestBody"] = e.body
	}
	if e.responses != nil {
		op["responses"] = e.responses
		return op
	}
	metadata := e.metadata
	if metadata == nil {
		metadata = specRef("EmptyMetadata")
	}
	envelope := specMap{"data": e.data, "metadata": metadata}
	desc := "Success."
	if e.list {
		envelope["data"] = specArray(e.data)
		envelope["pagination"] = specRef("Pagination")
		desc = "One page of the list."
	}
	success := specMap{"description": desc,
		"content": specMap{"application/json": specMap{"schema": specAllRequired(envelope)}}}
	if e.auth == apiKey {
		success["headers"] = specRateLimitHeaders()
	}
	responses := specMap{fmt.Sprint(e.status): success}
	errs := append([]int{500}, e.errors...)
	switch e.auth {
	case apiKey:
		errs = append(errs, 401, 429, 503)
	case operator:
		errs = append(errs, 401, 503)
	}
	if e.body != nil {
		errs = append(errs, 400, 413)
	}
	for _, code := range errs {
		responses[fmt.Sprint(code)] = specMap{"$ref": "#/components/responses/" + specErrorResponses[code]}
	}
	op["responses"] = responses
	return op
}

// specHeadOperation is the HEAD twin of the GET operation get: the same
// statuses and headers, with no body.
func specHeadOperation(get specMap) specMap {
	head := specMap{}
	for k, v := range get {
		head[k] = v
	}
	head["operationId"] = get["operationId"].(string) + "Head"
	head["summary"] = "Headers only: " + get["summary"].(string)
	head["description"] = "As the GET of this path, without the body."
	responses := specMap{}
	for status, r := range get["responses"].(specMap) {
		r := r.(specMap)
		desc, _ := r["description"].(string)
		if ref, ok := r["$ref"].(string); ok {
			desc = "As the GET answer " + strings.TrimPrefix(ref, "#/components/responses/") + ", without the body."
		}
		out := specMap{"description": desc}
		if h, ok := r["headers"]; ok {
			out["headers"] = h
		}
		responses[status] = out
	}
	head["responses"] = responses
	return head
}

func specRateLimitHeaders() specMap {
	return specMap{
		"X-RateLimit-Limit":     specMap{"$ref": "#/components/headers/X-RateLimit-Limit"},
		"X-RateLimit-Remaining": specMap{"$ref": "#/components/headers/X-RateLimit-Remaining"},
		"X-RateLimit-Reset":     specMap{"$ref": "#/components/headers/X-RateLimit-Reset"},
	}
}

// specLineProtocolResponses are the answers of the line-protocol writes.
func specLineProtocolResponses() specMap {
	influx := func(desc string) specMap {
		return specMap{"description": desc, "content": specMap{"application/json": specMap{"schema": specObject(specMap{
			"code":    specString("invalid, unauthorized, forbidden, not found, request too large, too many requests, unavailable"),
			"message": specString("What is wrong; a bad line is named by number.")}, "code", "message")}}}
	}
	return specMap{"204": specMap{"description": "Stored."},
		"400": influx("A line is invalid or does not fit its source's schema."), "401": influx("Invalid or missing API key."),
		"403": influx("Another bucket, a read key, or the plan's source limit."), "404": influx("Unknown bucket."),
		"413": influx("Body too large (also once decompressed)."), "429": influx("Over the plan; see Retry-After."),
		"503": influx("Cannot serve now; retry.")}
}

// openAPIDocument returns the whole document.
func openAPIDocument() specMap {
	paths := specMap{}
	endpoints := append(specEndpoints(), specSourceAndWebhookEndpoints()...)
	for _, e := range append(endpoints, specPromEndpoints()...) {
		item, _ := paths[e.path].(specMap)
		if item == nil {
			item = specMap{}
			paths[e.path] = item
		}
		item[strings.ToLower(e.method)] = specOperation(e)
		if e.method == "GET" {
			// The router answers HEAD wherever it answers GET.
			item["head"] = specHeadOperation(specOperation(e))
		}
	}
	return specMap{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": specMap{
			"title":   "dakkio API",
			"version": "1.0.0",
			"summary": "Time-series data platform: buckets, data sources, data points, queries, alert rules, analytics.",
			"description": "Every node serves the whole API; any node accepts any call. " +
				"Public endpoints take an API key in the `X-API-Key` header (`dakkio_a_` admin: the organization; `dakkio_w_` write and `dakkio_r_` read: one bucket). " +
				"Operator endpoints take `X-Operator-Token` instead.\n\n" +
				"Success answers are `{\"data\": ..., \"metadata\": {...}}`; list endpoints add `pagination`. " +
				"Errors are `{\"error\": \"<type>\", \"message\": \"...\", \"details\": [...]}` (details on validation errors only). " +
				"Ids are 24 lowercase hex characters. Timestamps are RFC 3339; answers are in UTC with `Z` and no trailing fractional zeros. " +
				"Every answer to a call authenticated by an API key carries the `X-RateLimit-*` headers; calls are counted per organization per calendar month.\n\n" +
				"Node-to-node routes (under `/internal/`) are not part of this document.",
			"license": specMap{"name": "Proprietary", "identifier": "LicenseRef-dakkio"},
		},
		"servers": []specMap{{"url": "/", "description": "The node serving this document (any node of the cluster answers every call)."}},
		"tags": []specMap{
			{"name": "Buckets", "description": "Containers of data sources and points, with a retention. Admin keys."},
			{"name": "API keys", "description": "Write and read keys of a bucket. Admin keys."},
			{"name": "Data sources", "description": "Devices or applications writing points, each with a schema."},
			{"name": "Data points", "description": "Writing points."},
			{"name": "Query", "description": "Raw and aggregated reads."},
			{"name": "Alert rules", "description": "Plain-English conditions that call a webhook."},
			{"name": "Webhooks", "description": "Subscriptions to a bucket's events. Admin keys."},
			{"name": "Analytics", "description": "Organization and bucket statistics."},
			{"name": "Operator", "description": "Organizations, plans, admin keys and the cluster; for the cluster's operator, with X-Operator-Token."},
			{"name": "Ingest protocols", "description": "InfluxDB line protocol and Prometheus remote write, for the agents operators already run."},
			{"name": "PromQL", "description": "Prometheus' query API, for Grafana's Prometheus data source, promtool and other PromQL clients (docs/grafana.md)."},
			{"name": "Health", "description": "Liveness and readiness, without credentials."},
			{"name": "Documentation", "description": "This document and the API Playground."},
		},
		"paths":      paths,
		"webhooks":   specWebhooks(),
		"components": withSchemas(specComponents(), specSourceAndWebhookSchemas()),
	}
}

func specWebhooks() specMap {
	return specMap{"webhookEvent": specWebhookEvent(), "alertTriggered": specMap{"post": specMap{
		"operationId": "alertTriggered",
		"summary":     "An alert rule triggered",
		"description": "Sent to the rule's webhookUrl. Any 2xx is delivered; otherwise, or after 10 s, retried with exponential backoff (1 s to 5 min, 8 attempts). " +
			"Delivery is at least once and in order per rule: use X-Dakkio-Delivery to drop duplicates.",
		"tags": []string{"Alert rules"},
		"parameters": []specMap{
			{"name": "X-Dakkio-Event", "in": "header", "required": true, "schema": specMap{"type": "string", "const": "alert.triggered"}},
			{"name": "X-Dakkio-Delivery", "in": "header", "required": true, "description": "The event's id, the same on every attempt.", "schema": specRef("ObjectId")},
			{"name": "X-Dakkio-Signature", "in": "header", "required": false,
				"description": "When the rule has a secret: sha256=<hex HMAC-SHA256 of the body with the secret>.",
				"schema":      specMap{"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}},
		},
		"requestBody": specMap{"required": true, "content": specMap{"application/json": specMap{"schema": specRef("WebhookPayload")}}},
		"responses":   specMap{"2XX": specMap{"description": "Delivered."}},
	}}}
}

func specComponents() specMap {
	errorTypes := []string{typeValidation, typeBadRequest, typeUnauthorized, typeForbidden, typeNotFound, typeMethod,
		typeConflict, typeTooLarge, typeTooMany, typeInternal, typeUnavailable}
	errResponse := func(desc string, example specMap) specMap {
		return specMap{"description": desc, "content": specMap{"application/json": specMap{
			"schema": specRef("Error"), "example": example}}}
	}
	values := specMap{"type": "object", "minProperties": 1,
		"description":          "Field values, checked against the data source's schema.",
		"additionalProperties": specRef("FieldValue")}
	pointMetadata := specMap{"type": "object", "description": "Free-form metadata, at most 8 KiB as compact JSON; shown as {} when absent."}
	bucketProps := func() specMap {
		return specMap{
			"name":          specMap{"type": "string", "minLength": 1, "maxLength": 100, "description": "Unique in the organization."},
			"description":   specMap{"type": "string", "maxLength": 1000},
			"retentionDays": specMap{"type": "integer", "minimum": 1, "maximum": 3650, "description": "At most the plan's maximum (403). Default 30."},
			"status":        specEnum("Writes into an archived bucket are 409.", "active", "archived"),
		}
	}
	idName := specAllRequired(specMap{"_id": specRef("ObjectId"), "name": specMap{"type": "string"}})
	numberMap := specMap{"type": "object", "additionalProperties": specMap{"type": "number"}}

	return specMap{
		"securitySchemes": specMap{
			"apiKey": specMap{"type": "apiKey", "in": "header", "name": "X-API-Key",
				"description": "An API key: `dakkio_a_` (admin, the organization), `dakkio_w_` (write, one bucket) or `dakkio_r_` (read, one bucket), followed by 32 to 256 letters and digits. " +
					"Missing, malformed, unknown or revoked: 401."},
			"operatorToken": specMap{"type": "apiKey", "in": "header", "name": "X-Operator-Token",
				"description": "The cluster's operator token, set on its first start (DAKKIO_OPERATOR_TOKEN or <data-dir>/operator-token) and changed only by POST /api/operator/token."},
		},
		"parameters": specMap{
			"limit": specMap{"name": "limit", "in": "query", "required": false, "description": "Page size; out of range is 400.",
				"schema": specMap{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
			"offset": specMap{"name": "offset", "in": "query", "required": false, "description": "Items to skip; out of range is 400.",
				"schema": specMap{"type": "integer", "minimum": 0, "maximum": 1000000000, "default": 0}},
		},
		"headers": specMap{
			"X-RateLimit-Limit": specMap{"description": "The plan's monthly calls; -1 when unlimited.",
				"schema": specMap{"type": "integer"}},
			"X-RateLimit-Remaining": specMap{"description": "Calls left this month after this one; -1 when unlimited.",
				"schema": specMap{"type": "integer"}},
			"X-RateLimit-Reset": specMap{"description": "Unix seconds of the next reset: the first instant of the next calendar month, UTC.",
				"schema": specMap{"type": "integer"}},
			"Retry-After": specMap{"description": "Seconds until the quota resets, rounded up, at least 1.",
				"schema": specMap{"type": "integer", "minimum": 1}},
		},
		"responses": specMap{
			"BadRequest": errResponse("Validation Error (a field missing, of the wrong type or out of range; a malformed id) or Bad Request (the body is not JSON).",
				specMap{"error": typeValidation, "message": "Invalid request body",
					"details": []specMap{{"path": []any{"body", "dataPoints", 3, "values", "temperature"}, "message": "Expected number, received string"}}}),
			"Unauthorized": errResponse("Missing, malformed, unknown or revoked credentials.",
				specMap{"error": typeUnauthorized, "message": "Invalid or missing API key"}),
			"Forbidden": errResponse("The key's scope does not allow this, or a plan limit.",
				specMap{"error": typeForbidden, "message": "API key does not have access to this bucket"}),
			"NotFound": errResponse("No such resource in the caller's organization.",
				specMap{"error": typeNotFound, "message": "Bucket not found"}),
			"Conflict": errResponse("A name already taken, or a write into an archived bucket.",
				specMap{"error": typeConflict, "message": "Bucket is archived"}),
			"PayloadTooLarge": errResponse("The body is over the node's maximum (default 10 MiB).",
				specMap{"error": typeTooLarge, "message": "Request body exceeds the maximum size"}),
			"TooManyRequests": specMap{"description": "The organization's monthly quota is spent.",
				"headers": specMap{
					"Retry-After":           specMap{"$ref": "#/components/headers/Retry-After"},
					"X-RateLimit-Limit":     specMap{"$ref": "#/components/headers/X-RateLimit-Limit"},
					"X-RateLimit-Remaining": specMap{"$ref": "#/components/headers/X-RateLimit-Remaining"},
					"X-RateLimit-Reset":     specMap{"$ref": "#/components/headers/X-RateLimit-Reset"},
				},
				"content": specMap{"application/json": specMap{"schema": specRef("Error"),
					"example": specMap{"error": typeTooMany, "message": "Rate limit exceeded. Resets at 2024-02-01T00:00:00Z"}}}},
			"InternalError": errResponse("An unexpected failure; the details are logged, not shown.",
				specMap{"error": typeInternal, "message": "An internal error occurred"}),
			"ServiceUnavailable": errResponse("The node or the cluster cannot serve this now (starting, stopping, no leader). Always safe to retry.",
				specMap{"error": typeUnavailable, "message": "The cluster cannot serve this request now; retry later"}),
		},
		"schemas": specMap{
			"ObjectId": specMap{"type": "string", "pattern": "^[0-9a-f]{24}$",
				"description": "24 lowercase hex characters (MongoDB ObjectId layout).", "examples": []string{exBucketID}},
			"Timestamp": specMap{"type": "string", "format": "date-time",
				"description": "RFC 3339 with 0 to 9 fractional digits and Z or an offset. Answers are UTC with Z and no trailing fractional zeros.",
				"examples":    []string{"2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123456Z"}},
			"Error": specObject(specMap{
				"error":   specEnum("The error type.", errorTypes...),
				"message": specString("Human readable."),
				"details": specMap{"type": "array", "maxItems": 100, "items": specRef("ValidationDetail"),
					"description": "On validation errors only."},
			}, "error", "message"),
			"ValidationDetail": specAllRequired(specMap{
				"path": specMap{"type": "array", "items": specMap{"type": []string{"string", "integer"}},
					"description": "Where the problem is, starting with \"body\" or \"query\"."},
				"message": specMap{"type": "string"},
			}),
			"Pagination": specAllRequired(specMap{
				"limit": specMap{"type": "integer"}, "offset": specMap{"type": "integer"}, "total": specMap{"type": "integer"},
				"hasMore": specMap{"type": "boolean", "description": "offset + items returned < total"},
			}),
			"EmptyMetadata": specMap{"type": "object", "description": "Always an object; empty unless the endpoint says otherwise."},
			"Status":        specAllRequired(specMap{"status": specMap{"type": "string", "examples": []string{"ok", "ready"}}}),

			"BucketCreate": specObject(bucketProps(), "name"),
			"BucketUpdate": func() specMap {
				o := specObject(bucketProps())
				o["minProperties"] = 1
				o["description"] = "At least one of name, description, retentionDays or status."
				return o
			}(),
			"Bucket": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "description": specMap{"type": "string"},
				"organizationId": specRef("ObjectId"), "retentionDays": specMap{"type": "integer"},
				"status":    specEnum("", "active", "archived"),
				"createdAt": specRef("Timestamp"), "updatedAt": specRef("Timestamp"),
			}),
			"BucketWithStats": specMap{"allOf": []specMap{specRef("Bucket"), specAllRequired(specMap{
				"stats": specAllRequired(specMap{
					"dataSourceCount": specMap{"type": "integer"}, "dataPointCount": specMap{"type": "integer"},
					"apiKeyCount": specInt("The bucket's write and read keys."),
				}),
			})}},
			"BucketDeleted": specAllRequired(specMap{
				"deletedBucket": idName,
				"deletedResources": specAllRequired(specMap{
					"dataSources": specMap{"type": "integer"}, "dataPoints": specMap{"type": "integer"},
					"apiKeys": specMap{"type": "integer"}, "alertRules": specMap{"type": "integer"},
				}),
			}),

			"KeyCreate": specObject(specMap{
				"name": specMap{"type": "string", "minLength": 1, "maxLength": 100, "description": "Need not be unique."},
				"type": specEnum("", "write", "read"),
			}, "name", "type"),
			"APIKey": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specEnum("", "write", "read"),
				"keyPrefix": specString("The key's first 12 characters."), "bucketId": specRef("ObjectId"),
				"createdAt": specRef("Timestamp"), "lastUsedAt": specNullableTime("The last call authenticated by the key; null if never used."),
			}),
			"APIKeyCreated": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specEnum("", "write", "read"),
				"key":       specString("The full key: shown in this answer only."),
				"keyPrefix": specMap{"type": "string"}, "bucketId": specRef("ObjectId"), "createdAt": specRef("Timestamp"),
			}),
			"KeyDeleted": specAllRequired(specMap{"deletedKey": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specEnum("", "write", "read"),
			})}),

			"SchemaField": specObject(specMap{
				"type":        specEnum("", "number", "string", "boolean"),
				"unit":        specMap{"type": "string", "maxLength": 50},
				"description": specMap{"type": "string", "maxLength": 1000},
			}, "type"),
			"SourceSchema": specMap{"type": "object", "minProperties": 1, "maxProperties": 100,
				"description":          "Field name to field. A name starts with a letter or _ and has at most 64 letters, digits, _, . or -.",
				"propertyNames":        specMap{"pattern": `^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$`},
				"additionalProperties": specRef("SchemaField")},
			"DataSourceCreate": specObject(specMap{
				"name":         specMap{"type": "string", "minLength": 1, "maxLength": 100, "description": "Unique in the bucket."},
				"type":         specMap{"type": "string", "enum": []string{"sensor", "api", "webhook", "manual", "application", "service"}, "default": "sensor"},
				"description":  specMap{"type": "string", "maxLength": 1000},
				"schema":       specRef("SourceSchema"),
				"downsampling": specMap{"type": "boolean", "default": true},
			}, "name", "schema"),
			"DataSource": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "bucketId": specRef("ObjectId"), "name": specMap{"type": "string"},
				"type":        specEnum("", "sensor", "api", "webhook", "manual", "application", "service"),
				"description": specMap{"type": "string"}, "schema": specRef("SourceSchema"),
				"downsampling": specMap{"type": "boolean"}, "status": specEnum("inactive: new points are refused.", "active", "inactive"),
				"createdAt": specRef("Timestamp"), "updatedAt": specRef("Timestamp"),
			}),

			"FieldValue": specMap{"type": []string{"number", "string", "boolean"},
				"description": "A finite number, a string of at most 1024 characters, or a boolean, as the schema says."},
			"PointCreate": specObject(specMap{
				"bucketId": specRef("ObjectId"), "dataSourceId": specRef("ObjectId"),
				"timestamp": specMap{"$ref": "#/components/schemas/Timestamp", "description": "Default: now. Older than the bucket's retention is 400."},
				"values":    values, "metadata": pointMetadata,
			}, "bucketId", "dataSourceId", "values"),
			"Point": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "bucketId": specRef("ObjectId"), "dataSourceId": specRef("ObjectId"),
				"timestamp": specRef("Timestamp"), "values": values, "metadata": specMap{"type": "object"}, "createdAt": specRef("Timestamp"),
			}),
			"BatchCreate": specObject(specMap{
				"bucketId": specRef("ObjectId"),
				"dataPoints": specMap{"type": "array", "minItems": 1, "maxItems": 1000, "items": specObject(specMap{
					"dataSourceId": specRef("ObjectId"), "timestamp": specRef("Timestamp"), "values": values, "metadata": pointMetadata,
				}, "dataSourceId", "values")},
			}, "bucketId", "dataPoints"),
			"BatchResult": specAllRequired(specMap{"count": specInt("The number of points sent.")}),

			"QueryFilters": specObject(specMap{
				"dataSourceId":  specRef("ObjectId"),
				"dataSourceIds": specMap{"type": "array", "minItems": 1, "maxItems": 1000, "items": specRef("ObjectId"), "description": "United with dataSourceId; neither means every source of the bucket."},
				"startTime":     specMap{"$ref": "#/components/schemas/Timestamp", "description": "Inclusive."},
				"endTime":       specMap{"$ref": "#/components/schemas/Timestamp", "description": "Exclusive; after startTime."},
				"fields":        specMap{"type": "array", "minItems": 1, "maxItems": 100, "items": specMap{"type": "string"}},
				"limit":         specMap{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100, "description": "Raw answers only; giving it turns auto-downsampling off."},
				"offset":        specMap{"type": "integer", "minimum": 0, "maximum": 1000000000, "default": 0},
				"aggregation":   specRef("Aggregation"), "groupBy": specRef("GroupBy"), "sort": specRef("Sort"),
			}),
			"Aggregation": specEnum("An aggregate per window; numeric ones skip non-numeric fields.", "avg", "min", "max", "sum", "count", "first", "last"),
			"GroupBy":     specEnum("The window; weeks start on Monday (UTC).", "minute", "hour", "day", "week", "month"),
			"Sort":        specMap{"type": "string", "enum": []string{"asc", "desc"}, "default": "asc"},
			"QueryRequest": specObject(specMap{
				"bucketId": specRef("ObjectId"), "filters": specRef("QueryFilters"),
				"aggregation": specRef("Aggregation"), "groupBy": specRef("GroupBy"), "sort": specRef("Sort"),
			}, "bucketId"),
			"RawPoint": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "dataSourceId": specRef("ObjectId"), "timestamp": specRef("Timestamp"),
				"values": specMap{"type": "object", "additionalProperties": specRef("FieldValue")}, "metadata": specMap{"type": "object"},
			}),
			"AggregateRow": specAllRequired(specMap{
				"dataSourceId": specRef("ObjectId"),
				"timestamp":    specMap{"$ref": "#/components/schemas/Timestamp", "description": "The window's start."},
				"values": specMap{"type": "object", "description": "Field to aggregate; null when JSON cannot hold it.",
					"additionalProperties": specMap{"type": []string{"number", "string", "boolean", "null"}}},
				"count": specMap{"type": "integer"},
			}),
			"QueryMetadata": specObject(specMap{
				"count":               specInt("Rows in this answer."),
				"total":               specInt("Raw: points matching."),
				"limit":               specMap{"type": "integer"},
				"offset":              specMap{"type": "integer"},
				"hasMore":             specMap{"type": "boolean"},
				"aggregation":         specRef("Aggregation"),
				"groupBy":             specMap{"type": []string{"string", "null"}, "enum": []any{"minute", "hour", "day", "week", "month", nil}},
				"downsamplingApplied": specMap{"type": "boolean"},
				"partial":             specMap{"type": "boolean", "description": "Present and true when no replica known to hold every acknowledged write answered."},
				"partialReason":       specMap{"type": "string"},
			}, "count"),

			"ParsedCondition": specObject(specMap{
				"field":           specNullable("string", "null for nodata."),
				"operator":        specEnum("", "gt", "lt", "eq", "ne", "gte", "lte", "nodata"),
				"value":           specNullable("number", "null for nodata."),
				"durationMinutes": specInt("For \"for N minutes\" and nodata conditions."),
			}, "field", "operator", "value"),
			"AlertCreate": func() specMap {
				o := specObject(specMap{
					"bucketId": specRef("ObjectId"), "dataSourceId": specRef("ObjectId"),
					"name": specMap{"type": "string", "minLength": 1, "maxLength": 100},
					"condition": specMap{"type": "string", "maxLength": 500,
						"description": "<field> (is greater than|exceeds|is above|is less than|drops below|is below|equals|is equal to|is not equal to|is at least|is at most) <number> [for <N> minutes|hours], " +
							"or no data [received] for <N> minutes|hours."},
					"naturalLanguageQuery": specMap{"type": "string", "maxLength": 500, "description": "Another name for condition (condition wins)."},
					"webhookUrl":           specMap{"type": "string", "format": "uri", "maxLength": 2048, "description": "Absolute http or https URL. A literal address the webhook egress policy refuses (loopback, link-local, unspecified, the node's own ports) is a 400; a name is checked when dialled."},
					"cooldownMinutes":      specMap{"type": "integer", "minimum": 0, "maximum": 1440, "default": 5},
					"secret":               specMap{"type": "string", "minLength": 1, "maxLength": 256, "description": "Signs deliveries (X-Dakkio-Signature); never shown.", "writeOnly": true},
				}, "bucketId", "dataSourceId", "name", "webhookUrl")
				o["anyOf"] = []specMap{{"required": []string{"condition"}}, {"required": []string{"naturalLanguageQuery"}}}
				return o
			}(),
			"AlertUpdate": specMap{"type": "object", "minProperties": 1, "properties": specMap{
				"name":                 specMap{"type": "string", "minLength": 1, "maxLength": 100},
				"condition":            specMap{"type": "string", "maxLength": 500},
				"naturalLanguageQuery": specMap{"type": "string", "maxLength": 500},
				"webhookUrl":           specMap{"type": "string", "format": "uri", "maxLength": 2048},
				"cooldownMinutes":      specMap{"type": "integer", "minimum": 0, "maximum": 1440},
				"status":               specEnum("", "active", "paused"),
				"secret":               specMap{"type": "string", "maxLength": 256, "description": "\"\" removes it.", "writeOnly": true},
			}},
			"AlertRule": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "bucketId": specRef("ObjectId"), "dataSourceId": specRef("ObjectId"),
				"name": specMap{"type": "string"}, "condition": specMap{"type": "string"}, "parsedCondition": specRef("ParsedCondition"),
				"webhookUrl": specMap{"type": "string", "description": "Whole for admin and write keys; scheme://host[:port] for read keys."}, "status": specEnum("", "active", "paused"),
				"cooldownMinutes": specMap{"type": "integer"}, "hasSecret": specMap{"type": "boolean"},
				"lastTriggeredAt": specNullableTime(""), "createdAt": specRef("Timestamp"), "updatedAt": specRef("Timestamp"),
			}),
			"AlertDeleted": specAllRequired(specMap{"deletedAlert": idName}),
			"Delivery": specAllRequired(specMap{
				"state": specEnum("blocked: the webhook egress policy refused the address; not retried.", "pending", "delivered", "failed", "blocked"), "attempts": specMap{"type": "integer"},
				"lastAttemptAt": specNullableTime(""), "lastStatus": specNullable("integer", "HTTP status of the last attempt; admin keys only, null for bucket keys."),
				"lastError": specNullable("string", "Why the last attempt failed; bucket keys get \"delivery failed\" or \"blocked by egress policy\"."), "nextAttemptAt": specNullableTime(""), "deliveredAt": specNullableTime(""),
			}),
			"AlertEvent": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "alertId": specRef("ObjectId"), "value": specNullable("number", "null for nodata."),
				"triggeredAt": specRef("Timestamp"), "payload": specRef("WebhookPayload"), "delivery": specRef("Delivery"),
			}),
			"WebhookPayload": specAllRequired(specMap{
				"event": specMap{"type": "string", "const": "alert.triggered"}, "timestamp": specRef("Timestamp"), "bucketId": specRef("ObjectId"),
				"data": specAllRequired(specMap{
					"alertId": specRef("ObjectId"), "alertName": specMap{"type": "string"}, "dataSourceId": specRef("ObjectId"),
					"dataSourceName": specMap{"type": "string"}, "condition": specMap{"type": "string"},
					"currentValue": specNullable("number", "null for nodata."), "threshold": specNullable("number", "null for nodata."),
					"operator": specString("As a symbol, such as \">\"."), "triggeredAt": specRef("Timestamp"),
					"dataPoint": specMap{"type": []string{"object", "null"}, "description": "The point that triggered the rule; null for nodata.",
						"properties": specMap{"timestamp": specRef("Timestamp"), "values": specMap{"type": "object"}, "metadata": specMap{"type": "object"}}},
				}),
			}),

			"Overview": specAllRequired(specMap{
				"organization": idName,
				"totals": specAllRequired(specMap{"buckets": specMap{"type": "integer"}, "dataSources": specMap{"type": "integer"},
					"dataPoints": specMap{"type": "integer"}, "alertRules": specMap{"type": "integer"},
					"apiKeys": specInt("Bucket keys and admin keys.")}),
				"usage": specAllRequired(specMap{
					"apiCallsThisMonth":    specInt("The count the rate limit enforces, this call included."),
					"apiCallsLimit":        specInt("-1 when unlimited."),
					"apiCallsPercentage":   specMap{"type": "number", "description": "0 when unlimited, else rounded to two decimals."},
					"storageUsedBytes":     specInt("Estimated bytes of the organization's points and rollups on disk."),
					"storageUsedFormatted": specMap{"type": "string", "examples": []string{"1.5 KB"}},
				}),
				"plan": specAllRequired(specMap{"name": specEnum("", "free", "pro", "enterprise"),
					"maxBuckets": specInt("-1 when unlimited."), "maxRetentionDays": specInt("-1 when unlimited."),
					"maxApiCalls": specInt("-1 when unlimited.")}),
				"recentActivity": specAllRequired(specMap{
					"lastDataIngestion": specNullableTime("The newest point's timestamp."), "lastAlertTriggered": specNullableTime(""),
					"dataPointsLast24h": specMap{"type": "integer"}, "alertsTriggeredLast24h": specMap{"type": "integer"},
				}),
			}),
			"BucketAnalytics": specAllRequired(specMap{
				"bucket": idName, "period": specEnum("", "24h", "7d", "30d", "90d"),
				"summary": specAllRequired(specMap{"totalDataPoints": specMap{"type": "integer"}, "dataPointsInPeriod": specMap{"type": "integer"},
					"avgDataPointsPerDay": specMap{"type": "number"}, "dataSources": specMap{"type": "integer"},
					"activeAlerts": specInt("Rules not paused.")}),
				"dataSourceStats": specArray(specAllRequired(specMap{
					"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "dataPointCount": specInt("In the period."),
					"lastDataPoint": specNullableTime("Its newest point ever."),
					"avgValues":     numberMap, "minValues": numberMap, "maxValues": numberMap,
				})),
				"ingestionRate": specAllRequired(specMap{"dataPointsPerHour": specArray(specAllRequired(specMap{
					"hour": specRef("Timestamp"), "count": specMap{"type": "integer"}}))}),
				"alertActivity": specAllRequired(specMap{"totalTriggered": specMap{"type": "integer"},
					"byRule": specArray(specAllRequired(specMap{"name": specMap{"type": "string"}, "count": specMap{"type": "integer"}}))}),
			}),

			"Organization": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "plan": specEnum("", "free", "pro", "enterprise"),
				"createdAt": specRef("Timestamp"), "updatedAt": specRef("Timestamp"),
			}),
			"OrgCreate": specObject(specMap{
				"name": specMap{"type": "string", "minLength": 1, "maxLength": 100, "description": "Unique (409)."},
				"plan": specMap{"type": "string", "enum": []string{"free", "pro", "enterprise"}, "default": "free"},
			}, "name"),
			"OrgUpdate": specMap{"type": "object", "minProperties": 1, "properties": specMap{
				"name": specMap{"type": "string", "minLength": 1, "maxLength": 100},
				"plan": specEnum("", "free", "pro", "enterprise"),
			}},
			"AdminKeyCreate": specObject(specMap{"name": specMap{"type": "string", "minLength": 1, "maxLength": 100, "default": "admin"}}),
			"AdminKey": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specMap{"type": "string", "const": "admin"},
				"key": specString("The full key: shown in this answer only."), "keyPrefix": specMap{"type": "string"},
				"organizationId": specRef("ObjectId"), "createdAt": specRef("Timestamp"),
			}),
			"AdminKeyListed": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specMap{"type": "string", "const": "admin"},
				"keyPrefix": specString("The key's first 12 characters."), "organizationId": specRef("ObjectId"),
				"createdAt": specRef("Timestamp"), "lastUsedAt": specNullableTime("The last call authenticated by the key; null if never used."),
			}),
			"AdminKeyRevoked": specAllRequired(specMap{"deletedKey": specAllRequired(specMap{
				"_id": specRef("ObjectId"), "name": specMap{"type": "string"}, "type": specMap{"type": "string", "const": "admin"},
			})}),
			"OperatorToken": specAllRequired(specMap{"token": specMap{"type": "string", "pattern": "^dakkio_op_[A-Za-z0-9]{40}$",
				"description": "The new operator token: shown in this answer only."}}),
			"OrgCreated": specAllRequired(specMap{"organization": specRef("Organization"), "adminKey": specRef("AdminKey")}),
			"ClusterStatus": specObject(specMap{
				"nodeId": specString("The node answering."), "leaderId": specString("Empty when no leader is known."),
				"nodes": specArray(specAllRequired(specMap{
					"nodeId": specMap{"type": "string"}, "httpAddress": specMap{"type": "string"}, "raftAddress": specMap{"type": "string"},
					"state": specMap{"type": "string"}, "voter": specMap{"type": "boolean"}, "healthy": specMap{"type": "boolean"},
				})),
				"raft":      specMap{"type": "object", "description": "Raft state as this node sees it."},
				"placement": specMap{"type": "object", "description": "Bucket id to the nodes holding its points.", "additionalProperties": specArray(specMap{"type": "string"})},
				"moves":     specMap{"type": "object", "description": "Buckets moving: replicas, pending (copying) and leaving nodes.", "additionalProperties": specRef("BucketMove")},
				"hintedHandoff": specArray(specObject(specMap{
					"target": specMap{"type": "string"}, "hints": specInt("Writes queued for the target."), "bytes": specInt("Bytes queued."),
					"oldest": specMap{"type": "string", "format": "date-time"}, "dropped": specInt("Hints dropped (full or too old) since start."),
					"replayed": specInt("Hints delivered since start."),
				}, "target", "hints", "bytes", "dropped", "replayed")),
				"repair":      specMap{"type": "object", "description": "This node's anti-entropy progress: passes, buckets done of total, hours compared and repaired, points repaired, buckets behind."},
				"replication": specMap{"type": "object", "description": "This node's replicated writes acknowledged and refused, replica writes served, read failovers and hedges, partial reads."},
			}, "nodeId", "leaderId", "nodes", "raft", "placement"),
			"BucketMove": specObject(specMap{
				"bucket":   specMap{"type": "string"},
				"replicas": specArray(specMap{"type": "string"}),
				"pending":  specArray(specMap{"type": "string"}),
				"leaving":  specArray(specMap{"type": "string"}),
			}, "replicas"),
			"Rebalance":   specAllRequired(specMap{"moves": specArray(specRef("BucketMove"))}),
			"RemovedNode": specAllRequired(specMap{"removedNode": specMap{"type": "string"}}),
		},
	}
}
