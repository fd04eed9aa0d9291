package peerrpc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store/points"
)

// FuzzDecodeWrite: any body either decodes to a batch that encodes back to
// the same bytes, or is refused; never a panic.
func FuzzDecodeWrite(f *testing.F) {
	good, err := peerrpc.EncodeWrite(peerrpc.WriteLive, bucket, []points.Point{point(1, 2)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("h" + bucket))
	f.Add([]byte("w"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := peerrpc.DecodeWrite(body)
		if err != nil {
			return
		}
		if w.Kind != peerrpc.WriteLive && w.Kind != peerrpc.WriteHistory || len(w.BucketID) != 24 {
			t.Fatalf("decoded %+v", w)
		}
		if _, err := peerrpc.EncodeWrite(w.Kind, w.BucketID, w.Points); err != nil {
			t.Fatalf("a decoded batch does not encode: %v", err)
		}
	})
}

// FuzzPointsHandler: any body gets 200 with JSON, or a 4xx/503, never a
// panic or a 500.
func FuzzPointsHandler(f *testing.F) {
	db, err := points.Open(points.Config{
		InMemory:  true,
		Retention: func(string) (time.Duration, bool) { return time.Hour, true },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	h := peerrpc.PointsHandler(peerrpc.PointsConfig{
		DB:          db,
		WaitApplied: func(context.Context, uint64) error { return nil },
		InSync:      func(context.Context, peerrpc.PointsRequest) bool { return true },
	})
	for _, seed := range []string{
		`{"op":"ping"}`, `{"op":"raw","raw":{"BucketID":"` + bucket + `","Start":0,"End":100}}`,
		`{"op":"count","range":{"BucketID":"` + bucket + `","Start":5,"End":1}}`, `{"op":"hour","bucket":"x","hour":-1}`,
		`{"op":"finest","range":{"BucketID":"` + bucket + `"},"maxRows":-3}`, `{"op":"lastpoint"}`, `{`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a := h(ctx, body)
		switch {
		case a.Status == http.StatusOK:
			if !json.Valid(a.Body) {
				t.Fatalf("200 with %q", a.Body)
			}
		case a.Status >= 400 && a.Status < 500, a.Status == http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d: %s", a.Status, a.Body)
		}
	})
}
