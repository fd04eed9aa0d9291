package pageout

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dakkio/dakkio/internal/pageout/pageouttest"
)

func TestTrimPagesOutNewTablesOnce(t *testing.T) {
	dir := pageouttest.DiskDir(t)
	const size = 4 << 20
	table := pageouttest.WriteMapped(t, filepath.Join(dir, "000001.sst"), size)
	other := pageouttest.WriteMapped(t, filepath.Join(dir, "000001.vlog"), size)
	// Named through a symbolic link, as a data directory may be.
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	tr := New(link, ".sst")
	// The first trim that finds a table leaves it: its writer may be at work.
	if advised, err := tr.Trim(); err != nil || advised != 0 {
		t.Fatalf("the trim that first found the table advised %d bytes (%v), want none yet", advised, err)
	}
	if r := pageouttest.Resident(t, table); r < 0.9 {
		t.Errorf("after the first trim the table is %.0f%% resident, want it left alone", r*100)
	}
	advised, err := tr.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if advised != size {
		t.Fatalf("advised %d bytes, want the table's %d", advised, size)
	}
	if r := pageouttest.Resident(t, table); r > 0.1 {
		t.Errorf("after a trim the table is %.0f%% resident", r*100)
	}
	if r := pageouttest.Resident(t, other); r < 0.9 {
		t.Errorf("a file the trimmer does not own is %.0f%% resident after the trim", r*100)
	}

	// Read back whole: the contents are the file's, and the pages a read
	// brought in stay through the next trim.
	for i := range table {
		if table[i] != byte(i) {
			t.Fatalf("byte %d reads %d after the trim, want %d", i, table[i], byte(i))
		}
	}
	if advised, err := tr.Trim(); err != nil || advised != 0 {
		t.Fatalf("a trim after the table's advised %d bytes (%v), want none", advised, err)
	}
	if r := pageouttest.Resident(t, table); r < 0.9 {
		t.Errorf("pages read after the table's trim are %.0f%% resident after the next", r*100)
	}

	// A table written later is trimmed on the second call that finds it.
	second := pageouttest.WriteMapped(t, filepath.Join(dir, "000002.sst"), size)
	if advised, err := tr.Trim(); err != nil || advised != 0 {
		t.Fatalf("the trim that first found a new table advised %d bytes (%v), want none yet", advised, err)
	}
	if advised, err := tr.Trim(); err != nil || advised != size {
		t.Fatalf("trimming a new table advised %d bytes (%v), want %d", advised, err, size)
	}
	if r := pageouttest.Resident(t, second); r > 0.1 {
		t.Errorf("the new table is %.0f%% resident after its trim", r*100)
	}
}

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       mapping
		ok         bool
	}{
		{"table", "7f0c8a000000-7f0c8e000000 r--s 00000000 fd:01 1234 /data/points/000012.sst",
			mapping{start: 0x7f0c8a000000, end: 0x7f0c8e000000, inode: 1234, path: "/data/points/000012.sst"}, true},
		{"space in path", "1000-2000 rw-s 00000000 fd:01 9 /data/my points/000001.sst",
			mapping{start: 0x1000, end: 0x2000, inode: 9, path: "/data/my points/000001.sst"}, true},
		{"two spaces in path", "1000-2000 rw-s 00000000 fd:01 9                          /data/my  points/000001.sst",
			mapping{start: 0x1000, end: 0x2000, inode: 9, path: "/data/my  points/000001.sst"}, true},
		{"anonymous", "c000000000-c004000000 rw-p 00000000 00:00 0", mapping{}, false},
		{"pseudo", "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]", mapping{}, false},
		{"bad address", "zz-2000 r--s 00000000 fd:01 9 /a.sst", mapping{}, false},
		{"empty range", "2000-2000 r--s 00000000 fd:01 9 /a.sst", mapping{}, false},
		{"short", "1000-2000 r--s", mapping{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseMapsLine([]byte(tc.line))
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	tr := New("/data/points", ".sst")
	for path, want := range map[string]bool{
		"/data/points/000001.sst":           true,
		"/data/points/000001.vlog":          false,
		"/data/points/sub/000001.sst":       false,
		"/data/points/000001.sst (deleted)": false,
		"/data/other/000001.sst":            false,
	} {
		if got := tr.matches(path); got != want {
			t.Errorf("matches(%q) = %v, want %v", path, got, want)
		}
	}
}
