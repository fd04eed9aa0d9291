package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procMem is a process's resident memory from /proc/<pid>/status, in bytes:
// hwm is the highest RSS since the process started (VmHWM), which catches
// peaks between samples.
type procMem struct {
	rss, anon, file, hwm int64
}

// readProcMem reads pid's VmRSS, RssAnon and RssFile; false where /proc has
// none (not Linux, or the process has exited).
func readProcMem(pid int) (procMem, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, false
	}
	var m procMem
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			m.rss, found = kb<<10, true
		case "VmHWM":
			m.hwm = kb << 10
		case "RssAnon":
			m.anon = kb << 10
		case "RssFile", "RssShmem":
			m.file += kb << 10
		}
	}
	return m, found
}

// readWriteBytes is pid's write_bytes from /proc/<pid>/io: the bytes it
// caused to be written to storage (page cache writeback included).
func readWriteBytes(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// memSampler samples a process's memory every period until stopped.
type memSampler struct {
	pid    int
	period time.Duration
	stopCh chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	start   time.Time
	samples []memSample
}

type memSample struct {
	at time.Duration // since the start
	m  procMem
}

func startMemSampler(pid int, period time.Duration) *memSampler {
	s := &memSampler{pid: pid, period: period, stopCh: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopCh:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	if m, ok := readProcMem(s.pid); ok {
		s.mu.Lock()
		s.samples = append(s.samples, memSample{at: time.Since(s.start), m: m})
		s.mu.Unlock()
	}
}

// stop ends the sampling with one last sample and returns them all.
func (s *memSampler) stop() []memSample {
	close(s.stopCh)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// peak is the sample with the highest RSS.
func peak(samples []memSample) memSample {
	var p memSample
	for _, s := range samples {
		if s.m.rss > p.m.rss {
			p = s
		}
	}
	return p
}

// rssAbove counts the samples whose RSS is above limit.
func rssAbove(samples []memSample, limit int64) int {
	n := 0
	for _, s := range samples {
		if s.m.rss > limit {
			n++
		}
	}
	return n
}

// rssQuantile is the RSS that the fraction q of the samples do not exceed
// (nearest rank); 0 without samples.
func rssQuantile(samples []memSample, q float64) int64 {
	if len(samples) == 0 {
		return 0
	}
	rss := make([]int64, len(samples))
	for i, s := range samples {
		rss[i] = s.m.rss
	}
	slices.Sort(rss)
	rank := int(math.Ceil(q*float64(len(rss)))) - 1
	return rss[min(max(rank, 0), len(rss)-1)]
}

// timeline is the RSS every step, as "10s 212, 20s 230, ..." in MiB.
func timeline(samples []memSample, step time.Duration) string {
	var parts []string
	next := step
	for _, s := range samples {
		if s.at >= next {
			parts = append(parts, fmt.Sprintf("%ds %d", int(s.at/time.Second), s.m.rss>>20))
			for next <= s.at {
				next += step
			}
		}
	}
	return strings.Join(parts, ", ")
}
