package pageout

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4).
const madvPageout = 21

// Trim pages out every matching mapping that the previous Trim found and
// that is not paged out yet, and returns how many bytes of mappings it
// advised. Mappings found for the first time wait for the next Trim.
func (t *Trimmer) Trim() (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.off {
		return 0, nil
	}
	current, err := t.mappings()
	if err != nil {
		return 0, err
	}
	var advised int64
	pending := make(map[mapping]struct{})
	done := make(map[mapping]struct{}, len(t.done))
	for _, m := range current {
		if _, ok := t.done[m]; ok {
			done[m] = struct{}{}
			continue
		}
		if _, ok := t.pending[m]; !ok {
			pending[m] = struct{}{}
			continue
		}
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), madvPageout)
		switch errno {
		case 0:
			advised += int64(m.end - m.start)
		case unix.EINVAL:
			t.off = true
			return advised, ErrUnsupported
		default:
			// ENOMEM: unmapped since /proc listed it. Anything else: the
			// pages stay, which costs memory, not data.
		}
		done[m] = struct{}{}
	}
	// Only mappings still there are remembered, so both sets stay as small
	// as the store's tables.
	t.pending, t.done = pending, done
	return advised, nil
}

// mappings lists this process's mappings of the Trimmer's files.
func (t *Trimmer) mappings() ([]mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Bytes()); ok && t.matches(m.path) {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapsLine reads one line of /proc/self/maps:
// "start-end perms offset dev inode path".
func parseMapsLine(line []byte) (mapping, bool) {
	fields := bytes.Fields(line)
	if len(fields) < 6 || fields[5][0] != '/' {
		return mapping{}, false
	}
	lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
	if !ok {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	inode, err3 := strconv.ParseUint(string(fields[4]), 10, 64)
	if errors.Join(err1, err2, err3) != nil || end <= start {
		return mapping{}, false
	}
	return mapping{start: start, end: end, inode: inode, path: pathField(line)}, true
}

// pathField is the rest of a maps line after its first five fields, as
// the kernel wrote it: a path may hold spaces (a deleted file's ends with
// " (deleted)").
func pathField(line []byte) string {
	rest := line
	for range 5 {
		rest = bytes.TrimLeft(rest, " \t")
		if i := bytes.IndexAny(rest, " \t"); i >= 0 {
			rest = rest[i:]
		} else {
			return ""
		}
	}
	return string(bytes.TrimLeft(rest, " \t"))
}
