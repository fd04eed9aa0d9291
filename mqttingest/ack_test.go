package mqttingest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/mqttingest"
)

var errNotNow = errors.New("cannot store now")

// A message the node could not store yet stays unacknowledged: after the
// node goes away, the broker delivers it again to the node's session.
func TestMQTTAckOnlyOnceStored(t *testing.T) {
	b := startBroker(t)
	cfg := mqttingest.Config{Broker: b.url(), Topic: "t/#", Key: "k", ClientID: "ack-test"}
	retryable := func(err error) bool { return errors.Is(err, errNotNow) }

	var tries atomic.Int32
	first, err := mqttingest.New(cfg, func(_, _, _ string, _ []byte) error {
		tries.Add(1)
		return errNotNow
	}, retryable, nil, testnode.Logger())
	if err != nil {
		t.Fatal(err)
	}
	first.Start()
	waitFor(t, "the first subscriber to subscribe", first.Subscribed)
	pub := publisher(t, b)
	publish(t, pub, "t/bucket/src", []byte(`{"v":1}`))
	waitFor(t, "two tries to store", func() bool { return tries.Load() >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	first.Close(ctx)
	cancel()

	got := make(chan string, 4)
	second, err := mqttingest.New(cfg, func(_, bucket, source string, payload []byte) error {
		got <- bucket + "/" + source + " " + string(payload)
		return nil
	}, retryable, nil, testnode.Logger())
	if err != nil {
		t.Fatal(err)
	}
	second.Start()
	defer second.Close(context.Background())
	select {
	case m := <-got:
		if m != `bucket/src {"v":1}` {
			t.Fatalf("redelivered %q", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the message not stored by the first subscriber was not delivered again")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded
	}
}
