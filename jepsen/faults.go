package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/blockdisk"
	"github.com/dakkio/dakkio/jepsen/history"
	"github.com/dakkio/dakkio/jepsen/netslow"
)

// The faults beyond partitions, kills and pauses: slow links (NFQUEUE),
// skewed clocks (a -tags chaosclock build), membership changes, full and
// slow disks.

// slow slows every member's outgoing link (jepsen/netslow: tc netem is
// missing from many kernels), each with its own delay, jitter, loss and
// duplication; jitter makes packets overtake one another.
func (n *Nemesis) slow(ctx context.Context, idx []int, start int64) {
	n.mu.Lock()
	if n.slower == nil {
		s, err := netslow.New(netslow.Config{Bridge: lab.Bridge(), Queue: 7707, Seed: n.rng.Uint64()})
		if err != nil {
			n.errs = append(n.errs, fmt.Sprintf("net-slow: %v", err))
			n.mu.Unlock()
			n.record("net-slow", history.Info, err.Error(), start)
			return
		}
		n.slower = s
	}
	s := n.slower
	n.mu.Unlock()
	links := map[netip.Addr]netslow.Link{}
	var desc []string
	for _, i := range idx {
		delay := time.Duration(20+n.rng.IntN(130)) * time.Millisecond
		l := netslow.Link{Delay: delay, Jitter: time.Duration(n.rng.Int64N(int64(delay))).Round(time.Millisecond), Loss: 0.05 * n.rng.Float64(), Duplicate: 0.03 * n.rng.Float64()}
		links[netip.MustParseAddr(nodeIP(i))] = l
		desc = append(desc, n.nodeID(i)+": "+l.String())
	}
	typ := history.OK
	if err := s.Set(ctx, links); err != nil {
		typ = history.Info
		// A fault cut short because the run ended (its iptables killed by
		// ctx) is no harness error; Set removed what it had added.
		if ctx.Err() == nil {
			n.mu.Lock()
			n.errs = append(n.errs, fmt.Sprintf("net-slow: %v", err))
			n.mu.Unlock()
		}
		desc = append(desc, err.Error())
	} else {
		n.mu.Lock()
		n.slowed = true
		n.mu.Unlock()
	}
	n.record("net-slow", typ, strings.Join(desc, "; "), start)
}

// maxClockOffset bounds the clock nemesis's offsets.
const maxClockOffset = 5 * time.Minute

// skewClocks gives a random set of members each its own wall-clock offset
// (up to ± maxClockOffset); a node already skewed steps to a new offset.
func (n *Nemesis) skewClocks(ctx context.Context, idx []int, start int64) {
	k := 1 + n.rng.IntN(len(idx))
	typ := history.OK
	var desc []string
	for _, i := range idx[:k] {
		nd := n.c.Member(i)
		if nd == nil {
			continue
		}
		off := time.Duration(n.rng.Int64N(int64(2*maxClockOffset))) - maxClockOffset
		off = off.Round(time.Millisecond)
		n.mu.Lock()
		n.clocked[nd] = true
		n.clockAsked++
		n.mu.Unlock()
		if n.setClock(nd, off) && n.waitClock(ctx, nd, off) {
			n.mu.Lock()
			n.clockApplied++
			n.mu.Unlock()
			desc = append(desc, nd.ID+" "+signed(off))
		} else {
			typ = history.Info // the node never said it runs with it
			desc = append(desc, nd.ID+" "+signed(off)+" (not acknowledged)")
		}
	}
	n.record("clock", typ, strings.Join(desc, ", "), start)
}

// signed renders an offset with its sign.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// setClock writes nd's offset for its chaosclock hook; it does not lock
// n.mu (Heal holds it).
func (n *Nemesis) setClock(nd *Node, off time.Duration) bool {
	if err := os.WriteFile(nd.clockFile, []byte(strconv.FormatInt(int64(off), 10)), 0o644); err != nil {
		n.logf("cannot set %s's clock: %v", nd.ID, err)
		return false
	}
	return true
}

// waitClock waits until nd acknowledges running with off (the hook writes
// it to clockFile.applied when it reads a new value).
func (n *Nemesis) waitClock(ctx context.Context, nd *Node, off time.Duration) bool {
	want := strconv.FormatInt(int64(off), 10)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if b, err := os.ReadFile(nd.clockFile + ".applied"); err == nil && string(b) == want {
			return true
		}
		// The hook reads the file when the node asks its clock, which a
		// request makes sure of.
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = n.c.Client(nd, "").Ready(hctx)
		cancel()
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return false
}

// replaceMember stops a random member, removes it from the cluster through
// the leader, starts a fresh node (new name, empty data) in a free
// namespace, waits for it to serve and rebalances, all while the workload
// runs.
func (n *Nemesis) replaceMember(ctx context.Context, start int64) {
	members := n.c.Members()
	if len(members) <= 3 {
		n.record("membership", history.Info, "skipped: only 3 members", start)
		return
	}
	victim := n.randomMember()
	fresh := n.c.FreshNode(n.slots)
	if fresh == nil {
		n.record("membership", history.Info, "skipped: no free namespace", start)
		return
	}
	var desc []string
	typ := history.OK
	// A graceful stop: the node hands leadership over and leaves gossip.
	victim.Signal(syscall.SIGCONT)
	victim.Signal(syscall.SIGTERM)
	if !victim.Wait(30 * time.Second) {
		n.c.Kill(victim)
		desc = append(desc, "stopped "+victim.ID+" (SIGKILL after 30s)")
	} else {
		desc = append(desc, "stopped "+victim.ID)
	}
	n.c.Retire(victim)
	n.mu.Lock()
	delete(n.killed, victim)
	delete(n.paused, victim)
	delete(n.clocked, victim)
	n.mu.Unlock()
	err := n.viaLeader(ctx, time.Minute, func(ctx context.Context, c *client.Client) error {
		err := c.RemoveNode(ctx, victim.ID)
		var ae *client.APIError
		if errors.As(err, &ae) && ae.StatusCode == 404 {
			return nil // the leader removed it already
		}
		return err
	})
	if err != nil {
		typ = history.Info
		desc = append(desc, fmt.Sprintf("remove %s failed: %v", victim.ID, err))
	} else {
		desc = append(desc, "removed "+victim.ID)
	}
	n.c.Admit(fresh)
	if err := n.c.Start(fresh); err != nil {
		n.c.Retire(fresh)
		n.mu.Lock()
		n.errs = append(n.errs, fmt.Sprintf("membership: cannot start %s: %v", fresh.ID, err))
		n.mu.Unlock()
		n.record("membership", history.Info, strings.Join(append(desc, "start "+fresh.ID+" failed"), "; "), start)
		return
	}
	if err := retry(ctx, 2*time.Minute, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return n.c.Client(fresh, "").Ready(rctx)
	}); err != nil {
		typ = history.Info
		desc = append(desc, fmt.Sprintf("added %s (not ready: %v)", fresh.ID, err))
	} else {
		desc = append(desc, "added "+fresh.ID)
	}
	var moved string
	err = n.viaLeader(ctx, time.Minute, func(ctx context.Context, c *client.Client) error {
		res, err := c.Rebalance(ctx)
		if err == nil {
			moved = fmt.Sprintf("%+v", *res)
		}
		return err
	})
	if err != nil {
		typ = history.Info
		desc = append(desc, fmt.Sprintf("rebalance failed: %v", err))
	} else {
		desc = append(desc, "rebalanced "+moved)
	}
	n.record("membership", typ, strings.Join(desc, "; "), start)
}

// viaLeader calls f with an operator client of the current leader until it
// succeeds or timeout passes.
func (n *Nemesis) viaLeader(ctx context.Context, timeout time.Duration, f func(context.Context, *client.Client) error) error {
	return retry(ctx, timeout, func(ctx context.Context) error {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		l, err := n.c.Leader(lctx)
		if err != nil {
			return err
		}
		return f(lctx, n.c.Client(l, ""))
	})
}

// diskTag names the nodes' bounded filesystems (jepsen/blockdisk) and the
// group that slows them, so that cleanup finds them.
const diskTag = "jepsen-disk"

// fillDisk fills nd's bounded data filesystem until ENOSPC.
func (n *Nemesis) fillDisk(nd *Node, start int64) {
	if n.c.diskSize == 0 {
		n.mu.Lock()
		n.errs = append(n.errs, "disk: the nodes' data are not on bounded filesystems")
		n.mu.Unlock()
		n.record("disk", history.Info, "no bounded filesystem", start)
		return
	}
	path := filepath.Join(nd.dataDir, "jepsen-disk-fill")
	n.mu.Lock()
	n.filled[nd] = path
	n.mu.Unlock()
	wrote, err := fillFile(path)
	typ := history.OK
	if !errors.Is(err, syscall.ENOSPC) {
		typ = history.Info
		n.logf("filling %s's disk ended with %v, not ENOSPC", nd.ID, err)
	}
	n.record("disk", typ, fmt.Sprintf("%s full: wrote %d MiB (%v)", nd.ID, wrote>>20, err), start)
}

// fillFile writes zeros to path until the filesystem refuses; it returns
// the bytes written and the error that stopped it.
func fillFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var total int64
	for {
		w, err := f.Write(buf)
		total += int64(w)
		if err != nil {
			// Then the last bytes a smaller write still fits.
			for _, size := range []int{64 << 10, 4 << 10, 512} {
				for {
					w, e := f.Write(buf[:size])
					total += int64(w)
					if e != nil {
						break
					}
				}
			}
			return total, err
		}
	}
}

func freeDisk(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// cleanupDisks unmounts and detaches the nodes' bounded filesystems and
// removes the slow-disk group, whatever run left them.
func cleanupDisks(logf func(string, ...any)) {
	if err := blockdisk.Cleanup(context.Background(), diskTag); err != nil {
		logf("cleanup: %v", err)
	}
	if err := blockdisk.RemoveThrottle(diskTag); err != nil {
		logf("cleanup: %v", err)
	}
}

// slowDisk limits the I/O of one member's disk (half the time the
// leader's, whose Raft log appends every metadata write waits on) to a few
// hundred KiB and IOPS a second: a failing or saturated disk.
func (n *Nemesis) slowDisk(ctx context.Context, start int64) {
	if n.c.throttle == nil {
		// mixed runs on hosts without the throttle, without this fault;
		// disk-slow itself never starts there (runOne).
		n.record("disk-slow", history.Info, "skipped: this host cannot throttle a disk", start)
		return
	}
	nd := n.randomMember()
	if n.rng.IntN(2) == 0 {
		nd = n.leader(ctx)
	}
	l := blockdisk.Limits{
		ReadBPS:   uint64(1+n.rng.IntN(4)) << 20,
		WriteBPS:  uint64(256<<n.rng.IntN(3)) << 10,
		ReadIOPS:  uint64(50 + n.rng.IntN(150)),
		WriteIOPS: uint64(20 + n.rng.IntN(80)),
	}
	typ := history.OK
	if nd.disk == "" {
		typ = history.Info
		n.logf("%s has no block device to slow", nd.ID)
	} else if err := n.c.throttle.Limit(nd.disk, l); err != nil {
		typ = history.Info
		n.mu.Lock()
		n.errs = append(n.errs, fmt.Sprintf("disk-slow: %v", err))
		n.mu.Unlock()
	} else {
		n.mu.Lock()
		n.slowDisks[nd] = true
		n.mu.Unlock()
	}
	n.record("disk-slow", typ, fmt.Sprintf("%s: %s", nd.ID, l), start)
}
