package points

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestFoldedCompactionsKeepPointsAndRollups: many small writes to a few
// hours, late and repeated points among them, so hours reach maxPieces and
// sources move on (both compactions folded into the group commit). After
// every write, and after a reopen, the counts, the hourly rollups and the
// raw points equal a model, and no hour is stored in more than maxPieces
// blocks; hours the source has left are not cached.
func TestFoldedCompactionsKeepPointsAndRollups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	db := openTest(t, dir, &now)
	base := now.Truncate(time.Hour).Add(-5 * time.Hour).UnixNano()
	rng := rand.New(rand.NewPCG(7, 13))
	model := map[int64]float64{}
	r := Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB, when string) {
		t.Helper()
		if got := db.SourcePointCount(testBucket, srcA); got != int64(len(model)) {
			t.Fatalf("%s: count = %d, want %d", when, got, len(model))
		}
		want := map[int64][2]float64{} // hour -> count, sum
		for ts, v := range model {
			h := hourOf(ts)
			w := want[h]
			want[h] = [2]float64{w[0] + 1, w[1] + v}
		}
		rows, err := db.Aggregate(ctx, AggQuery{Range: r, Aggregation: AggSum, Window: WindowHour})
		if err != nil || len(rows) != len(want) {
			t.Fatalf("%s: %d hourly rows (%v), want %d", when, len(rows), err, len(want))
		}
		for _, row := range rows {
			w := want[row.Start]
			if float64(row.Count) != w[0] || math.Abs(row.Values["v"].(float64)-w[1]) > 1e-6 {
				t.Fatalf("%s: hour %v: count %d sum %v, want %v %v", when, time.Unix(0, row.Start).UTC(), row.Count, row.Values["v"], w[0], w[1])
			}
		}
		res, err := db.Raw(ctx, RawQuery{Range: r, Limit: 100000})
		if err != nil || len(res.Points) != len(model) {
			t.Fatalf("%s: raw %d points (%v), want %d", when, len(res.Points), err, len(model))
		}
		for _, p := range res.Points {
			if v, ok := model[p.TS]; !ok || p.Values[0].Num != v {
				t.Fatalf("%s: raw point %d = %v, want %v (stored: %v)", when, p.TS, p.Values[0].Num, v, ok)
			}
		}
		err = db.bdb.View(func(txn *badger.Txn) error {
			pieces := map[int64]int{}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagBlock}})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				pieces[keyTime(it.Item().Key())]++
			}
			for h, n := range pieces {
				if n > maxPieces {
					t.Errorf("%s: hour %v in %d blocks", when, time.Unix(0, h).UTC(), n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(hour int64, n int) {
		pts := make([]Point, 0, n)
		for range n {
			ts := base + hour*int64(time.Hour) + rng.Int64N(600)*int64(time.Second)
			v := float64(rng.IntN(1000))
			pts = append(pts, Point{SourceID: srcA, TS: ts, Values: []Value{num("v", v)}})
			model[ts] = v
		}
		if err := db.Write(ctx, testBucket, pts); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		hour := int64(i / 60) // the source moves on every 60 writes, past maxPieces
		if i%7 == 3 && hour > 0 {
			hour -= 1 + int64(i%3) // a late write to an hour before
		}
		write(hour, 1+rng.IntN(40))
		check(db, "write "+time.Duration(i).String())
	}
	// Late writes to hours the source has left do not stay cached: the
	// cache holds the source's current hour, and its previous one only
	// until the current one has taken previousHourCommits writes.
	db.writeMu.Lock()
	hot := len(db.hot)
	db.writeMu.Unlock()
	if hot != 1 {
		t.Errorf("%d hours cached, want 1", hot)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, &now)
	defer db.Close()
	check(db, "reopened")
}
