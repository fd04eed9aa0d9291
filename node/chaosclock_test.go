//go:build chaosclock

package node

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestChaosClockFollowsTheOffsetFile: the hook adds the offset written to
// DAKKIO_CHAOS_CLOCK_FILE, acknowledges each new value, and follows steps
// back to zero. (go test -tags chaosclock ./node; the chaos suite's clock
// nemesis checks the same acknowledgements on live nodes.)
func TestChaosClockFollowsTheOffsetFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clock")
	t.Setenv("DAKKIO_CHAOS_CLOCK_FILE", file)
	base := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	now := chaosClock(func() time.Time { return base })
	if got := now(); !got.Equal(base) {
		t.Fatalf("no file: %s, want %s", got, base)
	}
	for _, off := range []time.Duration{3 * time.Minute, -90 * time.Second, 0} {
		if err := os.WriteFile(file, []byte(strconv.FormatInt(int64(off), 10)), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !now().Equal(base.Add(off)) {
			if time.Now().After(deadline) {
				t.Fatalf("offset %s never applied: now() = %s", off, now())
			}
			time.Sleep(10 * time.Millisecond) // the hook re-reads every 50 ms
		}
		if off != 0 {
			b, err := os.ReadFile(file + ".applied")
			if err != nil || string(b) != strconv.FormatInt(int64(off), 10) {
				t.Errorf("ack %q, %v; want %d", b, err, off)
			}
		}
	}
}
