//go:build chaosclock

package node

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// chaosClock shifts the node's wall clock (Config.Now) by an offset the
// chaos suite's clock nemesis writes, in nanoseconds, to the file named by
// DAKKIO_CHAOS_CLOCK_FILE. Only a binary built with -tags chaosclock has
// it (see chaosclock_off.go). Each new offset read is acknowledged by
// writing it to the file + ".applied", so that the nemesis knows the node
// runs with it rather than assuming so. Timers and Raft's timeouts run on
// the monotonic clock, as a real skewed node's would, and are not shifted.
func chaosClock(now func() time.Time) func() time.Time {
	path := os.Getenv("DAKKIO_CHAOS_CLOCK_FILE")
	if path == "" {
		return now
	}
	var (
		mu      sync.Mutex
		offset  time.Duration
		checked time.Time
	)
	return func() time.Time {
		t := now()
		mu.Lock()
		defer mu.Unlock()
		// Re-read at most every 50 ms: Now is called on every request.
		if mono := time.Now(); mono.Sub(checked) >= 50*time.Millisecond {
			checked = mono
			if b, err := os.ReadFile(path); err == nil {
				if ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && time.Duration(ns) != offset {
					offset = time.Duration(ns)
					_ = os.WriteFile(path+".applied", []byte(strconv.FormatInt(ns, 10)), 0o644)
				}
			}
		}
		return t.Add(offset)
	}
}
