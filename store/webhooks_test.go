package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func (w *world) webhook(b Bucket, status string, events ...string) Webhook {
	w.t.Helper()
	h := Webhook{ID: w.id(), OrganizationID: b.OrganizationID, BucketID: b.ID, Name: "hook", URL: "https://example.com/h",
		Events: events, Secret: "s", Status: status, CreatedAt: t0, UpdatedAt: t0}
	mustOK(w.t, w.s.ApplyCreateWebhook(CreateWebhook{Webhook: h}))
	return h
}

// TestPublishFansOutOnce: an event makes one delivery per active webhook
// subscribed to it, and a cause proposed again makes none.
func TestPublishFansOutOnce(t *testing.T) {
	w := newWorld(t)
	org, _ := w.bootstrap("default", "h")
	b := w.bucket(org.ID, "b", BucketActive)
	other := w.bucket(org.ID, "other", BucketActive)
	data := w.webhook(b, WebhookActive, EventDataReceived, EventBucketUpdated)
	paused := w.webhook(b, WebhookPaused, EventDataReceived)
	alerts := w.webhook(b, WebhookActive, EventAlertTriggered)
	elsewhere := w.webhook(other, WebhookActive, EventDataReceived)

	pub := PublishEvent{BucketID: b.ID, Event: EventDataReceived, Cause: "c1", At: t0, Data: json.RawMessage(`{"count":1}`)}
	n, err := w.s.ApplyPublishEvent(pub)
	mustOK(t, err)
	if n != 1 {
		t.Fatalf("deliveries made = %d, want 1", n)
	}
	if n, _ := w.s.ApplyPublishEvent(pub); n != 0 {
		t.Fatalf("the same cause again made %d deliveries", n)
	}
	for _, h := range []Webhook{paused, alerts, elsewhere} {
		if ds, total := w.s.WebhookDeliveries(h.ID, 0, 10); total != 0 {
			t.Errorf("webhook %s got %v", h.ID, ds)
		}
	}
	ds, _ := w.s.WebhookDeliveries(data.ID, 0, 10)
	d := ds[0]
	want := `{"event":"data.received","timestamp":"2024-01-15T10:30:00.123456789Z","webhookId":"` + data.ID + `","bucketId":"` + b.ID + `","data":{"count":1}}`
	if string(d.Payload) != want || d.Delivery.State != DeliveryPending || d.Event != EventDataReceived {
		t.Fatalf("delivery = %+v\npayload %s\nwant    %s", d, d.Payload, want)
	}
	// Another replica applying the same command derives the same delivery.
	w2 := newWorld(t)
	w2.s = NewState(1 << 20)
	var buf bytes.Buffer
	mustOK(t, WriteSnapshot(&buf, w.s.Snapshot()))
	mustOK(t, w2.s.Restore(&buf))
	if got, _ := w2.s.WebhookDeliveries(data.ID, 0, 10); !reflect.DeepEqual(got, ds) {
		t.Fatalf("restored deliveries = %+v, want %+v", got, ds)
	}

	// bucket.updated names what changed, and only when something did.
	_, err = w.s.ApplyUpdateBucket(UpdateBucket{OrgID: org.ID, ID: b.ID, RetentionDays: ptr(30), At: t0.Add(time.Second)})
	mustOK(t, err)
	if _, total := w.s.WebhookDeliveries(data.ID, 0, 10); total != 1 {
		t.Fatalf("an update changing nothing made a delivery (%d)", total)
	}
	_, err = w.s.ApplyUpdateBucket(UpdateBucket{OrgID: org.ID, ID: b.ID, RetentionDays: ptr(60), Name: ptr("b"), At: t0.Add(2 * time.Second)})
	mustOK(t, err)
	ds, _ = w.s.WebhookDeliveries(data.ID, 0, 1)
	var p struct {
		Data struct {
			Bucket  Bucket   `json:"bucket"`
			Changed []string `json:"changed"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ds[0].Payload, &p); err != nil || ds[0].Event != EventBucketUpdated ||
		!reflect.DeepEqual(p.Data.Changed, []string{"retentionDays"}) || p.Data.Bucket.RetentionDays != 60 {
		t.Fatalf("bucket.updated = %s (%v)", ds[0].Payload, err)
	}

	// Recording attempts: only forward, only while pending.
	at := t0.Add(time.Minute)
	mustOK(t, w.s.ApplyRecordWebhookDelivery(RecordWebhookDelivery{WebhookID: data.ID, DeliveryID: ds[0].ID, Delivery: Delivery{State: DeliveryPending, Attempts: 1, NextAttemptAt: &at}}))
	wantKind(t, w.s.ApplyRecordWebhookDelivery(RecordWebhookDelivery{WebhookID: data.ID, DeliveryID: ds[0].ID, Delivery: Delivery{Attempts: 1}}), ErrConflict)
	mustOK(t, w.s.ApplyRecordWebhookDelivery(RecordWebhookDelivery{WebhookID: data.ID, DeliveryID: ds[0].ID, Delivery: Delivery{State: DeliveryDelivered, Attempts: 2}}))
	wantKind(t, w.s.ApplyRecordWebhookDelivery(RecordWebhookDelivery{WebhookID: data.ID, DeliveryID: ds[0].ID, Delivery: Delivery{Attempts: 3}}), ErrConflict)
	if got := w.s.PendingWebhookDeliveries(); len(got) != 1 || got[0].Event != EventDataReceived {
		t.Fatalf("pending = %+v, want the data.received one", got)
	}

	// The bucket's deletion takes its webhooks and deliveries.
	_, err = w.s.ApplyDeleteBucket(DeleteBucket{OrgID: org.ID, ID: b.ID})
	mustOK(t, err)
	if _, err := w.s.Webhook(org.ID, data.ID); err == nil {
		t.Fatal("a deleted bucket's webhook is still there")
	}
	if got := w.s.PendingWebhookDeliveries(); len(got) != 0 {
		t.Fatalf("pending after the bucket's deletion = %+v", got)
	}
	if hs, total := w.s.Webhooks(org.ID, "", 0, 10); total != 1 || hs[0].ID != elsewhere.ID {
		t.Fatalf("webhooks left = %+v", hs)
	}
}

func TestUpdateAndDeleteSource(t *testing.T) {
	w := newWorld(t)
	org, _ := w.bootstrap("default", "h")
	b := w.bucket(org.ID, "b", BucketActive)
	src := w.source(b, "probe")
	w.source(b, "taken")
	_, err := w.s.ApplyUpdateSource(UpdateSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID, Name: ptr("taken"), At: t0})
	wantKind(t, err, ErrConflict)
	_, err = w.s.ApplyUpdateSource(UpdateSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID, Schema: map[string]Field{"ok": {Type: "string"}}, At: t0})
	wantKind(t, err, ErrConflict)
	got, err := w.s.ApplyUpdateSource(UpdateSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID, Name: ptr("renamed"), Status: ptr(SourceInactive),
		Schema: map[string]Field{"rh": {Type: "number"}, "ok": {Type: "string"}}, TypesMayChange: true, At: t0.Add(time.Second)})
	mustOK(t, err)
	want := map[string]Field{"temperature": {Type: "number", Unit: "C"}, "ok": {Type: "string"}, "rh": {Type: "number"}}
	if !reflect.DeepEqual(got.Schema, want) || got.Name != "renamed" || got.Status != SourceInactive {
		t.Fatalf("updated = %+v", got)
	}
	if _, err := w.s.SourceByName(b.ID, "renamed"); err != nil {
		t.Fatal("the new name is not indexed")
	}
	w.source(b, "probe") // the old name is free
	_, err = w.s.ApplyUpdateSource(UpdateSource{OrgID: w.id(), BucketID: b.ID, ID: src.ID, At: t0})
	wantKind(t, err, ErrNotFound)

	rule := AlertRule{ID: w.id(), OrganizationID: org.ID, BucketID: b.ID, DataSourceID: src.ID, Status: AlertActive}
	mustOK(t, w.s.ApplyCreateAlert(CreateAlert{Rule: rule}))
	d, err := w.s.ApplyDeleteSource(DeleteSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID})
	mustOK(t, err)
	if d.AlertRules != 1 || d.Source.Name != "renamed" {
		t.Fatalf("deleted = %+v", d)
	}
	if !w.s.SourceDeleted(src.ID) {
		t.Fatal("the deleted source is not remembered")
	}
	if _, ok := w.s.AlertByID(rule.ID); ok {
		t.Fatal("the source's rule survived it")
	}
	if n, _ := w.s.BucketCounts(b.ID); n != 2 {
		t.Fatalf("sources left = %d, want 2", n)
	}
	_, err = w.s.ApplyDeleteSource(DeleteSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID})
	wantKind(t, err, ErrNotFound)
	var buf bytes.Buffer
	mustOK(t, WriteSnapshot(&buf, w.s.Snapshot()))
	restored := NewState(1 << 20)
	mustOK(t, restored.Restore(&buf))
	if !restored.SourceDeleted(src.ID) {
		t.Fatal("a restored state forgot the deleted source")
	}
}

// TestDeliveriesNewestFirstByCreation: events stamped out of the order
// their commands apply in are still listed newest first by createdAt.
func TestDeliveriesNewestFirstByCreation(t *testing.T) {
	w := newWorld(t)
	org, _ := w.bootstrap("default", "h")
	b := w.bucket(org.ID, "b", BucketActive)
	h := w.webhook(b, WebhookActive, EventDataReceived)
	for i, ms := range []int{10, 30, 20, 5, 30} {
		_, err := w.s.ApplyPublishEvent(PublishEvent{BucketID: b.ID, Event: EventDataReceived, Cause: fmt.Sprint("c", i),
			At: t0.Add(time.Duration(ms) * time.Millisecond), Data: json.RawMessage(`{}`)})
		mustOK(t, err)
	}
	ds, total := w.s.WebhookDeliveries(h.ID, 0, 10)
	var got []time.Duration
	for _, d := range ds {
		got = append(got, d.CreatedAt.Sub(t0))
	}
	want := []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond, 5 * time.Millisecond}
	if total != 5 || !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries created at %v (total %d), want %v", got, total, want)
	}
	// Equal times keep the order they applied in: the later one first.
	if ds[0].Cause != "c4" || ds[1].Cause != "c1" {
		t.Errorf("equal times listed as %s, %s; want c4, c1", ds[0].Cause, ds[1].Cause)
	}
}
