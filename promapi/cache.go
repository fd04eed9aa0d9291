package promapi

import (
	"container/list"
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// resultCache keeps, per range query (scope, text, step and step phase),
// the values of its completed steps: those older than the grace, whose
// windows reach no further back than the retention of every bucket in
// scope. A cached step is served again only while
//   - the scope's catalog (buckets, sources, fields, tags) is the same,
//   - every bucket's change mark over the data the steps read is the
//     same: a late point, a replaced one or a retention sweep changes it,
//   - its window still starts after the retention cutoff (retention can
//     be shortened at any time), and
//   - it is younger than CacheMaxAge.
//
// Steps outside the cached span are evaluated and stitched in: PromQL
// evaluates each step on its own, so the parts join exactly.
type resultCache struct {
	mu       sync.Mutex
	max      int // entries
	maxCells int // values held, over every entry
	cells    int
	entries  map[string]*list.Element
	lru      *list.List // of *cacheEntry, most recent first
}

// cacheCells bounds the values the cache holds (about 9 bytes each).
const cacheCells = 4 << 20

type cacheEntry struct {
	key      string
	catalog  uint64
	marks    []string
	from, to int64 // the cached steps, inclusive
	step     int64
	made     time.Time
	series   []cachedSeries
	cells    int
}

type cachedSeries struct {
	lbls labels.Labels
	vals []float64 // one per step from..to
	has  []bool
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, maxCells: cacheCells, entries: make(map[string]*list.Element), lru: list.New()}
}

func (c *resultCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

// put keeps e in place of its key's entry; an entry larger than a
// quarter of the cache is not kept (nor is the entry it replaces).
func (c *resultCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		c.remove(el)
	}
	if e.cells > c.maxCells/4 {
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	c.cells += e.cells
	for c.lru.Len() > c.max || c.cells > c.maxCells {
		c.remove(c.lru.Back())
	}
}

func (c *resultCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.key)
	c.cells -= e.cells
}

// reach is how far a query's steps look back (the widest offset plus
// range or lookback) and forward (minus the smallest offset), in ms.
func reach(e parser.Expr) (back, fwd int64) {
	back, fwd = 0, 0
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			vs := n.VectorSelector.(*parser.VectorSelector)
			back = max(back, offsetMS(vs)+n.Range.Milliseconds())
			fwd = max(fwd, -offsetMS(vs))
		case *parser.VectorSelector:
			if len(path) > 0 {
				if _, inRange := path[len(path)-1].(*parser.MatrixSelector); inRange {
					return nil
				}
			}
			back = max(back, offsetMS(n)+lookbackMS)
			fwd = max(fwd, -offsetMS(n))
		}
		return nil
	})
	return back, fwd
}

// catalogSum fingerprints the scope's series and their homes.
func catalogSum(cat *catalog) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, s := range cat.series {
		h.Write([]byte(s.bucketID))
		h.Write([]byte(s.sourceID))
		binary.LittleEndian.PutUint64(b[:], s.lbls.Hash())
		h.Write(b[:])
	}
	return h.Sum64()
}

// marks reads each bucket's change mark over the data of steps [from, to];
// nil when a bucket's is unknown (no replica answered), so that nothing is
// cached or reused on it.
func (a *API) marks(cat *catalog, from, to, back, fwd int64) []string {
	ids := make([]string, 0, len(cat.buckets))
	for id := range cat.buckets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	start, end := nsRange(from-back-1, to+fwd)
	out := make([]string, len(ids))
	for i, id := range ids {
		m := a.cfg.Points.ChangeMark(id, start, end)
		if m == "" {
			return nil
		}
		out[i] = id + "=" + m
	}
	return out
}

// cachedRange evaluates a range query through the cache.
func (a *API) cachedRange(ctx context.Context, sc Scope, cat *catalog, q queryParams) (vector, string, error) {
	now := a.cfg.Now()
	back, fwd := reach(q.expr)
	// Steps whose windows lie after every bucket's retention cutoff and
	// before the grace may be cached.
	cutoff := int64(-1 << 62)
	for _, days := range cat.retention {
		cutoff = max(cutoff, now.Add(-time.Duration(days)*24*time.Hour).UnixMilli())
	}
	safeFrom := q.start
	if lo := cutoff + back + 1; lo > safeFrom {
		safeFrom = q.start + ceilDiv(lo-q.start, q.step)*q.step
	}
	safeTo := q.start + floorDiv(now.Add(-a.cfg.CacheGrace).UnixMilli()-fwd-q.start, q.step)*q.step
	safeTo = min(safeTo, q.end)
	key := strconv.Quote(sc.OrgID+"/"+sc.BucketID) + q.text + "|" + strconv.FormatInt(q.step, 10) + "|" + strconv.FormatInt(mod(q.start, q.step), 10)
	sum := catalogSum(cat)

	// The cached steps usable now: [hitFrom, hitTo].
	hitFrom, hitTo := int64(1), int64(0)
	e := a.cache.get(key)
	if e != nil && e.catalog == sum && now.Sub(e.made) < a.cfg.CacheMaxAge {
		if cur := a.marks(cat, e.from, e.to, back, fwd); cur == nil || !equalStrings(e.marks, cur) {
			e = nil
		}
	} else {
		e = nil
	}
	if e != nil {
		hitFrom, hitTo = max(e.from, q.start, safeFrom), min(e.to, q.end)
	}
	if hitFrom > hitTo {
		e = nil
	}
	// What to evaluate: the steps before and after the hit.
	type part struct{ from, to int64 }
	parts := []part{{q.start, q.end}}
	if e != nil {
		parts = parts[:0]
		if hitFrom > q.start {
			parts = append(parts, part{q.start, hitFrom - q.step})
		}
		if hitTo < q.end {
			parts = append(parts, part{hitTo + q.step, q.end})
		}
	}
	var storeMarks []string
	if safeFrom <= safeTo {
		// Read before evaluating: a change racing the evaluation then
		// shows as a changed mark next time.
		storeMarks = a.marks(cat, safeFrom, safeTo, back, fwd)
	}
	n := int((q.end-q.start)/q.step) + 1
	all := map[string]*series{}
	var out vector
	at := func(l labels.Labels) *series {
		k := l.String()
		s, ok := all[k]
		if !ok {
			s = &series{lbls: l, vals: make([]float64, n), has: make([]bool, n)}
			all[k] = s
			out = append(out, s)
		}
		return s
	}
	for _, p := range parts {
		r, err := a.evaluate(ctx, cat, q.expr, p.from, p.to, q.step)
		if err != nil {
			return nil, "", err
		}
		base := int((p.from - q.start) / q.step)
		for _, s := range asVector(r, q) {
			dst := at(s.lbls)
			for i, has := range s.has {
				if has {
					dst.vals[base+i], dst.has[base+i] = s.vals[i], true
				}
			}
		}
	}
	if e != nil {
		for _, cs := range e.series {
			var dst *series
			for i, has := range cs.has {
				t := e.from + int64(i)*e.step
				if !has || t < hitFrom || t > hitTo {
					continue
				}
				if dst == nil {
					dst = at(cs.lbls)
				}
				j := int((t - q.start) / q.step)
				dst.vals[j], dst.has[j] = cs.vals[i], true
			}
		}
	}
	if storeMarks != nil {
		a.cache.put(cutEntry(key, sum, storeMarks, out, q, safeFrom, safeTo, now))
	}
	switch {
	case e == nil:
		return out, "miss", nil
	case len(parts) == 0:
		return out, "hit", nil
	}
	return out, "partial", nil
}

// cutEntry keeps the steps [from, to] of a result.
func cutEntry(key string, sum uint64, marks []string, v vector, q queryParams, from, to int64, now time.Time) *cacheEntry {
	e := &cacheEntry{key: key, catalog: sum, marks: marks, from: from, to: to, step: q.step, made: now}
	i0, i1 := int((from-q.start)/q.step), int((to-q.start)/q.step)
	for _, s := range v {
		cs := cachedSeries{lbls: s.lbls, vals: append([]float64(nil), s.vals[i0:i1+1]...), has: append([]bool(nil), s.has[i0:i1+1]...)}
		e.series = append(e.series, cs)
		e.cells += len(cs.vals)
	}
	return e
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

func mod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
