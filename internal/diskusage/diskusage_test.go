package diskusage

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSparseFileCountsItsBlocks: a value log is a sparse file of a large
// apparent size; Dir must report the few blocks it uses, not its length.
func TestSparseFileCountsItsBlocks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "000001.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // 1 GiB apparent
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "000002.sst"), make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("m"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.ValueLog < 4096 || u.ValueLog > 1<<20 {
		t.Errorf("value log = %d bytes on disk, want its few written blocks (4 KiB..1 MiB), not its 1 GiB length", u.ValueLog)
	}
	if u.Tables < 64<<10 {
		t.Errorf("tables = %d, want at least 64 KiB", u.Tables)
	}
	if u.Other <= 0 || u.Total() != u.Tables+u.ValueLog+u.Other {
		t.Errorf("other = %d, total = %d", u.Other, u.Total())
	}
}

func TestMissingDirIsAnError(t *testing.T) {
	if _, err := Dir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Dir of a missing directory succeeded")
	}
}
