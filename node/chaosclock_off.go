//go:build !chaosclock

package node

import "time"

// chaosClock is the identity in every real build: the clock hook of
// chaosclock.go compiles away.
func chaosClock(now func() time.Time) func() time.Time { return now }
