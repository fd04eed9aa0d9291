package points

import (
	"context"
	"testing"
	"time"
)

// TestChangeMark: a write changes the mark of the spans holding its
// points and of no other; a deleted bucket's marks change.
func TestChangeMark(t *testing.T) {
	db, err := Open(Config{InMemory: true, Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const bucket, src = "65a1f0d8e4b0a1b2c3d4e5f6", "65a1f0d8e4b0a1b2c3d4e5f7"
	h := time.Now().Truncate(time.Hour).Add(-3 * time.Hour).UnixNano()
	write := func(ts int64) {
		t.Helper()
		if err := db.Write(context.Background(), bucket, []Point{{SourceID: src, TS: ts, Values: []Value{{Field: "v", Kind: KindNumber, Num: 1}}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(h)
	before, other := db.ChangeMark(bucket, h, h+hourNS), db.ChangeMark(bucket, h+2*hourNS, h+3*hourNS)
	write(h + 30*minuteNS) // a late point in the first hour
	if db.ChangeMark(bucket, h, h+hourNS) == before {
		t.Error("a write into the span left its mark unchanged")
	}
	if db.ChangeMark(bucket, h+2*hourNS, h+3*hourNS) != other {
		t.Error("a write outside the span changed its mark")
	}
	// The next hour's first minute is outside [h, h+1h) but not [h, h+1h+1ms).
	edge := db.ChangeMark(bucket, h, h+hourNS+1)
	write(h + hourNS + 10*int64(time.Second))
	if db.ChangeMark(bucket, h, h+hourNS+1) == edge {
		t.Error("a write in the first minute after the span, within its end, left the mark unchanged")
	}
	if db.ChangeMark(bucket, h+2*hourNS, h+3*hourNS) != other {
		t.Error("a write outside the span changed its mark")
	}
	m := db.ChangeMark(bucket, h+2*hourNS, h+3*hourNS)
	db.DeleteBucket(bucket)
	if db.ChangeMark(bucket, h+2*hourNS, h+3*hourNS) == m {
		t.Error("deleting the bucket left its marks unchanged")
	}
}
