package alerting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/condition"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// t0 is where every test clock starts.
var t0 = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// received is one request the webhook receiver got.
type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is a local webhook endpoint that records what it gets and
// answers with the statuses it is given, then 200.
type receiver struct {
	srv *httptest.Server
	got chan received

	mu       sync.Mutex
	reqs     []received
	statuses []int // answers for the next requests, then 200
	handler  http.HandlerFunc
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan received, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{Path: req.URL.Path, Header: req.Header.Clone(), Body: body}
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		h := r.handler
		r.mu.Unlock()
		select {
		case r.got <- rec:
		default:
		}
		if h != nil {
			h(w, req)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// failNext makes the next requests answer with these statuses.
func (r *receiver) failNext(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, statuses...)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

// logSink records the engine's warnings and errors.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *logSink) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	s.msgs = append(s.msgs, msg)
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

func (s *logSink) warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// env is a real state, applier and points store with one organization and
// bucket, a clock, a webhook receiver and an engine.
type env struct {
	t      *testing.T
	clk    *clock
	state  *store.State
	apply  *cluster.LocalApplier
	pts    *points.DB
	recv   *receiver
	logs   *logSink
	eng    *Engine
	orgID  string
	bucket string
	source string // a source with fields temperature (number) and status (string)
	opts   []func(*Config)
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{t: t0}, state: store.NewState(1 << 20), logs: &logSink{}, opts: opts}
	e.apply = cluster.NewLocalApplier(e.state)
	pts, err := points.Open(points.Config{
		InMemory:  true,
		Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true },
		Now:       e.clk.Now,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	e.pts = pts
	e.recv = newReceiver(t)

	org := store.Org{ID: e.id(), Name: "acme", Plan: store.PlanEnterprise, CreatedAt: t0, UpdatedAt: t0}
	e.must(store.Bootstrap{Org: org, AdminKey: store.APIKey{ID: e.id(), Name: "admin", Type: store.KeyAdmin, Hash: "h", KeyPrefix: "dakkio_a_xxx", OrganizationID: org.ID, CreatedAt: t0}})
	e.orgID = org.ID
	b := store.Bucket{ID: e.id(), Name: "plant", OrganizationID: org.ID, RetentionDays: 365, Status: store.BucketActive, CreatedAt: t0, UpdatedAt: t0}
	e.must(store.CreateBucket{Bucket: b})
	e.bucket = b.ID
	e.source = e.newSource("boiler")
	e.eng = e.newEngine()
	t.Cleanup(func() { e.eng.Close() })
	return e
}

func (e *env) id() string { return objectid.New(t0) }

func (e *env) must(cmd any) any {
	e.t.Helper()
	v, err := e.apply.Apply(context.Background(), cmd)
	if err != nil {
		e.t.Fatalf("apply %T: %v", cmd, err)
	}
	return v
}

func (e *env) newSource(name string) string {
	e.t.Helper()
	src := store.DataSource{
		ID: e.id(), BucketID: e.bucket, OrganizationID: e.orgID, Name: name, Type: "sensor",
		Schema:       map[string]store.Field{"temperature": {Type: "number"}, "status": {Type: "string"}, "ok": {Type: "boolean"}},
		Downsampling: true, Status: "active", CreatedAt: t0, UpdatedAt: t0,
	}
	e.must(store.CreateSource{Source: src})
	return src.ID
}

// newEngine makes an engine on the env's state, clock and receiver.
func (e *env) newEngine(opts ...func(*Config)) *Engine {
	e.t.Helper()
	cfg := Config{
		State:  e.state,
		Points: localPoints{e.pts},
		Apply:  e.apply.Apply,
		Now:    e.clk.Now,
		Logger: slog.New(e.logs),
	}
	for _, o := range append(append([]func(*Config){}, e.opts...), opts...) {
		o(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

type ruleOpt func(*store.AlertRule)

func withSecret(s string) ruleOpt  { return func(r *store.AlertRule) { r.Secret = s } }
func withURL(u string) ruleOpt     { return func(r *store.AlertRule) { r.WebhookURL = u } }
func withSource(id string) ruleOpt { return func(r *store.AlertRule) { r.DataSourceID = id } }
func withCooldown(min int) ruleOpt { return func(r *store.AlertRule) { r.CooldownMinutes = min } }
func withName(name string) ruleOpt { return func(r *store.AlertRule) { r.Name = name } }
func createdAt(at time.Time) ruleOpt {
	return func(r *store.AlertRule) { r.CreatedAt, r.UpdatedAt = at, at }
}
func withStatus(status string) ruleOpt { return func(r *store.AlertRule) { r.Status = status } }

// rule creates an active rule on the env's source with cooldown 0, created
// now.
func (e *env) rule(cond string, opts ...ruleOpt) store.AlertRule {
	e.t.Helper()
	parsed, err := condition.Parse(cond)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clk.Now()
	r := store.AlertRule{
		ID: e.id(), OrganizationID: e.orgID, BucketID: e.bucket, DataSourceID: e.source,
		Name: "rule " + cond, Condition: cond, Parsed: parsed, WebhookURL: e.recv.url(),
		Status: store.AlertActive, CooldownMinutes: 0, CreatedAt: now, UpdatedAt: now,
	}
	for _, o := range opts {
		o(&r)
	}
	e.must(store.CreateAlert{Rule: r})
	return r
}

func (e *env) setStatus(ruleID, status string) {
	e.t.Helper()
	e.must(store.UpdateAlert{OrgID: e.orgID, ID: ruleID, Status: &status, At: e.clk.Now()})
}

// point is a point of the env's source at ts with a temperature.
func temp(ts time.Time, v float64) points.Point {
	return points.Point{TS: ts.UnixNano(), Values: []points.Value{{Field: "temperature", Kind: points.KindNumber, Num: v}}}
}

// write stores pts (of source, or the env's source if empty) and tells the
// engine, as the ingest handler does.
func (e *env) writeTo(source string, pts ...points.Point) {
	e.t.Helper()
	for i := range pts {
		pts[i].SourceID = source
	}
	if err := e.pts.Write(context.Background(), e.bucket, pts); err != nil {
		e.t.Fatal(err)
	}
	e.eng.OnWrite(context.Background(), e.bucket, pts)
}

func (e *env) write(pts ...points.Point) { e.writeTo(e.source, pts...) }

// events returns the rule's events, oldest first.
func (e *env) events(ruleID string) []store.AlertEvent {
	evs, _ := e.state.Events(ruleID, 0, 1000)
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func (e *env) wantEvents(ruleID string, n int) []store.AlertEvent {
	e.t.Helper()
	evs := e.events(ruleID)
	if len(evs) != n {
		e.t.Fatalf("rule has %d events, want %d: %s", len(evs), n, describe(evs))
	}
	return evs
}

func (e *env) noWarnings() {
	e.t.Helper()
	if w := e.logs.warnings(); len(w) > 0 {
		e.t.Fatalf("unexpected warnings: %q", w)
	}
}

func describe(evs []store.AlertEvent) string {
	s := ""
	for _, ev := range evs {
		v := "null"
		if ev.Value != nil {
			v = fmt.Sprint(*ev.Value)
		}
		s += fmt.Sprintf("[%s value=%s at=%s %s attempts=%d] ", ev.ID, v, ev.TriggeredAt.Format(time.RFC3339), ev.Delivery.State, ev.Delivery.Attempts)
	}
	return s
}

func minutes(n float64) time.Duration { return time.Duration(n * float64(time.Minute)) }

// localPoints reads the env's own store, as a single node does.
type localPoints struct{ *points.DB }

func (l localPoints) LastPointTime(_ context.Context, bucketID, sourceID string) (int64, bool, error) {
	ts, ok := l.DB.LastPointTime(bucketID, sourceID)
	return ts, ok, nil
}

// flakyPoints fails LastPointTime while fail is set.
type flakyPoints struct {
	localPoints
	fail atomic.Bool
}

func (f *flakyPoints) LastPointTime(ctx context.Context, bucketID, sourceID string) (int64, bool, error) {
	if f.fail.Load() {
		return 0, false, errors.New("no replica answered")
	}
	return f.localPoints.LastPointTime(ctx, bucketID, sourceID)
}
