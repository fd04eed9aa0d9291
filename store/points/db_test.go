package points

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

const (
	testBucket = "6b0967389aad6cf0447cf21b"
	srcA       = "6b09673a9aad6cf0447cf21d"
	srcB       = "6b09673a9aad6cf0447cf21e"
)

func openTest(t *testing.T, dir string, now *time.Time) *DB {
	t.Helper()
	db, err := Open(Config{
		Dir:       dir,
		Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true },
		Now:       func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func num(field string, f float64) Value { return Value{Field: field, Kind: KindNumber, Num: f} }

func TestWriteQueryReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var pts []Point
	var sum float64
	for i := 0; i < 1000; i++ {
		v := float64(i%97) + 0.25
		sum += v
		pts = append(pts, Point{SourceID: srcA, TS: base + int64(i)*int64(10*time.Second), Values: []Value{num("t", v), {Field: "s", Kind: KindString, Str: "x"}}})
	}
	if err := db.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	// Re-sending the same points changes no count.
	if err := db.Write(ctx, testBucket, pts[:10]); err != nil {
		t.Fatal(err)
	}
	if got := db.BucketPointCount(testBucket); got != 1000 {
		t.Fatalf("count = %d, want 1000", got)
	}
	// An overwrite with a new value changes the aggregate, not the count.
	over := pts[5]
	over.Values = []Value{num("t", 1000)}
	if err := db.Write(ctx, testBucket, []Point{over}); err != nil {
		t.Fatal(err)
	}
	sum += 1000 - pts[5].Values[0].Num
	check := func(db *DB) {
		t.Helper()
		r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: math.MinInt64, End: math.MaxInt64}
		n, err := db.Count(ctx, r)
		if err != nil || n != 1000 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggSum, Window: WindowAll})
		if err != nil || len(rows) != 1 {
			t.Fatalf("Aggregate = %v, %v", rows, err)
		}
		if got := rows[0].Values["t"].(float64); math.Abs(got-sum) > 1e-6 {
			t.Fatalf("sum = %v, want %v", got, sum)
		}
		if _, ok := rows[0].Values["s"]; ok {
			t.Fatalf("sum included a string field")
		}
		res, err := db.Raw(ctx, RawQuery{Range: r, Limit: 3, Offset: 4})
		if err != nil || res.Total != 1000 || len(res.Points) != 3 {
			t.Fatalf("Raw = %+v, %v", res, err)
		}
		if res.Points[1].TS != pts[5].TS || len(res.Points[1].Values) != 1 || res.Points[1].Values[0].Num != 1000 {
			t.Fatalf("overwritten point = %+v", res.Points[1])
		}
		// Half-open: a range ending at a point's time excludes it.
		r2 := r
		r2.Start, r2.End = pts[0].TS, pts[10].TS
		if n, _ := db.Count(ctx, r2); n != 10 {
			t.Fatalf("half-open count = %d", n)
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	check(db)
	// Retention: move the clock so the first 500 points (5000 s) expire.
	now = time.Unix(0, pts[500].TS).Add(30 * 24 * time.Hour)
	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: math.MinInt64, End: math.MaxInt64}
	if n, _ := db.Count(ctx, r); n != 500 {
		t.Fatalf("count after expiry before sweep = %d", n)
	}
	if err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := db.BucketPointCount(testBucket); got != 500 {
		t.Fatalf("stored after sweep = %d", got)
	}
	if got := db.DeleteBucket(testBucket); got != 500 {
		t.Fatalf("DeleteBucket = %d", got)
	}
	if n, _ := db.Count(ctx, r); n != 0 {
		t.Fatalf("count after delete = %d", n)
	}
}

func TestNumberEncodingRoundTrip(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 21.37, -0.01, 0.1, 1e300, math.SmallestNonzeroFloat64, 123456789.123, 1.0 / 3, math.Copysign(0, -1), 9007199254740993} {
		// Alone in a block, beside a short decimal, and as a rollup value.
		for _, b := range []block{
			{{TS: 1, Values: []Value{num("x", f)}}},
			{{TS: 1, Values: []Value{num("x", 21.5)}}, {TS: 2, Values: []Value{num("x", f)}}},
		} {
			got, err := decodeBlock(encodeBlock(nil, b), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if v := got[len(got)-1].Values[0].Num; math.Float64bits(v) != math.Float64bits(f) {
				t.Errorf("%v came back from a block as %v", f, v)
			}
		}
		v := num("x", f)
		d := decoder{b: appendValue(nil, &v)}
		var back Value
		d.value(&back)
		if d.err != nil || math.Float64bits(back.Num) != math.Float64bits(f) {
			t.Errorf("%v came back from a rollup as %v (%v)", f, back.Num, d.err)
		}
	}
}

// TestRawPagingBothWays pages through points spread over hours, sources and
// several blocks per hour, in both orders, and checks every point comes back
// exactly once.
func TestRawPagingBothWays(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	base := time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC).UnixNano()
	var want []int64
	for i := 0; i < 262; i++ {
		src := []string{srcA, srcB}[i%2]
		ts := base + int64(i)*int64(47*time.Second)
		want = append(want, ts)
		// One point per write: each hour is stored in several blocks.
		if err := db.Write(ctx, testBucket, []Point{{SourceID: src, TS: ts, Values: []Value{num("t", float64(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, desc := range []bool{false, true} {
		var got []int64
		for off := 0; ; off += 37 {
			res, err := db.Raw(ctx, RawQuery{Range: Range{BucketID: testBucket, SourceIDs: []string{srcA, srcB}, Start: base, End: want[len(want)-1] + 1}, Offset: off, Limit: 37, Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != int64(len(want)) {
				t.Fatalf("total = %d", res.Total)
			}
			for _, p := range res.Points {
				got = append(got, p.TS)
			}
			if len(res.Points) < 37 {
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("desc=%v: got %d points, want %d", desc, len(got), len(want))
		}
		for i := range got {
			w := want[i]
			if desc {
				w = want[len(want)-1-i]
			}
			if got[i] != w {
				t.Fatalf("desc=%v: point %d at %d, want %d", desc, i, got[i], w)
			}
		}
	}
}

func idN(i int) string { return fmt.Sprintf("6b09673a9aad6cf0%08x", i) }

func seq(src string, from int64, n int) []Point {
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{SourceID: src, TS: from + int64(i)*int64(time.Second), Values: []Value{num("t", float64(i%50)+0.5)}}
	}
	return out
}

// TestManySourcesCrossTheHour: when a few thousand sources with hours in
// pieces move on to the next hour in one write, the compactions that follow
// must not make the write (or any later one) fail: they run after the
// points commit, one transaction an hour.
func TestManySourcesCrossTheHour(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	hour := now.Truncate(time.Hour).Add(-2 * time.Hour).UnixNano()
	const sources = 2000
	var batch []Point
	for i := 0; i < sources; i++ {
		src := idN(i)
		// Two writes: the hour is stored in two pieces.
		if err := db.Write(ctx, testBucket, seq(src, hour, 500)); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, testBucket, seq(src, hour+1000*int64(time.Second), 1)); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, seq(src, hour+int64(time.Hour), 1)...)
	}
	if err := db.Write(ctx, testBucket, batch); err != nil {
		t.Fatalf("write across the hour: %v", err)
	}
	if err := db.Write(ctx, testBucket, seq(idN(sources), hour, 1)); err != nil {
		t.Fatalf("a later write: %v", err)
	}
	if got, want := db.BucketPointCount(testBucket), int64(sources*502+1); got != want {
		t.Fatalf("count = %d, want %d", got, want)
	}
}

// TestUnknownBucketIsNotSwept: a bucket the metadata does not know yet (the
// Raft log still replaying) keeps its points through a sweep.
func TestUnknownBucketIsNotSwept(t *testing.T) {
	ctx := context.Background()
	known := true
	db, err := Open(Config{Dir: t.TempDir(), Retention: func(string) (time.Duration, bool) { return 24 * time.Hour, known }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, testBucket, seq(srcA, time.Now().Add(-time.Hour).UnixNano(), 100)); err != nil {
		t.Fatal(err)
	}
	known = false
	if err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := db.SourcePointCount(testBucket, srcA); got != 100 {
		t.Fatalf("points after a sweep with the bucket unknown = %d, want 100", got)
	}
}

func TestOpenRefusesUnknownCompression(t *testing.T) {
	for _, c := range []string{"", "snappy", "zstd", "none"} {
		db, err := Open(Config{Dir: t.TempDir(), Compression: c, Retention: func(string) (time.Duration, bool) { return time.Hour, true }})
		if err != nil {
			t.Fatalf("compression %q: %v", c, err)
		}
		db.Close()
	}
	if _, err := Open(Config{Dir: t.TempDir(), Compression: "lz4", Retention: func(string) (time.Duration, bool) { return time.Hour, true }}); err == nil {
		t.Fatal("compression lz4 accepted")
	}
}

// TestRawTotal checks a page's total against Count whether the walk of the
// page passed every point in range (no count needed) or stopped at the
// limit, and that decoded values and metadata come back as written.
func TestRawTotal(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	base := time.Date(2026, 3, 1, 0, 40, 0, 0, time.UTC).UnixNano()
	const n, every = 1000, int64(10 * time.Second)
	var pts []Point
	for i := range n {
		for _, src := range []string{srcA, srcB} {
			p := Point{SourceID: src, TS: base + int64(i)*every, Values: []Value{num("a", float64(i)), num("b", -float64(i)/4)}}
			if i%3 == 0 {
				p.Metadata = []byte(fmt.Sprintf(`{"i":%d}`, i))
			}
			pts = append(pts, p)
		}
	}
	if err := db.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		sources       []string
		from, to      int // point indexes, [from, to)
		offset, limit int
		desc          bool
	}{
		{"page is the whole range", []string{srcA}, 0, n, 0, 1000, false},
		{"page larger than the range", []string{srcA}, 100, 350, 0, 1000, false},
		{"page smaller than the range", []string{srcA}, 100, 350, 0, 249, false},
		{"page of one", []string{srcA}, 5, 700, 0, 1, true},
		{"two sources, whole range", []string{srcA, srcB}, 10, 400, 0, 1000, false},
		{"two sources, cut by the limit", []string{srcA, srcB}, 10, 400, 0, 779, true},
		{"offset within", []string{srcA, srcB}, 10, 400, 500, 100, false},
		{"offset past the end", []string{srcA}, 10, 400, 390, 100, false},
		{"empty range", []string{srcA}, 0, 0, 0, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Range{BucketID: testBucket, SourceIDs: tc.sources, Start: base + int64(tc.from)*every, End: base + int64(tc.to)*every}
			want, err := db.Count(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if want != int64(len(tc.sources)*(tc.to-tc.from)) {
				t.Fatalf("Count = %d", want)
			}
			res, err := db.Raw(ctx, RawQuery{Range: r, Offset: tc.offset, Limit: tc.limit, Desc: tc.desc})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != want {
				t.Errorf("total = %d, want %d", res.Total, want)
			}
			if wantLen := min(int64(tc.limit), max(0, want-int64(tc.offset))); int64(len(res.Points)) != wantLen {
				t.Errorf("%d points, want %d", len(res.Points), wantLen)
			}
			for _, p := range res.Points {
				i := int((p.TS - base) / every)
				if len(p.Values) != 2 || p.Values[0].Num != float64(i) || p.Values[1].Num != -float64(i)/4 {
					t.Fatalf("point %d: values %v", i, p.Values)
				}
				wantMeta := ""
				if i%3 == 0 {
					wantMeta = fmt.Sprintf(`{"i":%d}`, i)
				}
				if string(p.Metadata) != wantMeta || cap(p.Metadata) != len(p.Metadata) || cap(p.Values) != len(p.Values) {
					t.Fatalf("point %d: metadata %q (cap %d), values cap %d", i, p.Metadata, cap(p.Metadata), cap(p.Values))
				}
			}
		})
	}
}
