package alerting

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dakkio/dakkio/internal/egress"
	"github.com/dakkio/dakkio/store"
)

// Webhook request headers.
const (
	HeaderEvent     = "X-Dakkio-Event"
	HeaderDelivery  = "X-Dakkio-Delivery"
	HeaderSignature = "X-Dakkio-Signature"
	UserAgent       = "dakkio-webhooks/1"
)

// Limits of delivery.
const (
	maxParallelRules = 8        // rules delivered at once in one pass
	maxRedirects     = 5        // redirects followed per attempt
	maxDrainBytes    = 64 << 10 // response body read so the connection can be reused
	maxErrorLen      = 300      // characters of an attempt's error kept in the log
)

// webhookClient returns c (or a new client) restricted to http(s) redirects
// that keep the POST and, with a policy, to the addresses it allows.
func webhookClient(c *http.Client, timeout time.Duration, policy *egress.Policy) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out.Timeout = timeout
	}
	if policy != nil {
		t, _ := out.Transport.(*http.Transport) // Config.Validate allows no other
		if t == nil {
			out.Transport = policy.Transport()
		} else {
			t = t.Clone()
			policy.Restrict(t)
			out.Transport = t
		}
	}
	inner := out.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if !httpScheme(req.URL) {
			return fmt.Errorf("redirect to a %q URL refused: only http and https", req.URL.Scheme)
		}
		// The dialer checks every address; a literal one is refused here
		// already, with the redirect named in the error.
		if err := checkLiteralHost(policy, req.URL); err != nil {
			return fmt.Errorf("redirect not followed: %w", err)
		}
		// 301-303 turn the POST into a GET without the body: a 2xx to that
		// would not mean the webhook was received.
		if req.Method != http.MethodPost {
			return fmt.Errorf("redirect %d would drop the POST; not followed", req.Response.StatusCode)
		}
		// A signature must not travel to another host: it could be replayed
		// against the webhook it was made for.
		if req.URL.Host != via[0].URL.Host {
			req.Header.Del(HeaderSignature)
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &out
}

func httpScheme(u *url.URL) bool { return u.Scheme == "http" || u.Scheme == "https" }

// checkLiteralHost checks u's host against policy when it is an IP address.
func checkLiteralHost(policy *egress.Policy, u *url.URL) error {
	if policy == nil {
		return nil
	}
	return policy.CheckURL(u)
}

// Sign returns the X-Dakkio-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// backoff returns the delay after the attempts-th failed attempt.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.cfg.BaseBackoff
	for i := 1; i < attempts && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, e.cfg.MaxBackoff)
}

// outgoing is one delivery to attempt: an alert rule's event or a
// webhook subscription's delivery, posted and recorded alike.
type outgoing struct {
	id       string // the delivery's id: X-Dakkio-Delivery, the same on every retry
	event    string // X-Dakkio-Event
	url      string
	secret   string
	payload  []byte
	delivery store.Delivery
	// record returns the command that records an attempt's outcome.
	record func(store.Delivery) any
	// owner names the rule or webhook in logs.
	owner, ownerKind string
}

func alertOutgoing(r store.AlertRule, ev store.AlertEvent) outgoing {
	return outgoing{id: ev.ID, event: EventTriggered, url: r.WebhookURL, secret: r.Secret, payload: ev.Payload,
		delivery: ev.Delivery, owner: r.ID, ownerKind: "alert",
		record: func(d store.Delivery) any {
			return store.RecordDelivery{AlertID: ev.AlertID, EventID: ev.ID, Delivery: d}
		}}
}

func webhookOutgoing(w store.Webhook, d store.WebhookDelivery) outgoing {
	return outgoing{id: d.ID, event: d.Event, url: w.URL, secret: w.Secret, payload: d.Payload,
		delivery: d.Delivery, owner: w.ID, ownerKind: "webhook",
		record: func(del store.Delivery) any {
			return store.RecordWebhookDelivery{WebhookID: d.WebhookID, DeliveryID: d.ID, Delivery: del}
		}}
}

// DeliverDue makes one pass over the deliveries this node makes: for each
// rule and each webhook, its oldest pending delivery is posted if its time
// has come, and then the next, until one is not delivered. Every attempt
// is recorded through Apply. Passes do not overlap.
func (e *Engine) DeliverDue(ctx context.Context) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	sem := make(chan struct{}, maxParallelRules)
	var wg sync.WaitGroup
	defer wg.Wait()
	e.deliverAlerts(ctx, sem, &wg)
	e.deliverWebhooks(ctx, sem, &wg)
}

// deliverAlerts starts the due chains of the alert rules' events.
func (e *Engine) deliverAlerts(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) {
	now := e.cfg.Now()
	pending := e.cfg.State.PendingDeliveries()
	webhookPending := e.cfg.State.PendingWebhookDeliveries()
	ids := make([]string, 0, len(pending)+len(webhookPending))
	for _, ev := range pending {
		ids = append(ids, ev.ID)
	}
	for _, d := range webhookPending {
		ids = append(ids, d.ID)
	}
	e.forgetFinished(ids)

	chains := map[string][]store.AlertEvent{}
	var order []string
	for _, ev := range pending {
		if _, ok := chains[ev.AlertID]; !ok {
			order = append(order, ev.AlertID)
		}
		chains[ev.AlertID] = append(chains[ev.AlertID], ev)
	}
	rulesOf := map[string]map[string]store.AlertRule{} // bucket -> rule id -> rule
	for _, id := range order {
		chain := chains[id]
		// The log order of one rule's events: by trigger time, then by id
		// (ids made by one node in one second count up).
		slices.SortStableFunc(chain, func(a, b store.AlertEvent) int {
			return cmp.Or(a.TriggeredAt.Compare(b.TriggeredAt), cmp.Compare(a.ID, b.ID))
		})
		head := chain[0]
		if !e.due(head.ID, head.Delivery, now) || !e.cfg.IsDeliverer(head.BucketID) {
			continue
		}
		rules, ok := rulesOf[head.BucketID]
		if !ok {
			rules = e.bucketRules(head.BucketID)
			rulesOf[head.BucketID] = rules
		}
		rule, ok := rules[id]
		if !ok {
			continue // deleted since: its events go with it
		}
		outs := make([]outgoing, len(chain))
		for i, ev := range chain {
			outs[i] = alertOutgoing(rule, ev)
		}
		if !e.startChain(ctx, sem, wg, outs) {
			return
		}
	}
}

// deliverWebhooks starts the due chains of the webhook subscriptions'
// deliveries, each webhook's in the order they were made. A test send is
// a chain of its own: it reports on the endpoint now (the API answers with
// its first attempt), so it neither waits behind an event in backoff nor
// holds the events up.
func (e *Engine) deliverWebhooks(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) {
	now := e.cfg.Now()
	chains := map[string][]store.WebhookDelivery{}
	var order []string
	for _, d := range e.cfg.State.PendingWebhookDeliveries() {
		chain := d.WebhookID
		if d.Event == store.EventWebhookTest {
			chain = "test " + d.ID
		}
		if _, ok := chains[chain]; !ok {
			order = append(order, chain)
		}
		chains[chain] = append(chains[chain], d)
	}
	for _, key := range order {
		chain := chains[key]
		head := chain[0]
		if !e.due(head.ID, head.Delivery, now) || !e.cfg.IsDeliverer(head.BucketID) {
			continue
		}
		w, ok := e.cfg.State.WebhookByID(head.WebhookID)
		if !ok {
			continue // deleted since: its deliveries go with it
		}
		outs := make([]outgoing, len(chain))
		for i, d := range chain {
			outs[i] = webhookOutgoing(w, d)
		}
		if !e.startChain(ctx, sem, wg, outs) {
			return
		}
	}
}

// startChain delivers chain in order in a goroutine, stopping at the first
// delivery that is not due or not delivered. It reports false when ctx
// ended before a slot was free.
func (e *Engine) startChain(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup, chain []outgoing) bool {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { <-sem }()
		for _, o := range chain {
			if ctx.Err() != nil || !e.due(o.id, o.delivery, e.cfg.Now()) || !e.attempt(ctx, o) {
				return
			}
		}
	}()
	return true
}

// due reports whether an attempt of delivery id, in state d, may be made at now.
func (e *Engine) due(id string, d store.Delivery, now time.Time) bool {
	if d.NextAttemptAt == nil {
		return false
	}
	// A new event is due at once and a retry waits its backoff: a later
	// time was set by a clock ahead of this one, and waiting for this clock
	// to reach it would hold the rule's whole chain for as long as the skew
	// (the chaos suite's clock nemesis: alert × clock, seed 1914). Such a
	// time counts as now.
	wait := time.Duration(0)
	if d.Attempts > 0 {
		wait = e.backoff(d.Attempts)
	}
	if now.Before(*d.NextAttemptAt) && !d.NextAttemptAt.After(now.Add(wait)) {
		return false
	}
	e.nextMu.Lock()
	defer e.nextMu.Unlock()
	t, ok := e.notUntil[id]
	return !ok || !now.Before(t) || t.After(now.Add(e.backoff(d.Attempts+1)))
}

// forgetFinished drops the local retry times of deliveries no longer pending.
func (e *Engine) forgetFinished(pending []string) {
	ids := make(map[string]bool, len(pending))
	for _, id := range pending {
		ids[id] = true
	}
	e.nextMu.Lock()
	defer e.nextMu.Unlock()
	for id := range e.notUntil {
		if !ids[id] {
			delete(e.notUntil, id)
		}
	}
}

func (e *Engine) bucketRules(bucketID string) map[string]store.AlertRule {
	rules, _ := e.cfg.State.Alerts(bucketID, 0, 1<<31-1)
	out := make(map[string]store.AlertRule, len(rules))
	for _, r := range rules {
		out[r.ID] = r
	}
	return out
}

// nextWait returns how long the delivery loop may sleep before a delivery
// comes due, at most idlePoll.
func (e *Engine) nextWait() time.Duration {
	now := e.cfg.Now()
	wait := idlePoll
	consider := func(id, bucketID string, next *time.Time) {
		if next == nil || !e.cfg.IsDeliverer(bucketID) {
			return
		}
		at := *next
		e.nextMu.Lock()
		if t, ok := e.notUntil[id]; ok && t.After(at) {
			at = t
		}
		e.nextMu.Unlock()
		wait = min(wait, at.Sub(now))
	}
	for _, ev := range e.cfg.State.PendingDeliveries() {
		consider(ev.ID, ev.BucketID, ev.Delivery.NextAttemptAt)
	}
	for _, d := range e.cfg.State.PendingWebhookDeliveries() {
		consider(d.ID, d.BucketID, d.Delivery.NextAttemptAt)
	}
	return max(wait, 10*time.Millisecond)
}

// attempt posts o once, records the attempt and reports whether it was
// delivered. An attempt cut short because the engine is closing is not
// recorded.
func (e *Engine) attempt(ctx context.Context, o outgoing) bool {
	status, err := e.post(ctx, o)
	if ctx.Err() != nil {
		return false
	}
	now := e.cfg.Now()
	d := o.delivery
	d.Attempts++
	d.LastAttemptAt = &now
	d.LastStatus = status
	d.LastError = ""
	delivered := err == nil
	switch {
	case delivered:
		d.State = store.DeliveryDelivered
		d.DeliveredAt = &now
		d.NextAttemptAt = nil
	case errors.Is(err, egress.ErrBlocked):
		// The policy will refuse it again: no retries.
		d.LastError = truncate(err.Error(), maxErrorLen)
		d.State = store.DeliveryBlocked
		d.NextAttemptAt = nil
	default:
		d.LastError = truncate(err.Error(), maxErrorLen)
		if d.Attempts >= e.cfg.MaxAttempts {
			d.State = store.DeliveryFailed
			d.NextAttemptAt = nil
		} else {
			next := now.Add(e.backoff(d.Attempts))
			d.NextAttemptAt = &next
		}
	}
	// Should the record not reach the log, do not try again before the
	// backoff: the next try would repeat a delivery, or hammer a webhook.
	e.nextMu.Lock()
	e.notUntil[o.id] = now.Add(e.backoff(d.Attempts))
	e.nextMu.Unlock()

	_, aerr := e.cfg.Apply(ctx, o.record(d))
	switch {
	case aerr == nil:
	case errors.Is(aerr, store.ErrConflict), errors.Is(aerr, store.ErrNotFound):
		// Finished by another deliverer, or the rule or webhook is gone.
		e.log.Debug("delivery record refused", o.ownerKind, o.owner, "delivery", o.id, "err", aerr)
		return false
	default:
		e.log.Warn("cannot record delivery attempt", o.ownerKind, o.owner, "delivery", o.id, "err", aerr)
		return false
	}
	e.attempts.count(delivered, d.State)
	switch {
	case delivered:
	case d.State == store.DeliveryBlocked:
		e.log.Warn("webhook delivery blocked by the egress policy", o.ownerKind, o.owner, "delivery", o.id, "err", err)
	case d.State == store.DeliveryFailed:
		e.log.Warn("webhook delivery failed for good", o.ownerKind, o.owner, "delivery", o.id, "attempts", d.Attempts, "err", err)
	default:
		e.log.Info("webhook delivery failed; will retry", o.ownerKind, o.owner, "delivery", o.id, "attempts", d.Attempts, "next", d.NextAttemptAt, "err", err)
	}
	return delivered
}

// post sends the delivery's payload to its URL and returns the response
// status (0 if none) and why it is not a delivery (nil for 2xx).
func (e *Engine) post(ctx context.Context, o outgoing) (int, error) {
	u, err := url.Parse(o.url)
	if err != nil {
		return 0, fmt.Errorf("invalid webhook URL: %w", err)
	}
	if !httpScheme(u) || u.Host == "" {
		return 0, errors.New("webhook URL must be an absolute http or https URL")
	}
	if err := checkLiteralHost(e.cfg.Egress, u); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(o.payload))
	if err != nil {
		return 0, fmt.Errorf("cannot build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, o.event)
	req.Header.Set(HeaderDelivery, o.id)
	if o.secret != "" {
		req.Header.Set(HeaderSignature, Sign(o.secret, o.payload))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		// Webhook URLs often hold a secret in their path or query (Slack,
		// Teams): keep only scheme and host in what is logged and stored.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL)
		}
		return status, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// redactURL keeps a URL's scheme and host and hides the rest.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(webhook URL)"
	}
	if u.Path == "" && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
