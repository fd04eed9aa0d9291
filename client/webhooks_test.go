package client_test

import (
	"context"
	"testing"

	"github.com/dakkio/dakkio/client"
)

func TestSourceAndWebhookRequests(t *testing.T) {
	ctx := context.Background()
	inactive, paused, empty, url := "inactive", "paused", "", "https://example.com/h"
	off := false
	tests := []struct {
		name                string
		call                func(*client.Client) error
		method, path, query string
		body                string // expected JSON body; "" means none
		list                bool
	}{
		{"get source", func(c *client.Client) error { _, err := c.GetSource(ctx, "b1", "s/1"); return err },
			"GET", "/api/buckets/b1/sources/s%2F1", "", "", false},
		{"update source sends only set fields", func(c *client.Client) error {
			_, err := c.UpdateSource(ctx, "b1", "s1", client.UpdateSourceRequest{Status: &inactive, Downsampling: &off,
				Schema: map[string]client.Field{"rh": {Type: "number", Unit: "%"}}})
			return err
		}, "PATCH", "/api/buckets/b1/sources/s1", "", `{"downsampling":false,"status":"inactive","schema":{"rh":{"type":"number","unit":"%"}}}`, false},
		{"delete source", func(c *client.Client) error { _, err := c.DeleteSource(ctx, "b1", "s1"); return err },
			"DELETE", "/api/buckets/b1/sources/s1", "", "", false},
		{"create webhook, defaults not sent", func(c *client.Client) error {
			_, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{BucketID: "b1", URL: url, Events: []string{client.EventDataReceived}})
			return err
		}, "POST", "/api/webhooks", "", `{"bucketId":"b1","url":"https://example.com/h","events":["data.received"]}`, false},
		{"list webhooks of a bucket", func(c *client.Client) error {
			_, err := c.ListWebhooks(ctx, "b1", client.Page{Limit: 5})
			return err
		}, "GET", "/api/webhooks", "limit=5&bucketId=b1", "", true},
		{"list all webhooks", func(c *client.Client) error { _, err := c.ListWebhooks(ctx, "", client.Page{}); return err },
			"GET", "/api/webhooks", "", "", true},
		{"get webhook", func(c *client.Client) error { _, err := c.GetWebhook(ctx, "w1"); return err },
			"GET", "/api/webhooks/w1", "", "", false},
		{"update webhook", func(c *client.Client) error {
			_, err := c.UpdateWebhook(ctx, "w1", client.UpdateWebhookRequest{Status: &paused, Secret: &empty})
			return err
		}, "PATCH", "/api/webhooks/w1", "", `{"secret":"","status":"paused"}`, false},
		{"delete webhook", func(c *client.Client) error { _, err := c.DeleteWebhook(ctx, "w1"); return err },
			"DELETE", "/api/webhooks/w1", "", "", false},
		{"deliveries", func(c *client.Client) error {
			_, err := c.WebhookDeliveries(ctx, "w1", client.Page{Offset: 2})
			return err
		}, "GET", "/api/webhooks/w1/deliveries", "offset=2", "", true},
		{"test", func(c *client.Client) error { _, err := c.TestWebhook(ctx, "w1"); return err },
			"POST", "/api/webhooks/w1/test", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := `{"data":{},"metadata":{}}`
			if tt.list {
				resp = `{"data":[],"metadata":{},"pagination":{"limit":100}}`
			}
			c, got := fake(t, 200, resp, client.WithAPIKey("dakkio_a_key"))
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
		})
	}
}
