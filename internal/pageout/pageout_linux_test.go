package pageout

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

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
	// The first trim that finds a table pages it out.
	if advised, err := tr.Trim(); err != nil || advised != size {
		t.Fatalf("the trim that first found the table advised %d bytes (%v), want %d", advised, err, size)
	}
	if r := pageouttest.Resident(t, table); r > 0.1 {
		t.Errorf("after the first trim the table is %.0f%% resident", r*100)
	}
	if r := pageouttest.Resident(t, other); r < 0.9 {
		t.Errorf("a file the trimmer does not own is %.0f%% resident after the trim", r*100)
	}
	// Its writer may still be at work: pages written after the first trim
	// stay in the process until the second. (Counted in the process's
	// mapping, smaps: writing a page evicted reads it back, and readahead
	// brings its neighbours into the page cache, not into the process.)
	mapped := func() int64 { return mappedRSS(t, tr, table) }
	for i := range size / 2 {
		table[i] = byte(i)
	}
	if n := mapped(); n < size*4/10 {
		t.Fatalf("after writing half the table again %d bytes of it are in the process, want about %d", n, size/2)
	}
	if advised, err := tr.Trim(); err != nil || advised != size {
		t.Fatalf("the second trim advised %d bytes (%v), want the table's %d", advised, err, size)
	}
	if n := mapped(); n > size/10 {
		t.Errorf("after the second trim %d bytes of the table are in the process", n)
	}

	// Read back whole: the contents are the file's, and the pages a read
	// brought in stay through the trims after the first two.
	for i := range table {
		if table[i] != byte(i) {
			t.Fatalf("byte %d reads %d after the trim, want %d", i, table[i], byte(i))
		}
	}
	if advised, err := tr.Trim(); err != nil || advised != 0 {
		t.Fatalf("a trim after the table's two advised %d bytes (%v), want none", advised, err)
	}
	if r := pageouttest.Resident(t, table); r < 0.9 {
		t.Errorf("pages read after the table's trims are %.0f%% resident after the next", r*100)
	}

	// A table written later is trimmed by the first two calls that find it.
	second := pageouttest.WriteMapped(t, filepath.Join(dir, "000002.sst"), size)
	if advised, err := tr.Trim(); err != nil || advised != size {
		t.Fatalf("the trim that first found a new table advised %d bytes (%v), want %d", advised, err, size)
	}
	if r := pageouttest.Resident(t, second); r > 0.1 {
		t.Errorf("the new table is %.0f%% resident after its trim", r*100)
	}
	if advised, err := tr.Trim(); err != nil || advised != size {
		t.Fatalf("the second trim of a new table advised %d bytes (%v), want %d", advised, err, size)
	}
	if advised, err := tr.Trim(); err != nil || advised != 0 {
		t.Fatalf("a third trim of a table advised %d bytes (%v), want none", advised, err)
	}
}

// mappedRSS is how many bytes of data's mapping are resident in this
// process (its Rss in smaps).
func mappedRSS(t *testing.T, tr *Trimmer, data []byte) int64 {
	t.Helper()
	resident, err := tr.residentMappings()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resident {
		if r.start == uint64(uintptr(unsafe.Pointer(&data[0]))) {
			return r.rss
		}
	}
	return 0
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

func TestShedPagesOutTheMostResidentFirst(t *testing.T) {
	dir := pageouttest.DiskDir(t)
	const size = 4 << 20
	a := pageouttest.WriteMapped(t, filepath.Join(dir, "000001.sst"), size)
	b := pageouttest.WriteMapped(t, filepath.Join(dir, "000002.sst"), size)
	c := pageouttest.WriteMapped(t, filepath.Join(dir, "000003.sst"), size)
	other := pageouttest.WriteMapped(t, filepath.Join(dir, "000001.vlog"), size)
	tr := New(dir, ".sst")

	// Within the budget nothing moves.
	if found, shed, err := tr.Shed(3 * size); err != nil || shed != 0 || found < 3*size*9/10 {
		t.Fatalf("Shed with every table within the budget found %d bytes and shed %d (%v), want the three tables' %d and none", found, shed, err, 3*size)
	}
	if r := pageouttest.Resident(t, a); r < 0.9 {
		t.Fatalf("a table within the budget is %.0f%% resident after Shed", r*100)
	}
	if _, shed, err := tr.Shed(0); err != nil || shed < 3*size*9/10 {
		t.Fatalf("Shed(0) shed %d bytes (%v), want the three tables' %d", shed, err, 3*size)
	}
	for i, table := range [][]byte{a, b, c} {
		if r := pageouttest.Resident(t, table); r > 0.1 {
			t.Fatalf("table %d is %.0f%% resident after Shed(0)", i+1, r*100)
		}
	}
	if r := pageouttest.Resident(t, other); r < 0.9 {
		t.Errorf("a file the trimmer does not own is %.0f%% resident after Shed(0)", r*100)
	}

	// Reads fault pages back: all of a, a quarter of b, a sixteenth of c.
	// Over a budget of a quarter table, a goes; what is left fits.
	read := func(table []byte, n int) {
		for i := 0; i < n; i += 4096 {
			if table[i] != byte(i) {
				t.Fatalf("byte %d reads %d, want %d", i, table[i], byte(i))
			}
		}
	}
	read(a, size)
	read(b, size/4)
	read(c, size/16)
	found, shed, err := tr.Shed(size / 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(size + size/4 + size/16); found < want*9/10 || found > want*12/10 {
		t.Errorf("Shed found %d resident bytes, want about the %d read", found, want)
	}
	if shed < size*9/10 || shed > size {
		t.Errorf("Shed shed %d bytes, want the most resident table's %d", shed, size)
	}
	if r := pageouttest.Resident(t, a); r > 0.1 {
		t.Errorf("the most resident table is %.0f%% resident after Shed", r*100)
	}
	if r := pageouttest.Resident(t, b); r < 0.2 {
		t.Errorf("a table within the budget once the largest went is %.0f%% resident, want its quarter read", r*100)
	}
	if r := pageouttest.Resident(t, c); r < 0.05 {
		t.Errorf("a table within the budget once the largest went is %.1f%% resident, want its sixteenth read", r*100)
	}
}

func TestParseSmaps(t *testing.T) {
	const smaps = `c000000000-c004000000 rw-p 00000000 00:00 0
Size:              65536 kB
Rss:               40000 kB
VmFlags: rd wr mr mw me ac sd
7f0c8a000000-7f0c8e000000 r--s 00000000 fd:01 1234 /data/points/000012.sst
Size:              65536 kB
KernelPageSize:        4 kB
Rss:                2048 kB
Pss:                2048 kB
VmFlags: rd sh mr mw me ms sd
7f0c8e000000-7f0c8f000000 r--s 00000000 fd:01 1235 /data/points/000013.sst
Size:              16384 kB
Rss:                   0 kB
7f0c8f000000-7f0c90000000 rw-s 00000000 fd:01 1236 /data/points/00001.mem
Rss:               16384 kB
7f0c90000000-7f0c91000000 r--s 00000000 fd:01 1237 /data/points/000009.sst (deleted)
Rss:                4096 kB
7f0c91000000-7f0c92000000 r--s 00000000 fd:01 1238 /data/points/000014.sst
Rss:                  12 kB
7f0c92000000-7f0c93000000 r--s 00000000 fd:01 1239 /data/points/000015.sst
Rss:                 abc kB
7f0c93000000-7f0c94000000 r--s 00000000 fd:01 1240 /data/points/000016.sst
Rss:                  64 MB
`
	tr := New("/data/points", ".sst")
	got, err := tr.parseSmaps(strings.NewReader(smaps))
	if err != nil {
		t.Fatal(err)
	}
	want := []residentMapping{
		{mapping{start: 0x7f0c8a000000, end: 0x7f0c8e000000, inode: 1234, path: "/data/points/000012.sst"}, 2048 << 10},
		{mapping{start: 0x7f0c91000000, end: 0x7f0c92000000, inode: 1238, path: "/data/points/000014.sst"}, 12 << 10},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseSmaps = %+v\nwant %+v", got, want)
	}
}

// BenchmarkShed: one look over a process with a few hundred mapped tables,
// all within the budget (the store's trimmer makes one four times a second).
func BenchmarkShed(b *testing.B) {
	dir := pageouttest.DiskDir(b)
	for i := range 300 {
		pageouttest.WriteMapped(b, filepath.Join(dir, fmt.Sprintf("%06d.sst", i)), 64<<10)
	}
	tr := New(dir, ".sst")
	for b.Loop() {
		if _, _, err := tr.Shed(1 << 40); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFileResidentCountsMappedPages(t *testing.T) {
	before, err := FileResident()
	if err != nil {
		t.Fatal(err)
	}
	const size = 16 << 20
	pageouttest.WriteMapped(t, filepath.Join(pageouttest.DiskDir(t), "000001.sst"), size)
	after, err := FileResident()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < size*9/10 {
		t.Errorf("file-backed RSS grew by %d bytes with a %d-byte file written through a mapping", after-before, size)
	}
}

func TestParseRssFile(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         int64
		ok           bool
	}{
		{"present", "Name:\tdakkio\nRssAnon:\t  1000 kB\nRssFile:\t  2048 kB\nRssShmem:\t 0 kB\n", 2048 << 10, true},
		{"missing", "Name:\tdakkio\nRssAnon:\t  1000 kB\n", 0, false},
		{"not a number", "RssFile:\t  many kB\n", 0, false},
		{"other unit", "RssFile:\t  2 MB\n", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRssFile([]byte(tc.status))
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseRssFile(%q) = %d, %v; want %d, ok %v", tc.status, got, err, tc.want, tc.ok)
			}
		})
	}
}

// TestHeldFilesLeaveTheProcessNotThePageCache: a file the Pin holds is
// dropped from the process and stays in the page cache; one it does not
// hold is paged out of both. Each pass that advises pins once and releases
// what it pinned; one that advises nothing does not pin.
func TestHeldFilesLeaveTheProcessNotThePageCache(t *testing.T) {
	dir := pageouttest.DiskDir(t)
	const size = 4 << 20
	heldPath, otherPath := filepath.Join(dir, "000001.sst"), filepath.Join(dir, "000002.sst")
	held := pageouttest.WriteMapped(t, heldPath, size)
	other := pageouttest.WriteMapped(t, otherPath, size)
	tr := New(dir, ".sst")
	pins, releases := 0, 0
	tr.SetPin(func() (func(string) bool, func()) {
		pins++
		return func(name string) bool { return name == "000001.sst" }, func() { releases++ }
	})
	mapped := func(data []byte) int64 { return mappedRSS(t, tr, data) }
	check := func(when string) {
		t.Helper()
		if n := mapped(held); n > size/10 {
			t.Errorf("%s: %d bytes of the held file are still mapped in the process", when, n)
		}
		if r := pageouttest.Cached(t, heldPath); r < 0.9 {
			t.Errorf("%s: the held file is %.0f%% in the page cache, want it kept", when, r*100)
		}
		if r := pageouttest.Cached(t, otherPath); r > 0.1 {
			t.Errorf("%s: the file not held is %.0f%% in the page cache, want it paged out", when, r*100)
		}
		if pins != releases {
			t.Errorf("%s: pinned %d times, released %d", when, pins, releases)
		}
	}

	if advised, err := tr.Trim(); err != nil || advised != 2*size {
		t.Fatalf("the first trim advised %d bytes (%v), want both files' %d", advised, err, 2*size)
	}
	if pins != 1 {
		t.Errorf("a trim that advised two files pinned %d times, want once", pins)
	}
	check("after the trim")
	if advised, err := tr.Trim(); err != nil || advised != 2*size || pins != 2 {
		t.Fatalf("the second trim advised %d bytes (%v) and pinned %d times in all, want both files' %d and 2", advised, err, pins, 2*size)
	}
	if _, err := tr.Trim(); err != nil || pins != 2 {
		t.Fatalf("a trim that advises nothing pinned (%d in all, %v)", pins, err)
	}

	// Read back whole (the contents are the file's) and shed: the same.
	for _, data := range [][]byte{held, other} {
		for i := range data {
			if data[i] != byte(i) {
				t.Fatalf("byte %d reads %d after the trim, want %d", i, data[i], byte(i))
			}
		}
	}
	if mapped(held) < size*9/10 {
		t.Fatalf("the held file read whole is %d bytes mapped, want %d", mapped(held), size)
	}
	if _, shed, err := tr.Shed(0); err != nil || shed < 2*size*9/10 {
		t.Fatalf("Shed(0) shed %d bytes (%v), want both files' %d", shed, err, 2*size)
	}
	if pins != 3 {
		t.Errorf("after two trims and a shed that advised, pinned %d times, want 3", pins)
	}
	check("after the shed")
}
