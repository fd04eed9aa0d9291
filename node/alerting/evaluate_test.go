package alerting

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

func TestThresholdConditions(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		cond  string
		value float64
		want  bool
	}{
		{"gt above", "temperature is greater than 30", 30.5, true},
		{"gt at", "temperature is greater than 30", 30, false},
		{"gt below", "temperature exceeds 30", 29, false},
		{"lt below", "temperature is less than 10", 9.99, true},
		{"lt at", "temperature drops below 10", 10, false},
		{"eq at", "temperature equals 21.5", 21.5, true},
		{"eq near", "temperature is equal to 21.5", 21.4, false},
		{"ne other", "temperature is not equal to 0", 1, true},
		{"ne at", "temperature is not equal to 0", 0, false},
		{"gte at", "temperature is at least 30", 30, true},
		{"gte below", "temperature is at least 30", 29.9, false},
		{"lte at", "temperature is at most -5", -5, true},
		{"lte above", "temperature is at most -5", -4.9, false},
		{"negative threshold", "temperature is below -0.5", -0.6, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := e.newSource("src " + c.name)
			r := e.rule(c.cond, withSource(src))
			e.writeTo(src, temp(e.clk.Now(), c.value))
			n := 0
			if c.want {
				n = 1
			}
			evs := e.wantEvents(r.ID, n)
			if c.want && *evs[0].Value != c.value {
				t.Fatalf("event value %v, want %v", *evs[0].Value, c.value)
			}
		})
	}
	e.noWarnings()
}

func TestThresholdIgnoresPointsWithoutTheField(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.write(points.Point{TS: t0.UnixNano(), Values: []points.Value{{Field: "status", Kind: points.KindString, Str: "99"}}})
	e.wantEvents(r.ID, 0)
}

func TestThresholdAtMostOncePerWrite(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30") // cooldown 0: only the write limits it
	// Out of time order on purpose: the earliest matching point wins.
	e.write(temp(t0.Add(3*time.Second), 33), temp(t0.Add(time.Second), 31), temp(t0, 20), temp(t0.Add(2*time.Second), 32))
	evs := e.wantEvents(r.ID, 1)
	if *evs[0].Value != 31 {
		t.Fatalf("triggered on %v, want the first matching point in time order (31)", *evs[0].Value)
	}
	e.write(temp(t0.Add(4*time.Second), 34))
	e.wantEvents(r.ID, 2)
}

// A replica that is not the bucket's evaluator judges threshold rules too
// (an evaluator that died a moment ago still looks alive), but not duration
// rules, whose running state lives on the evaluator; and a point another
// replica already triggered the rule by is not proposed again.
func TestNonEvaluatorJudgesThresholdsOnly(t *testing.T) {
	e := newEnv(t)
	e.eng = e.newEngine(func(c *Config) { c.IsEvaluator = func(string) bool { return false } })
	r := e.rule("temperature exceeds 30")
	d := e.rule("temperature exceeds 30 for 1 minutes")
	e.write(temp(t0, 40), temp(t0.Add(minutes(2)), 41))
	e.wantEvents(r.ID, 1)
	e.wantEvents(d.ID, 0)
	e.write(temp(t0, 40))
	e.wantEvents(r.ID, 1)
}

func TestPayload(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30", withName("Hot boiler"))
	e.clk.Advance(1500 * time.Millisecond)
	p := points.Point{
		TS: t0.Add(123456 * time.Microsecond).UnixNano(),
		Values: []points.Value{
			{Field: "ok", Kind: points.KindBool, Bool: true},
			{Field: "status", Kind: points.KindString, Str: "a<b"},
			{Field: "temperature", Kind: points.KindNumber, Num: 31.25},
		},
		Metadata: []byte(`{"site": "north"}`),
	}
	e.write(p)
	ev := e.wantEvents(r.ID, 1)[0]
	want := `{"event":"alert.triggered","timestamp":"2024-01-15T10:00:01.5Z","bucketId":"` + e.bucket + `",` +
		`"data":{"alertId":"` + r.ID + `","alertName":"Hot boiler","dataSourceId":"` + e.source + `","dataSourceName":"boiler",` +
		`"condition":"temperature exceeds 30","currentValue":31.25,"threshold":30,"operator":">","triggeredAt":"2024-01-15T10:00:01.5Z",` +
		`"dataPoint":{"timestamp":"2024-01-15T10:00:00.123456Z","values":{"ok":true,"status":"a<b","temperature":31.25},"metadata":{"site":"north"}}}}`
	// The Raft codec (json.Marshal) re-escapes <, > and & in the stored
	// payload; the bytes are the same on every replica, so the signature
	// holds either way.
	got := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(ev.Payload))
	if got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	if !ev.TriggeredAt.Equal(t0.Add(1500*time.Millisecond)) || ev.Delivery.State != store.DeliveryPending ||
		ev.Delivery.NextAttemptAt == nil || !ev.Delivery.NextAttemptAt.Equal(ev.TriggeredAt) {
		t.Fatalf("event %+v: want triggered now with a delivery pending now", ev)
	}

	// No metadata: an empty object.
	e.clk.Advance(time.Second)
	e.write(temp(e.clk.Now(), 40))
	ev = e.wantEvents(r.ID, 2)[1]
	var body struct {
		Data struct {
			DataPoint struct {
				Metadata json.RawMessage `json:"metadata"`
			} `json:"dataPoint"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &body); err != nil {
		t.Fatal(err)
	}
	if string(body.Data.DataPoint.Metadata) != "{}" {
		t.Fatalf("metadata %s, want {}", body.Data.DataPoint.Metadata)
	}
}

func TestDurationRule(t *testing.T) {
	const cond = "temperature is greater than 30 for 5 minutes"
	type step struct {
		at   float64 // minutes after t0
		v    float64
		want int // events of the rule after this point
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"held the whole span", []step{{0, 31, 0}, {1, 32, 0}, {2, 31, 0}, {3, 35, 0}, {4, 31, 0}, {5, 31, 1}}},
		{"not yet covered", []step{{0, 31, 0}, {1, 31, 0}, {4.99, 31, 0}}},
		{"broken once in the span", []step{
			{0, 31, 0}, {1, 31, 0}, {2, 31, 0}, {3, 30, 0}, {4, 31, 0}, {5, 31, 0}, {6, 31, 0}, {8.5, 31, 0},
			{9, 31, 1}, // the run restarted at 4
		}},
		{"sparse points, run began before the span", []step{{0, 31, 0}, {5.5, 31, 1}}},
		{"sparse points, the point before the span fails", []step{{0, 29, 0}, {2, 31, 0}, {6, 31, 0}, {7, 31, 1}}},
		{"keeps holding, cooldown 0", []step{
			{0, 31, 0}, {5, 31, 1}, {6, 31, 2}, {7, 29, 2}, {8, 31, 2}, {12, 31, 2}, {13, 31, 3},
		}},
		{"failing newest point", []step{{0, 31, 0}, {5, 29, 0}, {6, 31, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.rule(cond)
			for _, s := range c.steps {
				at := t0.Add(minutes(s.at))
				e.clk.Set(at)
				e.write(temp(at, s.v))
				if got := len(e.events(r.ID)); got != s.want {
					t.Fatalf("after the point at %vm (%v): %d events, want %d", s.at, s.v, got, s.want)
				}
			}
			e.noWarnings()
		})
	}
}

func TestDurationRuleOneBatch(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature is greater than 30 for 5 minutes")
	var batch []points.Point
	for m := 0; m <= 5; m++ {
		batch = append(batch, temp(t0.Add(minutes(float64(m))), 31))
	}
	e.clk.Set(t0.Add(minutes(5)))
	e.write(batch...)
	evs := e.wantEvents(r.ID, 1)
	var body struct {
		Data struct {
			DataPoint struct {
				Timestamp string `json:"timestamp"`
			} `json:"dataPoint"`
		} `json:"data"`
	}
	if err := json.Unmarshal(evs[0].Payload, &body); err != nil {
		t.Fatal(err)
	}
	if body.Data.DataPoint.Timestamp != "2024-01-15T10:05:00Z" {
		t.Fatalf("triggered on the point at %s, want the newest that holds", body.Data.DataPoint.Timestamp)
	}
}

// A late point that breaks the run inside the span already checked must be
// seen by the next check.
func TestDurationRuleLatePointBreaksRun(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature is greater than 30 for 5 minutes")
	for m := 0; m <= 4; m++ {
		e.clk.Set(t0.Add(minutes(float64(m))))
		e.write(temp(e.clk.Now(), 31))
	}
	e.write(temp(t0.Add(minutes(2.5)), 10)) // arrives late
	e.clk.Set(t0.Add(minutes(5)))
	e.write(temp(e.clk.Now(), 31))
	e.wantEvents(r.ID, 0)
	// The run restarted at 3: 7.5 is not enough, 8 is.
	e.clk.Set(t0.Add(minutes(7.5)))
	e.write(temp(e.clk.Now(), 31))
	e.wantEvents(r.ID, 0)
	e.clk.Set(t0.Add(minutes(8)))
	e.write(temp(e.clk.Now(), 31))
	e.wantEvents(r.ID, 1)
}

// Points without the field neither hold nor break a duration run.
func TestDurationRuleSkipsPointsWithoutField(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature is greater than 30 for 5 minutes")
	e.write(temp(t0, 31))
	e.clk.Set(t0.Add(minutes(3)))
	e.write(points.Point{TS: e.clk.Now().UnixNano(), Values: []points.Value{{Field: "status", Kind: points.KindString, Str: "x"}}})
	e.clk.Set(t0.Add(minutes(5)))
	e.write(temp(e.clk.Now(), 31))
	e.wantEvents(r.ID, 1)
}

func TestNoData(t *testing.T) {
	e := newEnv(t)
	r := e.rule("no data received for 10 minutes", withCooldown(5))
	ctx := context.Background()

	e.clk.Set(t0.Add(minutes(10) - time.Second))
	e.eng.CheckNoData(ctx)
	e.wantEvents(r.ID, 0)

	e.clk.Set(t0.Add(minutes(10)))
	e.eng.CheckNoData(ctx)
	ev := e.wantEvents(r.ID, 1)[0]
	if ev.Value != nil {
		t.Fatalf("no-data event has value %v", *ev.Value)
	}
	var body struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"currentValue": "null", "dataPoint": "null", "threshold": "null", "operator": `"nodata"`} {
		if got := string(body.Data[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}

	// A point arrives (its timestamp does not matter, its arrival does):
	// the window starts again from then.
	e.clk.Set(t0.Add(minutes(12)))
	e.write(temp(t0.Add(-time.Hour), 20))
	e.clk.Set(t0.Add(minutes(22) - time.Second))
	e.eng.CheckNoData(ctx)
	e.wantEvents(r.ID, 1)
	e.clk.Set(t0.Add(minutes(22)))
	e.eng.CheckNoData(ctx)
	e.wantEvents(r.ID, 2)

	// Still silent: once per window, not on every tick.
	e.clk.Set(t0.Add(minutes(22) + 15*time.Second))
	e.eng.CheckNoData(ctx)
	e.wantEvents(r.ID, 2)
	e.clk.Set(t0.Add(minutes(32)))
	e.eng.CheckNoData(ctx)
	e.wantEvents(r.ID, 3)
	e.noWarnings()
}

func TestNoDataAfterRestart(t *testing.T) {
	e := newEnv(t)
	// The source last wrote long ago; the rule is older still.
	e.clk.Set(t0.Add(-2 * time.Hour))
	r := e.rule("no data received for 10 minutes")
	e.write(temp(e.clk.Now().Add(-time.Minute), 20))

	// A node starts much later: it has seen no arrival, so it waits a whole
	// window from its own start rather than firing at once.
	e.clk.Set(t0)
	e.eng.Close()
	e.eng = e.newEngine()
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 0)
	e.clk.Set(t0.Add(minutes(9)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 0)
	e.clk.Set(t0.Add(minutes(10)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 1)
}

// Before any arrival, a source whose newest point is newer than the
// engine's start counts from that point.
func TestNoDataCountsFromNewestPoint(t *testing.T) {
	e := newEnv(t)
	r := e.rule("no data received for 10 minutes")
	e.clk.Set(t0.Add(minutes(5)))
	// Written by another node (this engine's OnWrite does not see it).
	if err := e.pts.Write(context.Background(), e.bucket, []points.Point{{SourceID: e.source, TS: e.clk.Now().UnixNano(),
		Values: []points.Value{{Field: "temperature", Kind: points.KindNumber, Num: 1}}}}); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(t0.Add(minutes(14)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 0)
	e.clk.Set(t0.Add(minutes(15)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 1)
}

// A no-data rule whose source's newest point cannot be read (its replicas
// unreachable) is not fired on that guess; it fires once the read works.
func TestNoDataUnknownLastPointDoesNotFire(t *testing.T) {
	e := newEnv(t)
	r := e.rule("no data received for 10 minutes")
	failing := &flakyPoints{localPoints: localPoints{e.pts}}
	failing.fail.Store(true)
	e.eng.Close()
	e.eng = e.newEngine(func(c *Config) { c.Points = failing })
	e.clk.Set(t0.Add(minutes(30)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 0)
	if w := e.logs.warnings(); len(w) != 1 || !strings.Contains(w[0], "cannot check a no-data rule") {
		t.Fatalf("warnings %q, want one about the no-data rule", w)
	}
	failing.fail.Store(false)
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 1)
}

func TestNoDataNotBeforeRuleCreated(t *testing.T) {
	e := newEnv(t)
	e.clk.Set(t0.Add(time.Hour))
	r := e.rule("no data received for 10 minutes")
	e.clk.Set(t0.Add(time.Hour + minutes(9)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 0)
	e.clk.Set(t0.Add(time.Hour + minutes(10)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(r.ID, 1)
}

func TestCooldown(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30", withCooldown(5))
	e.write(temp(t0, 31))
	e.wantEvents(r.ID, 1)

	e.clk.Set(t0.Add(minutes(1)))
	e.write(temp(e.clk.Now(), 32))
	e.clk.Set(t0.Add(minutes(5) - time.Nanosecond))
	e.write(temp(e.clk.Now(), 33))
	e.wantEvents(r.ID, 1)

	e.clk.Set(t0.Add(minutes(5)))
	e.write(temp(e.clk.Now(), 34))
	evs := e.wantEvents(r.ID, 2)
	if *evs[1].Value != 34 {
		t.Fatalf("second event value %v, want 34", *evs[1].Value)
	}
	e.noWarnings()
}

// The log, not the local view, decides cooldown: a trigger proposed from a
// stale view is refused quietly.
func TestCooldownDecidedByLog(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30", withCooldown(5))
	e.write(temp(t0, 31))
	e.wantEvents(r.ID, 1)
	stale := r // LastTriggeredAt still nil
	v := 40.0
	p := temp(t0, v)
	if e.eng.trigger(context.Background(), stale, &p, &v) {
		t.Fatal("trigger within cooldown recorded")
	}
	e.wantEvents(r.ID, 1)
	e.noWarnings()
}

func TestPausedRuleNeverFires(t *testing.T) {
	e := newEnv(t)
	th := e.rule("temperature exceeds 30")
	dur := e.rule("temperature exceeds 30 for 1 minute")
	nd := e.rule("no data received for 1 minute")
	for _, r := range []store.AlertRule{th, dur, nd} {
		e.setStatus(r.ID, store.AlertPaused)
	}
	for m := 0; m <= 3; m++ {
		e.clk.Set(t0.Add(minutes(float64(m))))
		e.write(temp(e.clk.Now(), 50))
	}
	e.clk.Set(t0.Add(time.Hour))
	e.eng.CheckNoData(context.Background())
	for _, r := range []store.AlertRule{th, dur, nd} {
		e.wantEvents(r.ID, 0)
	}
	// Resumed, the threshold rule fires again.
	e.setStatus(th.ID, store.AlertActive)
	e.write(temp(e.clk.Now(), 50))
	e.wantEvents(th.ID, 1)
	e.noWarnings()
}

func TestSuppressedForDeletedRule(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	e.must(store.DeleteAlert{OrgID: e.orgID, ID: r.ID})
	v := 40.0
	p := temp(t0, v)
	if e.eng.trigger(context.Background(), r, &p, &v) {
		t.Fatal("trigger of a deleted rule recorded")
	}
	e.noWarnings()
}

// Runs longer than one page of the points store are read page by page.
func TestDurationRuleLongRun(t *testing.T) {
	e := newEnv(t)
	held := e.rule("temperature is at least 30 for 1 hour")
	brokenSrc := e.newSource("broken")
	broken := e.rule("temperature is at least 30 for 1 hour", withSource(brokenSrc))
	var a, b []points.Point
	for s := 0; s <= 3600; s += 2 { // 1801 points
		at := t0.Add(time.Duration(s) * time.Second)
		a = append(a, temp(at, 30))
		v := 30.0
		if s == 600 {
			v = 29.99
		}
		b = append(b, temp(at, v))
	}
	e.clk.Set(t0.Add(time.Hour))
	e.write(a...)
	e.writeTo(brokenSrc, b...)
	e.wantEvents(held.ID, 1)
	e.wantEvents(broken.ID, 0)
	e.noWarnings()
}

func TestPayloadIsNotHTMLEscaped(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature is at least 30")
	v := 31.0
	p := temp(t0, v)
	ev, err := e.eng.newEvent(r, &p, &v, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev.Payload), `"operator":">="`) {
		t.Fatalf("payload %s: want the operator symbol as documented", ev.Payload)
	}
}

func TestOnWriteMixedSources(t *testing.T) {
	e := newEnv(t)
	other := e.newSource("other")
	quiet := e.newSource("quiet") // no rules
	a := e.rule("temperature exceeds 30")
	b := e.rule("temperature is below 0", withSource(other))
	nd := e.rule("no data received for 10 minutes", withSource(other))
	batch := []points.Point{temp(t0, 31), temp(t0, -1), temp(t0, 99), temp(t0.Add(time.Second), 35), temp(t0.Add(time.Second), -2)}
	for i, src := range []string{e.source, other, quiet, e.source, other} {
		batch[i].SourceID = src
	}
	if err := e.pts.Write(context.Background(), e.bucket, batch); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(t0.Add(minutes(5)))
	e.eng.OnWrite(context.Background(), e.bucket, batch)
	if evs := e.wantEvents(a.ID, 1); *evs[0].Value != 31 {
		t.Fatalf("rule a triggered on %v", *evs[0].Value)
	}
	if evs := e.wantEvents(b.ID, 1); *evs[0].Value != -1 {
		t.Fatalf("rule b triggered on %v", *evs[0].Value)
	}
	// The arrival at 5m counts for the no-data rule of "other".
	e.clk.Set(t0.Add(minutes(14)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(nd.ID, 0)
	e.clk.Set(t0.Add(minutes(15)))
	e.eng.CheckNoData(context.Background())
	e.wantEvents(nd.ID, 1)
}
