package alerting

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Evaluate reports a trigger the log could not record, so that the caller
// keeps the points queued; evaluated again, they trigger once, and once
// only however often they are evaluated after that (a node that crashed
// between the trigger and advancing its queue).
func TestEvaluateAgainAfterAFailedTrigger(t *testing.T) {
	var failing atomic.Bool
	errNoLeader := errors.New("no leader")
	e := newEnv(t, func(c *Config) {
		inner := c.Apply
		c.Apply = func(ctx context.Context, cmd any) (any, error) {
			if _, ok := cmd.(store.TriggerAlert); ok && failing.Load() {
				return nil, errNoLeader
			}
			return inner(ctx, cmd)
		}
	})
	th := e.rule("temperature exceeds 30")
	dur := e.rule("temperature exceeds 30 for 1 minute")
	pts := []points.Point{temp(t0.Add(-2*time.Minute), 40), temp(t0.Add(-time.Minute), 41), temp(t0, 42)}
	for i := range pts {
		pts[i].SourceID = e.source
	}
	if err := e.pts.Write(context.Background(), e.bucket, pts); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if err := e.eng.Evaluate(context.Background(), e.bucket, pts); !errors.Is(err, errNoLeader) {
		t.Fatalf("Evaluate with triggers refused by the log = %v, want %v", err, errNoLeader)
	}
	e.wantEvents(th.ID, 0)
	e.wantEvents(dur.ID, 0)
	failing.Store(false)
	for range 3 {
		if err := e.eng.Evaluate(context.Background(), e.bucket, pts); err != nil {
			t.Fatal(err)
		}
		e.wantEvents(th.ID, 1)
		e.wantEvents(dur.ID, 1)
	}
}

// NoteArrivals picks the points rules look at here, and only here.
func TestNoteArrivals(t *testing.T) {
	evaluator := atomic.Bool{}
	evaluator.Store(true)
	e := newEnv(t, func(c *Config) { c.IsEvaluator = func(string) bool { return evaluator.Load() } })
	ruled, silent, quiet := e.source, e.newSource("silent"), e.newSource("quiet")
	e.rule("temperature exceeds 30")
	e.rule("no data for 5 minutes", withSource(silent))
	at := func(src string, i int) points.Point {
		p := temp(t0.Add(time.Duration(i)*time.Second), 1)
		p.SourceID = src
		return p
	}
	all := []points.Point{at(ruled, 0), at(ruled, 1)}
	if got := e.eng.NoteArrivals(e.bucket, all); len(got) != 2 || &got[0] != &all[0] {
		t.Fatalf("a write of one ruled source: %v, want the write itself", got)
	}
	mixed := []points.Point{at(quiet, 0), at(ruled, 2), at(silent, 0), at(ruled, 3)}
	if got := e.eng.NoteArrivals(e.bucket, mixed); !slices.EqualFunc(got, []points.Point{mixed[1], mixed[3]}, func(a, b points.Point) bool { return a.TS == b.TS && a.SourceID == b.SourceID }) {
		t.Fatalf("a mixed write: %v, want the ruled source's 2 points", got)
	}
	if got := e.eng.NoteArrivals(e.bucket, []points.Point{at(silent, 1), at(quiet, 1)}); got != nil {
		t.Fatalf("no threshold or duration rule: %v, want nil", got)
	}
	e.eng.mu.Lock()
	_, noted := e.eng.arrivals[silent]
	e.eng.mu.Unlock()
	if !noted {
		t.Fatal("the arrival of a point of a source with a no-data rule was not noted")
	}
	// Every replica queues them: an evaluator that just died looks alive
	// until gossip says otherwise.
	evaluator.Store(false)
	if got := e.eng.NoteArrivals(e.bucket, all); len(got) != 2 {
		t.Fatalf("not the evaluator: %v, want the write itself", got)
	}
}
