package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// TestClusterAlertFiresOnceAndSurvivesTheDeliverer: in a cluster, a point
// that meets a rule triggers it once — written through a node that is not
// the rule's evaluator, and written again through another node (a client's
// retry) — and the webhook, failing at first, is delivered once it answers
// although the leader that was delivering it is gone.
func TestClusterAlertFiresOnceAndSurvivesTheDeliverer(t *testing.T) {
	var mu sync.Mutex
	deliveredEvents := map[string]int{} // event id (from the payload) -> successful posts
	var failing atomic.Bool
	failing.Store(true)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "not now", http.StatusBadGateway)
			return
		}
		var body struct {
			Data struct {
				AlertID     string `json:"alertId"`
				TriggeredAt string `json:"triggeredAt"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		deliveredEvents[body.Data.AlertID+"@"+body.Data.TriggeredAt]++
		mu.Unlock()
	}))
	defer hook.Close()

	nodes := testnode.StartCluster(t, 3, func(i int, cfg *node.Config) {
		fastReplication(i, cfg)
		cfg.WebhookBackoff = 50 * time.Millisecond
	})
	ctx := context.Background()
	leader, others := leaderOf(t, nodes)
	bucket, src, rule := hotSeries(t, leader, "alerting", hook.URL)
	// The same hot point through two nodes: one trigger.
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for _, n := range others {
		if _, err := n.Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Timestamp: at, Values: map[string]any{"v": 20.0}}); err != nil {
			t.Fatal(err)
		}
	}
	var events []client.AlertEvent
	eventually(t, "the trigger is recorded and its delivery tried", func() error {
		list, err := others[0].Admin.ListAlertEvents(ctx, rule.ID, client.Page{})
		if err != nil {
			return err
		}
		events = list.Data
		if len(events) == 0 || events[0].Delivery.Attempts == 0 {
			return fmt.Errorf("events %+v", events)
		}
		return nil
	})
	if len(events) != 1 {
		t.Fatalf("%d events for one hot point written twice through two nodes, want 1", len(events))
	}

	// The leader delivers; it goes, and the webhook recovers.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	failing.Store(false)
	eventually(t, "the event is delivered by the new leader", func() error {
		list, err := others[0].Admin.ListAlertEvents(ctx, rule.ID, client.Page{})
		if err != nil {
			return err
		}
		if len(list.Data) != 1 || list.Data[0].Delivery.State != "delivered" {
			return fmt.Errorf("events %+v", list.Data)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(deliveredEvents) != 1 {
		t.Fatalf("webhook got %d distinct events (%v), want 1", len(deliveredEvents), deliveredEvents)
	}
}

// TestClusterRuleChangesReachTheEvaluatorFirst: a rule paused through the
// leader is paused on whichever replica evaluates the bucket by the time
// the pause is acknowledged, and resumed likewise: hot points written
// through the other nodes at once after each change meet the rule as
// changed, so only the point written after the resume triggers it.
func TestClusterRuleChangesReachTheEvaluatorFirst(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	nodes := testnode.StartCluster(t, 3, fastReplication)
	ctx := context.Background()
	leader, others := leaderOf(t, nodes)
	bucket, src, rule := hotSeries(t, leader, "pausing", hook.URL)
	write := func(at time.Time, v float64) {
		t.Helper()
		for _, n := range others {
			if _, err := n.Admin.WritePoint(ctx, client.WritePointRequest{BucketID: bucket.ID, DataSourceID: src.ID, Timestamp: at, Values: map[string]any{"v": v}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if _, err := leader.Admin.UpdateAlert(ctx, rule.ID, client.UpdateAlertRequest{Status: ptr("paused")}); err != nil {
		t.Fatal(err)
	}
	write(base, 20)
	if _, err := leader.Admin.UpdateAlert(ctx, rule.ID, client.UpdateAlertRequest{Status: ptr("active")}); err != nil {
		t.Fatal(err)
	}
	write(base.Add(time.Minute), 30)

	var events []client.AlertEvent
	eventually(t, "the point written after the resume triggers the rule", func() error {
		list, err := others[1].Admin.ListAlertEvents(ctx, rule.ID, client.Page{})
		if err != nil {
			return err
		}
		if events = list.Data; len(events) == 0 {
			return fmt.Errorf("no events yet")
		}
		return nil
	})
	if len(events) != 1 || events[0].Value == nil || *events[0].Value != 30 {
		t.Fatalf("events %+v, want one, for the value 30 written after the resume", events)
	}
}

// hotSeries makes a bucket with a number source and a rule on it that
// fires, with no cooldown, on a value above 10.
func hotSeries(t *testing.T, n *testnode.Node, name, hookURL string) (*client.Bucket, *client.DataSource, *client.AlertRule) {
	t.Helper()
	bucket, src := numberSeries(t, n, name)
	rule, err := n.Admin.CreateAlert(context.Background(), client.CreateAlertRequest{BucketID: bucket.ID, DataSourceID: src.ID, Name: "hot",
		Condition: "v is greater than 10", WebhookURL: hookURL, CooldownMinutes: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	return bucket, src, rule
}
