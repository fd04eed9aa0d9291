package store

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/dakkio/dakkio/internal/condition"
)

// Alert rule statuses.
const (
	AlertActive = "active"
	AlertPaused = "paused"
)

// Delivery states of an alert event.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	// DeliveryBlocked: the node's egress policy refused the webhook's
	// address; not retried.
	DeliveryBlocked = "blocked"
)

// AlertRule watches one data source and calls a webhook.
type AlertRule struct {
	ID              string              `json:"_id"`
	OrganizationID  string              `json:"organizationId"`
	BucketID        string              `json:"bucketId"`
	DataSourceID    string              `json:"dataSourceId"`
	Name            string              `json:"name"`
	Condition       string              `json:"condition"`
	Parsed          condition.Condition `json:"parsedCondition"`
	WebhookURL      string              `json:"webhookUrl"`
	Secret          string              `json:"secret,omitempty"` // signs deliveries; never shown
	Status          string              `json:"status"`
	CooldownMinutes int                 `json:"cooldownMinutes"`
	LastTriggeredAt *time.Time          `json:"lastTriggeredAt"`
	CreatedAt       time.Time           `json:"createdAt"`
	UpdatedAt       time.Time           `json:"updatedAt"`
}

// Delivery is the state of an event's webhook delivery.
type Delivery struct {
	State         string     `json:"state"` // pending, delivered, failed, blocked
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"lastAttemptAt"`
	LastStatus    int        `json:"lastStatus,omitempty"` // HTTP status of the last attempt
	LastError     string     `json:"lastError,omitempty"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	DeliveredAt   *time.Time `json:"deliveredAt"`
}

// AlertEvent is one trigger of a rule and its delivery. The payload is fixed
// when the rule triggers, so every retry sends the same bytes and signature.
type AlertEvent struct {
	ID          string          `json:"_id"`
	AlertID     string          `json:"alertId"`
	BucketID    string          `json:"bucketId"`
	Value       *float64        `json:"value"` // nil for no-data triggers
	TriggeredAt time.Time       `json:"triggeredAt"`
	Payload     json.RawMessage `json:"payload"`
	Delivery    Delivery        `json:"delivery"`
	// Cause names what triggered the event (the rule and the point), so
	// that two replicas evaluating the same point record one event.
	Cause string `json:"cause,omitempty"`
}

// maxEventsPerRule bounds the events kept per rule; the oldest finished
// ones go first.
const maxEventsPerRule = 1000

// CreateAlert adds a rule.
type CreateAlert struct {
	Rule AlertRule `json:"rule"`
}

// UpdateAlert changes a rule; nil fields stay. Parsed goes with Condition.
type UpdateAlert struct {
	OrgID           string               `json:"orgId"`
	ID              string               `json:"id"`
	Name            *string              `json:"name,omitempty"`
	Condition       *string              `json:"condition,omitempty"`
	Parsed          *condition.Condition `json:"parsed,omitempty"`
	WebhookURL      *string              `json:"webhookUrl,omitempty"`
	Secret          *string              `json:"secret,omitempty"`
	CooldownMinutes *int                 `json:"cooldownMinutes,omitempty"`
	Status          *string              `json:"status,omitempty"`
	At              time.Time            `json:"at"`
}

// DeleteAlert removes a rule and its events.
type DeleteAlert struct {
	OrgID string `json:"orgId"`
	ID    string `json:"id"`
}

// TriggerAlert records a trigger. It is refused with ErrSuppressed when the
// rule is paused, gone, or still cooling down from its last trigger, which
// the log decides once for every replica.
type TriggerAlert struct {
	Event AlertEvent `json:"event"`
}

// RecordDelivery records one delivery attempt of an event.
type RecordDelivery struct {
	AlertID  string   `json:"alertId"`
	EventID  string   `json:"eventId"`
	Delivery Delivery `json:"delivery"`
}

// Alert returns a rule of the organization.
func (s *State) Alert(orgID, id string) (AlertRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.data.alerts[id]
	if !ok || a.OrganizationID != orgID {
		return AlertRule{}, errorf(ErrNotFound, "Alert rule not found")
	}
	return *a, nil
}

// AlertByID returns a rule whatever its organization: for the engine, which
// acts for the cluster, never for an API caller.
func (s *State) AlertByID(id string) (AlertRule, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.data.alerts[id]
	if !ok {
		return AlertRule{}, false
	}
	return *a, true
}

// Alerts returns a page of a bucket's rules and their total.
func (s *State) Alerts(bucketID string, offset, limit int) ([]AlertRule, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.alertsByBucket[bucketID], offset, limit, func(id string) AlertRule { return *s.data.alerts[id] })
}

// SourceAlerts returns the active rules watching a data source.
func (s *State) SourceAlerts(sourceID string) []AlertRule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AlertRule
	for _, id := range s.data.alertsBySource[sourceID] {
		if a := s.data.alerts[id]; a.Status == AlertActive {
			out = append(out, *a)
		}
	}
	return out
}

// ActiveAlerts returns every active rule, for the no-data ticker.
func (s *State) ActiveAlerts() []AlertRule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AlertRule
	for _, a := range s.data.alerts {
		if a.Status == AlertActive {
			out = append(out, *a)
		}
	}
	return out
}

// Events returns a page of a rule's events, newest first, and their total.
func (s *State) Events(alertID string, offset, limit int) ([]AlertEvent, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	evs := s.data.events[alertID]
	total := len(evs)
	out := []AlertEvent{}
	for i := total - 1 - offset; i >= 0 && len(out) < limit; i-- {
		out = append(out, *evs[i])
	}
	return out, total
}

// PendingDeliveries returns the events whose delivery is not finished.
func (s *State) PendingDeliveries() []AlertEvent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AlertEvent
	for _, evs := range s.data.events {
		for _, e := range evs {
			if e.Delivery.State == DeliveryPending {
				out = append(out, *e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b AlertEvent) int {
		if c := a.TriggeredAt.Compare(b.TriggeredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ApplyCreateAlert applies a CreateAlert command.
func (s *State) ApplyCreateAlert(c CreateAlert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := c.Rule
	src, ok := s.data.sources[r.DataSourceID]
	if !ok || src.BucketID != r.BucketID || src.OrganizationID != r.OrganizationID {
		return errorf(ErrNotFound, "Data source not found")
	}
	if b := s.data.buckets[r.BucketID]; b.Status == BucketArchived {
		return errorf(ErrConflict, "Bucket is archived")
	}
	s.data.addAlert(r)
	return nil
}

func (t *tables) addAlert(r AlertRule) {
	t.alerts[r.ID] = &r
	t.alertsByBucket[r.BucketID] = append(t.alertsByBucket[r.BucketID], r.ID)
	t.alertsBySource[r.DataSourceID] = append(t.alertsBySource[r.DataSourceID], r.ID)
}

// ApplyUpdateAlert applies an UpdateAlert command and returns the result.
func (s *State) ApplyUpdateAlert(c UpdateAlert) (AlertRule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.data.alerts[c.ID]
	if !ok || a.OrganizationID != c.OrgID {
		return AlertRule{}, errorf(ErrNotFound, "Alert rule not found")
	}
	if c.Name != nil {
		a.Name = *c.Name
	}
	if c.Condition != nil && c.Parsed != nil {
		a.Condition, a.Parsed = *c.Condition, *c.Parsed
	}
	if c.WebhookURL != nil {
		a.WebhookURL = *c.WebhookURL
	}
	if c.Secret != nil {
		a.Secret = *c.Secret
	}
	if c.CooldownMinutes != nil {
		a.CooldownMinutes = *c.CooldownMinutes
	}
	if c.Status != nil {
		a.Status = *c.Status
	}
	a.UpdatedAt = c.At
	return *a, nil
}

// ApplyDeleteAlert applies a DeleteAlert command and returns the rule.
func (s *State) ApplyDeleteAlert(c DeleteAlert) (AlertRule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.data.alerts[c.ID]
	if !ok || a.OrganizationID != c.OrgID {
		return AlertRule{}, errorf(ErrNotFound, "Alert rule not found")
	}
	s.data.removeAlert(a)
	return *a, nil
}

func (t *tables) removeAlert(a *AlertRule) {
	t.alertsByBucket[a.BucketID] = remove(t.alertsByBucket[a.BucketID], a.ID)
	t.alertsBySource[a.DataSourceID] = remove(t.alertsBySource[a.DataSourceID], a.ID)
	delete(t.events, a.ID)
	delete(t.alerts, a.ID)
}

// EventCaused reports whether the rule has an event recorded with this
// cause: another replica already triggered it by the same point.
func (s *State) EventCaused(alertID, cause string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return hasEvent(s.data.events[alertID], "", cause)
}

// hasEvent reports whether events hold one with the given id or cause;
// an empty id or cause matches nothing. EventCaused and ApplyTriggerAlert
// share it so that the pre-check and the FSM agree on what a duplicate is.
func hasEvent(events []*AlertEvent, id, cause string) bool {
	return slices.ContainsFunc(events, func(x *AlertEvent) bool {
		return id != "" && x.ID == id || cause != "" && x.Cause == cause
	})
}

// ApplyTriggerAlert applies a TriggerAlert command and returns the event.
func (s *State) ApplyTriggerAlert(c TriggerAlert) (AlertEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := c.Event
	a, ok := s.data.alerts[e.AlertID]
	if !ok || a.Status != AlertActive {
		return AlertEvent{}, errorf(ErrSuppressed, "alert rule is gone or paused")
	}
	// A retried trigger (same event id), or the same point evaluated by
	// another replica (same cause), is recorded once.
	if hasEvent(s.data.events[a.ID], e.ID, e.Cause) {
		return AlertEvent{}, errorf(ErrSuppressed, "alert event already recorded")
	}
	if a.CoolingDownAt(e.TriggeredAt) {
		return AlertEvent{}, errorf(ErrSuppressed, "alert rule is cooling down")
	}
	at := e.TriggeredAt
	a.LastTriggeredAt = &at
	evs := append(s.data.events[a.ID], &e)
	if len(evs) > maxEventsPerRule {
		// Drop the oldest finished event; pending ones stay until delivered.
		if i := slices.IndexFunc(evs, func(x *AlertEvent) bool { return x.Delivery.State != DeliveryPending }); i >= 0 {
			evs = slices.Delete(evs, i, i+1)
		}
	}
	s.data.events[a.ID] = evs
	s.data.publish(e.BucketID, EventAlertTriggered, "alert:"+e.ID, e.TriggeredAt, alertTriggeredData(e.Payload))
	return e, nil
}

// ApplyRecordDelivery applies a RecordDelivery command.
func (s *State) ApplyRecordDelivery(c RecordDelivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.data.events[c.AlertID] {
		if e.ID == c.EventID {
			if e.Delivery.State != DeliveryPending {
				return errorf(ErrConflict, "delivery already finished")
			}
			// Attempts only grow: a record from a stale evaluator must not
			// undo newer progress.
			if c.Delivery.Attempts <= e.Delivery.Attempts {
				return errorf(ErrConflict, "delivery attempt %d already recorded", c.Delivery.Attempts)
			}
			e.Delivery = c.Delivery
			return nil
		}
	}
	return errorf(ErrNotFound, "Alert event not found")
}

// OrgAlertStats counts an organization's rules and the triggers since a time.
func (s *State) OrgAlertStats(orgID string, since time.Time) (rules int, triggeredSince int, last *time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.data.alerts {
		if a.OrganizationID != orgID {
			continue
		}
		rules++
		if a.LastTriggeredAt != nil && (last == nil || a.LastTriggeredAt.After(*last)) {
			t := *a.LastTriggeredAt
			last = &t
		}
		for _, e := range s.data.events[a.ID] {
			if !e.TriggeredAt.Before(since) {
				triggeredSince++
			}
		}
	}
	return rules, triggeredSince, last
}

// BucketAlertStats counts a bucket's active rules and, per rule, the
// triggers since a time, in rule creation order.
func (s *State) BucketAlertStats(bucketID string, since time.Time) (active int, byRule []RuleTriggers) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range s.data.alertsByBucket[bucketID] {
		a := s.data.alerts[id]
		if a.Status == AlertActive {
			active++
		}
		n := 0
		for _, e := range s.data.events[id] {
			if !e.TriggeredAt.Before(since) {
				n++
			}
		}
		byRule = append(byRule, RuleTriggers{Name: a.Name, Count: n})
	}
	return active, byRule
}

// RuleTriggers is how often one rule triggered.
type RuleTriggers struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// CoolingDownAt reports whether a trigger at t falls in the rule's cooldown:
// within CooldownMinutes of the last trigger, on either side of it. The two
// times come from the clocks of the nodes that evaluated, which may disagree:
// a trigger stamped before the last one (a clock behind, or stepped back) is
// quiet only as long as the cooldown, never until that clock catches up, and
// a rule with no cooldown is never quiet (the chaos suite's clock nemesis
// found 0-minute rules silenced for minutes: alert × clock, seed 1914).
func (a AlertRule) CoolingDownAt(t time.Time) bool {
	if a.LastTriggeredAt == nil || a.CooldownMinutes <= 0 {
		return false
	}
	d := t.Sub(*a.LastTriggeredAt)
	if d < 0 {
		d = -d
	}
	return d < time.Duration(a.CooldownMinutes)*time.Minute
}
