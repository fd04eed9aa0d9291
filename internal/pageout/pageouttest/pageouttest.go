//go:build linux

// Package pageouttest writes files through a shared mapping, as Badger
// writes its tables, and tells how much of a mapping is in memory: what
// tests of package pageout and of its users need.
package pageouttest

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DiskDir is a new directory on a disk-backed filesystem: the pages of a
// file in tmpfs have nowhere to go, and the kernel keeps them. It is in
// $TMPDIR, or in the package's directory when $TMPDIR is tmpfs.
func DiskDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if !inTmpfs(t, dir) {
		return dir
	}
	dir, err := os.MkdirTemp(".", "pageout-test-")
	if err != nil {
		t.Fatalf("$TMPDIR is tmpfs and the package directory takes no files: %v; set TMPDIR to a directory on disk", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if dir, err = filepath.Abs(dir); err != nil {
		t.Fatal(err)
	}
	if inTmpfs(t, dir) {
		t.Fatal("both $TMPDIR and the package directory are tmpfs, where pages cannot be paged out; set TMPDIR to a directory on disk")
	}
	return dir
}

func inTmpfs(t testing.TB, dir string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.TMPFS_MAGIC
}

// WriteMapped makes a new file of size bytes at path, maps it shared,
// fills it with byte(i) at offset i and writes it back with msync, as
// Badger's CreateTable does. The mapping is undone at the test's end.
func WriteMapped(t testing.TB, path string, size int) []byte {
	t.Helper()
	data := WriteMappedDirty(t, path, size)
	if err := unix.Msync(data, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	if r := Resident(t, data); r < 0.9 {
		t.Fatalf("a file just written is %.0f%% resident; the test cannot tell a page-out from none", r*100)
	}
	return data
}

// WriteMappedDirty is WriteMapped without the msync, as Badger writes a
// memtable's write-ahead file: the pages stay dirty.
func WriteMappedDirty(t testing.TB, path string, size int) []byte {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(data) })
	for i := range data {
		data[i] = byte(i)
	}
	return data
}

// Resident is the fraction of a mapping's pages in memory (mincore).
func Resident(t testing.TB, data []byte) float64 {
	t.Helper()
	page := os.Getpagesize()
	vec := make([]byte, (len(data)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}

// Cached is the fraction of a file's pages in the page cache, whether or
// not any process has them mapped: mincore on a fresh mapping of the file,
// which has no page of its own yet, looks them up in the page cache.
func Cached(t testing.TB, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	return Resident(t, data)
}
