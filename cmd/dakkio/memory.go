package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// --memory-limit says otherwise. Under ingest Badger alone keeps about 290
// MiB of Go heap alive: two memtable arenas of 83 MiB (64 MiB plus room for
// the largest batch) and the pooled buffers of the table builder that
// flushes one (about 120 MiB). At 256 MiB the collector ran every 15 ms and
// took a quarter of the node's CPU, while the peak RSS stayed the same
// (about 405 MiB, Badger's spike); 352 MiB leaves the write path room.
const defaultMemoryLimit = "352MiB"

// byteSize is a size flag: a number of bytes, or one with a KiB, MiB or
// GiB suffix (also KB, MB, GB, taken as the binary units).
type byteSize int64

var errByteSize = errors.New("want bytes, or a number with KiB, MiB or GiB")

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return errByteSize
	}
	*b = byteSize(n * mult)
	return nil
}

func (b *byteSize) Get() any { return *b }

// applyMemoryLimit sets the runtime's soft memory limit; 0 leaves it to
// GOMEMLIMIT (unset: none).
func applyMemoryLimit(limit byteSize, log *slog.Logger) {
	if limit > 0 {
		debug.SetMemoryLimit(int64(limit))
	}
	log.Info("memory limit", "bytes", debug.SetMemoryLimit(-1))
}

// Memory given back when idle: a node that allocated less than idleAlloc
// in an idleCheck after allocating more returns its free heap to the OS
// at once instead of over the scavenger's minutes.
const (
	idleCheck = 10 * time.Second
	idleAlloc = 8 << 20
)

// releaseWhenIdle returns freed memory to the OS when the node goes idle,
// once per busy spell, until ctx ends.
func releaseWhenIdle(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	last, busy := read(), false
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := read()
		switch d := now - last; {
		case d >= idleAlloc:
			busy = true
		case busy:
			debug.FreeOSMemory()
			busy = false
		}
		last = now
	}
}
