package promapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// staticCatalog is one organization's buckets and sources, fixed.
type staticCatalog struct {
	buckets []store.Bucket
	sources map[string][]store.DataSource
}

func (c *staticCatalog) Buckets(orgID string, offset, limit int) ([]store.Bucket, int) {
	if offset >= len(c.buckets) {
		return nil, len(c.buckets)
	}
	return c.buckets[offset:min(len(c.buckets), offset+limit)], len(c.buckets)
}

func (c *staticCatalog) Bucket(orgID, id string) (store.Bucket, error) {
	for _, b := range c.buckets {
		if b.ID == id {
			return b, nil
		}
	}
	return store.Bucket{}, store.ErrNotFound
}

func (c *staticCatalog) Sources(bucketID string, offset, limit int) ([]store.DataSource, int) {
	all := c.sources[bucketID]
	if offset >= len(all) {
		return nil, len(all)
	}
	return all[offset:min(len(all), offset+limit)], len(all)
}

// storeAPI is an API over a real in-memory points store holding nSources
// sources of one field, a point a minute over the last two hours.
func storeAPI(t testing.TB, nSources int, cfg Config) (*API, Scope) {
	t.Helper()
	bucket := store.Bucket{ID: "65a1f0d8e4b0a1b2c3d4e5f6", Name: "b", RetentionDays: 30}
	db, err := points.Open(points.Config{InMemory: true, Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := &staticCatalog{buckets: []store.Bucket{bucket}, sources: map[string][]store.DataSource{}}
	now := time.Now().Truncate(time.Minute)
	var pts []points.Point
	for i := range nSources {
		id := fmt.Sprintf("65a1f0d8e4b0a1b2c3%06x", i)
		cat.sources[bucket.ID] = append(cat.sources[bucket.ID], store.DataSource{ID: id, BucketID: bucket.ID, Name: fmt.Sprintf("s%d", i),
			Schema: map[string]store.Field{"v": {Type: "number"}, "note": {Type: "string"}}})
		for m := 120; m > 0; m-- {
			pts = append(pts, points.Point{SourceID: id, TS: now.Add(-time.Duration(m) * time.Minute).UnixNano(),
				Values: []points.Value{{Field: "v", Kind: points.KindNumber, Num: float64(m % 13)}}})
		}
	}
	for len(pts) > 0 {
		n := min(len(pts), 10_000)
		if err := db.Write(context.Background(), bucket.ID, pts[:n]); err != nil {
			t.Fatal(err)
		}
		pts = pts[n:]
	}
	cfg.Catalog, cfg.Points = cat, db
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, Scope{OrgID: "org"}
}
