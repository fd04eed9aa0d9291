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

// Ingest stores one message; retryable tells whether a failure may pass.
type Ingest func(key, bucketID, source string, payload []byte) error

// Subscriber is a running subscription.
type Subscriber struct {
	cfg       Config
	ingest    Ingest
	retryable func(error) bool
	log       *slog.Logger
	client    mqtt.Client
	prefix    []string
	stop      chan struct{}

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
		prefix: literalPrefix(cfg.Topic), stop: make(chan struct{})}
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

// handle stores one message and acknowledges it once stored, or once it is
// known it never will be. A failure that may pass is retried with backoff
// (messages are handled in order, so the next ones wait) until it passes
// or the subscriber stops, when the message stays unacknowledged for the
// broker to deliver again.
func (s *Subscriber) handle(_ mqtt.Client, m mqtt.Message) {
	s.received.Inc()
	bucket, source, err := s.route(m.Topic())
	if err != nil {
		s.reject(m, err)
		return
	}
	backoff := 50 * time.Millisecond
	for {
		err := s.ingest(s.cfg.Key, bucket, source, m.Payload())
		if err == nil {
			s.ingested.Inc()
			m.Ack()
			return
		}
		if !s.retryable(err) {
			s.reject(m, err)
			return
		}
		s.log.Warn("cannot store an MQTT message now; retrying", "topic", m.Topic(), "err", err, "in", backoff)
		select {
		case <-s.stop:
			return
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
}
