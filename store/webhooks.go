package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Webhook events.
const (
	EventAlertTriggered = "alert.triggered"
	EventDataReceived   = "data.received"
	EventBucketUpdated  = "bucket.updated"
	// EventWebhookTest is sent by the test endpoint; it cannot be
	// subscribed to.
	EventWebhookTest = "webhook.test"
)

// WebhookEvents are the events a webhook may subscribe to.
var WebhookEvents = []string{EventAlertTriggered, EventDataReceived, EventBucketUpdated}

// Webhook statuses.
const (
	WebhookActive = "active"
	WebhookPaused = "paused"
)

// Webhook subscribes a URL to a bucket's events.
type Webhook struct {
	ID             string    `json:"_id"`
	OrganizationID string    `json:"organizationId"`
	BucketID       string    `json:"bucketId"`
	Name           string    `json:"name"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Secret         string    `json:"secret,omitempty"` // signs deliveries; never shown
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Subscribes reports whether the webhook is active and takes event.
func (w *Webhook) Subscribes(event string) bool {
	return w.Status == WebhookActive && slices.Contains(w.Events, event)
}

// WebhookDelivery is one event to post to a webhook and the state of its
// delivery. The payload is fixed when the delivery is made, so every retry
// sends the same bytes and signature under the same id.
type WebhookDelivery struct {
	ID        string          `json:"_id"`
	WebhookID string          `json:"webhookId"`
	BucketID  string          `json:"bucketId"`
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"createdAt"`
	Payload   json.RawMessage `json:"payload"`
	Delivery  Delivery        `json:"delivery"`
	// Cause names what made the delivery (an alert event, a queued write),
	// so that the same cause proposed twice is delivered once.
	Cause string `json:"cause,omitempty"`
}

// maxDeliveriesPerWebhook bounds the deliveries kept per webhook; the
// oldest finished ones go first.
const maxDeliveriesPerWebhook = 1000

// CreateWebhook adds a webhook.
type CreateWebhook struct {
	Webhook Webhook `json:"webhook"`
}

// UpdateWebhook changes a webhook; nil fields stay.
type UpdateWebhook struct {
	OrgID  string    `json:"orgId"`
	ID     string    `json:"id"`
	Name   *string   `json:"name,omitempty"`
	URL    *string   `json:"url,omitempty"`
	Events []string  `json:"events,omitempty"`
	Secret *string   `json:"secret,omitempty"`
	Status *string   `json:"status,omitempty"`
	At     time.Time `json:"at"`
}

// DeleteWebhook removes a webhook and its deliveries.
type DeleteWebhook struct {
	OrgID string `json:"orgId"`
	ID    string `json:"id"`
}

// PublishEvent makes a delivery of an event for every active webhook of
// the bucket subscribed to it. Data is the payload's "data"; Cause makes a
// second proposal of the same event a no-op.
type PublishEvent struct {
	BucketID string          `json:"bucketId"`
	Event    string          `json:"event"`
	Cause    string          `json:"cause"`
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

// TestWebhook makes a webhook.test delivery to one webhook, whatever it
// subscribes to.
type TestWebhook struct {
	OrgID      string    `json:"orgId"`
	WebhookID  string    `json:"webhookId"`
	DeliveryID string    `json:"deliveryId"`
	At         time.Time `json:"at"`
}

// RecordWebhookDelivery records one delivery attempt.
type RecordWebhookDelivery struct {
	WebhookID  string   `json:"webhookId"`
	DeliveryID string   `json:"deliveryId"`
	Delivery   Delivery `json:"delivery"`
}

// Webhook returns a webhook of the organization.
func (s *State) Webhook(orgID, id string) (Webhook, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w, ok := s.data.webhooks[id]
	if !ok || w.OrganizationID != orgID {
		return Webhook{}, errorf(ErrNotFound, "Webhook not found")
	}
	return w.clone(), nil
}

// WebhookByID returns a webhook whatever its organization: for the
// deliverer, which acts for the cluster, never for an API caller.
func (s *State) WebhookByID(id string) (Webhook, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w, ok := s.data.webhooks[id]
	if !ok {
		return Webhook{}, false
	}
	return w.clone(), true
}

// Webhooks returns a page of the organization's webhooks, or of one of its
// buckets' when bucketID is not empty, in creation order, and their total.
func (s *State) Webhooks(orgID, bucketID string, offset, limit int) ([]Webhook, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	if bucketID != "" {
		ids = s.data.webhooksByBucket[bucketID]
	} else {
		for _, b := range s.data.bucketsByOrg[orgID] {
			ids = append(ids, s.data.webhooksByBucket[b]...)
		}
		slices.SortStableFunc(ids, func(a, b string) int {
			return cmp.Or(s.data.webhooks[a].CreatedAt.Compare(s.data.webhooks[b].CreatedAt), strings.Compare(a, b))
		})
	}
	return page(ids, offset, limit, func(id string) Webhook { return s.data.webhooks[id].clone() })
}

// WantsEvent reports whether an active webhook of the bucket subscribes to
// event, so that nothing is proposed for events no one listens to.
func (s *State) WantsEvent(bucketID, event string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range s.data.webhooksByBucket[bucketID] {
		if s.data.webhooks[id].Subscribes(event) {
			return true
		}
	}
	return false
}

// WebhookDeliveries returns a page of a webhook's deliveries, newest first
// by creation time, and their total.
func (s *State) WebhookDeliveries(webhookID string, offset, limit int) ([]WebhookDelivery, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ds := s.data.deliveries[webhookID]
	total := len(ds)
	out := []WebhookDelivery{}
	for i := total - 1 - offset; i >= 0 && len(out) < limit; i-- {
		out = append(out, *ds[i])
	}
	return out, total
}

// WebhookDelivery returns one delivery of a webhook.
func (s *State) WebhookDelivery(webhookID, id string) (WebhookDelivery, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range s.data.deliveries[webhookID] {
		if d.ID == id {
			return *d, nil
		}
	}
	return WebhookDelivery{}, errorf(ErrNotFound, "Webhook delivery not found")
}

// PendingWebhookDeliveries returns the deliveries not finished, in the
// order they were made.
func (s *State) PendingWebhookDeliveries() []WebhookDelivery {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []WebhookDelivery
	for _, ds := range s.data.deliveries {
		for _, d := range ds {
			if d.Delivery.State == DeliveryPending {
				out = append(out, *d)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b WebhookDelivery) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// ApplyCreateWebhook applies a CreateWebhook command.
func (s *State) ApplyCreateWebhook(c CreateWebhook) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := c.Webhook
	b, ok := s.data.buckets[w.BucketID]
	if !ok || b.OrganizationID != w.OrganizationID {
		return errorf(ErrNotFound, "Bucket not found")
	}
	if _, dup := s.data.webhooks[w.ID]; dup {
		return errorf(ErrConflict, "Webhook %s already exists", w.ID)
	}
	s.data.addWebhook(w)
	return nil
}

func (t *tables) addWebhook(w Webhook) {
	t.webhooks[w.ID] = &w
	t.webhooksByBucket[w.BucketID] = append(t.webhooksByBucket[w.BucketID], w.ID)
}

func (t *tables) removeWebhook(w *Webhook) {
	t.webhooksByBucket[w.BucketID] = remove(t.webhooksByBucket[w.BucketID], w.ID)
	delete(t.deliveries, w.ID)
	delete(t.webhooks, w.ID)
}

// ApplyUpdateWebhook applies an UpdateWebhook command and returns the result.
func (s *State) ApplyUpdateWebhook(c UpdateWebhook) (Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.data.webhooks[c.ID]
	if !ok || w.OrganizationID != c.OrgID {
		return Webhook{}, errorf(ErrNotFound, "Webhook not found")
	}
	if c.Name != nil {
		w.Name = *c.Name
	}
	if c.URL != nil {
		w.URL = *c.URL
	}
	if len(c.Events) > 0 {
		w.Events = slices.Clone(c.Events)
	}
	if c.Secret != nil {
		w.Secret = *c.Secret
	}
	if c.Status != nil {
		w.Status = *c.Status
	}
	w.UpdatedAt = c.At
	return w.clone(), nil
}

// ApplyDeleteWebhook applies a DeleteWebhook command and returns the webhook.
func (s *State) ApplyDeleteWebhook(c DeleteWebhook) (Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.data.webhooks[c.ID]
	if !ok || w.OrganizationID != c.OrgID {
		return Webhook{}, errorf(ErrNotFound, "Webhook not found")
	}
	s.data.removeWebhook(w)
	return w.clone(), nil
}

// ApplyPublishEvent applies a PublishEvent command and returns how many
// deliveries it made.
func (s *State) ApplyPublishEvent(c PublishEvent) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.buckets[c.BucketID]; !ok {
		return 0, errorf(ErrNotFound, "Bucket not found")
	}
	return s.data.publish(c.BucketID, c.Event, c.Cause, c.At, c.Data), nil
}

// publish makes a delivery of the event for each subscribed webhook of the
// bucket that has none of that cause yet. Ids and payloads come from the
// command alone, so every replica makes the same ones.
func (t *tables) publish(bucketID, event, cause string, at time.Time, data json.RawMessage) int {
	n := 0
	for _, id := range t.webhooksByBucket[bucketID] {
		w := t.webhooks[id]
		if !w.Subscribes(event) {
			continue
		}
		if cause != "" && slices.ContainsFunc(t.deliveries[id], func(d *WebhookDelivery) bool { return d.Cause == cause }) {
			continue
		}
		t.addDelivery(WebhookDelivery{
			ID: derivedID(at, cause, id), WebhookID: id, BucketID: bucketID, Event: event, CreatedAt: at,
			Payload: webhookPayload(event, at, id, bucketID, data), Cause: cause,
			Delivery: Delivery{State: DeliveryPending, NextAttemptAt: &at},
		})
		n++
	}
	return n
}

// addDelivery keeps a webhook's deliveries in creation order, which the
// order commands apply in can differ from by a few milliseconds: events are
// stamped by the node that saw them, then proposed concurrently. Every
// replica orders the same commands the same way.
func (t *tables) addDelivery(d WebhookDelivery) {
	ds := t.deliveries[d.WebhookID]
	i := len(ds)
	for i > 0 && ds[i-1].CreatedAt.After(d.CreatedAt) {
		i--
	}
	ds = slices.Insert(ds, i, &d)
	if len(ds) > maxDeliveriesPerWebhook {
		// Drop the oldest finished delivery; pending ones stay until done.
		if i := slices.IndexFunc(ds, func(x *WebhookDelivery) bool { return x.Delivery.State != DeliveryPending }); i >= 0 {
			ds = slices.Delete(ds, i, i+1)
		}
	}
	t.deliveries[d.WebhookID] = ds
}

// webhookPayload is the body posted for an event:
// {"event","timestamp","webhookId","bucketId","data"}.
func webhookPayload(event string, at time.Time, webhookID, bucketID string, data json.RawMessage) json.RawMessage {
	if !json.Valid(data) {
		data = json.RawMessage("{}")
	}
	var buf bytes.Buffer
	buf.WriteString(`{"event":`)
	WriteJSONString(&buf, event)
	buf.WriteString(`,"timestamp":`)
	WriteJSONString(&buf, FormatTime(at))
	buf.WriteString(`,"webhookId":`)
	WriteJSONString(&buf, webhookID)
	buf.WriteString(`,"bucketId":`)
	WriteJSONString(&buf, bucketID)
	buf.WriteString(`,"data":`)
	buf.Write(data)
	buf.WriteByte('}')
	return buf.Bytes()
}

// WriteJSONString writes s as a JSON string, without escaping HTML: webhook
// bodies are read by programs, not browsers.
func WriteJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// FormatTime formats t as the API does: UTC, RFC 3339, no trailing zeros.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// derivedID returns an id in the API's layout (seconds, then 8 bytes) made
// from parts, so that every replica derives the same one.
func derivedID(at time.Time, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(at.Unix()))
	copy(b[4:], h.Sum(nil))
	return hex.EncodeToString(b[:])
}

// ApplyTestWebhook applies a TestWebhook command and returns the delivery.
func (s *State) ApplyTestWebhook(c TestWebhook) (WebhookDelivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.data.webhooks[c.WebhookID]
	if !ok || w.OrganizationID != c.OrgID {
		return WebhookDelivery{}, errorf(ErrNotFound, "Webhook not found")
	}
	if slices.ContainsFunc(s.data.deliveries[w.ID], func(d *WebhookDelivery) bool { return d.ID == c.DeliveryID }) {
		return WebhookDelivery{}, errorf(ErrConflict, "Webhook delivery %s already exists", c.DeliveryID)
	}
	at := c.At
	data, _ := json.Marshal(map[string]string{"message": "This is a test event from dakkio", "webhookName": w.Name})
	d := WebhookDelivery{
		ID: c.DeliveryID, WebhookID: w.ID, BucketID: w.BucketID, Event: EventWebhookTest, CreatedAt: at,
		Payload:  webhookPayload(EventWebhookTest, at, w.ID, w.BucketID, data),
		Delivery: Delivery{State: DeliveryPending, NextAttemptAt: &at},
	}
	s.data.addDelivery(d)
	return d, nil
}

// ApplyRecordWebhookDelivery applies a RecordWebhookDelivery command.
func (s *State) ApplyRecordWebhookDelivery(c RecordWebhookDelivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.data.deliveries[c.WebhookID] {
		if d.ID != c.DeliveryID {
			continue
		}
		if d.Delivery.State != DeliveryPending {
			return errorf(ErrConflict, "delivery already finished")
		}
		// Attempts only grow: a record from a stale deliverer must not undo
		// newer progress.
		if c.Delivery.Attempts <= d.Delivery.Attempts {
			return errorf(ErrConflict, "delivery attempt %d already recorded", c.Delivery.Attempts)
		}
		d.Delivery = c.Delivery
		return nil
	}
	return errorf(ErrNotFound, "Webhook delivery not found")
}

// clone returns a copy that shares nothing mutable with the state.
func (w *Webhook) clone() Webhook {
	c := *w
	c.Events = slices.Clone(w.Events)
	return c
}

// alertTriggeredData returns the "data" of an alert event's payload, for
// the webhooks subscribed to alert.triggered.
func alertTriggeredData(payload json.RawMessage) json.RawMessage {
	var p struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(payload, &p) != nil || len(p.Data) == 0 {
		return json.RawMessage("{}")
	}
	return p.Data
}

// bucketUpdatedData returns the "data" of a bucket.updated event.
func bucketUpdatedData(b Bucket, changed []string) json.RawMessage {
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Bucket  Bucket   `json:"bucket"`
		Changed []string `json:"changed"`
	}{b, changed})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
