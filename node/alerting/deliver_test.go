package alerting

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
)

func TestDeliverHeadersAndSignature(t *testing.T) {
	e := newEnv(t)
	const secret = "s3cr3t"
	signed := e.rule("temperature exceeds 30", withSecret(secret))
	e.write(temp(t0, 31))
	e.eng.DeliverDue(context.Background())

	reqs := e.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	ev := e.wantEvents(signed.ID, 1)[0]
	if string(req.Body) != string(ev.Payload) {
		t.Fatalf("body %s, want the event's payload %s", req.Body, ev.Payload)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(req.Body)
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for h, want := range map[string]string{
		"Content-Type":       "application/json",
		"User-Agent":         "dakkio-webhooks/1",
		"X-Dakkio-Event":     "alert.triggered",
		"X-Dakkio-Delivery":  ev.ID,
		"X-Dakkio-Signature": wantSig,
	} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if req.Path != "/hook" {
		t.Errorf("posted to %q", req.Path)
	}
	if ev.Delivery.State != store.DeliveryDelivered || ev.Delivery.Attempts != 1 || ev.Delivery.LastStatus != 200 ||
		ev.Delivery.DeliveredAt == nil || ev.Delivery.NextAttemptAt != nil {
		t.Fatalf("delivery %+v, want delivered on the first attempt", ev.Delivery)
	}

	// Without a secret, no signature.
	plain := e.rule("temperature exceeds 40", withSource(e.newSource("other")))
	e.writeTo(plain.DataSourceID, temp(t0, 41))
	e.eng.DeliverDue(context.Background())
	reqs = e.recv.requests()
	if len(reqs) != 2 || reqs[1].Header.Get("X-Dakkio-Signature") != "" {
		t.Fatalf("unsigned rule: %d requests, signature %q", len(reqs), reqs[len(reqs)-1].Header.Get("X-Dakkio-Signature"))
	}
	e.noWarnings()
}

func TestDeliverRetriesThenSucceeds(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.recv.failNext(500, 503)
	e.write(temp(t0, 31))
	ctx := context.Background()

	e.eng.DeliverDue(ctx)
	d := e.wantEvents(r.ID, 1)[0].Delivery
	if d.State != store.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 || d.LastError == "" ||
		d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("after a failure: %+v, want pending, 1 attempt, retry in 1s", d)
	}
	e.eng.DeliverDue(ctx) // not due yet
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("retried before the backoff: %d requests", n)
	}

	e.clk.Advance(time.Second)
	e.eng.DeliverDue(ctx)
	d = e.wantEvents(r.ID, 1)[0].Delivery
	if d.Attempts != 2 || d.LastStatus != 503 || !d.NextAttemptAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("after the second failure: %+v, want retry 2s later", d)
	}

	e.clk.Advance(2 * time.Second)
	e.eng.DeliverDue(ctx)
	d = e.wantEvents(r.ID, 1)[0].Delivery
	if d.State != store.DeliveryDelivered || d.Attempts != 3 || d.LastStatus != 200 || d.LastError != "" ||
		d.DeliveredAt == nil || !d.DeliveredAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("after success: %+v, want delivered with 3 attempts", d)
	}
	reqs := e.recv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, q := range reqs[1:] {
		if string(q.Body) != string(reqs[0].Body) || q.Header.Get("X-Dakkio-Delivery") != reqs[0].Header.Get("X-Dakkio-Delivery") {
			t.Fatal("a retry differs from the first attempt")
		}
	}
	e.clk.Advance(time.Hour)
	e.eng.DeliverDue(ctx)
	if n := len(e.recv.requests()); n != 3 {
		t.Fatalf("delivered event posted again: %d requests", n)
	}
}

func TestDeliverSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.recv.failNext(500)
	e.write(temp(t0, 31))
	e.eng.DeliverDue(context.Background())
	if d := e.wantEvents(r.ID, 1)[0].Delivery; d.Attempts != 1 || d.State != store.DeliveryPending {
		t.Fatalf("after the failure: %+v", d)
	}
	e.eng.Close()

	// Engine B on the same (Raft) state knows nothing but what the log says.
	b := e.newEngine()
	t.Cleanup(func() { b.Close() })
	b.DeliverDue(context.Background())
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("B retried before the recorded backoff: %d requests", n)
	}
	e.clk.Advance(time.Second)
	b.DeliverDue(context.Background())
	d := e.wantEvents(r.ID, 1)[0].Delivery
	if d.State != store.DeliveryDelivered || d.Attempts != 2 {
		t.Fatalf("after the restart: %+v, want delivered on attempt 2", d)
	}
}

func TestDeliverGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxAttempts = 4
		c.BaseBackoff = time.Second
		c.MaxBackoff = 3 * time.Second
	})
	r := e.rule("temperature exceeds 30")
	e.recv.failNext(500, 500, 500, 500, 500)
	e.write(temp(t0, 31))
	wantNext := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} // capped
	for i := range 4 {
		e.eng.DeliverDue(context.Background())
		d := e.wantEvents(r.ID, 1)[0].Delivery
		if d.Attempts != i+1 {
			t.Fatalf("attempt %d: %+v", i+1, d)
		}
		if i < 3 {
			if d.State != store.DeliveryPending || d.NextAttemptAt == nil || d.NextAttemptAt.Sub(*d.LastAttemptAt) != wantNext[i] {
				t.Fatalf("attempt %d: %+v, want retry after %v", i+1, d, wantNext[i])
			}
			e.clk.Advance(wantNext[i])
		} else if d.State != store.DeliveryFailed || d.NextAttemptAt != nil || d.LastStatus != 500 {
			t.Fatalf("after MaxAttempts: %+v, want failed", d)
		}
	}
	e.clk.Advance(time.Hour)
	e.eng.DeliverDue(context.Background())
	if n := len(e.recv.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	if w := e.logs.warnings(); len(w) != 1 || !strings.Contains(w[0], "failed for good") {
		t.Fatalf("warnings %q, want one about giving up", w)
	}
}

func TestBackoff(t *testing.T) {
	e := &Engine{cfg: Config{BaseBackoff: time.Second, MaxBackoff: 5 * time.Minute}}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		if got := e.backoff(i + 1); got != w*time.Second {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := e.backoff(1000); got != 5*time.Minute {
		t.Errorf("backoff(1000) = %v", got)
	}
}

// A rule's events go out in order: the second waits while the first is
// retried.
func TestDeliverInOrderPerRule(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.recv.failNext(500)
	e.write(temp(t0, 31))
	e.clk.Advance(time.Millisecond)
	e.write(temp(t0.Add(time.Second), 32))
	evs := e.wantEvents(r.ID, 2)

	e.eng.DeliverDue(context.Background())
	if reqs := e.recv.requests(); len(reqs) != 1 {
		t.Fatalf("%d requests while the first event failed, want 1 (the second waits)", len(reqs))
	}
	e.clk.Advance(time.Second)
	e.eng.DeliverDue(context.Background())
	reqs := e.recv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, want := range []string{evs[0].ID, evs[0].ID, evs[1].ID} {
		if got := reqs[i].Header.Get("X-Dakkio-Delivery"); got != want {
			t.Fatalf("request %d delivered %s, want %s", i, got, want)
		}
	}
	for _, ev := range e.events(r.ID) {
		if ev.Delivery.State != store.DeliveryDelivered {
			t.Fatalf("event %s: %+v", ev.ID, ev.Delivery)
		}
	}
}

func TestDeliverOnlyAsEvaluator(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.write(temp(t0, 31))
	other := e.newEngine(func(c *Config) { c.IsEvaluator = func(string) bool { return false } })
	other.DeliverDue(context.Background())
	if n := len(e.recv.requests()); n != 0 {
		t.Fatalf("a non-evaluator delivered: %d requests", n)
	}
	e.eng.DeliverDue(context.Background())
	if e.wantEvents(r.ID, 1)[0].Delivery.State != store.DeliveryDelivered {
		t.Fatal("not delivered")
	}
}

func TestDeliverRefusesBadURLsAndRedirects(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/see-other", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/hook", http.StatusFound) })
	mux.HandleFunc("/temporary", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hook", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/x", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed) // would not be reached
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	e.recv.mu.Lock()
	e.recv.handler = mux.ServeHTTP
	e.recv.mu.Unlock()

	cases := []struct {
		name, url string
		delivered bool
		errHas    string
	}{
		{"ftp URL", "ftp://example.com/hook", false, "http or https"},
		{"relative URL", "/hook", false, "http or https"},
		{"302 turns POST into GET", e.recv.srv.URL + "/see-other", false, "drop the POST"},
		{"307 keeps POST", e.recv.srv.URL + "/temporary", true, ""},
		{"redirect to ftp", e.recv.srv.URL + "/to-ftp", false, "only http and https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := e.newSource("src " + c.name)
			r := e.rule("temperature exceeds 30", withSource(src), withURL(c.url))
			e.writeTo(src, temp(t0, 31))
			e.eng.DeliverDue(context.Background())
			d := e.wantEvents(r.ID, 1)[0].Delivery
			if got := d.State == store.DeliveryDelivered; got != c.delivered {
				t.Fatalf("delivery %+v, delivered %v, want %v", d, got, c.delivered)
			}
			if !strings.Contains(d.LastError, c.errHas) {
				t.Fatalf("last error %q, want it to mention %q", d.LastError, c.errHas)
			}
		})
	}
}

func TestDeliverTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.recv.mu.Lock()
	e.recv.handler = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	e.recv.mu.Unlock()
	r := e.rule("temperature exceeds 30")
	e.write(temp(t0, 31))
	e.eng.DeliverDue(context.Background())
	d := e.wantEvents(r.ID, 1)[0].Delivery
	if d.State != store.DeliveryPending || d.Attempts != 1 || d.LastStatus != 0 || !strings.Contains(d.LastError, "deadline exceeded") {
		t.Fatalf("after a timeout: %+v", d)
	}
}

// Start delivers on a kick, and Close leaves none of the engine's
// goroutines behind.
func TestStartCloseKick(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NoDataInterval = time.Millisecond })
	r := e.rule("temperature exceeds 30")
	nd := e.rule("no data received for 1 minute")
	e.eng.Start()
	e.eng.Start() // harmless

	e.write(temp(t0, 31))
	select {
	case got := <-e.recv.got:
		ev := e.wantEvents(r.ID, 1)[0]
		if got.Header.Get("X-Dakkio-Delivery") != ev.ID {
			t.Fatalf("delivered %s, want %s", got.Header.Get("X-Dakkio-Delivery"), ev.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kick did not deliver within 10s")
	}
	// The ticker runs the no-data pass on its own.
	e.clk.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.events(nd.ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the no-data ticker did not trigger within 10s")
		}
		runtime.Gosched()
		select {
		case <-e.recv.got:
		case <-time.After(5 * time.Millisecond):
		}
	}

	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoEngineGoroutines(t)
}

func TestCloseBeforeStart(t *testing.T) {
	e := newEnv(t)
	e.eng.Close()
	e.eng.Start()
	waitNoEngineGoroutines(t)
}

// waitNoEngineGoroutines waits a little for goroutines that have signalled
// their end to return, and fails if any of the engine's are left.
func waitNoEngineGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g := engineGoroutines()
		if g == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine goroutines still running:\n%s", g)
		}
		runtime.Gosched()
	}
}

// engineGoroutines returns the stacks of running goroutines that are in the
// engine's code.
func engineGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "alerting.(*Engine)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/services/T0/B0/secret": "https://hooks.example.com/…",
		"http://127.0.0.1:9/hook?token=abc":               "http://127.0.0.1:9/…",
		"https://example.com":                             "https://example.com",
		"::bad":                                           "(webhook URL)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignatureStaysOnItsHost: a redirect to another host keeps the POST
// but not the signature, which could be replayed against the real webhook.
func TestSignatureStaysOnItsHost(t *testing.T) {
	e := newEnv(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.recv.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landed", http.StatusTemporaryRedirect)
	})
	var mu sync.Mutex
	var landed http.Header
	mux.HandleFunc("/landed", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		landed = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	e.recv.mu.Lock()
	e.recv.handler = mux.ServeHTTP
	e.recv.mu.Unlock()

	src := e.newSource("redirected")
	r := e.rule("temperature exceeds 30", withSource(src), withURL(e.recv.srv.URL+"/elsewhere"), withSecret("s3cret"))
	e.writeTo(src, temp(t0, 31))
	e.eng.DeliverDue(context.Background())
	if d := e.wantEvents(r.ID, 1)[0].Delivery; d.State != store.DeliveryDelivered {
		t.Fatalf("delivery %+v, want delivered", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if landed == nil {
		t.Fatal("the redirect target got no request")
	}
	if sig := landed.Get(HeaderSignature); sig != "" {
		t.Fatalf("signature %q sent to another host", sig)
	}
}

// TestDueUnderSkewedClocks: a delivery's next attempt was set by whichever
// node's clock; one set by a clock minutes ahead must not hold the rule's
// chain until this clock catches up (alert × clock, seed 1914), while a
// retry's own backoff is still respected.
func TestDueUnderSkewedClocks(t *testing.T) {
	e := &Engine{cfg: Config{BaseBackoff: time.Second, MaxBackoff: 5 * time.Minute}, notUntil: map[string]time.Time{}}
	now := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, c := range []struct {
		name string
		d    store.Delivery
		due  bool
	}{
		{"new event stamped by a clock 4 minutes ahead", store.Delivery{NextAttemptAt: at(4 * time.Minute)}, true},
		{"new event stamped now", store.Delivery{NextAttemptAt: at(0)}, true},
		{"first retry within its 1 s backoff", store.Delivery{Attempts: 1, NextAttemptAt: at(500 * time.Millisecond)}, false},
		{"first retry scheduled 3 minutes ahead", store.Delivery{Attempts: 1, NextAttemptAt: at(3 * time.Minute)}, true},
		{"fifth retry within its 16 s backoff", store.Delivery{Attempts: 5, NextAttemptAt: at(10 * time.Second)}, false},
		{"delivered or failed for good", store.Delivery{Attempts: 2}, false},
	} {
		if got := e.due("ev", c.d, now); got != c.due {
			t.Errorf("%s: due %v, want %v", c.name, got, c.due)
		}
	}
	e.notUntil["ev"] = now.Add(4 * time.Minute) // a local backoff taken while this clock was ahead
	if !e.due("ev", store.Delivery{Attempts: 1, NextAttemptAt: at(0)}, now) {
		t.Error("a local retry time minutes beyond the backoff held the delivery")
	}
	e.notUntil["ev"] = now.Add(time.Second)
	if e.due("ev", store.Delivery{Attempts: 1, NextAttemptAt: at(0)}, now) {
		t.Error("a local retry time within the backoff was ignored")
	}
}
