package peerrpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store/points"
)

const (
	bucket = "65a4f0c2a1b2c3d4e5000001"
	source = "65a4f0c2a1b2c3d4e5000002"
)

var key = nodeauth.DeriveKey("a cluster key of the tests", nodeauth.PurposeRPC)

// peer is a node's internal side on a real listener: the signature checked
// as httpapi checks it, then the call handed to a peerrpc.Server over a
// real points store.
type peer struct {
	db      *points.DB
	applied atomic.Uint64 // the Raft index WaitApplied waits for
	writes  atomic.Int64  // batches taken by the write handler
	url     string
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	db, err := points.Open(points.Config{
		Dir:       t.TempDir(),
		Retention: func(string) (time.Duration, bool) { return 100 * 365 * 24 * time.Hour, true },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := &peer{db: db}
	srv := peerrpc.NewServer(peerrpc.Handlers{
		Apply: func(_ context.Context, body []byte) peerrpc.Answer {
			return peerrpc.Answer{Status: http.StatusOK, Index: 42, Body: append([]byte("applied:"), body...)}
		},
		ReadIndex: func(_ context.Context, body []byte) peerrpc.Answer {
			// The asking node names itself.
			if req, err := peerrpc.DecodeReadIndex(body); err != nil || req.Node != "n1" {
				return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(fmt.Sprintf("asked by %q (%v)", req.Node, err))}
			}
			return peerrpc.Answer{Status: http.StatusOK, Index: 7, Body: []byte("{}")}
		},
		Write: func(ctx context.Context, body []byte) peerrpc.Answer {
			w, err := peerrpc.DecodeWrite(body)
			if err != nil {
				return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
			}
			if err := db.Write(ctx, w.BucketID, w.Points); err != nil {
				return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
			}
			p.writes.Add(1)
			return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
		},
		Points: peerrpc.PointsHandler(peerrpc.PointsConfig{
			DB: db,
			WaitApplied: func(ctx context.Context, index uint64) error {
				if p.applied.Load() < index {
					return errors.New("not applied")
				}
				return nil
			},
			InSync: func(_ context.Context, r peerrpc.PointsRequest) bool { return r.Covers().BucketID == bucket },
		}),
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		target := nodeauth.Target(r.URL.Path, r.URL.RawQuery)
		if err := nodeauth.Verify(key, r.Header.Get(nodeauth.HeaderName), r.Method, target, body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		a := srv.Serve(r.Context(), r.URL.Path, body)
		if a.Index > 0 {
			w.Header().Set(peerrpc.IndexHeader, strconv.FormatUint(a.Index, 10))
		}
		w.WriteHeader(a.Status)
		w.Write(a.Body)
	}))
	t.Cleanup(hs.Close)
	p.url = hs.Listener.Addr().String()
	return p
}

func newClient(t *testing.T, k []byte, peers map[string]*peer) *peerrpc.Client {
	t.Helper()
	c, err := peerrpc.NewClient(peerrpc.Config{Key: k, HTTP: http.DefaultClient, Resolve: func(id string) string {
		if p, ok := peers[id]; ok {
			return p.url
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func point(ts int64, v float64) points.Point {
	return points.Point{SourceID: source, TS: ts, Values: []points.Value{{Field: "t", Kind: points.KindNumber, Num: v}}}
}

// TestCalls: every call, typed on both ends, through a real listener with
// the signature checked.
func TestCalls(t *testing.T) {
	p := startPeer(t)
	c := newClient(t, key, map[string]*peer{"n2": p})
	ctx := context.Background()
	hour := int64(time.Hour)
	batch := []points.Point{point(10*hour+1, 1.5), point(10*hour+2, 2.5), point(11*hour, 3.5)}

	body, err := peerrpc.EncodeWrite(peerrpc.WriteLive, bucket, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, "n2", body); err != nil || p.writes.Load() != 1 {
		t.Fatalf("Write = %v, %d batches stored; want nil, 1", err, p.writes.Load())
	}
	if out, index, err := c.Apply(ctx, "n2", []byte("cmd")); err != nil || string(out) != "applied:cmd" || index != 42 {
		t.Fatalf("Apply = %q, %d, %v; want \"applied:cmd\", 42, nil", out, index, err)
	}
	if index, err := c.ReadIndex(ctx, "n2", "n1"); err != nil || index != 7 {
		t.Fatalf("ReadIndex = %d, %v; want 7", index, err)
	}
	if err := c.Ping(ctx, "n2"); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	p.applied.Store(5)
	if err := c.WaitApplied(ctx, "n2", 5); err != nil {
		t.Fatalf("WaitApplied(5) with 5 applied: %v", err)
	}
	var se *peerrpc.StatusError
	if err := c.WaitApplied(ctx, "n2", 6); !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("WaitApplied(6) with 5 applied = %v, want a 503", err)
	}
	all := points.Range{BucketID: bucket, SourceIDs: []string{source}, Start: 0, End: math.MaxInt64}
	digests, err := c.Digests(ctx, "n2", all)
	if err != nil || len(digests) != 2 {
		t.Fatalf("Digests = %+v, %v; want two hours", digests, err)
	}
	hourPts, err := c.HourPoints(ctx, "n2", bucket, source, digests[0].Hour)
	if err != nil || len(hourPts) != 2 {
		t.Fatalf("HourPoints = %+v, %v; want the first hour's two points", hourPts, err)
	}
	a, err := c.Read(ctx, "n2", peerrpc.PointsRequest{Op: peerrpc.OpCount, Range: &all})
	if err != nil || !a.InSync || string(a.Result) != "3" {
		t.Fatalf("Read(count) = %+v (%s), %v; want 3 in sync", a, a.Result, err)
	}
	a, err = c.Read(ctx, "n2", peerrpc.PointsRequest{Op: peerrpc.OpBucketCount, Bucket: "65a4f0c2a1b2c3d4e5000009"})
	if err != nil || a.InSync || string(a.Result) != "0" {
		t.Fatalf("Read(bucketcount) of another bucket = %+v (%s), %v; want 0 out of sync", a, a.Result, err)
	}
}

// TestCallErrors: what a call returns when it cannot be made or is refused.
func TestCallErrors(t *testing.T) {
	p := startPeer(t)
	ctx := context.Background()
	c := newClient(t, key, map[string]*peer{"n2": p})
	var se *peerrpc.StatusError
	for _, tc := range []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{"node not alive", func() error { return c.Ping(ctx, "n9") }, func(err error) bool { return errors.Is(err, peerrpc.ErrNotAlive) }},
		{"no leader named", func() error { _, err := c.ReadIndex(ctx, "", "n1"); return err }, func(err error) bool { return errors.Is(err, peerrpc.ErrNotAlive) }},
		{"missing arguments are a bad query", func() error {
			_, err := c.Read(ctx, "n2", peerrpc.PointsRequest{Op: peerrpc.OpRaw})
			return err
		}, func(err error) bool { return errors.Is(err, points.ErrBadQuery) }},
		{"unknown op is a bad query", func() error {
			_, err := c.Read(ctx, "n2", peerrpc.PointsRequest{Op: "teleport"})
			return err
		}, func(err error) bool { return errors.Is(err, points.ErrBadQuery) }},
		{"bad write", func() error { return c.Write(ctx, "n2", []byte("x")) }, func(err error) bool {
			return errors.As(err, &se) && se.Status == http.StatusBadRequest
		}},
		{"signed with another key", func() error {
			return newClient(t, nodeauth.DeriveKey("another cluster key!", nodeauth.PurposeRPC), map[string]*peer{"n2": p}).Ping(ctx, "n2")
		}, func(err error) bool { return errors.As(err, &se) && se.Status == http.StatusUnauthorized }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !tc.check(err) {
				t.Fatalf("error = %v", err)
			}
		})
	}
	srv := peerrpc.NewServer(peerrpc.Handlers{})
	if a := srv.Serve(ctx, peerrpc.PathApply, nil); a.Status != http.StatusNotFound {
		t.Fatalf("a server without an Apply handler answered %d, want 404", a.Status)
	}
	if got := len(peerrpc.NewServer(peerrpc.Handlers{Write: func(context.Context, []byte) peerrpc.Answer { return peerrpc.Answer{} }}).Paths()); got != 1 {
		t.Fatalf("Paths of a one-handler server: %d", got)
	}
}
