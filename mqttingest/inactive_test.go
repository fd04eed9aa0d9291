package mqttingest_test

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// doorNode starts a broker and a node subscribed to it, makes a bucket, and
// returns a publisher and the topic of the bucket's source "door".
func doorNode(t *testing.T) (n *testnode.Node, bucketID string, pub mqtt.Client, topic string) {
	b := startBroker(t)
	n = testnode.Start(t, func(c *node.Config) { c.MQTT = mqttConfig(b, c.InitialAdminKey) })
	bucketID = mkBucket(t, n)
	waitSubscribed(t, n)
	return n, bucketID, publisher(t, b), "dakkio/" + bucketID + "/door"
}

// An inactive data source refuses MQTT messages as every ingest path does:
// they are dropped (and counted as rejected), not retried, and nothing is
// stored until the source is active again.
func TestMQTTInactiveSource(t *testing.T) {
	n, bid, pub, topic := doorNode(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	publish(t, pub, topic, payload(0, at))
	waitStored(t, n.Admin, bid, "door", 1)

	ctx := t.Context()
	srcs, err := n.Admin.ListSources(ctx, bid, client.Page{})
	if err != nil || len(srcs.Data) != 1 {
		t.Fatalf("sources: %v %v", srcs, err)
	}
	sid := srcs.Data[0].ID
	inactive, active := "inactive", "active"
	if _, err := n.Admin.UpdateSource(ctx, bid, sid, client.UpdateSourceRequest{Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	rejected := metric(t, n, "dakkio_mqtt_messages_rejected_total")
	publish(t, pub, topic, payload(1, at))
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n, "dakkio_mqtt_messages_rejected_total") < rejected+1 {
		if time.Now().After(deadline) {
			t.Fatal("the message for an inactive source was not rejected")
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded
	}
	got, err := n.Admin.GetSource(ctx, bid, sid)
	if err != nil || got.Stats.DataPointCount != 1 || got.Status != "inactive" {
		t.Fatalf("source after a refused message: %+v %v", got, err)
	}

	if _, err := n.Admin.UpdateSource(ctx, bid, sid, client.UpdateSourceRequest{Status: &active}); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, topic, payload(2, at))
	seen := waitStored(t, n.Admin, bid, "door", 2)
	if !seen[0] || !seen[2] || seen[1] {
		t.Fatalf("stored seqs %v, want 0 and 2", seen)
	}
}

// Text the other ingest paths refuse is refused here too, not stored
// altered: a string value that is not UTF-8, and a lone UTF-16 surrogate
// escape. Both are counted as rejected, and nothing of them is stored.
func TestMQTTRefusesInvalidText(t *testing.T) {
	n, bid, pub, topic := doorNode(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	// The first message makes the source's schema: seq a number, label a
	// string, so that only the text itself can refuse the next two.
	msg := func(seq int, label string) []byte {
		return fmt.Appendf(nil, `{"timestamp":%q,"values":{"seq":%d,"label":"%s"}}`, at.Add(time.Duration(seq)*time.Millisecond).Format(time.RFC3339Nano), seq, label)
	}
	publish(t, pub, topic, msg(0, "ok"))
	waitStored(t, n.Admin, bid, "door", 1)

	rejected := metric(t, n, "dakkio_mqtt_messages_rejected_total")
	publish(t, pub, topic, msg(1, "\xff"))
	publish(t, pub, topic, msg(2, `\ud800`))
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n, "dakkio_mqtt_messages_rejected_total") < rejected+2 {
		if time.Now().After(deadline) {
			t.Fatal("the messages with invalid text were not rejected")
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded
	}
	publish(t, pub, topic, msg(3, "fine"))
	seen := waitStored(t, n.Admin, bid, "door", 2)
	if !seen[0] || !seen[3] || seen[1] || seen[2] {
		t.Fatalf("stored seqs %v, want 0 and 3", seen)
	}
}
