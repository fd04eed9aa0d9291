package blockdisk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testTag = "blockdisk-test"

// TestMain lets the test binary serve as the writer it runs inside the
// throttled group: BLOCKDISK_WRITE=<file> waits for a line on stdin (its
// cue that it has been moved into the group), writes 1 MiB with an fsync
// and prints how long that took.
func TestMain(m *testing.M) {
	if path := os.Getenv("BLOCKDISK_WRITE"); path != "" {
		var cue string
		fmt.Scanln(&cue)
		start := time.Now()
		f, err := os.Create(path)
		if err == nil {
			_, err = f.Write(make([]byte, 1<<20))
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(time.Since(start).Nanoseconds())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, p := range []string{"losetup", "mkfs.ext4", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("DAKKIO_SKIP_NETNS") == "1" {
		t.Skipf("DAKKIO_SKIP_NETNS=1: needs %s", strings.Join(missing, ", "))
	}
	t.Fatalf("needs %s (or set DAKKIO_SKIP_NETNS=1 to skip)", strings.Join(missing, ", "))
}

func mounted(t *testing.T) (dir, dev string) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	dev, err := Mount(ctx, dir, testTag, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Cleanup(ctx, testTag); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Fatalf("device %q", dev)
	}
	again, err := Mount(ctx, dir, testTag, 64<<20)
	if err != nil || again != dev {
		t.Fatalf("mounting again gave %q, %v; want the same device %s", again, err, dev)
	}
	return dir, dev
}

// TestFillsToENOSPC: the filesystem holds about its size, then refuses.
func TestFillsToENOSPC(t *testing.T) {
	needRoot(t)
	dir, _ := mounted(t)
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var wrote int64
	for wrote < 128<<20 {
		n, err := f.Write(buf)
		wrote += int64(n)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("write ended with %v, not ENOSPC", err)
			}
			break
		}
	}
	if wrote < 40<<20 || wrote >= 64<<20 {
		t.Fatalf("a 64 MiB filesystem took %d MiB before ENOSPC", wrote>>20)
	}
}

// TestThrottleSlowsOnlyItsGroupsWrites: 1 MiB written and fsynced by a
// process in the group, with the disk limited to 256 KiB/s, takes at least
// 2 s (a lower bound: a loaded machine only makes it slower); cleared, the
// same write by a new process is not held back.
func TestThrottleSlowsOnlyItsGroupsWrites(t *testing.T) {
	needRoot(t)
	dir, dev := mounted(t)
	th, err := NewThrottle(testTag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := th.Remove(); err != nil {
			t.Errorf("remove group: %v", err)
		}
	})
	if err := th.Limit(dev, Limits{WriteBPS: 256 << 10, WriteIOPS: 1000}); err != nil {
		t.Fatal(err)
	}
	slow := timedWrite(t, th, filepath.Join(dir, "slow"))
	if slow < 2*time.Second {
		t.Fatalf("1 MiB at 256 KiB/s took %v; the limit did not apply", slow)
	}
	if err := th.Clear(dev); err != nil {
		t.Fatal(err)
	}
	if fast := timedWrite(t, th, filepath.Join(dir, "fast")); fast >= slow {
		t.Fatalf("after Clear the write took %v, no faster than %v under the limit", fast, slow)
	}
}

// timedWrite runs the writer in the group and returns how long its write
// and fsync took.
func timedWrite(t *testing.T, th *Throttle, path string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "BLOCKDISK_WRITE="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := th.Add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "go")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer: %v: %s", err, out.String())
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if err != nil {
		t.Fatalf("writer said %q", out.String())
	}
	return time.Duration(ns)
}
