package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// AlertRule watches one data source and calls a webhook when its condition
// is met. The signing secret is never returned; HasSecret tells whether one
// is set.
type AlertRule struct {
	ID              string          `json:"_id"`
	BucketID        string          `json:"bucketId"`
	DataSourceID    string          `json:"dataSourceId"`
	Name            string          `json:"name"`
	Condition       string          `json:"condition"`
	ParsedCondition ParsedCondition `json:"parsedCondition"`
	WebhookURL      string          `json:"webhookUrl"`
	Status          string          `json:"status"` // AlertActive or AlertPaused
	CooldownMinutes int             `json:"cooldownMinutes"`
	HasSecret       bool            `json:"hasSecret"`
	LastTriggeredAt *time.Time      `json:"lastTriggeredAt"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

// ParsedCondition is a rule's condition as the server understood it.
// Operator is "gt", "lt", "eq", "ne", "gte", "lte" or "nodata"; Field and
// Value are zero for "nodata". DurationMinutes is the "for N minutes" span,
// or the silence window of "nodata"; zero when there is none.
type ParsedCondition struct {
	Field           string  `json:"field"`
	Operator        string  `json:"operator"`
	Value           float64 `json:"value"`
	DurationMinutes int     `json:"durationMinutes"`
}

// CreateAlertRequest is the body of CreateAlert. Condition is plain English,
// such as "temperature exceeds 30 for 5 minutes" or "no data received for 10
// minutes". A nil CooldownMinutes lets the server use its default (5); an
// empty Secret is not sent, so deliveries are not signed.
type CreateAlertRequest struct {
	BucketID        string `json:"bucketId"`
	DataSourceID    string `json:"dataSourceId"`
	Name            string `json:"name"`
	Condition       string `json:"condition"`
	WebhookURL      string `json:"webhookUrl"`
	CooldownMinutes *int   `json:"cooldownMinutes,omitempty"`
	Secret          string `json:"secret,omitempty"`
}

// UpdateAlertRequest is the body of UpdateAlert; nil fields are not sent and
// stay unchanged. Status is "active" or "paused"; a Secret of "" removes the
// rule's secret.
type UpdateAlertRequest struct {
	Name            *string `json:"name,omitempty"`
	Condition       *string `json:"condition,omitempty"`
	WebhookURL      *string `json:"webhookUrl,omitempty"`
	CooldownMinutes *int    `json:"cooldownMinutes,omitempty"`
	Status          *string `json:"status,omitempty"`
	Secret          *string `json:"secret,omitempty"`
}

// AlertEvent is one trigger of a rule and the state of its webhook delivery.
type AlertEvent struct {
	ID      string `json:"_id"`
	AlertID string `json:"alertId"`
	// Value is the value that met the condition; nil for "nodata".
	Value       *float64  `json:"value"`
	TriggeredAt time.Time `json:"triggeredAt"`
	// Payload is the webhook body, exactly as delivered.
	Payload  json.RawMessage `json:"payload"`
	Delivery Delivery        `json:"delivery"`
}

// Delivery is the state of an event's webhook delivery. State is "pending"
// (being tried), "delivered" or "failed" (given up). LastStatus is the HTTP
// status of the last attempt, 0 if there was no answer; LastError says why
// that attempt failed.
type Delivery struct {
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"lastAttemptAt"`
	LastStatus    int        `json:"lastStatus"`
	LastError     string     `json:"lastError"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	DeliveredAt   *time.Time `json:"deliveredAt"`
}

// DeletedAlert names the rule DeleteAlert removed.
type DeletedAlert struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

// CreateAlert creates an alert rule (admin or the bucket's write key).
func (c *Client) CreateAlert(ctx context.Context, req CreateAlertRequest) (*AlertRule, error) {
	return callFor[AlertRule](ctx, c, http.MethodPost, "/api/alerts", req)
}

// ListAlerts lists a bucket's alert rules (any key with access to the bucket).
func (c *Client) ListAlerts(ctx context.Context, bucketID string, page Page) (*List[AlertRule], error) {
	return callFor[List[AlertRule]](ctx, c, http.MethodGet, bucketPath(bucketID)+"/alerts"+page.query(), nil)
}

// GetAlert returns an alert rule (any key with access to its bucket).
func (c *Client) GetAlert(ctx context.Context, id string) (*AlertRule, error) {
	return callFor[AlertRule](ctx, c, http.MethodGet, alertPath(id), nil)
}

// UpdateAlert changes the fields set in req (admin or the bucket's write key).
func (c *Client) UpdateAlert(ctx context.Context, id string, req UpdateAlertRequest) (*AlertRule, error) {
	return callFor[AlertRule](ctx, c, http.MethodPatch, alertPath(id), req)
}

// DeleteAlert deletes an alert rule and its events (admin or the bucket's
// write key).
func (c *Client) DeleteAlert(ctx context.Context, id string) (*DeletedAlert, error) {
	out, err := callFor[struct {
		DeletedAlert DeletedAlert `json:"deletedAlert"`
	}](ctx, c, http.MethodDelete, alertPath(id), nil)
	if err != nil {
		return nil, err
	}
	return &out.DeletedAlert, nil
}

// ListAlertEvents lists a rule's triggers, newest first (any key with access
// to its bucket).
func (c *Client) ListAlertEvents(ctx context.Context, id string, page Page) (*List[AlertEvent], error) {
	return callFor[List[AlertEvent]](ctx, c, http.MethodGet, alertPath(id)+"/events"+page.query(), nil)
}

func alertPath(id string) string { return "/api/alerts/" + url.PathEscape(id) }
