package alerting

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dakkio/dakkio/internal/condition"
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// OnWrite evaluates the threshold and duration rules of the sources of pts,
// just written to the bucket, and notes their arrival for no-data rules. A
// source without rules costs one lookup. It returns once any triggers are
// recorded in the log; it keeps nothing of ctx or pts.
func (e *Engine) OnWrite(ctx context.Context, bucketID string, pts []points.Point) {
	if eval := e.NoteArrivals(bucketID, pts); len(eval) > 0 {
		_ = e.Evaluate(ctx, bucketID, eval) // logged where it failed
	}
}

// NoteArrivals notes the arrival of pts for no-data rules, and returns the
// points that Evaluate would look at here: those of sources with threshold
// or duration rules in the bucket (nil if none). Every replica queues them,
// not just the bucket's evaluator: a node cannot tell an evaluator that
// died a moment ago from a live one until gossip says so, and the points
// written meanwhile would otherwise be judged by nobody (alert × kill seed
// 20261295, alert × membership seed 20261304). It neither blocks nor reads
// the points store.
func (e *Engine) NoteArrivals(bucketID string, pts []points.Point) []points.Point {
	now := e.cfg.Now()
	want := map[string]bool{}
	some, all := false, true
	for i := range pts {
		id := pts[i].SourceID
		if _, seen := want[id]; seen {
			continue
		}
		rules := e.sourceRules(bucketID, id, now, true)
		w := slices.ContainsFunc(rules, func(r store.AlertRule) bool { return r.Parsed.Operator != condition.OpNoData })
		want[id] = w
		some, all = some || w, all && w
	}
	if !some {
		return nil
	}
	if all {
		return pts
	}
	var out []points.Point
	for i := range pts {
		if want[pts[i].SourceID] {
			out = append(out, pts[i])
		}
	}
	return out
}

// Evaluate evaluates the rules of the sources of pts, written to the
// bucket, as OnWrite does but without noting arrivals. Threshold rules are
// evaluated on every replica that stored the points: a point judged by two
// nodes still triggers a rule once (the log records an event of a rule and
// a point once). Duration rules, whose running state is per node, only
// where the bucket is evaluated now.
// It returns an error when a trigger could not be recorded or a duration
// rule could not read its points: evaluating the same points again later is
// safe, since the log records an event of a rule and point once.
func (e *Engine) Evaluate(ctx context.Context, bucketID string, pts []points.Point) error {
	if len(pts) == 0 {
		return nil
	}
	now := e.cfg.Now()
	durations := e.cfg.IsEvaluator(bucketID)
	if allOneSource(pts) { // the usual write: no map, no copy
		if rules := e.sourceRules(bucketID, pts[0].SourceID, now, false); len(rules) > 0 {
			return e.evaluate(ctx, bucketID, rules, pts, nil, durations)
		}
		return nil
	}
	var order []string
	rulesOf := map[string][]store.AlertRule{}
	for i := range pts {
		id := pts[i].SourceID
		if _, seen := rulesOf[id]; seen {
			continue
		}
		rules := e.sourceRules(bucketID, id, now, false)
		rulesOf[id] = rules
		if len(rules) > 0 {
			order = append(order, id)
		}
	}
	if len(order) == 0 {
		return nil
	}
	idx := map[string][]int{}
	for i := range pts {
		if id := pts[i].SourceID; len(rulesOf[id]) > 0 {
			idx[id] = append(idx[id], i)
		}
	}
	var errs []error
	for _, id := range order {
		errs = append(errs, e.evaluate(ctx, bucketID, rulesOf[id], pts, idx[id], durations))
	}
	return errors.Join(errs...)
}

func allOneSource(pts []points.Point) bool {
	for i := 1; i < len(pts); i++ {
		if pts[i].SourceID != pts[0].SourceID {
			return false
		}
	}
	return true
}

// sourceRules returns the source's active rules in the bucket, and notes
// the arrival of a point for its no-data rules. Arrivals are noted on every
// node, evaluator or not, so that a new evaluator knows them; and only for
// sources with a no-data rule, so that the rest cost nothing.
func (e *Engine) sourceRules(bucketID, sourceID string, now time.Time, note bool) []store.AlertRule {
	rules := e.cfg.State.SourceAlerts(sourceID)
	if len(rules) == 0 {
		return nil
	}
	rules = slices.DeleteFunc(rules, func(r store.AlertRule) bool { return r.BucketID != bucketID })
	if note && slices.ContainsFunc(rules, func(r store.AlertRule) bool { return r.Parsed.Operator == condition.OpNoData }) {
		e.mu.Lock()
		if last, ok := e.arrivals[sourceID]; !ok || now.After(last) {
			e.arrivals[sourceID] = now
		}
		e.mu.Unlock()
	}
	return rules
}

// evaluate applies one source's rules to its points of a write: pts[idx...],
// or all of pts when idx is nil; its duration rules only if durations.
func (e *Engine) evaluate(ctx context.Context, bucketID string, rules []store.AlertRule, pts []points.Point, idx []int, durations bool) error {
	// The source's points in time order; a stable sort keeps a later write
	// of the same time after the earlier, as the store does.
	src := make([]*points.Point, 0, max(len(idx), 1))
	if idx == nil {
		for i := range pts {
			src = append(src, &pts[i])
		}
	} else {
		for _, i := range idx {
			src = append(src, &pts[i])
		}
	}
	byTime := func(a, b *points.Point) int { return cmp.Compare(a.TS, b.TS) }
	if !slices.IsSortedFunc(src, byTime) {
		slices.SortStableFunc(src, byTime)
	}
	var errs []error
	for _, r := range rules {
		switch {
		case r.Parsed.Operator == condition.OpNoData:
		case r.Parsed.DurationMinutes > 0:
			if durations {
				errs = append(errs, e.evalDuration(ctx, r, src))
			}
		default:
			errs = append(errs, e.evalThreshold(ctx, r, src))
		}
	}
	return errors.Join(errs...)
}

// numField returns the point's value of field if it is a number.
func numField(p *points.Point, field string) (float64, bool) {
	for i := range p.Values {
		if v := &p.Values[i]; v.Field == field {
			return v.Num, v.Kind == points.KindNumber
		}
	}
	return 0, false
}

// evalThreshold triggers r on the first point, in time order, that meets it.
func (e *Engine) evalThreshold(ctx context.Context, r store.AlertRule, pts []*points.Point) error {
	for _, p := range pts {
		if v, ok := numField(p, r.Parsed.Field); ok && r.Parsed.Holds(v) {
			_, err := e.fire(ctx, r, p, &v)
			return err
		}
	}
	return nil
}

// runState is what the last duration check of a rule proved: every point
// of the source with the field in [start, through] meets cond, and start
// is no later than the run's true start. through is the newest time checked.
type runState struct {
	mu      sync.Mutex
	cond    condition.Condition
	valid   bool
	start   int64
	through int64
}

func (e *Engine) runFor(ruleID string) *runState {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.runs[ruleID]
	if rs == nil {
		rs = &runState{}
		e.runs[ruleID] = rs
	}
	return rs
}

// evalDuration triggers r when, at the newest point of the write that meets
// it, the condition has held on every point of the source for the rule's
// duration.
func (e *Engine) evalDuration(ctx context.Context, r store.AlertRule, pts []*points.Point) (ferr error) {
	field := r.Parsed.Field
	rs := e.runFor(r.ID)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.cond != r.Parsed {
		rs.cond, rs.valid = r.Parsed, false
	}
	var t *points.Point
	var tv float64
	brokenAfter := false // a point newer than t fails
	oldest := int64(math.MaxInt64)
	for i := len(pts) - 1; i >= 0; i-- {
		v, ok := numField(pts[i], field)
		if !ok {
			continue
		}
		oldest = pts[i].TS
		if t == nil {
			if r.Parsed.Holds(v) {
				t, tv = pts[i], v
			} else {
				brokenAfter = true
			}
		}
	}
	if rs.valid && oldest <= rs.through {
		rs.valid = false // the write changed what was checked
	}
	if t != nil && !coolingDown(r, e.cfg.Now()) {
		held, err := e.runHeld(ctx, r, rs, t.TS)
		if err != nil {
			rs.valid = false
			e.log.Warn("cannot evaluate duration rule", "alert", r.ID, "err", err)
			return fmt.Errorf("cannot evaluate alert %s: %w", r.ID, err)
		}
		if held {
			_, ferr = e.fire(ctx, r, t, &tv)
		}
	}
	if brokenAfter {
		rs.valid = false
	}
	return ferr
}

// runHeld reports whether the rule's condition has held on every point of
// the source from t-N through t (the point at t meets it), updating rs.
func (e *Engine) runHeld(ctx context.Context, r store.AlertRule, rs *runState, t int64) (bool, error) {
	lo := t - int64(r.Parsed.DurationMinutes)*int64(time.Minute)
	if rs.valid && t > rs.through {
		broken, earliest, err := e.scanRun(ctx, r, rs.through+1, t)
		if err != nil {
			return false, err
		}
		if broken {
			rs.start = earliest
		}
		rs.through = t
		return rs.start <= lo, nil
	}
	broken, earliest, err := e.scanRun(ctx, r, lo, t)
	if err != nil {
		return false, err
	}
	start := earliest
	if !broken {
		// The run covers [lo, t]; did it begin by lo?
		prev, ok, err := e.lastBefore(ctx, r, lo)
		if err != nil {
			return false, err
		}
		if ok && r.Parsed.Holds(prev.val) {
			start = prev.ts
		}
	}
	rs.valid, rs.start, rs.through = true, start, t
	return start <= lo, nil
}

// runPageSize is how many points one read of a duration check takes.
const runPageSize = 1000

// scanRun reads the source's points with the rule's field in [from, to],
// newest first, until one fails the condition. It reports whether one did,
// and the time of the oldest point read that meets it (the run's start if
// broken). The point at to must meet the condition.
func (e *Engine) scanRun(ctx context.Context, r store.AlertRule, from, to int64) (broken bool, earliest int64, err error) {
	earliest = to
	hi := to + 1
	for hi > from {
		res, err := e.cfg.Points.Raw(ctx, points.RawQuery{
			Range:  points.Range{BucketID: r.BucketID, SourceIDs: []string{r.DataSourceID}, Start: from, End: hi},
			Fields: []string{r.Parsed.Field},
			Limit:  runPageSize,
			Desc:   true,
		})
		if err != nil {
			return false, 0, fmt.Errorf("cannot read points of source %s: %w", r.DataSourceID, err)
		}
		for i := range res.Points {
			p := &res.Points[i]
			v, ok := numField(p, r.Parsed.Field)
			if !ok {
				continue
			}
			if !r.Parsed.Holds(v) {
				return true, earliest, nil
			}
			earliest = p.TS
		}
		if len(res.Points) < runPageSize {
			break
		}
		hi = res.Points[len(res.Points)-1].TS
	}
	return false, earliest, nil
}

type tsValue struct {
	ts  int64
	val float64
}

// lastBefore returns the newest point of the source with the rule's field
// (as a number) strictly before t.
func (e *Engine) lastBefore(ctx context.Context, r store.AlertRule, t int64) (tsValue, bool, error) {
	hi := t
	for {
		res, err := e.cfg.Points.Raw(ctx, points.RawQuery{
			Range:  points.Range{BucketID: r.BucketID, SourceIDs: []string{r.DataSourceID}, Start: math.MinInt64, End: hi},
			Fields: []string{r.Parsed.Field},
			Limit:  runPageSize,
			Desc:   true,
		})
		if err != nil {
			return tsValue{}, false, fmt.Errorf("cannot read points of source %s: %w", r.DataSourceID, err)
		}
		for i := range res.Points {
			if v, ok := numField(&res.Points[i], r.Parsed.Field); ok {
				return tsValue{res.Points[i].TS, v}, true, nil
			}
		}
		if len(res.Points) < runPageSize {
			return tsValue{}, false, nil
		}
		hi = res.Points[len(res.Points)-1].TS
	}
}

// CheckNoData makes one pass over the no-data rules this node evaluates and
// triggers those whose source has been silent for the rule's window. It
// also forgets what it keeps for rules and sources that are gone.
func (e *Engine) CheckNoData(ctx context.Context) {
	now := e.cfg.Now()
	rules := e.cfg.State.ActiveAlerts()
	activeRules := make(map[string]bool, len(rules))
	watched := map[string]bool{}
	for _, r := range rules {
		activeRules[r.ID] = true
		if r.Parsed.Operator == condition.OpNoData {
			watched[r.DataSourceID] = true
		}
	}
	e.mu.Lock()
	for id := range e.arrivals {
		if !watched[id] {
			delete(e.arrivals, id)
		}
	}
	for id := range e.runs {
		if !activeRules[id] {
			delete(e.runs, id)
		}
	}
	e.mu.Unlock()

	for _, r := range rules {
		if ctx.Err() != nil {
			return
		}
		if r.Parsed.Operator != condition.OpNoData || !e.cfg.IsEvaluator(r.BucketID) {
			continue
		}
		// An archived bucket takes no writes: silence there is expected.
		if st, ok := e.cfg.State.BucketStatus(r.BucketID); !ok || st == store.BucketArchived {
			continue
		}
		since, err := e.silentSince(ctx, r)
		if err != nil {
			// Not knowing when data last came is no proof of silence.
			e.log.Warn("cannot check a no-data rule this round", "rule", r.ID, "err", err)
			continue
		}
		if now.Sub(since) >= time.Duration(r.Parsed.DurationMinutes)*time.Minute {
			e.trigger(ctx, r, nil, nil)
		}
	}
}

// silentSince returns when the rule's window of silence began: the last
// arrival of a point, or (none seen) the later of the engine's start and the
// newest stored point; never before the rule was created or last triggered.
func (e *Engine) silentSince(ctx context.Context, r store.AlertRule) (time.Time, error) {
	e.mu.Lock()
	since, seen := e.arrivals[r.DataSourceID]
	e.mu.Unlock()
	if !seen {
		since = e.started
		ts, ok, err := e.cfg.Points.LastPointTime(ctx, r.BucketID, r.DataSourceID)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			// A point stamped in the future says nothing about when data
			// last arrived: count it as arriving no later than now.
			if last := time.Unix(0, min(ts, e.cfg.Now().UnixNano())); last.After(since) {
				since = last
			}
		}
	}
	if r.CreatedAt.After(since) {
		since = r.CreatedAt
	}
	if r.LastTriggeredAt != nil && r.LastTriggeredAt.After(since) {
		since = *r.LastTriggeredAt
	}
	return since, nil
}

// The webhook body of docs/api.md. Field order is the documented order.
type webhookBody struct {
	Event     string      `json:"event"`
	Timestamp string      `json:"timestamp"`
	BucketID  string      `json:"bucketId"`
	Data      webhookData `json:"data"`
}

type webhookData struct {
	AlertID        string       `json:"alertId"`
	AlertName      string       `json:"alertName"`
	DataSourceID   string       `json:"dataSourceId"`
	DataSourceName string       `json:"dataSourceName"`
	Condition      string       `json:"condition"`
	CurrentValue   *float64     `json:"currentValue"`
	Threshold      *float64     `json:"threshold"` // null for no data
	Operator       string       `json:"operator"`
	TriggeredAt    string       `json:"triggeredAt"`
	DataPoint      *webhookItem `json:"dataPoint"`
}

type webhookItem struct {
	Timestamp string          `json:"timestamp"`
	Values    map[string]any  `json:"values"`
	Metadata  json.RawMessage `json:"metadata"`
}

// EventTriggered is the event name of every webhook.
const EventTriggered = "alert.triggered"

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// newEvent builds the event of a trigger at now, with its webhook body.
func (e *Engine) newEvent(r store.AlertRule, p *points.Point, value *float64, now time.Time) (store.AlertEvent, error) {
	srcName := ""
	if src, err := e.cfg.State.Source(r.BucketID, r.DataSourceID); err == nil {
		srcName = src.Name
	}
	body := webhookBody{
		Event:     EventTriggered,
		Timestamp: formatTime(now),
		BucketID:  r.BucketID,
		Data: webhookData{
			AlertID:        r.ID,
			AlertName:      r.Name,
			DataSourceID:   r.DataSourceID,
			DataSourceName: srcName,
			Condition:      r.Condition,
			CurrentValue:   value,
			Operator:       r.Parsed.Symbol(),
			TriggeredAt:    formatTime(now),
		},
	}
	if r.Parsed.Operator != condition.OpNoData {
		th := r.Parsed.Value
		body.Data.Threshold = &th
	}
	if p != nil {
		body.Data.DataPoint = pointItem(p)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "operator":">" as documented, not "\u003e"
	if err := enc.Encode(body); err != nil {
		return store.AlertEvent{}, err
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	next := now
	return store.AlertEvent{
		ID:          objectid.New(now),
		Cause:       eventCause(r, p),
		AlertID:     r.ID,
		BucketID:    r.BucketID,
		Value:       value,
		TriggeredAt: now,
		Payload:     payload,
		Delivery:    store.Delivery{State: store.DeliveryPending, NextAttemptAt: &next},
	}, nil
}

// eventCause names what triggered an event by a point: the rule and the
// point, so that two replicas that both evaluated it (one took over from the
// other, or a hint reached a new evaluator) record it once. No-data events
// have none.
func eventCause(r store.AlertRule, p *points.Point) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%s/%s/%d", r.ID, p.SourceID, p.TS)
}

var emptyObject = json.RawMessage("{}")

func pointItem(p *points.Point) *webhookItem {
	vals := make(map[string]any, len(p.Values))
	for _, v := range p.Values {
		switch v.Kind {
		case points.KindNumber:
			vals[v.Field] = v.Num
		case points.KindString:
			vals[v.Field] = v.Str
		case points.KindBool:
			vals[v.Field] = v.Bool
		}
	}
	meta := emptyObject
	if m := bytes.TrimSpace(p.Metadata); len(m) > 0 && m[0] == '{' && json.Valid(m) {
		meta = json.RawMessage(m)
	}
	return &webhookItem{Timestamp: formatTime(time.Unix(0, p.TS)), Values: vals, Metadata: meta}
}
