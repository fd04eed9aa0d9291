package store

import (
	"testing"
	"time"
)

// TestCooldownUnderSkewedClocks: triggers are stamped by the evaluating
// node's clock. A rule with no cooldown is never quiet, whatever the stamps
// (alert × clock, seed 1914: a 0-minute rule stayed silent while an
// evaluator's clock was minutes behind the last trigger's); with a cooldown,
// a stamp before the last trigger is quiet only within the cooldown.
func TestCooldownUnderSkewedClocks(t *testing.T) {
	last := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	rule := func(minutes int) AlertRule { return AlertRule{CooldownMinutes: minutes, LastTriggeredAt: &last} }
	for _, c := range []struct {
		minutes int
		at      time.Duration // trigger stamp relative to the last trigger
		quiet   bool
	}{
		{0, 0, false},
		{0, -4 * time.Minute, false}, // a clock 4 minutes behind
		{0, time.Second, false},
		{5, time.Minute, true},
		{5, 6 * time.Minute, false},
		{5, -time.Minute, true},       // behind, within the cooldown
		{5, -10 * time.Minute, false}, // far behind: not quiet until that clock catches up
	} {
		if got := rule(c.minutes).CoolingDownAt(last.Add(c.at)); got != c.quiet {
			t.Errorf("cooldown %d min, trigger at last%+v: quiet %v, want %v", c.minutes, c.at, got, c.quiet)
		}
	}
	if (AlertRule{CooldownMinutes: 5}).CoolingDownAt(last) {
		t.Error("a rule that never triggered is cooling down")
	}
}
