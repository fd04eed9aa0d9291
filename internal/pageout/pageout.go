package pageout

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
)

// ErrUnsupported is returned once, by Trim or Shed, when the kernel refuses
// MADV_PAGEOUT (before Linux 5.4); the Trimmer does nothing after it.
var ErrUnsupported = errors.New("the kernel does not page out on request (MADV_PAGEOUT)")

// Trimmer pages out the mappings of the files under one directory whose
// names end with one of the suffixes, on the first two Trims that find
// them: a file is mapped before it is written, and the pages its writer
// writes after the first advice would stay resident.
type Trimmer struct {
	dir      string
	suffixes []string

	mu      sync.Mutex
	pending map[mapping]struct{} // found and advised by the last Trim, advised again by the next
	done    map[mapping]struct{} // advised
	off     bool                 // the kernel refused MADV_PAGEOUT: stop trying
	taken   bool                 // the kernel has taken an advice: it has MADV_PAGEOUT
	pin     Pin                  // nil: every mapping is paged out
}

// Pin holds files mapped while the Trimmer advises: it returns which files
// (by base name) stay mapped until release is called. A held file's pages
// are dropped from the process (MADV_DONTNEED) and stay in the page cache,
// so a read that needs them again is a minor fault, not a disk read. Any
// other file is paged out (MADV_PAGEOUT), which evicts its clean pages from
// the page cache too but is safe if the file is unmapped and its range
// reused between reading /proc/self/maps and advising; dropping such a
// range would zero whatever memory had taken it.
type Pin func() (held func(name string) bool, release func())

// SetPin makes the Trimmer ask p, before each pass that advises anything,
// which files are held mapped (see Pin).
func (t *Trimmer) SetPin(p Pin) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pin = p
}

// mapping names one mapping of a file: the same file mapped again (a new
// table with a reused name, or a new range) is a new mapping.
type mapping struct {
	start, end uint64
	inode      uint64
	path       string
}

// New returns a Trimmer for the files directly in dir ending with any of
// suffixes (such as ".sst").
func New(dir string, suffixes ...string) *Trimmer {
	// The kernel names a mapped file by its absolute path, symbolic links
	// resolved.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return &Trimmer{dir: filepath.Clean(dir), suffixes: suffixes, pending: map[mapping]struct{}{}, done: map[mapping]struct{}{}}
}

// matches tells whether path is one of the Trimmer's files.
func (t *Trimmer) matches(path string) bool {
	if filepath.Dir(path) != t.dir {
		return false
	}
	for _, s := range t.suffixes {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}
