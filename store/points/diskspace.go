package points

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrDiskFull: the data filesystem has less free space than the store
// keeps in reserve, so the write is refused before it reaches Badger.
// Badger writes its memtable log through a memory map of a sparse file: on
// a full filesystem the first store into a page not yet allocated raises
// SIGBUS and kills the process (found by the chaos suite's disk nemesis).
// Refusing writes while free space is short keeps those pages from being
// needed; the reserve also lets the last memtable be flushed.
var ErrDiskFull = errors.New("not enough free disk space to store more points")

// defaultMinFree is Config.MinFreeBytes's default: room for the memtables
// to be flushed, and a margin.
const defaultMinFree = numMemtables*memTableSize + 32<<20

// DefaultMinFree is the reserve a node keeps on its data filesystem.
const DefaultMinFree = defaultMinFree

// CheckFree returns ErrDiskFull (wrapped) when the filesystem under dir has
// less than reserve bytes available; nil when it has, or cannot tell.
// Other Badger stores of a node (its hints) use it too.
func CheckFree(dir string, reserve int64) error {
	if reserve <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // cannot tell: let Badger try
	}
	if avail := int64(st.Bavail) * int64(st.Bsize); avail < reserve {
		return fmt.Errorf("%w: %d MiB free in %s, %d MiB kept in reserve", ErrDiskFull, avail>>20, dir, reserve>>20)
	}
	return nil
}

// checkSpace refuses a write when the store's filesystem is short of space.
func (db *DB) checkSpace() error { return CheckFree(db.cfg.Dir, db.minFree) }
