// Package blockdisk gives a chaos-suite node its data on a real block
// device of bounded size: an ext4 filesystem in a loop device backed by a
// sparse image file. It can be filled to ENOSPC like any disk, and, unlike a
// tmpfs, its I/O goes through the kernel's block layer, so the block
// throttle of a cgroup (Throttle) can make it slow: reads, fsyncs and the
// writes a process itself submits wait their turn, as on a failing or
// saturated disk.
//
// Everything it creates is named after a tag, so that Cleanup removes what
// a crashed run left without touching anything else.
package blockdisk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// imagePath is the sparse file behind dir's filesystem.
func imagePath(dir, tag string) string { return dir + "." + tag + ".img" }

// Mount puts an ext4 filesystem of size bytes, in a loop device, at dir
// (created), unless one is already mounted there; it returns the device.
// A new filesystem reserves no blocks for root, so that filling it as root
// reaches ENOSPC as any writer would.
func Mount(ctx context.Context, dir, tag string, size int64) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if dev, err := Device(abs); err != nil || dev != "" {
		return dev, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", err
	}
	img := imagePath(abs, tag)
	if _, err := os.Stat(img); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		err = f.Truncate(size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = run(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", img)
		}
		if err != nil {
			_ = os.Remove(img)
			return "", err
		}
	}
	out, err := exec.CommandContext(ctx, "losetup", "--find", "--show", img).Output()
	if err != nil {
		return "", fmt.Errorf("losetup %s: %w", img, exitDetail(err))
	}
	dev := strings.TrimSpace(string(out))
	if err := run(ctx, "mount", "-t", "ext4", dev, abs); err != nil {
		_ = run(context.Background(), "losetup", "-d", dev)
		return "", err
	}
	return dev, os.Chmod(abs, 0o700)
}

// Device returns the loop device mounted at dir, or "" if none is.
func Device(dir string) (string, error) {
	mounts, err := loopMounts()
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		if m.dir == dir {
			return m.dev, nil
		}
	}
	return "", nil
}

// Cleanup unmounts and detaches every loop device whose image carries tag.
func Cleanup(ctx context.Context, tag string) error {
	out, err := exec.CommandContext(ctx, "losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		return fmt.Errorf("losetup --list: %w", exitDetail(err))
	}
	mounts, err := loopMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		dev, back, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || !strings.Contains(back, "."+tag+".img") {
			continue
		}
		for _, m := range mounts {
			if m.dev == dev {
				// Lazy: a node killed a moment ago may still hold it.
				if err := run(ctx, "umount", "-l", m.dir); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := run(ctx, "losetup", "-d", dev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type loopMount struct{ dev, dir string }

// loopMounts lists the filesystems mounted from loop devices.
func loopMounts() ([]loopMount, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []loopMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && strings.HasPrefix(fields[0], "/dev/loop") {
			// /proc/mounts escapes spaces as \040.
			out = append(out, loopMount{dev: fields[0], dir: strings.ReplaceAll(fields[1], `\040`, " ")})
		}
	}
	return out, sc.Err()
}

func run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
