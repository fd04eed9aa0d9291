package pageout

import (
	"path/filepath"
	"strings"
	"sync"
)

// Trimmer pages out the mappings of the files under one directory whose
// names end with one of the suffixes, once each.
type Trimmer struct {
	dir      string
	suffixes []string

	mu   sync.Mutex
	seen map[mapping]struct{} // mappings already paged out, as of the last Trim
	off  bool                 // the kernel refused MADV_PAGEOUT: stop trying
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
	return &Trimmer{dir: filepath.Clean(dir), suffixes: suffixes, seen: map[mapping]struct{}{}}
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
