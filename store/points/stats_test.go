package points

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const srcC = "6b09673a9aad6cf0447cf21f" // never written

// model is what a bucket should hold, kept by the test independently of
// the store: source -> time -> values, the last write of a pair winning.
type model map[string]map[int64][]Value

func (m model) write(pts []Point) {
	for _, p := range pts {
		if m[p.SourceID] == nil {
			m[p.SourceID] = map[int64][]Value{}
		}
		m[p.SourceID][p.TS] = p.Values
	}
}

// inRange returns the source's points in [start, end), in time order.
func (m model) inRange(src string, start, end int64) []Point {
	var out []Point
	for ts, vs := range m[src] {
		if ts >= start && ts < end {
			out = append(out, Point{SourceID: src, TS: ts, Values: vs})
		}
	}
	slices.SortFunc(out, func(a, b Point) int { return cmp.Compare(a.TS, b.TS) })
	return out
}

// floorTo is the start of the span of length d holding ts (spans start at
// the Unix epoch, as UTC hours and days do).
func floorTo(ts int64, d time.Duration) int64 {
	q := ts / int64(d)
	if ts%int64(d) != 0 && ts < 0 {
		q--
	}
	return q * int64(d)
}

// stats computes SourceStats from the model point by point.
func (m model) stats(src string, start, end int64) SourceStats {
	st := SourceStats{SourceID: src, Avg: map[string]float64{}, Min: map[string]float64{}, Max: map[string]float64{}}
	sum, n := map[string]float64{}, map[string]int{}
	for _, p := range m.inRange(src, start, end) {
		st.Count++
		h := floorTo(p.TS, time.Hour)
		if k := len(st.Hourly); k > 0 && st.Hourly[k-1].Hour == h {
			st.Hourly[k-1].Count++
		} else {
			st.Hourly = append(st.Hourly, HourCount{Hour: h, Count: 1})
		}
		for _, v := range p.Values {
			if v.Kind != KindNumber {
				continue
			}
			if n[v.Field] == 0 {
				st.Min[v.Field], st.Max[v.Field] = v.Num, v.Num
			}
			sum[v.Field] += v.Num
			n[v.Field]++
			st.Min[v.Field] = min(st.Min[v.Field], v.Num)
			st.Max[v.Field] = max(st.Max[v.Field], v.Num)
		}
	}
	for f, s := range sum {
		st.Avg[f] = s / float64(n[f])
	}
	return st
}

// statsData writes two sources' points over about 30 hours at irregular
// steps, in chunks of random size (so hours are stored in several pieces),
// rewriting some earlier points with new values; every number is a multiple
// of 0.5, so sums are exact whatever their order.
func statsData(t *testing.T, db *DB, base int64) model {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(3, 4))
	m := model{}
	var all []Point
	for _, src := range []string{srcA, srcB} {
		ts := base + int64(rng.IntN(600))*int64(time.Second)
		for ts < base+30*int64(time.Hour) {
			vs := []Value{}
			if rng.IntN(4) > 0 {
				vs = append(vs, num("h", float64(rng.IntN(200))/2))
			}
			vs = append(vs,
				Value{Field: "on", Kind: KindBool, Bool: rng.IntN(2) == 0},
				Value{Field: "s", Kind: KindString, Str: fmt.Sprint("v", rng.IntN(9))},
				num("t", float64(rng.IntN(201)-100)/2))
			all = append(all, Point{SourceID: src, TS: ts, Values: vs})
			ts += int64(7+rng.IntN(400)) * int64(time.Second)
		}
	}
	// Rewrite a point in ten: same (source, time), new values.
	for i := 0; i < len(all); i += 10 {
		p := all[i]
		p.Values = []Value{num("h", 99.5), {Field: "on", Kind: KindBool}, {Field: "s", Kind: KindString, Str: "again"}, num("t", -49.5)}
		all = append(all, p)
	}
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(60))
		if err := db.Write(context.Background(), testBucket, all[:n]); err != nil {
			t.Fatal(err)
		}
		m.write(all[:n])
		all = all[n:]
	}
	return m
}

func TestPeriodStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := time.Unix(0, base).Add(20 * 24 * time.Hour)
	db := openTest(t, dir, &now)
	defer func() { db.Close() }()
	m := statsData(t, db, base)
	lastB := slices.Max(keysOf(m[srcB]))

	at := func(d string) int64 {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		return base + int64(dur)
	}
	ranges := []struct {
		name       string
		start, end int64
	}{
		{"everything", at("-1h"), at("32h")},
		{"partial hours at both ends", at("17m13s"), at("20h3m")},
		{"whole hours", at("2h"), at("10h")},
		{"within one hour", at("3h5m"), at("3h50m")},
		{"two partial hours", at("4h30m"), at("5h15m")},
		{"up to just after the last point", at("25h59m"), lastB + 1},
		{"from the first instant of an hour", at("6h") + 1, at("7h") + 1},
		{"nothing there", at("40h"), at("41h")},
		{"one nanosecond", at("8h"), at("8h") + 1},
	}
	rng := mrand.New(mrand.NewPCG(5, 6))
	for i := 0; i < 100; i++ {
		a := at("-30m") + rng.Int64N(31*int64(time.Hour))
		ranges = append(ranges, struct {
			name       string
			start, end int64
		}{fmt.Sprint("random ", i), a, a + 1 + rng.Int64N(12*int64(time.Hour))})
	}
	check := func(t *testing.T) {
		for _, r := range ranges {
			srcs := []string{srcA, srcB, srcC}
			got, err := db.PeriodStats(ctx, Range{BucketID: testBucket, SourceIDs: srcs, Start: r.start, End: r.end})
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if len(got) != len(srcs) {
				t.Fatalf("%s: %d results for %d sources", r.name, len(got), len(srcs))
			}
			for i, src := range srcs {
				want := m.stats(src, max(r.start, now.Add(-30*24*time.Hour).UnixNano()), r.end)
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("%s, source %d:\n got %+v\nwant %+v", r.name, i, got[i], want)
				}
			}
		}
	}
	t.Run("fresh", check)
	// Reopened, every hour is compacted into one block and read from disk.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	t.Run("reopened", check)
	// Retention: the first five hours are past the cutoff, not yet swept.
	now = time.Unix(0, base).Add(30*24*time.Hour + 5*time.Hour + 7*time.Minute)
	t.Run("clamped to retention", check)
	if err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("swept", check)

	if _, err := db.PeriodStats(ctx, Range{BucketID: "nope", SourceIDs: []string{srcA}}); err == nil {
		t.Error("a malformed bucket id was accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.PeriodStats(cancelled, Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: at("0h"), End: at("1h")}); err == nil {
		t.Error("a cancelled context was not reported")
	}
}

func keysOf[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWindowsMatchPoints checks Count and Aggregate, which share the
// window code with PeriodStats (whole hours from rollups, edge hours from
// points or, when they hold all of the hour, from rollups), against the
// points themselves, over random ranges.
func TestWindowsMatchPoints(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := time.Unix(0, base).Add(20 * 24 * time.Hour)
	db := openTest(t, t.TempDir(), &now)
	defer db.Close()
	m := statsData(t, db, base)

	rng := mrand.New(mrand.NewPCG(7, 8))
	windows := []struct {
		w Window
		d time.Duration // 0: the whole range
	}{{WindowMinute, time.Minute}, {WindowHour, time.Hour}, {WindowDay, 24 * time.Hour}, {WindowAll, 0}}
	for i := 0; i < 60; i++ {
		start := base - int64(time.Hour) + rng.Int64N(31*int64(time.Hour))
		end := start + 1 + rng.Int64N(20*int64(time.Hour))
		if i%3 == 0 { // start on an hour, end after the last point
			start = floorTo(start, time.Hour)
			end = base + 40*int64(time.Hour)
		}
		r := Range{BucketID: testBucket, SourceIDs: []string{srcA, srcB}, Start: start, End: end}
		n, err := db.Count(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		want := len(m.inRange(srcA, start, end)) + len(m.inRange(srcB, start, end))
		if n != int64(want) {
			t.Errorf("range %d: Count = %d, want %d", i, n, want)
		}
		win := windows[i%len(windows)]
		for _, agg := range []Aggregation{AggAvg, AggMin, AggMax, AggSum, AggCount, AggFirst, AggLast} {
			rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: agg, Window: win.w})
			if err != nil {
				t.Fatal(err)
			}
			var wantRows []Row
			for _, src := range r.SourceIDs {
				wantRows = append(wantRows, m.aggregate(src, start, end, agg, win.d)...)
			}
			slices.SortFunc(wantRows, func(a, b Row) int {
				return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.SourceID, b.SourceID))
			})
			if len(wantRows) == 0 {
				wantRows = []Row{}
			}
			if !reflect.DeepEqual(rows, wantRows) {
				t.Errorf("range %d, window %v, %v:\n got %v\nwant %v", i, win.w, agg, rows, wantRows)
			}
		}
	}
}

// aggregate computes Aggregate's rows for one source from the model.
func (m model) aggregate(src string, start, end int64, agg Aggregation, d time.Duration) []Row {
	var out []Row
	var group []Point
	emit := func() {
		if len(group) == 0 {
			return
		}
		row := Row{SourceID: src, Start: group[0].TS, Count: int64(len(group)), Values: map[string]any{}}
		if d > 0 {
			row.Start = floorTo(group[0].TS, d)
		}
		sum, n := map[string]float64{}, map[string]int64{}
		for _, p := range group {
			for _, v := range p.Values {
				n[v.Field]++
				switch _, seen := row.Values[v.Field]; {
				case agg == AggFirst && !seen, agg == AggLast:
					row.Values[v.Field] = v.any()
				}
				if v.Kind != KindNumber {
					continue
				}
				cur, seen := row.Values[v.Field].(float64)
				switch agg {
				case AggMin:
					if !seen || v.Num < cur {
						row.Values[v.Field] = v.Num
					}
				case AggMax:
					if !seen || v.Num > cur {
						row.Values[v.Field] = v.Num
					}
				}
				sum[v.Field] += v.Num
			}
		}
		for f, c := range n {
			switch agg {
			case AggCount:
				row.Values[f] = c
			case AggSum:
				if s, ok := sum[f]; ok {
					row.Values[f] = s
				}
			case AggAvg:
				if s, ok := sum[f]; ok {
					row.Values[f] = s / float64(c)
				}
			}
		}
		out = append(out, row)
		group = nil
	}
	for _, p := range m.inRange(src, start, end) {
		if len(group) > 0 && d > 0 && floorTo(p.TS, d) != floorTo(group[0].TS, d) {
			emit()
		}
		group = append(group, p)
	}
	emit()
	return out
}

func TestBucketSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	defer func() { db.Close() }()
	const other = "6b0967389aad6cf0447cf21c"
	if got := db.BucketSize(testBucket); got != 0 {
		t.Fatalf("empty bucket size = %d", got)
	}
	if got := db.BucketSize("not an id"); got != 0 {
		t.Fatalf("malformed id size = %d", got)
	}
	base := now.Add(-48 * time.Hour).UnixNano()
	for i := 0; i < 20; i++ {
		var pts []Point
		for j := 0; j < 100; j++ {
			pts = append(pts, Point{SourceID: srcA, TS: base + int64(i*100+j)*int64(time.Minute), Values: []Value{num("t", float64(j))}})
		}
		if err := db.Write(ctx, testBucket, pts); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, other, pts[:50]); err != nil {
			t.Fatal(err)
		}
	}
	// Small buckets share their tables (or the memtable) with others: their
	// size is what their keys and values take, before compression.
	for _, stage := range []string{"in memory", "reopened"} {
		if got, want := db.BucketSize(testBucket), storedBytes(t, db.bdb, testBucket); got != want || want == 0 {
			t.Errorf("%s: BucketSize = %d, want %d", stage, got, want)
		}
		if got, want := db.BucketSize(other), storedBytes(t, db.bdb, other); got != want {
			t.Errorf("%s: other BucketSize = %d, want %d", stage, got, want)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = openTest(t, dir, &now)
	}
	db.DeleteBucket(testBucket)
	if got := db.BucketSize(testBucket); got != 0 {
		t.Errorf("deleted bucket size = %d", got)
	}
	if db.BucketSize(other) == 0 {
		t.Error("deleting a bucket emptied another")
	}
}

// TestBucketSizeOwnTables covers buckets large enough to fill SST tables of
// their own: those count by their size on disk, the rest key by key. Values
// are random, so compression changes little and the estimate must be close
// to the stored bytes.
func TestBucketSizeOwnTables(t *testing.T) {
	opts := badger.DefaultOptions(t.TempDir()).WithMemTableSize(1 << 20).WithBaseTableSize(256 << 10).
		WithLogger(nil).WithNumVersionsToKeep(1).WithValueThreshold(64 << 10)
	bdb, err := badger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	db := &DB{bdb: bdb}
	const other = "6b0967389aad6cf0447cf21c"
	// Blocks first, then rollups, so that most tables hold one kind of
	// key of one bucket.
	for _, tag := range []byte{tagBlock, tagRollup} {
		for _, bucket := range []string{testBucket, other} {
			id, _ := parseID(bucket)
			s := series{bucket: id}
			wb := bdb.NewWriteBatch()
			for i := 0; i < 4000; i++ {
				s.source[11] = byte(i % 7)
				v := make([]byte, 1000)
				if tag == tagRollup {
					v = v[:100]
				}
				rand.Read(v)
				k := s.key(tagRollup, int64(i)*hourNS)
				if tag == tagBlock {
					k = s.blockKey(int64(i)*hourNS, 0)
				}
				if err := wb.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Settled in levels below 0, tables do not overlap within a level.
	if err := bdb.Flatten(1); err != nil {
		t.Fatal(err)
	}
	// Keys still in the memtable count as stored: one before every other,
	// one rewritten among the keys of the bucket's own tables.
	if err := bdb.Update(func(txn *badger.Txn) error {
		id, _ := parseID(testBucket)
		s := series{bucket: id}
		if err := txn.Set(s.blockKey(-hourNS, 0), make([]byte, 5000)); err != nil {
			return err
		}
		s.source[11] = 3
		return txn.Set(s.blockKey(1003*hourNS, 0), make([]byte, 200_000))
	}); err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, ti := range bdb.Tables() {
		id, _ := parseID(testBucket)
		p := bucketPrefix(tagBlock, id)
		if bytes.HasPrefix(ti.Left, p) && bytes.HasPrefix(ti.Right, p) {
			owned++
		}
	}
	if owned == 0 {
		t.Fatal("no table holds only the bucket's blocks: the test does not cover them")
	}
	for _, bucket := range []string{testBucket, other} {
		got, stored := db.BucketSize(bucket), storedBytes(t, bdb, bucket)
		if math.Abs(float64(got-stored)) > 0.1*float64(stored) {
			t.Errorf("BucketSize(%s) = %d, stored bytes %d: not within 10%%", bucket, got, stored)
		}
	}
}

// storedBytes sums the lengths of the bucket's keys and values.
func storedBytes(t *testing.T, bdb *badger.DB, bucketID string) int64 {
	t.Helper()
	id, err := parseID(bucketID)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	err = bdb.View(func(txn *badger.Txn) error {
		for _, tag := range []byte{tagBlock, tagRollup} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: bucketPrefix(tag, id)})
			for it.Rewind(); it.Valid(); it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return err
				}
				n += int64(len(it.Item().Key()) + len(v))
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnionSpans(t *testing.T) {
	sp := func(lo, hi string) keySpan { return keySpan{lo: []byte(lo), hi: []byte(hi)} }
	got := unionSpans([]keySpan{sp("m", "p"), sp("a", "c"), sp("b", "d"), sp("x", "z"), sp("n", "o"), sp("d", "e")})
	want := []keySpan{sp("a", "e"), sp("m", "p"), sp("x", "z")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unionSpans = %q, want %q", got, want)
	}
	if got := unionSpans(nil); len(got) != 0 {
		t.Errorf("unionSpans(nil) = %q", got)
	}
}
