package blockdisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// blkioRoot is where the cgroup v1 blkio hierarchy is mounted.
const blkioRoot = "/sys/fs/cgroup/blkio"

// Throttle is a cgroup whose processes' I/O to chosen block devices the
// kernel limits (cgroup v1 blkio throttling). Limits are per device, so one
// group serves every node: slowing a node is limiting its own disk.
type Throttle struct{ dir string }

// Limits are a device's ceilings; 0 is no limit.
type Limits struct {
	ReadBPS, WriteBPS   uint64 // bytes per second
	ReadIOPS, WriteIOPS uint64 // operations per second
}

func (l Limits) String() string {
	return fmt.Sprintf("read %d KiB/s %d IOPS, write %d KiB/s %d IOPS", l.ReadBPS>>10, l.ReadIOPS, l.WriteBPS>>10, l.WriteIOPS)
}

// NewThrottle creates (or reuses) the group named tag.
func NewThrottle(tag string) (*Throttle, error) {
	if _, err := os.Stat(filepath.Join(blkioRoot, "blkio.throttle.write_bps_device")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 blkio throttling at %s (a kernel with CONFIG_BLK_DEV_THROTTLING and the blkio hierarchy mounted is needed): %w", blkioRoot, err)
	}
	dir := filepath.Join(blkioRoot, tag)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	return &Throttle{dir: dir}, nil
}

// Add moves process pid (all its threads) into the group.
func (t *Throttle) Add(pid int) error {
	return t.write("cgroup.procs", strconv.Itoa(pid))
}

// Limit sets dev's ceilings for the group's processes.
func (t *Throttle) Limit(dev string, l Limits) error {
	id, err := devID(dev)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		file string
		v    uint64
	}{
		{"blkio.throttle.read_bps_device", l.ReadBPS},
		{"blkio.throttle.write_bps_device", l.WriteBPS},
		{"blkio.throttle.read_iops_device", l.ReadIOPS},
		{"blkio.throttle.write_iops_device", l.WriteIOPS},
	} {
		// Writing 0 removes the rule.
		if err := t.write(s.file, id+" "+strconv.FormatUint(s.v, 10)); err != nil {
			return err
		}
	}
	return nil
}

// Clear removes dev's ceilings.
func (t *Throttle) Clear(dev string) error { return t.Limit(dev, Limits{}) }

// Remove deletes the group; the kernel refuses while it has processes.
func (t *Throttle) Remove() error {
	if err := os.Remove(t.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (t *Throttle) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(t.dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("blkio %s %q: %w", file, value, err)
	}
	return nil
}

// devID is a block device's "major:minor", as sysfs gives it.
func devID(dev string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(dev), "dev"))
	if err != nil {
		return "", fmt.Errorf("%s is not a block device the kernel lists: %w", dev, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// RemoveThrottle deletes the group named tag if it is there (what a
// crashed run left); the kernel refuses while it has processes.
func RemoveThrottle(tag string) error {
	return (&Throttle{dir: filepath.Join(blkioRoot, tag)}).Remove()
}
