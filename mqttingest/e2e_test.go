package mqttingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/mqttingest"
	"github.com/dakkio/dakkio/node"
)

// broker is a Mosquitto run by a test on a loopback port, persisting its
// sessions so that a restart keeps queued QoS 1 messages.
type broker struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
	logs bytes.Buffer
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	bin := "/usr/sbin/mosquitto"
	if p, err := exec.LookPath("mosquitto"); err == nil {
		bin = p
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mosquitto is not installed: apt-get install -y mosquitto (make test installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	// Run as root, mosquitto drops to user "mosquitto", who cannot write
	// the test's directory: stay the test's own user.
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 100000\nmax_inflight_messages 100\n", me.Username, port, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, bin: bin, conf: conf, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", b.logs.String())
		}
	})
	return b
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = &b.logs, &b.logs
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto does not listen on %s: %v\n%s", b.addr, err, b.logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the port, bounded by the deadline
	}
}

// stop ends the broker with SIGTERM, so it saves its persistence file.
func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
	b.cmd = nil
}

func (b *broker) url() string { return "tcp://" + b.addr }

// publisher is a Paho client publishing QoS 1, retrying each message until
// the broker acknowledges it.
func publisher(t *testing.T, b *broker) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(b.url()).SetClientID("test-publisher").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher cannot connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tok := c.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot publish to %s: %v", topic, tok.Error())
		}
		// The client reconnects on its own; wait for it, bounded.
		for !c.IsConnectionOpen() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func mqttConfig(b *broker, key string) mqttingest.Config {
	return mqttingest.Config{Broker: b.url(), Topic: "dakkio/#", Key: key}
}

// seqs returns the seq values stored for the bucket's source, and how many
// points it has.
func seqs(t *testing.T, c *client.Client, bucketID, source string) (map[int]bool, int) {
	t.Helper()
	r, err := c.Do(t.Context(), "GET", "/api/buckets/"+bucketID+"/sources?limit=1000", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct {
			ID   string `json:"_id"`
			Name string `json:"name"`
		}
	}
	_ = json.Unmarshal(r.Body, &list)
	id := ""
	for _, s := range list.Data {
		if s.Name == source {
			id = s.ID
		}
	}
	if id == "" {
		return nil, 0
	}
	seen := map[int]bool{}
	total := 0
	for offset := 0; ; offset += 1000 {
		body, _ := json.Marshal(map[string]any{"bucketId": bucketID, "filters": map[string]any{
			"dataSourceId": id, "startTime": "2000-01-01T00:00:00Z", "limit": 1000, "offset": offset}})
		r, err := c.Do(t.Context(), "POST", "/api/data/query", body, nil)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("query: %v %s", err, r.Body)
		}
		var res struct {
			Data []struct {
				Values map[string]any `json:"values"` // seq, and maybe text

			}
			Metadata struct {
				Total   int  `json:"total"`
				HasMore bool `json:"hasMore"`
			}
		}
		if err := json.Unmarshal(r.Body, &res); err != nil {
			t.Fatal(err)
		}
		total = res.Metadata.Total
		for _, p := range res.Data {
			seq, _ := p.Values["seq"].(float64)
			seen[int(seq)] = true
		}
		if !res.Metadata.HasMore {
			return seen, total
		}
	}
}

// waitStored polls until want points are stored, or fails at the deadline.
func waitStored(t *testing.T, c *client.Client, bucketID, source string, want int) map[int]bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen, total := seqs(t, c, bucketID, source)
		if total >= want {
			if total != want || len(seen) != want {
				t.Fatalf("stored %d points (%d distinct seq), want exactly %d", total, len(seen), want)
			}
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, %d of %d messages stored", total, want)
		}
		time.Sleep(100 * time.Millisecond) // polling the store, bounded by the deadline
	}
}

// metric reads a counter from a node's /metrics.
func metric(t *testing.T, n *testnode.Node, name string) int {
	t.Helper()
	return int(n.Metric(t, name))
}

func payload(seq int, at time.Time) []byte {
	return fmt.Appendf(nil, `{"timestamp":%q,"values":{"seq":%d}}`, at.Add(time.Duration(seq)*time.Millisecond).Format(time.RFC3339Nano), seq)
}

// 1,000 QoS 1 messages with a broker restart in the middle: every one is
// stored, exactly once.
func TestMQTTBrokerRestart(t *testing.T) {
	b := startBroker(t)
	var n *testnode.Node
	n = testnode.Start(t, func(c *node.Config) { c.MQTT = mqttConfig(b, c.InitialAdminKey) })
	bid := mkBucket(t, n)
	waitSubscribed(t, n)
	pub := publisher(t, b)
	topic := "dakkio/" + bid + "/sensor-1"
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	const total = 1000
	for i := range total {
		if i == total/2 {
			b.stop()
			b.start()
			// Mosquitto hands a shared subscription's message only to a
			// member online at the time: devices publishing while every
			// node is away would lose it there, whatever dakkio does.
			waitSubscribed(t, n)
		}
		publish(t, pub, topic, payload(i, at))
	}
	// A message that can never be stored is dropped, not retried forever.
	publish(t, pub, topic, []byte(`{"seq":"not a number"}`))
	publish(t, pub, "dakkio/"+bid, []byte(`{"seq":1}`))

	seen := waitStored(t, n.Admin, bid, "sensor-1", total)
	for i := range total {
		if !seen[i] {
			t.Fatalf("message %d not stored", i)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n, "dakkio_mqtt_messages_rejected_total") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("rejected = %d, want 2", metric(t, n, "dakkio_mqtt_messages_rejected_total"))
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded
	}
	if got := metric(t, n, "dakkio_mqtt_messages_ingested_total"); got < total {
		t.Errorf("ingested = %d, want at least %d", got, total)
	}
}

// In a 3-node cluster the shared subscription hands each message to one
// node: each is stored once, and the nodes' ingested counts add up.
func TestMQTTCluster(t *testing.T) {
	b := startBroker(t)
	nodes := testnode.StartCluster(t, 3, func(_ int, c *node.Config) { c.MQTT = mqttConfig(b, c.InitialAdminKey) })
	bid := mkBucket(t, nodes[0])
	// Every node joins the group before publishing starts.
	waitSubscribed(t, nodes...)
	pub := publisher(t, b)
	const total = 300
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range total {
		publish(t, pub, "dakkio/"+bid+"/line-7", payload(i, at))
	}
	waitStored(t, nodes[1].Admin, bid, "line-7", total)
	sum, busy := 0, 0
	for _, n := range nodes {
		got := metric(t, n, "dakkio_mqtt_messages_ingested_total")
		sum += got
		if got > 0 {
			busy++
		}
	}
	if sum != total {
		t.Errorf("nodes ingested %d messages in all, want %d (each by one node)", sum, total)
	}
	if busy < 2 {
		t.Errorf("%d nodes took messages, want the group to share them", busy)
	}
}

// waitSubscribed waits until every node's shared subscription is
// acknowledged by the broker.
func waitSubscribed(t *testing.T, nodes ...*testnode.Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for metric(t, n, "dakkio_mqtt_subscribed") != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s has not subscribed after 30s", n.Config.NodeID)
			}
			time.Sleep(20 * time.Millisecond) // polling, bounded
		}
	}
}

func mkBucket(t *testing.T, n *testnode.Node) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("mqtt-%d", time.Now().UnixNano())})
	r, err := n.Admin.Do(t.Context(), "POST", "/api/buckets", body, nil)
	if err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("create bucket: %v %s", err, r.Body)
	}
	var d struct {
		Data struct {
			ID string `json:"_id"`
		}
	}
	_ = json.Unmarshal(r.Body, &d)
	return d.Data.ID
}
