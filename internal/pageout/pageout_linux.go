package pageout

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4).
const madvPageout = 21

// Trim pages out every matching mapping it finds for the first time, and
// again those the previous Trim found, and returns how many bytes of
// mappings it advised. A file is mapped before it is written: the pages
// its writer writes after the first advice are handed back by the second.
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
	pass := t.newPass()
	defer pass.end()
	pending := make(map[mapping]struct{})
	done := make(map[mapping]struct{}, len(t.done))
	for _, m := range current {
		if _, ok := t.done[m]; ok {
			done[m] = struct{}{}
			continue
		}
		ok, err := pass.advise(m)
		if err != nil {
			return advised, err
		}
		if ok {
			advised += int64(m.end - m.start)
		}
		if _, seen := t.pending[m]; seen {
			done[m] = struct{}{}
		} else {
			pending[m] = struct{}{}
		}
	}
	// Only mappings still there are remembered, so both sets stay as small
	// as the store's tables.
	t.pending, t.done = pending, done
	return advised, nil
}

// pass is the advice of one Trim or Shed: at its first advice it asks the
// Trimmer's Pin which files are held, and releases them at its end. Most
// passes advise nothing and pin nothing.
type pass struct {
	t       *Trimmer
	asked   bool
	held    func(name string) bool
	release func()
}

func (t *Trimmer) newPass() *pass { return &pass{t: t} }

func (p *pass) advise(m mapping) (bool, error) {
	if !p.asked && p.t.pin != nil {
		p.held, p.release = p.t.pin()
		p.asked = true
	}
	if p.held != nil && p.held(filepath.Base(m.path)) {
		return drop(m), nil
	}
	return p.t.advise(m)
}

func (p *pass) end() {
	if p.release != nil {
		p.release()
	}
}

// drop unmaps the pages of a mapping held mapped (Pin) from the process,
// leaving them in the page cache, and tells whether the kernel agreed.
func drop(m mapping) bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED)
	return errno == 0
}

// advise asks the kernel to page out one mapping and tells whether it
// agreed. EINVAL before any advice was taken means the kernel lacks
// MADV_PAGEOUT: the Trimmer stops, with ErrUnsupported. After one was
// taken, EINVAL means the range was unmapped and reused for memory that
// cannot be paged out (locked, say) since /proc listed it, and only that
// mapping is skipped; so is ENOMEM (unmapped). Pages the kernel keeps cost
// memory, never data.
func (t *Trimmer) advise(m mapping) (bool, error) {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), madvPageout)
	switch {
	case errno == 0:
		t.taken = true
		return true, nil
	case errno == unix.EINVAL && !t.taken:
		t.off = true
		return false, ErrUnsupported
	default:
		return false, nil
	}
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

// Shed pages out the matching mappings with the most resident pages until
// the pages resident in all of them come to at most budget bytes. It
// returns the resident bytes it found and those it advised away (the
// kernel keeps pages still under writeback, so an advised mapping may not
// have shrunk yet). Unlike Trim it looks at every mapping each time: pages
// that reads fault back in (a compaction reading its inputs through, or
// queries) count against the budget too.
func (t *Trimmer) Shed(budget int64) (found, shed int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.off {
		return 0, 0, nil
	}
	resident, err := t.residentMappings()
	if err != nil {
		return 0, 0, err
	}
	for _, r := range resident {
		found += r.rss
	}
	if found <= budget {
		return found, 0, nil
	}
	// The most resident first: a table a compaction read through, or one
	// just written, rather than the few pages each of many tables that
	// queries keep using.
	slices.SortFunc(resident, func(a, b residentMapping) int { return cmp.Compare(b.rss, a.rss) })
	pass := t.newPass()
	defer pass.end()
	left := found
	for _, r := range resident {
		if left <= budget {
			break
		}
		ok, err := pass.advise(r.mapping)
		if err != nil {
			return found, shed, err
		}
		if ok {
			left -= r.rss
			shed += r.rss
		}
	}
	return found, shed, nil
}

// residentMapping is a mapping and how many bytes of it are resident in
// this process (its Rss in smaps).
type residentMapping struct {
	mapping
	rss int64
}

// residentMappings lists this process's mappings of the Trimmer's files
// that have resident pages, from /proc/self/smaps.
func (t *Trimmer) residentMappings() ([]residentMapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return t.parseSmaps(f)
}

// parseSmaps reads smaps: a maps line heads each mapping, followed by
// "Key: value" lines, of which Rss is the one wanted.
func (t *Trimmer) parseSmaps(r io.Reader) ([]residentMapping, error) {
	var out []residentMapping
	current, ours := mapping{}, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if isMapsHeader(line) {
			m, ok := parseMapsLine(line)
			current, ours = m, ok && t.matches(m.path)
			continue
		}
		if !ours || !bytes.HasPrefix(line, []byte("Rss:")) {
			continue
		}
		fields := bytes.Fields(line[len("Rss:"):])
		if len(fields) != 2 || string(fields[1]) != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err == nil && kb > 0 {
			out = append(out, residentMapping{mapping: current, rss: kb << 10})
		}
		ours = false
	}
	return out, sc.Err()
}

// isMapsHeader tells a mapping's first line in smaps ("start-end perms
// ...") from the lines about it ("Rss:  12 kB"): only the first starts
// with a hexadecimal address range.
func isMapsHeader(line []byte) bool {
	i := bytes.IndexByte(line, '-')
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FileResident is how many bytes of file-backed memory this process has
// resident (RssFile in /proc/self/status): a cheap look, unlike Shed's
// walk over every mapping, to tell whether one is worth making.
func FileResident() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseRssFile(data)
}

// parseRssFile finds "RssFile:  1234 kB" in the text of /proc/<pid>/status.
func parseRssFile(data []byte) (int64, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("RssFile:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 2 && string(fields[1]) == "kB" {
			if kb, err := strconv.ParseInt(string(fields[0]), 10, 64); err == nil {
				return kb << 10, nil
			}
		}
		break
	}
	return 0, errors.New("no RssFile in /proc/self/status")
}
