package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Webhook events a subscription can name.
const (
	EventAlertTriggered = "alert.triggered"
	EventDataReceived   = "data.received"
	EventBucketUpdated  = "bucket.updated"
	// EventWebhookTest is the event TestWebhook sends; it cannot be
	// subscribed to.
	EventWebhookTest = "webhook.test"
)

// Webhook is a subscription to a bucket's events. The signing secret is
// never returned; HasSecret tells whether one is set.
type Webhook struct {
	ID        string    `json:"_id"`
	BucketID  string    `json:"bucketId"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Status    string    `json:"status"` // "active" or "paused"
	HasSecret bool      `json:"hasSecret"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CreateWebhookRequest is the body of CreateWebhook; empty optional fields
// are not sent, so the server's defaults apply (status "active", no secret).
type CreateWebhookRequest struct {
	BucketID string   `json:"bucketId"`
	URL      string   `json:"url"`
	Events   []string `json:"events"`
	Name     string   `json:"name,omitempty"`
	Secret   string   `json:"secret,omitempty"`
	Status   string   `json:"status,omitempty"`
}

// UpdateWebhookRequest is the body of UpdateWebhook; nil fields are not sent
// and stay unchanged. A Secret of "" removes the webhook's secret.
type UpdateWebhookRequest struct {
	Name   *string  `json:"name,omitempty"`
	URL    *string  `json:"url,omitempty"`
	Events []string `json:"events,omitempty"`
	Secret *string  `json:"secret,omitempty"`
	Status *string  `json:"status,omitempty"`
}

// WebhookDelivery is one event sent (or being sent) to a webhook. Status is
// "pending" (being tried), "delivered" or "failed" (given up, or refused by
// the egress policy). LastStatusCode is the HTTP status of the last attempt,
// nil if there was no answer.
type WebhookDelivery struct {
	ID             string     `json:"_id"`
	WebhookID      string     `json:"webhookId"`
	Event          string     `json:"event"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"lastStatusCode"`
	LastError      *string    `json:"lastError"`
	CreatedAt      time.Time  `json:"createdAt"`
	DeliveredAt    *time.Time `json:"deliveredAt"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt"`
	// Payload is the request body, exactly as sent on every attempt.
	Payload json.RawMessage `json:"payload"`
}

// DeletedWebhook names the webhook DeleteWebhook removed.
type DeletedWebhook struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

// CreateWebhook subscribes a URL to a bucket's events (admin key).
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest) (*Webhook, error) {
	return callFor[Webhook](ctx, c, http.MethodPost, "/api/webhooks", req)
}

// ListWebhooks lists the organization's webhooks, or one bucket's when
// bucketID is not empty (admin key).
func (c *Client) ListWebhooks(ctx context.Context, bucketID string, page Page) (*List[Webhook], error) {
	q := page.query()
	if bucketID != "" {
		sep := "?"
		if q != "" {
			sep = "&"
		}
		q += sep + "bucketId=" + url.QueryEscape(bucketID)
	}
	return callFor[List[Webhook]](ctx, c, http.MethodGet, "/api/webhooks"+q, nil)
}

// GetWebhook returns a webhook (admin key).
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	return callFor[Webhook](ctx, c, http.MethodGet, webhookPath(id), nil)
}

// UpdateWebhook changes the fields set in req (admin key).
func (c *Client) UpdateWebhook(ctx context.Context, id string, req UpdateWebhookRequest) (*Webhook, error) {
	return callFor[Webhook](ctx, c, http.MethodPatch, webhookPath(id), req)
}

// DeleteWebhook deletes a webhook and its deliveries (admin key).
func (c *Client) DeleteWebhook(ctx context.Context, id string) (*DeletedWebhook, error) {
	out, err := callFor[struct {
		DeletedWebhook DeletedWebhook `json:"deletedWebhook"`
	}](ctx, c, http.MethodDelete, webhookPath(id), nil)
	if err != nil {
		return nil, err
	}
	return &out.DeletedWebhook, nil
}

// WebhookDeliveries lists a webhook's deliveries, newest first (admin key).
func (c *Client) WebhookDeliveries(ctx context.Context, id string, page Page) (*List[WebhookDelivery], error) {
	return callFor[List[WebhookDelivery]](ctx, c, http.MethodGet, webhookPath(id)+"/deliveries"+page.query(), nil)
}

// TestWebhook sends a "webhook.test" event to the webhook now and returns
// its delivery as it stands after the first attempt (admin key).
func (c *Client) TestWebhook(ctx context.Context, id string) (*WebhookDelivery, error) {
	return callFor[WebhookDelivery](ctx, c, http.MethodPost, webhookPath(id)+"/test", nil)
}

func webhookPath(id string) string { return "/api/webhooks/" + url.PathEscape(id) }
