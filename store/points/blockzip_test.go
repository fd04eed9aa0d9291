package points

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/options"
)

// TestSealedBlocksReadBack: every codec stores a block that decodes to the
// same points, compressed when that saves room and as it is otherwise.
func TestSealedBlocksReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var sensor, noise block
	for i := range 360 {
		sensor = append(sensor, Point{TS: int64(i) * 10e9, Values: []Value{num("t", 20+float64(i%9)/10), num("h", 55)}})
		meta := make([]byte, 64)
		for j := range meta {
			meta[j] = byte(rng.Uint32())
		}
		noise = append(noise, Point{TS: int64(i), Values: []Value{num("x", rng.Float64())}, Metadata: meta})
	}
	small := sensor[:2]
	for _, c := range []string{"snappy", "zstd", "none"} {
		z, err := newBlockZip(c)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string]block{"sensor": sensor, "noise": noise, "small": small} {
			plain := encodeBlock(nil, b)
			stored := z.seal([]byte("prefix"), plain)
			if !bytes.HasPrefix(stored, []byte("prefix")) {
				t.Fatalf("%s %s: seal lost what dst held", c, name)
			}
			stored = stored[len("prefix"):]
			wantZipped := c != "none" && name == "sensor"
			if isZipped(stored) != wantZipped {
				t.Errorf("%s %s: compressed %v (%d of %d bytes), want %v", c, name, isZipped(stored), len(stored), len(plain), wantZipped)
			}
			if !wantZipped && !bytes.Equal(stored, plain) {
				t.Errorf("%s %s: stored differs from the plain block", c, name)
			}
			got, err := decodeBlock(stored, nil, false)
			if err != nil {
				t.Fatalf("%s %s: %v", c, name, err)
			}
			if !reflect.DeepEqual(got, b) {
				t.Fatalf("%s %s: read back %d points, not the %d written", c, name, len(got), len(b))
			}
		}
	}
	// A block past what reads decompress is stored as it is, so that it
	// reads back: an hour of many points with large metadata.
	huge := make([]byte, maxPlainBlock+1)
	for _, c := range []string{"snappy", "zstd"} {
		z, _ := newBlockZip(c)
		if stored := z.seal(nil, huge); isZipped(stored) || len(stored) != len(huge) {
			t.Errorf("%s: a block of %d bytes was compressed; reads refuse it", c, len(huge))
		}
	}
	if _, err := newBlockZip("lz4"); err == nil {
		t.Fatal("unknown compression accepted")
	}
}

// TestReadsTablesOfEarlierReleases: a store whose tables Badger compressed
// itself (every release before blocks were compressed by the writer) reads
// back whole, and takes new writes, under the current options.
func TestReadsTablesOfEarlierReleases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	hour := now.Truncate(time.Hour).UnixNano()
	pts := func(from, n int) []Point {
		var out []Point
		for i := from; i < from+n; i++ {
			out = append(out, Point{SourceID: srcA, TS: hour - 6*int64(time.Hour) + int64(i)*int64(time.Second), Values: []Value{num("v", float64(i%50)/10)}})
		}
		return out
	}
	badgerCompression = options.Snappy
	t.Cleanup(func() { badgerCompression = options.None })
	old := openTest(t, dir, &now)
	if err := old.Write(ctx, testBucket, pts(0, 5000)); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil { // flushes to a snappy table
		t.Fatal(err)
	}
	badgerCompression = options.None
	db := openTest(t, dir, &now)
	defer db.Close()
	if len(db.bdb.Tables()) == 0 {
		t.Fatal("the earlier release's points are not in a table")
	}
	if err := db.Write(ctx, testBucket, pts(5000, 5000)); err != nil {
		t.Fatal(err)
	}
	var got []Point
	for h := hour - 6*int64(time.Hour); h < hour; h += int64(time.Hour) {
		b, err := db.HourPoints(ctx, testBucket, srcA, h)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if want := pts(0, 10000); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read back %d points, want the %d written", len(got), len(want))
	}
}
