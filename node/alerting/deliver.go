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

// DeliverDue makes one pass over the deliveries this node makes: for each
// rule, its oldest pending event is posted if its time has come, and then
// the next, until one is not delivered. Every attempt is recorded through
// Apply. Passes do not overlap.
func (e *Engine) DeliverDue(ctx context.Context) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	now := e.cfg.Now()
	pending := e.cfg.State.PendingDeliveries()
	e.forgetFinished(pending)

	chains := map[string][]store.AlertEvent{}
	var order []string
	for _, ev := range pending {
		if _, ok := chains[ev.AlertID]; !ok {
			order = append(order, ev.AlertID)
		}
		chains[ev.AlertID] = append(chains[ev.AlertID], ev)
	}
	rulesOf := map[string]map[string]store.AlertRule{} // bucket -> rule id -> rule
	sem := make(chan struct{}, maxParallelRules)
	var wg sync.WaitGroup
	for _, id := range order {
		chain := chains[id]
		// The log order of one rule's events: by trigger time, then by id
		// (ids made by one node in one second count up).
		slices.SortStableFunc(chain, func(a, b store.AlertEvent) int {
			return cmp.Or(a.TriggeredAt.Compare(b.TriggeredAt), cmp.Compare(a.ID, b.ID))
		})
		head := chain[0]
		if !e.due(head, now) || !e.cfg.IsDeliverer(head.BucketID) {
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
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, ev := range chain {
				if ctx.Err() != nil || !e.due(ev, e.cfg.Now()) || !e.attempt(ctx, rule, ev) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// due reports whether an attempt of ev may be made at now.
func (e *Engine) due(ev store.AlertEvent, now time.Time) bool {
	if ev.Delivery.NextAttemptAt == nil || now.Before(*ev.Delivery.NextAttemptAt) {
		return false
	}
	e.nextMu.Lock()
	defer e.nextMu.Unlock()
	t, ok := e.notUntil[ev.ID]
	return !ok || !now.Before(t)
}

// forgetFinished drops the local retry times of events no longer pending.
func (e *Engine) forgetFinished(pending []store.AlertEvent) {
	ids := make(map[string]bool, len(pending))
	for _, ev := range pending {
		ids[ev.ID] = true
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
	for _, ev := range e.cfg.State.PendingDeliveries() {
		next := ev.Delivery.NextAttemptAt
		if next == nil || !e.cfg.IsDeliverer(ev.BucketID) {
			continue
		}
		at := *next
		e.nextMu.Lock()
		if t, ok := e.notUntil[ev.ID]; ok && t.After(at) {
			at = t
		}
		e.nextMu.Unlock()
		wait = min(wait, at.Sub(now))
	}
	return max(wait, 10*time.Millisecond)
}

// attempt posts ev to the rule's webhook once, records the attempt and
// reports whether it was delivered. An attempt cut short because the engine
// is closing is not recorded.
func (e *Engine) attempt(ctx context.Context, r store.AlertRule, ev store.AlertEvent) bool {
	status, err := e.post(ctx, r, ev)
	if ctx.Err() != nil {
		return false
	}
	now := e.cfg.Now()
	d := ev.Delivery
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
	e.notUntil[ev.ID] = now.Add(e.backoff(d.Attempts))
	e.nextMu.Unlock()

	_, aerr := e.cfg.Apply(ctx, store.RecordDelivery{AlertID: ev.AlertID, EventID: ev.ID, Delivery: d})
	switch {
	case aerr == nil:
	case errors.Is(aerr, store.ErrConflict), errors.Is(aerr, store.ErrNotFound):
		// Finished by another evaluator, or the rule is gone.
		e.log.Debug("delivery record refused", "alert", ev.AlertID, "event", ev.ID, "err", aerr)
		return false
	default:
		e.log.Warn("cannot record delivery attempt", "alert", ev.AlertID, "event", ev.ID, "err", aerr)
		return false
	}
	e.attempts.count(delivered, d.State)
	switch {
	case delivered:
	case d.State == store.DeliveryBlocked:
		e.log.Warn("webhook delivery blocked by the egress policy", "alert", ev.AlertID, "event", ev.ID, "err", err)
	case d.State == store.DeliveryFailed:
		e.log.Warn("webhook delivery failed for good", "alert", ev.AlertID, "event", ev.ID, "attempts", d.Attempts, "err", err)
	default:
		e.log.Info("webhook delivery failed; will retry", "alert", ev.AlertID, "event", ev.ID, "attempts", d.Attempts, "next", d.NextAttemptAt, "err", err)
	}
	return delivered
}

// post sends the event's payload to the rule's webhook and returns the
// response status (0 if none) and why it is not a delivery (nil for 2xx).
func (e *Engine) post(ctx context.Context, r store.AlertRule, ev store.AlertEvent) (int, error) {
	u, err := url.Parse(r.WebhookURL)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(ev.Payload))
	if err != nil {
		return 0, fmt.Errorf("cannot build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, EventTriggered)
	req.Header.Set(HeaderDelivery, ev.ID)
	if r.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(r.Secret, ev.Payload))
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
