package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
)

func TestAlertRequests(t *testing.T) {
	ctx := context.Background()
	five, zero := 5, 0
	paused, empty, name := "paused", "", "renamed"
	tests := []struct {
		name                string
		call                func(*client.Client) error
		method, path, query string
		body                string // expected JSON body; "" means none
		list                bool
	}{
		{"create, defaults not sent", func(c *client.Client) error {
			_, err := c.CreateAlert(ctx, client.CreateAlertRequest{BucketID: "b1", DataSourceID: "s1", Name: "hot",
				Condition: "temperature exceeds 30", WebhookURL: "https://example.com/hook"})
			return err
		}, "POST", "/api/alerts", "",
			`{"bucketId":"b1","dataSourceId":"s1","name":"hot","condition":"temperature exceeds 30","webhookUrl":"https://example.com/hook"}`, false},
		{"create, everything", func(c *client.Client) error {
			_, err := c.CreateAlert(ctx, client.CreateAlertRequest{BucketID: "b1", DataSourceID: "s1", Name: "hot",
				Condition: "no data received for 10 minutes", WebhookURL: "http://h/x", CooldownMinutes: &zero, Secret: "s3cret"})
			return err
		}, "POST", "/api/alerts", "",
			`{"bucketId":"b1","dataSourceId":"s1","name":"hot","condition":"no data received for 10 minutes","webhookUrl":"http://h/x","cooldownMinutes":0,"secret":"s3cret"}`, false},
		{"list default page", func(c *client.Client) error { _, err := c.ListAlerts(ctx, "b1", client.Page{}); return err },
			"GET", "/api/buckets/b1/alerts", "", "", true},
		{"list page", func(c *client.Client) error {
			_, err := c.ListAlerts(ctx, "b 1", client.Page{Limit: 10, Offset: 20})
			return err
		}, "GET", "/api/buckets/b%201/alerts", "limit=10&offset=20", "", true},
		{"get escapes id", func(c *client.Client) error { _, err := c.GetAlert(ctx, "a/1"); return err },
			"GET", "/api/alerts/a%2F1", "", "", false},
		{"update sends only set fields", func(c *client.Client) error {
			_, err := c.UpdateAlert(ctx, "a1", client.UpdateAlertRequest{Name: &name, Status: &paused, CooldownMinutes: &five, Secret: &empty})
			return err
		}, "PATCH", "/api/alerts/a1", "", `{"name":"renamed","cooldownMinutes":5,"status":"paused","secret":""}`, false},
		{"delete", func(c *client.Client) error { _, err := c.DeleteAlert(ctx, "a1"); return err },
			"DELETE", "/api/alerts/a1", "", "", false},
		{"events", func(c *client.Client) error {
			_, err := c.ListAlertEvents(ctx, "a1", client.Page{Limit: 3})
			return err
		}, "GET", "/api/alerts/a1/events", "limit=3", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := `{"data":{},"metadata":{}}`
			if tt.list {
				resp = `{"data":[],"metadata":{},"pagination":{"limit":100}}`
			}
			c, got := fake(t, 200, resp, client.WithAPIKey("dakkio_w_key"), client.WithOperatorToken("optok"))
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			r := last(t, got)
			if r.method != tt.method || r.path != tt.path || r.query != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.method, r.path, r.query, tt.method, tt.path, tt.query)
			}
			if r.body != tt.body {
				t.Errorf("body = %s\nwant   %s", r.body, tt.body)
			}
			if key, tok := r.header.Get("X-API-Key"), r.header.Get("X-Operator-Token"); key != "dakkio_w_key" || tok != "" {
				t.Errorf("sent key %q token %q", key, tok)
			}
		})
	}
}

func TestAlertDecode(t *testing.T) {
	ctx := context.Background()
	t.Run("rule", func(t *testing.T) {
		c, _ := fake(t, 201, `{"data":{"_id":"a1","bucketId":"b1","dataSourceId":"s1","name":"hot",
			"condition":"temperature exceeds 30 for 5 minutes",
			"parsedCondition":{"field":"temperature","operator":"gt","value":30.5,"durationMinutes":5},
			"webhookUrl":"https://example.com/hook","status":"active","cooldownMinutes":5,"hasSecret":true,
			"lastTriggeredAt":null,"createdAt":"2024-01-15T10:30:00Z","updatedAt":"2024-01-15T10:31:00.5Z"},"metadata":{}}`)
		a, err := c.CreateAlert(ctx, client.CreateAlertRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := client.AlertRule{
			ID: "a1", BucketID: "b1", DataSourceID: "s1", Name: "hot", Condition: "temperature exceeds 30 for 5 minutes",
			ParsedCondition: client.ParsedCondition{Field: "temperature", Operator: "gt", Value: 30.5, DurationMinutes: 5},
			WebhookURL:      "https://example.com/hook", Status: "active", CooldownMinutes: 5, HasSecret: true,
			CreatedAt: time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 1, 15, 10, 31, 0, 5e8, time.UTC),
		}
		if !a.CreatedAt.Equal(want.CreatedAt) || !a.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("times = %v %v", a.CreatedAt, a.UpdatedAt)
		}
		a.CreatedAt, a.UpdatedAt = want.CreatedAt, want.UpdatedAt
		if *a != want {
			t.Errorf("rule = %+v\nwant   %+v", *a, want)
		}
	})
	t.Run("nodata rule with a trigger", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"_id":"a1","condition":"no data received for 1 hour",
			"parsedCondition":{"field":null,"operator":"nodata","value":null,"durationMinutes":60},
			"status":"paused","lastTriggeredAt":"2024-01-15T10:30:00.123Z"},"metadata":{}}`)
		a, err := c.GetAlert(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if a.ParsedCondition != (client.ParsedCondition{Operator: "nodata", DurationMinutes: 60}) || a.Status != "paused" {
			t.Errorf("rule = %+v", a)
		}
		if a.LastTriggeredAt == nil || !a.LastTriggeredAt.Equal(time.Date(2024, 1, 15, 10, 30, 0, 123e6, time.UTC)) {
			t.Errorf("lastTriggeredAt = %v", a.LastTriggeredAt)
		}
	})
	t.Run("list", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":[{"_id":"a1"},{"_id":"a2"}],"metadata":{},"pagination":{"limit":2,"offset":0,"total":3,"hasMore":true}}`)
		l, err := c.ListAlerts(ctx, "b1", client.Page{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Data) != 2 || l.Data[1].ID != "a2" || l.Pagination != (client.Pagination{Limit: 2, Total: 3, HasMore: true}) {
			t.Errorf("list = %+v", l)
		}
	})
	t.Run("deleted alert unwrapped", func(t *testing.T) {
		c, _ := fake(t, 200, `{"data":{"deletedAlert":{"_id":"a1","name":"hot"}},"metadata":{}}`)
		d, err := c.DeleteAlert(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if *d != (client.DeletedAlert{ID: "a1", Name: "hot"}) {
			t.Errorf("deleted = %+v", d)
		}
	})
	t.Run("events", func(t *testing.T) {
		payload := `{"event":"alert.triggered","data":{"operator":">","currentValue":31.5}}`
		c, _ := fake(t, 200, `{"data":[
			{"_id":"e2","alertId":"a1","value":31.5,"triggeredAt":"2024-01-15T10:30:00Z","payload":`+payload+`,
			 "delivery":{"state":"delivered","attempts":3,"lastAttemptAt":"2024-01-15T10:30:02Z","lastStatus":200,"lastError":null,
			             "nextAttemptAt":null,"deliveredAt":"2024-01-15T10:30:02Z"}},
			{"_id":"e1","alertId":"a1","value":null,"triggeredAt":"2024-01-15T10:00:00Z","payload":{},
			 "delivery":{"state":"pending","attempts":1,"lastAttemptAt":"2024-01-15T10:00:01Z","lastStatus":null,"lastError":"connection refused",
			             "nextAttemptAt":"2024-01-15T10:00:03Z","deliveredAt":null}}],
			"metadata":{},"pagination":{"limit":100,"offset":0,"total":2,"hasMore":false}}`)
		l, err := c.ListAlertEvents(ctx, "a1", client.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Data) != 2 {
			t.Fatalf("events = %+v", l.Data)
		}
		e := l.Data[0]
		if e.ID != "e2" || e.AlertID != "a1" || e.Value == nil || *e.Value != 31.5 || string(e.Payload) != payload {
			t.Errorf("event = %+v (payload %s)", e, e.Payload)
		}
		d := e.Delivery
		if d.State != "delivered" || d.Attempts != 3 || d.LastStatus != 200 || d.LastError != "" || d.NextAttemptAt != nil ||
			d.DeliveredAt == nil || !d.DeliveredAt.Equal(time.Date(2024, 1, 15, 10, 30, 2, 0, time.UTC)) {
			t.Errorf("delivery = %+v", d)
		}
		var p struct {
			Data struct {
				Operator string `json:"operator"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.Data.Operator != ">" {
			t.Errorf("payload operator = %q (%v)", p.Data.Operator, err)
		}
		e = l.Data[1]
		if e.Value != nil || e.Delivery.State != "pending" || e.Delivery.LastStatus != 0 || e.Delivery.LastError != "connection refused" ||
			e.Delivery.NextAttemptAt == nil || e.Delivery.DeliveredAt != nil {
			t.Errorf("pending event = %+v", e)
		}
	})
	t.Run("validation error", func(t *testing.T) {
		c, _ := fake(t, 400, `{"error":"Validation Error","message":"Invalid request body",
			"details":[{"path":["body","condition"],"message":"cannot parse condition \"x\": expected a comparison"}]}`)
		_, err := c.CreateAlert(ctx, client.CreateAlertRequest{})
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || len(ae.Details) != 1 || ae.Details[0].String() != `body.condition: cannot parse condition "x": expected a comparison` {
			t.Errorf("error = %v", err)
		}
	})
}

func TestAlertRequestJSONNames(t *testing.T) {
	cond, url := "x is below 3", "https://h"
	b, err := json.Marshal(client.UpdateAlertRequest{Condition: &cond, WebhookURL: &url})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"condition":"x is below 3","webhookUrl":"https://h"}`; string(b) != want {
		t.Errorf("update = %s, want %s", b, want)
	}
	b, _ = json.Marshal(client.UpdateAlertRequest{})
	if string(b) != `{}` {
		t.Errorf("empty update = %s", b)
	}
}
