package replication

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// TestHintStore: hints queue per target in order, their bytes add up to
// the bound and a hint past it is dropped (counted), the queue is rebuilt
// with the same counts after a restart, and removing or dropping a queue
// brings its counts back to zero.
func TestHintStore(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	batch := func(ts int64) []points.Point {
		return []points.Point{{SourceID: "6b0990ecf6fffd09dc560b85", TS: ts, Values: []points.Value{{Field: "v", Kind: points.KindNumber, Num: 1}}}}
	}
	open := func(maxBytes int64) *Hints {
		h, err := OpenHints(HintsConfig{Dir: dir, MaxBytes: maxBytes, MaxAge: time.Hour, Now: clock, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	status := func(h *Hints, target string) HintQueueStatus {
		for _, st := range h.Status() {
			if st.Target == target {
				return st
			}
		}
		return HintQueueStatus{Target: target}
	}

	h := open(1 << 20)
	for i := range 3 {
		if err := h.Add("n2", "6b0990ecf6fffd09dc560b84", batch(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	one := status(h, "n2").Bytes / 3
	if st := status(h, "n2"); st.Hints != 3 || st.Bytes <= 0 || st.Oldest == nil || !st.Oldest.Equal(now) {
		t.Fatalf("after 3 hints: %+v", st)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with room for exactly one more hint.
	h = open(4 * one)
	defer h.Close()
	before := status(h, "n2")
	if before.Hints != 3 || before.Bytes != 3*one {
		t.Fatalf("rebuilt after a restart: %+v, want 3 hints of %d bytes", before, 3*one)
	}
	if err := h.Add("n2", "6b0990ecf6fffd09dc560b84", batch(3)); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("n2", "6b0990ecf6fffd09dc560b84", batch(4)); !errors.Is(err, ErrHintsFull) {
		t.Fatalf("a hint past the bound: %v, want ErrHintsFull", err)
	}
	if st := status(h, "n2"); st.Hints != 4 || st.Dropped != 1 {
		t.Fatalf("after the bound: %+v, want 4 hints and 1 dropped", st)
	}

	got, err := h.Next("n2", 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("Next: %d hints, %v", len(got), err)
	}
	for i, hn := range got {
		if hn.Points[0].TS != int64(i) {
			t.Fatalf("hint %d holds the point of %d: not in order", i, hn.Points[0].TS)
		}
	}
	if err := h.Remove("n2", got[:2], true); err != nil {
		t.Fatal(err)
	}
	if st := status(h, "n2"); st.Hints != 2 || st.Bytes != 2*one || st.Replayed != 2 {
		t.Fatalf("after replaying 2: %+v, want 2 hints of %d bytes", st, 2*one)
	}
	if err := h.Remove("n2", got[2:], false); err != nil {
		t.Fatal(err)
	}
	if st := status(h, "n2"); st.Hints != 0 || st.Bytes != 0 || st.Dropped != 3 {
		t.Fatalf("after expiring the rest: %+v, want an empty queue and 3 dropped", st)
	}

	// A removed node's queue goes whole.
	if err := h.Add("n3", "6b0990ecf6fffd09dc560b84", batch(5)); err != nil {
		t.Fatal(err)
	}
	if err := h.Drop("n3"); err != nil {
		t.Fatal(err)
	}
	if st := status(h, "n3"); st.Hints != 0 || st.Bytes != 0 || st.Dropped != 1 {
		t.Fatalf("after Drop: %+v", st)
	}
	if left, err := h.Next("n3", 10); err != nil || len(left) != 0 {
		t.Fatalf("hints left after Drop: %d, %v", len(left), err)
	}
	if p := h.Pending(); len(p) != 0 {
		t.Fatalf("targets still pending: %v", p)
	}
}
