package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/dakkio/dakkio/internal/egress"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// PointsReader reads the points rules are evaluated on: the local store on
// a single node, the bucket's replicas in a cluster.
type PointsReader interface {
	Raw(ctx context.Context, q points.RawQuery) (points.RawResult, error)
	// LastPointTime returns the time of the source's newest point; false
	// if none.
	LastPointTime(ctx context.Context, bucketID, sourceID string) (int64, bool, error)
}

// Config configures an Engine. State, Points and Apply are required; every
// other field has a default.
type Config struct {
	// State is the local metadata state (rules, sources, events). Required.
	State *store.State
	// Points is the local points store, read by duration and no-data
	// rules. Required.
	Points PointsReader
	// Apply proposes a Raft command and returns what applying it produced;
	// business errors are *store.Error. Required.
	Apply func(ctx context.Context, cmd any) (any, error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Client posts the webhooks. Default: a client with Timeout. Redirects
	// are followed only to http and https URLs and only when they keep the
	// POST, whatever the client's own CheckRedirect says.
	Client *http.Client
	// Egress, if set, is checked on every address a delivery dials and on
	// every redirect's literal host; a refused delivery ends "blocked"
	// without retries. The client's Transport must then be nil or an
	// *http.Transport, which gets the policy's dialer and no proxy.
	Egress *egress.Policy
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout time.Duration
	// BaseBackoff is the delay before the first retry; it doubles with each
	// further attempt up to MaxBackoff. Defaults 1s and 5 minutes.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is failed.
	// Default 8.
	MaxAttempts int
	// NoDataInterval is how often Start's ticker checks no-data rules.
	// Default 15s.
	NoDataInterval time.Duration
	// Logger gets the engine's logs. Default slog.Default().
	Logger *slog.Logger
	// IsEvaluator reports whether this node evaluates the bucket's rules,
	// no-data ones included. Default: always (a single node).
	IsEvaluator func(bucketID string) bool
	// IsDeliverer reports whether this node delivers the bucket's webhooks.
	// Default: IsEvaluator. In a cluster one node (the Raft leader)
	// delivers, so an event is not posted by every node at once.
	IsDeliverer func(bucketID string) bool
}

// Defaults of Config.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultBaseBackoff    = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultMaxAttempts    = 8
	DefaultNoDataInterval = 15 * time.Second
)

// idlePoll is the longest the delivery loop sleeps without a kick, so that
// deliveries left by another evaluator, or whose recording failed, are
// picked up.
const idlePoll = 2 * time.Second

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.NoDataInterval <= 0 {
		c.NoDataInterval = DefaultNoDataInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IsEvaluator == nil {
		c.IsEvaluator = func(string) bool { return true }
	}
	if c.IsDeliverer == nil {
		c.IsDeliverer = c.IsEvaluator
	}
}

// Validate reports a missing required field.
func (c *Config) Validate() error {
	switch {
	case c.State == nil:
		return errors.New("alerting: State is required")
	case c.Points == nil:
		return errors.New("alerting: Points is required")
	case c.Apply == nil:
		return errors.New("alerting: Apply is required")
	case c.Egress != nil && c.Client != nil && c.Client.Transport != nil:
		if _, ok := c.Client.Transport.(*http.Transport); !ok {
			return errors.New("alerting: with Egress, Client.Transport must be an *http.Transport")
		}
	}
	return nil
}

// Engine evaluates alert rules and delivers their webhooks.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	started time.Time // when the engine was made: the no-data baseline before any arrival

	mu       sync.Mutex
	arrivals map[string]time.Time // source id -> last arrival of a point; sources with no-data rules only
	runs     map[string]*runState // rule id -> what the last duration check proved

	passMu   sync.Mutex // one DeliverDue pass at a time
	nextMu   sync.Mutex
	notUntil map[string]time.Time // event id -> no attempt before, whatever the state says

	// attempts counts recorded delivery attempts by outcome (Deliveries).
	attempts deliveryCounts

	kick      chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// New returns an engine; it evaluates on OnWrite at once, and starts its
// no-data ticker and delivery loop with Start.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "alerting"),
		client:   webhookClient(cfg.Client, cfg.Timeout, cfg.Egress),
		started:  cfg.Now(),
		arrivals: map[string]time.Time{},
		runs:     map[string]*runState{},
		notUntil: map[string]time.Time{},
		kick:     make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
	}
	return e, nil
}

// Start starts the no-data ticker and the delivery loop. It delivers what
// is already due (deliveries left pending by a previous run) at once.
func (e *Engine) Start() {
	e.startOnce.Do(func() {
		if e.ctx.Err() != nil {
			return // closed before started
		}
		e.wg.Add(2)
		go e.noDataLoop()
		go e.deliveryLoop()
	})
}

// Close stops the loops, cancelling deliveries in flight (which are not
// recorded as attempts), and waits for them.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.cancel()
		e.wg.Wait()
	})
	return nil
}

// Kick wakes the delivery loop.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Engine) noDataLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.NoDataInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			e.CheckNoData(e.ctx)
		}
	}
}

func (e *Engine) deliveryLoop() {
	defer e.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.kick:
		case <-timer.C:
		}
		e.DeliverDue(e.ctx)
		timer.Reset(e.nextWait())
	}
}

// trigger proposes an event for the rule and kicks the delivery loop; it
// reports whether the log recorded it. p is the point that met the
// condition, nil for no data.
func (e *Engine) trigger(ctx context.Context, r store.AlertRule, p *points.Point, value *float64) bool {
	ok, _ := e.fire(ctx, r, p, value)
	return ok
}

// fire is trigger that also returns why the log could not be asked (a
// refusal by the log, ErrSuppressed, is no error): the caller may evaluate
// the point again later, and the event's cause makes that a no-op if the
// first proposal was recorded after all.
func (e *Engine) fire(ctx context.Context, r store.AlertRule, p *points.Point, value *float64) (bool, error) {
	now := e.cfg.Now()
	if coolingDown(r, now) {
		return false, nil
	}
	ev, err := e.newEvent(r, p, value, now)
	if err != nil {
		e.log.Error("cannot build webhook payload", "alert", r.ID, "err", err)
		return false, nil
	}
	if ev.Cause != "" && e.cfg.State.EventCaused(r.ID, ev.Cause) {
		return false, nil // another replica triggered it by this point
	}
	if _, err := e.cfg.Apply(ctx, store.TriggerAlert{Event: ev}); err != nil {
		if errors.Is(err, store.ErrSuppressed) {
			return false, nil
		}
		e.log.Warn("cannot record alert trigger", "alert", r.ID, "bucket", r.BucketID, "err", err)
		return false, fmt.Errorf("cannot record a trigger of alert %s: %w", r.ID, err)
	}
	e.log.Debug("alert triggered", "alert", r.ID, "event", ev.ID)
	e.Kick()
	return true, nil
}

// coolingDown reports whether the local state shows the rule cooling down.
// The FSM decides; this only spares the log a proposal it would refuse.
func coolingDown(r store.AlertRule, now time.Time) bool { return r.CoolingDownAt(now) }
