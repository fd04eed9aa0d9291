package mqttingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
)

// Group is the shared-subscription group every node joins.
const Group = "dakkio"

// Config configures a Subscriber.
type Config struct {
	Broker   string // tcp://host:1883, ssl://host:8883, ws://...
	Topic    string // filter, e.g. dakkio/#; messages are <prefix>/<bucketId>/<source name>
	Key      string // dakkio API key authorizing the writes
	Username string
	Password string
	// ClientID identifies the node to the broker; with a persistent
	// session the broker keeps its QoS 1 messages while it is away.
	ClientID string
	// TLS: a CA bundle to verify the broker with, and a client
	// certificate and key if the broker asks for one.
	CAFile, CertFile, KeyFile string
}

// Enabled reports whether a broker is configured.
func (c Config) Enabled() bool { return c.Broker != "" }

// Message is one message to store, routed by its topic.
type Message struct {
	Bucket, Source string
	Payload        []byte
}

// Ingest stores a batch of messages authorized by key; errs[i] is message
// i's error, nil once it is stored. retryable tells whether a failure may
// pass.
type Ingest func(key string, msgs []Message) (errs []error)

// maxBatch bounds the messages stored together: those the broker has
// handed over while the previous batch was being stored.
const maxBatch = 256

// Subscriber is a running subscription.
type Subscriber struct {
	cfg       Config
	ingest    Ingest
	retryable func(error) bool
	log       *slog.Logger
	client    mqtt.Client
	prefix    []string
	stop      chan struct{}
	queue     chan mqtt.Message // received, to store in order
	started   atomic.Bool
	done      chan struct{} // closed when the storing loop has returned

	received, ingested, rejected prometheus.Counter
	subscribed                   prometheus.Gauge
	isSubscribed                 atomic.Bool
}

// Subscribed reports whether the broker has acknowledged the subscription
// on the current connection.
func (s *Subscriber) Subscribed() bool { return s.isSubscribed.Load() }

// New checks cfg and prepares a subscriber; Start connects it.
func New(cfg Config, ingest Ingest, retryable func(error) bool, reg *prometheus.Registry, log *slog.Logger) (*Subscriber, error) {
	if cfg.Topic == "" || cfg.Key == "" {
		return nil, fmt.Errorf("%w: --mqtt-topic and --mqtt-key are required with --mqtt-broker", ErrConfig)
	}
	if strings.HasPrefix(cfg.Topic, "$share/") || strings.HasPrefix(cfg.Topic, "/") {
		return nil, fmt.Errorf("%w: topic %q: give the plain filter (e.g. dakkio/#); the node adds $share/%s/", ErrConfig, cfg.Topic, Group)
	}
	s := &Subscriber{cfg: cfg, ingest: ingest, retryable: retryable, log: log.With("component", "mqtt"),
		prefix: literalPrefix(cfg.Topic), stop: make(chan struct{}),
		queue: make(chan mqtt.Message, maxBatch), done: make(chan struct{})}
	s.received = prometheus.NewCounter(prometheus.CounterOpts{Name: "dakkio_mqtt_messages_received_total", Help: "MQTT messages this node received."})
	s.ingested = prometheus.NewCounter(prometheus.CounterOpts{Name: "dakkio_mqtt_messages_ingested_total", Help: "MQTT messages this node stored."})
	s.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "dakkio_mqtt_messages_rejected_total", Help: "MQTT messages this node could never store (invalid, unauthorized, over the plan), acknowledged and dropped."})
	s.subscribed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dakkio_mqtt_subscribed", Help: "1 while this node's shared subscription is acknowledged by the broker, else 0."})
	if reg != nil {
		for _, c := range []prometheus.Collector{s.received, s.ingested, s.rejected, s.subscribed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	opts := mqtt.NewClientOptions().AddBroker(cfg.Broker).SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(true).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(30 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOnConnectHandler(s.onConnect).
		// The broker resends the session's unacknowledged messages as soon
		// as it takes the connection, before Subscribe has registered its
		// handler: without a default one they would be dropped unacked and
		// stay stuck until the next reconnect.
		SetDefaultPublishHandler(s.handle).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.subscribed.Set(0)
			s.isSubscribed.Store(false)
			s.log.Warn("lost the MQTT broker; reconnecting", "err", err)
		})
	if cfg.CAFile != "" || cfg.CertFile != "" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	}
	s.client = mqtt.NewClient(opts)
	return s, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no certificate in %s", ErrConfig, cfg.CAFile)
		}
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Start connects in the background: the node serves even while the broker
// is down, and the client keeps trying with backoff.
func (s *Subscriber) Start() {
	s.started.Store(true)
	go s.storeLoop()
	s.client.Connect()
}

// onConnect (re)joins the shared subscription on every connection.
func (s *Subscriber) onConnect(c mqtt.Client) {
	filter := "$share/" + Group + "/" + s.cfg.Topic
	s.log.Info("connected to the MQTT broker", "broker", s.cfg.Broker, "subscription", filter)
	tok := c.Subscribe(filter, 1, s.handle)
	go func() {
		switch {
		case !tok.WaitTimeout(30 * time.Second):
			s.log.Error("the MQTT broker does not acknowledge the subscription", "subscription", filter)
		case tok.Error() != nil:
			s.log.Error("cannot subscribe", "subscription", filter, "err", tok.Error())
		default:
			s.subscribed.Set(1)
			s.isSubscribed.Store(true)
		}
	}()
}

// handle queues a message for the storing loop. Messages are handled in
// order (the client is set so), and QoS 1 ones stay unacknowledged until
// stored: a full queue holds the broker back.
func (s *Subscriber) handle(_ mqtt.Client, m mqtt.Message) {
	s.received.Inc()
	select {
	case s.queue <- m:
	case <-s.stop: // left unacknowledged: the broker delivers it again
	}
}

// storeLoop stores the queued messages in batches: whatever arrived while
// the previous batch was being stored, so a busy broker gets one write per
// batch instead of one per message.
func (s *Subscriber) storeLoop() {
	defer close(s.done)
	batch := make([]mqtt.Message, 0, maxBatch)
	for {
		select {
		case m := <-s.queue:
			batch = append(batch[:0], m)
		case <-s.stop:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case m := <-s.queue:
				batch = append(batch, m)
			default:
				break more
			}
		}
		if !s.store(batch) {
			return
		}
	}
}

// store stores a batch and acknowledges each message, in the order
// received, once it is stored or known never to be. Messages whose failure
// may pass are tried again with backoff (the later ones wait for their
// acknowledgement, as MQTT acknowledges in order) until they pass or the
// subscriber stops; it then returns false, the rest unacknowledged for the
// broker to deliver again.
func (s *Subscriber) store(batch []mqtt.Message) bool {
	const (
		pending = iota
		stored
		refused
	)
	state := make([]int, len(batch))
	why := make([]error, len(batch))
	msgs := make([]Message, 0, len(batch))
	idx := make([]int, 0, len(batch))
	for i, m := range batch {
		bucket, source, err := s.route(m.Topic())
		if err != nil {
			state[i], why[i] = refused, err
			continue
		}
		msgs = append(msgs, Message{Bucket: bucket, Source: source, Payload: m.Payload()})
		idx = append(idx, i)
	}
	acked := 0
	backoff := 50 * time.Millisecond
	for {
		if len(msgs) > 0 {
			errs := s.ingest(s.cfg.Key, msgs)
			retry, retryIdx := msgs[:0], idx[:0]
			for j, err := range errs {
				i := idx[j]
				switch {
				case err == nil:
					state[i] = stored
				case !s.retryable(err):
					state[i], why[i] = refused, err
				default:
					why[i] = err
					retry, retryIdx = append(retry, msgs[j]), append(retryIdx, i)
				}
			}
			msgs, idx = retry, retryIdx
		}
		for ; acked < len(batch) && state[acked] != pending; acked++ {
			if state[acked] == stored {
				s.ingested.Inc()
				batch[acked].Ack()
			} else {
				s.reject(batch[acked], why[acked])
			}
		}
		if acked == len(batch) {
			return true
		}
		s.log.Warn("cannot store MQTT messages now; retrying", "messages", len(msgs), "first", batch[idx[0]].Topic(), "err", why[idx[0]], "in", backoff)
		select {
		case <-s.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Subscriber) reject(m mqtt.Message, err error) {
	s.rejected.Inc()
	s.log.Warn("MQTT message refused and dropped", "topic", m.Topic(), "err", err)
	m.Ack()
}

// route reads <prefix>/<bucketId>/<source name> from a topic; the prefix
// is the filter's part before its first wildcard.
func (s *Subscriber) route(topic string) (bucket, source string, err error) {
	segs := strings.Split(topic, "/")
	if len(segs) < len(s.prefix)+2 {
		return "", "", fmt.Errorf("%w: %q", ErrTopic, topic)
	}
	rest := segs[len(s.prefix):]
	if rest[0] == "" || rest[1] == "" {
		return "", "", fmt.Errorf("%w: %q", ErrTopic, topic)
	}
	return rest[0], strings.Join(rest[1:], "/"), nil
}

// literalPrefix returns the filter's segments before its first wildcard.
func literalPrefix(filter string) []string {
	var out []string
	for _, seg := range strings.Split(filter, "/") {
		if seg == "#" || seg == "+" {
			break
		}
		out = append(out, seg)
	}
	return out
}

// Close disconnects, leaving messages not yet stored to the broker.
func (s *Subscriber) Close(ctx context.Context) {
	close(s.stop)
	wait := uint(1000)
	if d, ok := ctx.Deadline(); ok {
		wait = uint(max(time.Until(d).Milliseconds(), 0))
	}
	s.client.Disconnect(wait)
	if s.started.Load() {
		// The storing loop returns once its batch's write does.
		select {
		case <-s.done:
		case <-ctx.Done():
		}
	}
}
