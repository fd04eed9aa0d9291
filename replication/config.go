package replication

import (
	"errors"
	"fmt"
	"time"
)

// Config sets how a cluster node replicates points. Every field is
// optional.
type Config struct {
	// WriteConsistency is how many replicas acknowledge a write unless the
	// request asks otherwise: "one", "quorum" (default) or "all".
	WriteConsistency string
	// HintMaxBytes bounds each target's hinted-handoff queue. Default 256 MiB.
	HintMaxBytes int64
	// HintMaxAge is how long a hint waits for its target; older ones are
	// dropped and left to repair. Default 3h.
	HintMaxAge time.Duration
	// HintReplayInterval is how often queued hints are replayed to live
	// targets. Default 1s.
	HintReplayInterval time.Duration
	// RepairInterval is the pause between anti-entropy passes. Default 1m.
	RepairInterval time.Duration
	// RepairRate caps the points per second a repair pass compares. Default 2,000,000.
	RepairRate int
	// ReadHedge is how long a read waits on a replica before it also asks
	// the next one. Default 300ms.
	ReadHedge time.Duration
	// ReplicaTimeout bounds a write to one replica. Default 5s.
	ReplicaTimeout time.Duration
	// AckGrace is how long a write that has met its consistency still
	// waits for the remaining replicas before it answers. Default 100ms.
	AckGrace time.Duration
}

// SetDefaults fills in the fields left zero.
func (c *Config) SetDefaults() {
	if c.WriteConsistency == "" {
		c.WriteConsistency = "quorum"
	}
	if c.HintMaxBytes == 0 {
		c.HintMaxBytes = 256 << 20
	}
	if c.HintMaxAge == 0 {
		c.HintMaxAge = 3 * time.Hour
	}
	if c.HintReplayInterval == 0 {
		c.HintReplayInterval = time.Second
	}
	if c.RepairInterval == 0 {
		c.RepairInterval = time.Minute
	}
	if c.RepairRate == 0 {
		c.RepairRate = 2_000_000
	}
	if c.ReadHedge == 0 {
		c.ReadHedge = 300 * time.Millisecond
	}
	if c.ReplicaTimeout == 0 {
		c.ReplicaTimeout = 5 * time.Second
	}
	if c.AckGrace == 0 {
		c.AckGrace = 100 * time.Millisecond
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if _, err := ParseConsistency(c.WriteConsistency); err != nil {
		return fmt.Errorf("write consistency: %w", err)
	}
	if c.HintMaxBytes < 0 || c.HintMaxAge < 0 || c.RepairInterval < 0 || c.RepairRate < 0 || c.ReadHedge < 0 || c.ReplicaTimeout < 0 || c.AckGrace < 0 {
		return errors.New("replication limits must not be negative")
	}
	return nil
}
