package httpapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
)

// The webhook endpoints follow API.md; where it is silent:
//   - every endpoint takes an admin key; a bucket key gets 403, and another
//     organization's webhook (or bucket) is 404, as if it did not exist;
//   - url follows the alert rules' webhookUrl rules (absolute http(s), at
//     most 2048 characters, a literal address the egress policy refuses is
//     a 400 detail); secret is 1..256 characters, never shown ("hasSecret"
//     instead), and PATCH with "secret": "" removes it; name is 0..100
//     characters (default ""); events is a non-empty array of
//     "alert.triggered", "data.received", "bucket.updated", each at most
//     once (a repeat is collapsed); status is "active" (default) or
//     "paused": a paused webhook gets no new deliveries, pending ones
//     still go;
//   - PATCH takes any of name, url, events, secret and status, at least
//     one; the bucket of a webhook does not change;
//   - GET /api/webhooks lists the organization's webhooks in creation
//     order, one bucket's with ?bucketId= (another organization's bucket is
//     404); it is paginated like every list;
//   - deliveries are listed newest first (the last 1000 per webhook are
//     kept) with their payload exactly as posted; "status" is "pending",
//     "delivered" or "failed" (given up after the attempts allowed, or
//     refused by the egress policy, which lastError then says);
//     lastStatusCode and lastError are null until an attempt has them;
//   - POST /:id/test makes a webhook.test delivery ({"message",
//     "webhookName"} in data) whatever the webhook subscribes to and
//     whether or not it is paused, and answers 201 with the delivery once
//     its first attempt is recorded, or as it stands after the server's
//     apply timeout (then still "pending", retried like any other);
//   - bucket.updated is sent when a PATCH changes something: "changed"
//     names the fields whose value changed; a PATCH that changes nothing
//     sends nothing. data.received is one delivery per accepted ingest
//     request (JSON, batch, line protocol, remote write, MQTT message),
//     made after the write is acknowledged; "count" counts its points,
//     "dataPoints" lists the first 100 and "truncated" says whether there
//     were more.

const maxWebhookNameLen = 100

var webhookStatuses = []string{store.WebhookActive, store.WebhookPaused}

var webhookUpdateFields = []string{"name", "url", "events", "secret", "status"}

func (s *Server) webhookRoutes() {
	r := &s.routes
	r.add("POST", "/api/webhooks", apiKey, s.createWebhook)
	r.add("GET", "/api/webhooks", apiKey, s.listWebhooks)
	r.add("GET", "/api/webhooks/:id", apiKey, s.getWebhook)
	r.add("PATCH", "/api/webhooks/:id", apiKey, s.updateWebhook)
	r.add("DELETE", "/api/webhooks/:id", apiKey, s.deleteWebhook)
	r.add("GET", "/api/webhooks/:id/deliveries", apiKey, s.listWebhookDeliveries)
	r.add("POST", "/api/webhooks/:id/test", apiKey, s.testWebhook)
}

// webhookView is a webhook as the API shows it: never its secret.
type webhookView struct {
	ID        string    `json:"_id"`
	BucketID  string    `json:"bucketId"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Status    string    `json:"status"`
	HasSecret bool      `json:"hasSecret"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func viewWebhook(w store.Webhook) webhookView {
	return webhookView{ID: w.ID, BucketID: w.BucketID, Name: w.Name, URL: w.URL, Events: w.Events, Status: w.Status,
		HasSecret: w.Secret != "", CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

// webhookDeliveryView is one delivery as the API shows it.
type webhookDeliveryView struct {
	ID             string          `json:"_id"`
	WebhookID      string          `json:"webhookId"`
	Event          string          `json:"event"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastStatusCode *int            `json:"lastStatusCode"`
	LastError      *string         `json:"lastError"`
	CreatedAt      time.Time       `json:"createdAt"`
	DeliveredAt    *time.Time      `json:"deliveredAt"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt"`
	Payload        json.RawMessage `json:"payload"`
}

func viewWebhookDelivery(d store.WebhookDelivery) webhookDeliveryView {
	v := webhookDeliveryView{
		ID: d.ID, WebhookID: d.WebhookID, Event: d.Event, Status: d.Delivery.State, Attempts: d.Delivery.Attempts,
		CreatedAt: d.CreatedAt.UTC(), DeliveredAt: utcPtr(d.Delivery.DeliveredAt), NextAttemptAt: utcPtr(d.Delivery.NextAttemptAt),
		Payload: d.Payload,
	}
	if v.Status == store.DeliveryBlocked {
		v.Status = store.DeliveryFailed
	}
	if !json.Valid(v.Payload) {
		v.Payload = json.RawMessage("null")
	}
	if st := d.Delivery.LastStatus; st != 0 {
		v.LastStatusCode = &st
	}
	if msg := d.Delivery.LastError; msg != "" {
		v.LastError = &msg
	}
	return v
}

// readEvents reads a non-empty array of subscribable events.
func readEvents(b *body, required bool) ([]string, bool) {
	v := b.lookup("events", required)
	if v == nil {
		return nil, false
	}
	arr, err := v.Array()
	if err != nil {
		b.fail([]any{"events"}, "Expected array, received %s", typeName(v))
		return nil, false
	}
	if len(arr) == 0 {
		b.fail([]any{"events"}, "Array must contain at least 1 element(s)")
		return nil, false
	}
	var out []string
	ok := true
	for i, e := range arr {
		if e.Type() != fastjson.TypeString {
			b.fail([]any{"events", i}, "Expected string, received %s", typeName(e))
			ok = false
			continue
		}
		name := string(e.GetStringBytes())
		if !slices.Contains(store.WebhookEvents, name) {
			b.fail([]any{"events", i}, "Invalid enum value. Expected 'alert.triggered' | 'data.received' | 'bucket.updated'")
			ok = false
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, ok
}

func (s *Server) createWebhook(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	bd, aerr := parseWith(p, c.ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	bucketID, err := bodyID(bd.obj, []any{"body", "bucketId"}, "bucket")
	if err != nil {
		return err
	}
	b, err := s.bucketAccess(c, bucketID, true)
	if err != nil {
		return err
	}
	now := s.now()
	w := store.Webhook{ID: objectid.New(now), OrganizationID: b.OrganizationID, BucketID: b.ID,
		Status: store.WebhookActive, CreatedAt: now, UpdatedAt: now}
	w.URL, _ = s.readURL(bd, "url", true)
	w.Events, _ = readEvents(bd, true)
	w.Name, _ = bd.text("name", false, 0, maxWebhookNameLen)
	w.Secret, _ = readSecret(bd, 1)
	if v, ok := bd.enum("status", false, webhookStatuses...); ok {
		w.Status = v
	}
	if aerr := bd.err(); aerr != nil {
		return aerr
	}
	if _, err := s.apply(store.CreateWebhook{Webhook: w}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, viewWebhook(w))
	return nil
}

func (s *Server) listWebhooks(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	bucketID := ""
	if raw := c.ctx.QueryArgs().Peek("bucketId"); raw != nil {
		b, err := s.bucketAccess(c, string(raw), false)
		if err != nil {
			return err
		}
		bucketID = b.ID
	}
	return listPage(c, func(offset, limit int) ([]store.Webhook, int) {
		return s.cfg.Meta.Webhooks(c.principal.OrgID, bucketID, offset, limit)
	}, viewWebhook)
}

// webhookAccess loads the webhook the path names: admin keys of its
// organization only.
func (s *Server) webhookAccess(c *call) (store.Webhook, error) {
	if err := c.requireAdmin(); err != nil {
		return store.Webhook{}, err
	}
	id := c.param("id")
	if err := checkID(id, "webhook"); err != nil {
		return store.Webhook{}, err
	}
	return s.cfg.Meta.Webhook(c.principal.OrgID, id)
}

func (s *Server) getWebhook(c *call) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, viewWebhook(w))
	return nil
}

func (s *Server) updateWebhook(c *call) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	cmd := store.UpdateWebhook{OrgID: w.OrganizationID, ID: w.ID, At: s.now()}
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		if !slices.ContainsFunc(webhookUpdateFields, r.has) {
			r.fail(nil, "At least one of name, url, events, secret or status is required")
			return
		}
		if v, ok := r.text("name", false, 0, maxWebhookNameLen); ok {
			cmd.Name = &v
		}
		if v, ok := s.readURL(r, "url", false); ok {
			cmd.URL = &v
		}
		if v, ok := readEvents(r, false); ok {
			cmd.Events = v
		}
		if v, ok := readSecret(r, 0); ok {
			cmd.Secret = &v
		}
		if v, ok := r.enum("status", false, webhookStatuses...); ok {
			cmd.Status = &v
		}
	}); aerr != nil {
		return aerr
	}
	res, err := s.apply(cmd)
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, viewWebhook(res.(store.Webhook)))
	return nil
}

func (s *Server) deleteWebhook(c *call) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	res, err := s.apply(store.DeleteWebhook{OrgID: w.OrganizationID, ID: w.ID})
	if err != nil {
		return err
	}
	d := res.(store.Webhook)
	writeData(c.ctx, fasthttp.StatusOK, map[string]any{"deletedWebhook": map[string]string{"_id": d.ID, "name": d.Name}})
	return nil
}

func (s *Server) listWebhookDeliveries(c *call) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	p, aerr := parsePage(c.ctx.QueryArgs().Peek("limit"), c.ctx.QueryArgs().Peek("offset"))
	if aerr != nil {
		return aerr
	}
	ds, total := s.cfg.Meta.WebhookDeliveries(w.ID, p.offset, p.limit)
	views := make([]webhookDeliveryView, len(ds))
	for i, d := range ds {
		views[i] = viewWebhookDelivery(d)
	}
	writeListRaw(c.ctx, views, p, total)
	return nil
}

// testPoll is how often the test endpoint looks for its first attempt.
const testPoll = 20 * time.Millisecond

func (s *Server) testWebhook(c *call) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	now := s.now()
	res, err := s.apply(store.TestWebhook{OrgID: w.OrganizationID, WebhookID: w.ID, DeliveryID: objectid.New(now), At: now})
	if err != nil {
		return err
	}
	d := res.(store.WebhookDelivery)
	// The deliverer (the Raft leader) posts it at once; answer with the
	// outcome of that first attempt when it comes in time.
	deadline := time.Now().Add(s.cfg.ApplyTimeout)
	for d.Delivery.Attempts == 0 && time.Now().Before(deadline) {
		time.Sleep(testPoll)
		if got, err := s.cfg.Meta.WebhookDelivery(w.ID, d.ID); err == nil {
			d = got
		}
	}
	writeRawData(c.ctx, fasthttp.StatusCreated, viewWebhookDelivery(d))
	return nil
}

// writeRawData is writeData without HTML escaping, so that a delivery's
// payload reads exactly as it was posted.
func writeRawData(ctx *fasthttp.RequestCtx, status int, data any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{Data: data, Metadata: emptyObject}); err != nil {
		writeData(ctx, status, data) // cannot happen; writeData answers 500 alike
		return
	}
	writeRawJSON(ctx, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
