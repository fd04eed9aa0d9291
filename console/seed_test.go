package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
)

// seeded is what the browser tests find on the node before they start.
type seeded struct {
	bucket, source, rule string
	writeKey, readKey    string
	points               int    // points of the source
	hookURL              string // a receiver that answers 204 and counts
	hooks                *atomic.Int64
}

// seed makes a bucket "greenhouse" with a source "sensor-1" holding hourly
// points over the last two days, a rule that has triggered once (delivered
// to a local receiver), and a write and a read key.
func seed(t testing.TB, n *testnode.Node) seeded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var hooks atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	b, err := n.Admin.CreateBucket(ctx, client.CreateBucketRequest{Name: "greenhouse"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := n.Admin.CreateSource(ctx, b.ID, client.CreateSourceRequest{Name: "sensor-1", Schema: map[string]client.Field{
		"temperature": {Type: "number", Unit: "C"}, "humidity": {Type: "number", Unit: "%"}, "door": {Type: "boolean"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Hour)
	var pts []client.PointInput
	for i := 48; i >= 1; i-- {
		pts = append(pts, client.PointInput{DataSourceID: src.ID, Timestamp: now.Add(-time.Duration(i) * time.Hour),
			Values: map[string]any{"temperature": 18 + float64(i%7), "humidity": 40 + float64(i%5), "door": i%2 == 0}})
	}
	if _, err := n.Admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: b.ID, DataPoints: pts}); err != nil {
		t.Fatal(err)
	}
	cooldown := 0
	rule, err := n.Admin.CreateAlert(ctx, client.CreateAlertRequest{BucketID: b.ID, DataSourceID: src.ID, Name: "hot",
		Condition: "temperature exceeds 30", WebhookURL: recv.URL + "/hook", CooldownMinutes: &cooldown})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Admin.WritePoint(ctx, client.WritePointRequest{BucketID: b.ID, DataSourceID: src.ID,
		Values: map[string]any{"temperature": 35.5, "humidity": 38, "door": true}}); err != nil {
		t.Fatal(err)
	}
	// The trigger is evaluated after the write is acknowledged: wait for
	// its delivery.
	for {
		evs, err := n.Admin.ListAlertEvents(ctx, rule.ID, client.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Data) == 1 && evs.Data[0].Delivery.State == "delivered" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the seeded rule did not trigger and deliver: %+v", evs.Data)
		case <-time.After(50 * time.Millisecond):
		}
	}
	wk, err := n.Admin.CreateKey(ctx, b.ID, client.CreateKeyRequest{Name: "device", Type: "write"})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := n.Admin.CreateKey(ctx, b.ID, client.CreateKeyRequest{Name: "dashboard", Type: "read"})
	if err != nil {
		t.Fatal(err)
	}
	return seeded{bucket: b.ID, source: src.ID, rule: rule.ID, writeKey: wk.Key, readKey: rk.Key, points: len(pts) + 1, hookURL: recv.URL, hooks: &hooks}
}
