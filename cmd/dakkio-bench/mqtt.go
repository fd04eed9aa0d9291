package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/dakkio/dakkio/client"
)

// --protocol mqtt: the bench starts Debian's mosquitto on a free loopback
// port, starts the node subscribed to it (--mqtt-broker, --mqtt-key with
// the node's admin key), and publishes the workload there as one QoS 1
// message a point, topic dakkio/<bucketId>/<source name>, payload
// {"timestamp":"…","values":{…}}, from --conns Paho clients. The rate is
// points over the time until the bucket counts every point, so it is what
// the node stored, not what the broker took.

// mqttBroker is a mosquitto child process.
type mqttBroker struct {
	addr string
	cmd  *exec.Cmd
	logs bytes.Buffer
}

// startBroker runs mosquitto with its configuration and persistence in dir.
func startBroker(ctx context.Context, dir string) (*mqttBroker, error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // Debian's, outside a user's PATH
		if _, err := os.Stat(bin); err != nil {
			return nil, errors.New("--protocol mqtt needs mosquitto: apt-get install -y mosquitto (make deps installs it)")
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("cannot tell the current user: %w", err)
	}
	// Run as root, mosquitto would drop to a user who cannot write dir.
	conf := fmt.Sprintf("user %s\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n", me.Username, port)
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	b := &mqttBroker{addr: "127.0.0.1:" + port}
	b.cmd = exec.Command(bin, "-c", path)
	b.cmd.Stdout, b.cmd.Stderr = &b.logs, &b.logs
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.stop()
			return nil, fmt.Errorf("mosquitto does not listen on %s: %v\n%s", b.addr, err, b.logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the port, bounded by the deadline
	}
}

func (b *mqttBroker) url() string { return "tcp://" + b.addr }

func (b *mqttBroker) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
}

// nodeFlags subscribes the node to the broker, authorized by key.
func (b *mqttBroker) nodeFlags(key string) []string {
	return []string{"--mqtt-broker", b.url(), "--mqtt-topic", "dakkio/#", "--mqtt-key", key}
}

// mqttMessage is one point as published.
type mqttMessage struct {
	topic   string
	payload []byte
}

// nextMQTT is next for MQTT: the next point as a message (ok false once
// the workload is done).
func (g *generator) nextMQTT(bucketID string) (mqttMessage, bool) {
	if g.tick >= g.w.ticks {
		return mqttMessage{}, false
	}
	nf := len(g.w.fields)
	m := mqttMessage{topic: fmt.Sprintf("dakkio/%s/%s", bucketID, sourceName("mqtt", g.src))}
	b := append(make([]byte, 0, 64+24*nf), `{"timestamp":"`...)
	b = g.appendTime(b, g.w.start+g.tick*g.w.interval)
	b = append(b, `","values":{`...)
	for f := range nf {
		if f > 0 {
			b = append(b, ',')
		}
		b = append(b, g.keys[f]...)
		b = appendDecimal(b, g.step(g.src*nf+f, &g.w.fields[f]), g.pow[f], g.w.fields[f].decimals)
	}
	m.payload = append(b, "}}"...)
	if g.src++; g.src == len(g.w.sources) {
		g.src = 0
		g.tick++
	}
	return m, true
}

// ingestMQTT publishes the workload through the broker from conns clients
// and waits until the bucket counts every point.
func ingestMQTT(ctx context.Context, broker *mqttBroker, api *client.Client, bucketID string, g *generator, conns int, settle time.Duration, progress io.Writer) (ingestResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan mqttMessage, 1024)
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failErr  error
		sent     atomic.Int64
	)
	fail := func(err error) { failOnce.Do(func() { failErr = err; cancel() }) }
	wg.Go(func() { // the generator
		defer close(msgs)
		for {
			m, ok := g.nextMQTT(bucketID)
			if !ok {
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	})
	lats := make([][]time.Duration, conns)
	start := time.Now()
	for c := range conns {
		wg.Go(func() {
			opts := mqtt.NewClientOptions().AddBroker(broker.url()).SetClientID(fmt.Sprintf("dakkio-bench-%d", c)).
				SetCleanSession(true).SetMaxResumePubInFlight(1000)
			cl := mqtt.NewClient(opts)
			if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				fail(fmt.Errorf("cannot connect to %s: %v", broker.url(), tok.Error()))
				return
			}
			defer cl.Disconnect(250)
			// A window of messages in flight, each waited for in order.
			type pending struct {
				tok mqtt.Token
				at  time.Time
			}
			window := make([]pending, 0, 256)
			flush := func() bool {
				for _, p := range window {
					if !p.tok.WaitTimeout(30*time.Second) || p.tok.Error() != nil {
						fail(fmt.Errorf("publish not acknowledged by %s: %v", broker.url(), p.tok.Error()))
						return false
					}
					lats[c] = append(lats[c], time.Since(p.at))
				}
				sent.Add(int64(len(window)))
				window = window[:0]
				return true
			}
			for m := range msgs {
				if ctx.Err() != nil {
					return
				}
				window = append(window, pending{cl.Publish(m.topic, 1, false, m.payload), time.Now()})
				if len(window) == cap(window) && !flush() {
					return
				}
			}
			flush()
		})
	}
	done := make(chan struct{})
	go reportProgress(done, progress, &sent, g.w.points(), len(g.w.fields), start)
	wg.Wait()
	close(done)
	if failErr != nil {
		return ingestResult{}, failErr
	}
	r := ingestResult{points: sent.Load()}
	for _, l := range lats {
		r.latencies = append(r.latencies, l...)
	}
	r.requests = int64(len(r.latencies))
	if _, err := waitSettled(ctx, api, bucketID, r.points, settle); err != nil {
		return ingestResult{}, fmt.Errorf("after publishing: %w\nmosquitto:\n%s", err, broker.logs.String())
	}
	r.elapsed = time.Since(start)
	return r, nil
}
