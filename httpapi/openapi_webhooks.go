package httpapi

// The OpenAPI entries of the data source item endpoints and of the
// webhooks resource (issue 15), kept apart from openapi.go so that each
// grows without touching the other's lines.

func specSourceAndWebhookEndpoints() []specEndpoint {
	bucketID := specIDParam("bucketId", "bucket")
	sourceID := specIDParam("sourceId", "data source")
	webhookID := specIDParam("id", "webhook")
	return []specEndpoint{
		{method: "GET", path: "/api/buckets/{bucketId}/sources/{sourceId}", id: "getSource", tag: "Data sources", auth: apiKey,
			summary:     "Get a data source",
			description: "The source and the count, oldest and newest timestamps of its points, read from the bucket's replicas. Any key of the bucket.",
			params:      []specMap{bucketID, sourceID}, status: 200, data: specRef("DataSourceWithStats"), errors: []int{400, 403, 404, 503}},
		{method: "PATCH", path: "/api/buckets/{bucketId}/sources/{sourceId}", id: "updateSource", tag: "Data sources", auth: apiKey,
			summary: "Update a data source",
			description: "Admin or the bucket's write key; at least one field. `schema` adds fields or changes their unit and description; fields it does not list stay. " +
				"Changing a field's type is 409 once the source has points. An inactive source refuses new points (409) on every ingest path.",
			params: []specMap{bucketID, sourceID},
			body: specBody(specRef("DataSourceUpdate"), true,
				specExample{"schema", "Add a field", specMap{"schema": specMap{"humidity": specMap{"type": "number", "unit": "%"}}}},
				specExample{"deactivate", "Stop accepting points", specMap{"status": "inactive"}}),
			status: 200, data: specRef("DataSource"), errors: []int{400, 403, 404, 409, 503}},
		{method: "DELETE", path: "/api/buckets/{bucketId}/sources/{sourceId}", id: "deleteSource", tag: "Data sources", auth: apiKey,
			summary:     "Delete a data source",
			description: "Deletes the source with its points on every replica and its alert rules. Admin keys only.",
			params:      []specMap{bucketID, sourceID}, status: 200, data: specRef("DataSourceDeleted"), errors: []int{400, 403, 404, 503}},

		{method: "POST", path: "/api/webhooks", id: "createWebhook", tag: "Webhooks", auth: apiKey,
			summary:     "Subscribe to a bucket's events",
			description: "Admin keys only. The secret, if given, signs every delivery (X-Dakkio-Signature) and is never shown again.",
			body: specBody(specRef("WebhookCreate"), true,
				specExample{"alerts", "Alerts and bucket changes, signed", specMap{"bucketId": exBucketID, "url": "https://example.com/hooks/dakkio",
					"events": []string{"alert.triggered", "bucket.updated"}, "name": "ops", "secret": "whsec_change_me"}},
				specExample{"data", "Every write", specMap{"bucketId": exBucketID, "url": "https://example.com/hooks/ingest", "events": []string{"data.received"}}}),
			status: 201, data: specRef("Webhook"), errors: []int{400, 403, 404}},
		{method: "GET", path: "/api/webhooks", id: "listWebhooks", tag: "Webhooks", auth: apiKey,
			summary: "List webhooks", description: "The organization's webhooks in creation order, or one bucket's with `bucketId`. Admin keys only.",
			params: append([]specMap{{"name": "bucketId", "in": "query", "required": false,
				"description": "Only this bucket's webhooks; a malformed id is 400, another organization's bucket 404.", "schema": specRef("ObjectId")}},
				specPageParams...),
			status: 200, data: specRef("Webhook"), list: true, errors: []int{400, 403, 404}},
		{method: "GET", path: "/api/webhooks/{id}", id: "getWebhook", tag: "Webhooks", auth: apiKey,
			summary: "Get a webhook", description: "Admin keys only.",
			params: []specMap{webhookID}, status: 200, data: specRef("Webhook"), errors: []int{400, 403, 404}},
		{method: "PATCH", path: "/api/webhooks/{id}", id: "updateWebhook", tag: "Webhooks", auth: apiKey,
			summary: "Update a webhook", description: "Any of name, url, events, secret (\"\" removes it) and status; at least one. Admin keys only.",
			params: []specMap{webhookID},
			body: specBody(specRef("WebhookUpdate"), true,
				specExample{"pause", "Pause", specMap{"status": "paused"}},
				specExample{"events", "Change the events", specMap{"events": []string{"data.received"}}}),
			status: 200, data: specRef("Webhook"), errors: []int{400, 403, 404}},
		{method: "DELETE", path: "/api/webhooks/{id}", id: "deleteWebhook", tag: "Webhooks", auth: apiKey,
			summary: "Delete a webhook", description: "Deletes the webhook and its deliveries; pending ones are not sent. Admin keys only.",
			params: []specMap{webhookID}, status: 200, data: specRef("WebhookDeleted"), errors: []int{400, 403, 404}},
		{method: "GET", path: "/api/webhooks/{id}/deliveries", id: "listWebhookDeliveries", tag: "Webhooks", auth: apiKey,
			summary: "List a webhook's deliveries", description: "Newest first; the last 1000 are kept. Admin keys only.",
			params: append([]specMap{webhookID}, specPageParams...), status: 200, data: specRef("WebhookDelivery"), list: true, errors: []int{400, 403, 404}},
		{method: "POST", path: "/api/webhooks/{id}/test", id: "testWebhook", tag: "Webhooks", auth: apiKey,
			summary: "Send a test event",
			description: "Sends a webhook.test event now, whatever the webhook subscribes to, and answers with its delivery once the first attempt is recorded " +
				"(or, if that takes longer than the server's apply timeout, still pending). Admin keys only.",
			params: []specMap{webhookID}, status: 201, data: specRef("WebhookDelivery"), errors: []int{400, 403, 404}},
	}
}

func specSourceAndWebhookSchemas() specMap {
	events := []string{"alert.triggered", "data.received", "bucket.updated"}
	eventList := specMap{"type": "array", "minItems": 1, "items": specMap{"type": "string", "enum": events},
		"description": "A repeated event counts once."}
	return specMap{
		"DataSourceUpdate": specMap{"type": "object", "minProperties": 1,
			"description": "At least one of the fields.",
			"properties": specMap{
				"name":         specMap{"type": "string", "minLength": 1, "maxLength": 100, "description": "Unique in the bucket (409)."},
				"type":         specMap{"type": "string", "enum": []string{"sensor", "api", "webhook", "manual", "application", "service"}},
				"description":  specMap{"type": "string", "maxLength": 1000},
				"downsampling": specMap{"type": "boolean"},
				"status":       specEnum("inactive: new points are refused with 409.", "active", "inactive"),
				"schema":       specRef("SourceSchema"),
			}},
		"DataSourceWithStats": specMap{"allOf": []specMap{specRef("DataSource"), specAllRequired(specMap{
			"stats": specAllRequired(specMap{
				"dataPointCount": specMap{"type": "integer"},
				"firstDataPoint": specNullableTime("The oldest point's timestamp; null without points."),
				"lastDataPoint":  specNullableTime("The newest point's timestamp; null without points."),
			}),
		})}},
		"DataSourceDeleted": specAllRequired(specMap{
			"deletedDataSource": specAllRequired(specMap{"_id": specRef("ObjectId"), "name": specMap{"type": "string"}}),
			"deletedResources": specAllRequired(specMap{
				"dataPoints": specMap{"type": "integer"}, "alertRules": specMap{"type": "integer"},
			}),
		}),
		"WebhookCreate": specObject(specMap{
			"bucketId": specRef("ObjectId"),
			"url":      specMap{"type": "string", "format": "uri", "maxLength": 2048, "description": "http or https; a literal address the egress policy refuses is 400."},
			"events":   eventList,
			"name":     specMap{"type": "string", "maxLength": 100},
			"secret":   specMap{"type": "string", "minLength": 1, "maxLength": 256, "description": "Signs deliveries; never returned."},
			"status":   specMap{"type": "string", "enum": []string{"active", "paused"}, "default": "active"},
		}, "bucketId", "url", "events"),
		"WebhookUpdate": specMap{"type": "object", "minProperties": 1, "description": "At least one of the fields.",
			"properties": specMap{
				"url":    specMap{"type": "string", "format": "uri", "maxLength": 2048},
				"events": eventList,
				"name":   specMap{"type": "string", "maxLength": 100},
				"secret": specMap{"type": "string", "maxLength": 256, "description": "\"\" removes the secret."},
				"status": specEnum("", "active", "paused"),
			}},
		"Webhook": specAllRequired(specMap{
			"_id": specRef("ObjectId"), "bucketId": specRef("ObjectId"), "name": specMap{"type": "string"},
			"url": specMap{"type": "string"}, "events": specMap{"type": "array", "items": specMap{"type": "string", "enum": events}},
			"status": specEnum("", "active", "paused"), "hasSecret": specMap{"type": "boolean"},
			"createdAt": specRef("Timestamp"), "updatedAt": specRef("Timestamp"),
		}),
		"WebhookDeleted": specAllRequired(specMap{
			"deletedWebhook": specAllRequired(specMap{"_id": specRef("ObjectId"), "name": specMap{"type": "string"}}),
		}),
		"WebhookDelivery": specAllRequired(specMap{
			"_id": specRef("ObjectId"), "webhookId": specRef("ObjectId"),
			"event":          specEnum("", append(events, "webhook.test")...),
			"status":         specEnum("failed: given up after the attempts allowed, or refused by the egress policy.", "pending", "delivered", "failed"),
			"attempts":       specMap{"type": "integer"},
			"lastStatusCode": specNullable("integer", "HTTP status of the last attempt; null before an answer."),
			"lastError":      specNullable("string", "Why the last attempt failed."),
			"createdAt":      specRef("Timestamp"), "deliveredAt": specNullableTime(""), "nextAttemptAt": specNullableTime("null once finished."),
			"payload": specRef("WebhookEvent"),
		}),
		"WebhookEvent": specAllRequired(specMap{
			"event": specEnum("", append(events, "webhook.test")...), "timestamp": specRef("Timestamp"),
			"webhookId": specRef("ObjectId"), "bucketId": specRef("ObjectId"),
			"data": specMap{"type": "object", "description": "alert.triggered: as in an alert rule's payload. " +
				"data.received: {count, dataPoints: [at most 100 {dataSourceId, dataSourceName, timestamp, values, metadata}], truncated}. " +
				"bucket.updated: {bucket, changed: [field names]}. webhook.test: {message, webhookName}."},
		}),
	}
}

// specWebhookEvent is the callback a webhook subscription receives.
func specWebhookEvent() specMap {
	return specMap{"post": specMap{
		"operationId": "webhookEvent",
		"summary":     "An event of a bucket a webhook subscribes to",
		"description": "Sent to a webhook's url. Any 2xx is delivered; otherwise, or after 10 s, retried with exponential backoff (1 s to 5 min, 8 attempts). " +
			"Delivery is at least once and in order per webhook: use X-Dakkio-Delivery to drop duplicates.",
		"tags": []string{"Webhooks"},
		"parameters": []specMap{
			{"name": "X-Dakkio-Event", "in": "header", "required": true, "schema": specMap{"type": "string"}},
			{"name": "X-Dakkio-Delivery", "in": "header", "required": true, "description": "The delivery's id, the same on every attempt.", "schema": specRef("ObjectId")},
			{"name": "X-Dakkio-Signature", "in": "header", "required": false,
				"description": "When the webhook has a secret: sha256=<hex HMAC-SHA256 of the body with the secret>.",
				"schema":      specMap{"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}},
		},
		"requestBody": specMap{"required": true, "content": specMap{"application/json": specMap{"schema": specRef("WebhookEvent")}}},
		"responses":   specMap{"2XX": specMap{"description": "Delivered."}},
	}}
}

// withSchemas adds schemas to the components' schemas.
func withSchemas(components, schemas specMap) specMap {
	all := components["schemas"].(specMap)
	for name, s := range schemas {
		all[name] = s
	}
	return components
}
