package netslow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Link is how one node's outgoing link misbehaves.
type Link struct {
	Delay, Jitter time.Duration // each packet waits Delay ± Jitter (uniform)
	Loss          float64       // probability a packet is dropped
	Duplicate     float64       // probability a packet is sent twice
}

func (l Link) String() string {
	return fmt.Sprintf("delay %s ± %s, loss %.1f%%, duplicate %.1f%%", l.Delay, l.Jitter, 100*l.Loss, 100*l.Duplicate)
}

// Config names the bridge whose forwarded packets are slowed and the queue
// number to use.
type Config struct {
	Bridge string
	Queue  uint16
	Seed   uint64
}

// Slower holds the queue and the links' settings.
type Slower struct {
	cfg   Config
	q     *queue
	done  chan struct{}
	mu    sync.Mutex
	rng   *rand.Rand
	links map[netip.Addr]Link // by sender address
	rules [][]string          // iptables rules installed, to delete
	stats Stats
}

// Stats count what the slower did to packets.
type Stats struct {
	Delayed, Dropped, Passed int64
}

// New binds the queue; nothing is slowed until Set.
func New(cfg Config) (*Slower, error) {
	q, err := openQueue(cfg.Queue)
	if err != nil {
		return nil, err
	}
	s := &Slower{cfg: cfg, q: q, done: make(chan struct{}), rng: rand.New(rand.NewPCG(cfg.Seed, 0x736c6f77)), links: map[netip.Addr]Link{}}
	go func() {
		defer close(s.done)
		_ = q.read(s.handle)
	}()
	return s, nil
}

func (s *Slower) handle(p packet) {
	s.mu.Lock()
	l, ok := s.links[p.src]
	var d time.Duration
	drop := false
	if ok {
		drop = s.rng.Float64() < l.Loss
		d = l.Delay
		if l.Jitter > 0 {
			d += time.Duration(s.rng.Int64N(int64(2*l.Jitter))) - l.Jitter
		}
	}
	switch {
	case drop:
		s.stats.Dropped++
	case d > 0:
		s.stats.Delayed++
	default:
		s.stats.Passed++
	}
	s.mu.Unlock()
	if drop {
		_ = s.q.verdict(p.id, false)
		return
	}
	if d <= 0 {
		_ = s.q.verdict(p.id, true)
		return
	}
	// Later packets with a shorter wait overtake this one: reordering.
	time.AfterFunc(d, func() { _ = s.q.verdict(p.id, true) })
}

// Set slows the links of the senders named (by address); any other sender
// is let through at once. Duplication is by iptables TEE rules (the clone
// is sent to the packet's own destination).
func (s *Slower) Set(ctx context.Context, links map[netip.Addr]Link) error {
	if err := s.removeRules(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.links = links
	s.mu.Unlock()
	br := s.cfg.Bridge
	rules := [][]string{{"-I", "FORWARD", "1", "-i", br, "-o", br, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(s.cfg.Queue)), "--queue-bypass"}}
	for src, l := range links {
		if l.Duplicate <= 0 {
			continue
		}
		for dst := range links {
			if dst == src {
				continue
			}
			rules = append(rules, []string{"-t", "mangle", "-A", "PREROUTING", "-i", br, "-s", src.String(), "-d", dst.String(),
				"-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(l.Duplicate, 'f', 4, 64),
				"-j", "TEE", "--gateway", dst.String()})
		}
	}
	for _, r := range rules {
		if err := iptables(ctx, r...); err != nil {
			// Undo even when ctx ended: that is how a rule gets cut short.
			undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_ = s.removeRules(undo)
			cancel()
			return err
		}
		s.mu.Lock()
		s.rules = append(s.rules, r)
		s.mu.Unlock()
	}
	return nil
}

// Clear lets every packet through at once and removes the rules.
func (s *Slower) Clear(ctx context.Context) error {
	s.mu.Lock()
	s.links = map[netip.Addr]Link{}
	s.mu.Unlock()
	return s.removeRules(ctx)
}

func (s *Slower) removeRules(ctx context.Context) error {
	s.mu.Lock()
	rules := s.rules
	s.rules = nil
	s.mu.Unlock()
	var first error
	for _, r := range rules {
		del := append([]string(nil), r...)
		for i, a := range del {
			if a == "-I" || a == "-A" {
				del[i] = "-D"
				if a == "-I" {
					del = append(del[:i+2], del[i+3:]...) // drop the position
				}
				break
			}
		}
		if err := iptables(ctx, del...); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Stats returns the counts so far.
func (s *Slower) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close removes the rules and the queue.
func (s *Slower) Close() error {
	err := s.Clear(context.Background())
	s.q.stop()
	<-s.done
	if cerr := s.q.Close(); err == nil {
		err = cerr
	}
	return err
}

func iptables(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveLeftovers deletes the rules a crashed run left on bridge.
func RemoveLeftovers(ctx context.Context, bridge string) error {
	var first error
	for _, table := range []string{"filter", "mangle"} {
		out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			return fmt.Errorf("iptables -t %s -S: %w", table, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "-A" || !strings.Contains(line, "-i "+bridge+" ") ||
				!(strings.Contains(line, "-j NFQUEUE") || strings.Contains(line, "-j TEE")) {
				continue
			}
			f[0] = "-D"
			if err := iptables(ctx, append([]string{"-t", table}, f...)...); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
