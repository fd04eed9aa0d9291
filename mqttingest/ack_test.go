package mqttingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	first, err := mqttingest.New(cfg, func(_ string, msgs []mqttingest.Message) []error {
		tries.Add(1)
		errs := make([]error, len(msgs))
		for i := range errs {
			errs[i] = errNotNow
		}
		return errs
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
	second, err := mqttingest.New(cfg, func(_ string, msgs []mqttingest.Message) []error {
		for _, m := range msgs {
			got <- m.Bucket + "/" + m.Source + " " + string(m.Payload)
		}
		return make([]error, len(msgs))
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

var errBad = errors.New("never storable")

// Messages that arrive while a batch is being stored are stored together
// in the next one; each is acknowledged (or refused) once, in order, and
// one that cannot be stored yet is tried again without the others.
func TestMQTTBatchesWhileStoring(t *testing.T) {
	b := startBroker(t)
	cfg := mqttingest.Config{Broker: b.url(), Topic: "t/#", Key: "k", ClientID: "batch-test"}
	reg := prometheus.NewRegistry()
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	var (
		mu        sync.Mutex
		stored    = map[string]int{}
		largest   int
		flakyOnce atomic.Bool
	)
	ingest := func(_ string, msgs []mqttingest.Message) []error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
		mu.Lock()
		defer mu.Unlock()
		largest = max(largest, len(msgs))
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			switch p := string(m.Payload); {
			case p == `{"bad":true}`:
				errs[i] = errBad
			case p == `{"v":7}` && flakyOnce.CompareAndSwap(false, true):
				errs[i] = errNotNow
			default:
				stored[p]++
			}
		}
		return errs
	}
	sub, err := mqttingest.New(cfg, ingest, func(err error) bool { return errors.Is(err, errNotNow) }, reg, testnode.Logger())
	if err != nil {
		t.Fatal(err)
	}
	sub.Start()
	defer sub.Close(context.Background())
	waitFor(t, "the subscription", sub.Subscribed)
	pub := publisher(t, b)
	publish(t, pub, "t/bucket/src", []byte(`{"v":0}`))
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first message never reached the store")
	}
	for i := 1; i < 50; i++ {
		payload := fmt.Sprintf(`{"v":%d}`, i)
		if i == 20 {
			payload = `{"bad":true}`
		}
		publish(t, pub, "t/bucket/src", []byte(payload))
	}
	waitFor(t, "50 messages received", func() bool { return counter(t, reg, "dakkio_mqtt_messages_received_total") >= 50 })
	close(gate)
	waitFor(t, "49 stored and 1 refused", func() bool {
		return counter(t, reg, "dakkio_mqtt_messages_ingested_total") == 49 && counter(t, reg, "dakkio_mqtt_messages_rejected_total") == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if len(stored) != 49 || largest < 2 {
		t.Fatalf("stored %d distinct messages (want 49), largest batch %d (want several)", len(stored), largest)
	}
	for p, n := range stored {
		if n != 1 {
			t.Errorf("%s stored %d times", p, n)
		}
	}
}

// counter reads a counter of reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
