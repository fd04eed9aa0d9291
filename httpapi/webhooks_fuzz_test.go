package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Raw answers the source stats of PATCH a source: no points.
func (fakePoints) Raw(context.Context, points.RawQuery, *replication.ReadNote) (points.RawResult, error) {
	return points.RawResult{}, nil
}

func webhookSeeds(f *testing.F, bucketID string) {
	addSeeds(f,
		`{"bucketId":"`+bucketID+`","url":"https://example.com/h","events":["data.received"]}`,
		`{"bucketId":"`+bucketID+`","url":"http://10.0.0.1:9/x","events":["alert.triggered","bucket.updated","alert.triggered"],"name":"n","secret":"s","status":"paused"}`,
		`{"bucketId":"`+bucketID+`","url":"https://example.com/h","events":[]}`,
		`{"bucketId":"`+bucketID+`","url":"https://example.com/h","events":["webhook.test"]}`,
		`{"bucketId":"`+bucketID+`","url":"ftp://x","events":[1,null,{}]}`,
		`{"bucketId":"`+bucketID+`","url":"https://example.com/h","events":"data.received","secret":""}`,
		`{"url":"https://example.com/h","events":["data.received"],"name":null,"status":"active"}`,
		`{"events":["data.received"]}`, `{"status":"paused"}`, `{"secret":""}`, `{"name":""}`, `{"url":null}`,
	)
}

// FuzzCreateWebhook: POST /api/webhooks takes any body without a panic or
// a 500; a refusal stores nothing, a 201 stores exactly what it shows.
func FuzzCreateWebhook(f *testing.F) {
	webhookSeeds(f, "000000000000000000000000")
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		var m map[string]any
		if json.Unmarshal(body, &m) == nil && m != nil {
			if _, ok := m["bucketId"]; ok && m["bucketId"] == "000000000000000000000000" {
				m["bucketId"] = e.bucketID
				body, _ = json.Marshal(m)
			}
		}
		req := fmt.Sprintf("POST /api/webhooks %q", body)
		before := e.counts(t)
		status, ctype, resp := e.do("POST", "/api/webhooks", body, header{"X-API-Key", e.adminKey})
		r := e.check(t, req, status, ctype, resp, "body", 201, 400, 404)
		if status != 201 {
			e.unchanged(t, req, before)
			return
		}
		e.created++
		var v webhookView
		if err := json.Unmarshal(r.data, &v); err != nil {
			t.Fatalf("%s\n%v", req, err)
		}
		stored, err := e.state.Webhook(e.orgID, v.ID)
		if err != nil {
			t.Fatalf("%s\ncreated webhook not stored: %v", req, err)
		}
		sameJSON(t, req, r.data, viewWebhook(stored))
		if len(stored.Events) == 0 || !slices.ContainsFunc(stored.Events, func(ev string) bool { return slices.Contains(store.WebhookEvents, ev) }) ||
			!slices.Contains(webhookStatuses, stored.Status) || stored.URL == "" {
			t.Fatalf("%s\nstored an invalid webhook: %+v", req, stored)
		}
	})
}

// FuzzUpdateWebhook: PATCH /api/webhooks/:id likewise.
func FuzzUpdateWebhook(f *testing.F) {
	webhookSeeds(f, "000000000000000000000000")
	var env *fuzzEnv
	var hookID string
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		if _, err := e.state.Webhook(e.orgID, hookID); err != nil {
			_, _, resp := e.do("POST", "/api/webhooks", []byte(`{"bucketId":"`+e.bucketID+`","url":"https://example.com/h","events":["data.received"]}`), header{"X-API-Key", e.adminKey})
			var r struct{ Data webhookView }
			if err := json.Unmarshal(resp, &r); err != nil || r.Data.ID == "" {
				t.Fatalf("cannot create the webhook to update: %s", resp)
			}
			hookID = r.Data.ID
		}
		uri := "/api/webhooks/" + hookID
		req := fmt.Sprintf("PATCH %s %q", uri, body)
		before := e.counts(t)
		status, ctype, resp := e.do("PATCH", uri, body, header{"X-API-Key", e.adminKey})
		r := e.check(t, req, status, ctype, resp, "body", 200, 400)
		if status != 200 {
			e.unchanged(t, req, before)
			return
		}
		stored, err := e.state.Webhook(e.orgID, hookID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, req, r.data, viewWebhook(stored))
		if len(stored.Events) == 0 || !slices.Contains(webhookStatuses, stored.Status) || stored.URL == "" {
			t.Fatalf("%s\nupdate broke the webhook: %+v", req, stored)
		}
	})
}

// FuzzUpdateSource: PATCH /api/buckets/:bucketId/sources/:sourceId likewise.
func FuzzUpdateSource(f *testing.F) {
	addSeeds(f,
		`{"name":"renamed"}`, `{"name":"station-2"}`, `{"status":"inactive"}`, `{"status":"gone"}`, `{"type":"api","downsampling":false}`,
		`{"schema":{"humidity":{"type":"number","unit":"%"}}}`, `{"schema":{"temperature":{"type":"string"}}}`, `{"schema":{}}`,
		`{"schema":{"bad name":{"type":"number"}}}`, `{"schema":[1]}`, `{"description":null}`, `{"description":""}`,
	)
	for _, v := range textSeeds {
		f.Add([]byte(`{"name":` + v + `}`))
	}
	var env *fuzzEnv
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fuzzEnvFor(t, &env)
		srcs, _ := e.state.Sources(e.bucketID, 0, 1)
		if len(srcs) == 0 {
			t.Fatal("no source to update")
		}
		old := srcs[0]
		uri := "/api/buckets/" + e.bucketID + "/sources/" + old.ID
		req := fmt.Sprintf("PATCH %s %q", uri, body)
		before := e.counts(t)
		status, ctype, resp := e.do("PATCH", uri, body, header{"X-API-Key", e.writeKey})
		r := e.check(t, req, status, ctype, resp, "body", 200, 400, 409)
		if status != 200 {
			e.unchanged(t, req, before)
			return
		}
		e.grew(t, req, before, 0, 0, 0, 0)
		stored, err := e.state.Source(e.bucketID, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, req, r.data, viewSource(stored))
		checkStoredText(t, req, "name", stored.Name, 1, maxNameLen)
		for name := range old.Schema {
			if _, ok := stored.Schema[name]; !ok {
				t.Fatalf("%s\nthe update dropped field %q", req, name)
			}
		}
		if len(stored.Schema) > maxSchemaFields || !slices.Contains(sourceStatuses, stored.Status) || !slices.Contains(sourceTypes, stored.Type) {
			t.Fatalf("%s\nupdate broke the source: %+v", req, stored)
		}
	})
}
